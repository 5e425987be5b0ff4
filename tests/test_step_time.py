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


def test_seed_spread_judges_each_seed_against_its_own_rl_arm(monkeypatch):
    """Each seed's ratios are taken against the RL arm of the same run, and the summary is their mean ± std."""
    import fastslow.bench.step_time as st

    class FakeArm:  # seconds per step: rl 1.0, fst 1.5 (+ seed/10 with reuse); 2 tokens per rl second, 4 for fst
        def __init__(self, name, data, batched=True):
            self.name, self.seed = name, data["seed"]

        def step(self):
            pass

        def close(self):
            pass

        def result(self):
            s = {"rl": 1.0, "fst_no_reuse": 1.5, "fst_reuse": 1.5 + self.seed / 10}[self.name]
            tokens = 2.0 if self.name == "rl" else 4.0
            return {"s_per_step_median": s, "s_per_step_amortised_with_gepa": s,
                    "ms_per_trained_token_amortised_with_gepa": s / tokens, "reused_frac": 0.0,
                    "trained_tokens_per_step": tokens, "gepa_seconds": 0.0, "train_reward_mean": 0.0,
                    "populations": [["a", "a", "b", "c"]], "profile_s_per_step": {"rl": {"generation": s / 3}}}

    monkeypatch.setattr(st, "Arm", FakeArm)
    spread = st.seed_spread("base", 1, [1, 3])
    r = spread["ratios"]
    assert r["fst_no_reuse"]["amortised"]["values"] == pytest.approx([1.5, 1.5])
    assert r["fst_reuse"]["amortised"]["values"] == pytest.approx([1.6, 1.8])
    assert r["fst_reuse"]["amortised"]["mean"] == pytest.approx(1.7)
    assert r["fst_reuse"]["per_token_amortised"]["mean"] == pytest.approx(0.85)
    assert r["reuse_generation_saving_s_per_step"]["mean"] == pytest.approx(-0.2 / 3)
    assert spread["per_seed"][3]["distinct_prompts_per_round"]["fst_reuse"] == [3]
    assert spread["per_seed"][3]["arms"]["fst_reuse"]["s_per_step_median"] == pytest.approx(1.8)


def test_random_base_is_the_base_architecture_with_other_weights(tmp_path):
    import torch
    from transformers import AutoModelForCausalLM

    from fastslow.bench.step_time import random_copy_of_base
    from fastslow.model.loading import SHIPPED_BASE

    folder = random_copy_of_base(tmp_path / "random")
    base = AutoModelForCausalLM.from_pretrained(SHIPPED_BASE)
    random = AutoModelForCausalLM.from_pretrained(folder)
    differs = {k for k, v in random.config.to_dict().items() if base.config.to_dict().get(k) != v}
    assert differs == {"_name_or_path"}
    assert (folder / "tokenizer.json").read_bytes() == (SHIPPED_BASE / "tokenizer.json").read_bytes()
    a, b = base.model.layers[0].mlp.up_proj.weight, random.model.layers[0].mlp.up_proj.weight
    assert a.shape == b.shape and not torch.allclose(a, b)
