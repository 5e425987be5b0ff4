"""ScaleRL sigmoid fits and the report's acceptance rule for them (numpy/scipy only, no torch).

Split from :mod:`analysis` (same conventions: curves are ``(x, y)`` pairs, accuracies fractions in [0, 1]; nothing
raises on degenerate input from a real run). The fit (paper section 5.2, ref section 9) and its acceptance checks
live together because the checks read the fit's internals (bounds, window, origin).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np

from fastslow.experiments.analysis import _clean_curve

# Sigmoid fits with an exponent below this are flat lines (A not identified) and are reported as failed.
DEGENERATE_B = 0.05


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
