"""An LLM reflector: asks a real language model, through litellm, for an incrementally edited system prompt.

Why litellm: one call reaches any provider litellm supports (OpenAI, Anthropic, Gemini, Bedrock, ...) by the model
string alone (``"openai/gpt-4o-mini"``, ``"anthropic/claude-..."``), and a local OpenAI-compatible server such as
vLLM or llama.cpp is reached with ``api_base`` (e.g. ``LLMReflector("hosted_vllm/Qwen/Qwen3-8B",
api_base="http://localhost:8000/v1")``). litellm is an optional dependency (``pip install fastslow[llm]``) and is
imported only inside ``propose``, so importing fastslow never needs it.

Fail fast, never degrade silently (issue 20). ``preflight()`` makes one short call before training starts (the
factory calls it when it builds the reflector): a missing litellm, a bad model name, bad credentials or an
unreachable ``api_base`` raise ``ReflectorError`` naming the model and the endpoint, so a run never trains for
hours as RL with K copies of the seed prompt. litellm missing mid-run raises the same error.

Why other failures return ``None`` during the run: a GEPA round that gets ``None`` skips that proposal and training
goes on. A timeout, a dropped connection, a rate limit, an answer without a fenced block or one over the length cap
must not kill a training run that may have been going for hours, so ``propose`` does not raise for API or answer
problems; it records the failure by kind in ``stats`` (``stats.fail``: ``outcomes``, a warning in ``warnings``)
and logs it on the ``fastslow.reflector`` logger. The round counts every outcome, logs a round whose proposals all
failed with the reasons, and ``population.max_failed_rounds`` such rounds in a row stop the run. A ``TypeError``
from ``check_examples`` (a non-string example) does raise: that is a bug in the caller, not bad luck.

Retry policy:

* ``retries`` is the number of *retries after the first attempt*: ``retries=3`` means up to 4 API calls, with
  ``sleep(backoff * 2**k)`` before retry ``k`` (delays 1, 2, 4 s for ``backoff=1``). Any exception from the API call
  is retried (timeouts, connection errors, rate limits, 5xx), except errors that cannot heal by waiting
  (authentication, permission, model not found, bad request such as a context-window overflow), which give up at
  once. litellm's / the OpenAI client's own retries are switched off (``max_retries=0``) so the attempts do not
  multiply.
* An *unusable answer* (no fenced block, an empty one, no text at all, a proposal longer than
  ``max_prompt_chars``, or one carrying chat-template or thinking residue) is **not** retried: the call succeeded
  and was paid for, a second sample is left to the next GEPA round.

Thinking models: the answer's thinking is removed before the fenced prompt is taken (``strip_thinking``: every
``<think>...</think>`` block, everything before a lone ``</think>`` when the chat template opened the block, and an
unterminated leading ``<think>`` block, which leaves nothing usable). A proposal that still carries template or
thinking tokens (``<|im_start|>``, ``<|im_end|>``, ``<|endoftext|>``, ``<think>``, ``</think>``, ``[INST]``,
``<s>``, ``<|eot_id|>``, ...; see ``proposer_prompt.TEMPLATE_RESIDUE``) is rejected as a failure: such tokens in a
system prompt would corrupt every rollout rendered under it.

Tokens (``response.usage``) and cost (``litellm.completion_cost``, 0.0 for models litellm has no price for, such as
local servers or mock responses of unpriced models) are counted for every answer received, usable or not.

For a local server prefer the ``hosted_vllm/`` prefix, which needs no API key: with ``openai/<model>`` and no
``OPENAI_API_KEY`` set, litellm 1.110 reports the missing key as an ``InternalServerError`` (retried in vain).

Note: on import litellm tries to download its model price map; unless ``LITELLM_LOCAL_MODEL_COST_MAP`` is already
set, we set it to use the copy bundled with litellm instead (training must not depend on the network). litellm's
own chatter ("Provider List: ...", printed on every failed call; its INFO/DEBUG logging) is silenced
(``suppress_debug_info``, the ``LiteLLM`` loggers at WARNING): our own log says what failed and why.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence

from fastslow.fastweights.reflectors.base import (
    CALL_FAILED,
    RESIDUE,
    TOO_LONG,
    UNUSABLE,
    ReflectorError,
    ReflectorStats,
    check_examples,
)
from fastslow.fastweights.reflectors.proposer_prompt import (
    build_proposer_prompt,
    extract_fenced,
    find_template_residue,
    strip_thinking,
)

log = logging.getLogger("fastslow.reflector")

# litellm exception class names that waiting cannot fix: give up without retrying.
_NON_RETRYABLE = ("AuthenticationError", "PermissionDeniedError", "NotFoundError", "BadRequestError")


MAX_DELAY_S = 60.0  # the backoff doubles per retry, up to this: retries stay bounded in time too

# Preflight: a short prompt and a small answer; a thinking model may spend them all on thinking, which is fine: only
# the call's success is checked, not its text.
PREFLIGHT_MESSAGE = "fastslow reflector preflight: reply with the single word OK."
PREFLIGHT_TOKENS = 16

_HINTS = {
    "AuthenticationError": "check the API key (e.g. OPENAI_API_KEY / ANTHROPIC_API_KEY) for this provider",
    "PermissionDeniedError": "the key is valid but may not use this model",
    "NotFoundError": "check population.reflector.model (is that model served at this endpoint?)",
    "BadRequestError": "check population.reflector.model: litellm needs a provider prefix such as "
                       "'openai/...', 'anthropic/...' or 'hosted_vllm/...' for a local server",
    "APIConnectionError": "is the server at population.reflector.api_base running and reachable?",
    "Timeout": "the endpoint did not answer within population.reflector.timeout seconds",
}

_UNREACHABLE = ("Connection refused", "ConnectError", "Name or service not known", "No route to host",
                "Connection error")


def import_litellm():
    """litellm, quiet and offline (see the module docstring); ``ReflectorError`` when it is not installed."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no price-list download on import
    try:
        import litellm
    except ImportError:
        raise ReflectorError("population.reflector.kind: llm needs litellm, which is not installed: "
                             "pip install 'fastslow[llm]'") from None
    litellm.suppress_debug_info = True  # no "Provider List: ..." / "Give Feedback" banners on every failed call
    for name in ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy", "litellm"):
        logging.getLogger(name).setLevel(max(logging.WARNING, logging.getLogger(name).level))
    return litellm


def _short(exc: BaseException, limit: int = 300) -> str:
    text = str(exc).strip().replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 3] + "..."


class LLMReflector:
    """Propose an incrementally edited system prompt with an LLM reached through litellm (see module docstring)."""

    def __init__(self, model: str, api_base: str | None = None, temperature: float = 1.0, timeout: float = 60,
                 retries: int = 3, backoff: float = 1.0, max_prompt_chars: int = 2000, max_tokens: int = 1024,
                 mock_response: str | None = None, sleep: Callable[[float], object] = time.sleep):
        if not isinstance(model, str) or not model:
            raise ValueError("model must be a non-empty litellm model string such as 'openai/gpt-4o-mini'")
        if retries < 0:
            raise ValueError(f"retries must be >= 0, got {retries}")
        if backoff < 0:
            raise ValueError(f"backoff must be >= 0, got {backoff}")
        if max_prompt_chars <= 0:
            raise ValueError(f"max_prompt_chars must be > 0, got {max_prompt_chars}")
        self.model = model
        self.api_base = api_base
        self.temperature = temperature
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.max_prompt_chars = max_prompt_chars
        self.max_tokens = max_tokens
        self.mock_response = mock_response
        self.sleep = sleep
        self.name = f"llm:{model}"
        self.stats = ReflectorStats()

    # -- helpers ---------------------------------------------------------------------------------------------------

    @property
    def endpoint(self) -> str:
        return self.api_base or "the provider's default endpoint"

    def _fail(self, kind: str, message: str) -> None:
        self.stats.fail(kind, message)
        log.warning(message)

    def _call(self, litellm, kwargs: dict):
        """``litellm.completion`` with the retry policy of the module docstring: (response, None) or (None, the last
        exception)."""
        attempts = self.retries + 1
        for attempt in range(attempts):
            try:
                return litellm.completion(**kwargs), None
            except Exception as exc:  # noqa: BLE001 - every API problem is judged here, not raised
                kind = type(exc).__name__
                if kind in _NON_RETRYABLE or attempt == attempts - 1:
                    exc.fastslow_attempts = attempt + 1
                    return None, exc
                delay = min(self.backoff * 2**attempt, MAX_DELAY_S)
                log.info("%s: attempt %d/%d failed with %s: %s; retrying in %.3gs", self.name, attempt + 1,
                         attempts, kind, _short(exc), delay)
                self.sleep(delay)
        raise AssertionError("unreachable")

    def preflight(self) -> None:
        """One short call before training (see the module docstring): returns when the reflector works, else raises
        ``ReflectorError`` naming the model, the endpoint, what failed and what to check."""
        litellm = import_litellm()
        kwargs = self._completion_kwargs(PREFLIGHT_MESSAGE)
        kwargs["max_tokens"] = PREFLIGHT_TOKENS
        response, exc = self._call(litellm, kwargs)
        if exc is not None:
            kind = type(exc).__name__
            hint = next((h for k, h in _HINTS.items() if k in kind), "see the error above")
            if any(m in str(exc) for m in _UNREACHABLE):  # litellm reports a refused connection as a 500
                hint = _HINTS["APIConnectionError"]
            raise ReflectorError(f"reflector preflight failed: model {self.model!r} at {self.endpoint} gave {kind} "
                                 f"after {exc.fastslow_attempts} attempt(s): {_short(exc)}. {hint}. The run did "
                                 "not start (an FST run without a working reflector would be RL with K copies of "
                                 "the seed prompt).") from None
        self._count_usage(litellm, response)
        log.info("%s: preflight call to %s succeeded", self.name, self.endpoint)

    def _count_usage(self, litellm, response) -> None:
        usage = getattr(response, "usage", None)
        if usage is not None:
            self.stats.prompt_tokens += int(getattr(usage, "prompt_tokens", 0) or 0)
            self.stats.completion_tokens += int(getattr(usage, "completion_tokens", 0) or 0)
        try:
            cost = litellm.completion_cost(completion_response=response)
            self.stats.cost_usd += float(cost or 0.0)
        except Exception as exc:  # noqa: BLE001 - no price known (local server, unpriced mock): count it as free
            log.debug("%s: no cost for this answer (%s: %s); counted as 0", self.name, type(exc).__name__,
                      _short(exc))

    def _completion_kwargs(self, message: str) -> dict:
        kwargs = {"model": self.model, "messages": [{"role": "user", "content": message}],
                  "temperature": self.temperature, "timeout": self.timeout, "api_base": self.api_base,
                  "max_tokens": self.max_tokens,
                  "max_retries": 0}  # litellm / the OpenAI client must not retry inside our retry loop
        if self.mock_response is not None:
            kwargs["mock_response"] = self.mock_response
        return kwargs

    # -- the contract ----------------------------------------------------------------------------------------------

    def propose(self, current_prompt: str, examples: Sequence[Mapping[str, str]]) -> str | None:
        examples = check_examples(current_prompt, examples)  # TypeError on a contract violation: a caller bug
        self.stats.calls += 1
        litellm = import_litellm()  # ReflectorError: cannot heal, so it stops the run (the preflight catches it first)
        kwargs = self._completion_kwargs(build_proposer_prompt(current_prompt, examples, self.max_prompt_chars))
        response, exc = self._call(litellm, kwargs)
        if exc is not None:
            kind = type(exc).__name__
            why = "not retryable" if kind in _NON_RETRYABLE else f"after {exc.fastslow_attempts} attempt(s)"
            self._fail(CALL_FAILED, f"{self.name}: call to {self.endpoint} failed ({why}) with {kind}: "
                                    f"{_short(exc)}. Proposal skipped.")
            return None
        self._count_usage(litellm, response)
        try:
            text = response.choices[0].message.content
        except (AttributeError, IndexError, TypeError) as exc:
            self._fail(UNUSABLE, f"{self.name}: unusable answer (no message: {type(exc).__name__}). Proposal "
                                 "skipped.")
            return None
        if not isinstance(text, str) or not text.strip():
            self._fail(UNUSABLE, f"{self.name}: unusable answer (empty). Proposal skipped.")
            return None
        answer = strip_thinking(text)
        proposal = extract_fenced(answer)
        if proposal is None:
            if not answer.strip():
                why = "nothing but thinking: an unfinished <think> block?"
            else:
                why = "no non-empty ``` block" + (" after its thinking was removed" if answer != text else "")
                residue = find_template_residue(text)
                why += f"; it carries chat-template or thinking residue {residue!r}" if residue else ""
            self._fail(UNUSABLE, f"{self.name}: unusable answer ({why}): {_short(text, 200)!r}. Proposal skipped.")
            return None
        residue = find_template_residue(proposal)
        if residue is not None:
            self._fail(RESIDUE, f"{self.name}: proposal rejected: it carries chat-template or thinking residue "
                                f"{residue!r} (a thinking model or a mismatched chat template?): "
                                f"{_short(proposal, 200)!r}. Proposal skipped.")
            return None
        if len(proposal) > self.max_prompt_chars:
            self._fail(TOO_LONG, f"{self.name}: proposal rejected: {len(proposal)} characters exceeds the length "
                                 f"cap max_prompt_chars={self.max_prompt_chars}. Proposal skipped.")
            return None
        self.stats.proposals += 1
        return proposal
