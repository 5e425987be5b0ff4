"""FST-distill on the embedded world (task cipher, the demo's config shape): the mode against FST, GEPA-only and RL,
and ``fst distill`` on each FST run (accuracy without the prompt and forgetting, before and after).

    python bench/distill.py seed SEED RUNS_DIR          # one seed, every arm (runs reused if finished); writes
                                                        #   RUNS_DIR/seed-SEED.json after every arm
    python bench/distill.py merge RUNS_DIR OUT.json     # the seeds' files -> docs/results/distill.json

The arms run in order fst, fst distill, fst-distill, gepa, rl, so a seed cut short still holds the new ones. All
arms use ``experiments.suite.run_config`` of the standard profile at the same step count (FST's).
"""

import json
import sys
import time
from pathlib import Path

import torch

from fastslow.experiments.suite import PROFILES, run_config, train
from fastslow.provenance import provenance

torch.set_num_threads(1)
PROFILE = PROFILES["standard"]
ARMS = ("fst", "fst-distill", "gepa", "rl")
DISTILL = {"steps": 60, "lr": 5e-4, "student_prompt": "none", "forgetting_problems": 150}


def seed_prompt_accuracy(run: Path, seed: int) -> float:
    """The final weights' validation mean@k under the task's seed prompt (the trainer evaluates the lead prompt)."""
    from fastslow.evaluation.accuracy import evaluate
    from fastslow.model.base import load_model
    from fastslow.sampling import HFSampler, SamplingParams
    from fastslow.ship.distill import read_run, single_task
    from fastslow.trainer import derived_seed

    cfg, final, _ = read_run(run)
    task = single_task(cfg)
    model, tok = load_model(final)
    params = SamplingParams(temperature=cfg.eval.temperature, top_p=cfg.eval.top_p,
                            max_new_tokens=cfg.rollout.max_new_tokens, seed=derived_seed(seed, 0, 2))
    return evaluate(HFSampler(model, tok), task, task.problems("val", cfg.eval.problems), task.seed_prompt, params,
                    k=cfg.eval.k).mean


def one_seed(seed: int, root: Path) -> None:
    from fastslow.ship.distill import distill_run

    path = root / f"seed-{seed}.json"
    result = json.loads(path.read_text()) if path.is_file() else {"seed": seed, "arms": {}}
    result.setdefault("provenance", provenance(" ".join(["python", *sys.argv])))  # the code the runs used

    def save():
        path.write_text(json.dumps(result, indent=2))

    for mode in ARMS:
        if mode in result["arms"]:
            continue
        out = root / f"{mode}-{seed}"
        start = time.time()
        history = train(run_config(PROFILE, mode, seed, out, PROFILE.steps))
        evals = [h for h in history if h["kind"] == "eval"]
        arm = {"final_accuracy": evals[-1]["val_mean@4"], "curve": [(e["step"], e["val_mean@4"]) for e in evals],
               "lead_prompt": evals[-1]["lead_prompt"], "seconds": round(time.time() - start, 1)}
        if mode in ("fst", "fst-distill"):
            arm["final_seed_prompt_accuracy"] = seed_prompt_accuracy(out, seed)
        result["arms"][mode] = arm
        save()
        if mode == "fst" and "fst_distill_command" not in result:
            report = distill_run(out, root / f"fst-{seed}-distilled", log=lambda _: None, **DISTILL)
            result["fst_distill_command"] = {k: report[k] for k in ("before", "after", "steps", "seconds", "kl_first",
                                                                    "kl_last", "settings", "student_context")}
            save()


def merge(root: Path, out: Path) -> None:
    seeds = sorted((json.loads(p.read_text()) for p in root.glob("seed-*.json")), key=lambda r: r["seed"])
    data = {
        "what": "FST-distill (mode fst-distill) vs FST vs GEPA-only vs RL on cipher, the demo's config shape "
                "(experiments.suite.run_config, standard profile), all arms at the same number of steps; and "
                "`fst distill` on each FST run (student: no system prompt, teacher: the FST weights under the lead "
                "prompt)",
        "task": PROFILE.task, "steps": PROFILE.steps, "profile": "standard", "distill_settings": DISTILL,
        "accuracy_key": "val_mean@4 under the run's lead prompt (final evaluation); final_seed_prompt_accuracy: the "
                        "final weights under the seed prompt",
        "seeds": seeds,
        "provenance": provenance(" ".join(["python", *sys.argv])),
    }
    out.write_text(json.dumps(data, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    if sys.argv[1] == "seed":
        one_seed(int(sys.argv[2]), Path(sys.argv[3]))
    elif sys.argv[1] == "merge":
        merge(Path(sys.argv[2]), Path(sys.argv[3]))
    else:
        raise SystemExit(__doc__)
