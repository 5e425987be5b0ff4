"""engine: trl under ``accelerate launch`` with 2 processes (gloo, CPU) on the shipped base model: FST's groups
(all K prompts, G/K each, one advantage group per problem), identical populations on every rank after each GEPA
round, rank-0-only metrics, resume after a crash, and the native engine's refusal to run in several processes."""

import json
import math
import os
import shutil
import socket
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import torch
import yaml

pytest.importorskip("trl")

ROOT = Path(__file__).resolve().parents[1]
G, K = 4, 2


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_config(tmp_path: Path, name: str, **over) -> Path:
    data = {"mode": "fst", "engine": "trl", "seed": 0, "model": "base", "output_dir": str(tmp_path / name),
            "steps": 4, "task": {"name": "tidy", "partial_credit": True},
            "rollout": {"problems_per_step": 4, "group_size": G, "max_new_tokens": 12},
            "learner": {"lr": 5e-4, "warmup_steps": 1},
            "population": {"size": K, "cycle_steps": 2, "anchor_size": 4, "budget": 4, "minibatch_size": 2},
            "eval": {"every": 4, "problems": 4, "k": 1, "kl_problems": 2},
            "checkpoint": {"every": 2, "keep": 3}}
    data.update(over)
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def launch(config: Path, *extra: str, env: dict | None = None, timeout: int = 240) -> subprocess.CompletedProcess:
    fst = shutil.which("fst") or str(Path(sys.executable).parent / "fst")
    accelerate = shutil.which("accelerate") or str(Path(sys.executable).parent / "accelerate")
    cmd = [accelerate, "launch", "--config_file", str(ROOT / "configs/accelerate/cpu-gloo.yaml"),
           "--num_processes", "2", "--main_process_port", str(free_port()), fst, "run", str(config), "--quiet",
           *extra]
    full_env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
                **(env or {})}
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=full_env, cwd=ROOT)


def read_debug(folder: Path) -> dict[int, list[dict]]:
    return {r: [json.loads(line) for line in (folder / f"rank{r}.jsonl").read_text().splitlines()] for r in (0, 1)}


def normalise(rewards):
    mean = sum(rewards) / len(rewards)
    std = (sum((r - mean) ** 2 for r in rewards) / len(rewards)) ** 0.5
    return [(r - mean) / (std + 1e-6) for r in rewards]


def test_two_processes_groups_populations_and_rank0_metrics(tmp_path):
    debug = tmp_path / "debug"
    proc = launch(write_config(tmp_path, "run"), env={"FST_TRL_DEBUG_DIR": str(debug)})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    records = read_debug(debug)

    # every problem's group: one problem, all K prompts, G/K rollouts each; advantages over the WHOLE group
    signal = 0
    steps_seen = {0: [], 1: []}
    for rank, recs in records.items():
        for rec in recs:
            if rec["kind"] != "rows":
                continue
            steps_seen[rank].append(rec["step"])
            assert len(rec["groups"]) == 2  # B=4 problems over 2 processes
            for g in rec["groups"]:
                assert len(g["prompt_index"]) == G
                assert Counter(g["prompt_index"]) == {k: G // K for k in range(K)}
                assert sum(g["advantages"]) == pytest.approx(0.0, abs=1e-5)
                if max(g["rewards"]) > min(g["rewards"]):
                    assert g["advantages"] == pytest.approx(normalise(g["rewards"]), abs=1e-5)
                    signal += 1
    assert steps_seen[0] == steps_seen[1] == [0, 1, 2, 3]
    assert signal > 0  # partial credit: groups with reward variance exist, so the check above ran

    # the two processes share each step's problems without overlap and use the same population
    rows = {r: {rec["step"]: rec for rec in recs if rec["kind"] == "rows"} for r, recs in records.items()}
    for step in range(4):
        a, b = rows[0][step], rows[1][step]
        assert a["population"] == b["population"]
        pids_a, pids_b = {g["pid"] for g in a["groups"]}, {g["pid"] for g in b["groups"]}
        assert not pids_a & pids_b and len(pids_a | pids_b) == 4

    # after each GEPA round every rank holds the same population
    pops = {r: [(rec["step"], rec["population"]) for rec in recs if rec["kind"] == "population"]
            for r, recs in records.items()}
    assert [s for s, _ in pops[0]] == [0, 2]
    assert pops[0] == pops[1]
    assert rows[0][0]["population"] == pops[0][0][1]  # the round's population is the one the step samples under

    # metrics.jsonl: rank 0 alone, the native schema
    metrics = [json.loads(line) for line in (tmp_path / "run/metrics.jsonl").read_text().splitlines()]
    train = [m for m in metrics if m["kind"] == "train"]
    assert [m["step"] for m in train] == [1, 2, 3, 4]
    assert [m["step"] for m in metrics if m["kind"] == "gepa"] == [0, 2]
    assert [m["step"] for m in metrics if m["kind"] == "eval"] == [0, 4]
    assert all(m["kl_to_base"] >= 0 for m in metrics if m["kind"] == "eval")
    for key in ("reward_mean", "loss", "grad_norm", "entropy", "clip_frac", "lr", "zero_variance_frac",
                "train_accuracy", "reused_frac", "reward_prompt_0", "reward_prompt_1", "time_step", "rl_rollouts"):
        assert key in train[0], key
    assert train[-1]["rl_rollouts"] + train[-1]["reused_rollouts"] == 4 * 4 * G
    assert (tmp_path / "run/final/population.json").is_file()


def test_two_processes_resume_after_a_crash(tmp_path):
    config = write_config(tmp_path, "res")
    out = tmp_path / "res"
    crashed = launch(config, env={"FST_TRL_EXIT_AFTER_SAVE": "2"})
    assert crashed.returncode != 0
    saved = torch.load(out / "checkpoints/checkpoint-2/fst_state.pt", weights_only=False)
    assert not (out / "checkpoints/checkpoint-4").exists()
    assert saved["step"] == 2 and saved["cache"] is not None

    proc = launch(config, "--resume")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    resumed = json.loads((out / "resumed.json").read_text())
    assert resumed["step"] == 2
    assert resumed["population"] == saved["population"]
    assert resumed["cache_entries"] == sum(len(v) for v in saved["cache"]["store"].values())
    assert resumed["cache_cycle"] == saved["cache"]["cycle"] == 0
    state = json.loads((out / "checkpoints/checkpoint-4/trainer_state.json").read_text())
    assert state["global_step"] == 4
    metrics = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [m["step"] for m in metrics if m["kind"] == "train"] == [1, 2, 3, 4]
    assert [m["cycle"] for m in metrics if m["kind"] == "gepa"] == [0, 1]
    assert math.isfinite(metrics[-1].get("val_mean@1", 0.0))


def test_native_engine_refuses_two_processes_with_one_error(tmp_path):
    config = write_config(tmp_path, "native", engine="native")
    proc = launch(config, timeout=120)
    assert proc.returncode != 0
    assert proc.stdout.count("engine: native runs in one process") == 1, proc.stdout[-2000:]
    assert "engine: trl" in proc.stdout


# ---- process-count invariance --------------------------------------------------------------------------------------
def final_weights(folder: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(folder / "final/model.safetensors")


def run_one_process(config: Path) -> subprocess.CompletedProcess:
    fst = shutil.which("fst") or str(Path(sys.executable).parent / "fst")
    env = {k: v for k, v in os.environ.items() if k not in ("WORLD_SIZE", "RANK", "LOCAL_RANK")}
    env.update({"OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"})
    return subprocess.run([fst, "run", str(config), "--quiet"], capture_output=True, text=True, timeout=240,
                          check=False, env=env, cwd=ROOT)


# Tolerance: every weight within 1e-5 absolute of the one-process run, where 3 steps at lr 5e-4 move weights by up to
# 1.5e-3; per-step rewards equal (the same rollouts), losses and gradient norms within rel 1e-4. The processes sum
# the same gradient terms in another order (fp32, CPU); AdamW's epsilon is 1e-4 here (trl.args adam_epsilon) so that
# a gradient element at rounding-noise level (|g| ~ 1e-10) is not divided by a second moment of its own size into a
# step of lr's size: the weights then differ where the gradients do, not where AdamW amplifies noise.
@pytest.mark.parametrize("mode", ["rl", "fst", "fst-distill"])
def test_two_processes_end_with_the_weights_of_one(tmp_path, mode):
    over = {"mode": mode, "steps": 3, "eval": {"every": 3, "problems": 2, "k": 1, "kl_problems": 0},
            "checkpoint": {"every": 3, "keep": 1}, "learner": {"lr": 5e-4, "warmup_steps": 1, "kl_coef": 1e-3},
            "trl": {"args": {"adam_epsilon": 1e-4}}}
    if mode == "fst-distill":  # a lead that leaves the seed prompt in the first round, so the KL has signal
        over["population"] = {"size": K, "cycle_steps": 2, "anchor_size": 4, "budget": 4, "minibatch_size": 2,
                              "selection": "front"}
    one, two = write_config(tmp_path, "one", **over), write_config(tmp_path, "two", **over)
    single = run_one_process(one)
    assert single.returncode == 0, single.stdout[-3000:] + single.stderr[-3000:]
    double = launch(two)
    assert double.returncode == 0, double.stdout[-3000:] + double.stderr[-3000:]
    metrics = {name: [json.loads(x) for x in (tmp_path / name / "metrics.jsonl").read_text().splitlines()]
               for name in ("one", "two")}
    train = {name: [m for m in ms if m["kind"] == "train"] for name, ms in metrics.items()}
    assert len(train["one"]) == len(train["two"]) == 3
    for x, y in zip(train["one"], train["two"]):  # the same rollouts: same rewards; same loss and gradient norm
        assert x["reward_mean"] == pytest.approx(y["reward_mean"], abs=1e-9)
        assert x["loss"] == pytest.approx(y["loss"], rel=1e-4, abs=1e-7)
        assert x["grad_norm"] == pytest.approx(y["grad_norm"], rel=1e-4)
        if mode == "fst-distill":  # the KL to the teacher, summed over both processes' rows
            assert x["distill_kl"] == pytest.approx(y["distill_kl"], rel=1e-4, abs=1e-9)
    if mode == "fst-distill":
        assert any(x["distill_kl"] > 1e-6 for x in train["one"])  # a step with signal: the weights below moved
    if mode != "rl":
        gepa = {name: [m["population"] for m in ms if m["kind"] == "gepa"] for name, ms in metrics.items()}
        assert gepa["one"] == gepa["two"] and len(gepa["one"]) == 2
    a, b = final_weights(tmp_path / "one"), final_weights(tmp_path / "two")
    initial = final_weights_of_base()
    assert a.keys() == b.keys()
    moved = max((a[k] - initial[k]).abs().max().item() for k in a)
    assert moved > 1e-4  # the 3 steps trained
    worst = max((a[k] - b[k]).abs().max().item() for k in a)
    assert worst < 1e-5, f"largest weight difference {worst:.2e} (weights moved up to {moved:.2e})"


def final_weights_of_base() -> dict:
    from fastslow.model.base import load_model

    model, _ = load_model("base")
    return {k: v.detach().clone() for k, v in model.state_dict().items()}
