"""engine: trl in one process: the native learner and the TRL engine agree on a batch of rollouts (loss value and
gradient), FST's slot assignment, and the clear errors for bad input."""

import copy

import pytest
import torch

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


# ---- equivalence: same rollouts -> same loss and gradient ------------------------------------------------------
def fixed_groups(model, tok, task, population, G):
    """One batch of real rollouts with chosen rewards (mixed, so every group has signal) and behaviour
    log-probs shifted so that some importance weights exceed tau (truncated) and others do not."""
    from fastslow.rl.rollouts import collect_groups
    from fastslow.sampling import HFSampler, SamplingParams

    problems = list(task.problems("train", 2))
    groups = collect_groups(HFSampler(model, tok), task, problems, population, G,
                            SamplingParams(temperature=1.0, max_new_tokens=12, seed=3))
    rewards = [[1.0, 0.0, 0.5, 0.0], [0.0, 1.0, 1.0, 0.25]]
    for g, rs in zip(groups, rewards):
        for j, (r, rew) in enumerate(zip(g.rollouts, rs)):
            r.reward = rew
            shift = [(-2.0 if (t + j) % 3 == 0 else 0.3) for t in range(len(r.behaviour_logprobs))]
            r.behaviour_logprobs = [lp + s for lp, s in zip(r.behaviour_logprobs, shift)]
            r.cycle = 0
    return problems, groups


@pytest.mark.parametrize("aggregation", ["prompt", "token", "sequence"])
def test_native_and_trl_engine_give_the_same_loss_and_gradient(base_model, tmp_path, aggregation):
    from fastslow.fastweights.cache import RolloutCache
    from fastslow.integrations.trl import build_trl_trainer
    from fastslow.rl.advantages import assign
    from fastslow.rl.learner import Learner, LearnerConfig

    model, tok = base_model
    task_cfg = trl_cfg(tmp_path, **{"learner.aggregation": aggregation, "learner.tau": 4.0})
    from fastslow.build import build_tasks

    task = build_tasks(task_cfg)[0]
    population = [task.seed_prompt, "Sort the letters of the input."]
    problems, groups = fixed_groups(model, tok, task, population, 4)

    # native learner: capture the gradient of one step instead of applying it
    native_model = copy.deepcopy(model)
    learner = Learner(native_model, LearnerConfig(aggregation=aggregation, tau=4.0, lr=1e-3, micro_batch_size=3),
                      pad_id=tok.pad_token_id)
    learner.optimizer.step = lambda *a, **k: None
    learner.optimizer.zero_grad = lambda *a, **k: None
    assign(groups, "problem", True)
    metrics = learner.step(groups)
    native_grads = {n: p.grad.clone() for n, p in native_model.named_parameters() if p.grad is not None}
    assert metrics["clip_frac"] > 0  # some weights were truncated at tau

    # TRL engine: the same rollouts, served to the rollout function from the cache (no sampling)
    trl_model = copy.deepcopy(model)
    trainer, engine = build_trl_trainer(task_cfg, policy=trl_model, tokenizer=tok, reflector=object(),
                                        tasks=[task])
    assert [p.id for p in problems] == [key[1] for key in engine.problems]
    engine.channel.population = population
    engine.channel.cache = RolloutCache(0)
    for g in groups:
        for r in g.rollouts:
            engine.cache.add(r)
    rows = [dict(r) for r in trainer.train_dataset for _ in range(4)]
    trainer.model.train()
    trainer.current_gradient_accumulation_steps = 1  # set by the training loop
    out = trainer._generate_and_score_completions(rows)
    assert len(engine.cache) == 0  # every slot came from the fixed batch
    loss = trainer.compute_loss(trainer.model, out)
    loss.backward()
    trl_grads = {n: p.grad for n, p in trl_model.named_parameters() if p.grad is not None}

    assert loss.item() == pytest.approx(metrics["loss"], rel=1e-4, abs=1e-6)
    assert native_grads.keys() == trl_grads.keys()
    total = sum(g.norm() ** 2 for g in native_grads.values()) ** 0.5
    assert total > 0
    for name, g in native_grads.items():
        assert torch.allclose(trl_grads[name], g, rtol=1e-4, atol=1e-6 * total), name
