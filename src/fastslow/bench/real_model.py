"""Real learning with a real model: RL on SmolLM2-135M-Instruct + LoRA, one reasoning-gym task, two seeds.

    python -m fastslow.bench.real_model                      # run both seeds (in parallel, one thread each), summarise
    python -m fastslow.bench.real_model --summarise-only     # only rebuild the JSON from finished runs

Each seed is an ordinary ``fst run configs/rl-smollm2-chain-sum.yaml --set seed=S`` in ``runs/bench-real/``; the
summary (validation mean@4 at every evaluation, the change from step 0 to the end, wall time, seconds per step
and the machine's load while it ran) goes to ``docs/results/real-model-rl.json``, which docs/BENCHMARKS.md is
generated from. The validation set is the task's val split for that seed (its own ~55 distinct questions).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]  # the repository (this file: src/fastslow/bench/)
CONFIG = ROOT / "configs" / "rl-smollm2-chain-sum.yaml"
RUNS = ROOT / "runs" / "bench-real"
OUT = ROOT / "docs" / "results" / "real-model-rl.json"


def run_seeds(seeds: list[int]) -> dict[int, float]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    fst = str(Path(sys.executable).parent / "fst")
    start, procs = time.time(), {}
    for seed in seeds:
        log = open(RUNS / f"s{seed}.log", "w")
        procs[seed] = subprocess.Popen([fst, "run", str(CONFIG), "--quiet", "--set", f"seed={seed}", "--set",
                                        f"output_dir={RUNS / f'rl-smollm2-chain-sum-s{seed}'}"], env=env,
                                       stdout=log, stderr=subprocess.STDOUT)
    walls = {}
    for seed, proc in procs.items():
        if proc.wait():
            raise SystemExit(f"seed {seed} failed; see {RUNS / f's{seed}.log'}")
        walls[seed] = time.time() - start
    return walls


def logged_wall_seconds(log: Path) -> float | None:
    """Wall time from a ``/usr/bin/time -v`` report at the end of a run's log, if the run was started that way."""
    for line in log.read_text().splitlines() if log.is_file() else []:
        if "Elapsed (wall clock) time" in line:
            parts = [float(x) for x in line.rsplit(" ", 1)[-1].split(":")]
            return sum(v * 60 ** i for i, v in enumerate(reversed(parts)))
    return None


def summarise(seeds: list[int], walls: dict | None = None) -> dict:
    runs = {}
    for seed in seeds:
        folder = RUNS / f"rl-smollm2-chain-sum-s{seed}"
        records = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines() if line]
        evals = [r for r in records if r["kind"] == "eval"]
        train = [r for r in records if r["kind"] == "train"]
        curve = [[r["step"], r["val_mean@4"]] for r in evals]
        runs[str(seed)] = {
            "val_mean@4": curve,
            "start": curve[0][1], "final": curve[-1][1], "peak": max(v for _, v in curve),
            "gain": curve[-1][1] - curve[0][1],
            "train_reward_first5": statistics.mean(r["reward_mean"] for r in train[:5]),
            "train_reward_last5": statistics.mean(r["reward_mean"] for r in train[-5:]),
            "s_per_step_median": statistics.median(r["time_step"] for r in train),
            "eval_seconds_total": sum(r["time_eval"] for r in evals),
            "train_seconds_total": sum(r["time_step"] for r in train),
            "val_problems": None,
        }
        cfg = json.loads((folder / "config.json").read_text())
        runs[str(seed)]["val_problems"] = cfg["eval"]["problems"]
        wall = walls.get(seed) if walls else logged_wall_seconds(RUNS / f"s{seed}.log")
        if wall is not None:
            runs[str(seed)]["wall_seconds"] = round(wall, 1)
    gains = [r["gain"] for r in runs.values()]
    return {
        "benchmark": "real-model RL (issue 8)",
        "command": "python -m fastslow.bench.real_model   (= fst run configs/rl-smollm2-chain-sum.yaml --set seed=S, S = "
                   + ", ".join(map(str, seeds)) + ", run side by side)",
        "model": "SmolLM2-135M-Instruct (fst models smollm2, fp32) + LoRA r16 all-linear",
        "task": cfg["task"], "rollout": cfg["rollout"], "learner_lr": cfg["learner"]["lr"], "steps": cfg["steps"],
        "hardware": "2-core CPU, 1 torch thread per run, both seeds at once; other jobs shared the machine "
                    "(load average about 3-6 during the runs), so wall times are upper bounds",
        "seeds": runs,
        "gain_mean": statistics.mean(gains), "gain_min": min(gains),
        "every_seed_improved": all(g > 0 for g in gains),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--summarise-only", action="store_true")
    args = parser.parse_args()
    RUNS.mkdir(parents=True, exist_ok=True)
    walls = None if args.summarise_only else run_seeds(args.seeds)
    summary = summarise(args.seeds, walls)
    from fastslow.provenance import provenance

    OUT.write_text(json.dumps({**summary, "provenance": provenance()}, indent=1))
    print(json.dumps({k: summary[k] for k in ("gain_mean", "gain_min", "every_seed_improved")}))


if __name__ == "__main__":
    main()
