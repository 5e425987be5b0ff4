"""Issue 21 blocks: population selection under noisy rewards and junk proposals.

selection-embedded: docs/results/selection-embedded.json (fastslow.bench.selection_compare)
selection-false-acceptance: docs/results/selection-false-acceptance.json (fastslow.bench.false_acceptance)
selection-junk: docs/results/junk-bank.json and junk-smollm2.json (fastslow.bench.junk_reflector)
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from gen_docs.common import _load_optional as _load
from gen_docs.common import _table  # a table ends with a newline


def _mean_sd(xs: list[float]) -> str:
    if not xs:
        return "-"
    m = sum(xs) / len(xs)
    sd = math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1)) if len(xs) > 1 else 0.0
    return f"{100 * m:.1f} ± {100 * sd:.1f}"


def _commit(data: dict) -> str:
    p = data.get("provenance", {})
    return f"commit {str(p.get('commit'))[:10]}{' (dirty tree)' if p.get('dirty') else ''}, {p.get('cpu')}"


def embedded(results: Path) -> str:
    data = _load(results, "selection-embedded.json")
    if data is None:
        return "_not measured yet: run `python -m fastslow.bench.selection_compare`_\n"
    rows = data["rows"]
    arms = list(dict.fromkeys(r["arm"] for r in rows))
    out = []
    for noise in sorted({r["noise"] for r in rows}):
        for method in ("fst", "gepa"):
            sel = [r for r in rows if r["noise"] == noise and r["method"] == method]
            seeds = sorted({r["seed"] for r in sel})
            old = {r["seed"]: r["final"] for r in sel if r["arm"] == "old"}
            for arm in arms:
                by = {r["seed"]: r for r in sel if r["arm"] == arm}
                if not by:
                    continue
                diffs = [by[s]["final"] - old[s] for s in seeds if s in by and s in old] if arm != "old" else []
                distinct = [sum(r["distinct_per_round"]) / max(1, len(r["distinct_per_round"])) for r in by.values()]
                out.append([f"{noise:g}", method.upper(), f"`{arm}`", _mean_sd([r["final"] for r in by.values()]),
                            " / ".join(f"{100 * by[s]['final']:.1f}" if s in by else "-" for s in seeds),
                            ", ".join(f"{100 * d:+.1f}" for d in diffs) or "-",
                            f"{sum(distinct) / len(distinct):.1f}",
                            f"{sum(r['selection_rollouts'] for r in by.values()) / len(by):.0f}"])
    head = ["mistake rate", "method", "selection", "final % (mean ± sd)", "per seed", "minus old, per seed (points)",
            "distinct prompts per round", "selection rollouts per run"]
    n = len({r["seed"] for r in rows})
    return (_table(head, out) + f"\nFinal accuracy = mean of the last two evaluations (val mean@4), {n} seed(s); "
            f"demo config shape (standard profile, cipher, rulebook reflector). Arms: "
            + "; ".join(f"`{a}` = {json.dumps(data['arms'].get(a, {}))}" for a in arms) + f". {_commit(data)}.\n")


def false_acceptance(results: Path) -> str:
    data = _load(results, "selection-false-acceptance.json")
    if data is None:
        return "_not measured yet: run `python -m fastslow.bench.false_acceptance`_\n"
    rows = []
    for r in data["false_acceptance"]:
        what = {"minibatch": f"minibatch of 3, `{r['rule']}`",
                "anchor": f"gated anchor test, n = {r['n']}, r = {r['r']}, {r['m']} challenger(s)",
                "confirm": f"**default** (`protected`, one rollout then {r.get('extra')} more for close calls), "
                           f"n = {r['n']}, {r['m']} challenger(s)"}[r["kind"]]
        rows.append([f"{r['prompt']} ({100 * data['accuracy'][r['prompt']]:.1f} %)", what, f"{100 * r['rate']:.1f} %"])
    def setting(r):
        if r.get("rule") == "protected":
            return f"**default** (`protected`, +{r['extra']} for close calls), n = {r['n']}, {r['m']} challenger(s)"
        if "rule" in r:
            return f"minibatch, n = {r['n']}, r = {r['r']}, `{r['rule']}`"
        return f"gated anchor test, n = {r['n']}, r = {r['r']}, {r['m']} challenger(s)"

    power = [[setting(r), f"{100 * r['rate']:.1f} %"] for r in data["power_rule_vs_seed"]]
    return (_table(["prompt (its accuracy)", "rule", "false acceptance"], rows)
            + f"\nPower (the rule-stating prompt, {100 * data['accuracy']['rule']:.1f} %, against the seed prompt, "
            f"{100 * data['accuracy']['seed']:.1f} %):\n\n" + _table(["setting", "accepted"], power)
            + f"\n{data['trials']} trials each, resampled from {data['problems']} problems x {data['rollouts']} "
            f"rollouts per prompt (model `{data['model']}`, z = {data['z']}). {_commit(data)}.\n")


def junk(results: Path) -> str:
    bank = _load(results, "junk-bank.json")
    data = _load(results, "junk-smollm2.json")
    if bank is None:
        return "_no answer bank recorded yet: run `python -m fastslow.bench.junk_reflector record`_\n"
    c = bank["counts"]
    text = (f"Answer bank: {sum(c.values())} answers of {bank['reflector']} to fastslow's reflector prompt on "
            f"{bank['policy']} rollouts of `{bank['task']['id']}`: {c['proposal']} usable proposals, {c['repeat']} "
            f"repeats of the parent, {c['unusable']} unusable. {_commit(bank)}.")
    if data is None:
        return text + "\n\n_runs not measured yet: `python -m fastslow.bench.junk_reflector run`_\n"
    def se(r):  # of the start: sqrt(p (1 - p) / problems)
        return math.sqrt(r["start"] * (1 - r["start"]) / r["eval_problems"])

    def lowest(r):  # the lowest evaluation after the start (the loss showed mid-run)
        return min(y for x, y in r["curve"][1:]) if len(r["curve"]) > 1 else r["end"]

    ordered = sorted(data["rows"], key=lambda r: (r["mode"], r["arm"] != "old", r["arm"], r["seed"]))
    rows = [[r["mode"].upper(), f"`{r['arm']}`", str(r["seed"]), str(r["steps"]), f"{100 * r['start']:.1f}",
             f"{100 * lowest(r):.1f}", f"{100 * r['end']:.1f}", f"{100 * se(r):.1f}",
             "within" if r["end"] >= r["start"] - se(r) else "BELOW",
             " ".join("seed" if kept else "other" for kept in r["seed_prompt_kept"]),
             " ".join(map(str, r["distinct_per_round"]))] for r in ordered]
    summary = []
    for mode in dict.fromkeys(r["mode"] for r in ordered):
        for arm in dict.fromkeys(r["arm"] for r in ordered):
            sel = [r for r in ordered if r["mode"] == mode and r["arm"] == arm]
            if not sel:
                continue
            summary.append([mode.upper(), f"`{arm}`", str(len(sel)),
                            ", ".join(f"{100 * (r['end'] - r['start']):+.1f}" for r in sel),
                            f"{sum(r['end'] < r['start'] - se(r) for r in sel)} of {len(sel)}",
                            f"{sum(lowest(r) < r['start'] - se(r) for r in sel)} of {len(sel)}",
                            f"{sum(all(r['seed_prompt_kept']) for r in sel)} of {len(sel)}"])
    text += "\n\n" + _table(["method", "selection", "seeds", "end - start per seed (points)",
                              "seeds ending below start - SE", "seeds with any evaluation below start - SE",
                              "seeds whose lead stayed the seed prompt every round"], summary)
    return text + "\nPer run:\n\n" + _table(
        ["method", "selection", "seed", "steps", "start % (seed prompt)", "lowest %", "end %", "SE of start",
         "end vs start - SE", "lead after each round", "distinct prompts per round"], rows) + (
        "\nSE = sqrt(p (1 - p) / problems), an upper bound on the standard error of a mean over problems of "
        "per-problem mean@4; lowest = the lowest evaluation after the start. Arms: "
        + "; ".join(f"`{a}` = {json.dumps(v)}" for a, v in data["arms"].items() if any(r["arm"] == a for r in ordered))
        + f". {_commit(data)}.\n")


BLOCKS = {"selection-embedded": embedded, "selection-false-acceptance": false_acceptance, "selection-junk": junk}
