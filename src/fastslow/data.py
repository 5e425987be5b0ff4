"""The training data stream: batches of B problems with a cursor that a checkpoint can save and restore."""

from __future__ import annotations

from fastslow.task import Problem, Task


class ProblemStream:
    """Deterministic batches of a task's train split. ``peek`` reads ahead without moving the cursor (FST's
    lookahead of the next T batches)."""

    def __init__(self, task: Task, batch_size: int, chunk: int = 4096):
        self.task, self.batch_size, self.chunk = task, batch_size, chunk
        self.cursor = 0  # batches consumed
        self._pool: list[Problem] = []

    def _ensure(self, n_problems: int) -> None:
        if n_problems > len(self._pool):
            size = max(n_problems, len(self._pool) + self.chunk)
            self._pool = list(self.task.problems("train", size))

    def batch(self, index: int) -> list[Problem]:
        start = index * self.batch_size
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

    def __init__(self, tasks: list[Task], batch_size: int, steps_per_stage: int):
        super().__init__(tasks[0], batch_size)
        self.tasks, self.steps_per_stage = tasks, steps_per_stage
        self.streams = [ProblemStream(t, batch_size) for t in tasks]

    def stage(self, index: int) -> int:
        return min(index // self.steps_per_stage, len(self.tasks) - 1)

    def task_at(self, index: int) -> Task:
        return self.tasks[self.stage(index)]

    def batch(self, index: int) -> list[Problem]:
        stage = self.stage(index)
        return self.streams[stage].batch(index - stage * self.steps_per_stage)
