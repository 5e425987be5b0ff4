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


FIXTURES = __import__("pathlib").Path(__file__).parent / "fixtures" / "tasks"


def test_a_run_on_a_finite_dataset_goes_past_one_epoch(tiny_model_dir, tmp_path):
    """math from a 12-row JSONL: the train split (10 rows) is shorter than the run, which cycles through it."""
    from fastslow.config import parse_config
    from fastslow.trainer import Trainer

    cfg = parse_config({"mode": "rl", "model": str(tiny_model_dir), "output_dir": str(tmp_path), "steps": 4,
                        "task": {"id": "math", "args": {"path": str(FIXTURES / "math.jsonl"), "val": 1,
                                                        "test": 1}},
                        "rollout": {"problems_per_step": 4, "group_size": 2, "max_new_tokens": 4},
                        "eval": {"every": 4, "problems": 1, "k": 1, "kl_problems": 0}})
    trainer = Trainer(cfg)
    size = trainer.tasks[0].size("train")
    history = trainer.run(progress=False)
    assert 4 * 4 > size and [h["step"] for h in history if h["kind"] == "train"] == [1, 2, 3, 4]


def test_asking_for_more_val_problems_than_a_dataset_holds_names_the_field(tiny_model_dir, tmp_path):
    from fastslow.config import ConfigError, parse_config
    from fastslow.trainer import Trainer

    cfg = parse_config({"mode": "rl", "model": str(tiny_model_dir), "output_dir": str(tmp_path),
                        "task": {"id": "math", "args": {"path": str(FIXTURES / "math.jsonl")}},
                        "eval": {"problems": 64}})
    with pytest.raises(ConfigError, match=r"eval\.problems \(64\).*val split holds"):
        Trainer(cfg)
