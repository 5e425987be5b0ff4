"""The task protocol shared by every task, toy or real.

A task owns its problems, how a problem is rendered into chat messages under a system prompt (the fast weights),
and a verifier that returns a reward in [0, 1] *and* feedback text. The feedback is what a reflector learns from,
so it must say what was expected, what was produced and where it went wrong, not just repeat the number.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol, runtime_checkable


@dataclass(frozen=True)
class Problem:
    """One problem instance. ``text`` is the user-facing message; ``system`` is any system text the dataset
    itself carries (the fast-weight prompt is merged into it, never sent as a second system message)."""

    id: str
    text: str
    metadata: Mapping = field(default_factory=dict)
    system: str = ""


class Score(NamedTuple):
    reward: float
    feedback: str


Messages = list[dict[str, str]]


def render_messages(problem: Problem, system_prompt: str) -> Messages:
    """Chat messages for ``problem`` under ``system_prompt``: one system message, the dataset's own system
    text merged after the prompt (paper, App. D), then the user turn."""
    system = "\n\n".join(part for part in (system_prompt.strip(), problem.system.strip()) if part)
    messages = [{"role": "system", "content": system}] if system else []
    return messages + [{"role": "user", "content": problem.text}]


@runtime_checkable
class Task(Protocol):
    """What the FST loop needs from a task."""

    name: str
    seed_prompt: str

    def problems(self, split: str, n: int) -> Sequence[Problem]:
        """The first ``n`` problems of ``split`` ("train", "val" or "test"), deterministic for the task's seed."""
        ...

    def render(self, problem: Problem, system_prompt: str) -> Messages: ...

    def score(self, problem: Problem, completion: str) -> Score: ...
