"""FST-distill and `fst distill` (docs/results/distill.json, written by bench/distill.py)."""

import json
import statistics
from pathlib import Path

ARMS = (("fst", "FST"), ("fst-distill", "FST-distill"), ("gepa", "GEPA-only"), ("rl", "RL"))
DISTILL_ROWS = (("accuracy_student", "accuracy without a system prompt"),
                ("accuracy_lead", "accuracy under the lead prompt"),
                ("kl_to_teacher", "KL(no prompt || final weights under the lead prompt), nats/token"),
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
        return "\n_docs/results/distill.json not written yet (`python bench/distill.py`)._\n"
    data = json.loads(path.read_text())
    seeds = data["seeds"]
    lines = [(f"Task `{data['task']}`, {data['steps']} steps per arm, seeds {', '.join(str(s['seed']) for s in seeds)} "
             "(accuracy in %, mean ± sd over seeds):"), "",
             "| arm | val mean@4, lead prompt | val mean@4, seed prompt | seeds | from |", "|---|---|---|---|---|"]
    means = {}
    for mode, label in ARMS:
        arms = [s["arms"][mode] for s in seeds if mode in s["arms"]]
        lead = [a["final_accuracy"] for a in arms]
        seed_prompt = [a["final_seed_prompt_accuracy"] for a in arms if "final_seed_prompt_accuracy" in a]
        sources = sorted({a.get("source", "this benchmark") for a in arms})
        means[mode] = statistics.mean(lead) if lead else None
        lines.append(f"| {label} | {_stat(lead)} | {_stat(seed_prompt)} | {len(arms)} | {', '.join(sources) or '-'} |")
    lines.append("")
    if all(means[m] is not None for m in ("fst", "fst-distill", "gepa")):
        holds = means["fst"] > means["fst-distill"] > means["gepa"]
        lines.append(f"The paper's ordering FST > FST-distill > GEPA-only (Observation 2) "
                     f"{'holds' if holds else 'does not hold'} on these means (lead-prompt accuracy: "
                     f"{100 * means['fst']:.1f} / {100 * means['fst-distill']:.1f} / {100 * means['gepa']:.1f}).")
    checks = data.get("demo_check", [])
    if checks:
        same = sum(abs(c["here"] - c["demo"]) < 1e-9 for c in checks)
        lines.append(f"{same} of {len(checks)} arms run here equal the demo's value for the same seed "
                     "(the check behind taking unfinished arms from docs/results/demo/results.json).")
    runs = [s["fst_distill_command"] for s in seeds if "fst_distill_command" in s]
    if runs:
        settings = data["distill_settings"]
        lines += ["", (f"`fst distill` on each FST run ({len(runs)} seeds; {settings['steps']} steps at lr "
                  f"{settings['lr']}, student: no system prompt; {runs[0]['settings']['eval_problems']} validation "
                  f"problems, {settings['forgetting_problems']} suite problems, greedy):"), "",
                  "| | before | after |", "|---|---|---|"]
        for key, label in DISTILL_ROWS:
            pct = key != "kl_to_teacher"
            before = [r["before"][key] for r in runs if key in r["before"]]
            after = [r["after"][key] for r in runs if key in r["after"]]
            lines.append(f"| {label} | {_stat(before, pct)} | {_stat(after, pct)} |")
    prov = data["provenance"]
    lines += ["", (f"Commit `{prov['commit'][:10]}`{' (dirty)' if prov['dirty'] else ''}, {prov['cpu']}; "
              f"`{prov['command']}`.")]
    return "\n" + "\n".join(lines) + "\n"


BLOCKS = {"distill": render}
