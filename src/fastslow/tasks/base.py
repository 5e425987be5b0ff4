"""The Task contract: what the FST loop needs from a task, written for plug-in authors.

A task owns its problems, how a problem is rendered into chat messages under a system prompt (the fast weights),
and a verifier. The loop, the GEPA round, evaluation and the reflectors only ever talk to a task through this
contract, so a plug-in that follows it works everywhere a built-in family does.

Required (the ``Task`` protocol)
--------------------------------
``name: str``
    A short id used in metric keys (``val_mean@4/<name>``) and problem ids.
``seed_prompt: str``
    The system prompt training starts from (population seed for FST, the fixed prompt for RL).
``problems(split, n) -> Sequence[Problem]``
    The first ``n`` problems of ``split`` in ``SPLITS`` ("train", "val", "test"). Deterministic for the task's
    seed: the same call returns the same problems, and ``problems(split, n)`` is a prefix of
    ``problems(split, m)`` for ``n < m``. The three splits are disjoint (no problem text in two splits).
    Problem ids are unique across splits. Raise ``ValueError`` (naming the split and the limit) when more
    problems are asked for than exist.
``render(problem, system_prompt) -> Messages``
    Chat messages. Use ``render_messages``: ONE system message (the fast-weight prompt, with any system text the
    dataset itself carries merged after it, paper App. D), then the user turn.
``score(problem, completion) -> Score``
    ``Score(reward, feedback, correct)``:
    * ``reward`` in [0, 1], the training signal (may be partial credit);
    * ``feedback``, text a reflector can learn from. It must name the expected answer and the answer extracted
      from the completion, and say why it failed: no answer found, wrong type or unparsable, which part is
      wrong. It must not say anything the task wants to keep hidden from the *policy* (the reflector sees it,
      the policy never does);
    * ``correct``, the evaluation metric (exact success). ``None`` means ``reward >= 1``. Keep it separate from
      a shaped reward: with partial credit on, accuracy is still the fraction exactly solved.
    ``score`` must not raise on a malformed completion (that is a wrong answer: reward 0 with feedback). If it
    raises anyway (a verifier bug, a timeout in executed code), the loop catches it (``safe_score``): that
    rollout gets reward 0, feedback saying the verifier failed, and the failure is counted in the metrics
    (``verifier_errors``); training goes on.

Optional
--------
``gold_completion(problem) -> str``
    A completion that must score reward 1.0. ``validate()`` (on ``TaskBase``) uses it to check the verifier
    against its own gold answers.
``validate(n=...) -> None``
    Self-check; raises ``TaskValidationError`` naming the first problem whose gold answer does not score 1.0.
``size(split) -> int | None``
    How many problems ``split`` holds (None: unbounded, as for procedural families). A task with a finite train
    split must define it: the data stream then walks the split in seeded epochs instead of asking for more.
``description: str``
    One line shown by ``fst tasks``.

``TaskBase`` is a convenience base class that supplies ``render`` and ``validate``; plug-ins need not use it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol, runtime_checkable

from fastslow.errors import FastSlowError

log = logging.getLogger("fastslow.tasks")

SPLITS = ("train", "val", "test")
Messages = list[dict[str, str]]


class TaskValidationError(FastSlowError, ValueError):
    """A task does not meet the contract (a gold answer that does not score 1.0, a missing method...)."""


@dataclass(frozen=True)
class Problem:
    """One problem instance. ``text`` is the user-facing message; ``system`` is any system text the dataset
    itself carries (the fast-weight prompt is merged into it, never sent as a second system message);
    ``metadata`` holds what the verifier needs (gold answer, ...) and is never shown to the policy."""

    id: str
    text: str
    metadata: Mapping = field(default_factory=dict)
    system: str = ""


class Score(NamedTuple):
    reward: float
    feedback: str
    correct: bool | None = None  # evaluation metric; None: reward >= 1

    @property
    def success(self) -> bool:
        return bool(self.correct) if self.correct is not None else self.reward >= 1.0


def render_messages(problem: Problem, system_prompt: str) -> Messages:
    """Chat messages for ``problem`` under ``system_prompt``: one system message, the dataset's own system
    text merged after the prompt (paper, App. D), then the user turn."""
    system = "\n\n".join(part for part in (system_prompt.strip(), problem.system.strip()) if part)
    messages = [{"role": "system", "content": system}] if system else []
    return messages + [{"role": "user", "content": problem.text}]


@runtime_checkable
class Task(Protocol):
    """What the FST loop needs from a task (see the module docstring for the full contract)."""

    name: str
    seed_prompt: str

    def problems(self, split: str, n: int) -> Sequence[Problem]: ...

    def render(self, problem: Problem, system_prompt: str) -> Messages: ...

    def score(self, problem: Problem, completion: str) -> Score: ...


REQUIRED_METHODS = ("problems", "render", "score")


def check_split(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {SPLITS}")


def as_score(value, where: str = "score") -> Score:
    """Accept a ``Score``, or a plain ``(reward, feedback)`` / ``(reward, feedback, correct)`` tuple."""
    if isinstance(value, Score):
        return value
    if isinstance(value, tuple) and len(value) in (2, 3):
        return Score(float(value[0]), str(value[1]), *(value[2:]))
    raise TaskValidationError(f"{where} must return Score(reward, feedback[, correct]), got {value!r}")


def safe_score(task: Task, problem: Problem, completion: str) -> tuple[Score, bool]:
    """``task.score`` that never takes the run down: a verifier that raises gives reward 0 and feedback saying
    the verifier failed. Returns (score, verifier_failed)."""
    try:
        score = as_score(task.score(problem, completion), f"{type(task).__name__}.score")
    except Exception as exc:  # noqa: BLE001 - a user's verifier may raise anything
        log.warning("verifier of task %s raised on problem %s: %s: %s", getattr(task, "name", "?"), problem.id,
                    type(exc).__name__, exc)
        return Score(0.0, f"The verifier failed on this answer ({type(exc).__name__}: {exc}); scored 0.", False), True
    reward = min(1.0, max(0.0, float(score.reward)))
    return (score._replace(reward=reward) if reward != score.reward else score), False


class TaskBase:
    """Optional base class for tasks: the standard ``render`` and a ``validate`` built on ``gold_completion``.
    (It sets no class attributes, so dataclass subclasses keep their own field order and defaults.)"""

    def render(self, problem: Problem, system_prompt: str) -> Messages:
        return render_messages(problem, system_prompt)

    def gold_completion(self, problem: Problem) -> str:
        raise NotImplementedError(f"{type(self).__name__} does not define gold_completion()")

    def validate(self, n: int = 32, splits: Sequence[str] = SPLITS) -> None:
        """Every gold answer of the first ``n`` problems of each split scores reward 1.0 and counts as correct.
        A split smaller than ``n`` (the optional ``size``) is checked whole."""
        size = getattr(self, "size", None)
        for split in splits:
            limit = size(split) if callable(size) else None
            for problem in self.problems(split, n if limit is None else min(n, limit)):  # type: ignore[attr-defined]
                gold = self.gold_completion(problem)
                score = as_score(self.score(problem, gold))  # type: ignore[attr-defined]
                if score.reward != 1.0 or not score.success:
                    raise TaskValidationError(
                        f"task {self.name}: the gold answer of problem {problem.id} scores {score.reward} "
                        f"(correct={score.correct}): {score.feedback}")
