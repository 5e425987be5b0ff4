"""Shared-prefix teacher forcing: each distinct prompt runs through the model once per learner step.

The G/K completions sampled under one (problem, prompt) pair share every prompt token, and identical prompts in a
population share them too, so the unshared forward recomputes the same prefix activations up to G times. Here the
distinct prompts run once (left-padded, one row each) with a KV cache; the cache's key/value tensors and the
logits at each prompt's last position are detached into leaf tensors, fanned out to the completions with
``index_select``, and the completions run on top of that cache. Their backward passes (one per micro-batch)
accumulate gradients into the leaves; ``PrefixPass.backward`` then pushes the accumulated gradients through the
prefix graph once. The result is the unshared gradient up to floating-point summation order (the tests check loss
and every parameter gradient against ``batch.completion_logits``).

Two levels (``build``): the distinct prompts of an FST batch are K system prompts times B problems, rendered by a
chat template, so the prompts under one system prompt share a long stem (the template's header and the system
prompt) and differ only in the problem. Where splitting every prompt at the longest prefix it shares with another
prompt saves enough, the stems run once first, and each prompt's remaining tokens run on top of its stem's
fanned-out cache, with the same leaf trick one level down: ``backward`` pushes the prompts' gradients into the
stems' leaves, then through the stems' graph. Same gradient again, fewer prompt tokens through the model.

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


# Two levels only where they cut the prompt positions run through the model (padding included) by this share: the
# stems cost one more forward call.
MIN_TWO_LEVEL_SAVING = 0.2


def stems(prompts: Sequence[Sequence[int]]) -> tuple[list[tuple[int, ...]], torch.Tensor, list[int]]:
    """Split each prompt at the longest prefix it shares with any other prompt (neighbours in sorted order), kept
    at least one token short of the prompt: the distinct stems (first-seen order), each prompt's stem index, and
    each prompt's stem length. A prompt that shares nothing keeps a one-token stem (its own first token)."""
    order = sorted(range(len(prompts)), key=lambda i: tuple(prompts[i]))
    shared = [0] * len(prompts)
    for a, b in zip(order, order[1:]):
        pa, pb = prompts[a], prompts[b]
        n = 0
        while n < min(len(pa), len(pb)) and pa[n] == pb[n]:
            n += 1
        shared[a], shared[b] = max(shared[a], n), max(shared[b], n)
    lengths = [max(1, min(n, len(p) - 1)) for n, p in zip(shared, prompts)]
    seen: dict[tuple[int, ...], int] = {}
    index = [seen.setdefault(tuple(p[:n]), len(seen)) for p, n in zip(prompts, lengths)]
    return list(seen), torch.tensor(index, dtype=torch.long), lengths


def build(model, prompts: Sequence[Sequence[int]], pad_id: int, device, grad: bool) -> PrefixPass:
    """The pass the learner uses for these distinct prompts: two levels (stems, then the rest of each prompt) where
    that cuts the positions run by ``MIN_TWO_LEVEL_SAVING``, else one."""
    if min(len(p) for p in prompts) >= 2:
        stem_list, index, lengths = stems(prompts)
        one = len(prompts) * max(len(p) for p in prompts)
        two = len(stem_list) * max(map(len, stem_list)) + len(prompts) * max(
            len(p) - n for p, n in zip(prompts, lengths))
        if two <= (1 - MIN_TWO_LEVEL_SAVING) * one:
            parent = PrefixPass(model, stem_list, pad_id, device, grad)
            rests = [p[n:] for p, n in zip(prompts, lengths)]
            return PrefixPass(model, rests, pad_id, device, grad, parent=(parent, index.to(device)))
    return PrefixPass(model, prompts, pad_id, device, grad)


class PrefixPass:
    """One forward of the distinct prompts; ``grad=True`` keeps the graph for ``backward``. With ``parent`` (a
    pass and, for each prompt here, the row of its stem there) the prompts are continuations of the parent's rows
    and run on top of its fanned-out cache."""

    def __init__(self, model, prompts: Sequence[Sequence[int]], pad_id: int, device, grad: bool,
                 parent: tuple[PrefixPass, torch.Tensor] | None = None):
        ids, mask = left_pad(prompts, pad_id)  # every prompt ends at the last column
        self.ids, self.mask = ids.to(device), mask.to(device)
        self.cache_kwarg = _cache_kwarg(model)
        self.parent = parent[0] if parent else None
        if parent:
            base, index = parent
            cache = base.fanned_cache(index)
            self.mask = torch.cat([base.mask.index_select(0, index), self.mask], dim=1)
        else:
            cache = DynamicCache()
        self.width = self.mask.shape[1]
        positions = (self.mask.cumsum(-1) - 1).clamp(min=0)[:, self.width - self.ids.shape[1]:]
        with torch.set_grad_enabled(grad):
            out = model(input_ids=self.ids, attention_mask=self.mask, position_ids=positions, use_cache=True,
                        logits_to_keep=1, **{self.cache_kwarg: cache})
        layers = [(layer.keys, layer.values) for layer in cache.layers]
        if not layers or any(k is None or k.shape[-2] != self.width for k, _ in layers):
            raise RuntimeError("the model did not fill the KV cache; use learner.shared_prefix: false")
        self.roots = [out.logits[:, -1], *(t for kv in layers for t in kv)]
        self.leaves = [t.detach().requires_grad_(grad) for t in self.roots]
        self.grad = grad

    def fanned_cache(self, index: torch.Tensor) -> DynamicCache:
        """A cache holding rows ``index`` of this pass's keys and values (on the gradient path to its leaves)."""
        kv = self.leaves[1:]
        return DynamicCache(ddp_cache_data=[(kv[i].index_select(0, index), kv[i + 1].index_select(0, index))
                                            for i in range(0, len(kv), 2)])

    def completion_logits(self, model, index: torch.Tensor, completion: torch.Tensor, mask: torch.Tensor,
                          temperature: float = 1.0) -> torch.Tensor:
        """Logits (fp32, / temperature) predicting ``completion`` [n, T] of rollouts whose prompts are rows ``index``
        of this pass: the prompt's last-position logits, then the completion's own positions but the last."""
        first = self.leaves[0].index_select(0, index)[:, None]
        t = completion.shape[1]
        if t > 1:
            cache = self.fanned_cache(index)
            attention = torch.cat([self.mask.index_select(0, index), mask[:, : t - 1].long()], dim=1)
            positions = (attention.cumsum(-1) - 1).clamp(min=0)[:, self.width:]
            out = model(input_ids=completion[:, : t - 1], attention_mask=attention, position_ids=positions,
                        use_cache=True, **{self.cache_kwarg: cache})
            logits = torch.cat([first, out.logits], dim=1).float()
        else:
            logits = first.float()
        return logits / temperature if temperature not in (0, 1) else logits

    def backward(self) -> None:
        """Push the gradients the completions left on the leaves through the prefix graph (once), then the parent's
        (which this graph fed)."""
        pairs = [(r, leaf.grad) for r, leaf in zip(self.roots, self.leaves)
                 if leaf.grad is not None and r.requires_grad]  # e.g. LoRA on v_proj only: keys carry no grad
        if self.grad and pairs:
            torch.autograd.backward([r for r, _ in pairs], [g for _, g in pairs])
        self.roots, self.leaves = [], []
        if self.parent is not None:
            self.parent.backward()
