"""The diagnostic KL(pi_train || pi_base): exact over the vocabulary, zero for identical models."""

import copy
import math

import torch

from fastslow.evaluation.kl import exact_token_kl, kl_to_base
from fastslow.model.base import load_model
from fastslow.rulebook import get_task
from fastslow.sampling import HFSampler


def test_exact_token_kl_matches_brute_force():
    g = torch.Generator().manual_seed(0)
    p, q = torch.randn(3, 5, generator=g), torch.randn(3, 5, generator=g)
    ours = exact_token_kl(p, q)
    for i in range(3):
        pp = [math.exp(x) for x in p[i].tolist()]
        qq = [math.exp(x) for x in q[i].tolist()]
        zp, zq = sum(pp), sum(qq)
        brute = sum(a / zp * math.log((a / zp) / (b / zq)) for a, b in zip(pp, qq))
        assert abs(ours[i].item() - brute) < 1e-5
    assert torch.allclose(exact_token_kl(p, p), torch.zeros(3), atol=1e-7)


def test_kl_to_base_zero_for_identical_and_grows_with_drift(tiny_model_dir):
    policy, tok = load_model(tiny_model_dir)
    base = copy.deepcopy(policy)
    task = get_task("tidy")
    val = task.problems("val", 4)
    sampler = HFSampler(policy, tok)
    args = dict(sampler=sampler, task=task, problems=val, context=task.seed_prompt, max_new_tokens=8,
                pad_id=tok.pad_token_id)
    assert kl_to_base(policy, base, **args) == 0.0
    kls = []
    for scale in (0.05, 0.2):
        drifted = copy.deepcopy(base)
        with torch.no_grad():
            for prm in drifted.parameters():
                prm.add_(scale * torch.randn(prm.shape, generator=torch.Generator().manual_seed(1)))
        kls.append(kl_to_base(drifted, base, **{**args, "sampler": HFSampler(drifted, tok)}))
    assert 0 < kls[0] < kls[1]
