"""FST-distill on the embedded world (task cipher, the demo's config shape): the mode against FST, GEPA-only and RL,
and ``fst distill`` on each FST run (accuracy without the prompt and forgetting, before and after).

    python -m fastslow.bench.distill seed SEED RUNS_DIR          # one seed, every arm (runs reused if finished); writes
                                                        #   RUNS_DIR/seed-SEED.json after every arm
    python -m fastslow.bench.distill arm MODE SEED RUNS_DIR      # one arm alone (RUNS_DIR/seed-SEED-MODE.json), in parallel
    python -m fastslow.bench.distill merge RUNS_DIR OUT.json [COMMIT]   # the seeds' files -> docs/results/distill.json
                                                        #   (COMMIT: where arms still running were started)

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


def one_seed(seed: int, root: Path, arms: tuple = ARMS, name: str = "") -> None:
    from fastslow.ship.distill import distill_run

    path = root / f"seed-{seed}{name}.json"
    result = json.loads(path.read_text()) if path.is_file() else {"seed": seed, "arms": {}}
    result.setdefault("provenance", provenance(" ".join(["python", *sys.argv])))  # the code the runs used

    def save():
        path.write_text(json.dumps(result, indent=2))

    for mode in arms:
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


DEMO = Path(__file__).resolve().parents[3] / "docs" / "results" / "demo" / "results.json"


def demo_curve(mode: str, seed: int) -> list | None:
    """The demo's (step, accuracy) curve of ``mode`` for ``seed`` up to FST's step count (the same run_config, the
    same code paths; the demo's RL arm runs on to a longer cap, which does not change its first steps)."""
    if not DEMO.is_file():
        return None
    de = json.loads(DEMO.read_text())["data_efficiency"]
    if mode not in de["curves"] or seed not in de["seeds"]:
        return None
    return [tuple(point) for point in de["curves"][mode][de["seeds"].index(seed)] if point[0] <= PROFILE.steps]


def partial_arm(run: Path, commit: str | None) -> dict | None:
    """An arm cut short by the time box: its evaluations so far, from its metrics.jsonl. Its process wrote no
    provenance yet, so ``commit`` (the one it was started from, given to ``merge``) is recorded, with whether src/
    differs between that commit and the merge's."""
    import subprocess

    from fastslow.metrics import read_jsonl

    path = run / "metrics.jsonl"
    evals = [r for r in read_jsonl(path) if r.get("kind") == "eval"] if path.is_file() else []
    if not evals:
        return None
    started = None
    if commit:
        same = subprocess.run(["git", "diff", "--quiet", commit, "HEAD", "--", "src/"], check=False,
                              cwd=Path(__file__).resolve().parents[3]).returncode == 0
        started = {"commit": commit, "src_identical_to_merge_commit": same}
    return {"curve": [(e["step"], e["val_mean@4"]) for e in evals], "lead_prompt": evals[-1]["lead_prompt"],
            "partial": True, "started_from": started}


def merge(root: Path, out: Path, partial_commit: str | None = None) -> None:
    """The seeds' files in one JSON. An arm a seed did not finish (the time box) is taken from the demo's results
    (docs/results/demo/results.json: the same config shape and seed), marked ``source: demo``; every arm run here
    that the demo also ran is compared with it (``demo_check``), so that substitution is checked, not assumed."""
    by_seed: dict[int, dict] = {}
    for p in sorted(root.glob("seed-*.json")):  # seed-S.json and any seed-S-MODE.json of arms run alone
        part = json.loads(p.read_text())
        record = by_seed.setdefault(part["seed"], {"seed": part["seed"], "arms": {}, "provenance": {}})
        record["arms"].update(part["arms"])
        record["provenance"][p.name] = {**part["provenance"], "arms": sorted(part["arms"]),
                                        "fst_distill_command": "fst_distill_command" in part}
        if "fst_distill_command" in part:
            record["fst_distill_command"] = part["fst_distill_command"]
    seeds = [by_seed[s] for s in sorted(by_seed)]
    checks = []
    for record in seeds:
        for mode in ("fst", "gepa", "rl"):
            demo = demo_curve(mode, record["seed"])
            arm = record["arms"].get(mode)
            if arm is None and demo is not None:
                record["arms"][mode] = {"curve": demo, "final_accuracy": demo[-1][1], "source": "demo"}
            elif arm is not None:
                arm["source"] = "this benchmark"
                if demo is not None:  # every evaluation of the run made here against the demo's
                    here = dict(tuple(p) for p in arm["curve"])
                    checks += [{"seed": record["seed"], "arm": mode, "step": step, "here": here[step], "demo": acc}
                               for step, acc in demo if step in here]
        if "fst-distill" not in record["arms"]:
            arm = partial_arm(root / f"fst-distill-{record['seed']}", partial_commit)
            if arm is not None:
                record["arms"]["fst-distill"] = {**arm, "source": "this benchmark"}
    # the step every arm of every seed reached (the time box may cut fst-distill short): the comparison's step
    compare_step = min(max(step for step, _ in arm["curve"]) for record in seeds for arm in record["arms"].values())
    data = {
        "what": "FST-distill (mode fst-distill) vs FST vs GEPA-only vs RL on cipher, the demo's config shape "
                "(experiments.suite.run_config, standard profile), all arms at the same number of steps; and "
                "`fst distill` on each FST run (student: no system prompt, teacher: the FST weights under the lead "
                "prompt)",
        "task": PROFILE.task, "steps": PROFILE.steps, "profile": "standard", "distill_settings": DISTILL,
        "accuracy_key": "val_mean@4 under the run's lead prompt (the trainer's evaluations, curve = (step, value)); "
                        "final_seed_prompt_accuracy: the final weights under the seed prompt (finished runs only)",
        "compare_step": compare_step, "seeds": seeds, "demo_check": checks,
        "provenance": provenance(" ".join(["python", *sys.argv])),
    }
    out.write_text(json.dumps(data, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    if sys.argv[1] == "seed":
        one_seed(int(sys.argv[2]), Path(sys.argv[3]))
    elif sys.argv[1] == "arm":  # one arm alone, in parallel with a seed's run (same folder: `seed` reuses it)
        one_seed(int(sys.argv[3]), Path(sys.argv[4]), (sys.argv[2],), f"-{sys.argv[2]}")
    elif sys.argv[1] == "merge":
        merge(Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4] if len(sys.argv) > 4 else None)
    else:
        raise SystemExit(__doc__)
