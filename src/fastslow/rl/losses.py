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
                  max_len: int | None = None, keep: torch.Tensor | None = None, total=None) -> torch.Tensor:
    """Per-token weights that sum the token losses into the batch loss, for every engine.

    prompt   : mean over each problem group's tokens, then mean over groups (ScaleRL; the paper's default)
    token    : mean over all tokens of the batch
    sequence : mean over each rollout's tokens, then over rollouts (original GRPO)
    constant : sum / (rollouts * max_len) (Dr.GRPO: ``max_len`` is a fixed constant, the generation budget
               ``max_new_tokens`` by default, never the batch's longest completion)

    ``keep`` (rows): False for the rows of a dropped (zero-variance) group: weight 0, never counted, exactly as if
    the group were not in the batch. ``total`` sums a scalar over every process of the step (the TRL engine; the
    default is this process alone); a group never spans processes, so only the counts need it.
    """
    mask = mask.float()
    rows = torch.ones(mask.shape[0], device=mask.device) if keep is None else keep.float().to(mask.device)
    mask = mask * rows[:, None]
    total = total or (lambda x: x)
    if aggregation == "token":
        return mask / total(mask.sum()).clamp(min=1)
    if aggregation == "sequence":
        return mask / mask.sum(-1, keepdim=True).clamp(min=1) / total(rows.sum()).clamp(min=1)
    if aggregation == "constant":
        if not max_len:
            raise ValueError("aggregation 'constant' (Dr.GRPO) needs max_len, the fixed normaliser (max_new_tokens)")
        return mask / (total(rows.sum()).clamp(min=1) * max_len)
    if aggregation == "prompt":
        _, inverse = torch.unique(group_ids.to(mask.device), return_inverse=True)
        n = int(inverse.max()) + 1 if len(inverse) else 0
        tokens_per_group = torch.zeros(n, device=mask.device).index_add_(0, inverse, mask.sum(-1))
        kept_groups = (torch.zeros(n, device=mask.device).index_add_(0, inverse, rows) > 0).float().sum()
        return mask / tokens_per_group[inverse].clamp(min=1)[:, None] / total(kept_groups).clamp(min=1)
    raise ValueError(f"unknown aggregation {aggregation!r}")
