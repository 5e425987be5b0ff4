"""Seeded procedural generation of Rulebook inputs and problems."""

from __future__ import annotations

import random

from fastslow.rulebook.answer import format_answer
from fastslow.rulebook.primitives import ALPHABET
from fastslow.rulebook.program import Program

MIN_LEN, MAX_LEN = 3, 10
MAX_INTERMEDIATE_LEN = 20  # keeps answers short enough for a small context window


def random_input(rng: random.Random) -> str:
    return "".join(rng.choice(ALPHABET) for _ in range(rng.randint(MIN_LEN, MAX_LEN)))


def valid_trace(trace: list[str]) -> bool:
    return all(0 < len(s) <= MAX_INTERMEDIATE_LEN for s in trace)


def sample_example(program: Program, rng: random.Random, exclude: frozenset[str] = frozenset(),
                   max_tries: int = 1000) -> tuple[str, list[str]]:
    """An input whose every intermediate result is non-empty and short, with the program's trace."""
    for _ in range(max_tries):
        source = random_input(rng)
        if source in exclude:
            continue
        trace = program.trace(source)
        if valid_trace(trace):
            return source, trace
    raise ValueError(f"could not find a valid input for program {program.spec!r} in {max_tries} tries")


def target_text(trace: list[str]) -> str:
    return format_answer(trace)
