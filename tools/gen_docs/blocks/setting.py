"""Docs blocks for the "RL learns" setting (issue 18): the program search, its 3-seed confirmation, the simulated
reflector's recovery rate, and FST with and without ``reframe``. Every number comes from docs/results/*.json."""

from __future__ import annotations

import statistics
from pathlib import Path

from gen_docs.common import _load_optional as _load
from gen_docs.common import _table  # a table ends with a newline


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}"


def _code(text: str) -> str:
    """Inline code inside a table cell: the pipes of a program spec must not split the cell."""
    return "`" + text.replace("|", "\\|") + "`"


def _final(curve: list) -> float:
    tail = [v for _, v in curve[-2:]]
    return sum(tail) / len(tail)


def setting_search(results: Path) -> str:
    log = _load(results, "setting-search.json")
    if not log:
        return "_no setting search recorded yet (`python -m fastslow.bench.setting_search`)_\n"
    rows = {}
    for e in log["entries"]:
        key = (e["program"], e["partial_credit"])
        row = rows.setdefault(key, {})
        if e["stage"] == "probe":
            row["told"], row["pass16"] = e["probe"]["explicit_accuracy"], e["probe"]["seed_prompt_pass_at_16"]
        for run in e.get("runs", []):
            if run["seed"] == 0:
                row[run["mode"]] = (run["curve"][0][1], _final(run["curve"]))
    table = []
    for (program, partial), row in rows.items():
        rl = f"{_pct(row['rl'][0])} -> {_pct(row['rl'][1])}" if "rl" in row else "-"
        gepa = _pct(row["gepa"][1]) if "gepa" in row else "-"
        table.append([_code(program), "partial credit" if partial else "0/1", _pct(row.get("told")),
                      _pct(row.get("pass16")), rl, gepa])
    return _table(["program", "reward", "told the rule %", "seed-prompt pass@16 %",
                   "RL alone, seed 0: start -> final %", "GEPA-only, seed 0: final %"], table)


def setting_confirm(results: Path) -> str:
    rec = _load(results, "setting-confirm.json")
    if not rec:
        return "_no confirmation recorded yet_\n"
    v = rec["verdict"]
    table = []
    for seed in sorted({r["seed"] for r in rec["runs"]}):
        by = {r["mode"]: r for r in rec["runs"] if r["seed"] == seed}
        rl, gepa = by.get("rl"), by.get("gepa")
        rl_text = (f"{_pct(rl['curve'][0][1])} -> {_pct(_final(rl['curve']))} "
                   f"({100 * (_final(rl['curve']) - rl['curve'][0][1]):+.1f})") if rl else "-"
        cpu = " / ".join(f"{by[m]['cpu_seconds']:.0f}" if m in by else "-" for m in ("rl", "gepa", "fst"))
        table.append([seed, rl_text, _pct(_final(gepa["curve"])) if gepa else "-", cpu])
    c = v["criteria"]
    return (_table(["seed", "RL alone: start -> final % (gain, pts)", "GEPA-only final %",
                    "CPU-s RL / GEPA-only / FST"], table)
            + f"\nCriteria (declared in `fastslow.rulebook.setting`): RL gains >= {100 * c['rl_gain_min']:.0f} pts in "
            f">= {c['rl_seeds_min']} seeds: **{'met' if v['rl_learns'] else 'not met'}** "
            f"({v['rl_improved_seeds']} seeds); GEPA-only plateaus >= {100 * c['gepa_gap_min']:.0f} pts below "
            f"100 %: **{'met' if v['gepa_plateaus_below'] else 'not met'}** (mean "
            f"{_pct(v['gepa_final_mean'])} %). Told the rule (greedy): {_pct(rec.get('told_the_rule'))} %.\n")


def reflector_recovery(results: Path) -> str:
    rec = _load(results, "reflector-recovery.json")
    if not rec:
        return "_no recovery measurement yet (`python -m fastslow.bench.reflector_recovery`)_\n"
    tasks = list(rec["tasks"])
    noises = [row["noise"] for row in rec["tasks"][tasks[0]]["rows"]]
    head = ["mistake rate (strength)"] + [
        f"`{t}` ({_code(rec['tasks'][t]['program'])}): recovered % (exact / equivalent)" for t in tasks]
    table = []
    for i, noise in enumerate(noises):
        cells = []
        for t in tasks:
            row = rec["tasks"][t]["rows"][i]
            cells.append(f"{_pct(row['recovered'])} ({_pct(row['exact'])} / {_pct(row['equivalent'])})")
        table.append([f"{noise:g} ({1 - noise:g})", *cells])
    calls = {t: rec["tasks"][t]["calls"] for t in tasks}
    return (_table(head, table) + "\nCalls per cell: " + ", ".join(f"`{t}` {n}" for t, n in calls.items())
            + f"; each call sees {rec['minibatch_size']} examples ({rec['source']}).\n")


def reframe_comparison(results: Path) -> str:
    rec = _load(results, "reframe-comparison.json")
    if not rec:
        return "_no reframe comparison yet_\n"
    table = []
    for arm in ("on", "off"):
        finals = [r["final"] for r in rec["arms"][arm]]
        sd = statistics.stdev(finals) if len(finals) > 1 else 0.0
        distinct = [d for r in rec["arms"][arm] for d in r["distinct_per_round"]]
        table.append([f"reframe {arm}", " / ".join(_pct(f) for f in finals),
                      f"{100 * statistics.mean(finals):.1f} ± {100 * sd:.1f}", f"{statistics.mean(distinct):.2f}"])
    return (_table(["FST", "final % per seed", "mean ± std %", "distinct prompts / round"], table)
            + f"\nTask `{rec['task']}`, {rec['steps']} steps, simulated reflector mistake rate {rec['noise']}; "
            f"difference of means {100 * rec['difference']:+.1f} pts vs the larger seed std "
            f"{100 * rec['spread']:.1f} pts: {rec['decision']}.\n")


def reflector_sweep_rl_learns(results: Path) -> str:
    rec = _load(results, "reflector-sweep-rl-learns.json")
    if not rec:
        return "_no sweep yet_\n"
    table = [[f"{r['noise']:g}", r["seed"], _pct(r["final"]["fst"]), _pct(r["final"]["gepa"]),
              _pct(r["final"]["rl"]), f"{100 * r['fst_minus_gepa']:+.1f}", f"{100 * r['fst_minus_rl']:+.1f}"]
             for r in rec["rows"]]
    return (_table(["mistake rate", "seed", "FST %", "GEPA-only %", "RL % (same step)", "FST - GEPA-only (pts)",
                    "FST - RL (pts)"], table) + f"\nTask `{rec['task']}`, {rec['steps']} steps; {rec['note']}.\n")


BLOCKS = {"setting-search": setting_search, "setting-confirm": setting_confirm,
          "reflector-recovery": reflector_recovery, "reframe-comparison": reframe_comparison,
          "reflector-sweep-rl-learns": reflector_sweep_rl_learns}
