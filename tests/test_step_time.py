"""The step-time benchmark's profiler: it splits a step's time into phases without changing what the trainer does."""

import inspect

import pytest

import fastslow.rl.rollouts as rollouts_mod
from fastslow.bench.step_time import Arm, demo_config


def small(data: dict) -> dict:
    data["population"].update({"budget": 9, "anchor_size": 4})
    data["rollout"]["problems_per_step"] = 2
    return data


def test_profile_phases_add_up_per_arm_and_unwrap(tmp_path):
    original_score = rollouts_mod.safe_score
    arms = [Arm(name, small(demo_config(name, mode, True, False, tmp_path, 2, "base", 0)))
            for name, mode in (("fst", "fst"), ("rl", "rl"))]
    # the sampler keeps its visible signature (the GEPA adapter looks for per-row ``seeds``)
    assert "seeds" in inspect.signature(arms[0].trainer.sampler.sample).parameters
    for _ in range(2):
        for arm in arms:
            arm.step()
    # a call outside an arm's step (another arm's, or nobody's) is not counted by any arm
    before = [{c: dict(v) for c, v in arm.profile.seconds.items()} for arm in arms]
    task = arms[0].trainer.task
    rollouts_mod.safe_score(task, task.problems("train", 1)[0], "an answer")
    assert [{c: dict(v) for c, v in arm.profile.seconds.items()} for arm in arms] == before
    results = [arm.result() for arm in arms]
    for arm in reversed(arms):
        arm.close()
    for res in results:
        for context, phases in res["profile_s_per_step"].items():
            parts = sum(v for k, v in phases.items() if k != "total")
            assert parts == pytest.approx(phases["total"], rel=1e-6)
            # each arm counts only its own calls (the verifier is wrapped once per arm, as a module global)
            assert all(v >= 0 for v in phases.values()), (context, phases)
        rl = res["profile_s_per_step"]["rl"]
        assert rl["generation"] > 0 and rl["learner_forward"] > 0 and rl["backward"] > 0
    fst = results[0]["profile_s_per_step"]
    assert fst["gepa"]["generation"] > 0 and fst["gepa"]["reflection"] > 0 and "gepa" not in results[1][
        "profile_s_per_step"]
    assert results[0]["gepa_sampler_calls"] >= 1 and results[0]["gepa_rounds"] == 1
    assert rollouts_mod.safe_score is original_score
    assert all("sample" not in vars(arm.trainer.sampler) for arm in arms)
