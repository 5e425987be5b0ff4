"""RL-only runs end to end on a tiny model: metrics, evaluation and outputs."""

import json

from fastslow.config import parse_config
from fastslow.metrics import read_jsonl
from fastslow.trainer import Trainer

TRAIN_KEYS = {"reward_mean", "zero_variance_frac", "entropy", "kl_k3", "grad_norm", "clip_frac", "time_generation",
              "time_scoring", "time_learning", "lr"}


def tiny_config(model_dir, out, **extra):
    data = {"mode": "rl", "model": str(model_dir), "output_dir": str(out), "steps": 3,
            "task": {"name": "tidy", "partial_credit": True},
            "rollout": {"problems_per_step": 2, "group_size": 4, "max_new_tokens": 8},
            "eval": {"every": 2, "problems": 4, "k": 2, "kl_problems": 2}, **extra}
    return parse_config(data)


def test_rl_run_logs_every_step_and_evaluates(tiny_model_dir, tmp_path):
    history = Trainer(tiny_config(tiny_model_dir, tmp_path)).run(progress=False)
    records = read_jsonl(tmp_path / "metrics.jsonl")
    assert records == json.loads(json.dumps(history))
    train = [r for r in records if r["kind"] == "train"]
    evals = [r for r in records if r["kind"] == "eval"]
    assert [r["step"] for r in train] == [1, 2, 3]
    assert [r["step"] for r in evals] == [0, 2, 3]
    assert all(TRAIN_KEYS <= set(r) for r in train)
    assert evals[0]["kl_to_base"] == 0.0 and "val_mean@2" in evals[0]
    assert (tmp_path / "final" / "model.safetensors").is_file()
    assert json.loads((tmp_path / "config.json").read_text())["steps"] == 3


def test_same_seed_same_run(tiny_model_dir, tmp_path):
    runs = [Trainer(tiny_config(tiny_model_dir, tmp_path / str(i))).run(progress=False) for i in range(2)]
    strip = lambda h: [{k: v for k, v in r.items() if not k.startswith("time")} for r in h]  # noqa: E731
    assert strip(runs[0]) == strip(runs[1])


