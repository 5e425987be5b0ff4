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
import warnings
from collections.abc import Iterable, Sequence

import numpy as np

Curve = Sequence[tuple[float, float]]
# Sigmoid fits with an exponent below this are flat lines (A not identified) and are reported as failed.
DEGENERATE_B = 0.05


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


def sigmoid(x, A: float, B: float, C_mid: float, R0: float):
    """ScaleRL sigmoid (FST Eq. 7): ``R(C) = R0 + (A - R0) / (1 + (C_mid / C)^B)`` for C > 0; R(C <= 0) = R0."""
    c = np.asarray(x, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        expo = np.clip(B * (np.log(C_mid) - np.log(np.where(c > 0, c, 1.0))), -700.0, 700.0)
        val = R0 + (A - R0) / (1.0 + np.exp(expo))
    return np.where(c > 0, val, R0)


def fit_sigmoid(x: Sequence[float], y: Sequence[float], r0: float | None = None,
                window: tuple[float, float] | None = None, origin: float | None = None) -> dict:
    """Fit the ScaleRL saturating curve ``R - R0 = (A - R0) / (1 + (C_mid / C)^B)`` (paper section 5.2, ref section 9).

    * C is x (training step); only points with ``x > 0`` enter the fit (``x <= 0`` is undefined in the formula).
    * ``R0`` is fixed, not fitted: by default the y at the smallest x (the step-0 value when step 0 was evaluated).
    * ``window=(lo, hi)`` keeps only points with ``lo <= x <= hi`` (e.g. to exclude an early noisy regime or to
      match the paper's fit windows); the reported ``window`` is the x range actually requested/used.
    * Bounds: A in [R0, 1], B in (0, 10], C_mid in (0, 10 * max x]. Least squares via
      ``scipy.optimize.curve_fit`` (TRF with bounds) from a few starting points; the lowest-SSE fit is kept.
    * Never raises. With fewer than 3 points, R0 >= 1, if every fit fails, or if the fit is degenerate
      (every start converged to B < ``DEGENERATE_B``: the fitted curve is flat and A is not determined): ``ok``
      False, ``A = max(y)`` (the best observed value, not a fitted asymptote), B and C_mid None, and ``message``
      says why.
    * ``identified`` is False (with ``ok`` True) when A sits at its upper bound 1 or C_mid at 10 * max x: the
      curve has not begun to saturate in the window, so A is an extrapolation fixed by the bounds. ``at_bound``
      lists the parameters at a bound.
    * ``origin=x0`` (warm-up exclusion, as ScaleRL): C counts steps since x0 (``C = x - x0``), R0 is the y at the
      largest x <= x0, and only points after x0 are fitted.

    :func:`check_fit` applies the stricter acceptance rule the report uses (``accepted``).

    Returns ``{"A", "B", "C_mid", "R0", "window", "n_points", "ok", "identified", "at_bound", "message", "sse",
    "origin"}``.
    """
    from scipy.optimize import OptimizeWarning, curve_fit

    pts = _clean_curve(zip(x, y))
    out = {"A": None, "B": None, "C_mid": None, "R0": None, "window": None, "n_points": 0, "ok": False,
           "identified": False, "at_bound": [], "message": "", "sse": None, "origin": origin}
    if not pts:
        out["message"] = "no finite points"
        return out
    if origin is not None:
        before = [b for a, b in pts if a <= origin]
        R0 = float(before[-1] if before else pts[0][1]) if r0 is None else float(r0)
        pts = [(a - origin, b) for a, b in pts if a > origin]
        if window is not None:
            window = (window[0] - origin, window[1] - origin)
        if not pts:
            out.update(R0=R0, message="no points after the origin")
            return out
    else:
        R0 = float(pts[0][1]) if r0 is None else float(r0)
    out["R0"] = R0
    fit_pts = [(a, b) for a, b in pts if a > 0 and (window is None or window[0] <= a <= window[1])]
    out["n_points"] = len(fit_pts)
    if window is not None:
        out["window"] = (float(window[0]), float(window[1]))
    elif fit_pts:
        out["window"] = (fit_pts[0][0], fit_pts[-1][0])
    fallback_A = max(b for _, b in (fit_pts or pts))

    def fail(msg: str) -> dict:
        out.update(A=fallback_A, ok=False, message=f"{msg}; A = max(y) = {fallback_A:.4g} (not a fit)")
        return out

    if len(fit_pts) < 3:
        return fail(f"only {len(fit_pts)} points with x > 0 in the window (need >= 3)")
    if R0 >= 1.0:
        return fail(f"R0 = {R0:.4g} >= 1 leaves no room for A in [R0, 1]")
    xs = np.array([a for a, _ in fit_pts])
    ys = np.array([b for _, b in fit_pts])
    xmax = float(xs.max())
    lower = [R0, 1e-6, 1e-6 * xmax]
    upper = [1.0, 10.0, 10.0 * xmax]

    def model(c, A, B, C_mid):
        return sigmoid(c, A, B, C_mid, R0)

    def inside(v, lo, hi):
        span = hi - lo
        return float(min(max(v, lo + 1e-6 * span), hi - 1e-6 * span))

    A0 = inside(float(ys.max()), lower[0], upper[0])
    best, last_error = None, ""
    for B0 in (1.0, 3.0):
        for q in (0.25, 0.5, 0.75):
            p0 = [A0, B0, inside(float(np.quantile(xs, q)), lower[2], upper[2])]
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", OptimizeWarning)
                    warnings.simplefilter("ignore", RuntimeWarning)
                    popt, _ = curve_fit(model, xs, ys, p0=p0, bounds=(lower, upper), maxfev=5000)
            except Exception as e:  # noqa: BLE001 - any failure means "this start did not converge"
                last_error = f"{type(e).__name__}: {e}"
                continue
            sse = float(np.sum((model(xs, *popt) - ys) ** 2))
            if not (np.all(np.isfinite(popt)) and math.isfinite(sse)):
                continue
            # prefer non-degenerate fits (B >= DEGENERATE_B), then the lowest SSE
            key = (bool(popt[1] < DEGENERATE_B), sse)
            if best is None or key < best[2]:
                best = (popt, sse, key)
    if best is None:
        return fail(f"curve_fit did not converge from any starting point ({last_error or 'non-finite result'})")
    (A, B, C_mid), sse, _ = best
    if B < DEGENERATE_B:
        # (C_mid / C)^B ~ 1 everywhere: a flat line at R0 + (A - R0) / 2, so A is not determined by the data
        return fail(f"degenerate fit (B = {B:.2g} < {DEGENERATE_B}: the data show no saturating rise)")
    at_bound = []
    if A >= 1.0 - 1e-3:
        at_bound.append("A_upper")
    if A <= R0 + 1e-3 * max(1e-9, 1.0 - R0):
        at_bound.append("A_lower")
    if C_mid >= 0.999 * upper[2]:
        at_bound.append("C_mid_upper")
    if C_mid <= 1.001 * lower[2]:
        at_bound.append("C_mid_lower")
    if B >= 10.0 - 1e-3:
        at_bound.append("B_upper")
    identified = not ({"A_upper", "C_mid_upper"} & set(at_bound))
    out.update(A=float(A), B=float(B), C_mid=float(C_mid), ok=True, sse=sse, at_bound=at_bound,
               identified=identified, message=f"fit on {len(fit_pts)} points, SSE {sse:.3g}")
    if not identified:
        out["message"] += (f" ({', '.join(at_bound)} at its bound: the curve has not started to saturate in the "
                           "window, A is an extrapolation pinned by the bounds)")
    return out

# A fit is accepted only if its A lies within this of an unconstrained scipy curve_fit on the same points.
FIT_CHECK_TOL = 0.02


def smoothed_max(ys: Sequence[float], width: int = 3) -> float | None:
    """Max of the centred moving average (``width`` points, fewer at the ends): the observed maximum with one
    noisy evaluation smoothed out."""
    ys = [float(v) for v in ys]
    if not ys:
        return None
    h = width // 2
    return max(float(np.mean(ys[max(0, i - h): i + h + 1])) for i in range(len(ys)))


def check_fit(x: Sequence[float], y: Sequence[float], fit: dict) -> dict:
    """Accept or reject a :func:`fit_sigmoid` result by the rule the report states (``fit`` gains ``accepted``,
    ``failures`` and ``check``):

    1. the fit converged and is not degenerate (``ok``);
    2. no parameter at a bound (A at R0 or 1, B at 10, C_mid at either end): a pinned parameter means the data do
       not determine it;
    3. the midpoint lies inside the data (``C_mid`` >= the first fitted x): a rise completed before the first
       point is a step function, not a measured saturation;
    4. A is not below the observed maximum (the max of the 3-point moving average of the fitted points): an
       asymptote under what the run already reached is not an asymptote;
    5. an independent, unconstrained ``scipy.optimize.curve_fit`` (plain Levenberg-Marquardt from p0 = (max y, 1,
       median x)) on the same points converges to an A within FIT_CHECK_TOL of ours.
    """
    from scipy.optimize import curve_fit

    fit = dict(fit)
    failures = []
    if not fit.get("ok"):
        failures.append("fit failed: " + (fit.get("message") or "no fit"))
    pts = _clean_curve(zip(x, y))
    origin = fit.get("origin")
    if origin is not None:
        pts = [(a - origin, b) for a, b in pts if a > origin]
    else:
        pts = [(a, b) for a, b in pts if a > 0]
    if fit.get("window"):
        lo, hi = fit["window"]
        pts = [(a, b) for a, b in pts if lo <= a <= hi]
    check = {"A": None, "converged": False, "agrees": False, "message": ""}
    if fit.get("ok") and len(pts) >= 3:
        xs = np.array([a for a, _ in pts])
        ys = np.array([b for _, b in pts])
        R0 = fit["R0"]
        if fit["at_bound"]:
            failures.append("parameter at its bound: " + ", ".join(fit["at_bound"]))
        if fit["C_mid"] < xs.min():
            failures.append(f"midpoint C_mid = {fit['C_mid']:.3g} before the first fitted point ({xs.min():g}): "
                            "a step, not a measured rise")
        top = smoothed_max(list(ys))
        if fit["A"] < top - 1e-9:
            failures.append(f"A = {fit['A']:.3f} below the observed maximum {top:.3f} (3-point moving average)")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                popt, _ = curve_fit(lambda c, A, B, C_mid: sigmoid(c, A, B, abs(C_mid) + 1e-12, R0), xs, ys,
                                    p0=[float(ys.max()), 1.0, float(np.median(xs))], maxfev=20000)
            if np.all(np.isfinite(popt)):
                check.update(A=float(popt[0]), converged=True)
                check["agrees"] = abs(popt[0] - fit["A"]) <= FIT_CHECK_TOL
                check["message"] = f"unconstrained curve_fit A = {popt[0]:.3f}"
        except Exception as e:  # noqa: BLE001 - a failed check is reported, not raised
            check["message"] = f"unconstrained curve_fit failed: {type(e).__name__}"
        if not check["agrees"]:
            failures.append("not confirmed by an unconstrained curve_fit (" + (check["message"] or "no result")
                            + ")")
    fit.update(accepted=not failures, failures=failures, check=check)
    return fit



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
