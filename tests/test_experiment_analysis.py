"""Hand-computed checks of the pure evaluation functions in fastslow.experiments.analysis."""

import math

import numpy as np
import pytest

from fastslow.experiments.analysis import (
    kl_reduction_at_matched_reward,
    mean_std,
    normalise_stages,
    running_max,
    speedup_to_peak,
    steps_to_reach,
)
from fastslow.experiments.fits import fit_sigmoid, sigmoid


def _flat(curve):
    return [v for point in curve for v in point]


def test_running_max():
    assert running_max([0.1, 0.3, 0.2, 0.5, 0.4]) == [0.1, 0.3, 0.3, 0.5, 0.5]
    assert running_max([]) == []
    out = running_max([float("nan"), 0.2, float("nan"), 0.1])
    assert math.isnan(out[0]) and out[1:] == [0.2, 0.2, 0.2]


def test_steps_to_reach_first_crossing_no_interpolation():
    curve = [(0, 0.1), (50, 0.3), (100, 0.5), (150, 0.2)]
    assert steps_to_reach(curve, 0.3) == 50
    assert steps_to_reach(curve, 0.25) == 50  # no interpolation between 0 and 50
    assert steps_to_reach(curve, 0.1) == 0
    assert steps_to_reach(curve, 0.6) is None
    assert steps_to_reach([], 0.1) is None


def test_speedup_three_x():
    rl = [(0, 0.1), (100, 0.2), (200, 0.3), (300, 0.4), (400, 0.35)]  # peak 0.4 first at 300
    fst = [(0, 0.1), (100, 0.4), (200, 0.5)]  # reaches 0.4 at 100
    r = speedup_to_peak(rl, fst)
    assert r["rl_peak"] == 0.4 and r["rl_steps"] == 300 and r["fst_steps"] == 100
    assert r["speedup"] == pytest.approx(3.0)
    assert r["reached"] is True


def test_speedup_never_reached():
    rl = [(0, 0.1), (100, 0.4)]
    fst = [(0, 0.1), (100, 0.2), (200, 0.39)]
    r = speedup_to_peak(rl, fst)
    assert r["speedup"] is None and r["reached"] is False and r["fst_steps"] is None
    assert r["fst_last_x"] == 200 and "never" in r["note"]


def test_speedup_reached_at_step_zero():
    rl = [(0, 0.1), (100, 0.3)]
    fst = [(0, 0.35), (100, 0.5)]
    r = speedup_to_peak(rl, fst)
    assert r["fst_steps"] == 0 and r["speedup"] is None and r["reached"] is True
    assert "step 0" in r["note"]


def test_fit_sigmoid_recovers_known_parameters():
    A, B, C_mid, R0 = 0.6, 2.0, 300.0, 0.2
    x = np.arange(0, 1550, 50, dtype=float)
    y = sigmoid(x, A, B, C_mid, R0)
    assert y[0] == pytest.approx(R0)
    f = fit_sigmoid(x, y)
    assert f["ok"], f["message"]
    assert f["R0"] == pytest.approx(R0)
    assert f["A"] == pytest.approx(A, abs=1e-3)
    assert f["B"] == pytest.approx(B, rel=1e-2)
    assert f["C_mid"] == pytest.approx(C_mid, rel=1e-2)
    assert f["n_points"] == len(x) - 1  # x = 0 is dropped from the fit


def test_fit_sigmoid_window_and_failures():
    x = np.arange(0, 1550, 50, dtype=float)
    y = sigmoid(x, 0.6, 2.0, 300.0, 0.2)
    f = fit_sigmoid(x, y, window=(100, 1000))
    assert f["n_points"] == 19 and tuple(f["window"]) == (100.0, 1000.0)
    assert f["A"] == pytest.approx(0.6, abs=5e-3)
    few = fit_sigmoid([0, 10, 20], [0.1, 0.2, 0.3])  # only 2 points with x > 0
    assert few["ok"] is False and few["A"] == pytest.approx(0.3) and "max(y)" in few["message"]
    assert fit_sigmoid([], [])["ok"] is False  # never raises


def test_kl_reduction_half():
    rl = [(0.02, 0.1), (0.04, 0.2), (0.08, 0.4)]
    fst = [(0.01, 0.1), (0.02, 0.2), (0.04, 0.4)]
    r = kl_reduction_at_matched_reward(rl, fst)
    assert r["ok"] and len(r["levels"]) == 20
    assert tuple(r["matched_range"]) == (0.1, 0.4)
    assert r["reductions"] == pytest.approx([0.5] * 20)
    assert r["mean_reduction"] == pytest.approx(0.5) and r["max_reduction"] == pytest.approx(0.5)


def test_kl_reduction_uses_lower_envelope():
    # RL's noisy late point (high KL, lower reward) must not count: kl_needed(r) = min KL with reward >= r
    rl = [(0.02, 0.1), (0.08, 0.4), (0.2, 0.3)]
    fst = [(0.01, 0.1), (0.04, 0.4)]
    r = kl_reduction_at_matched_reward(rl, fst)
    assert r["reductions"] == pytest.approx([0.5] * 20)


def test_kl_reduction_non_overlapping_ranges():
    r = kl_reduction_at_matched_reward([(0.01, 0.1), (0.02, 0.2)], [(0.01, 0.3), (0.02, 0.4)])
    assert r["ok"] is False and r["reductions"] == [] and "overlap" in r["note"]


def test_normalise_stages():
    fst = [(0, 0.1), (10, 0.3), (20, 0.5), (30, 0.4), (40, 0.6)]
    rl = [(0, 0.1), (10, 0.2), (20, 0.3), (30, 0.35), (40, 0.4)]
    out = normalise_stages({"fst": fst, "rl": rl}, [(0, 20), (20, 40)])
    f0, f1 = out["fst"]
    r0, r1 = out["rl"]
    # stage 0: start values 0.1, peak 0.5 -> denominator 0.4
    assert _flat(f0["curve"]) == pytest.approx([10, 0.5, 20, 1.0])
    assert f0["final_normalised"] == pytest.approx(1.0) and f0["max_normalised"] == pytest.approx(1.0)
    assert _flat(r0["curve"]) == pytest.approx([10, 0.25, 20, 0.5])
    # stage 1: fst starts at 0.5, rl at 0.3, peak 0.6
    assert f1["start_value"] == 0.5 and r1["start_value"] == 0.3 and f1["peak"] == 0.6
    assert _flat(f1["curve"]) == pytest.approx([30, -1.0, 40, 1.0])
    assert r1["final_normalised"] == pytest.approx(0.1 / 0.3)
    assert r1["max_normalised"] == pytest.approx(0.1 / 0.3)


def test_normalise_stages_flat_peak_is_zero():
    out = normalise_stages({"a": [(0, 0.5), (10, 0.5)]}, [(0, 10)])
    assert out["a"][0]["final_normalised"] == 0.0


def test_mean_std():
    r = mean_std([1.0, 2.0, 3.0])
    assert r["mean"] == 2.0 and r["std"] == pytest.approx(1.0) and r["n"] == 3  # sample std, ddof=1
    assert mean_std([5.0]) == {"mean": 5.0, "std": 0.0, "n": 1, "values": [5.0]}
    assert mean_std([])["mean"] is None
    assert mean_std([1.0, None, float("nan"), 3.0])["n"] == 2


def test_normalise_stages_boundary_duplicates():
    # at x=20 the first point is the end of stage 0 (old task), the second the start of stage 1 (new task)
    c = [(0, 0.1), (10, 0.3), (20, 0.5), (20, 0.1), (30, 0.4), (40, 0.6)]
    out = normalise_stages({"m": c}, [(0, 20), (20, 40)])["m"]
    assert out[0]["final_normalised"] == pytest.approx(1.0) and out[0]["peak"] == 0.5
    assert out[1]["start_value"] == 0.1 and out[1]["peak"] == 0.6
    assert _flat(out[1]["curve"]) == pytest.approx([30, 0.6, 40, 1.0])


def test_fit_sigmoid_flags_unidentified_and_flat_fits():
    x = np.arange(0, 650, 50, dtype=float)
    linear = fit_sigmoid(x, 0.2 + 0.0003 * x)  # no saturation in sight: A is pinned at its bound
    assert linear["ok"] and linear["identified"] is False and "A_upper" in linear["at_bound"]
    flat = fit_sigmoid(x, [0.2] + [0.3] * (len(x) - 1))  # constant after step 0: A not determined
    assert flat["ok"] is False and flat["A"] == pytest.approx(0.3)


def test_check_fit_accepts_a_clean_saturating_curve_and_confirms_it_with_scipy():
    from fastslow.experiments.fits import check_fit

    x = np.arange(0, 650, 50, dtype=float)
    y = sigmoid(x, 0.6, 2.0, 300.0, 0.2)
    f = check_fit(x, y, fit_sigmoid(x, y))
    assert f["accepted"] and f["failures"] == []
    assert f["check"]["converged"] and f["check"]["A"] == pytest.approx(0.6, abs=0.02)


def test_check_fit_rejects_steps_bounds_and_asymptotes_below_the_data():
    from fastslow.experiments.fits import check_fit

    steps = [0, 6, 12, 18, 24, 30]
    jump = [0.0, 0.19, 0.2, 0.18, 0.21, 0.2]  # everything happens before the first evaluation
    f = check_fit(steps, jump, fit_sigmoid(steps, jump))
    assert not f["accepted"] and any("bound" in m or "before the first" in m for m in f["failures"])
    x = np.arange(0, 650, 50, dtype=float)
    linear = 0.2 + 0.0003 * x  # A pinned at 1: rejected, not merely "unidentified"
    f = check_fit(x, linear, fit_sigmoid(x, linear))
    assert not f["accepted"] and any("A_upper" in m for m in f["failures"])
    # a fit whose A lies under what the run already showed (3-point moving average) is rejected
    y = list(sigmoid(x, 0.6, 2.0, 300.0, 0.2))
    fake = {**fit_sigmoid(x, y), "A": 0.5}
    assert any("below the observed maximum" in m for m in check_fit(x, y, fake)["failures"])


def test_fit_origin_excludes_warm_up():
    x = np.arange(0, 130, 10, dtype=float)
    y = np.where(x < 10, 0.0, 0.2 + sigmoid(x - 10, 0.4, 2.0, 40.0, 0.0))  # jump at 10, then a slow rise
    f = fit_sigmoid(x, y, origin=10)
    assert f["R0"] == pytest.approx(0.2) and f["A"] == pytest.approx(0.6, abs=0.01) and f["origin"] == 10


def test_censored_speedup():
    from fastslow.experiments.analysis import censored_speedup, plateau

    # RL rises to 0.6 at step 40 and stays; FST first reaches 0.6 at 20 (not its first evaluation): exact 2x
    rl = [(0, 0.1), (10, 0.3), (20, 0.5), (30, 0.55), (40, 0.6), (50, 0.6), (60, 0.6)]
    fst = [(0, 0.1), (10, 0.4), (20, 0.6), (30, 0.7)]
    r = censored_speedup(rl, fst)
    assert (r["speedup"], r["bound"], r["rl_plateau"]["plateaued"]) == (2.0, "exact", True)
    # FST already there at its first evaluation: a lower bound set by the evaluation cadence
    r = censored_speedup(rl, [(0, 0.1), (10, 0.65)])
    assert (r["speedup"], r["bound"]) == (4.0, "lower")
    # RL never improved in its 120 steps: censored at its last step, lower bound 120 / 10
    flat = [(x, 0.0) for x in range(0, 121, 10)]
    r = censored_speedup(flat, [(0, 0.0), (10, 0.2)])
    assert (r["speedup"], r["bound"], r["rl_improved"]) == (12.0, "lower", False)
    # FST never gets there although it ran as long as RL needed: an upper bound
    r = censored_speedup(rl, [(0, 0.1), (40, 0.3), (60, 0.4)])
    assert (r["speedup"], r["bound"]) == (pytest.approx(40 / 60), "upper")
    assert plateau([(0, 0.1), (10, 0.3), (20, 0.5), (30, 0.7)])["plateaued"] is False
