"""Preconditions a claim needs from the setting it is measured in, measured per seed from the results.

Speedup, KL at matched reward and forgetting compare FST with RL: the comparison tests the paper's mechanism only
where the RL arm learned something (``rl_improved``). Plasticity of an RL-initialised model is only a question where
RL's weights moved (``rl_moved``). A claim whose precondition holds in fewer than two seeds is "not testable here"
(:func:`fastslow.experiments.verdicts.gate`).
"""

from __future__ import annotations

from fastslow.experiments.verdicts import curve_of, final_level

# RL "improved": its final validation accuracy (mean of the last two evaluations) is at least this above its first
# evaluation: the same 10 points the "rl-learns" setting declares (experiments/settings.py).
RL_GAIN_MIN = 0.10
# RL's weights "moved": its final token-level KL to the base (seed-prompt context) is above this. An RL arm without
# reward never updates and measures exactly 0.0; a learning one is at 1e-2 or more.
KL_MOVED = 1e-3

NEEDS = {"rl_improved": f"an RL arm that improved (>= {100 * RL_GAIN_MIN:.0f} points of validation accuracy)",
         "rl_moved": f"RL weights that moved (final KL to the base > {KL_MOVED:g})",
         "rl_learns_stream": f"an RL arm that learns a later stage of the stream (>= {100 * RL_GAIN_MIN:.0f} points "
                             "within a stage)"}


def _enough(holds: list[bool]) -> bool:
    """Holds in at least 2 seeds (in the one seed of a one-seed run): the rule of ``verdicts.gate``."""
    return bool(holds) and sum(holds) >= min(2, len(holds))


def rl_gain(curve) -> float | None:
    """Final level (mean of the last two evaluations) minus the first evaluation."""
    c = sorted(curve_of(curve))
    if len(c) < 2:
        return None
    return final_level(c) - c[0][1]


def measure(results: dict) -> dict:
    """{"rl_improved": {"needs", "per_seed": [gain], "holds": [bool], "met"}, "rl_moved": {...}}; an entry's
    ``holds`` is None when the results lack what it needs."""
    out = {}
    rl = ((results.get("data_efficiency") or {}).get("curves") or {}).get("rl")
    gains = [rl_gain(c) for c in rl] if rl else None
    holds = None if gains is None else [g is not None and g >= RL_GAIN_MIN for g in gains]
    out["rl_improved"] = {"needs": NEEDS["rl_improved"], "per_seed": gains, "holds": holds,
                          "met": None if holds is None else _enough(holds)}
    kl = ((results.get("drift") or {}).get("points") or {}).get("rl")
    finals = [curve_of(c)[-1][0] if len(c) else None for c in kl] if kl else None
    holds = None if finals is None else [k is not None and k > KL_MOVED for k in finals]
    out["rl_moved"] = {"needs": NEEDS["rl_moved"], "per_seed": finals, "holds": holds,
                       "met": None if holds is None else _enough(holds)}
    out["rl_learns_stream"] = _stream(results)
    return out


def _stream(results: dict) -> dict:
    """Per seed, RL's best gain within a stage after the first (last in-stage value minus the value at the stage's
    start, on the stage's own task)."""
    from fastslow.experiments.analysis import normalise_stages
    from fastslow.experiments.sections.continual import stitched

    ct = results.get("continual") or {}
    rl = (ct.get("curves") or {}).get("rl")
    entry = {"needs": NEEDS["rl_learns_stream"], "per_seed": None, "holds": None, "met": None}
    if not rl:
        return entry
    bounds = [tuple(b) for b in ct.get("stage_bounds") or []]
    gains = []
    for seed_curve in rl:
        stages = normalise_stages({"rl": stitched(seed_curve, list(ct.get("tasks") or []), bounds)}, bounds)["rl"]
        later = [st["points"][-1][1] - st["start_value"] for st in stages[1:]
                 if st["points"] and st["start_value"] is not None]
        gains.append(max(later) if later else None)
    holds = [g is not None and g >= RL_GAIN_MIN for g in gains]
    entry.update(per_seed=gains, holds=holds, met=_enough(holds))
    return entry


def describe(pre: dict, pct: bool) -> str:
    """'+12.0 / +3.1 / +15.2 points' (gains) or '0.031 / 0 / 0.04' (KL), per seed."""
    vals = pre.get("per_seed") or []
    if pct:
        return " / ".join("n/a" if v is None else f"{100 * v:+.1f}" for v in vals) + " points"
    return " / ".join("n/a" if v is None else f"{v:.3g}" for v in vals)
