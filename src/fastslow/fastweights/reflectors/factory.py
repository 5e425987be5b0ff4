"""Build the configured reflector: ``rulebook`` (the simulated reflector), ``llm`` (litellm) or ``python`` (your own).

``kind: python`` loads ``id: package.module:attr`` (or ``path/to/file.py:attr``, resolved like a task id, see
``fastslow.plugins``). ``attr`` is a class or a factory, called with ``args`` (plus ``seed=`` the run seed and
``max_prompt_chars=`` the population's prompt cap when its signature takes them and ``args`` does not give them),
or a ready object. What it returns needs ``propose(current_prompt, examples) -> str | None`` (see
``reflectors.base``). If it keeps its own ``stats`` (a ``ReflectorStats``, or anything with the same counters) it
is used as it is; otherwise it is wrapped so that calls, proposals and failures are counted for the metrics, and a
``propose`` that raises or returns something other than a string counts as a failure (proposal skipped, training
goes on), as for the built-in reflectors.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from fastslow.config import ReflectorConfig
from fastslow.fastweights.reflectors.base import CALL_FAILED, UNUSABLE, Reflector, ReflectorStats
from fastslow.plugins import PluginLoadError, call_factory, import_target

log = logging.getLogger("fastslow.reflector")

STATS_FIELDS = ("calls", "proposals", "failures", "prompt_tokens", "completion_tokens", "cost_usd", "warnings")


def build_reflector(cfg: ReflectorConfig, seed: int = 0, max_prompt_chars: int = 1000,
                    preflight: bool | None = None) -> Reflector:
    """The reflector ``cfg`` describes. An LLM reflector is checked with one short call first (``preflight``,
    default ``cfg.preflight``): a reflector that cannot work stops the run before training starts (issue 20)."""
    if cfg.kind == "rulebook":
        from fastslow.fastweights.reflectors.rulebook import RulebookReflector

        return RulebookReflector(max_depth=cfg.max_depth, examples_seen=cfg.examples_seen, noise=cfg.noise, seed=seed,
                                 reframe=cfg.reframe)
    if cfg.kind == "python":
        return load_reflector(cfg.id, cfg.args, seed=seed, max_prompt_chars=max_prompt_chars)
    from fastslow.fastweights.reflectors.llm import LLMReflector

    reflector = LLMReflector(cfg.model, api_base=cfg.api_base, temperature=cfg.temperature, timeout=cfg.timeout,
                             retries=cfg.retries, backoff=cfg.backoff, max_prompt_chars=max_prompt_chars,
                             max_tokens=cfg.max_tokens)
    if cfg.preflight if preflight is None else preflight:
        reflector.preflight()
    return reflector


def load_reflector(target: str, args: Mapping | None = None, seed: int = 0,
                   max_prompt_chars: int = 1000) -> Reflector:
    """The custom reflector ``target`` names (see the module docstring); errors name the id and what is wrong."""
    what = f"population.reflector.id {target!r}"
    obj = import_target(target, what)
    ready = not isinstance(obj, type) and callable(getattr(obj, "propose", None))
    if ready:
        if args:
            raise PluginLoadError(f"{what} is a ready reflector object ({type(obj).__name__}), so it takes no "
                                  f"population.reflector.args (got {dict(args)!r})")
    elif callable(obj):
        obj = call_factory(obj, args or {}, what, extras={"seed": seed, "max_prompt_chars": max_prompt_chars})
    else:
        raise PluginLoadError(f"{what} names a {type(obj).__name__}, not a reflector class, factory or object")
    if not callable(getattr(obj, "propose", None)):
        raise PluginLoadError(f"{what} gave {type(obj).__name__}, which has no method propose(current_prompt, "
                              "examples) -> str | None (the reflector contract, fastslow.fastweights.reflectors.base)")
    stats = getattr(obj, "stats", None)
    if stats is None:
        return CountingReflector(obj, name=str(getattr(obj, "name", None) or f"python:{target}"))
    missing = [f for f in STATS_FIELDS if not hasattr(stats, f)]
    if missing:
        raise PluginLoadError(f"{what} gave {type(obj).__name__}, whose stats lacks {', '.join(missing)}; use "
                              "fastslow.fastweights.reflectors.ReflectorStats, or define no stats (fastslow then "
                              "counts calls, proposals and failures itself)")
    if not isinstance(getattr(obj, "name", None), str):
        try:
            obj.name = f"python:{target}"
        except AttributeError:
            pass
    return obj


class CountingReflector:
    """Wraps a reflector that keeps no ``stats``: counts its calls, proposals and failures, and turns an exception
    or a non-string answer into a counted failure (``None``: the proposal is skipped) with a warning. Other
    attributes (an ``rng`` for checkpoints, ...) are read through from the wrapped object."""

    def __init__(self, inner, name: str):
        self.inner = inner
        self.name = name
        self.stats = ReflectorStats()

    def __getattr__(self, attr):
        if attr == "inner":  # not set yet (unpickling): no recursion
            raise AttributeError(attr)
        return getattr(self.inner, attr)

    def _fail(self, kind: str, message: str) -> None:
        self.stats.fail(kind, message)
        log.warning(message)

    def propose(self, current_prompt: str, examples: Sequence[Mapping[str, str]]) -> str | None:
        self.stats.calls += 1
        try:
            proposal = self.inner.propose(current_prompt, examples)
        except Exception as exc:  # noqa: BLE001 - a user's reflector must not end a training run
            self._fail(CALL_FAILED, f"{self.name}: propose raised {type(exc).__name__}: {exc}. Proposal skipped.")
            return None
        if proposal is None:
            return None
        if not isinstance(proposal, str) or not proposal.strip():
            self._fail(UNUSABLE, f"{self.name}: propose returned {type(proposal).__name__} {proposal!r:.80}, not a "
                                 "non-empty string. Proposal skipped.")
            return None
        self.stats.proposals += 1
        return proposal
