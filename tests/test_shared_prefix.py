"""Shared-prefix learning gives the unshared forward's loss and parameter gradients (fp32, to ~1e-5): with one
prompt, with K distinct prompts, with duplicate prompts in the population, with a KL penalty through the frozen
reference, across micro-batches that split a prompt's completions, and on a LoRA (peft) model."""

import copy

import pytest
import torch

from fastslow.model.base import load_model
from fastslow.rl import shared_prefix
from fastslow.rl.advantages import assign
from fastslow.rl.batch import completion_logits, pack
from fastslow.rl.learner import Learner, LearnerConfig
from fastslow.rl.rollouts import collect_groups
from fastslow.rulebook import get_task
from fastslow.sampling import HFSampler, SamplingParams


def groups_for(model, tok, population, group_size=6, problems=3, max_new_tokens=10):
    task = get_task("tidy")
    task.partial_credit = True  # dense rewards: non-zero advantages
    groups = collect_groups(HFSampler(model, tok), task, task.problems("train", problems), population, group_size,
                            SamplingParams(max_new_tokens=max_new_tokens, seed=0))
    assign(groups)
    return groups


def loss_and_grads(model, tok, groups, ref=None, **cfg):
    """One learner step's metrics and the gradients the optimizer saw (the step itself runs at lr ~ 0). ``ref``: a
    reference model, or a function building one from the policy's copy (LoRA's adapter-disabled reference)."""
    m = copy.deepcopy(model)
    if callable(ref) and not isinstance(ref, torch.nn.Module):
        ref = ref(m)
    learner = Learner(m, LearnerConfig(lr=1e-12, warmup_steps=0, **cfg), ref_model=ref, pad_id=tok.pad_token_id)
    grads, step = {}, learner.optimizer.step

    def recording_step(*a, **k):
        grads.update({n: p.grad.clone() for n, p in m.named_parameters() if p.grad is not None})
        return step(*a, **k)

    learner.optimizer.step = recording_step
    return learner.step(groups), grads


def assert_same_update(model, tok, groups, ref=None, **cfg):
    shared, g_shared = loss_and_grads(model, tok, groups, ref, shared_prefix=True, **cfg)
    plain, g_plain = loss_and_grads(model, tok, groups, ref, shared_prefix=False, **cfg)
    assert shared["loss"] == pytest.approx(plain["loss"], abs=1e-5, rel=1e-5)
    for key in ("entropy", "ratio_mean", "kl_k3"):
        if key in plain:
            assert shared[key] == pytest.approx(plain[key], abs=1e-5, rel=1e-5), key
    assert g_plain and g_shared.keys() == g_plain.keys()
    assert any(g.abs().max() > 1e-4 for g in g_plain.values())  # there is a gradient to compare
    for name, g in g_plain.items():
        assert torch.allclose(g_shared[name], g, atol=1e-5, rtol=1e-4), (name, (g_shared[name] - g).abs().max())


@pytest.fixture(scope="module")
def tiny(tiny_model_dir):
    return load_model(tiny_model_dir)


def test_distinct_prompts_are_one_prefix_each():
    distinct, index = shared_prefix.distinct_prompts([[1, 2], [3], [1, 2], [3], [1, 2, 4]])
    assert distinct == [(1, 2), (3,), (1, 2, 4)]
    assert index.tolist() == [0, 1, 0, 1, 2]


def test_logits_match_the_unshared_forward(tiny):
    model, tok = tiny
    prompts = [[5, 6, 7, 8, 9], [10, 11], [5, 6, 7, 8, 9]]  # different lengths: the prefix rows are left-padded
    completions = [[20, 21, 22], [23], [24, 25]]  # right-padded completions, one of length 1
    mb = pack(prompts, completions, tok.pad_token_id)
    distinct, index = shared_prefix.distinct_prompts(prompts)
    prefix = shared_prefix.PrefixPass(model, distinct, tok.pad_token_id, "cpu", grad=False)
    with torch.no_grad():
        plain = completion_logits(model, mb, temperature=0.7)
        shared = prefix.completion_logits(model, index, mb.completion, mb.mask.float(), temperature=0.7)
    assert shared.shape == plain.shape
    real = mb.mask.bool()
    assert torch.allclose(shared[real], plain[real], atol=1e-5)


def test_stems_split_each_prompt_where_it_stops_sharing():
    stems, index, lengths = shared_prefix.stems([[1, 2, 3, 4], [1, 2, 3, 5], [1, 2, 9], [7, 8]])
    assert stems == [(1, 2, 3), (1, 2), (7,)]  # [7, 8] shares nothing: a one-token stem
    assert index.tolist() == [0, 0, 1, 2] and lengths == [3, 3, 2, 1]
    _, _, lengths = shared_prefix.stems([[1, 2], [1, 2, 3]])  # a prompt that is another's prefix keeps a token
    assert lengths == [1, 2]


def test_two_level_pass_matches_the_unshared_forward(tiny):
    """Stems of different lengths and rests of different lengths: padding on the left of both levels."""
    model, tok = tiny
    stem_a, stem_b = [5, 6, 7, 8, 9, 10, 11, 12], [13, 14, 15]
    prompts = [stem_a + [20, 21], stem_a + [22], stem_b + [23, 24, 25, 26], stem_b + [27], stem_a + [20, 21]]
    completions = [[30, 31, 32], [33], [34, 35], [36, 37, 38, 39], [40, 41]]
    mb = pack(prompts, completions, tok.pad_token_id)
    distinct, index = shared_prefix.distinct_prompts(prompts)
    prefix = shared_prefix.build(model, distinct, tok.pad_token_id, "cpu", grad=False)
    assert prefix.parent is not None and prefix.parent.ids.shape[0] == 2  # two stems, run once each
    with torch.no_grad():
        plain = completion_logits(model, mb, temperature=0.7)
        shared = prefix.completion_logits(model, index, mb.completion, mb.mask.float(), temperature=0.7)
    real = mb.mask.bool()
    assert torch.allclose(shared[real], plain[real], atol=1e-5)


def test_an_fst_batch_takes_the_two_level_path(tiny):
    """K prompts x B problems under a chat template share stems: the learner's prefix pass has two levels (and the
    update tests below therefore compare the two-level path with the unshared one)."""
    model, tok = tiny
    groups = groups_for(model, tok, ["Transform the input.", "Sort."])
    prompts = [r.prompt_ids for g in groups for r in g.rollouts]
    distinct, _ = shared_prefix.distinct_prompts(prompts)
    assert shared_prefix.build(model, distinct, tok.pad_token_id, "cpu", grad=False).parent is not None


@pytest.mark.parametrize("population", [["Transform the input."], ["Transform the input.", "Sort."],
                                        ["Sort.", "Transform the input.", "Sort."]],
                         ids=["K1", "K2-distinct", "K3-duplicate"])
def test_shared_prefix_update_equals_unshared(tiny, population):
    model, tok = tiny
    groups = groups_for(model, tok, population)
    assert_same_update(model, tok, groups, micro_batch_size=4)  # micro-batches split a prompt's completions


def test_shared_prefix_with_kl_penalty_and_reference(tiny):
    model, tok = tiny
    groups = groups_for(model, tok, ["Transform the input.", "Sort."])
    ref = copy.deepcopy(model).requires_grad_(False)
    with torch.no_grad():  # a reference that differs from the policy, so the KL term has a gradient
        for p in ref.parameters():
            p.add_(0.05 * torch.randn_like(p))
    assert_same_update(model, tok, groups, ref=ref, kl_coef=0.5, micro_batch_size=5, temperature=0.8)


def test_shared_prefix_on_a_lora_model(base_model):
    from fastslow.config import ModelConfig
    from fastslow.model.lora import prepare_policy

    model, tok = base_model
    policy = prepare_policy(copy.deepcopy(model), ModelConfig(path="base", lora={"r": 4, "alpha": 8,
                                                                                 "target_modules": ["q_proj",
                                                                                                    "v_proj"]}))
    with torch.no_grad():  # non-zero B matrices, so the adapter is on the gradient path
        g = torch.Generator().manual_seed(0)
        for name, p in policy.named_parameters():
            if "lora_B" in name:
                p.copy_(torch.randn(p.shape, generator=g) * 0.2)
    groups = groups_for(policy, tok, ["Transform the input.", "Sort."], group_size=4, problems=2, max_new_tokens=8)
    # each comparison deep-copies the policy; the reference is the copy's adapter-disabled self
    shared, g_shared = _lora_step(policy, tok, groups, True)
    plain, g_plain = _lora_step(policy, tok, groups, False)
    assert shared["loss"] == pytest.approx(plain["loss"], abs=1e-5, rel=1e-5)
    assert shared["kl_k3"] == pytest.approx(plain["kl_k3"], abs=1e-6, rel=1e-5)
    assert g_plain and all("lora_" in n for n in g_plain)
    for name, g in g_plain.items():
        assert torch.allclose(g_shared[name], g, atol=1e-5, rtol=1e-4), name


def _lora_step(policy, tok, groups, shared):
    from fastslow.model.lora import build_reference

    return loss_and_grads(policy, tok, groups, ref=lambda m: build_reference(m, "copy"), kl_coef=0.5,
                          micro_batch_size=3, shared_prefix=shared)


def test_gradient_checkpointing_falls_back_to_the_unshared_path(tiny):
    model, _ = tiny
    m = copy.deepcopy(model)
    assert shared_prefix.supported(m)
    m.gradient_checkpointing_enable()
    assert not shared_prefix.supported(m)


def test_the_config_switch_reaches_the_learner(tiny_model_dir, tmp_path):
    from fastslow.config import parse_config
    from fastslow.trainer import Trainer

    def learner_cfg(**learner):
        cfg = parse_config({"mode": "rl", "model": str(tiny_model_dir), "output_dir": str(tmp_path), "steps": 1,
                            "learner": learner})
        return Trainer(cfg).learner.config

    assert learner_cfg().shared_prefix is True  # the default
    assert learner_cfg(shared_prefix=False).shared_prefix is False
