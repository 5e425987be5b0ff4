"""The "RL learns" setting's declared criteria and their judge, and Rulebook tasks from any program."""

import pytest

from fastslow.errors import ProgramSpecError
from fastslow.rulebook import get_task
from fastslow.rulebook.setting import RL_LEARNS_CRITERIA, final_level, judge
from fastslow.tasks import load_task


def run(mode, seed, values):
    return {"mode": mode, "seed": seed, "curve": [(6 * i, v) for i, v in enumerate(values)]}


def test_final_level_is_the_mean_of_the_last_two_evaluations():
    assert final_level([(0, 0.0), (6, 0.2), (12, 0.4)]) == pytest.approx(0.3)
    assert final_level([(0, 0.5)]) == 0.5


def test_rl_must_gain_ten_points_in_two_of_three_seeds():
    gepa = [run("gepa", s, [0.0, 0.5, 0.6]) for s in range(3)]
    two = [run("rl", 0, [0.0, 0.1, 0.12]), run("rl", 1, [0.02, 0.1, 0.14]), run("rl", 2, [0.0, 0.0, 0.05])]
    verdict = judge(two + gepa)
    assert verdict["rl_improved_seeds"] == 2 and verdict["rl_learns"] and verdict["all_met"]
    one = two[:2] + [run("rl", 1, [0.05, 0.1, 0.14])]
    one[1] = run("rl", 1, [0.05, 0.1, 0.1])
    verdict = judge(one + gepa)
    assert verdict["rl_improved_seeds"] == 1 and verdict["rl_learns"] is False and not verdict["all_met"]


def test_gepa_only_must_plateau_twenty_points_below_full_accuracy():
    rl = [run("rl", s, [0.0, 0.2, 0.3]) for s in range(3)]
    assert judge(rl + [run("gepa", 0, [0.0, 0.8, 0.8])])["gepa_plateaus_below"] is True
    high = judge(rl + [run("gepa", 0, [0.0, 0.8, 0.9]), run("gepa", 1, [0.0, 0.7, 0.8])])
    assert high["gepa_final_mean"] == pytest.approx(0.8)
    assert judge(rl + [run("gepa", 0, [0.0, 0.85, 0.85])])["gepa_plateaus_below"] is False


def test_a_missing_arm_is_not_judged_met():
    verdict = judge([run("rl", 0, [0.0, 0.5, 0.5])])
    assert verdict["rl_learns"] and verdict["gepa_plateaus_below"] is None and not verdict["all_met"]


def test_criteria_are_the_issues_numbers():
    assert RL_LEARNS_CRITERIA["rl_gain_min"] == 0.10 and RL_LEARNS_CRITERIA["gepa_gap_min"] == 0.20
    assert RL_LEARNS_CRITERIA["rl_seeds_min"] == 2


def test_any_program_runs_as_a_rulebook_task():
    task = load_task("rulebook/candidate", {"program": "dedupe|keep_last:3"})
    assert task.name == "candidate" and task.program.spec == "dedupe|keep_last:3"
    p = task.problems("val", 1)[0]
    assert p.metadata["target"] == task.program(p.text)
    with pytest.raises(ProgramSpecError, match="unknown primitive"):
        get_task("candidate", program="reverse|nope")
