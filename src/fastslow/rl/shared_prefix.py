"""Shared-prefix teacher forcing: each distinct prompt runs through the model once per learner step.

The G/K completions sampled under one (problem, prompt) pair share every prompt token, and identical prompts in a
population share them too, so the unshared forward recomputes the same prefix activations up to G times. Here the
distinct prompts run once (left-padded, one row each) with a KV cache; the cache's key/value tensors and the
logits at each prompt's last position are detached into leaf tensors, fanned out to the completions with
``index_select``, and the completions run on top of that cache. Their backward passes (one per micro-batch)
accumulate gradients into the leaves; ``PrefixPass.backward`` then pushes the accumulated gradients through the
prefix graph once. The result is the unshared gradient up to floating-point summation order (the tests check loss
and every parameter gradient against ``batch.completion_logits``).

What it needs from the model: a Hugging Face causal LM (or a peft wrapper of one) that accepts a ``DynamicCache``,
``position_ids`` and a 2-D padding mask covering cache + new tokens. ``supported`` refuses gradient checkpointing
(HF drops the cache there) so the learner falls back to the unshared path.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from transformers import DynamicCache

from fastslow.rl.batch import left_pad
from fastslow.sampling.fast_decode import cache_kwarg


def supported(model) -> bool:
    """False where the cache cannot carry gradients: gradient checkpointing disables the cache in training."""
    inner = model.get_base_model() if hasattr(model, "get_base_model") else model
    name = "is_activation_checkpointing" if hasattr(type(inner), "is_activation_checkpointing") else \
        "is_gradient_checkpointing"  # renamed in transformers 5.x
    return not getattr(inner, name, False)


def _cache_kwarg(model) -> str:
    # the LoRA reference (``AdapterDisabledReference``) forwards *args/**kwargs to the policy it holds
    return cache_kwarg(getattr(model, "policy", model))


def distinct_prompts(prompts: Sequence[Sequence[int]]) -> tuple[list[tuple[int, ...]], torch.Tensor]:
    """The distinct prompt token sequences (first-seen order) and, for each rollout, the index of its prompt."""
    seen: dict[tuple[int, ...], int] = {}
    index = [seen.setdefault(tuple(p), len(seen)) for p in prompts]
    return list(seen), torch.tensor(index, dtype=torch.long)


class PrefixPass:
    """One forward of the distinct prompts; ``grad=True`` keeps the graph for ``backward``."""

    def __init__(self, model, prompts: Sequence[Sequence[int]], pad_id: int, device, grad: bool):
        ids, mask = left_pad(prompts, pad_id)  # every prompt ends at column ``width``
        self.ids, self.mask, self.width = ids.to(device), mask.to(device), ids.shape[1]
        self.cache_kwarg = _cache_kwarg(model)
        cache = DynamicCache()
        positions = (self.mask.cumsum(-1) - 1).clamp(min=0)
        with torch.set_grad_enabled(grad):
            out = model(input_ids=self.ids, attention_mask=self.mask, position_ids=positions, use_cache=True,
                        logits_to_keep=1, **{self.cache_kwarg: cache})
        layers = [(layer.keys, layer.values) for layer in cache.layers]
        if not layers or any(k is None or k.shape[-2] != self.width for k, _ in layers):
            raise RuntimeError("the model did not fill the KV cache; use learner.shared_prefix: false")
        self.roots = [out.logits[:, -1], *(t for kv in layers for t in kv)]
        self.leaves = [t.detach().requires_grad_(grad) for t in self.roots]
        self.grad = grad

    def completion_logits(self, model, index: torch.Tensor, completion: torch.Tensor, mask: torch.Tensor,
                          temperature: float = 1.0) -> torch.Tensor:
        """Logits (fp32, / temperature) predicting ``completion`` [n, T] of rollouts whose prompts are rows ``index``
        of this pass: the prompt's last-position logits, then the completion's own positions but the last."""
        first = self.leaves[0].index_select(0, index)[:, None]
        t = completion.shape[1]
        if t > 1:
            kv = self.leaves[1:]
            cache = DynamicCache(ddp_cache_data=[(kv[i].index_select(0, index), kv[i + 1].index_select(0, index))
                                                 for i in range(0, len(kv), 2)])
            attention = torch.cat([self.mask.index_select(0, index), mask[:, : t - 1].long()], dim=1)
            positions = (attention.cumsum(-1) - 1).clamp(min=0)[:, self.width:]
            out = model(input_ids=completion[:, : t - 1], attention_mask=attention, position_ids=positions,
                        use_cache=True, **{self.cache_kwarg: cache})
            logits = torch.cat([first, out.logits], dim=1).float()
        else:
            logits = first.float()
        return logits / temperature if temperature not in (0, 1) else logits

    def backward(self) -> None:
        """Push the gradients the completions left on the leaves through the prefix graph (once)."""
        pairs = [(r, leaf.grad) for r, leaf in zip(self.roots, self.leaves)
                 if leaf.grad is not None and r.requires_grad]  # e.g. LoRA on v_proj only: keys carry no grad
        if self.grad and pairs:
            torch.autograd.backward([r for r, _ in pairs], [g for _, g in pairs])
        self.roots, self.leaves = [], []
