"""Finite-pool tasks: a fixed list of problems (a JSONL file, a data set) split once into train / val / test.

Shared by the families whose problems come from data rather than a generator (math, mcq, hover): the split is a
seeded shuffle of the *distinct* problem texts (``splits.split_indices``), so no text is in two splits; ``size``
tells the data stream that the train split is finite (it is then walked in epochs) and ``TaskBase.validate`` not
to ask a (possibly tiny) split for more problems than it holds.
"""

from __future__ import annotations

from fastslow.errors import FastSlowError
from fastslow.tasks.base import Problem, TaskBase, check_split
from fastslow.tasks.splits import split_indices, take


def holdout_sizes(n: int, val: int | float | None, test: int | float | None) -> tuple[int | float, int | float]:
    """Val/test sizes for a pool of ``n`` distinct problems: None means 10% of the pool, at most 100 and (for pools
    of 3 or more) at least 1, so tiny data sets still have something to evaluate on."""

    def default() -> int:
        return min(100, max(1 if n >= 3 else 0, round(0.1 * n)))

    return (default() if val is None else val), (default() if test is None else test)


class PoolTask(TaskBase):
    """Shared plumbing of the finite-pool families (math, mcq): a list of problems per split, sizes, and a
    ``validate`` that checks at most as many problems as a (possibly tiny) split holds."""

    name: str
    _pool: dict[str, list[Problem]]

    def size(self, split: str) -> int:
        """How many problems ``split`` holds (the largest ``n`` that ``problems(split, n)`` accepts)."""
        check_split(split)
        return len(self._pool[split])

    def problems(self, split: str, n: int) -> list[Problem]:
        return take(self._pool, split, n, f"task {self.name}")

    def _split(self, problems: list[Problem], keys: list[str], seed: int, val, test) -> dict[str, list[Problem]]:
        """Disjoint splits of ``problems`` by their ``keys``; ids are ``<name>/<split>/<index>``."""
        n_distinct = len(set(keys))
        val, test = holdout_sizes(n_distinct, val, test)
        try:
            indices = split_indices(keys, seed, val, test)
        except ValueError as err:
            raise FastSlowError(f"task {self.name}: {err}; set smaller val/test sizes in task.args") from None
        pool = {}
        for split, idx in indices.items():
            pool[split] = [Problem(id=f"{self.name}/{split}/{i}", text=problems[j].text, system=problems[j].system,
                                   metadata=problems[j].metadata) for i, j in enumerate(idx)]
        return pool
