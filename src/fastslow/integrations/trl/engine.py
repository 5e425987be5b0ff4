"""``FSTEngine``: the state FST adds to TRL's trainer, shared by the rollout function, the reward function, the
trainer subclass and the callback (one object, so that they all see the same population, cache and counters), and
its checkpoint (``fst_state.pt``) and debug records."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from fastslow.config import RunConfig
from fastslow.integrations.trl.launch import process_rank
from fastslow.rl.rollouts import Rollout

STATE_FILE = "fst_state.pt"
DEBUG_ENV = "FST_TRL_DEBUG_DIR"  # when set: every process writes its rows, advantages and populations there


@dataclass
class FSTEngine:
    """Everything FST adds to TRL's trainer: tasks, data order, population, cache, reflector, counters, history."""

    cfg: RunConfig
    tasks: list
    stream: object  # fastslow.data.ProblemStream (deterministic batches; also the GEPA lookahead)
    population: list[str]
    reflector: object | None = None
    cache: object | None = None  # RolloutCache of the latest GEPA round (reuse)
    cycle_rollouts: list[Rollout] = field(default_factory=list)
    counts: dict = field(default_factory=lambda: {
        "rl_rollouts": 0, "reused_rollouts": 0, "gepa_metric_calls": 0, "gepa_rescore_calls": 0,
        "reflection_calls": 0, "gepa_rounds": 0, "verifier_errors": 0})
    history: list[dict] = field(default_factory=list)
    rounds_done: set = field(default_factory=set)  # cycles whose GEPA round already ran (resume safety)
    batch_rollouts: list[Rollout] = field(default_factory=list)  # this process's rows of the current step
    step_rollouts: list[Rollout] = field(default_factory=list)  # accumulated over the step (GA > 1)
    sink: object | None = None  # rank 0: JsonlSink
    pending: list[tuple[str, dict]] = field(default_factory=list)  # records waiting for the train record
    step_stats: dict = field(default_factory=dict)
    val: dict = field(default_factory=dict)
    base: object | None = None  # rank 0: the frozen initial policy, for the diagnostic kl_to_base

    @property
    def K(self) -> int:
        return 1 if self.cfg.mode == "rl" else self.cfg.population.size

    def task_at(self, step: int):
        return self.stream.task_at(min(step, self.cfg.steps - 1))

    def problem(self, task_name: str, pid: str):
        return self.problems[(task_name, pid)]

    def build_rows(self) -> list[dict]:
        """The dataset: B problems per step, in the stream's order, for every step of the run."""
        self.problems, rows = {}, []
        for s in range(self.cfg.steps):
            task = self.stream.task_at(s)
            for p in self.stream.batch(s):
                self.problems[(task.name, p.id)] = p
                rows.append({"prompt": [{"role": "user", "content": p.text}], "fst_pid": p.id,
                             "fst_task": task.name})
        return rows

    def task_named(self, name: str):
        return next(t for t in self.tasks if t.name == name)

    def log(self, step: int, kind: str, metrics: dict) -> None:
        record = {"kind": kind, **metrics}
        self.history.append({"step": step, **record})
        if self.sink is not None:
            self.sink.write(step, record)

    def debug(self, record: dict) -> None:
        folder = os.environ.get(DEBUG_ENV)
        if folder:
            Path(folder).mkdir(parents=True, exist_ok=True)
            with open(Path(folder) / f"rank{process_rank()}.jsonl", "a") as f:
                f.write(json.dumps(record) + "\n")

    # checkpoint state (population, cache, reflector, counters, history) ------------------------------------
    def state_dict(self, step: int, cycle_rollouts: list[Rollout]) -> dict:
        reflector = None
        if self.reflector is not None:
            rng = getattr(self.reflector, "rng", None)
            reflector = {"stats": self.reflector.stats, "rng": rng.getstate() if rng is not None else None}
        return {"step": step, "population": list(self.population), "counts": dict(self.counts),
                "history": list(self.history), "rounds_done": sorted(self.rounds_done),
                "cache": self.cache.state_dict() if self.cache is not None else None,
                "cycle_rollouts": cycle_rollouts, "reflector": reflector}

    def load_state_dict(self, state: dict, rank: int = 0) -> None:
        from fastslow.fastweights.cache import RolloutCache

        self.population, self.counts = list(state["population"]), dict(state["counts"])
        self.history, self.rounds_done = list(state["history"]), set(state["rounds_done"])
        self.cache = None
        if state["cache"] is not None:
            self.cache = RolloutCache()
            self.cache.load_state_dict(state["cache"])
        # the gathered reflection rollouts live on rank 0 (the only one that reflects)
        self.cycle_rollouts = list(state["cycle_rollouts"]) if rank == 0 else []
        if state["reflector"] is not None and self.reflector is not None:
            self.reflector.stats = state["reflector"]["stats"]
            if state["reflector"]["rng"] is not None and getattr(self.reflector, "rng", None) is not None:
                self.reflector.rng.setstate(state["reflector"]["rng"])
