"""The training data stream: batches of B problems with a cursor that a checkpoint can save and restore.

Procedural tasks have an unbounded train split; datasets read from files have a finite one (a task says so through
the optional ``size("train")``). A finite split is walked in epochs, each a seeded permutation of the pool, so a
run can be longer than one pass and stays reproducible: batch ``i`` is a pure function of ``i``.
"""

from __future__ import annotations

import random

from fastslow.tasks.base import Problem, Task


def train_size(task: Task) -> int | None:
    """The number of train problems, or None when the split is unbounded (the optional ``size`` method)."""
    size = getattr(task, "size", None)
    return size("train") if callable(size) else None


class ProblemStream:
    """Deterministic batches of a task's train split. ``peek`` reads ahead without moving the cursor (FST's
    lookahead of the next T batches)."""

    def __init__(self, task: Task, batch_size: int, chunk: int = 256, seed: int = 0):
        self.task, self.batch_size, self.chunk, self.seed = task, batch_size, chunk, seed
        self.cursor = 0  # batches consumed
        self._pool: list[Problem] = []
        self._finite = train_size(task)
        if self._finite is not None:
            if self._finite < 1:
                raise ValueError(f"task {task.name!r} has no train problems")
            self._pool = list(task.problems("train", self._finite))
            self._epochs: dict[int, list[int]] = {}

    def _ensure(self, n_problems: int) -> None:
        if n_problems > len(self._pool):  # grow geometrically: some families build problems expensively (codeio)
            size = max(n_problems, 2 * len(self._pool), self.chunk)
            self._pool = list(self.task.problems("train", size))

    def _position(self, k: int) -> Problem:
        """The k-th problem of the stream of a finite split: epoch k // N, a seeded permutation of the pool."""
        n = len(self._pool)
        epoch, offset = divmod(k, n)
        if epoch not in self._epochs:
            order = list(range(n))
            if epoch:  # the first epoch keeps the task's own order
                random.Random(f"{self.task.name}|epoch|{epoch}|{self.seed}").shuffle(order)
            self._epochs = {epoch: order}  # one epoch cached at a time is enough for sequential reads
        return self._pool[self._epochs[epoch][offset]]

    def batch(self, index: int) -> list[Problem]:
        start = index * self.batch_size
        if self._finite is not None:
            return [self._position(k) for k in range(start, start + self.batch_size)]
        self._ensure(start + self.batch_size)
        return self._pool[start : start + self.batch_size]

    def peek(self, n_batches: int) -> list[list[Problem]]:
        return [self.batch(self.cursor + i) for i in range(n_batches)]

    def task_at(self, index: int) -> Task:
        return self.task

    def next(self) -> list[Problem]:
        out = self.batch(self.cursor)
        self.cursor += 1
        return out


class StagedProblemStream(ProblemStream):
    """A continual-learning stream: task i supplies batches ``[i * steps_per_stage, (i + 1) * steps_per_stage)``
    (the last task continues after that). Batch index = RL step, so a stage switch happens between steps."""

    def __init__(self, tasks: list[Task], batch_size: int, steps_per_stage: int, seed: int = 0):
        self.tasks, self.steps_per_stage = tasks, steps_per_stage
        self.streams = [ProblemStream(t, batch_size, seed=seed) for t in tasks]
        self.task, self.batch_size, self.cursor = tasks[0], batch_size, 0

    def stage(self, index: int) -> int:
        return min(index // self.steps_per_stage, len(self.tasks) - 1)

    def task_at(self, index: int) -> Task:
        return self.tasks[self.stage(index)]

    def batch(self, index: int) -> list[Problem]:
        stage = self.stage(index)
        return self.streams[stage].batch(index - stage * self.steps_per_stage)
