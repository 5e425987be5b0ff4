"""Acceptance experiments for the slow and fast channels, 3 seeds each (figures in docs/BENCHMARKS.md).

    python -m fastslow.bench.acceptance rl   OUT.json   # RL-only on tidy: validation mean@4 and KL to base over steps
    python -m fastslow.bench.acceptance gepa OUT.json   # GEPA-only on tidy, caesar, cipher: mean@4 vs metric calls
    python -m fastslow.bench.acceptance feedback OUT.json  # FST with / without RL rollouts feeding GEPA's reflection
    python -m fastslow.bench.acceptance fill OUT.json      # plasticity after FST with population.fill = front
"""

import json
import sys
import tempfile
import time
from pathlib import Path

import torch

from fastslow.config import parse_config
from fastslow.trainer import Trainer

torch.set_num_threads(1)
SEEDS = (0, 1, 2)


def run(data: dict) -> dict:
    start = time.time()
    history = Trainer(parse_config(data)).run(progress=False)
    evals = [h for h in history if h["kind"] == "eval"]
    return {
        "seconds": round(time.time() - start, 1),
        "curve": [(e["step"], e["val_mean@4"], e.get("kl_to_base")) for e in evals],
        "calls": [(e["step"], e["gepa_metric_calls"], e["gepa_rescore_calls"], e["reflection_calls"]) for e in evals],
        "lead_prompt": evals[-1]["lead_prompt"],
    }


def rl(tmp: Path) -> dict:
    out = {}
    for seed in SEEDS:
        out[f"seed{seed}"] = run({"mode": "rl", "seed": seed, "output_dir": str(tmp / f"rl{seed}"), "steps": 60,
                                  "task": {"name": "tidy"}, "learner": {"lr": 5e-4},
                                  "eval": {"every": 10, "problems": 64, "kl_problems": 32}})
        print("rl", seed, out[f"seed{seed}"]["curve"][-1], flush=True)
    return out


def gepa(tmp: Path) -> dict:
    out = {}
    for task in ("tidy", "caesar", "cipher"):
        for seed in SEEDS:
            out[f"{task}/seed{seed}"] = run({
                "mode": "gepa", "seed": seed, "output_dir": str(tmp / f"g{task}{seed}"), "steps": 24,
                "task": {"name": task},
                "population": {"size": 4, "cycle_steps": 6, "anchor_size": 16, "budget": 64},
                "eval": {"every": 6, "problems": 64, "kl_problems": 0}})
            print("gepa", task, seed, out[f"{task}/seed{seed}"]["curve"][-1], flush=True)
    return out


def feedback(tmp: Path) -> dict:
    """Same FST runs with and without serving reflection minibatches from the previous cycle's RL rollouts."""
    out = {}
    for task in ("tidy", "stutter"):
        for on in (False, True):
            for seed in SEEDS:
                start = time.time()
                history = Trainer(parse_config({
                    "mode": "fst", "seed": seed, "output_dir": str(tmp / f"f{task}{on}{seed}"), "steps": 36,
                    "task": {"name": task}, "learner": {"lr": 5e-4},
                    "population": {"size": 4, "cycle_steps": 6, "anchor_size": 16, "budget": 64,
                                   "reflect_on_rl_rollouts": on},
                    "eval": {"every": 6, "problems": 64, "kl_problems": 0}})).run(progress=False)
                rounds = [h for h in history if h["kind"] == "gepa"]
                evals = [h for h in history if h["kind"] == "eval"]
                out[f"{task}/{'on' if on else 'off'}/seed{seed}"] = {
                    "seconds": round(time.time() - start, 1),
                    "gepa_seconds": round(sum(r["time_gepa"] for r in rounds), 1),
                    "metric_calls": sum(r["metric_calls"] for r in rounds),
                    "reflection_calls": sum(r["reflection_calls"] for r in rounds),
                    "accepted": sum(r["accepted"] for r in rounds),
                    "feedback_served": sum(r["feedback_served"] for r in rounds),
                    "val": [(e["step"], e["val_mean@4"]) for e in evals],
                }
                print(task, on, seed, out[f"{task}/{'on' if on else 'off'}/seed{seed}"], flush=True)
    return out


def fill(tmp: Path) -> dict:
    """The demo's FST run and plasticity probe, but the population keeps Pareto-front members only (no dominated
    seed-prompt copies): does FST then keep its plasticity?"""
    from fastslow.experiments.suite import PROFILES, run_config

    profile, out = PROFILES["standard"], {}
    for seed in SEEDS:
        data = run_config(profile, "fst", seed, tmp / f"fst{seed}", profile.steps)
        data["population"]["fill"] = "front"
        fst = run(data)
        probe = run(run_config(profile, "rl", seed, tmp / f"probe{seed}", profile.plasticity_steps,
                               model=str(tmp / f"fst{seed}" / "final"), task={"name": profile.plasticity_task}))
        out[f"seed{seed}"] = {"fst_curve": fst["curve"], "lead_prompt": fst["lead_prompt"],
                              "plasticity_curve": probe["curve"]}
        print("fill=front", seed, fst["curve"][-1], probe["curve"][-1], flush=True)
    return out


if __name__ == "__main__":
    which, path = sys.argv[1], Path(sys.argv[2])
    with tempfile.TemporaryDirectory() as tmp:
        result = {"rl": rl, "gepa": gepa, "feedback": feedback, "fill": fill}[which](Path(tmp))
    from fastslow.provenance import provenance

    path.write_text(json.dumps({**result, "provenance": provenance()}, indent=1))
