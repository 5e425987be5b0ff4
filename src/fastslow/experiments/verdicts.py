"""The verdict vocabulary and the rule that turns per-seed evidence into one of four words (pure data, no torch).

Each claim (one file under ``experiments/sections/``) turns its results into one number per seed, ``d_i``, signed
so that ``d_i > 0`` supports the paper. A number may be *censored* -- ``(value, "lower")`` when the truth is at least
``value``, ``(value, "upper")`` when it is at most ``value`` -- or ``None`` when undetermined (a failed fit, say).
:func:`verdict` reads censored values by the side they bound.

Before any of that, a claim may need a **precondition** of the setting it is measured in (KL at matched reward
needs an RL arm that improved; plasticity of RL-init needs RL weights that moved). :func:`gate` keeps the seeds
where it holds and answers **not testable here** when fewer than two do: a comparison with an arm that never
learned says nothing about the paper's mechanism.
"""

from __future__ import annotations

import math

import numpy as np

from fastslow.experiments.analysis import mean_std

REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE = "reproduced", "not reproduced", "inconclusive"
NOT_TESTABLE, NOT_RUN = "not testable here", "not run"
VERDICTS = (REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE, NOT_TESTABLE)  # the four words a measured claim can get

GENERAL_RULE = (
    "Each claim becomes one number per seed, d_i, signed so that d_i > 0 supports the paper. A d_i may be "
    "censored: a lower bound (the truth is at least d_i) or an upper bound (at most d_i). A seed supports the "
    "claim if d_i > 0 (exact or lower bound), opposes it if d_i <= 0 (exact or upper bound), and is "
    "undetermined otherwise (a lower bound <= 0, an upper bound > 0, a failed fit). With m = mean(d) and s = "
    "sample std(d) over seeds: 'reproduced' if n >= 2, every seed supports it and m > s; 'not reproduced' if "
    "n >= 2, every seed opposes it and m <= -s (or all d_i are exactly zero); otherwise 'inconclusive'. A claim "
    "with a precondition is judged on the seeds where the precondition holds, and is 'not testable here' when it "
    "holds in fewer than 2 seeds (in none, for a one-seed run). Verdicts are about direction and consistency, "
    "not the paper's magnitudes."
)


def _value(d) -> float | None:
    if d is None:
        return None
    v = float(d[0]) if isinstance(d, (tuple, list)) else float(d)
    return v if math.isfinite(v) else None


def _side(d, censored_support: bool = True) -> str:
    """'for', 'against' or 'unknown' for one seed's evidence. ``censored_support=False``: a lower bound never
    supports (a censored bound alone must not make a claim reproduced)."""
    v = _value(d)
    if v is None:
        return "unknown"
    bound = d[1] if isinstance(d, (tuple, list)) else "exact"
    if v > 0 and (bound == "exact" or (bound == "lower" and censored_support)):
        return "for"
    if v <= 0 and bound in ("exact", "upper"):
        return "against"
    return "unknown"


def verdict(diffs: list, censored_support: bool = True) -> tuple[str, str]:
    """Apply :data:`GENERAL_RULE` to per-seed evidence (positive = supports the claim). Returns (verdict, why)."""
    if not diffs:
        return INCONCLUSIVE, "no seeds"
    sides = [_side(d, censored_support) for d in diffs]
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


def combine(*verdicts: tuple[str, str]) -> tuple[str, str]:
    vs = [v for v, _ in verdicts]
    why = "; ".join(w for _, w in verdicts)
    if NOT_REPRODUCED in vs:
        return NOT_REPRODUCED, why
    if all(v == REPRODUCED for v in vs):
        return REPRODUCED, why
    return INCONCLUSIVE, why


def gate(diffs: list, holds: list[bool] | None, needs: str, **kw) -> tuple[str, str, list]:
    """The verdict on the seeds where the precondition ``needs`` holds (``holds[i]`` per seed; None: the claim has
    no precondition). Returns (verdict, why, the evidence kept)."""
    if holds is None:
        return (*verdict(diffs, **kw), diffs)
    kept = [d for d, ok in zip(diffs, holds) if ok]
    need = min(2, len(diffs))  # a one-seed smoke run is judged "inconclusive" by the rule itself, not here
    if len(kept) < need or not kept:
        return NOT_TESTABLE, f"precondition ({needs}) holds in {len(kept)}/{len(diffs)} seeds (need {need})", kept
    v, why = verdict(kept, **kw)
    dropped = len(diffs) - len(kept)
    return v, why + (f"; {dropped} seed(s) without the precondition left out" if dropped else ""), kept


# ------------------------------------------------------------------------------------------------ shared helpers --


def curve_of(c) -> list[tuple[float, float]]:
    return [(float(x), float(y)) for x, y in c]


def final_level(curve, at: float | None = None) -> float | None:
    """Mean of the last two evaluations at x <= ``at`` (one evaluation is noisy); ``at`` None: the whole curve."""
    pts = [y for x, y in sorted(curve_of(curve)) if at is None or x <= at]
    return float(np.mean(pts[-2:])) if pts else None


def seed_label(results: dict, i: int):
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
