"""The learner: batch-wide token weights make the update independent of the micro-batch split; ratios use the
stored behaviour log-probs."""

import copy

import pytest
import torch

from fastslow.model.base import load_model
from fastslow.rl.advantages import assign
from fastslow.rl.learner import Learner, LearnerConfig
from fastslow.rl.rollouts import collect_groups
from fastslow.rulebook import get_task
from fastslow.sampling import HFSampler, SamplingParams


@pytest.fixture(scope="module")
def groups_and_model(tiny_model_dir):
    model, tok = load_model(tiny_model_dir)
    task = get_task("tidy")
    task.partial_credit = True  # dense rewards so every group has signal
    sampler = HFSampler(model, tok)
    groups = collect_groups(sampler, task, task.problems("train", 4), ["Transform the input.", "Sort."], 4,
                            SamplingParams(max_new_tokens=12, seed=0))
    assign(groups)
    return groups, model, tok


def updated_weights(model, tok, groups, **cfg):
    """Weights after one step, and the gradients the optimizer saw."""
    m = copy.deepcopy(model)
    ref = copy.deepcopy(model).requires_grad_(False)
    learner = Learner(m, LearnerConfig(lr=1e-2, warmup_steps=0, **cfg), ref_model=ref, pad_id=tok.pad_token_id)
    grads, step = {}, learner.optimizer.step

    def recording_step(*a, **k):
        grads.update({n: p.grad.clone() for n, p in m.named_parameters()})
        return step(*a, **k)

    learner.optimizer.step = recording_step
    metrics = learner.step(groups)
    return {k: v.detach().clone() for k, v in m.state_dict().items()}, {**metrics, "grads": grads}


@pytest.mark.parametrize("aggregation", ["prompt", "token", "sequence"])
def test_update_does_not_depend_on_micro_batch_size(groups_and_model, aggregation):
    groups, model, tok = groups_and_model
    full, m_full = updated_weights(model, tok, groups, micro_batch_size=64, aggregation=aggregation)
    split, m_split = updated_weights(model, tok, groups, micro_batch_size=3, aggregation=aggregation)
    assert m_full["grad_norm"] == pytest.approx(m_split["grad_norm"], rel=1e-4)
    for k, g in m_full["grads"].items():
        assert torch.allclose(g, m_split["grads"][k], atol=1e-7, rtol=1e-4), k
    before = model.state_dict()
    assert any(not torch.equal(before[k], full[k]) for k in full)


def test_fresh_rollouts_have_ratio_one_and_metrics(groups_and_model):
    groups, model, tok = groups_and_model
    _, metrics = updated_weights(model, tok, groups)
    assert metrics["ratio_mean"] == pytest.approx(1.0, abs=1e-4)
    assert metrics["clip_frac"] == 0.0 and metrics["kl_k3"] == pytest.approx(0.0, abs=1e-6)
    assert metrics["entropy"] > 0 and metrics["grad_norm"] > 0
    assert metrics["rollouts"] == 16


def test_stale_behaviour_logprobs_are_importance_corrected(groups_and_model):
    groups, model, tok = groups_and_model
    stale = copy.deepcopy(groups)
    for g in stale:
        for r in g.rollouts:
            r.behaviour_logprobs = [lp - 2.0 for lp in r.behaviour_logprobs]  # pi / mu = e^2 > tau = 4
    _, metrics = updated_weights(model, tok, stale)
    assert metrics["clip_frac"] == pytest.approx(1.0)
    assert metrics["ratio_mean"] == pytest.approx(torch.e ** 2, rel=1e-3)


def test_kl_penalty_changes_the_update(groups_and_model):
    groups, model, tok = groups_and_model
    m = copy.deepcopy(model)
    ref = copy.deepcopy(model)
    with torch.no_grad():  # move the reference so KL is non-zero
        for p in ref.parameters():
            p.add_(0.05 * torch.randn_like(p))
    runs = []
    for coef in (0.0, 1.0):
        learner = Learner(copy.deepcopy(m), LearnerConfig(lr=1e-2, warmup_steps=0, kl_coef=coef), ref_model=ref,
                          pad_id=tok.pad_token_id)
        metrics = learner.step(groups)
        runs.append(metrics)
    assert runs[0]["kl_k3"] > 0
    assert runs[1]["loss"] > runs[0]["loss"]


def test_linear_warmup(groups_and_model):
    groups, model, tok = groups_and_model
    learner = Learner(copy.deepcopy(model), LearnerConfig(lr=1.0, warmup_steps=4), pad_id=tok.pad_token_id)
    lrs = [learner.step(groups)["lr"] for _ in range(5)]
    assert lrs == pytest.approx([0.5, 0.75, 1.0, 1.0, 1.0])


@pytest.mark.parametrize("shared", [True, False])
def test_step_records_where_its_time_goes(groups_and_model, shared):
    groups, model, tok = groups_and_model
    learner = Learner(copy.deepcopy(model), LearnerConfig(warmup_steps=0, shared_prefix=shared),
                      ref_model=copy.deepcopy(model).requires_grad_(False), pad_id=tok.pad_token_id)
    learner.step(groups)
    t = learner.timings
    assert set(t) == {"forward", "ref_forward", "backward", "optimizer"}
    assert t["forward"] > 0 and t["ref_forward"] > 0 and t["backward"] > 0 and t["optimizer"] > 0
    learner.step([])  # a skipped step (no rollouts) does no work and reports none
    assert learner.timings == {}
