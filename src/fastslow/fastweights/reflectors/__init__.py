"""Reflectors: propose an edited system prompt from a reflective dataset of plain strings."""

from fastslow.fastweights.reflectors.base import Reflector, ReflectorStats, check_examples

__all__ = ["Reflector", "ReflectorStats", "check_examples"]
