"""engine: trl in one process: FST's slot assignment and the clear errors for bad input (the equivalence with the
native engine is tests/test_trl_equivalence.py)."""

import pytest

from fastslow.config import ConfigError, parse_config

trl = pytest.importorskip("trl")


def trl_cfg(tmp_path, **over):
    data = {"mode": "fst", "engine": "trl", "model": "base", "output_dir": str(tmp_path / "run"), "steps": 1,
            "task": {"name": "tidy"},
            "rollout": {"problems_per_step": 2, "group_size": 4, "max_new_tokens": 12},
            "learner": {"lr": 1e-3, "warmup_steps": 1},
            "population": {"size": 2, "cycle_steps": 1, "budget": 0},
            "eval": {"problems": 2, "k": 1, "kl_problems": 0}, "checkpoint": {"every": 5}}
    for key, value in over.items():
        node = data
        *parents, leaf = key.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    return parse_config(data)


# ---- slot assignment and bad input -------------------------------------------------------------------------------
def test_slots_are_balanced_and_k_must_divide_g():
    from fastslow.integrations.trl import slot_prompts

    assert slot_prompts(8, 4) == [0, 0, 1, 1, 2, 2, 3, 3]
    assert slot_prompts(4, 1) == [0, 0, 0, 0]
    with pytest.raises(ValueError, match="multiple of population size"):
        slot_prompts(8, 3)


def test_k_not_dividing_g_is_one_config_error(tmp_path):
    with pytest.raises(ConfigError, match=r"group_size \(8\) must be a multiple of population.size \(3\)"):
        trl_cfg(tmp_path, **{"rollout.group_size": 8, "population.size": 3})


def test_unsupported_trl_version_is_refused():
    from fastslow.integrations.trl import check_trl_version

    assert check_trl_version() == "1.16.0"
    with pytest.raises(ConfigError, match=r"trl==1\.16\.0 only, but trl 1\.17\.0 is installed"):
        check_trl_version("1.17.0")


def test_native_engine_refuses_several_processes(tmp_path, monkeypatch):
    from fastslow.trainer import Trainer

    monkeypatch.setenv("WORLD_SIZE", "2")
    cfg = parse_config({"mode": "rl", "output_dir": str(tmp_path / "n"), "steps": 1})
    with pytest.raises(ConfigError, match="engine: native runs in one process.*2 processes.*engine: trl"):
        Trainer(cfg)


def test_problems_per_step_must_split_over_processes(tmp_path):
    from fastslow.integrations.trl import grpo_args

    with pytest.raises(ConfigError, match=r"problems_per_step \(2\) must be a multiple of the number of processes"):
        grpo_args(trl_cfg(tmp_path), tmp_path / "c", 3)


def test_gepa_mode_and_owned_trl_args_are_refused(tmp_path):
    from fastslow.integrations.trl import grpo_args

    with pytest.raises(ConfigError, match="mode: gepa never updates them"):
        trl_cfg(tmp_path, mode="gepa")
    with pytest.raises(ConfigError, match="trl.args: loss_type"):
        grpo_args(trl_cfg(tmp_path, **{"trl.args": {"loss_type": "dapo"}}), tmp_path / "c", 1)
