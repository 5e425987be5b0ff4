"""``fst demo``: each headline setting's criteria, claims with preconditions and verdicts, time to accuracy, and the
README's findings paragraph (docs/results/demo/report.json).

Two layouts are read: the current one (``{"headlines": {setting: {"summary", "settings"}}, ...}``, one folder per
setting) and the older single-headline report (``{"summary", "settings", ...}``: the ``cipher`` setting before it
had a name, judged by older rules without preconditions), which is shown as such.
"""

from __future__ import annotations

import json

from pathlib import Path

from fastslow.experiments.sections.setting import criteria_rows
from fastslow.experiments.sections.time_to_accuracy import HEADER as TTA_HEADER
from fastslow.experiments.sections.time_to_accuracy import rows as tta_rows
from gen_docs.common import _load, _ms, _pct, _table

OLD = "rl-no-signal (older single-setting run, rules without preconditions)"
NAMES = {"data_efficiency": "data efficiency (steps to RL's peak)", "asymptote": "higher fitted asymptote",
         "kl": "less KL to the base at matched reward", "forgetting": "less forgetting than RL",
         "plasticity": "plasticity", "continual": "continual learning", "quadrant": "the joint quadrant cell is best",
         "distill": "FST > FST-distill > GEPA-only"}


def headlines(results: Path) -> tuple[dict, dict]:
    """({setting: {"summary", "settings"}}, run-level facts: wall/cpu seconds, load) in either layout."""
    r = _load(results, "demo/report.json")
    if "headlines" in r:
        return r["headlines"], {k: r.get(k) for k in ("wall_seconds", "cpu_seconds", "load_average_1min_at_end")}
    s = r["settings"]
    return {OLD: {"summary": r["summary"], "settings": s}}, {
        k: s.get(k) for k in ("wall_seconds", "cpu_seconds", "load_average_1min_at_end")}


def _run_line(run: dict, n: int) -> str:
    wall, cpu = run["wall_seconds"], run["cpu_seconds"]
    return (f"{n} setting(s); **wall-clock {wall:.0f} s ({wall / 60:.1f} min)** on the shared 2-core machine "
            f"(1-minute load average {run['load_average_1min_at_end']} at the end); CPU time of the single-threaded "
            f"run {cpu:.0f} s ({cpu / 60:.1f} min), about its wall-clock on a quiet machine.\n")


def demo_setting(results: Path) -> str:
    heads, run = headlines(results)
    out = [_run_line(run, len(heads))]
    for name, h in heads.items():
        st, s = h["summary"]["setting"], h["settings"]
        reward = ", partial-credit reward" if s.get("partial_credit") else ""
        out.append(f"\n**{name}**: task `{st['task']}` (hidden program `{st['program']}`{reward}), "
                   f"{len(s['seeds'])} seeds, FST and GEPA-only {s['steps']} steps, RL capped at {s['rl_steps']} "
                   f"steps, simulated reflector mistake rate {s['reflector_noise']}, lr {s['lr']:g}.\n\n")
        rows = [[c, d, m, "yes" if ok is True else ("**no**" if ok is False else ok)]
                for c, d, m, ok in criteria_rows(st)]
        out.append(_table(["criterion (declared before running FST)", "threshold", "measured", "met"], rows))
    return "".join(out)


def _pre(c: dict) -> str:
    p = c.get("precondition", "old")
    if p == "old":
        return "not stated (older rules)"
    if not p:
        return "none"
    met = {True: "met", False: "**not met**", None: "not measured"}[p["met"]]
    return f"{p['needs']}: {met}"


def demo_claims(results: Path) -> str:
    heads, _ = headlines(results)
    out = []
    for name, h in heads.items():
        rows = [[c["id"].replace("_", " "), c["paper"], c["ours"], _pre(c), f"**{c['verdict']}**", c["reason"]]
                for c in h["summary"]["claims"]]
        out.append(f"**{name}**\n\n" + _table(["claim", "paper", f"ours ({len(h['settings']['seeds'])} seeds)",
                                               "precondition", "verdict", "why"], rows))
    return "\n".join(out)


def time_to_accuracy(results: Path) -> str:
    heads, _ = headlines(results)
    out = []
    for name, h in heads.items():
        tta = h["summary"].get("time_to_accuracy")
        if not tta:
            out.append(f"**{name}**: not measured (this run predates the time-to-accuracy record).\n")
            continue
        means = "; ".join(f"{m} {_ms(tta['wall_ratio'][m], pct=False, suffix='x')} wall-clock, "
                          f"{_ms(tta['rollout_ratio'][m], pct=False, suffix='x')} rollouts"
                          for m in tta["wall_ratio"] if m != "rl")
        notes = sorted({r["note"] for r in tta["per_seed"] if r["note"]})
        out.append(f"**{name}** (ratio to RL's own cost to reach RL's final accuracy, mean ± std over seeds: "
                   f"{means}{'; ' + '; '.join(notes) if notes else ''})\n\n" + _table(TTA_HEADER, tta_rows(tta)))
    return "\n".join(out)


def _pts(ms: dict | None) -> str:
    return "n/a" if not ms or ms.get("mean") is None else f"{100 * ms['mean']:+.1f} ± {100 * ms['std']:.1f} points"


def _recovery(results: Path, st: dict, noise: float) -> str:
    """The simulated reflector's measured recovery of the hidden rule on the setting's task at ``noise``, to stand
    next to every result that uses it: the demo run's own measurement, else reflector-recovery.json; empty where
    neither measured it."""
    row, where = st.get("reflector_recovery"), "measured in this run"
    if row is None:
        path = results / "reflector-recovery.json"
        task = (json.loads(path.read_text()).get("tasks", {}).get(st["task"]) or {}) if path.is_file() else {}
        row = next((r for r in task.get("rows", []) if abs(r["noise"] - noise) < 1e-9), None)
        where = "BENCHMARKS section 17"
    if row is None:
        return ""
    return (f" (on `{st['task']}` at that rate it writes the hidden rule, or an equivalent one, in "
            f"{_pct(row['recovered'])} of its calls: {where})")


def _findings(name: str, s: dict, cfg: dict, results: Path) -> str:
    st = s["setting"]
    groups: dict[str, list[str]] = {}
    for c in s["claims"]:
        groups.setdefault(c["verdict"], []).append(NAMES.get(c["id"], c["id"]))
    reward = " (partial-credit reward)" if st.get("partial_credit") else ""
    first = (f"*{name}*: `{st['task']}`{reward}, told-the-rule greedy accuracy {_pct(st['told_the_rule_greedy'])}, "
             f"{len(cfg['seeds'])} seeds, simulated reflector with mistake rate {cfg['reflector_noise']}"
             f"{_recovery(results, st, cfg['reflector_noise'])}.")
    parts = [first]
    arms = st.get("arms")
    if arms:
        per = " / ".join("n/a" if g is None else f"{100 * g:+.1f}" for g in arms["rl_gain_per_seed"])
        met = ", ".join(f"{k.replace('_', ' ')} {'met' if v else '**not met**'}" for k, v in arms["met"].items())
        parts.append(f"RL alone changed validation accuracy by {per} points per seed{'; ' + met if met else ''}.")
    for word in ("reproduced", "not reproduced", "inconclusive", "not testable here"):
        if groups.get(word):
            parts.append(f"**{word}**: {', '.join(groups[word])}.")
    g = s.get("gains") or {}
    parts.append(f"At its last step FST is {_pts(g.get('fst_minus_gepa'))} above GEPA-only and "
                 f"{_pts(g.get('fst_minus_rl'))} above RL.")
    tta = s.get("time_to_accuracy")
    if tta and tta["wall_ratio"].get("fst", {}).get("mean") is not None:
        parts.append(f"To reach RL's final accuracy FST needed {_ms(tta['wall_ratio']['fst'], pct=False, suffix='x')} "
                     f"RL's wall-clock and {_ms(tta['rollout_ratio']['fst'], pct=False, suffix='x')} its rollouts "
                     f"(GEPA rounds and evaluations included; reached in {tta['reached']['fst']}/{tta['n_seeds']} "
                     "seeds).")
    if any("precondition" not in c for c in s["claims"]):
        kl = (s.get("kl_reduction_at_matched_reward") or {}).get("contexts") or {}
        if kl and all((c["final_kl"].get("rl") or {}).get("mean") == 0.0 for c in kl.values()):
            parts.append("These verdicts predate preconditions: RL's weights never moved here, so the claims that "
                         "compare FST with RL (speedup, KL, forgetting, plasticity, continual) compare it with an "
                         "untrained model; under the current rules they are not testable in this setting.")
    fits = s.get("asymptote_fits") or {}
    rising = sum(bool(f.get("still_rising")) and not f["accepted"] for f in fits.get("fst", []))
    if rising:
        parts.append(f"FST was still rising at its last step in {rising}/{len(fits['fst'])} seeds, so its asymptote "
                     "cannot be judged.")
    pop = (s.get("population") or {}).get("fst")
    if pop and pop.get("functional_per_round"):
        parts.append(f"FST's population held {_ms(pop['functional_per_round'], pct=False)} functionally distinct "
                     f"prompts per round ({_ms(pop['distinct_strings_per_round'], pct=False)} distinct strings).")
    elif pop:
        parts.append(f"FST's population held {_ms(pop['distinct_per_round'], pct=False)} distinct prompt strings per "
                     "round (not a functional count).")
    return " ".join(parts)


def readme_findings(results: Path) -> str:
    heads, run = headlines(results)
    paras = [_findings(name, h["summary"], h["settings"], results) for name, h in heads.items()]
    wall = f"{run['wall_seconds'] / 60:.1f} minutes wall-clock, " if run.get("wall_seconds") else ""
    return "\n\n".join(paras) + f"\n\n({wall}{run['cpu_seconds'] / 60:.1f} CPU-minutes in all.)\n"


BLOCKS = {"demo-setting": demo_setting, "demo-claims": demo_claims, "demo-time-to-accuracy": time_to_accuracy,
          "readme-findings": readme_findings}
