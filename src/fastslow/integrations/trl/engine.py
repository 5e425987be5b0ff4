"""``FSTEngine``: the state FST adds to TRL's trainer, shared by the rollout function, the reward function, the
trainer subclass and the callback (one object, so that they all see the same fast channel), and its checkpoint
(``fst_state.pt``) and debug records. The fast weights themselves (population, cache, carried rollouts,
reflector, counters, rounds) live in the ``FastChannel`` the native engine uses too."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from fastslow.config import RunConfig
from fastslow.fastweights.channel import FastChannel
from fastslow.integrations.trl.launch import process_rank
from fastslow.rl.rollouts import Rollout

STATE_FILE = "fst_state.pt"
DEBUG_ENV = "FST_TRL_DEBUG_DIR"  # when set: every process writes its rows, advantages and populations there


@dataclass
class FSTEngine:
    """Everything FST adds to TRL's trainer: tasks, data order, the fast channel, history and step buffers."""

    cfg: RunConfig
    tasks: list
    stream: object  # fastslow.data.ProblemStream (deterministic batches; also the GEPA lookahead)
    channel: FastChannel
    history: list[dict] = field(default_factory=list)
    batch_rollouts: list[Rollout] = field(default_factory=list)  # this process's rows of the current step
    step_rollouts: list[Rollout] = field(default_factory=list)  # accumulated over the step
    sink: object | None = None  # rank 0: JsonlSink
    sinks: list = field(default_factory=list)  # rank 0: logging.* sinks (TensorBoard, W&B)
    pending: list[tuple[str, dict]] = field(default_factory=list)  # records waiting for the train record
    step_stats: dict = field(default_factory=dict)
    val: dict = field(default_factory=dict)
    reference: object | None = None  # the frozen reference (k3 KL term, per-step kl_k3, diagnostic kl_to_base)
    kl_in_step: bool = False  # the step computes the reference's log-probs (learner.kl_coef > 0 or log_kl)
    teacher: object | None = None  # mode fst-distill: fastslow.rl.teacher.Teacher (frozen or EMA), else None

    # the fast channel's state, under the names the rest of the engine reads
    population = property(lambda self: self.channel.population)
    cache = property(lambda self: self.channel.cache)
    counts = property(lambda self: self.channel.counts)
    reflector = property(lambda self: self.channel.reflector)
    K = property(lambda self: self.channel.K)

    @property
    def distill(self) -> bool:
        """mode fst-distill: the slow step is the reverse KL to the teacher (``fastslow.rl.distill``), not RL."""
        return self.teacher is not None

    def student_prompt(self, task) -> str:
        """fst-distill: the context every slot samples under (the seed prompt, or none: ``distill.student_prompt``)."""
        from fastslow.rl.distill_phase import student_context

        return student_context(task, self.cfg.distill.student_prompt)

    def teacher_prompts(self) -> list[str]:
        """fst-distill: the teacher's contexts, slot j of a group distilled towards context j mod their number."""
        from fastslow.rl.distill_phase import teacher_contexts

        return teacher_contexts(self.population, self.cfg.distill.teacher_prompt)

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
        for sink in [self.sink, *self.sinks] if self.sink is not None else []:
            sink.write(step, record)

    def close(self) -> None:
        for sink in [self.sink, *self.sinks] if self.sink is not None else []:
            sink.close()

    def debug(self, record: dict) -> None:
        folder = os.environ.get(DEBUG_ENV)
        if folder:
            Path(folder).mkdir(parents=True, exist_ok=True)
            with open(Path(folder) / f"rank{process_rank()}.jsonl", "a") as f:
                f.write(json.dumps(record) + "\n")

    # checkpoint state: the fast channel's, the step and the history -----------------------------------------
    def state_dict(self, step: int, carried: dict) -> dict:
        return {"step": step, "history": list(self.history), **self.channel.state_dict(carried)}

    def load_state_dict(self, state: dict, rank: int = 0) -> None:
        self.history = list(state["history"])
        self.channel.load_state_dict(state)
        if rank != 0:  # the gathered reflection rollouts live on rank 0 (the only one that reflects)
            self.channel.carried = {}
