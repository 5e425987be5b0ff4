"""``HFSampler``: our own batched decoding loop over a Hugging Face causal LM (the default backend).

``HFSampler`` works with any Hugging Face causal LM: it runs its own KV-cache decoding loop instead of
``model.generate``, which at small model sizes spends most of its time in per-token Python overhead (logits
processors, stopping criteria, cache bookkeeping), and it drops finished rows from the batch as it goes.

Behaviour log-probs are those of the distribution actually sampled from *before* top-p truncation, i.e.
``log_softmax(logits / temperature)``; a learner that scores the same tokens with the same temperature gets an
importance ratio of exactly 1 for on-policy data.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import torch
from transformers import DynamicCache

from fastslow.rl.batch import left_pad
from fastslow.sampling import fast_decode
from fastslow.sampling.base import ChatSampler, Completion, SamplingParams
from fastslow.sampling.fast_decode import FastDecoder, cache_kwarg


def top_p_filter(logits: torch.Tensor, top_p: float) -> torch.Tensor:
    """Mask logits outside the smallest set whose probability reaches ``top_p`` (the top token always stays)."""
    if top_p >= 1.0:
        return logits
    sorted_logits, order = logits.sort(dim=-1, descending=True)
    cum = sorted_logits.softmax(-1).cumsum(-1)
    drop_sorted = cum - sorted_logits.softmax(-1) >= top_p
    drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
    return logits.masked_fill(drop, float("-inf"))


_M32 = 0xFFFFFFFF


def _mix32(x: torch.Tensor) -> torch.Tensor:
    """A bijective 32-bit integer mixer (lowbias32) on int64 tensors holding values in [0, 2^32). Products may wrap
    past 2^63; the mask keeps their exact low 32 bits, so the result is the same on every device."""
    x = x ^ (x >> 16)
    x = (x * 0x7FEB352D) & _M32
    x = x ^ (x >> 15)
    x = (x * 0x846CA68B) & _M32
    return x ^ (x >> 16)


def row_keys(seeds: Sequence[int], n: int, device=None) -> torch.Tensor:
    """Two 32-bit noise keys per sampled row: sample ``j`` of prompt ``i`` gets keys derived from ``(seeds[i], j)``
    alone, so its draw does not depend on the other rows of the call. Shape [len(seeds) * n, 2]."""
    keys = []
    for seed in seeds:
        for j in range(n):
            digest = hashlib.blake2b(f"{int(seed)}/{j}".encode(), digest_size=8).digest()
            keys.append((int.from_bytes(digest[:4], "little"), int.from_bytes(digest[4:], "little")))
    return torch.tensor(keys, dtype=torch.long, device=device).reshape(-1, 2)


def row_exponentials(keys: torch.Tensor, t: int, vocab: int) -> torch.Tensor:
    """Standard exponential noise for decoding step ``t``, one row per key pair: a counter-based hash of
    (row keys, t, token id), so a row's noise is a function of its own seed and position only (a batched call and
    one call per row draw the same noise; the logits agree up to floating-point differences between batch shapes,
    which in practice leaves the sampled tokens identical, see tests/test_sampler.py)."""
    step = _mix32((keys[:, 0] + t * 0x9E3779B9) & _M32)
    ids = torch.arange(vocab, device=keys.device, dtype=torch.long)
    h = _mix32(_mix32((step[:, None] + ids[None, :] * 0x85EBCA6B) & _M32) ^ keys[:, 1:2])
    u = ((h >> 8).to(torch.float32) + 0.5) * (1.0 / (1 << 24))  # uniform on (0, 1), 24 bits
    return -torch.log(u)


class HFDecoder:
    """Decoding through the model's own forward and cache: works for any causal LM."""

    def __init__(self, model):
        self.model = model
        self.cache_kwarg = cache_kwarg(model)

    def prefill(self, input_ids, mask, positions, max_new: int) -> torch.Tensor:
        self.cache, self.mask = DynamicCache(), mask
        return self._forward(input_ids, positions, logits_to_keep=1)

    def select(self, rows: torch.Tensor) -> None:
        self.cache.batch_select_indices(rows)
        self.mask = self.mask[rows]

    def step(self, tokens: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        self.mask = torch.cat([self.mask, self.mask.new_ones((len(tokens), 1))], dim=-1)
        return self._forward(tokens[:, None], positions[:, None])

    def _forward(self, ids, positions, **kw) -> torch.Tensor:
        out = self.model(input_ids=ids, attention_mask=self.mask, position_ids=positions, use_cache=True,
                         **{self.cache_kwarg: self.cache}, **kw)
        return out.logits[:, -1]


class HFSampler(ChatSampler):
    """Sampler over a Hugging Face causal LM and its tokenizer (chat template required)."""

    def __init__(self, model, tokenizer, batch_size: int = 256, fast: bool | None = None,
                 chat_template_kwargs: dict | None = None):
        self.model = model
        self.chat_template_kwargs = dict(chat_template_kwargs or {})  # e.g. {"enable_thinking": False}
        self.fast = fast_decode.supports(model) if fast is None else fast
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        self.eos_id = tokenizer.eos_token_id
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id

    def sample_ids(self, prompt_ids: Sequence[list[int]], params: SamplingParams, n: int = 1,
                   seeds: Sequence[int] | None = None) -> list[list[Completion]]:
        generator = keys = None
        device = next(self.model.parameters()).device
        if seeds is not None:
            keys = row_keys(seeds, n, device)
        elif params.seed is not None:
            generator = torch.Generator(device=device).manual_seed(params.seed)
        flat = [ids for ids in prompt_ids for _ in range(n)]
        results: list[Completion] = []
        for start in range(0, len(flat), self.batch_size):
            chunk = None if keys is None else keys[start : start + self.batch_size]
            results += self._generate(flat[start : start + self.batch_size], params, generator, chunk)
        return [results[i * n : (i + 1) * n] for i in range(len(prompt_ids))]

    @torch.no_grad()
    def _generate(self, prompts: list[list[int]], params: SamplingParams, generator, keys=None
                  ) -> list[Completion]:
        device = next(self.model.parameters()).device
        # Prefill each distinct prompt once, then fan its KV cache out to its samples (prefix sharing).
        unique: dict[tuple[int, ...], int] = {}
        fan_out = torch.tensor([unique.setdefault(tuple(p), len(unique)) for p in prompts], device=device)
        batch = len(prompts)
        input_ids, mask = (t.to(device) for t in left_pad(list(unique), self.pad_id))
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        was_training = self.model.training
        self.model.eval()
        decoder = FastDecoder(self.model) if self.fast else HFDecoder(self.model)
        logits = decoder.prefill(input_ids, mask, positions, params.max_new_tokens).float()[fan_out]
        decoder.select(fan_out)
        positions = positions[fan_out]
        alive = torch.arange(batch, device=device)  # original row of each row still decoding
        tokens = torch.full((batch, params.max_new_tokens), self.pad_id, dtype=torch.long, device=device)
        logps = torch.zeros((batch, params.max_new_tokens), device=device)
        lengths = torch.zeros(batch, dtype=torch.long, device=device)
        finished = torch.zeros(batch, dtype=torch.bool, device=device)
        next_pos = positions[:, -1] + 1
        for t in range(params.max_new_tokens):
            token, logp = self._pick(logits, params, generator, None if keys is None else keys[alive], t)
            tokens[alive, t] = token
            logps[alive, t] = logp
            lengths[alive] += 1
            done = token == self.eos_id
            finished[alive[done]] = True
            if t == params.max_new_tokens - 1:
                break
            if done.any():  # drop finished rows from the batch and the cache
                if done.all():
                    break
                keep = (~done).nonzero().squeeze(-1)
                alive, token, next_pos = alive[keep], token[keep], next_pos[keep]
                decoder.select(keep)
            logits = decoder.step(token, next_pos).float()
            next_pos = next_pos + 1
        if was_training:
            self.model.train()
        tokens, logps, lengths = tokens.tolist(), logps.tolist(), lengths.tolist()
        completions = []
        for i, prompt in enumerate(prompts):
            ids = tokens[i][: lengths[i]]
            completions.append(Completion(
                prompt_ids=list(prompt), token_ids=ids, logprobs=logps[i][: lengths[i]],
                text=self.tokenizer.decode(ids, skip_special_tokens=True), finished=bool(finished[i]),
            ))
        return completions

    @staticmethod
    def _pick(logits: torch.Tensor, params: SamplingParams, generator, keys: torch.Tensor | None = None,
              t: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
        if params.temperature == 0:  # greedy; behaviour log-probs are those of the untempered model
            logp_all = logits.log_softmax(-1)
            token = logits.argmax(-1)
        else:
            scaled = logits / params.temperature
            logp_all = scaled.log_softmax(-1)
            probs = top_p_filter(scaled, params.top_p).softmax(-1)
            # Exponential race (Gumbel-max in another guise): an exact draw from ``probs``, much cheaper than
            # torch.multinomial for small batches.
            if keys is None:
                race = torch.empty_like(probs).exponential_(generator=generator)
            else:  # per-row noise (see ``row_exponentials``)
                race = row_exponentials(keys, t, probs.shape[-1])
            token = (probs / race).argmax(-1)
        return token, logp_all.gather(-1, token[:, None]).squeeze(-1)
