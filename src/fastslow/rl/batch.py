"""Packing rollouts into padded tensors, and teacher-forced per-token log-probs of their completions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch


@dataclass
class TokenBatch:
    """Prompts left-padded so they all end at column ``width``; completions start there, right-padded."""

    input_ids: torch.Tensor  # [N, width + T]
    attention_mask: torch.Tensor  # [N, width + T]
    completion: torch.Tensor  # [N, T] completion token ids (pad where mask is 0)
    mask: torch.Tensor  # [N, T] 1 on real completion tokens
    width: int

    def to(self, device) -> TokenBatch:
        return TokenBatch(self.input_ids.to(device), self.attention_mask.to(device), self.completion.to(device),
                          self.mask.to(device), self.width)

    def rows(self, index: slice) -> TokenBatch:
        return TokenBatch(self.input_ids[index], self.attention_mask[index], self.completion[index],
                          self.mask[index], self.width)


def left_pad(prompts: Sequence[Sequence[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Prompts as one left-padded batch (token ids, 0/1 mask), so every row's next token sits at the same column:
    how a batch of prompts is prefilled, by the sampler and by shared-prefix learning alike."""
    width = max(1, max(len(p) for p in prompts))
    ids = torch.full((len(prompts), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(prompts), width), dtype=torch.long)
    for i, p in enumerate(prompts):
        ids[i, width - len(p):] = torch.tensor(list(p), dtype=torch.long)
        mask[i, width - len(p):] = 1
    return ids, mask


def pack(prompts: Sequence[Sequence[int]], completions: Sequence[Sequence[int]], pad_id: int) -> TokenBatch:
    n = len(prompts)
    width = max(len(p) for p in prompts)
    t = max(1, max(len(c) for c in completions))
    ids = torch.full((n, width + t), pad_id, dtype=torch.long)
    attn = torch.zeros((n, width + t), dtype=torch.long)
    mask = torch.zeros((n, t), dtype=torch.long)
    for i, (p, c) in enumerate(zip(prompts, completions)):
        ids[i, width - len(p) : width] = torch.tensor(p, dtype=torch.long)
        ids[i, width : width + len(c)] = torch.tensor(list(c), dtype=torch.long)
        attn[i, width - len(p) : width + len(c)] = 1
        mask[i, : len(c)] = 1
    return TokenBatch(ids, attn, ids[:, width:].clone(), mask, width)


def completion_logits(model, batch: TokenBatch, temperature: float = 1.0) -> torch.Tensor:
    """Logits (fp32, divided by the sampling temperature) at the positions that predict completion tokens."""
    positions = (batch.attention_mask.cumsum(-1) - 1).clamp(min=0)
    completion_len = batch.completion.shape[1]
    out = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask, position_ids=positions,
                use_cache=False, logits_to_keep=completion_len + 1)  # no LM head over the prompt
    logits = out.logits[:, :-1].float()
    return logits / temperature if temperature not in (0, 1) else logits


def gather_logprobs(logits: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
    return logits.log_softmax(-1).gather(-1, tokens[..., None]).squeeze(-1)
