"""Pure analysis functions for the FST evaluation (numpy/scipy only, no torch).

Conventions shared by every function here:

* A *curve* is a sequence of ``(x, y)`` pairs: ``x`` is a training step (or a rollout count), ``y`` a validation
  accuracy given as a **fraction in [0, 1]** (not a percentage).
* A *point* for the drift analysis is a ``(kl, reward)`` pair from one checkpoint evaluation.
* Nothing here raises on degenerate input that can occur in a real run (an empty curve, a failed fit, ranges that
  don't overlap); the result says so instead, through ``None`` values, an ``ok`` flag and a ``note``/``message``.

The definitions follow ``docs/fst-method.md``: section 4.6 and 5.1 (running max, speedup), 5.2 and 9 (ScaleRL
sigmoid), 5.3 and 6 (KL at matched reward), 5.5 (per-stage normalisation).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np

Curve = Sequence[tuple[float, float]]

def _clean_curve(curve: Iterable) -> list[tuple[float, float]]:
    """Pairs as floats, non-finite pairs dropped, stably sorted by x."""
    out = []
    for x, y in curve:
        x, y = float(x), float(y)
        if math.isfinite(x) and math.isfinite(y):
            out.append((x, y))
    out.sort(key=lambda p: p[0])
    return out


def running_max(values: Iterable[float]) -> list[float]:
    """Running maximum: ``out[i] = max(values[0..i])``.

    This is how the paper plots in-distribution validation curves (section 4.6). NaN values are skipped: they repeat
    the previous maximum (and stay NaN until a first non-NaN value is seen).
    """
    out: list[float] = []
    best = math.nan
    for v in values:
        v = float(v)
        if not math.isnan(v) and (math.isnan(best) or v > best):
            best = v
        out.append(best)
    return out


def steps_to_reach(curve: Curve, level: float) -> float | None:
    """First x at which the curve's y is ``>= level``; ``None`` if it never gets there.

    The curve is a list of ``(x, y)`` pairs sorted by x (it is sorted again here, stably, to be safe). No
    interpolation between evaluations: the answer is always one of the evaluated x values. Since the running max
    first reaches ``level`` at the same x as the raw curve, this is also the crossing step of the running-max curve.
    """
    for x, y in _clean_curve(curve):
        if y >= level:
            return x
    return None


def speedup_to_peak(rl_curve: Curve, fst_curve: Curve) -> dict:
    """Speedup of FST over RL to RL's running peak (paper section 4.6 / 5.1).

    Definitions:

    * ``rl_peak``  = max y of the RL curve (the final value of its running max);
    * ``rl_steps`` = first x at which RL reaches ``rl_peak`` (where its running max attains the peak);
    * ``fst_steps`` = first x at which FST reaches ``rl_peak`` (``y >= rl_peak``, no interpolation);
    * ``speedup`` = ``rl_steps / fst_steps``.

    Special cases (explained in ``note``):

    * FST never reaches ``rl_peak``: ``speedup`` is None and ``reached`` is False. ``fst_last_x`` (how long FST was
      evaluated) lets a caller tell "slower" (FST ran at least ``rl_steps``) from "not run long enough".
    * FST reaches it at x == 0, i.e. before any training step: ``speedup`` is None, note "reached at step 0 (before
      any RL step)"; a ratio with 0 steps has no meaning (RL never improved on FST's starting point).
    * RL's peak is at x == 0 (RL never improved on its start): speedup is 0.0 if FST needs > 0 steps; noted.
    * Empty RL curve: everything None, ``reached`` False.
    """
    rl = _clean_curve(rl_curve)
    fst = _clean_curve(fst_curve)
    out = {"rl_peak": None, "rl_steps": None, "fst_steps": None, "speedup": None, "reached": False,
           "fst_last_x": fst[-1][0] if fst else None, "rl_last_x": rl[-1][0] if rl else None, "note": ""}
    if not rl:
        out["note"] = "empty RL curve"
        return out
    rl_peak = max(y for _, y in rl)
    rl_steps = steps_to_reach(rl, rl_peak)
    fst_steps = steps_to_reach(fst, rl_peak)
    out.update(rl_peak=rl_peak, rl_steps=rl_steps, fst_steps=fst_steps)
    if fst_steps is None:
        out["note"] = (f"FST never reached the RL peak {rl_peak:.4g} (evaluated up to x={out['fst_last_x']})"
                       if fst else "empty FST curve")
        return out
    out["reached"] = True
    if fst_steps <= 0:
        out["note"] = "reached at step 0 (before any RL step)"
        return out
    out["speedup"] = rl_steps / fst_steps
    if rl_steps <= 0:
        out["note"] = "RL's peak is its step-0 value (RL never improved); speedup 0"
    return out



def _kl_needed(points: list[tuple[float, float]], level: float) -> float | None:
    """Lower envelope: min KL over points whose reward is >= level (None if no point gets there)."""
    kls = [kl for kl, r in points if r >= level]
    return min(kls) if kls else None


def kl_reduction_at_matched_reward(rl_points: Iterable, fst_points: Iterable, n_levels: int = 20) -> dict:
    """How much less KL to the base FST needs than RL for the same validation reward (paper section 5.3 and 6).

    Each argument is a list of ``(kl, reward)`` pairs, one per evaluated checkpoint (several seeds may be pooled).
    Each method's curve is made monotone by a lower envelope: ``kl_needed(r) = min KL over its points with
    reward >= r`` (the least drift at which the method has reached at least ``r``). Matched rewards are
    ``n_levels`` evenly spaced levels between ``lo`` = the higher of the two methods' minimum rewards and ``hi`` =
    the lower of their maximum rewards (one level if lo == hi). At each level, ``reduction = 1 - kl_fst(r) /
    kl_rl(r)``; levels where ``kl_rl(r) <= 1e-9`` are skipped (the ratio is meaningless when RL has not drifted).
    A reduction of 0.7 means "70% less KL"; negative values mean FST needs more KL.

    Returns ``{"levels", "reductions", "mean_reduction", "max_reduction", "matched_range", "ok", "note"}``; ``ok``
    is False (with a note) when the reward ranges don't overlap or no level is usable.
    """
    rl = _clean_curve(rl_points)  # (kl, reward) pairs
    fst = _clean_curve(fst_points)
    out = {"levels": [], "reductions": [], "mean_reduction": None, "max_reduction": None, "matched_range": None,
           "ok": False, "note": ""}
    if not rl or not fst:
        out["note"] = "no points for " + ("RL" if not rl else "FST")
        return out
    lo = max(min(r for _, r in rl), min(r for _, r in fst))
    hi = min(max(r for _, r in rl), max(r for _, r in fst))
    out["matched_range"] = (lo, hi)
    if lo > hi:
        out["note"] = f"reward ranges do not overlap (higher minimum {lo:.4g} > lower maximum {hi:.4g})"
        return out
    grid = [lo] if hi - lo <= 1e-12 else [float(v) for v in np.linspace(lo, hi, max(int(n_levels), 2))]
    skipped = 0
    for level in grid:
        k_rl, k_fst = _kl_needed(rl, level), _kl_needed(fst, level)
        if k_rl is None or k_fst is None or k_rl <= 1e-9:
            skipped += 1
            continue
        out["levels"].append(level)
        out["reductions"].append(1.0 - k_fst / k_rl)
    if not out["reductions"]:
        out["note"] = "no usable reward level (RL's KL is ~0 at every matched level)"
        return out
    out["mean_reduction"] = float(np.mean(out["reductions"]))
    out["max_reduction"] = float(np.max(out["reductions"]))
    out["ok"] = True
    if skipped:
        out["note"] = f"{skipped} level(s) skipped where RL's KL <= 1e-9"
    return out


def _value_at(curve: list[tuple[float, float]], x0: float) -> float | None:
    """y at the largest x <= x0 (None if the curve starts after x0)."""
    val = None
    for x, y in curve:
        if x <= x0:
            val = y
        else:
            break
    return val


def _stage_points(curve: list[tuple[float, float]], start: float, end: float) -> list[tuple[float, float]]:
    """Points with start < x <= end; of several points at x == end only the first (the end of this stage)."""
    out = []
    for k, (x, y) in enumerate(curve):
        if start < x < end or (x == end and (k == 0 or curve[k - 1][0] != end)):
            out.append((x, y))
    return out


def normalise_stages(curves_by_method: dict[str, Curve], stage_bounds: Sequence[tuple[int, int]]) -> dict:
    """Per-stage normalisation of continual-learning curves (paper section 5.5).

    For stage ``s`` spanning ``[start, end)`` training steps (its evaluations are the points with
    ``start < x <= end``: the evaluation at ``end`` is the one taken after the stage's last step):

    * each method's ``start_value`` = its y at the largest ``x <= start`` (if it has none, its first point in the
      stage is used and the entry gets a ``note``);
    * boundary convention: a curve may hold two points at a boundary x (the evaluation after the last step of a
      stage measured on the old task, then the same checkpoint measured on the new task). Of points sharing an x
      (kept in input order), the **first** is the end of the earlier stage and the **last** is the start value of
      the next stage;
    * ``peak`` = max y over **all** methods' points in ``(start, end]``;
    * normalised ``ny = (y - start_value) / (peak - start_value)``, so 0 = the method's value at stage start and
      1 = the best value any method reached in the stage. If ``peak <= start_value`` (nobody improved on this
      method's start) ``ny`` is 0 for every point and a note says so.

    Returns ``{method: [{"stage", "start", "end", "start_value", "peak", "final_normalised", "max_normalised",
    "curve": [(x, ny), ...], "points": [(x, y), ...], "note"}, ...]}`` with one entry per stage (``points`` are the
    raw in-stage points); ``final_normalised`` is the last point of
    the stage and ``max_normalised`` the best; both None when the method has no point in the stage.
    """
    curves = {m: _clean_curve(c) for m, c in curves_by_method.items()}
    out: dict[str, list[dict]] = {m: [] for m in curves}
    for s, (start, end) in enumerate(stage_bounds):
        inside = {m: _stage_points(c, start, end) for m, c in curves.items()}
        all_y = [y for pts in inside.values() for _, y in pts]
        peak = max(all_y) if all_y else None
        for m, c in curves.items():
            pts = inside[m]
            entry = {"stage": s, "start": start, "end": end, "start_value": None, "peak": peak,
                     "final_normalised": None, "max_normalised": None, "curve": [], "points": pts, "note": ""}
            start_value = _value_at(c, start)
            if start_value is None and pts:
                start_value = pts[0][1]
                entry["note"] = "no evaluation at or before stage start; first in-stage point used as start value"
            entry["start_value"] = start_value
            if pts and start_value is not None:
                denom = peak - start_value
                if denom <= 0:
                    entry["note"] = (entry["note"] + "; " if entry["note"] else "") + \
                        "peak <= start value (no method improved on it): normalised to 0"
                    ny = [(x, 0.0) for x, _ in pts]
                else:
                    ny = [(x, (y - start_value) / denom) for x, y in pts]
                entry["curve"] = ny
                entry["final_normalised"] = ny[-1][1]
                entry["max_normalised"] = max(v for _, v in ny)
            out[m].append(entry)
    return out


def mean_std(values: Iterable[float]) -> dict:
    """Mean and spread over seeds: ``{"mean", "std", "n", "values"}``.

    ``std`` is the **sample** standard deviation (ddof=1) when n > 1, and 0.0 when n == 1 (one seed has no measured
    spread; callers must not read it as "no variance"). With n == 0, mean and std are None. None and non-finite
    values are dropped before computing (and don't count in n).
    """
    vals = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    n = len(vals)
    if n == 0:
        return {"mean": None, "std": None, "n": 0, "values": []}
    arr = np.asarray(vals)
    std = float(arr.std(ddof=1)) if n > 1 else 0.0
    return {"mean": float(arr.mean()), "std": std, "n": n, "values": vals}


# A running max that gains less than this over the last third of a run has plateaued (accuracy fraction).
PLATEAU_TOL = 0.03
# An RL curve whose peak is less than this above its start never improved (the speedup is then censored).
MIN_GAIN = 0.02


def plateau(curve: Curve, tail: float = 1 / 3, tol: float = PLATEAU_TOL) -> dict:
    """Has a curve stopped rising? ``gain`` = the running max at the end minus the running max at the start of
    the last ``tail`` of the x range; plateaued when ``gain <= tol``."""
    pts = _clean_curve(curve)
    if len(pts) < 2:
        return {"plateaued": False, "gain": None, "from_x": None, "note": "fewer than 2 points"}
    x0, x1 = pts[0][0], pts[-1][0]
    cut = x1 - tail * (x1 - x0)
    rm = running_max([y for _, y in pts])
    at_cut = max((r for (x, _), r in zip(pts, rm) if x <= cut), default=rm[0])
    gain = rm[-1] - at_cut
    return {"plateaued": gain <= tol, "gain": gain, "from_x": cut, "note": ""}


def censored_speedup(rl_curve: Curve, fst_curve: Curve, min_gain: float = MIN_GAIN) -> dict:
    """The paper's speedup (RL's steps to its running peak / FST's steps to first reach it), with censoring made
    explicit (``bound``: "exact" on the evaluation grid, "lower" = the true speedup is at least ``speedup``,
    "upper" = at most; None = undetermined):

    * FST first reaches the level at its first evaluation after step 0: it may have got there earlier, so the
      speedup is a lower bound (a structural bound set by the evaluation cadence);
    * RL never improved (peak < start + ``min_gain``): the level becomes RL's peak + ``min_gain``; RL did not
      reach it within its run (right-censored at its last step), so ``speedup = rl_last_x / fst_steps`` is a
      lower bound;
    * FST never reaches the level although it ran at least ``rl_steps``: ``rl_steps / fst_last_x``, an upper
      bound; otherwise undetermined;
    * FST is already there at step 0: undetermined.

    ``rl_plateau`` says whether RL's curve had plateaued (:func:`plateau`): if not, RL's peak is the peak within
    its step cap, and the report says so.
    """
    rl, fst = _clean_curve(rl_curve), _clean_curve(fst_curve)
    out = {"level": None, "rl_peak": None, "rl_steps": None, "fst_steps": None, "speedup": None, "bound": None,
           "rl_improved": None, "rl_plateau": plateau(rl), "fst_first_x": None,
           "rl_last_x": rl[-1][0] if rl else None, "fst_last_x": fst[-1][0] if fst else None, "note": ""}
    if not rl or not fst:
        out["note"] = "empty curve"
        return out
    positive = [x for x, _ in fst if x > 0]
    out["fst_first_x"] = positive[0] if positive else None
    rl_start, rl_peak = rl[0][1], max(y for _, y in rl)
    out["rl_peak"] = rl_peak
    improved = rl_peak >= rl_start + min_gain
    out["rl_improved"] = improved
    level = rl_peak if improved else rl_peak + min_gain
    out["level"] = level
    rl_steps = steps_to_reach(rl, level) if improved else None
    fst_steps = steps_to_reach(fst, level)
    out.update(rl_steps=rl_steps, fst_steps=fst_steps)
    if fst_steps is None:
        if improved and out["fst_last_x"] >= rl_steps > 0:
            out.update(speedup=rl_steps / out["fst_last_x"], bound="upper",
                       note=f"FST never reached RL's peak {rl_peak:.3f}: at most {rl_steps:g}/{out['fst_last_x']:g}")
        else:
            out["note"] = "FST never reached the level and did not run long enough to bound the speedup"
        return out
    if fst_steps <= 0:
        out["note"] = "FST was at the level at step 0 (before any training): undetermined"
        return out
    rl_x = rl_steps if improved else out["rl_last_x"]
    if not rl_x or rl_x <= 0:
        out["note"] = "RL's peak is its step-0 value: undetermined"
        return out
    out["speedup"] = rl_x / fst_steps
    lower = (not improved) or fst_steps == out["fst_first_x"]
    out["bound"] = "lower" if lower else "exact"
    notes = []
    if not improved:
        notes.append(f"RL never rose {min_gain:.2f} above its start in {out['rl_last_x']:g} steps "
                     "(censored at its last step)")
    if fst_steps == out["fst_first_x"]:
        notes.append(f"FST was there at its first evaluation (step {fst_steps:g})")
    if improved and not out["rl_plateau"]["plateaued"]:
        notes.append("RL still improving at its last step: its peak is the peak within the step cap")
    out["note"] = "; ".join(notes)
    return out
