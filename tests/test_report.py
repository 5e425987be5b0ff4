"""The report writer: summary values on a constructed results dict, and a self-contained HTML page."""

import json
import re

import numpy as np
import pytest

from fastslow.experiments.fits import sigmoid
from fastslow.experiments.report import verdict, write_report
from fastslow.experiments.sections.continual import stitched as _continual_curve

STEPS = list(range(0, 650, 50))


def _sig(A, C_mid, B=3.0, R0=0.2):
    return [(x, float(v)) for x, v in zip(STEPS, sigmoid(np.array(STEPS, float), A, B, C_mid, R0))]


def _data_efficiency(n_seeds=3):
    # RL peaks at its last step (600); FST (C_mid 150) is at 0.40 < RL peak at 150 and >= RL peak at 200 -> 3.0x
    return {
        "seeds": list(range(n_seeds)),
        "curves": {"fst": [_sig(0.6 + 0.01 * i, 150.0) for i in range(n_seeds)],
                   "rl": [_sig(0.45 + 0.01 * i, 200.0) for i in range(n_seeds)],
                   "gepa": [[(x, 0.2 if x == 0 else 0.3) for x in STEPS] for _ in range(n_seeds)]},
        "rollout_curves": {"fst": [[(10 * x, y) for x, y in _sig(0.6, 150.0)]],
                           "rl": [[(8 * x, y) for x, y in _sig(0.45, 200.0)]]},
    }


def _continual_seed(m):
    if m == "fst":
        return [(0, 0.1), (10, 0.3), (20, 0.5), (20, 0.1), (30, 0.4), (40, 0.6), (40, 0.2), (50, 0.5), (60, 0.7)]
    return [(0, 0.1), (10, 0.2), (20, 0.3), (20, 0.1), (30, 0.15), (40, 0.2), (40, 0.2), (50, 0.25), (60, 0.3)]


def _results():
    rl_kl = [(0.0, 0.2), (0.02, 0.3), (0.04, 0.4), (0.08, 0.45)]
    return {
        "settings": {"profile": "test", "seeds": [0, 1, 2], "task": "toy"},
        "data_efficiency": _data_efficiency(),
        "drift": {"points": {"rl": [rl_kl] * 3,
                             "fst": [[(k * f, r) for k, r in rl_kl] for f in (0.5, 0.4, 0.6)]}},
        "forgetting": {"before": 0.8, "after": {"fst": [0.78, 0.79, 0.77], "rl": [0.7, 0.72, 0.68],
                                                "gepa": [0.8, 0.8, 0.8]}},
        "plasticity": {"task": "hover", "curves": {
            "base": [[(0, 0.1), (20, 0.2), (40, 0.3 + 0.01 * i)] for i in range(3)],
            "rl": [[(0, 0.1), (20, 0.0), (40, 0.0)] for _ in range(3)],
            "fst": [[(0, 0.1), (20, 0.2), (40, 0.28 + 0.01 * i)] for i in range(3)]}},
        "continual": {"tasks": ["a", "b", "c"], "stage_bounds": [[0, 20], [20, 40], [40, 60]],
                      "curves": {m: [_continual_seed(m)] * 3 for m in ("fst", "rl")}},
        "quadrant": {"cells": {"base+seed": [0.02, 0.03, 0.01], "base+evolved": [0.1, 0.12, 0.11],
                               "fst+seed": [0.11, 0.1, 0.13], "fst+evolved": [0.2, 0.22, 0.21]}},
    }


def _check_html(path):
    text = path.read_text()
    assert "data:image/png;base64," in text
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*https?://""", text, re.IGNORECASE)
    assert "http://" not in text and "https://" not in text
    return text


def test_verdict_rules():
    assert verdict([1.0, 2.0])[0] == "reproduced"
    assert verdict([-1.0, -2.0])[0] == "not reproduced"
    assert verdict([0.0, 0.0])[0] == "not reproduced"  # no effect at all is not a reproduction
    assert verdict([1.0, -1.0])[0] == "inconclusive"  # seeds disagree
    assert verdict([0.1, 5.0])[0] == "inconclusive"  # mean 2.55 < std 3.46
    assert verdict([1.0])[0] == "inconclusive"  # n < 2
    assert verdict([1.0, None])[0] == "inconclusive"


def test_censored_evidence_counts_only_on_the_side_it_bounds():
    assert verdict([(1.0, "lower"), (2.0, "lower")])[0] == "reproduced"  # at least 1 and 2: supports
    assert "2 censored" in verdict([(1.0, "lower"), (2.0, "lower")])[1]
    assert verdict([(1.0, "upper"), 2.0])[0] == "inconclusive"  # "at most 1" says nothing about the sign
    assert verdict([(-0.5, "upper"), (-0.6, "upper")])[0] == "not reproduced"
    assert verdict([(-0.5, "lower"), -1.0])[0] == "inconclusive"  # "at least -0.5" could still be positive


def test_full_report(tmp_path):
    summary = write_report(_results(), tmp_path)
    report = json.loads((tmp_path / "report.json").read_text())
    assert set(report) == {"summary", "settings", "figures", "details", "provenance"}
    assert report["provenance"]["rules_hash"] == summary["rules_hash"]
    assert report["summary"] == summary
    assert {k for k, v in summary["sections"].items() if v != "ok"} == {"setting", "reflector_sweep"}
    assert {k: v["met"] for k, v in summary["preconditions"].items()} == {
        "rl_improved": True, "rl_moved": True, "rl_learns_stream": True}

    sp = summary["speedup_to_rl_peak"]
    assert sp["speedup"]["mean"] == pytest.approx(3.0) and sp["speedup"]["std"] == pytest.approx(0.0)
    assert sp["n_reached"] == 3 and sp["n_seeds"] == 3 and sp["n_censored"] == 0
    assert [p["bound"] for p in sp["per_seed"]] == ["exact"] * 3
    assert [p["rl_steps"] for p in sp["per_seed"]] == [600, 600, 600]
    assert [p["fst_steps"] for p in sp["per_seed"]] == [200, 200, 200]

    assert summary["asymptote"]["fst"]["mean"] == pytest.approx(0.61, abs=2e-3)
    assert summary["asymptote"]["rl"]["mean"] == pytest.approx(0.46, abs=2e-3)
    assert all(f["ok"] and f["accepted"] for f in summary["asymptote_fits"]["fst"])
    assert summary["asymptote_failed_fits"] == {"fst": 0, "rl": 0, "gepa": 3}  # gepa is a step: rejected

    kl = summary["kl_reduction_at_matched_reward"]
    assert kl["mean_reduction"]["values"] == pytest.approx([0.5, 0.6, 0.4])
    assert kl["mean_reduction"]["std"] == pytest.approx(0.1)

    assert summary["forgetting"]["fst"]["mean"] == pytest.approx(0.02)
    assert summary["forgetting"]["rl"]["mean"] == pytest.approx(0.1)
    assert summary["forgetting"]["gepa"]["mean"] == pytest.approx(0.0)
    assert summary["plasticity"]["rl"]["mean"] == 0.0
    assert summary["plasticity"]["fst"]["mean"] == pytest.approx(0.29)
    assert [s["mean"] for s in summary["continual"]["fst"]] == pytest.approx([1.0, 1.0, 1.0])
    assert [s["mean"] for s in summary["continual"]["rl"]] == pytest.approx([0.5, 0.2, 0.2])
    assert summary["quadrant"]["fst+evolved"]["mean"] == pytest.approx(0.21)

    claims = {c["claim"]: c for c in summary["claims"]}
    assert len(claims) == 8
    assert all(set(c) >= {"id", "claim", "paper", "ours", "verdict"} for c in claims.values())
    assert summary["verdicts"] == {**{k: "reproduced" for k in ("data_efficiency", "asymptote", "kl", "forgetting",
                                                                "plasticity", "continual", "quadrant")},
                                   "distill": "not run"}  # no fst-distill arm in these results

    for name in ("accuracy_vs_step", "asymptote_fit", "accuracy_vs_rollouts", "kl_vs_accuracy", "forgetting",
                 "plasticity", "continual", "quadrant"):
        assert report["figures"][name] == f"{name}.png"
        assert (tmp_path / f"{name}.png").stat().st_size > 1000
    text = _check_html(tmp_path / "report.html")
    assert text.count("data:image/png;base64,") == 8
    assert "Findings" in text and "section not run" not in text
    assert text.index("Findings") < text.index("Details") < text.index("Run settings")  # findings first


def test_report_only_data_efficiency(tmp_path):
    de = _data_efficiency(2)
    # FST never reaches RL's peak although evaluated as long as RL: speedup evidence rl_steps/600 - 1 = 0 -> "no"
    de["curves"]["fst"] = [[(x, min(y, 0.43)) for x, y in c] for c in de["curves"]["fst"]]
    summary = write_report({"settings": {"profile": "quick"}, "data_efficiency": de}, tmp_path / "out")
    out = tmp_path / "out"
    assert summary["sections"]["data_efficiency"] == "ok"
    assert all(summary["sections"][s] == "not run" for s in
               ("drift", "forgetting", "plasticity", "continual", "quadrant"))
    assert summary["kl_reduction_at_matched_reward"] is None and summary["quadrant"] is None
    sp = summary["speedup_to_rl_peak"]
    assert sp["n_reached"] == 0 and [p["bound"] for p in sp["per_seed"]] == ["upper"] * 2
    verdicts = [c["verdict"] for c in summary["claims"]]
    assert verdicts[0] == "not reproduced"
    assert verdicts[2:] == ["not run"] * 6  # drift ... quadrant, and FST-distill (no such arm)
    assert (out / "accuracy_vs_step.png").exists() and not (out / "quadrant.png").exists()
    text = _check_html(out / "report.html")
    assert text.count("not run") >= 5


def test_continual_per_task_dict_is_stitched():
    seed = {"a": [(0, 0.1), (20, 0.5), (40, 0.4)], "b": [(0, 0.0), (20, 0.1), (40, 0.6)]}
    assert _continual_curve(seed, ["a", "b"], [(0, 20), (20, 40)]) == [(0, 0.1), (20, 0.5), (20, 0.1), (40, 0.6)]
