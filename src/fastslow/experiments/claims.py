"""The paper's claims and their verdicts: pure data in, plain data out (no plotting, no HTML, no torch).

``summarise(results)`` turns an experiment ``results`` dict (layout in ``fastslow.experiments.report``) into the
summary that ``report.json`` holds: one entry per measurement and a list of ``claims``, each with the paper's
numbers (from :data:`PAPER`, a data table), ours, a computed verdict and the reason. Verdict words:
``reproduced``, ``not reproduced``, ``inconclusive`` (and ``not run`` for a section that was not measured).

Per seed, each claim becomes one number ``d_i`` signed so that ``d_i > 0`` supports the paper; a number may be
*censored* -- ``(value, "lower")`` when the truth is at least ``value`` (e.g. FST was already there at its first
evaluation, or RL never got there within its step cap), ``(value, "upper")`` when it is at most ``value`` -- or
``None`` when the seed's value is undetermined (a failed fit, say). :func:`verdict` reads censored values by the
side they bound (see :data:`VERDICT_RULES`).
"""

from __future__ import annotations

import math

import numpy as np

from fastslow.experiments.analysis import (
    censored_speedup,
    check_fit,
    fit_sigmoid,
    kl_reduction_at_matched_reward,
    mean_std,
    normalise_stages,
)

REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE, NOT_RUN = "reproduced", "not reproduced", "inconclusive", "not run"
VERDICTS = (REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE, NOT_RUN)
SECTIONS = ("data_efficiency", "drift", "forgetting", "plasticity", "continual", "quadrant")
QUADRANT_CELLS = ("base+seed", "base+evolved", "fst+seed", "fst+evolved")
CLAIM_IDS = ("data_efficiency", "asymptote", "kl", "forgetting", "plasticity", "continual", "quadrant")
# FST-init counts as "close to" base-init when it is at most this far below it (accuracy fraction; 0.05 = 5pp).
# The paper calls 16.7% vs 20.2% (Math arm, -3.5pp) "close".
PLASTICITY_CLOSE_TOL = 0.05
# A curve whose fitted points span at most this (accuracy fraction) is flat: its asymptote is its level.
FLAT_TOL = 0.05

# The paper's numbers (arXiv 2605.12484 and its blog; docs/fst-method.md sections 5.1-5.8), as data.
PAPER = {
    "data_efficiency": {
        "claim": "FST reaches RL's running-peak accuracy in fewer steps (speedup > 1)",
        "paper": "3.0x CodeIO / 1.4x Math / 3.0x HoVer-hard",
        "values": {"CodeIO": 3.0, "Math": 1.4, "HoVer-hard": 3.0}},
    "asymptote": {
        "claim": "Higher fitted sigmoid asymptote A for FST than for RL",
        "paper": "FST > RL: 47.4 vs 43.0 / 49.2 vs 46.4 / 25.0 vs 17.3 (%)",
        "values": {"CodeIO": (47.4, 43.0), "Math": (49.2, 46.4), "HoVer-hard": (25.0, 17.3)}},
    "kl": {
        "claim": "FST needs less KL to the base than RL at matched reward (in each run's deployed context)",
        "paper": "up to 70% less KL (CodeIO, HoVer, Physics; no separation on Polaris)",
        "values": {"max_reduction": 0.70}},
    "forgetting": {
        "claim": "FST forgets less than RL (held-out instruction following after training)",
        "paper": "lower KL to the base, which predicts forgetting (RL's Razor); hero figure KL 0.07-0.25 vs "
                 "0.14-0.33",
        "values": {"kl_fst": (0.07, 0.25), "kl_rl": (0.14, 0.33)}},
    "plasticity": {
        "claim": "FST-init keeps plasticity: fresh RL from it ends close to/above base-init and at least as high "
                 "as RL-init",
        "paper": "FST-init close to or above base-init; RL-init can collapse (Math arm 0.0%)",
        "values": {"Math->HoVer-hard": (20.2, 0.0, 16.7), "Physics->HoVer-hard": (18.3, 19.9, 24.2)}},
    "continual": {
        "claim": "FST keeps learning in later stages where RL stalls (higher final normalised accuracy)",
        "paper": "CodeIO stage: FST +19.6pp vs RL +2.5pp; Physics stage FST 100% vs RL ~92% normalised",
        "values": {"CodeIO_stage_pp": (19.6, 2.5)}},
    "quadrant": {
        "claim": "Joint cell (FST weights + evolved prompt) is the best of the four",
        "paper": "joint best on HoVer-hard (21.2) and CodeIO (43.3); Math: slow weights carry the gain "
                 "(48.4 vs 47.2)",
        "values": {"HoVer-hard": (2.0, 10.6, 11.6, 21.2), "Math": (20.0, 20.3, 47.2, 48.4),
                   "CodeIO": (19.4, 34.5, 25.1, 43.3)}},
}

VERDICT_RULES = (
    "Each claim becomes one number per seed, d_i, signed so that d_i > 0 supports the paper. A d_i may be "
    "censored: a lower bound (the truth is at least d_i) or an upper bound (at most d_i). A seed supports the "
    "claim if d_i > 0 (exact or lower bound), opposes it if d_i <= 0 (exact or upper bound), and is "
    "undetermined otherwise (a lower bound <= 0, an upper bound > 0, a failed fit). With m = mean(d) and s = "
    "sample std(d) over seeds: 'reproduced' if n >= 2, every seed supports it and m > s; 'not reproduced' if "
    "n >= 2, every seed opposes it and m <= -s (or all d_i are exactly zero); otherwise 'inconclusive'. "
    "Per claim: data efficiency d_i = speedup_i - 1 (censored as the speedup: 'lower' when FST was there at its "
    "first evaluation or RL never improved within its step cap, 'upper' when FST never got there although it "
    "ran as long as RL needed). Asymptote d_i = A_fst - A_rl from accepted fits only (converged, no parameter at "
    "a bound, midpoint inside the data, A not below the observed maximum, confirmed within 0.02 by an "
    "unconstrained scipy curve_fit); a curve whose fitted points span <= "
    f"{FLAT_TOL:.2f} is flat and its level (mean) stands for A. KL d_i = mean reduction 1 - KL_fst/KL_rl over "
    "matched rewards, with KL measured in each run's deployed context (FST: its lead prompt; RL: the seed "
    "prompt). Forgetting d_i = held-out accuracy after FST - after RL. Plasticity: 'reproduced' needs both "
    "d_i = final(FST-init) - final(RL-init) and d_i = final(FST-init) - final(base-init) + "
    f"{PLASTICITY_CLOSE_TOL} to be reproduced; 'not reproduced' if either is. Continual d_i = mean over stages "
    "after the first of FST's minus RL's final normalised accuracy. Quadrant d_i = fst+evolved - max(other "
    "cells). Verdicts are about direction and consistency, not the paper's magnitudes."
)

Evidence = "float | tuple[float, str] | None"


def _value(d) -> float | None:
    if d is None:
        return None
    v = float(d[0]) if isinstance(d, (tuple, list)) else float(d)
    return v if math.isfinite(v) else None


def _side(d) -> str:
    """'for', 'against' or 'unknown' for one seed's evidence."""
    v = _value(d)
    if v is None:
        return "unknown"
    bound = d[1] if isinstance(d, (tuple, list)) else "exact"
    if v > 0 and bound in ("exact", "lower"):
        return "for"
    if v <= 0 and bound in ("exact", "upper"):
        return "against"
    return "unknown"


def verdict(diffs: list) -> tuple[str, str]:
    """Apply :data:`VERDICT_RULES` to per-seed evidence (positive = supports the claim). Returns (verdict, why)."""
    if not diffs:
        return INCONCLUSIVE, "no seeds"
    sides = [_side(d) for d in diffs]
    n = len(diffs)
    n_cens = sum(isinstance(d, (tuple, list)) and d[1] != "exact" for d in diffs)
    cens = f" ({n_cens} censored)" if n_cens else ""
    if "unknown" in sides:
        return INCONCLUSIVE, f"{sides.count('unknown')}/{n} seeds undetermined{cens}"
    if n < 2:
        return INCONCLUSIVE, "only 1 seed (no spread)"
    ms = mean_std([_value(d) for d in diffs])
    m, s = ms["mean"], ms["std"]
    if all(x == "for" for x in sides) and m > s:
        return REPRODUCED, f"all {n} seeds agree, mean {m:.3g} > std {s:.3g}{cens}"
    if all(x == "against" for x in sides) and m <= -s:
        return NOT_REPRODUCED, f"no seed supports it, mean {m:.3g} <= -std {s:.3g}{cens}"
    return INCONCLUSIVE, f"{sides.count('for')}/{n} seeds support it, mean {m:.3g}, std {s:.3g}{cens}"


def _combine(*verdicts: tuple[str, str]) -> tuple[str, str]:
    vs = [v for v, _ in verdicts]
    why = "; ".join(w for _, w in verdicts)
    if NOT_REPRODUCED in vs:
        return NOT_REPRODUCED, why
    if all(v == REPRODUCED for v in vs):
        return REPRODUCED, why
    return INCONCLUSIVE, why


# ------------------------------------------------------------------------------------------------------ helpers --


def _curve(c) -> list[tuple[float, float]]:
    return [(float(x), float(y)) for x, y in c]


def _continual_curve(seed_curve, tasks: list, bounds: list[tuple]) -> list[tuple[float, float]]:
    """One seed's "accuracy on the current stage's task" curve.

    A list of (step, acc) pairs is used as is. A dict {task: curve} is stitched: stage s contributes tasks[s]'s
    points with start <= x <= end, so a boundary step appears twice, first as the end of the old stage (old task)
    then as the start of the new one (new task): the convention of ``normalise_stages``.
    """
    if not isinstance(seed_curve, dict):
        return _curve(seed_curve)
    out: list[tuple[float, float]] = []
    for s, (start, end) in enumerate(bounds):
        task_curve = sorted(_curve(seed_curve.get(tasks[s], []) if s < len(tasks) else []), key=lambda p: p[0])
        out += [(x, y) for x, y in task_curve if start <= x <= end]
    return out


def _seed_label(results: dict, i: int):
    seeds = (results.get("data_efficiency") or {}).get("seeds") or []
    return seeds[i] if i < len(seeds) else i


def fmt(v, pct: bool = False, digits: int = 3) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "n/a"
    return f"{100 * v:.1f}%" if pct else f"{v:.{digits}g}"


def fmt_ms(ms: dict | None, pct: bool = False, suffix: str = "", show_n: bool = True, pct_sep: str = "") -> str:
    """A ``mean_std`` record as "mean ± std" (in percent with ``pct``), with its seed count unless ``show_n`` is
    off; "n/a" when there is none."""
    if not ms or ms.get("mean") is None:
        return "n/a"
    n = f" (n={ms['n']})" if show_n else ""
    if pct:
        return f"{100 * ms['mean']:.1f} ± {100 * ms['std']:.1f}{pct_sep}%{n}"
    return f"{ms['mean']:.2f} ± {ms['std']:.2f}{suffix}{n}"


def _final_level(curve, at: float) -> float | None:
    """Mean of the last two evaluations at x <= ``at`` (one evaluation is noisy)."""
    pts = [y for x, y in sorted(_curve(curve)) if x <= at]
    return float(np.mean(pts[-2:])) if pts else None


def _asymptote_estimate(f: dict) -> tuple[float | None, str]:
    """A from an accepted fit, the level of a flat curve, or None."""
    if f.get("accepted"):
        return f["A"], "fit"
    ys = f.get("fitted_y") or []
    if ys and max(ys) - min(ys) <= FLAT_TOL:
        return float(np.mean(ys)), "flat"
    return None, "failed"


# ---------------------------------------------------------------------------------------------------- summaries --


def summarise_all(results: dict) -> tuple[dict, dict]:
    """The summary (see ``report``'s module docstring) and a dict of bulkier details for report.json."""
    summary: dict = {"sections": {s: ("ok" if results.get(s) else NOT_RUN) for s in SECTIONS}}
    details: dict = {}
    for key in ("speedup_to_rl_peak", "asymptote", "asymptote_fits", "kl_reduction_at_matched_reward",
                "forgetting", "plasticity", "continual", "quadrant", "population", "gains"):
        summary[key] = None

    de = results.get("data_efficiency")
    if de:
        curves = de.get("curves") or {}
        fst, rl = curves.get("fst") or [], curves.get("rl") or []
        if fst and rl:
            per_seed = [{"seed": _seed_label(results, i), **censored_speedup(_curve(rl[i]), _curve(fst[i]))}
                        for i in range(min(len(fst), len(rl)))]
            summary["speedup_to_rl_peak"] = {
                "speedup": mean_std([p["speedup"] for p in per_seed]),
                "n_reached": sum(p["fst_steps"] is not None for p in per_seed),
                "n_censored": sum(p["bound"] in ("lower", "upper") for p in per_seed),
                "n_rl_plateaued": sum(bool(p["rl_plateau"]["plateaued"]) for p in per_seed),
                "n_seeds": len(per_seed),
                "per_seed": per_seed,
            }
        window, origin = de.get("fit_window"), de.get("fit_origin")
        fits = {}
        for method, seed_curves in curves.items():
            fits[method] = []
            for i, c in enumerate(seed_curves):
                c = _curve(c)
                xs, ys = [x for x, _ in c], [y for _, y in c]
                f = fit_sigmoid(xs, ys, window=tuple(window) if window is not None else None, origin=origin)
                f = check_fit(xs, ys, f)
                lo = origin if origin is not None else 0
                f["fitted_y"] = [y for x, y in c if x > lo and (window is None or window[0] <= x <= window[1])]
                f["max_y"] = max(ys) if ys else None
                est, how = _asymptote_estimate(f)
                fits[method].append({"seed": _seed_label(results, i), **f, "estimate": est, "estimate_from": how})
        summary["asymptote"] = {m: mean_std([f["estimate"] for f in fs]) for m, fs in fits.items()}
        summary["asymptote_fits"] = fits
        summary["asymptote_failed_fits"] = {m: sum(not f["accepted"] for f in fs) for m, fs in fits.items()}
        # FST's gain over each other arm at FST's last step (mean of the last two evaluations, per seed pair)
        gains = {}
        for other in [m for m in curves if m != "fst"]:
            vals = []
            for i in range(min(len(fst), len(curves[other]))):
                end = max(x for x, _ in _curve(fst[i]))
                a, b = _final_level(fst[i], end), _final_level(curves[other][i], end)
                vals.append(None if a is None or b is None else a - b)
            gains[f"fst_minus_{other}"] = mean_std(vals)
        summary["gains"] = gains or None
        pops = de.get("populations") or {}
        if pops:
            summary["population"] = {
                m: {"distinct_per_round": mean_std([float(np.mean(r)) for r in seeds if r]),
                    "rounds_with_several": mean_std([float(np.mean([v > 1 for v in r])) for r in seeds if r]),
                    "per_seed": seeds}
                for m, seeds in pops.items()}

    drift = results.get("drift")
    if drift:
        contexts = {"deployed": drift.get("points_deployed"), "seed_prompt": drift.get("points")}
        out = {}
        for ctx, pts in contexts.items():
            if not pts:
                continue
            fst, rl = pts.get("fst") or [], pts.get("rl") or []
            per_seed = []
            for i in range(min(len(fst), len(rl))):
                r = kl_reduction_at_matched_reward(_curve(rl[i]), _curve(fst[i]))
                per_seed.append({"seed": _seed_label(results, i), "mean_reduction": r["mean_reduction"],
                                 "max_reduction": r["max_reduction"], "matched_range": r["matched_range"],
                                 "ok": r["ok"], "note": r["note"]})
                details.setdefault(f"kl_reduction_levels_{ctx}", []).append(
                    {"seed": _seed_label(results, i), "levels": r["levels"], "reductions": r["reductions"]})
            out[ctx] = {
                "mean_reduction": mean_std([p["mean_reduction"] for p in per_seed if p["ok"]]),
                "max_reduction": mean_std([p["max_reduction"] for p in per_seed if p["ok"]]),
                "n_ok": sum(bool(p["ok"]) for p in per_seed),
                "per_seed": per_seed,
                "final_kl": {m: mean_std([_curve(c)[-1][0] for c in v if len(c)]) for m, v in pts.items()},
            }
        used = "deployed" if "deployed" in out else "seed_prompt"
        summary["kl_reduction_at_matched_reward"] = {**out.get(used, {}), "context": used, "contexts": out}

    fg = results.get("forgetting")
    if fg:
        before = float(fg["before"])
        summary["forgetting"] = {m: mean_std([before - float(a) for a in after])
                                 for m, after in (fg.get("after") or {}).items()}

    pl = results.get("plasticity")
    if pl:
        summary["plasticity"] = {init: mean_std([_curve(c)[-1][1] for c in seed_curves if len(c)])
                                 for init, seed_curves in (pl.get("curves") or {}).items()}

    ct = results.get("continual")
    if ct:
        bounds = [tuple(b) for b in ct.get("stage_bounds") or []]
        tasks = list(ct.get("tasks") or [])
        curves = {m: [_continual_curve(c, tasks, bounds) for c in v] for m, v in (ct.get("curves") or {}).items()}
        details["continual_curves"] = curves
        n = min((len(v) for v in curves.values()), default=0)
        per_seed = [normalise_stages({m: _curve(v[i]) for m, v in curves.items()}, bounds) for i in range(n)]
        details["continual_normalised"] = per_seed
        summary["continual"] = {
            m: [mean_std([ps[m][s]["final_normalised"] for ps in per_seed]) for s in range(len(bounds))]
            for m in curves}

    qd = results.get("quadrant")
    if qd:
        summary["quadrant"] = {cell: mean_std(vals) for cell, vals in (qd.get("cells") or {}).items()}

    summary["setting"] = results.get("setting")
    summary["claims"] = claims(results, summary, details)
    summary["verdicts"] = {c["id"]: c["verdict"] for c in summary["claims"]}
    summary["verdict_rules"] = VERDICT_RULES
    return summary, details


def summarise(results: dict) -> dict:
    """The summary of a (possibly partial) results dict."""
    return summarise_all(results)[0]


def claims(results: dict, summary: dict, details: dict) -> list[dict]:
    out = []

    def add(cid, ours, v, evidence=None):
        out.append({"id": cid, "claim": PAPER[cid]["claim"], "paper": PAPER[cid]["paper"], "ours": ours,
                    "verdict": v[0], "reason": v[1], "evidence": evidence})

    not_run = (NOT_RUN, "section not run")

    # 1. data efficiency
    sp = summary["speedup_to_rl_peak"]
    if sp is None:
        add("data_efficiency", NOT_RUN, not_run)
    else:
        diffs = [None if p["speedup"] is None else (p["speedup"] - 1.0, p["bound"]) for p in sp["per_seed"]]
        sym = {"lower": ">=", "upper": "<=", "exact": "", None: ""}
        per = ", ".join(f"{sym[p['bound']]}{fmt(p['speedup'])}x" if p["speedup"] is not None else "n/a"
                        for p in sp["per_seed"])
        ours = (f"speedup per seed {per}; censored {sp['n_censored']}/{sp['n_seeds']}; RL plateaued in "
                f"{sp['n_rl_plateaued']}/{sp['n_seeds']} seeds")
        add("data_efficiency", ours, verdict(diffs), diffs)

    # 2. asymptote
    fits = summary["asymptote_fits"]
    if not fits or "fst" not in fits or "rl" not in fits:
        add("asymptote", NOT_RUN, not_run)
    else:
        diffs = [None if f["estimate"] is None or r["estimate"] is None else f["estimate"] - r["estimate"]
                 for f, r in zip(fits["fst"], fits["rl"])]
        tags = {m: ", ".join(f["estimate_from"] for f in fits[m]) for m in ("fst", "rl")}
        ours = (f"A_fst {fmt_ms(summary['asymptote']['fst'], pct=True)} vs "
                f"A_rl {fmt_ms(summary['asymptote']['rl'], pct=True)}; from: FST [{tags['fst']}], RL [{tags['rl']}]"
                f"; failed fits: FST {summary['asymptote_failed_fits']['fst']}/{len(fits['fst'])}, "
                f"RL {summary['asymptote_failed_fits']['rl']}/{len(fits['rl'])}")
        add("asymptote", ours, verdict(diffs), diffs)

    # 3. KL at matched reward, in each run's deployed context
    kl = summary["kl_reduction_at_matched_reward"]
    if kl is None or "per_seed" not in kl:
        add("kl", NOT_RUN, not_run)
    else:
        diffs = [p["mean_reduction"] if p["ok"] else None for p in kl["per_seed"]]
        parts = [f"{ctx}: mean reduction {fmt_ms(c['mean_reduction'], pct=True)}, final KL FST "
                 f"{fmt_ms(c['final_kl'].get('fst'))} vs RL {fmt_ms(c['final_kl'].get('rl'))}"
                 for ctx, c in kl["contexts"].items()]
        notes = sorted({p["note"] for p in kl["per_seed"] if p["note"]})
        v = verdict(diffs)
        if notes:
            v = (v[0], v[1] + "; " + "; ".join(notes))
        add("kl", f"verdict context {kl['context']}; " + "; ".join(parts), v, diffs)

    # 4. forgetting
    fg = results.get("forgetting")
    after = (fg or {}).get("after") or {}
    if not fg or "fst" not in after or "rl" not in after:
        add("forgetting", NOT_RUN, not_run)
    else:
        n = min(len(after["fst"]), len(after["rl"]))
        diffs = [float(after["fst"][i]) - float(after["rl"][i]) for i in range(n)]
        f = summary["forgetting"]
        ours = (f"base {fmt(float(fg['before']), True)}; points lost: "
                + ", ".join(f"{m} {fmt_ms(f[m], True)}" for m in f))
        add("forgetting", ours, verdict(diffs), diffs)

    # 5. plasticity
    pl = results.get("plasticity")
    curves = (pl or {}).get("curves") or {}
    if not pl or not all(k in curves for k in ("base", "rl", "fst")):
        add("plasticity", NOT_RUN if not pl else "needs base, rl and fst curves", not_run)
    else:
        finals = {k: [_curve(c)[-1][1] if len(c) else None for c in curves[k]] for k in ("base", "rl", "fst")}
        n = min(len(v) for v in finals.values())

        def d(a, b, add_=0.0):
            return [None if finals[a][i] is None or finals[b][i] is None else finals[a][i] - finals[b][i] + add_
                    for i in range(n)]

        v = _combine(verdict(d("fst", "rl")), verdict(d("fst", "base", PLASTICITY_CLOSE_TOL)))
        ps = summary["plasticity"]
        ours = (f"task {pl.get('task', '?')}; final acc: base {fmt_ms(ps['base'], True)}, RL-init "
                f"{fmt_ms(ps['rl'], True)}, FST-init {fmt_ms(ps['fst'], True)}")
        add("plasticity", ours, v, {"fst_minus_rl": d("fst", "rl"), "fst_minus_base_plus_tol":
                                    d("fst", "base", PLASTICITY_CLOSE_TOL)})

    # 6. continual
    ct = summary["continual"]
    if ct is None or "fst" not in ct or "rl" not in ct:
        add("continual", NOT_RUN, not_run)
    else:
        per_seed = details.get("continual_normalised") or []
        n_stages = len(ct["fst"])
        stages = list(range(1, n_stages)) if n_stages > 1 else [0]
        diffs = []
        for ps in per_seed:
            vals = [(ps["fst"][s]["final_normalised"], ps["rl"][s]["final_normalised"]) for s in stages]
            diffs.append(None if any(a is None or b is None for a, b in vals)
                         else float(np.mean([a - b for a, b in vals])))
        tasks = (results.get("continual") or {}).get("tasks") or []
        ours = "; ".join(f"stage {s}{' (' + tasks[s] + ')' if s < len(tasks) else ''}: FST "
                         f"{fmt_ms(ct['fst'][s], True)} vs RL {fmt_ms(ct['rl'][s], True)}" for s in range(n_stages))
        add("continual", ours, verdict(diffs), diffs)

    # 7. quadrant
    qd = summary["quadrant"]
    cells = ((results.get("quadrant") or {}).get("cells")) or {}
    others = [c for c in cells if c != "fst+evolved"]
    if qd is None or "fst+evolved" not in cells or not others:
        add("quadrant", NOT_RUN, not_run)
    else:
        n = min(len(v) for v in cells.values())
        diffs = [cells["fst+evolved"][i] - max(cells[c][i] for c in others) for i in range(n)]
        ours = ", ".join(f"{c} {fmt_ms(qd[c], True)}" for c in cells)
        add("quadrant", ours, verdict(diffs), diffs)
    return out
