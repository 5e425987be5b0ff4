"""CISPO / GRPO losses: gradients, truncation, aggregation, and agreement with TRL's implementation."""

import types
from collections import defaultdict

import pytest
import torch

from fastslow.rl.losses import cispo_token_loss, clipped_ratio_token_loss, k3_kl, token_weights


def policy(seed=0, n=4, t=5, v=7):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(n, t, v, generator=g, requires_grad=True)
    tokens = torch.randint(0, v, (n, t), generator=g)
    return logits, tokens


def logp_of(logits, tokens):
    return logits.log_softmax(-1).gather(-1, tokens[..., None]).squeeze(-1)


def test_cispo_at_ratio_one_is_reinforce():
    logits, tokens = policy()
    adv = torch.tensor([1.0, -0.5, 0.0, 2.0])
    mask = torch.ones(4, 5)
    w = token_weights(mask, torch.tensor([0, 0, 1, 1]), "prompt")
    logp = logp_of(logits, tokens)
    tok, clipped = cispo_token_loss(logp, logp.detach(), adv)
    (grad_cispo,) = torch.autograd.grad((tok * w).sum(), logits)
    reinforce = -(adv[:, None] * logp_of(logits, tokens) * w).sum()
    (grad_reinforce,) = torch.autograd.grad(reinforce, logits)
    assert not clipped.any()
    assert torch.allclose(grad_cispo, grad_reinforce, atol=1e-7)
    assert grad_cispo.abs().sum() > 0


def test_cispo_truncation_caps_weight_and_stops_its_gradient():
    logits, tokens = policy(1)
    adv = torch.tensor([1.0, 1.0, -1.0, 0.5])
    logp = logp_of(logits, tokens)
    behaviour = logp.detach() - torch.log(torch.tensor(10.0))  # ratio 10 everywhere > tau
    tok, clipped = cispo_token_loss(logp, behaviour, adv, tau=4.0)
    assert clipped.all()
    (g,) = torch.autograd.grad(tok.sum(), logits)
    # the weight is a constant 4: the gradient is that of -4 * A * log pi, nothing flows through the ratio
    (ref,) = torch.autograd.grad(-(4.0 * adv[:, None] * logp_of(logits, tokens)).sum(), logits)
    assert torch.allclose(g, ref, atol=1e-6)
    # below tau the weight is the ratio itself (here 0.5), still without a gradient of its own
    tok, clipped = cispo_token_loss(logp_of(logits, tokens), logp.detach() + torch.log(torch.tensor(2.0)), adv)
    (g2,) = torch.autograd.grad(tok.sum(), logits)
    assert not clipped.any()
    (ref2,) = torch.autograd.grad(-(0.5 * adv[:, None] * logp_of(logits, tokens)).sum(), logits)
    assert torch.allclose(g2, ref2, atol=1e-6)


def test_grpo_clip_zeroes_gradient_outside_trust_region():
    logits, tokens = policy(2)
    logp = logp_of(logits, tokens)
    adv = torch.ones(4)
    behaviour = logp.detach() - 1.0  # ratio e > 1.2: clipped for positive advantages
    tok, clipped = clipped_ratio_token_loss(logp, behaviour, adv)
    (g,) = torch.autograd.grad(tok.sum(), logits)
    assert clipped.all() and torch.count_nonzero(g) == 0


def test_token_weights_aggregations():
    mask = torch.tensor([[1, 1, 1, 0], [1, 0, 0, 0], [1, 1, 1, 1], [1, 1, 0, 0]])
    groups = torch.tensor([0, 0, 1, 1])
    w = token_weights(mask, groups, "prompt")
    assert torch.allclose(w[:2].sum(), torch.tensor(0.5)) and torch.allclose(w[2:].sum(), torch.tensor(0.5))
    assert torch.allclose(w[0, 0], torch.tensor(1 / 4 / 2))  # group 0 has 4 tokens
    assert torch.allclose(token_weights(mask, groups, "token").sum(), torch.tensor(1.0))
    seq = token_weights(mask, groups, "sequence")
    assert torch.allclose(seq.sum(-1), torch.full((4,), 0.25))
    assert torch.allclose(token_weights(mask, groups, "constant", max_len=8), mask / 32)
    assert (w[mask == 0] == 0).all()


def test_k3_is_zero_for_identical_and_positive_otherwise():
    a = torch.tensor([-1.0, -2.0])
    assert torch.equal(k3_kl(a, a), torch.zeros(2))
    assert (k3_kl(a, a - 0.5) > 0).all()


def trl_cispo_loss(per_token_logps, old_logps, advantages, mask, eps_high):
    """Run TRL 1.16's GRPOTrainer._compute_loss (loss_type="cispo") on given tensors, with a stand-in trainer."""
    from accelerate import Accelerator
    from trl import GRPOTrainer

    n, t = mask.shape
    fake = types.SimpleNamespace(
        _get_per_token_logps_and_entropies=lambda *a, **k: (per_token_logps, torch.zeros(n, t), None),
        top_entropy_quantile=1.0, aux_loss_enabled=False, off_policy_mask_threshold=None,
        importance_sampling_level="token", beta=0.0, loss_type="cispo", epsilon_high=eps_high, epsilon_low=0.2,
        use_vllm=False, model=types.SimpleNamespace(training=True), accelerator=Accelerator(cpu=True),
        current_gradient_accumulation_steps=1, _entropy_bonus_enabled=False, _metrics=defaultdict(
            lambda: defaultdict(list)), args=types.SimpleNamespace(steps_per_generation=1, delta=None,
                                                                    use_bias_correction_kl=False),
        vllm_importance_sampling_correction=False,
    )
    inputs = {"prompt_ids": torch.zeros(n, 1, dtype=torch.long), "prompt_mask": torch.ones(n, 1),
              "completion_ids": torch.zeros(n, t, dtype=torch.long), "completion_mask": mask,
              "advantages": advantages, "old_per_token_logps": old_logps,
              "num_items_in_batch": mask.sum()}
    return GRPOTrainer._compute_loss(fake, None, inputs)


def test_cispo_matches_trl_under_token_aggregation():
    pytest.importorskip("trl")
    logits, tokens = policy(3, n=6, t=4)
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 0, 0], [1, 1, 1, 0], [1, 0, 0, 0], [1, 1, 1, 1], [1, 1, 0, 0]]).float()
    adv = torch.tensor([1.0, -1.0, 0.5, 0.0, -0.3, 2.0])
    g = torch.Generator().manual_seed(9)
    old = (logp_of(logits, tokens) + 0.8 * torch.randn(6, 4, generator=g)).detach()  # some ratios exceed tau
    ours_tok, clipped = cispo_token_loss(logp_of(logits, tokens), old, adv, tau=4.0)
    ours = (ours_tok * token_weights(mask, torch.arange(6), "token")).sum()
    (g_ours,) = torch.autograd.grad(ours, logits)
    theirs = trl_cispo_loss(logp_of(logits, tokens), old, adv, mask, eps_high=4.0)
    (g_theirs,) = torch.autograd.grad(theirs, logits)
    assert clipped[mask.bool()].any()
    assert torch.allclose(ours, theirs, atol=1e-6)
    assert torch.allclose(g_ours, g_theirs, atol=1e-7)


def test_token_weights_with_dropped_rows_equal_the_batch_without_them():
    """``keep`` (the TRL engine's dropped zero-variance groups) gives the kept rows the weights they would have in
    a batch of the kept rows alone (the native engine's path), for every aggregation; ``total`` sums the counts over
    processes (two halves of a batch give the whole batch's weights)."""
    torch.manual_seed(0)
    mask = (torch.rand(6, 5) > 0.3).float()
    mask[:, 0] = 1
    groups = torch.tensor([0, 0, 1, 1, 2, 2])
    keep = torch.tensor([True, True, False, False, True, True])
    for aggregation in ("prompt", "token", "sequence", "constant"):
        alone = token_weights(mask[keep], groups[keep], aggregation, max_len=8)
        full = token_weights(mask, groups, aggregation, max_len=8, keep=keep)
        assert torch.allclose(full[keep], alone) and (full[~keep] == 0).all(), aggregation
        # two "processes" holding whole groups: record what each counts alone, then hand each the sums
        halves = [slice(0, 2), slice(2, 6)]
        counts = {h.start: [] for h in halves}
        for h in halves:
            token_weights(mask[h], groups[h], aggregation, max_len=8, keep=keep[h],
                          total=lambda x, h=h, c=counts: c[h.start].append(x) or x)
        sums = [a + b for a, b in zip(counts[0], counts[2])]
        it = iter(sums * 2)
        shared = [token_weights(mask[h], groups[h], aggregation, max_len=8, keep=keep[h],
                                total=lambda x, it=it: next(it)) for h in halves]
        assert torch.allclose(torch.cat(shared), full), aggregation
    with pytest.raises(ValueError, match="needs max_len"):
        token_weights(mask, groups, "constant")
