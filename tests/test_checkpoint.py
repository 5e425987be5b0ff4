"""Joint checkpoints: resuming (even after a SIGKILL at a chosen step between two checkpoints) reproduces the
uninterrupted run, metrics and final weights bitwise; broken checkpoints are never loaded."""

import os
import signal
import subprocess
import sys

import pytest
import torch
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
    from safetensors.torch import load_file

    out = tmp_path_factory.mktemp("uninterrupted")
    Trainer(parse_config(config_dict(tiny_model_dir, out))).run(progress=False)
    return {"metrics": read_jsonl(out / "metrics.jsonl"), "weights": load_file(out / "final" / "model.safetensors")}


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
    assert comparable(read_jsonl(tmp_path / "metrics.jsonl")) == comparable(reference["metrics"])
    assert len(complete_checkpoints(tmp_path / "checkpoints")) == 2  # keep: 2


# Runs a config in a fresh process that SIGKILLs itself at the start of RL step KILL_AT: a chosen point
# between two checkpoints (every 2 steps), not a random delay. Nothing after the kill is written.
KILLER = """
import os, signal, sys
from fastslow.config import load_config
from fastslow.trainer import Trainer

trainer = Trainer(load_config(sys.argv[1]))
kill_at, original = int(sys.argv[2]), trainer.rl_step

def rl_step(*args, **kwargs):
    if trainer.step == kill_at:
        os.kill(os.getpid(), signal.SIGKILL)
    return original(*args, **kwargs)

trainer.rl_step = rl_step
trainer.run(progress=False)
"""


def test_sigkill_between_checkpoints_resumes_to_identical_weights(tiny_model_dir, tmp_path, reference):
    """Killed as step 6 of 7 begins (checkpoints after steps 2 and 4): the resumed run restarts at step 4, before
    the end, and
    ends with bitwise-identical weights and the same metrics as the uninterrupted run."""
    from safetensors.torch import load_file

    out = tmp_path / "out"
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(config_dict(tiny_model_dir, out)))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    killed = subprocess.run([sys.executable, "-c", KILLER, str(path), "5"], env=env, capture_output=True,
                            text=True, timeout=300)
    assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
    assert latest(out / "checkpoints").name == "step-0000004"  # the kill landed between checkpoints 4 and 6
    assert not (out / "final").exists()
    steps_logged = [r["step"] for r in read_jsonl(out / "metrics.jsonl")]
    assert max(steps_logged) == 5  # step 5 ran after checkpoint 4 and must be redone after the resume
    done = subprocess.run([sys.executable, "-m", "fastslow.cli", "run", str(path), "--quiet", "--resume"], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "resumed at step 4" in done.stdout  # restarted before the end (7), from the last checkpoint
    assert comparable(read_jsonl(out / "metrics.jsonl")) == comparable(reference["metrics"])
    ours, theirs = load_file(out / "final" / "model.safetensors"), reference["weights"]
    assert ours.keys() == theirs.keys()
    for name in ours:
        assert torch.equal(ours[name], theirs[name]), name  # bitwise, not approximately


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
