"""Build the configured reflector."""

from __future__ import annotations

from fastslow.config import ReflectorConfig
from fastslow.fastweights.reflectors.base import Reflector


def build_reflector(cfg: ReflectorConfig, seed: int = 0, max_prompt_chars: int = 1000) -> Reflector:
    if cfg.kind == "rulebook":
        from fastslow.fastweights.reflectors.rulebook import RulebookReflector

        return RulebookReflector(max_depth=cfg.max_depth, examples_seen=cfg.examples_seen, noise=cfg.noise, seed=seed)
    from fastslow.fastweights.reflectors.llm import LLMReflector

    return LLMReflector(cfg.model, api_base=cfg.api_base, temperature=cfg.temperature, timeout=cfg.timeout,
                        retries=cfg.retries, max_prompt_chars=max_prompt_chars)
