"""engine: trl equals engine: native on the same rollouts: loss and gradient for every built-in loss x aggregation
x kl_coef in {0, 1e-3} x with / without a dropped (zero-variance) group, from one harness that builds each engine
once; and a TRL step gives the same gradient whatever the micro-batch size (gradient accumulation).

Tolerance: the loss within rel 1e-4 (abs 1e-6); every parameter's gradient within rtol 1e-4 plus 1e-6 x the total
gradient norm (fp32 on CPU; the two engines sum the same terms in different orders)."""

import copy
import itertools

import pytest
import torch

from fastslow.config import parse_config

trl = pytest.importorskip("trl")

G, K = 4, 2
REWARDS = [[1.0, 0.0, 0.5, 0.0], [0.0, 1.0, 1.0, 0.25]]


def make_cfg(tmp_path, learner=None, **over):
    data = {"mode": "fst", "engine": "trl", "model": "base", "output_dir": str(tmp_path / "run"), "steps": 1,
            "task": {"name": "tidy"},
            "rollout": {"problems_per_step": 2, "group_size": G, "max_new_tokens": 12},
            "learner": {"lr": 1e-3, "warmup_steps": 1, "tau": 4.0, **(learner or {})},
            "population": {"size": K, "cycle_steps": 1, "budget": 0},
            "eval": {"problems": 2, "k": 1, "kl_problems": 0}, "checkpoint": {"every": 5}, **over}
    return parse_config(data)


def fixed_groups(model, tok, task, population):
    """One batch of real rollouts with chosen rewards and behaviour log-probs shifted so that some importance
    weights exceed tau (truncated) and others leave GRPO's trust region."""
    from fastslow.rl.rollouts import collect_groups
    from fastslow.sampling import HFSampler, SamplingParams

    problems = list(task.problems("train", 2))
    groups = collect_groups(HFSampler(model, tok), task, problems, population, G,
                            SamplingParams(temperature=1.0, max_new_tokens=12, seed=3))
    for g in groups:
        for j, r in enumerate(g.rollouts):
            shift = [(-2.0 if (t + j) % 3 == 0 else 0.3) for t in range(len(r.behaviour_logprobs))]
            r.behaviour_logprobs = [lp + s for lp, s in zip(r.behaviour_logprobs, shift)]
            r.cycle = 0
    return groups


class Harness:
    """Both engines built once on copies of the base model; ``case`` swaps the learner settings and runs one
    gradient computation in each."""

    def __init__(self, base_model, tmp_path):
        from fastslow.build import build_tasks
        from fastslow.integrations.trl import build_trl_trainer
        from fastslow.model.lora import build_reference
        from fastslow.rl.learner import Learner, learner_config

        model, self.tok = base_model
        cfg = make_cfg(tmp_path)
        self.task = build_tasks(cfg)[0]
        self.population = [self.task.seed_prompt, "Sort the letters of the input."]
        self.groups = fixed_groups(model, self.tok, self.task, self.population)
        self.native_model = copy.deepcopy(model)
        # a reference away from the policy, so the k3 term has a gradient (at the reference it has none)
        reference = build_reference(model, "copy")
        gen = torch.Generator().manual_seed(0)
        with torch.no_grad():
            for p in reference.parameters():
                p.add_(0.05 * p.std().nan_to_num(0.02) * torch.randn(p.shape, generator=gen))
        self.learner = Learner(self.native_model, learner_config(cfg), ref_model=reference,
                               pad_id=self.tok.pad_token_id)
        self.learner.optimizer.step = lambda *a, **k: None  # capture the gradient instead of applying it
        self.learner.optimizer.zero_grad = lambda *a, **k: None
        self.trl_model = copy.deepcopy(model)
        self.trainer, self.engine = build_trl_trainer(cfg, policy=self.trl_model, tokenizer=self.tok,
                                                      reflector=object(), tasks=[self.task])
        assert self.engine.kl_in_step and self.engine.reference is not None  # log_kl: the reference is built
        self.engine.reference = reference
        self.engine.channel.population = self.population
        self.rows = [dict(r) for r in self.trainer.train_dataset for _ in range(G)]

    def case(self, tmp_path, loss, aggregation, kl_coef, dropped):
        from fastslow.fastweights.cache import RolloutCache
        from fastslow.rl.advantages import assign, has_signal
        from fastslow.rl.learner import learner_config
        from fastslow.rl.loss_registry import resolve_loss

        cfg = make_cfg(tmp_path, {"loss": loss, "aggregation": aggregation, "kl_coef": kl_coef})
        rewards = [REWARDS[0], [0.5] * G] if dropped else REWARDS
        for g, rs in zip(self.groups, rewards):
            for r, rew in zip(g.rollouts, rs):
                r.reward = rew
        # native: the trainer's own path (zero-variance groups dropped before the learner)
        self.native_model.zero_grad(set_to_none=True)
        self.learner.config, self.learner.loss = learner_config(cfg), resolve_loss(loss)
        assign(self.groups, "problem", True)
        metrics = self.learner.step([g for g in self.groups if has_signal(g)])
        native = {n: p.grad.clone() for n, p in self.native_model.named_parameters() if p.grad is not None}
        # trl: the same rollouts served to the rollout function from the cache (no sampling)
        self.trl_model.zero_grad(set_to_none=True)
        self.engine.cfg = self.trainer.fst.cfg = cfg
        self.trainer.fst_learner, self.trainer.fst_loss = learner_config(cfg), resolve_loss(loss)
        self.engine.channel.cache = RolloutCache(0)
        for g in self.groups:
            for r in g.rollouts:
                self.engine.cache.add(r)
        self.trainer.model.train()
        out = self.trainer._generate_and_score_completions(self.rows)
        assert len(self.engine.cache) == 0  # every slot came from the fixed batch
        trl_loss = self.trainer.compute_loss(self.trainer.model, out)
        trl_loss.backward()
        trained = {n: p.grad for n, p in self.trl_model.named_parameters() if p.grad is not None}
        return metrics, native, trl_loss.item(), trained


@pytest.fixture(scope="module")
def harness(base_model, tmp_path_factory):
    return Harness(base_model, tmp_path_factory.mktemp("equivalence"))


CASES = list(itertools.product(["cispo", "grpo", "drgrpo"], ["prompt", "token", "sequence", "constant"],
                               [0.0, 1e-3], [False, True]))
CASES += [("cispo", "prompt", 0.5, False), ("drgrpo", "prompt", 0.5, True)]  # a KL term that dominates


@pytest.mark.parametrize("loss,aggregation,kl_coef,dropped", CASES)
def test_native_and_trl_give_the_same_loss_and_gradient(harness, tmp_path, loss, aggregation, kl_coef, dropped):
    metrics, native, trl_loss, trained = harness.case(tmp_path, loss, aggregation, kl_coef, dropped)
    if loss == "cispo":
        assert metrics["clip_frac"] > 0  # some importance weights were truncated at tau
    assert metrics["rollouts"] == (G if dropped else 2 * G)
    assert metrics["kl_k3"] > 1e-4  # the reference differs from the policy: the KL term has a gradient
    assert trl_loss == pytest.approx(metrics["loss"], rel=1e-4, abs=1e-6)
    assert native.keys() == trained.keys()
    total = sum(g.norm() ** 2 for g in native.values()) ** 0.5
    assert total > 0
    for name, g in native.items():
        assert torch.allclose(trained[name], g, rtol=1e-4, atol=1e-6 * total), name


# ---- micro-batching: gradient accumulation gives the whole-batch gradient --------------------------------------
def one_step_gradient(base_model, tmp_path, micro_batch_size: int) -> dict:
    """The gradient of TRL's first optimizer step (taken from the trainer's own loop, just before the step)."""
    from transformers import TrainerCallback

    from fastslow.integrations.trl import build_trl_trainer

    model, tok = base_model
    cfg = make_cfg(tmp_path, {"micro_batch_size": micro_batch_size, "drop_zero_variance": False},
                   mode="rl", task={"name": "tidy", "partial_credit": True},
                   rollout={"problems_per_step": 2, "group_size": G, "max_new_tokens": 12})
    trainer, _ = build_trl_trainer(cfg, policy=copy.deepcopy(model), tokenizer=tok)
    grads, steps = {}, []

    class Capture(TrainerCallback):
        def on_pre_optimizer_step(self, args, state, control, **kwargs):
            grads.update({n: p.grad.clone() for n, p in trainer.model.named_parameters() if p.grad is not None})
            steps.append(trainer.args.gradient_accumulation_steps)

    trainer.add_callback(Capture())
    trainer.train()
    assert steps == [2 * G // micro_batch_size]
    return grads


def test_micro_batched_and_whole_batch_steps_give_the_same_gradient(base_model, tmp_path):
    whole = one_step_gradient(base_model, tmp_path / "whole", 2 * G)
    micro = one_step_gradient(base_model, tmp_path / "micro", 2)
    total = sum(g.norm() ** 2 for g in whole.values()) ** 0.5
    assert total > 0 and whole.keys() == micro.keys()
    for name, g in whole.items():
        assert torch.allclose(micro[name], g, rtol=1e-4, atol=1e-6 * total), name
