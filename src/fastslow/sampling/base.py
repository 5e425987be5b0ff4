"""What every generation backend returns: sampled tokens *and* the behaviour log-probs the learner needs.

The interface is deliberately narrow (chat messages in, completions out) so that the learner, GEPA rounds and
evaluation never know which engine generated a completion: ``HFSampler`` (our own KV-cache loop over any Hugging
Face causal LM), ``VLLMSampler`` (an in-process vLLM engine) or ``OpenAISampler`` (any OpenAI-compatible server).

Behaviour log-probs are those of the distribution sampled from *before* top-p truncation, i.e.
``log_softmax(logits / temperature)``: a learner that scores the same tokens with the same temperature gets an
importance ratio of exactly 1 for on-policy data. Greedy decoding (temperature 0) reports the untempered
``log_softmax(logits)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from fastslow.tasks.base import Messages


@dataclass(frozen=True)
class SamplingParams:
    temperature: float = 1.0
    top_p: float = 1.0
    max_new_tokens: int = 48
    seed: int | None = None

    def __post_init__(self) -> None:
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be >= 1, got {self.max_new_tokens}")


@dataclass
class Completion:
    """One sampled completion. ``logprobs[i]`` is the behaviour log-prob of ``token_ids[i]``."""

    prompt_ids: list[int]
    token_ids: list[int]
    logprobs: list[float]
    text: str
    finished: bool  # stopped on EOS rather than on the token limit
    meta: dict = field(default_factory=dict)


class Sampler(Protocol):
    def sample(self, prompts: Sequence[Messages], params: SamplingParams, n: int = 1) -> list[list[Completion]]:
        """``n`` completions for each chat prompt (outer list follows ``prompts``)."""
        ...


def request_seed(params: SamplingParams, n: int, index: int, seeds: Sequence[int] | None = None) -> int | None:
    """The seed of the ``index``-th request of a call to an engine that seeds per request (``n`` samples each, the
    engine giving sample ``j`` ``seed + j``): ``seeds[index]`` when the caller gives one per prompt, else
    ``params.seed + index * n`` (None: unseeded), so a row's draw does not depend on the other rows of the call."""
    if seeds is not None:
        return int(seeds[index]) % 2**62
    return None if params.seed is None else (params.seed + index * n) % 2**62


class ChatSampler:
    """The front half every backend shares: chat messages rendered with the model's own chat template (plus
    ``chat_template_kwargs``, e.g. Qwen3's ``enable_thinking``), then sampled as token ids by ``sample_ids``. Token
    ids, not text, cross the seam, so every backend scores exactly the tokens the learner will see."""

    tokenizer: object
    chat_template_kwargs: dict

    def encode(self, messages: Messages) -> list[int]:
        text = self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True,
                                                  **self.chat_template_kwargs)
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def sample(self, prompts: Sequence[Messages], params: SamplingParams, n: int = 1,
               seeds: Sequence[int] | None = None) -> list[list[Completion]]:
        """``seeds`` (optional, one per prompt): per-row seeding. Sample ``j`` of prompt ``i`` then depends only on
        (its prompt, ``seeds[i]``, ``j``, the weights), not on the other prompts of the call, so callers can batch
        freely and still get the draws a call per prompt would give. Without it, ``params.seed`` seeds the call."""
        if seeds is not None and len(seeds) != len(prompts):
            raise ValueError(f"{len(seeds)} seeds for {len(prompts)} prompts")
        return self.sample_ids([self.encode(m) for m in prompts], params, n, seeds=seeds)

    def sample_ids(self, prompt_ids: Sequence[list[int]], params: SamplingParams, n: int = 1,
                   seeds: Sequence[int] | None = None) -> list[list[Completion]]:
        raise NotImplementedError
