"""Rulebook programs: compositions of 1-3 primitives, their spec strings and canonical instructions."""

from __future__ import annotations

import random
from dataclasses import dataclass

from fastslow.errors import ProgramSpecError
from fastslow.rulebook.primitives import PRIMITIVES

MAX_DEPTH = 3


@dataclass(frozen=True)
class Step:
    """One primitive with bound parameters, e.g. ``shift:2``."""

    name: str
    params: tuple = ()

    def __call__(self, s: str) -> str:
        return PRIMITIVES[self.name].fn(s, *self.params)

    @property
    def spec(self) -> str:
        return ":".join([self.name, *map(str, self.params)])

    @property
    def instruction(self) -> str:
        return PRIMITIVES[self.name].phrase(*self.params)

    @classmethod
    def parse(cls, spec: str) -> Step:
        name, *raw = spec.strip().split(":")
        if name not in PRIMITIVES:
            raise ProgramSpecError(
                f"unknown primitive {name!r} in step {spec!r}; known primitives: {', '.join(PRIMITIVES)}"
            )
        prim = PRIMITIVES[name]
        if len(raw) != prim.arity:
            raise ProgramSpecError(f"primitive {name!r} takes {prim.arity} parameter(s), got {len(raw)} in {spec!r}")
        params = []
        for value, domain in zip(raw, prim.param_domains):
            typed = int(value) if isinstance(domain[0], int) and value.lstrip("-").isdigit() else value
            if typed not in domain:
                allowed = ", ".join(map(str, domain))
                raise ProgramSpecError(f"parameter {value!r} of {name!r} is not allowed; allowed: {allowed}")
            params.append(typed)
        return cls(name, tuple(params))


@dataclass(frozen=True)
class Program:
    """A hidden rule: steps applied left to right."""

    steps: tuple[Step, ...]

    def __post_init__(self) -> None:
        if not 1 <= len(self.steps) <= MAX_DEPTH:
            raise ProgramSpecError(f"a program has 1 to {MAX_DEPTH} steps, got {len(self.steps)}")

    @property
    def depth(self) -> int:
        return len(self.steps)

    @property
    def spec(self) -> str:
        return "|".join(step.spec for step in self.steps)

    @property
    def instruction(self) -> str:
        """The one canonical phrasing, e.g. "Reverse the string, then shift each letter forward by 2." """
        text = ", then ".join(step.instruction for step in self.steps)
        return text[0].upper() + text[1:] + "."

    def trace(self, s: str) -> list[str]:
        """Intermediate strings after each step (the last one is the answer)."""
        out = []
        for step in self.steps:
            s = step(s)
            out.append(s)
        return out

    def __call__(self, s: str) -> str:
        return self.trace(s)[-1]

    @classmethod
    def parse(cls, spec: str) -> Program:
        if not isinstance(spec, str) or not spec.strip():
            raise ProgramSpecError(f"empty program spec {spec!r}; expected e.g. 'reverse|shift:2'")
        return cls(tuple(Step.parse(part) for part in spec.split("|")))


def random_step(rng: random.Random) -> Step:
    prim = PRIMITIVES[rng.choice(sorted(PRIMITIVES))]
    params = tuple(rng.choice(domain) for domain in prim.param_domains)
    if prim.name == "replace":
        while params[0] == params[1]:
            params = (params[0], rng.choice(prim.param_domains[1]))
    return Step(prim.name, params)


def random_program(rng: random.Random, depth: int) -> Program:
    """A uniformly random program of the given depth with no immediately repeated primitive."""
    steps: list[Step] = []
    while len(steps) < depth:
        step = random_step(rng)
        if steps and steps[-1].name == step.name:
            continue
        steps.append(step)
    return Program(tuple(steps))
