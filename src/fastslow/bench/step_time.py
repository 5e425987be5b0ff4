"""``fst bench step-time``: wall-clock per RL step for rl, fst without rollout reuse and fst with reuse.

The three runs share the task, seed, batch (8 problems x 8 rollouts), K=4, T=6 and GEPA budget, and run one
after the other in the same process. Per-step time excludes the GEPA rounds (as the paper's App. D figure does);
the amortised figure adds them back. Also reports the fraction of RL rollouts served from the GEPA cache.
"""

from __future__ import annotations

import statistics
import tempfile
from pathlib import Path

import torch

from fastslow.config import parse_config
from fastslow.trainer import Trainer


def run(model: str = "base", steps: int = 18, task: str = "tidy", seed: int = 0) -> dict:
    results = {"task": task, "steps": steps, "threads": torch.get_num_threads()}
    with tempfile.TemporaryDirectory() as tmp:
        for name, mode, reuse in (("rl", "rl", False), ("fst_no_reuse", "fst", False), ("fst_reuse", "fst", True)):
            cfg = parse_config({
                "mode": mode, "model": model, "seed": seed, "output_dir": str(Path(tmp) / name), "steps": steps,
                "task": {"id": task}, "learner": {"lr": 5e-4},
                "population": {"size": 4, "cycle_steps": 6, "anchor_size": 16, "budget": 64, "reuse_rollouts": reuse},
                "eval": {"every": 10_000, "problems": 8, "kl_problems": 0}, "checkpoint": {"every": 10_000},
            })
            history = Trainer(cfg).run(progress=False)
            train = [h for h in history if h["kind"] == "train"]
            gepa = sum(h["time_gepa"] for h in history if h["kind"] == "gepa")
            per_step = [h["time_step"] for h in train]
            results[name] = {
                "s_per_step_median": statistics.median(per_step),
                "s_per_step_mean": statistics.mean(per_step),
                "s_per_step_amortised_with_gepa": (sum(per_step) + gepa) / len(per_step),
                "generation_s_median": statistics.median(h.get("time_generation", 0.0) for h in train),
                "reused_frac": train[-1]["reused_rollouts"] / max(1, train[-1]["reused_rollouts"]
                                                                   + train[-1]["rl_rollouts"]),
                "gepa_seconds": gepa,
            }
    rl = results["rl"]["s_per_step_median"]
    results["ratios_to_rl"] = {k: results[k]["s_per_step_median"] / rl for k in ("fst_no_reuse", "fst_reuse")}
    results["reuse_speedup"] = (results["fst_no_reuse"]["s_per_step_median"]
                                / results["fst_reuse"]["s_per_step_median"])
    return results
