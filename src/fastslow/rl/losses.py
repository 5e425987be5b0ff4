"""Policy-gradient losses on per-token tensors: CISPO (the paper's, Eq. 4), clipped-ratio GRPO and Dr.GRPO.

All functions take ``[N, T]`` tensors for N rollouts and return a per-token loss whose weighted sum is the batch
loss. The weights come from ``token_weights`` so that an aggregation rule (prompt-, token-, sequence-level or a
constant normaliser) is fixed once for the whole batch: summing micro-batch losses then gives exactly the
full-batch gradient, whatever the accumulation split.
"""

from __future__ import annotations

from typing import Literal

import torch

LossType = Literal["cispo", "grpo", "drgrpo"]
Aggregation = Literal["prompt", "token", "sequence", "constant"]


def cispo_token_loss(logp: torch.Tensor, behaviour_logp: torch.Tensor, advantages: torch.Tensor, tau: float = 4.0,
                     low: float | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """CISPO: ``-sg(min(rho, tau)) * A * log pi``. Every token keeps a gradient; only the IS weight is truncated
    (and never differentiated). Returns (per-token loss, mask of tokens whose weight was truncated)."""
    ratio = torch.exp(logp.detach() - behaviour_logp)
    weight = ratio.clamp(max=tau) if low is None else ratio.clamp(min=low, max=tau)
    clipped = (ratio > tau) if low is None else (ratio > tau) | (ratio < low)
    return -(weight * advantages[:, None] * logp), clipped


def clipped_ratio_token_loss(logp: torch.Tensor, behaviour_logp: torch.Tensor, advantages: torch.Tensor,
                             eps_low: float = 0.2, eps_high: float = 0.2) -> tuple[torch.Tensor, torch.Tensor]:
    """PPO/GRPO clipped surrogate: tokens whose ratio leaves the trust region lose their gradient."""
    ratio = torch.exp(logp - behaviour_logp)
    adv = advantages[:, None]
    unclipped, clipped = ratio * adv, ratio.clamp(1 - eps_low, 1 + eps_high) * adv
    loss = -torch.minimum(unclipped, clipped)
    return loss, (clipped < unclipped).detach()


def k3_kl(logp: torch.Tensor, ref_logp: torch.Tensor) -> torch.Tensor:
    """Per-token k3 estimate of KL(pi || ref) on tokens sampled from pi: exp(d) - d - 1 with d = ref - logp."""
    d = ref_logp - logp
    return torch.exp(d) - d - 1


def token_weights(mask: torch.Tensor, group_ids: torch.Tensor, aggregation: Aggregation,
                  max_len: int | None = None) -> torch.Tensor:
    """Per-token weights that sum the token losses into the batch loss.

    prompt   : mean over each problem group's tokens, then mean over groups (ScaleRL; the paper's default)
    token    : mean over all tokens of the batch
    sequence : mean over each rollout's tokens, then over rollouts (original GRPO)
    constant : sum / (N * max_len) (Dr.GRPO; no length normalisation bias)
    """
    mask = mask.float()
    if aggregation == "token":
        return mask / mask.sum().clamp(min=1)
    if aggregation == "sequence":
        return mask / mask.sum(-1, keepdim=True).clamp(min=1) / mask.shape[0]
    if aggregation == "constant":
        return mask / (mask.shape[0] * (max_len or mask.shape[1]))
    if aggregation == "prompt":
        groups, inverse = torch.unique(group_ids, return_inverse=True)
        tokens_per_group = torch.zeros(len(groups)).index_add_(0, inverse, mask.sum(-1))
        return mask / tokens_per_group[inverse].clamp(min=1)[:, None] / len(groups)
    raise ValueError(f"unknown aggregation {aggregation!r}")
