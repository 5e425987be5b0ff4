"""The demo's details (speedups, fits, KL, diversity, gains), the reflector sweep, the population fill rule on
`tidy` and the demo's curves before and after the speed work."""

from __future__ import annotations

import json
from pathlib import Path

from gen_docs.blocks.demo import headlines
from gen_docs.common import _load, _ms, _pct, _seeds, _table


def demo_details(results: Path) -> str:
    heads, _ = headlines(results)
    return "\n".join(f"**{name}**\n\n" + _details(h["summary"]) for name, h in heads.items())


def _details(s: dict) -> str:
    out = []
    sp = s["speedup_to_rl_peak"]
    sym = {"lower": ">= ", "upper": "<= "}
    out.append(_table(["seed", "level", "RL peak", "RL plateaued", "FST step", "speedup", "censoring"], [
        [p["seed"], _pct(p["level"]), _pct(p["rl_peak"]), "yes" if p["rl_plateau"]["plateaued"] else "no",
         p["fst_steps"] if p["fst_steps"] is not None else "never",
         "n/a" if p["speedup"] is None else f"{sym.get(p['bound'], '')}{p['speedup']:.2f}x",
         p["bound"] or "undetermined"] for p in sp["per_seed"]]))
    rows = []
    for m, fits in s["asymptote_fits"].items():
        for f in fits:
            rising = "n/a" if "still_rising" not in f else ("yes" if f["still_rising"] else "no")
            rows.append([m, f["seed"], _pct(f["A"]), "accepted" if f["accepted"] else "failed", rising,
                         "; ".join(f["failures"]) or "-", (f.get("check") or {}).get("message") or "-",
                         f"{_pct(f['estimate'])} ({f['estimate_from']})"])
    out.append(_table(["arm", "seed", "fitted A", "fit", "still rising", "why rejected", "scipy check",
                       "asymptote used"], rows))
    kl = s["kl_reduction_at_matched_reward"]
    out.append(_table(["KL context", "mean reduction at matched reward", "final KL FST", "final KL RL"], [
        [ctx + (" (verdict)" if ctx == kl["context"] else ""), _ms(c["mean_reduction"]),
         _ms(c["final_kl"].get("fst"), pct=False), _ms(c["final_kl"].get("rl"), pct=False)]
        for ctx, c in kl["contexts"].items()]))
    pop = s.get("population") or {}
    g = s.get("gains") or {}
    if all("functional_per_round" in v for v in pop.values()):
        out.append(_table(["arm", "functionally distinct prompts per round (per-anchor outcomes differ beyond "
                           "sampling noise: McNemar, alpha 0.05)", "distinct strings per round", "rounds with > 1 "
                           "behaviour"], [[m, _ms(v["functional_per_round"], pct=False),
                                           _ms(v["distinct_strings_per_round"], pct=False),
                                           _ms(v["rounds_with_several"])] for m, v in pop.items()]))
    else:  # an older run: strings only, which count equivalent phrasings as different prompts
        out.append(_table(["arm", "distinct prompt strings per GEPA round (not a functional count)",
                           "rounds with > 1 string"],
                          [[m, _ms(v["distinct_per_round"], pct=False), _ms(v["rounds_with_several"])]
                           for m, v in pop.items()]))
    out.append(_table(["FST minus", "accuracy at FST's last step (mean of the last two evaluations)"],
                      [[k.removeprefix("fst_minus_"), _ms(v)] for k, v in g.items()]))
    return "\n".join(out)


def demo_fill(results: Path) -> str:
    old = {"fill = dominated": _load(results, "demo-fill-dominated/report.json")["summary"],
           "fill = front": _load(results, "demo-tidy/report.json")["summary"]}
    rows = [["KL reduction at matched reward (seed-prompt context)"]
            + [_ms(v["kl_reduction_at_matched_reward"]["mean_reduction"]) for v in old.values()],
            ["FST weights + seed prompt (quadrant)"] + [_ms(v["quadrant"]["fst+seed"]) for v in old.values()],
            ["base weights + seed prompt"] + [_ms(v["quadrant"]["base+seed"]) for v in old.values()],
            ["forgetting, FST (points lost)"] + [_ms(v["forgetting"]["fst"]) for v in old.values()],
            ["plasticity: FST-init final accuracy on `mirror`"] + [_ms(v["plasticity"]["fst"]) for v in old.values()],
            ["plasticity: base-init final accuracy on `mirror`"]
            + [_ms(v["plasticity"]["base"]) for v in old.values()]]
    return _table(["tidy, 3 seeds, noise-free reflector"] + list(old), rows)


def reflector_sweep(results: Path) -> str:
    path = results / "reflector-sweep.json"
    if not path.is_file():
        return "(not measured yet: `fst experiment reflector-sweep`)\n"
    d = json.loads(path.read_text())["results"]["reflector_sweep"]
    by: dict = {}
    for row in d["rows"]:
        by.setdefault(row["noise"], []).append(row)
    rows = []
    for noise, rs in sorted(by.items()):
        def col(key):
            vals = [r[key] for r in rs]
            return _seeds(vals, lambda v: f"{100 * v:+.1f}")
        finals = {m: _seeds([r["final"][m] for r in rs], lambda v: f"{100 * v:.1f}") for m in ("fst", "gepa", "rl")}
        distinct = [sum(r["distinct_per_round"]["fst"]) / max(1, len(r["distinct_per_round"]["fst"])) for r in rs]
        rows.append([f"{1 - noise:.1f} (noise {noise:g})", finals["fst"], finals["gepa"], finals["rl"],
                     col("fst_minus_gepa"), col("fst_minus_rl"), _seeds(distinct, lambda v: f"{v:.2f}")])
    return _table(["simulated reflector strength", "FST final % (seeds)", "GEPA-only final %", "RL final %",
                   "FST - GEPA-only (pts)", "FST - RL (pts)", "FST distinct prompts / round"], rows)


def speed_curves(results: Path) -> str:
    """The demo's data-efficiency curves before the speed work (commit 076d292) and after it, same seeds: the mean
    over seeds at every evaluation, and whether each difference lies within two standard errors of the seed
    spread (with three seeds a weak test, and said so)."""
    import statistics

    before = _load(results, "demo-before-speed/data-efficiency.json")["results"]["data_efficiency"]["curves"]
    folder = "demo/rl-no-signal" if (results / "demo/rl-no-signal/results.json").is_file() else "demo"
    after = _load(results, f"{folder}/results.json")["data_efficiency"]["curves"]
    rows, outside, compared = [], 0, 0
    for method in ("fst", "gepa", "rl"):
        b, a = before[method], after[method]
        n = min(len(b), len(a))
        steps = [p[0] for p in b[0]]
        worst = (0.0, None)
        for i, step in enumerate(steps):
            vb = [seed[i][1] for seed in b[:n]]
            va = [seed[i][1] for seed in a[:n]]
            se = ((statistics.stdev(vb) ** 2 + statistics.stdev(va) ** 2) / n) ** 0.5 if n > 1 else 0.0
            diff = statistics.mean(va) - statistics.mean(vb)
            z = abs(diff) / se if se > 0 else (0.0 if diff == 0 else float("inf"))
            outside += z > 2
            compared += 1
            if z >= worst[0]:
                worst = (z, step)
        fb = [seed[-1][1] for seed in b[:n]]
        fa = [seed[-1][1] for seed in a[:n]]
        def sd(v):
            return statistics.stdev(v) if len(v) > 1 else 0.0
        rows.append([method, f"{100 * statistics.mean(fb):.1f} ± {100 * sd(fb):.1f} %",
                     f"{100 * statistics.mean(fa):.1f} ± {100 * sd(fa):.1f} %",
                     " / ".join(f"{100 * v:.1f}" for v in fb), " / ".join(f"{100 * v:.1f}" for v in fa),
                     f"{worst[0]:.2f} (step {worst[1]:g})"])
    verdict = ("every evaluation's difference lies within two standard errors" if outside == 0 else
               f"{outside} of {compared} evaluations differ by more than two standard errors")
    return _table(["arm", "final, before (mean ± std)", "final, after", "seeds before", "seeds after",
                   "largest |difference| / standard error"], rows) + (
        f"\nSame seeds, {n} per arm: {verdict} of the seed spread (where the two are samples of one procedure, "
        f"about {0.05 * compared:.1f} of {compared} are expected to by chance).\n")


BLOCKS = {"demo-details": demo_details, "demo-fill": demo_fill, "reflector-sweep": reflector_sweep,
          "speed-curves": speed_curves}
