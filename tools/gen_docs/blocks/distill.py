"""FST-distill and `fst distill` (docs/results/distill.json, written by python -m fastslow.bench.distill)."""

import json
import statistics
from pathlib import Path

ARMS = (("fst", "FST"), ("fst-distill", "FST-distill"), ("gepa", "GEPA-only"), ("rl", "RL"))
DISTILL_ROWS = (("accuracy_student", "accuracy without a system prompt"),
                ("accuracy_lead", "accuracy under the lead prompt"),
                ("kl_to_teacher", "KL(no prompt ‖ final weights under the lead prompt), nats/token"),
                ("instruction_following", "held-out instruction following (forgetting suite)"))


def _stat(values: list[float], pct: bool = True) -> str:
    if not values:
        return "-"
    scale = 100 if pct else 1
    mean = statistics.mean(values) * scale
    sd = statistics.stdev(values) * scale if len(values) > 1 else 0.0
    return f"{mean:.1f} ± {sd:.1f}" if pct else f"{mean:.3f} ± {sd:.3f}"


def render(results: Path) -> str:
    path = Path(results) / "distill.json"
    if not path.is_file():
        return "\n_docs/results/distill.json not written yet (`python -m fastslow.bench.distill`)._\n"
    data = json.loads(path.read_text())
    seeds, at = data["seeds"], data["compare_step"]
    lines = [(f"Task `{data['task']}`, seeds {', '.join(str(s['seed']) for s in seeds)}; validation mean@4 in %, "
              f"mean ± sd over seeds, under each run's lead prompt at step {at} (the step every arm reached) and at "
              f"its last step ({data['steps']}) where it got there; and the final weights under the seed prompt:"), "",
             f"| arm | step {at} |" + (f" step {data['steps']} |" if at != data["steps"] else "")
             + " final weights, seed prompt | from |", "|---|---|" + ("---|" if at != data["steps"] else "") + "---|---|"]
    means = {}
    for mode, label in ARMS:
        arms = [s["arms"][mode] for s in seeds if mode in s["arms"]]
        points = [dict(tuple(p) for p in a["curve"]) for a in arms]
        now = [p[at] for p in points if at in p]
        final = [p[data["steps"]] for p in points if data["steps"] in p]
        seed_prompt = [a["final_seed_prompt_accuracy"] for a in arms if "final_seed_prompt_accuracy" in a]
        sources = sorted({a.get("source", "this benchmark") for a in arms})
        means[mode] = statistics.mean(now) if len(now) == len(seeds) else None
        last = f" {_stat(final)} ({len(final)}) |" if at != data["steps"] else ""
        lines.append(f"| {label} | {_stat(now)} ({len(now)}) |{last} {_stat(seed_prompt)} ({len(seed_prompt)}) | "
                     f"{', '.join(sources) or '-'} |")
    lines += ["", "(n) = seeds in the cell.", ""]
    if all(means[m] is not None for m in ("fst", "fst-distill", "gepa")):
        holds = means["fst"] > means["fst-distill"] > means["gepa"]
        lines.append(f"The paper's ordering FST > FST-distill > GEPA-only (Observation 2) "
                     f"{'holds' if holds else 'does not hold'} at step {at} on these means "
                     f"({100 * means['fst']:.1f} / {100 * means['fst-distill']:.1f} / {100 * means['gepa']:.1f}).")
    checks = data.get("demo_check", [])
    if checks:
        same = sum(abs(c["here"] - c["demo"]) < 1e-9 for c in checks)
        lines.append(f"{same} of {len(checks)} evaluations of arms run here equal the demo's for the same seed and "
                     "step (the check behind taking the arms not run here from docs/results/demo/results.json).")
    runs = [s["fst_distill_command"] for s in seeds if "fst_distill_command" in s]
    if runs:
        settings = data["distill_settings"]
        lines += ["", (f"`fst distill` on each FST run ({len(runs)} seeds; {settings['steps']} steps at lr "
                  f"{settings['lr']}, student: no system prompt; {runs[0]['settings']['eval_problems']} validation "
                  f"problems at the run's evaluation settings, {settings['forgetting_problems']} suite problems, greedy):"), "",
                  "| | before | after |", "|---|---|---|"]
        for key, label in DISTILL_ROWS:
            pct = key != "kl_to_teacher"
            before = [r["before"][key] for r in runs if key in r["before"]]
            after = [r["after"][key] for r in runs if key in r["after"]]
            lines.append(f"| {label} | {_stat(before, pct)} | {_stat(after, pct)} |")
    commits = {v["commit"][:10] for s in seeds for v in s["provenance"].values()}
    commits |= {a["started_from"]["commit"][:10] for s in seeds for a in s["arms"].values() if a.get("started_from")}
    partial = sum(bool(a.get("partial")) for s in seeds for a in s["arms"].values())
    lines += ["", f"Runs at commit(s) {', '.join(f'`{c}`' for c in sorted(commits))} (per file in the JSON)"
              + (f"; {partial} run(s) were still going at the time box and are read from their metrics so far."
                 if partial else ".")]
    prov = data["provenance"]
    lines += [(f"Merged at commit `{prov['commit'][:10]}`{' (dirty)' if prov['dirty'] else ''}, {prov['cpu']}; "
              f"`{prov['command']}`.")]
    return "\n" + "\n".join(lines) + "\n"


BLOCKS = {"distill": render}
