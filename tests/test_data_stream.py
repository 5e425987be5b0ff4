"""The training stream over finite train splits: seeded epochs, every problem once per epoch, reproducible."""

from collections import Counter

import pytest

from fastslow.data import ProblemStream
from fastslow.tasks.base import Problem, Score, TaskBase


class FiniteTask(TaskBase):
    name, seed_prompt = "finite", ""

    def __init__(self, n: int):
        self.pool = [Problem(f"finite/train/{i}", f"q{i}") for i in range(n)]

    def size(self, split: str) -> int:
        return len(self.pool)

    def problems(self, split: str, n: int):
        if n > len(self.pool):
            raise ValueError(f"asked for {n} {split} problems, the split holds {len(self.pool)}")
        return self.pool[:n]

    def score(self, problem, completion):
        return Score(0.0, "")


def ids(stream, batches):
    return [p.id for i in range(batches) for p in stream.batch(i)]


def test_finite_split_is_walked_in_epochs():
    stream = ProblemStream(FiniteTask(10), batch_size=4, seed=3)
    seen = ids(stream, 10)  # 40 problems = 4 epochs of 10
    assert Counter(seen) == Counter({f"finite/train/{i}": 4 for i in range(10)})
    assert seen[:10] == [f"finite/train/{i}" for i in range(10)]  # the first epoch keeps the task's order
    assert seen[10:20] != seen[:10]  # later epochs are reshuffled


def test_stream_is_a_pure_function_of_the_batch_index():
    a, b = ProblemStream(FiniteTask(10), 4, seed=3), ProblemStream(FiniteTask(10), 4, seed=3)
    assert ids(a, 9) == ids(b, 9)
    assert a.batch(7) == ProblemStream(FiniteTask(10), 4, seed=3).batch(7)  # random access, no history needed
    assert ids(ProblemStream(FiniteTask(10), 4, seed=4), 9) != ids(a, 9)


def test_empty_train_split_is_an_error():
    with pytest.raises(ValueError, match="no train problems"):
        ProblemStream(FiniteTask(0), 4)
