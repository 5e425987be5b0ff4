"""The experiment suite behind ``fst demo``: the paper's claims, measured on the Rulebook world with seeds.

Every experiment is a function that runs real training through ``Trainer`` (same loop, same budgets for all
modes) and returns plain data in the structure ``report.write_report`` expects:

* data efficiency: FST vs RL vs GEPA-only on one task; validation mean@k against RL steps and against total
  rollouts generated (RL rollouts + every GEPA rollout, re-scoring included: the compute-matched view);
* drift: (diagnostic KL to base, validation accuracy) at every evaluation of those runs;
* forgetting: held-out instruction-following accuracy of the base model and of each method's final weights;
* plasticity: fresh RL-only on a second task from base, RL-trained and FST-trained weights;
* continual: one run over a stream of tasks per method (task-agnostic seed prompt);
* quadrant: {base, FST-trained weights} x {seed prompt, FST's evolved lead prompt}.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from fastslow.config import parse_config
from fastslow.metrics import read_jsonl
from fastslow.trainer import Trainer


@dataclass
class Profile:
    """The scale of a suite run. ``standard`` fits in about 15 minutes on a 2-core CPU, ``quick`` in about 3."""

    name: str = "standard"
    model: str = "base"
    task: str = "tidy"
    plasticity_task: str = "mirror"
    stream: tuple[str, ...] = ("mirror", "tidy", "clip")
    seeds: tuple[int, ...] = (0, 1, 2)
    steps: int = 60
    stage_steps: int = 18
    plasticity_steps: int = 30
    eval_every: int = 6
    eval_problems: int = 48
    forgetting_problems: int = 150
    problems_per_step: int = 8
    group_size: int = 8
    population_size: int = 4
    cycle_steps: int = 6
    anchor_size: int = 16
    budget: int = 64
    lr: float = 5e-4
    methods: tuple[str, ...] = ("fst", "rl", "gepa")
    experiments: tuple[str, ...] = ("data_efficiency", "forgetting", "quadrant", "plasticity", "continual")


PROFILES = {
    "standard": Profile(),
    "quick": Profile(name="quick", seeds=(0,), steps=6, stage_steps=6, plasticity_steps=4, eval_every=3,
                     eval_problems=16, forgetting_problems=30, problems_per_step=4, anchor_size=8, budget=24,
                     stream=("mirror", "tidy")),
}


def run_config(profile: Profile, mode: str, seed: int, out: Path, steps: int, **overrides) -> dict:
    task = overrides.pop("task", {"name": profile.task})
    return {
        "mode": mode, "seed": seed, "model": overrides.pop("model", profile.model), "output_dir": str(out),
        "steps": steps,
        "task": task,
        "rollout": {"problems_per_step": profile.problems_per_step, "group_size": profile.group_size},
        "learner": {"lr": profile.lr},
        "population": {"size": profile.population_size, "cycle_steps": profile.cycle_steps,
                       "anchor_size": profile.anchor_size, "budget": profile.budget},
        "eval": {"every": profile.eval_every, "problems": profile.eval_problems, "kl_problems": 16},
        "checkpoint": {"every": 10_000, "keep": 1},
        **overrides,
    }


def train(data: dict, progress: bool = False) -> list[dict]:
    """Run one training job, or reuse a finished one with the identical config in the same folder (so single
    experiments can build on a previous ``fst demo``)."""
    cfg = parse_config(data)
    out = Path(cfg.output_dir)
    if (out / "final" / "model.safetensors").is_file() and (out / "config.json").is_file():
        if json.loads((out / "config.json").read_text()) == cfg.model_dump(mode="json"):
            return read_jsonl(out / "metrics.jsonl")
    return Trainer(cfg).run(progress=progress)


def evals(history: list[dict]) -> list[dict]:
    return [h for h in history if h["kind"] == "eval"]


def curve(history: list[dict], key: str = "val_mean@4") -> list[tuple[int, float]]:
    return [(h["step"], h[key]) for h in evals(history)]


def rollout_curve(history: list[dict], key: str = "val_mean@4") -> list[tuple[int, float]]:
    """Accuracy against rollouts generated so far: live RL rollouts plus every GEPA rollout."""
    return [(h["rl_rollouts"] + h["gepa_metric_calls"] + h["gepa_rescore_calls"], h[key]) for h in evals(history)]


@dataclass
class Suite:
    profile: Profile
    out: Path
    log: Callable[[str], None] = print
    progress: bool = False
    runs: dict = field(default_factory=dict)  # (method, seed) -> history

    def _train(self, data: dict) -> list[dict]:
        return train(data, self.progress)

    def data_efficiency(self) -> dict:
        p = self.profile
        for seed in p.seeds:
            for method in p.methods:
                start = time.time()
                data = run_config(p, method, seed, self.out / f"{method}-s{seed}", p.steps)
                self.runs[(method, seed)] = self._train(data)
                final = evals(self.runs[(method, seed)])[-1]["val_mean@4"]
                self.log(f"data efficiency: {method} seed {seed}: final val {final:.3f} ({time.time() - start:.0f}s)")
        methods = p.methods
        return {
            "seeds": list(p.seeds),
            "curves": {m: [curve(self.runs[(m, s)]) for s in p.seeds] for m in methods},
            "rollout_curves": {m: [rollout_curve(self.runs[(m, s)]) for s in p.seeds] for m in methods},
        }

    def drift(self) -> dict:
        return {"points": {m: [[(h["kl_to_base"], h["val_mean@4"]) for h in evals(self.runs[(m, s)])]
                               for s in self.profile.seeds] for m in ("fst", "rl") if (m, self.profile.seeds[0])
                           in self.runs}}

    def forgetting(self) -> dict:
        from fastslow.evaluation.forgetting import instruction_following_accuracy

        p = self.profile
        before = instruction_following_accuracy(p.model, p.forgetting_problems)
        after = {m: [instruction_following_accuracy(self.out / f"{m}-s{s}" / "final", p.forgetting_problems)
                     for s in p.seeds] for m in p.methods}
        self.log(f"forgetting: base {before:.3f}, after " +
                 ", ".join(f"{m} {sum(v) / len(v):.3f}" for m, v in after.items()))
        return {"before": before, "after": after}

    def quadrant(self) -> dict:
        from fastslow.evaluation.quadrant import quadrant_cells

        p = self.profile
        cells: dict[str, list[float]] = {}
        for s in p.seeds:
            lead = evals(self.runs[("fst", s)])[-1]["lead_prompt"]
            for cell, value in quadrant_cells(self.out / f"fst-s{s}" / "final", p.task, lead, p.eval_problems,
                                              seed=s, base_path=p.model).items():
                cells.setdefault(cell, []).append(value)
        self.log("quadrant: " + ", ".join(f"{c} {sum(v) / len(v):.3f}" for c, v in cells.items()))
        return {"cells": cells}

    def plasticity(self) -> dict:
        p = self.profile
        curves: dict[str, list] = {"base": [], "rl": [], "fst": []}
        for s in p.seeds:
            for init in curves:
                model = p.model if init == "base" else str(self.out / f"{init}-s{s}" / "final")
                h = self._train(run_config(p, "rl", s, self.out / f"plasticity-{init}-s{s}", p.plasticity_steps,
                                     model=model, task={"name": p.plasticity_task}))
                curves[init].append(curve(h))
                self.log(f"plasticity: {init}-init seed {s}: final {curves[init][-1][-1][1]:.3f}")
        return {"task": p.plasticity_task, "curves": curves}

    def continual(self) -> dict:
        p = self.profile
        n = len(p.stream)
        curves: dict[str, list] = {}
        for method in ("fst", "rl"):
            curves[method] = []
            for s in p.seeds:
                h = self._train(run_config(p, method, s, self.out / f"continual-{method}-s{s}", p.stage_steps * n,
                                     task={"name": p.stream[0], "stream": list(p.stream),
                                           "steps_per_stage": p.stage_steps}))
                # every evaluation measures every task of the stream; the report stitches stage s from task s
                curves[method].append({t: [(e["step"], e[f"val_mean@4/{t}"]) for e in evals(h)] for t in p.stream})
                self.log(f"continual: {method} seed {s} done")
        bounds = [[i * p.stage_steps, (i + 1) * p.stage_steps] for i in range(n)]
        return {"tasks": list(p.stream), "stage_bounds": bounds, "curves": curves}

    # experiment name -> (sections it needs, in order, and the summary keys that report it)
    EXPERIMENTS = {
        "data-efficiency": (("data_efficiency",), ("speedup_to_rl_peak",)),
        "asymptote": (("data_efficiency",), ("asymptote", "asymptote_fits")),
        "drift": (("data_efficiency", "drift"), ("kl_reduction_at_matched_reward",)),
        "forgetting": (("data_efficiency", "forgetting"), ("forgetting",)),
        "plasticity": (("data_efficiency", "plasticity"), ("plasticity",)),
        "continual": (("continual",), ("continual",)),
        "quadrant": (("data_efficiency", "quadrant"), ("quadrant",)),
    }

    def run_one(self, name: str) -> dict:
        """One experiment (and the training runs it builds on; finished runs in ``out`` are reused), written to
        ``out/NAME.json`` with its summary."""
        from fastslow.experiments.report import summarise

        sections, keys = self.EXPERIMENTS[name]
        results: dict = {"settings": asdict(self.profile)}
        for section in sections:
            results[section] = getattr(self, section)()
        summary = summarise(results)
        record = {"experiment": name, "results": {s: results[s] for s in sections},
                  "summary": {k: summary.get(k) for k in keys},
                  "claims": [c for c in summary["claims"] if c["verdict"] != "not run"]}
        (self.out / f"{name}.json").write_text(json.dumps(record, indent=1, default=str))
        return record

    def run(self) -> dict:
        p = self.profile
        started = time.time()
        results: dict = {"settings": {**asdict(p), "started": time.strftime("%Y-%m-%d %H:%M:%S")}}
        results["data_efficiency"] = self.data_efficiency()
        results["drift"] = self.drift()
        for name in ("forgetting", "quadrant", "plasticity", "continual"):
            if name in p.experiments:
                results[name] = getattr(self, name)()
        results["settings"]["wall_seconds"] = round(time.time() - started, 1)
        (self.out / "results.json").write_text(json.dumps(results, indent=1, default=str))
        return results
