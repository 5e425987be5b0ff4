"""Turn an experiment ``results`` dict into a report folder: ``report.json``, PNG figures and a self-contained
HTML page.

Input: the ``results`` dict
===========================

All accuracies/rewards are **fractions in [0, 1]**; a "curve" is a list of ``(x, y)`` pairs sorted by x (lists of
two numbers are accepted too, so a dict read back from JSON works). Every per-seed list in every section is aligned by
index with ``data_efficiency["seeds"]`` (seed i of one method is paired with seed i of the other; if two methods
have different numbers of seeds only the first ``min(n)`` pairs enter paired statistics)::

    {"settings": {...free-form key/values...},
     "data_efficiency": {"seeds": [..],
                         "curves": {"fst": [[(step, acc), ...] per seed], "rl": [...], "gepa": [...]},
                         "rollout_curves": {method: [[(total_rollouts, acc), ...] per seed]},
                         "fit_window": (lo, hi)},            # optional: x range of the sigmoid fit (default: all)
     "drift": {"points": {"fst": [[(kl, acc), ...] per seed], "rl": [...]}},
     "forgetting": {"before": float, "after": {"fst": [per-seed floats], "rl": [...], "gepa": [...]}},
     "plasticity": {"task": str, "curves": {"base": [[(step, acc)] per seed], "rl": ..., "fst": ...}},
     "continual": {"tasks": [..], "stage_bounds": [[0, 20], [20, 40], [40, 60]],
                   "curves": {"fst": [[(step, acc_on_current_stage_task)] per seed], "rl": [...]}},
                   # a seed's entry may instead be {task: [(step, acc_on_that_task)]} (every task at every
                   # evaluation); stage s then uses tasks[s]'s curve, see _continual_curve
     "quadrant": {"cells": {"base+seed": [per-seed], "base+evolved": [...], "fst+seed": [...],
                            "fst+evolved": [...]}}}

Any section may be missing (a quick run); its summary entry is then None, ``summary["sections"][name]`` is
``"not run"``, its claim's verdict is ``"not run"`` and the HTML says "not run".

Output: ``report.json``
=======================

``{"summary": ..., "settings": ..., "figures": {name: file}, "details": {...}}`` where ``summary`` (also returned by
:func:`write_report`) is; every ``mean_std`` is ``{"mean", "std", "n", "values"}`` over seeds (sample std)::

    {"sections": {section: "ok" | "not run"},
     "speedup_to_rl_peak": {"speedup": mean_std over seeds where FST reached RL's peak with a finite speedup,
                            "n_reached": int, "n_seeds": int,
                            "per_seed": [speedup_to_peak(...) + {"seed"}]},
     "asymptote": {method: mean_std of per-seed fitted A (fits with ok and identified only: a failed fit's
                   fallback max(y) or an A pinned at its bound is not an asymptote estimate)},
     "asymptote_fits": {method: [fit_sigmoid(...) + {"seed"} per seed]},
     "kl_reduction_at_matched_reward": {"mean_reduction": mean_std, "max_reduction": mean_std, "n_ok": int,
                                        "per_seed": [{"seed", "mean_reduction", "max_reduction",
                                                      "matched_range", "ok", "note"}]},
     "forgetting": {method: mean_std of (before - after)},           # positive = accuracy lost
     "plasticity": {init: mean_std of final accuracy (last point)},
     "continual": {method: [mean_std of final_normalised, one per stage]},
     "quadrant": {cell: mean_std},
     "claims": [{"claim", "paper", "ours", "verdict", "reason"}],
     "verdict_rules": str}

Verdicts (see :data:`VERDICT_RULES` and :func:`verdict`) compare per-seed paired differences in the direction of
the paper's claim; they are qualitative (direction and consistency), not a check of the paper's magnitudes.
"""

from __future__ import annotations

import base64
import html
import json
import math
from pathlib import Path

import numpy as np

from fastslow.experiments.analysis import (
    fit_sigmoid,
    kl_reduction_at_matched_reward,
    mean_std,
    normalise_stages,
    running_max,
    sigmoid,
    speedup_to_peak,
)

SECTIONS = ("data_efficiency", "drift", "forgetting", "plasticity", "continual", "quadrant")
QUADRANT_CELLS = ("base+seed", "base+evolved", "fst+seed", "fst+evolved")
# FST-init counts as "close to" base-init when it is at most this far below it (accuracy fraction; 0.05 = 5pp).
# The paper calls 16.7% vs 20.2% (Math arm, -3.5pp) "close".
PLASTICITY_CLOSE_TOL = 0.05

VERDICT_RULES = (
    "Each claim is turned into one number per seed, d_i, signed so that d_i > 0 supports the paper "
    "(e.g. A_fst - A_rl). With m = mean(d) and s = sample std(d): "
    "'yes' if n >= 2, every d_i > 0 and m > s (all seeds agree and the mean exceeds one std); "
    "'no' if n >= 2, every d_i <= 0 and m <= -s (no seed supports it and the mean is at least one std on the "
    "other side, or exactly zero everywhere); otherwise 'inconclusive' (seeds disagree, the spread is too large, "
    "n < 2, or some seed's value is undetermined, e.g. a failed fit). "
    "Per claim: speedup d_i = speedup_i - 1; a seed where FST never reached RL's peak counts as "
    "rl_steps / fst_last_step - 1 (an upper bound) when FST was evaluated at least as long as RL needed, and as "
    "undetermined otherwise (or when FST was already there at step 0, or RL's peak is its step-0 value). "
    "Asymptote d_i = A_fst - A_rl (both fits "
    "must succeed and be identified, i.e. A and C_mid not pinned at their upper bounds). KL d_i = mean "
    "reduction 1 - KL_fst/KL_rl over matched rewards. Plasticity: 'yes' needs both "
    "d_i = final(FST-init) - final(RL-init) and d_i = final(FST-init) - final(base-init) + "
    f"{PLASTICITY_CLOSE_TOL} ('close to or above base') to be 'yes'; 'no' if either is 'no'. Continual d_i = mean "
    "over stages after the first (the only stage if there is one) of FST's minus RL's final normalised accuracy. "
    "Quadrant d_i = fst+evolved - max(other cells). Verdicts are about direction and consistency, not the paper's "
    "magnitudes."
)

COLORS = {"fst": "#1f77b4", "rl": "#d62728", "gepa": "#2ca02c", "base": "#7f7f7f"}


# ----------------------------------------------------------------------------------------------------- verdicts --


def verdict(diffs: list[float | None]) -> tuple[str, str]:
    """Apply :data:`VERDICT_RULES` to per-seed differences (positive = supports the claim). Returns (verdict, why)."""
    if not diffs:
        return "inconclusive", "no seeds"
    if any(d is None or not math.isfinite(d) for d in diffs):
        return "inconclusive", "some seeds undetermined"
    n = len(diffs)
    if n < 2:
        return "inconclusive", "only 1 seed (no spread)"
    ms = mean_std(diffs)
    m, s = ms["mean"], ms["std"]
    if all(d > 0 for d in diffs) and m > s:
        return "yes", f"all {n} seeds agree, mean {m:.3g} > std {s:.3g}"
    if all(d <= 0 for d in diffs) and m <= -s:
        return "no", f"no seed supports it, mean {m:.3g} <= -std {s:.3g}"
    agree = sum(d > 0 for d in diffs)
    return "inconclusive", f"{agree}/{n} seeds support it, mean {m:.3g}, std {s:.3g}"


def _combine(*verdicts: tuple[str, str]) -> tuple[str, str]:
    vs = [v for v, _ in verdicts]
    why = "; ".join(w for _, w in verdicts)
    if "no" in vs:
        return "no", why
    if all(v == "yes" for v in vs):
        return "yes", why
    return "inconclusive", why


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


def _fmt(v, pct: bool = False, digits: int = 3) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "n/a"
    return f"{100 * v:.1f}%" if pct else f"{v:.{digits}g}"


def _fmt_ms(ms: dict | None, pct: bool = False, suffix: str = "") -> str:
    if not ms or ms.get("mean") is None:
        return "n/a"
    if pct:
        return f"{100 * ms['mean']:.1f} ± {100 * ms['std']:.1f}% (n={ms['n']})"
    return f"{ms['mean']:.2f} ± {ms['std']:.2f}{suffix} (n={ms['n']})"


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return [_jsonable(v) for v in obj.tolist()]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, Path):
        return str(obj)
    return obj


# ---------------------------------------------------------------------------------------------------- summaries --


def _summarise(results: dict) -> tuple[dict, dict]:
    """Compute the summary (see module docstring) and a dict of bulkier details for report.json."""
    summary: dict = {"sections": {s: ("ok" if results.get(s) else "not run") for s in SECTIONS}}
    details: dict = {}
    for key in ("speedup_to_rl_peak", "asymptote", "asymptote_fits", "kl_reduction_at_matched_reward",
                "forgetting", "plasticity", "continual", "quadrant"):
        summary[key] = None

    de = results.get("data_efficiency")
    if de:
        curves = de.get("curves") or {}
        fst, rl = curves.get("fst") or [], curves.get("rl") or []
        if fst and rl:
            per_seed = []
            for i in range(min(len(fst), len(rl))):
                r = speedup_to_peak(_curve(rl[i]), _curve(fst[i]))
                per_seed.append({"seed": _seed_label(results, i), **r})
            summary["speedup_to_rl_peak"] = {
                "speedup": mean_std([p["speedup"] for p in per_seed if p["speedup"] is not None]),
                "n_reached": sum(bool(p["reached"]) for p in per_seed),
                "n_seeds": len(per_seed),
                "per_seed": per_seed,
            }
        window = de.get("fit_window")
        fits = {}
        for method, seed_curves in curves.items():
            fits[method] = []
            for i, c in enumerate(seed_curves):
                c = _curve(c)
                f = fit_sigmoid([x for x, _ in c], [y for _, y in c],
                                window=tuple(window) if window is not None else None)
                fits[method].append({"seed": _seed_label(results, i), **f})
        summary["asymptote"] = {m: mean_std([f["A"] for f in fs if f["ok"] and f["identified"]])
                                for m, fs in fits.items()}
        summary["asymptote_fits"] = fits

    drift = results.get("drift")
    if drift:
        pts = drift.get("points") or {}
        fst, rl = pts.get("fst") or [], pts.get("rl") or []
        per_seed = []
        for i in range(min(len(fst), len(rl))):
            r = kl_reduction_at_matched_reward(_curve(rl[i]), _curve(fst[i]))
            per_seed.append({"seed": _seed_label(results, i), "mean_reduction": r["mean_reduction"],
                             "max_reduction": r["max_reduction"], "matched_range": r["matched_range"],
                             "ok": r["ok"], "note": r["note"]})
            details.setdefault("kl_reduction_levels", []).append(
                {"seed": _seed_label(results, i), "levels": r["levels"], "reductions": r["reductions"]})
        summary["kl_reduction_at_matched_reward"] = {
            "mean_reduction": mean_std([p["mean_reduction"] for p in per_seed if p["ok"]]),
            "max_reduction": mean_std([p["max_reduction"] for p in per_seed if p["ok"]]),
            "n_ok": sum(bool(p["ok"]) for p in per_seed),
            "per_seed": per_seed,
        }
        details["kl_reduction_pooled"] = kl_reduction_at_matched_reward(
            [p for c in rl for p in _curve(c)], [p for c in fst for p in _curve(c)])

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
        per_seed = []
        for i in range(n):
            norm = normalise_stages({m: _curve(v[i]) for m, v in curves.items()}, bounds)
            per_seed.append(norm)
        details["continual_normalised"] = per_seed
        summary["continual"] = {
            m: [mean_std([ps[m][s]["final_normalised"] for ps in per_seed]) for s in range(len(bounds))]
            for m in curves}

    qd = results.get("quadrant")
    if qd:
        summary["quadrant"] = {cell: mean_std(vals) for cell, vals in (qd.get("cells") or {}).items()}

    summary["claims"] = _claims(results, summary, details)
    summary["verdict_rules"] = VERDICT_RULES
    return summary, details


def summarise(results: dict) -> dict:
    """The summary of a (possibly partial) results dict, without writing anything."""
    return _summarise(results)[0]


def _claims(results: dict, summary: dict, details: dict) -> list[dict]:
    claims = []

    def add(claim, paper, ours, v):
        claims.append({"claim": claim, "paper": paper, "ours": ours, "verdict": v[0], "reason": v[1]})

    not_run = ("not run", "section not run")

    # 1. speedup
    sp = summary["speedup_to_rl_peak"]
    claim = "FST reaches RL's running-peak accuracy in fewer steps (speedup > 1)"
    paper = "3.0x CodeIO / 1.4x Math / 3.0x HoVer-hard"
    if sp is None:
        add(claim, paper, "not run", not_run)
    else:
        diffs = []
        for p in sp["per_seed"]:
            if p["speedup"] is not None and p["rl_steps"] and p["rl_steps"] > 0:
                diffs.append(p["speedup"] - 1.0)
            elif (not p["reached"] and p["rl_steps"] is not None and p["fst_last_x"]
                  and p["fst_last_x"] >= p["rl_steps"]):
                diffs.append(p["rl_steps"] / p["fst_last_x"] - 1.0)  # upper bound on the true speedup - 1
            else:
                diffs.append(None)
        ours = f"{_fmt_ms(sp['speedup'], suffix='x')}; reached in {sp['n_reached']}/{sp['n_seeds']} seeds"
        add(claim, paper, ours, verdict(diffs))

    # 2. asymptote
    claim = "Higher fitted sigmoid asymptote A for FST than for RL"
    paper = "FST > RL: 47.4 vs 43.0 / 49.2 vs 46.4 / 25.0 vs 17.3 (%)"
    fits = summary["asymptote_fits"]
    if not fits or "fst" not in fits or "rl" not in fits:
        add(claim, paper, "not run", not_run)
    else:
        diffs = [(f["A"] - r["A"]) if (f["ok"] and r["ok"] and f["identified"] and r["identified"]) else None
                 for f, r in zip(fits["fst"], fits["rl"])]
        ok = {m: f"{sum(bool(f['ok'] and f['identified']) for f in fits[m])}/{len(fits[m])}" for m in ("fst", "rl")}
        ours = (f"A_fst {_fmt_ms(summary['asymptote']['fst'], pct=True)} vs "
                f"A_rl {_fmt_ms(summary['asymptote']['rl'], pct=True)}; diff "
                f"{_fmt_ms(mean_std(diffs), pct=True)}; identified fits: FST {ok['fst']}, RL {ok['rl']}")
        v = verdict(diffs)
        n_bad = sum(d is None for d in diffs)
        if n_bad:
            v = (v[0], f"{v[1]} ({n_bad} seed pair(s) with a failed or unidentified fit)")
        add(claim, paper, ours, v)

    # 3. KL reduction
    kl = summary["kl_reduction_at_matched_reward"]
    claim = "FST needs less KL to the base than RL at matched reward"
    paper = "up to 70% less KL (CodeIO, HoVer, Physics; no separation on Polaris)"
    if kl is None:
        add(claim, paper, "not run", not_run)
    else:
        diffs = [p["mean_reduction"] if p["ok"] else None for p in kl["per_seed"]]
        ours = (f"mean reduction {_fmt_ms(kl['mean_reduction'], pct=True)}, "
                f"max {_fmt_ms(kl['max_reduction'], pct=True)}")
        add(claim, paper, ours, verdict(diffs))

    # 4. plasticity
    pl = results.get("plasticity")
    claim = "FST-init keeps plasticity: fresh RL from it ends close to/above base-init and at least as high as RL-init"
    paper = "FST-init close to or above base-init; RL-init can collapse (Math arm 0.0%)"
    curves = (pl or {}).get("curves") or {}
    if not pl or not all(k in curves for k in ("base", "rl", "fst")):
        add(claim, paper, "not run" if not pl else "needs base, rl and fst curves", not_run)
    else:
        finals = {k: [_curve(c)[-1][1] if len(c) else None for c in curves[k]] for k in ("base", "rl", "fst")}
        n = min(len(v) for v in finals.values())

        def d(a, b, add_=0.0):
            return [None if finals[a][i] is None or finals[b][i] is None else finals[a][i] - finals[b][i] + add_
                    for i in range(n)]

        v = _combine(verdict(d("fst", "rl")), verdict(d("fst", "base", PLASTICITY_CLOSE_TOL)))
        ps = summary["plasticity"]
        ours = (f"final acc: base {_fmt_ms(ps['base'], True)}, RL {_fmt_ms(ps['rl'], True)}, "
                f"FST {_fmt_ms(ps['fst'], True)}")
        add(claim, paper, ours, v)

    # 5. continual
    ct = summary["continual"]
    claim = "FST keeps learning in later stages where RL stalls (higher final normalised accuracy)"
    paper = "CodeIO stage: FST +19.6pp vs RL +2.5pp; Physics stage FST 100% vs RL ~92% normalised"
    if ct is None or "fst" not in ct or "rl" not in ct:
        add(claim, paper, "not run", not_run)
    else:
        per_seed = details.get("continual_normalised") or []
        n_stages = len(ct["fst"])
        stages = list(range(1, n_stages)) if n_stages > 1 else [0]
        diffs = []
        for ps in per_seed:
            vals = [(ps["fst"][s]["final_normalised"], ps["rl"][s]["final_normalised"]) for s in stages]
            diffs.append(None if any(a is None or b is None for a, b in vals)
                         else float(np.mean([a - b for a, b in vals])))
        ours = "; ".join(f"stage {s}: FST {_fmt_ms(ct['fst'][s], True)} vs RL {_fmt_ms(ct['rl'][s], True)}"
                         for s in range(n_stages))
        add(claim, paper, ours, verdict(diffs))

    # 6. quadrant
    qd = summary["quadrant"]
    claim = "Joint cell (FST weights + evolved prompt) is the best of the four"
    paper = "joint best on HoVer-hard (21.2) and CodeIO (43.3); Math: slow weights carry the gain (48.4 vs 47.2)"
    cells = ((results.get("quadrant") or {}).get("cells")) or {}
    others = [c for c in cells if c != "fst+evolved"]
    if qd is None or "fst+evolved" not in cells or not others:
        add(claim, paper, "not run", not_run)
    else:
        n = min(len(v) for v in cells.values())
        diffs = [cells["fst+evolved"][i] - max(cells[c][i] for c in others) for i in range(n)]
        ours = ", ".join(f"{c} {_fmt_ms(qd[c], True)}" for c in cells)
        add(claim, paper, ours, verdict(diffs))
    return claims


# ------------------------------------------------------------------------------------------------------ figures --


def _aggregate(curves) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """Mean/min/max over seeds on the union of x values (each seed linearly interpolated inside its own range)."""
    cs = [sorted(_curve(c), key=lambda p: p[0]) for c in curves if len(c)]
    if not cs:
        return None
    xs = np.array(sorted({x for c in cs for x, _ in c}))
    mat = np.full((len(cs), len(xs)), np.nan)
    for i, c in enumerate(cs):
        cx, cy = np.array([p[0] for p in c]), np.array([p[1] for p in c])
        mask = (xs >= cx[0]) & (xs <= cx[-1])
        mat[i, mask] = np.interp(xs[mask], cx, cy)
    keep = np.isfinite(mat).any(axis=0)
    xs, mat = xs[keep], mat[:, keep]
    return xs, np.nanmean(mat, axis=0), np.nanmin(mat, axis=0), np.nanmax(mat, axis=0)


def _plot_band(ax, curves, label, color, runmax=False, linestyle="-"):
    agg = _aggregate(curves)
    if agg is None:
        return
    xs, mean, lo, hi = agg
    ax.plot(xs, mean, color=color, label=None if label is None else f"{label} (mean, n={len(curves)})",
            linestyle=linestyle)
    ax.fill_between(xs, lo, hi, color=color, alpha=0.18, linewidth=0)
    if runmax:
        ax.plot(xs, running_max(mean), color=color, linestyle="--", linewidth=1, label=f"{label} running max")


def _color(name: str, i: int) -> str:
    key = name.split("+")[0].split("-")[0].lower()
    return COLORS.get(key, f"C{i}")


def _figures(results: dict, summary: dict, details: dict, out_dir: Path, plt) -> dict[str, str]:
    figs: dict[str, str] = {}

    def save(fig, name):
        fig.tight_layout()
        fig.savefig(out_dir / name, dpi=100)
        plt.close(fig)
        figs[name.removesuffix(".png")] = name

    de = results.get("data_efficiency")
    if de:
        curves = de.get("curves") or {}
        fig, ax = plt.subplots(figsize=(7, 4.2))
        for i, (m, cs) in enumerate(curves.items()):
            _plot_band(ax, cs, m.upper(), _color(m, i), runmax=True, linestyle="-." if m == "gepa" else "-")
        ax.set(xlabel="training step", ylabel="validation accuracy",
               title="Validation accuracy vs step\n"
                     "(line: mean, band: min-max over seeds, dashed: running max of the mean)")
        ax.legend(fontsize=7)
        save(fig, "accuracy_vs_step.png")

        fits = summary.get("asymptote_fits") or {}
        if fits:
            fig, ax = plt.subplots(figsize=(7, 4.2))
            for i, (m, cs) in enumerate(curves.items()):
                col = _color(m, i)
                for j, c in enumerate(cs):
                    c = _curve(c)
                    ax.scatter([x for x, _ in c], [y for _, y in c], s=8, color=col, alpha=0.5,
                               label=f"{m.upper()} points" if j == 0 else None)
                    f = fits[m][j]
                    if f["ok"] and c:
                        xmax = max(x for x, _ in c)
                        lo, hi = f["window"]
                        xw = np.linspace(max(lo, 1e-9), hi, 200)
                        xe = np.linspace(hi, max(2 * xmax, hi), 100)
                        ax.plot(xw, sigmoid(xw, f["A"], f["B"], f["C_mid"], f["R0"]), color=col, linewidth=1,
                                label=f"{m.upper()} fit (A={100 * f['A']:.1f}%)" if j == 0 else None)
                        ax.plot(xe, sigmoid(xe, f["A"], f["B"], f["C_mid"], f["R0"]), color=col, linewidth=1,
                                linestyle=":")
            ax.set(xlabel="training step", ylabel="validation accuracy",
                   title="Sigmoid fits (solid: fit window, dotted: extrapolation)")
            ax.legend(fontsize=7)
            save(fig, "asymptote_fit.png")

        rc = de.get("rollout_curves") or {}
        if rc:
            fig, ax = plt.subplots(figsize=(7, 4.2))
            for i, (m, cs) in enumerate(rc.items()):
                _plot_band(ax, cs, m.upper(), _color(m, i), runmax=True, linestyle="-." if m == "gepa" else "-")
            ax.set(xlabel="total rollouts", ylabel="validation accuracy", title="Validation accuracy vs rollouts")
            ax.legend(fontsize=7)
            save(fig, "accuracy_vs_rollouts.png")

    drift = results.get("drift")
    if drift:
        fig, ax = plt.subplots(figsize=(7, 4.2))
        for i, (m, seeds) in enumerate((drift.get("points") or {}).items()):
            pts = [p for c in seeds for p in _curve(c)]
            ax.scatter([k for k, _ in pts], [r for _, r in pts], s=14, color=_color(m, i), alpha=0.7,
                       label=m.upper())
        ax.set(xlabel="KL(π_train ‖ π_base) (token-level)", ylabel="validation accuracy",
               title="KL to the base vs accuracy (all seeds pooled)")
        ax.legend(fontsize=7)
        save(fig, "kl_vs_accuracy.png")

    fg = results.get("forgetting")
    if fg:
        after = fg.get("after") or {}
        fig, ax = plt.subplots(figsize=(6, 4))
        names = list(after)
        ms = [mean_std(after[m]) for m in names]
        ax.bar(names, [v["mean"] or 0 for v in ms], yerr=[v["std"] or 0 for v in ms],
               color=[_color(m, i) for i, m in enumerate(names)], capsize=4)
        for i, m in enumerate(names):
            ax.scatter([i] * len(after[m]), after[m], color="k", s=10, zorder=3)
        ax.axhline(float(fg["before"]), color="k", linestyle="--", label="before training")
        ax.set(ylabel="held-out accuracy after training", title="Forgetting (bars: mean ± std; dots: seeds)")
        ax.legend(fontsize=7)
        save(fig, "forgetting.png")

    pl = results.get("plasticity")
    if pl:
        fig, ax = plt.subplots(figsize=(7, 4.2))
        for i, (init, cs) in enumerate((pl.get("curves") or {}).items()):
            _plot_band(ax, cs, f"{init}-init", _color(init, i))
        ax.set(xlabel="phase-2 RL step", ylabel=f"validation accuracy ({pl.get('task', '?')})",
               title="Plasticity probe: fresh RL from each initialisation")
        ax.legend(fontsize=7)
        save(fig, "plasticity.png")

    ct = results.get("continual")
    if ct:
        bounds = [tuple(b) for b in ct.get("stage_bounds") or []]
        tasks = ct.get("tasks") or []
        fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(7, 6), sharex=True)
        per_seed = details.get("continual_normalised") or []
        for i, m in enumerate(details.get("continual_curves") or {}):
            # one segment per stage: (stage start, start value) then the in-stage points
            for s in range(len(bounds)):
                raw, normed = [], []
                for ps in per_seed:
                    st = ps[m][s]
                    if st["start_value"] is None:
                        continue
                    raw.append([(st["start"], st["start_value"])] + list(st["points"]))
                    normed.append([(st["start"], 0.0)] + list(st["curve"]))
                label = m.upper() if s == 0 else None
                _plot_band(ax1, raw, label, _color(m, i))
                _plot_band(ax2, normed, label, _color(m, i))
        for s, (lo, hi) in enumerate(bounds):
            for ax in (ax1, ax2):
                ax.axvline(lo, color="k", linestyle=":", linewidth=0.8)
            if s < len(tasks):
                ax1.text((lo + hi) / 2, 1.0, str(tasks[s]), transform=ax1.get_xaxis_transform(), ha="center",
                         va="bottom", fontsize=8)
        ax1.set(ylabel="accuracy on current task")
        ax2.set(xlabel="training step", ylabel="normalised (0 = stage start, 1 = peak)")
        ax1.legend(fontsize=7)
        fig.suptitle("Continual learning (dotted lines: stage boundaries)", fontsize=10)
        save(fig, "continual.png")

    qd = results.get("quadrant")
    if qd:
        cells = qd.get("cells") or {}
        names = list(cells)
        ms = [mean_std(cells[c]) for c in names]
        fig, ax = plt.subplots(figsize=(7, 4))
        ax.bar(names, [v["mean"] or 0 for v in ms], yerr=[v["std"] or 0 for v in ms], capsize=4,
               color=[_color(c, i) for i, c in enumerate(names)])
        for i, c in enumerate(names):
            ax.scatter([i] * len(cells[c]), cells[c], color="k", s=10, zorder=3)
        ax.set(ylabel="pass@1", title="Weights x prompt quadrant (mean ± std; dots: seeds)")
        save(fig, "quadrant.png")
    return figs


# --------------------------------------------------------------------------------------------------------- html --

_CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;
color:#222;line-height:1.4}
h1{border-bottom:2px solid #444}h2{margin-top:2em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:0.8em 0;font-size:0.9em}
th,td{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}th{background:#f0f0f0}
img{max-width:100%;border:1px solid #ddd;margin:0.5em 0}
.yes{background:#d9f2d9}.no{background:#f8d7d7}.inconclusive{background:#fff3cd}.notrun{color:#888}
.small{font-size:0.85em;color:#555}
"""


def _table(header: list[str], rows: list[list], classes: list[str] | None = None) -> str:
    h = "".join(f"<th>{html.escape(str(c))}</th>" for c in header)
    body = []
    for i, r in enumerate(rows):
        cls = f' class="{classes[i]}"' if classes and classes[i] else ""
        body.append(f"<tr{cls}>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>")
    return f"<table><tr>{h}</tr>{''.join(body)}</table>"


def _img(out_dir: Path, figs: dict, key: str) -> str:
    if key not in figs:
        return ""
    data = base64.b64encode((out_dir / figs[key]).read_bytes()).decode("ascii")
    return f'<img alt="{html.escape(key)}" src="data:image/png;base64,{data}">'


def _html(results: dict, summary: dict, figs: dict, out_dir: Path) -> str:
    settings = results.get("settings") or {}
    parts = [(f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>FST experiment report</title>"
              f"<style>{_CSS}</style></head><body><h1>Fast-Slow Training: experiment report</h1>")]
    parts.append("<h2>Run settings</h2>")
    parts.append(_table(["setting", "value"], [[k, v if isinstance(v, (str, int, float)) else json.dumps(
        _jsonable(v))] for k, v in settings.items()]) if settings else "<p class='notrun'>no settings given</p>")

    parts.append("<h2>Claims</h2>")
    cl = summary["claims"]
    parts.append(_table(["claim", "paper", "ours (mean ± std over seeds)", "reproduced?", "why"],
                        [[c["claim"], c["paper"], c["ours"], c["verdict"], c["reason"]] for c in cl],
                        [c["verdict"].replace(" ", "") for c in cl]))
    parts.append(f"<p class='small'><b>Verdict rules.</b> {html.escape(VERDICT_RULES)}</p>")

    def section(title, name, body_fn):
        parts.append(f"<h2>{html.escape(title)}</h2>")
        if summary["sections"][name] != "ok":
            parts.append("<p class='notrun'>not run</p>")
        else:
            parts.append(body_fn())

    def data_eff():
        out = [_img(out_dir, figs, k) for k in ("accuracy_vs_step", "accuracy_vs_rollouts", "asymptote_fit")]
        sp = summary["speedup_to_rl_peak"]
        if sp:
            out.append("<h3>Speedup to RL's running peak</h3>")
            out.append(_table(["seed", "RL peak", "RL steps", "FST steps", "speedup", "note"],
                              [[p["seed"], _fmt(p["rl_peak"], True), _fmt(p["rl_steps"]), _fmt(p["fst_steps"]),
                                _fmt(p["speedup"]), p["note"]] for p in sp["per_seed"]]))
        fits = summary["asymptote_fits"] or {}
        rows = [[m, f["seed"], _fmt(f["A"], True), _fmt(f["B"]), _fmt(f["C_mid"]), _fmt(f["R0"], True),
                 f["window"], f["ok"], f["message"]] for m, fs in fits.items() for f in fs]
        out.append("<h3>Sigmoid fits</h3>")
        out.append(_table(["method", "seed", "A", "B", "C_mid", "R0", "window", "ok", "message"], rows))
        return "".join(out)

    def drift():
        kl = summary["kl_reduction_at_matched_reward"]
        rows = [[p["seed"], _fmt(p["mean_reduction"], True), _fmt(p["max_reduction"], True),
                 "n/a" if not p["matched_range"] else f"{_fmt(p['matched_range'][0], True)} to "
                 f"{_fmt(p['matched_range'][1], True)}", p["note"]] for p in kl["per_seed"]]
        return _img(out_dir, figs, "kl_vs_accuracy") + _table(
            ["seed", "mean KL reduction", "max KL reduction", "matched reward range", "note"], rows)

    def forgetting():
        fg = results["forgetting"]
        rows = [[m, _fmt_ms(mean_std(fg["after"][m]), True), _fmt_ms(v, True)]
                for m, v in summary["forgetting"].items()]
        return (_img(out_dir, figs, "forgetting") + f"<p>Accuracy before training: {_fmt(fg['before'], True)}</p>"
                + _table(["method", "after", "drop (before - after)"], rows))

    def plasticity():
        rows = [[k, _fmt_ms(v, True)] for k, v in summary["plasticity"].items()]
        task = html.escape(str(results["plasticity"].get("task", "?")))
        return (_img(out_dir, figs, "plasticity") + f"<p>Phase-2 task: {task}</p>"
                + _table(["initialisation", "final accuracy"], rows))

    def continual():
        ct = summary["continual"]
        tasks = results["continual"].get("tasks") or []
        n = max((len(v) for v in ct.values()), default=0)
        header = ["method"] + [f"stage {s}" + (f" ({tasks[s]})" if s < len(tasks) else "") for s in range(n)]
        rows = [[m] + [_fmt_ms(v, True) for v in vs] for m, vs in ct.items()]
        return (_img(out_dir, figs, "continual")
                + "<p class='small'>Final normalised accuracy per stage (0 = value at stage start, 100% = peak "
                  "across methods).</p>" + _table(header, rows))

    def quadrant():
        rows = [[c, _fmt_ms(v, True)] for c, v in summary["quadrant"].items()]
        return _img(out_dir, figs, "quadrant") + _table(["weights+prompt", "pass@1"], rows)

    section("Data efficiency and asymptote", "data_efficiency", data_eff)
    section("Drift: KL to base vs accuracy", "drift", drift)
    section("Forgetting", "forgetting", forgetting)
    section("Plasticity", "plasticity", plasticity)
    section("Continual learning", "continual", continual)
    section("Quadrant decomposition", "quadrant", quadrant)
    parts.append("</body></html>")
    return "\n".join(parts)


# ------------------------------------------------------------------------------------------------------- public --


def write_report(results: dict, out_dir: Path) -> dict:
    """Write ``report.json``, the PNG figures and a self-contained ``report.html`` into ``out_dir``.

    The HTML embeds every figure as a ``data:image/png;base64,`` URI and uses inline CSS only (no external
    resources), so it opens from disk without a server. Returns the summary dict (as written to report.json, i.e.
    JSON-safe: tuples become lists and non-finite floats become None).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    summary, details = _summarise(results)
    with plt.rc_context({"axes.titlesize": 10}):
        figs = _figures(results, summary, details, out_dir, plt)
    summary = _jsonable(summary)
    report = {"summary": summary, "settings": _jsonable(results.get("settings") or {}), "figures": figs,
              "details": _jsonable(details)}
    (out_dir / "report.json").write_text(json.dumps(report, indent=2, allow_nan=False))
    (out_dir / "report.html").write_text(_html(results, summary, figs, out_dir), encoding="utf-8")
    return summary
