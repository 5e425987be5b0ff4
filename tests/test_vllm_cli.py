"""``fst run`` with ``rollout.backend: vllm`` as a user runs it: a fresh process (no test-set environment for vLLM,
so the engine must start in-process by itself), a short fst run that checkpoints, then ``--resume``."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

pytest.importorskip("vllm")

from fastslow import checkpoint  # noqa: E402
from fastslow.metrics import read_jsonl  # noqa: E402


def fst(*args, cwd):
    script = Path(sys.executable).with_name("fst")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "fastslow.cli"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("VLLM_")}
    env.update(OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    return subprocess.run([*command, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=900)


def test_fst_run_with_vllm_backend_checkpoints_and_resumes(tmp_path):
    out = tmp_path / "run"
    config = {"mode": "fst", "model": "base", "output_dir": str(out), "steps": 2, "seed": 3,
              "task": {"name": "tidy", "partial_credit": True},
              "rollout": {"backend": "vllm", "problems_per_step": 2, "group_size": 4, "max_new_tokens": 12,
                          "vllm": {"max_model_len": 256}},
              "learner": {"lr": 1e-3, "warmup_steps": 0},
              "population": {"size": 2, "cycle_steps": 2, "anchor_size": 4, "budget": 8},
              "eval": {"every": 2, "problems": 4, "k": 2, "kl_problems": 2}, "checkpoint": {"every": 2}}
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(config))
    first = fst("run", str(path), "--quiet", cwd=tmp_path)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    assert checkpoint.latest(out / "checkpoints").name == "step-0000002"
    resumed = fst("run", str(path), "--quiet", "--resume", "--set", "steps=4", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    assert "resumed at step 2" in resumed.stdout
    records = read_jsonl(out / "metrics.jsonl")
    assert [r["step"] for r in records if r["kind"] == "train"] == [1, 2, 3, 4]
    assert sum(r["kind"] == "gepa" for r in records) == 2 and all(
        "time_weight_sync" in r for r in records if r["kind"] == "train")
    assert checkpoint.latest(out / "checkpoints").name == "step-0000004"
    shutil.rmtree(out)
