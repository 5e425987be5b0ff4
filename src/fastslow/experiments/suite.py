"""The experiment suite behind ``fst demo``: the paper's claims, measured on the Rulebook world with seeds, in each
headline setting (``experiments/settings.py``).

Every experiment is a section module (``experiments/sections/``) whose ``measure(suite)`` runs real training through
``Trainer`` (same loop, same budgets for all modes) and returns plain data in the layout ``report`` documents. The
suite only holds what they share: the profile (the scale of a run), the setting, the finished runs and the helpers
below. The RL arm runs to a stated cap (``rl_steps``, 1.5 times FST's steps by default) so that its peak is a peak
when it plateaus; whether it did is measured, not assumed (``analysis.plateau``).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from fastslow.config import parse_config
from fastslow.experiments.catalog import EXPERIMENTS
from fastslow.metrics import read_jsonl
from fastslow.trainer import Trainer


@dataclass
class Profile:
    """The scale of a suite run. ``standard`` takes about 13-14 CPU-minutes (single-threaded), ``quick`` under one."""

    name: str = "standard"
    model: str = "base"
    task: str = "cipher"
    partial_credit: bool = False  # Rulebook edit-distance reward (a setting's choice; accuracy stays exact match)
    plasticity_task: str = "mirror"
    stream: tuple[str, ...] = ("mirror", "cipher", "clip")
    seeds: tuple[int, ...] = (0, 1, 2)
    steps: int = 60
    rl_steps: int = 90  # the RL arm's stated cap (it runs until then; the report says whether it plateaued)
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
    lr: float = 2e-4
    plasticity_lr: float = 5e-4  # the probe: fresh RL on the plasticity task (as in the earlier tidy demo)
    reflector_noise: float = 0.5  # the simulated reflector's mistake rate (its strength is 1 - noise)
    methods: tuple[str, ...] = ("fst", "rl", "gepa")
    experiments: tuple[str, ...] = ("data_efficiency", "forgetting", "quadrant", "plasticity", "continual")
    sweep_noises: tuple[float, ...] = (0.0, 0.5, 0.9)
    sweep_seeds: tuple[int, ...] = (0, 1)


PROFILES = {
    "standard": Profile(),
    # quick: a smoke run. Two GEPA rounds on 16 anchors with a careful reflector, because at T = 1 the base model
    # executes cipher's rule on about one input in ten, so one round on few anchors often sees no success at all
    "quick": Profile(name="quick", seeds=(0,), steps=12, rl_steps=12, stage_steps=6, plasticity_steps=4,
                     eval_every=3, eval_problems=16, forgetting_problems=30, problems_per_step=4, anchor_size=16,
                     budget=40, stream=("mirror", "tidy"), sweep_noises=(0.0, 0.9), sweep_seeds=(0,),
                     reflector_noise=0.0),
}



def run_config(profile: Profile, mode: str, seed: int, out: Path, steps: int, **overrides) -> dict:
    task = overrides.pop("task", {"name": profile.task, **({"partial_credit": True} if profile.partial_credit else {})})
    return {
        "mode": mode, "seed": seed, "model": overrides.pop("model", profile.model), "output_dir": str(out),
        "steps": steps,
        "task": task,
        "rollout": {"problems_per_step": profile.problems_per_step, "group_size": profile.group_size},
        "learner": {"lr": overrides.pop("lr", profile.lr)},
        "population": {"size": profile.population_size, "cycle_steps": profile.cycle_steps,
                       "anchor_size": profile.anchor_size, "budget": profile.budget,
                       "reflector": {"kind": "rulebook", "noise": overrides.pop("reflector_noise",
                                                                                profile.reflector_noise)}},
        "eval": {"every": profile.eval_every, "problems": profile.eval_problems, "kl_problems": 16,
                 "kl_context": "both"},
        "checkpoint": {"every": 10_000, "keep": 1},
        **overrides,
    }


def train(data: dict, progress: bool = False) -> list[dict]:
    """Run one training job, or reuse a finished one with the identical config in the same folder (so single
    experiments can build on a previous ``fst demo``)."""
    cfg = parse_config(data)
    out = Path(cfg.output_dir)
    finished = (out / "final" / "model.safetensors").is_file() and (out / "config.json").is_file()
    if finished and json.loads((out / "config.json").read_text()) == cfg.model_dump(mode="json"):
        return read_jsonl(out / "metrics.jsonl")
    return Trainer(cfg).run(progress=progress)


def evals(history: list[dict]) -> list[dict]:
    return [h for h in history if h["kind"] == "eval"]


def curve(history: list[dict], key: str = "val_mean@4") -> list[tuple[int, float]]:
    return [(h["step"], h[key]) for h in evals(history)]


def kl_points(history: list[dict], key: str = "val_mean@4") -> tuple[list, list]:
    """(KL, accuracy) per evaluation in the seed-prompt context and in the run's deployed (lead) context."""
    seed = [(h.get("kl_to_base_seed", h["kl_to_base"]), h[key]) for h in evals(history)]
    deployed = [(h.get("kl_to_base_lead", h["kl_to_base"]), h[key]) for h in evals(history)]
    return seed, deployed


def distinct_prompts(history: list[dict]) -> list[int]:
    """Distinct prompts in the population returned by each GEPA round."""
    return [len(set(h["population"])) for h in history if h["kind"] == "gepa"]


def rollout_curve(history: list[dict], key: str = "val_mean@4") -> list[tuple[int, float]]:
    """Accuracy against rollouts generated so far: live RL rollouts plus every GEPA rollout."""
    return [(h["rl_rollouts"] + h["gepa_metric_calls"] + h["gepa_rescore_calls"], h[key]) for h in evals(history)]


@dataclass
class Suite:
    profile: Profile
    out: Path
    log: Callable[[str], None] = print
    progress: bool = False
    setting: object = None  # a settings.Setting (its criteria are checked); None: the profile as given
    runs: dict = field(default_factory=dict)  # (method, seed) -> history
    criteria_checked: bool = False
    results: dict = field(default_factory=dict)
    on_run: Callable[[str], None] | None = None  # called before each training run (the demo's overall progress)

    def train_run(self, data: dict, label: str = "") -> list[dict]:
        if self.on_run is not None:
            self.on_run(label)
        return train(data, self.progress)

    def check_criteria(self) -> None:
        """The setting's RL and GEPA-only criteria, on those arms' curves, before the first FST run: printed with
        the per-seed numbers (RL improved by how much, GEPA-only's final accuracy)."""
        from fastslow.experiments.settings import check

        self.criteria_checked = True
        if self.setting is None or "setting" not in self.results:
            return
        p = self.profile
        curves = {m: [curve(self.runs[(m, s)]) for s in p.seeds] for m in ("rl", "gepa") if (m, p.seeds[0]) in self.runs}
        arms = check(self.setting, curves, len(p.seeds))
        self.results["setting"]["arms"] = arms
        def per(vs, sign="+"):
            return " / ".join("n/a" if v is None else f"{100 * v:{sign}.1f}" for v in vs)

        self.log(f"setting {self.setting.name}, before FST: RL improved by {per(arms['rl_gain_per_seed'])} points "
                 f"per seed; GEPA-only final {per(arms['gepa_final_per_seed'], '')} %; criteria: "
                 + (", ".join(f"{k} {'met' if v else 'NOT met'}" for k, v in arms["met"].items()) or "none"))

    def measure(self, name: str) -> dict:
        from fastslow.experiments.sections import load

        self.results[name] = load(name).measure(self)
        return self.results[name]

    def run_one(self, name: str) -> dict:
        """One experiment (and the training runs it builds on; finished runs in ``out`` are reused), written to
        ``out/NAME.json`` with its summary."""
        from fastslow.experiments.report import jsonable
        from fastslow.experiments.sections import load
        from fastslow.experiments.summary import rules_hash, summarise
        from fastslow.provenance import provenance

        module, needs = EXPERIMENTS[name]
        self.results = {"settings": asdict(self.profile)}
        started = time.time()
        for section in needs:
            self.measure(section)
        self.results["settings"]["wall_seconds"] = round(time.time() - started, 1)
        summary = summarise(self.results)
        record = {"experiment": name, "settings": self.results["settings"],
                  "results": {s: self.results[s] for s in needs},
                  "summary": {k: summary.get(k) for k in load(module).SUMMARY_KEYS},
                  "claims": [c for c in summary["claims"] if c["verdict"] != "not run"],
                  "provenance": provenance(rules=rules_hash())}
        (self.out / f"{name}.json").write_text(json.dumps(jsonable(record), indent=1, default=str))
        return record

    def run(self) -> dict:
        """The setting's whole demo: its criteria, data efficiency, drift, then the profile's other experiments."""
        p = self.profile
        started, cpu = time.time(), time.process_time()
        self.results = {"settings": {**asdict(p), "started": time.strftime("%Y-%m-%d %H:%M:%S"),
                                     "setting": getattr(self.setting, "name", None),
                                     "kl_contexts": "seed and deployed"}}
        for name in ("setting", "data_efficiency", "drift"):
            self.measure(name)
        for name in ("forgetting", "quadrant", "plasticity", "continual"):
            if name in p.experiments:
                self.measure(name)
        results = self.results
        results["settings"]["wall_seconds"] = round(time.time() - started, 1)
        # CPU time of this (single-threaded) process: about the wall-clock on a quiet machine, when it is shared
        results["settings"]["cpu_seconds"] = round(time.process_time() - cpu, 1)
        results["settings"]["load_average_1min_at_end"] = round(os.getloadavg()[0], 2)
        from fastslow.experiments.summary import rules_hash
        from fastslow.provenance import provenance

        record = {**results, "provenance": provenance(rules=rules_hash())}
        (self.out / "results.json").write_text(json.dumps(record, indent=1, default=str))
        return results
