"""Joint checkpoints: resuming (even after SIGKILL) reproduces the uninterrupted run; broken checkpoints are
never loaded."""

import os
import random
import signal
import subprocess
import sys
import time

import pytest
import yaml

from fastslow.checkpoint import CheckpointError, complete_checkpoints, latest
from fastslow.config import parse_config
from fastslow.metrics import read_jsonl
from fastslow.trainer import Trainer


def config_dict(model_dir, out, steps=7):
    return {
        "mode": "fst", "model": str(model_dir), "output_dir": str(out), "steps": steps, "seed": 3,
        "task": {"name": "tidy", "partial_credit": True},
        "rollout": {"problems_per_step": 2, "group_size": 4, "max_new_tokens": 8},
        "population": {"size": 2, "cycle_steps": 3, "anchor_size": 4, "budget": 12,
                       "reflector": {"kind": "rulebook", "max_depth": 1, "noise": 0.3}},
        "eval": {"every": 2, "problems": 4, "k": 2, "kl_problems": 2},
        "checkpoint": {"every": 2, "keep": 2},
    }


def comparable(records):
    return [{k: v for k, v in r.items() if not k.startswith("time")} for r in records]


@pytest.fixture(scope="module")
def reference(tiny_model_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("uninterrupted")
    Trainer(parse_config(config_dict(tiny_model_dir, out))).run(progress=False)
    return read_jsonl(out / "metrics.jsonl")


def test_resume_in_process_matches_uninterrupted(tiny_model_dir, tmp_path, reference, monkeypatch):
    cfg = parse_config(config_dict(tiny_model_dir, tmp_path))
    crashing = Trainer(cfg)
    original = crashing.rl_step

    def rl_step_that_dies(*a, **k):
        if crashing.step == 5:
            raise RuntimeError("simulated crash")
        return original(*a, **k)

    monkeypatch.setattr(crashing, "rl_step", rl_step_that_dies)
    with pytest.raises(RuntimeError, match="simulated crash"):
        crashing.run(progress=False)
    resumed = Trainer(cfg)
    assert resumed.resume() == 4  # mid-cycle: population and rollout cache must come back too
    resumed.run(progress=False)
    assert comparable(read_jsonl(tmp_path / "metrics.jsonl")) == comparable(reference)
    assert len(complete_checkpoints(tmp_path / "checkpoints")) == 2  # keep: 2


def test_resume_after_sigkill_matches_uninterrupted(tiny_model_dir, tmp_path, reference):
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(config_dict(tiny_model_dir, tmp_path / "out")))
    cmd = [sys.executable, "-m", "fastslow.cli", "run", str(path), "--quiet"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while not complete_checkpoints(tmp_path / "out" / "checkpoints") and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(random.Random().uniform(0, 1.5))  # a random point after the first checkpoint
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = subprocess.run(cmd + ["--resume"], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert comparable(read_jsonl(tmp_path / "out" / "metrics.jsonl")) == comparable(reference)


def test_partial_and_corrupted_checkpoints_are_rejected(tiny_model_dir, tmp_path):
    cfg = parse_config(config_dict(tiny_model_dir, tmp_path, steps=2))
    Trainer(cfg).run(progress=False)
    root = tmp_path / "checkpoints"
    good = latest(root)
    (root / "step-0000099.tmp").mkdir()  # a half-written checkpoint is ignored
    assert latest(root) == good
    state = good / "state.pt"
    data = bytearray(state.read_bytes())
    data[len(data) // 2] ^= 0xFF
    state.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="state.pt is corrupted"):
        Trainer(cfg).resume()
    (good / "manifest.json").unlink()
    with pytest.raises(CheckpointError, match="incomplete"):
        Trainer(cfg).resume()


def test_resume_without_checkpoint_is_a_clear_error(tiny_model_dir, tmp_path):
    with pytest.raises(CheckpointError, match="no checkpoint to resume from"):
        Trainer(parse_config(config_dict(tiny_model_dir, tmp_path))).resume()
