"""The training run: the paper's Algorithm 1 over small named parts, for all three modes.

    population <- [seed prompt]
    for cycle c = 0, 1, ...:
        lookahead <- the next T batches                              (ProblemStream.peek)
        if mode in {fst, gepa}:                                      fast weights
            population, cache <- GEPA round(current policy, anchor subset of lookahead,
                                            seeded with population, budget) -> top-K of the Pareto front
        for t = 1..T:
            batch <- next batch
            if mode in {fst, rl}:                                    slow weights
                every problem: G rollouts, G/K under each prompt (reused GEPA rollouts first), ONE group
                CISPO step on the groups

``rl`` keeps the seed prompt (K=1) and never runs GEPA; ``gepa`` never updates the weights; ``fst-distill`` runs
the GEPA rounds of ``fst`` but its slow step distils the policy under the seed prompt towards a frozen or EMA copy
under the evolved prompt(s) (``fastslow.rl.distill_phase``); the data stream, the budgets and the evaluation are
the same code for all modes. Every step logs reward, zero-variance fraction,
entropy, KL on its own samples, grad norm, clip fraction, timings and the cumulative rollout / reflection
counts; every ``eval.every`` steps the validation mean@k under the deployed (lead) prompt and the diagnostic
KL(pi_train || pi_base).
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

import numpy as np
import torch

from fastslow.build import (  # noqa: F401  (importable here)
    build_run,
    build_sinks,
    build_tasks,
    check_reflector_fits,
    derived_seed,
    rollout_params,
    seed_everything,
)
from fastslow.config import RunConfig
from fastslow.evaluation.accuracy import validation_metrics
from fastslow.evaluation.kl import kl_contexts
from fastslow.metrics import JsonlSink, MetricsLogger, Sink
from fastslow.rl.advantages import assign, has_signal
from fastslow.rl.learner import Learner, learner_config
from fastslow.rl.rollouts import collect_groups
from fastslow.sampling import SamplerError, SamplingParams, build_sampler
from fastslow.sampling.factory import before_update, sync_policy
from fastslow.tasks import Task


def refuse_several_processes() -> None:
    """The native engine runs in one process: under ``accelerate launch`` / ``torchrun`` with more than one process
    it would train N unsharded copies, write N sets of checkpoints and metrics and warm up N times too fast, so it
    refuses to start and points to the distributed engine."""
    import os

    from fastslow.config import ConfigError

    n = int(os.environ.get("WORLD_SIZE", "1") or 1)
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        n = max(n, torch.distributed.get_world_size())
    if n > 1:
        raise ConfigError(f"engine: native runs in one process, but this launch has {n} processes; set engine: trl "
                          "(FST on TRL's GRPOTrainer, multi-GPU / multi-node) or launch a single process")


class Trainer:
    """The run. Parts the config cannot describe (task objects, a ready policy and tokenizer, a reflector,
    extra metric sinks) can be passed in; everything else is built from ``cfg`` by the shared build step."""

    def __init__(self, cfg: RunConfig, sinks: list[Sink] | None = None, reflector=None,
                 tasks: list[Task] | None = None, policy=None, tokenizer=None, sampler=None):
        refuse_several_processes()
        self.cfg = cfg
        self.out = Path(cfg.output_dir)
        parts = build_run(cfg, tasks=tasks, policy=policy, tokenizer=tokenizer, reflector=reflector)
        self.tasks, self.stream, self.tokenizer = parts.tasks, parts.stream, parts.tokenizer
        self.policy, self.base, self.channel = parts.policy, parts.reference, parts.channel
        L = cfg.learner
        self.learner = Learner(self.policy, learner_config(cfg),
                               ref_model=self.base if (L.kl_coef > 0 or L.log_kl) else None,
                               pad_id=self.tokenizer.pad_token_id)
        if self.base is not None:
            self.base.to(self.learner.accelerator.device)  # the policy was placed by accelerate; keep them together
        # one sampler (one engine) per run: RL rollouts, GEPA rounds, reuse and evaluation (rollout.backend)
        if sampler is None:
            sampler = build_sampler(cfg, self.learner.policy, self.tokenizer)
        else:  # a passed-in engine (tests, benchmarks) serves this run's policy from the start
            sync_policy(sampler, self.learner.policy)
        self.sampler = sampler
        try:
            self.val = {t.name: t.problems("val", cfg.eval.problems) for t in self.tasks}
        except ValueError as err:  # a finite val split smaller than asked for
            from fastslow.config import ConfigError

            raise ConfigError(f"eval.problems ({cfg.eval.problems}): {err}") from None
        # mode fst-distill: the slow step is reverse-KL self-distillation towards the evolved prompts (its own module)
        self.distill = None
        if cfg.mode == "fst-distill":
            from fastslow.rl.distill_phase import DistillPhase

            self.distill = DistillPhase(cfg)
        self.jsonl = JsonlSink(self.out / "metrics.jsonl")
        self.logger = MetricsLogger([self.jsonl, *(sinks or []), *build_sinks(cfg, self.out)])
        self.step = 0
        self.history: list[dict] = []

    # the fast channel's state, under the names the rest of fastslow reads
    population = property(lambda self: self.channel.population,
                          lambda self, v: setattr(self.channel, "population", v))
    cache = property(lambda self: self.channel.cache, lambda self, v: setattr(self.channel, "cache", v))
    counts = property(lambda self: self.channel.counts)
    reflector = property(lambda self: self.channel.reflector)
    K = property(lambda self: self.channel.K)

    @property
    def task(self):
        """The task being trained on at the current step (fixed unless the config has a task stream)."""
        return self.stream.task_at(min(self.step, self.cfg.steps - 1))

    def rollout_params(self, purpose: int) -> SamplingParams:
        return rollout_params(self.cfg, self.step, purpose)

    # ---- fast weights: one GEPA round ----------------------------------------------------------------------
    def gepa_round(self, cycle: int | None = None) -> dict:
        """The fast channel's round at the current step (``cycle`` is the step's, kept for callers naming it)."""
        return self.channel.round(self.sampler, self.task, self.stream, self.step)

    # ---- slow weights: one RL step -------------------------------------------------------------------------
    def rl_step(self, problems=None) -> dict:
        cfg = self.cfg
        problems = self.stream.next() if problems is None else problems
        timings: dict[str, float] = {}
        groups = collect_groups(self.sampler, self.task, problems, self.population, cfg.rollout.group_size,
                                self.rollout_params(1), reuse=self.cache, timings=timings)
        assign(groups, cfg.learner.baseline, cfg.learner.scale_by_std)
        rewards = [r for g in groups for r in g.rewards]
        zero_var = sum(not has_signal(g) for g in groups) / len(groups)
        train_groups = [g for g in groups if has_signal(g)] if cfg.learner.drop_zero_variance else groups
        start = time.perf_counter()
        before_update(self.sampler)
        metrics = self.learner.step(train_groups)
        timings["learning"] = time.perf_counter() - start
        timings.update({f"learner_{k}": v for k, v in self.learner.timings.items()})  # forward, backward, ...
        start = time.perf_counter()
        if sync_policy(self.sampler, self.learner.policy):  # an engine with its own copy serves the new weights
            timings["weight_sync"] = time.perf_counter() - start
        per_prompt = {}
        for k in range(len(self.population)):
            rs = [r.reward for g in groups for r in g.rollouts if r.prompt_index == k]
            per_prompt[f"reward_prompt_{k}"] = sum(rs) / max(1, len(rs))
        reused = self.channel.record_rl([r for g in groups for r in g.rollouts], self.task.name)
        accuracy = sum(r.correct for g in groups for r in g.rollouts) / len(rewards)
        return {"reward_mean": sum(rewards) / len(rewards), "train_accuracy": accuracy,
                "zero_variance_frac": zero_var, **metrics,
                "reused_frac": reused / len(rewards), **per_prompt,
                **{f"time_{k}": v for k, v in timings.items()}}

    # ---- evaluation ----------------------------------------------------------------------------------------
    def evaluate(self) -> dict:
        cfg, ev = self.cfg, self.cfg.eval
        start = time.perf_counter()
        lead = self.population[0]
        params = SamplingParams(temperature=ev.temperature, top_p=ev.top_p, max_new_tokens=cfg.rollout.max_new_tokens,
                                seed=derived_seed(cfg.seed, self.step, 2))
        # in a stream every task is measured (retention); the current one is val_mean@k
        result, errors = validation_metrics(self.sampler, self.tasks, self.val, self.task, lead, params, ev.k)
        self.counts["verifier_errors"] += errors
        self.counts["eval_rollouts"] += ev.k * sum(len(self.val[t.name]) for t in self.tasks)  # time-to-accuracy cost
        if ev.kl_problems and self.base is not None:  # model.reference: none -> no diagnostic KL
            result.update(kl_contexts(self.learner.policy, self.base, self.sampler, self.task,
                                      self.val[self.task.name][: ev.kl_problems], self.task.seed_prompt, lead,
                                      ev.kl_context, cfg.rollout.max_new_tokens, derived_seed(cfg.seed, self.step, 3),
                                      self.tokenizer.pad_token_id))
        result["time_eval"] = time.perf_counter() - start
        return result

    # ---- the loop ------------------------------------------------------------------------------------------
    def run(self, progress: bool = True) -> list[dict]:
        """Algorithm 1 (see the module docstring). A generation backend that fails mid-run (an engine crash, a lost
        server) stops the run with a ``SamplerError`` that names the last complete checkpoint; checkpoints are
        written atomically between steps, so that one is intact and ``fst run --resume`` continues from it."""
        from fastslow.fastweights.reflectors.base import ReflectorError

        try:
            return self._run(progress)
        except (SamplerError, ReflectorError) as err:  # issue 20: a reflector that keeps failing stops the same way
            from fastslow import checkpoint

            self.logger.close()
            try:
                last = f"the last complete checkpoint is {checkpoint.latest(self.out / 'checkpoints')}"
            except checkpoint.CheckpointError:
                last = "no checkpoint was written yet"
            what = "backend" if isinstance(err, SamplerError) else "reflector"
            raise type(err)(f"{err} (the run stopped at step {self.step}; {last}; fix the {what} and continue "
                            "with fst run --resume)") from err

    def _run(self, progress: bool) -> list[dict]:
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        cfg = self.cfg
        columns = [TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                   TimeElapsedColumn(), TextColumn("{task.fields[info]}")]
        with Progress(*columns, disable=not progress, transient=False) as bar:
            job = bar.add_task(f"{cfg.mode} {'>'.join(cfg.task.names)}", total=cfg.steps, info="")
            if self.step == 0:
                self._eval_and_log()
            while self.step < cfg.steps:
                if self.channel.round_due(self.step):  # fast weights: GEPA round on the next T batches
                    record = self.gepa_round()
                    self._log("gepa", record)
                    self.channel.failed_rounds.observe(record)  # ReflectorError after max_failed_rounds in a row
                    if self.distill is not None:  # fst-distill: a frozen teacher snapshots the weights per cycle
                        self.distill.begin_cycle(self.learner.policy)
                start = time.perf_counter()
                if cfg.mode in ("fst", "rl"):
                    metrics = self.rl_step()
                elif self.distill is not None:  # fst-distill: one reverse-KL step (fastslow.rl.distill_phase)
                    metrics = self.distill.step(self)
                else:  # gepa-only: the weights stay frozen, the data stream moves on
                    self.stream.next()
                    metrics = {}
                self.step += 1
                metrics["time_step"] = time.perf_counter() - start
                self._log("train", {**metrics, **self.counts})
                info = f"reward {metrics['reward_mean']:.3f}" if "reward_mean" in metrics else ""
                if self.step % cfg.eval.every == 0 or self.step == cfg.steps:
                    ev = self._eval_and_log()
                    info += f" | val {ev[f'val_mean@{cfg.eval.k}']:.3f}"
                if self.step % cfg.checkpoint.every == 0 or self.step == cfg.steps:
                    self.save_checkpoint()
                bar.update(job, completed=self.step, info=info)
        self.save_final()
        self.logger.close()
        return self.history

    def _eval_and_log(self) -> dict:
        ev = {**self.evaluate(), **self.counts, "lead_prompt": self.population[0]}
        self._log("eval", ev)
        return ev

    def _log(self, kind: str, metrics: dict) -> None:
        record = {"kind": kind, **metrics}
        self.history.append({"step": self.step, **record})
        self.logger.log(self.step, record)

    # ---- joint checkpoints ---------------------------------------------------------------------------------
    def run_state(self) -> dict:
        """The checkpoint's run state: the fast channel's (population, cache, reflector, counters) and the loop's."""
        return {"step": self.step, "cursor": self.stream.cursor, "history": self.history,
                "learner_steps": self.learner.steps_done, **self.channel.state_dict(),
                "rng": {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}}

    def save_checkpoint(self) -> Path:
        from fastslow import checkpoint

        return checkpoint.save(self.out / "checkpoints", self.step, self.learner.policy, self.tokenizer,
                               self.learner.optimizer, self.learner.scheduler, self.run_state(),
                               keep=self.cfg.checkpoint.keep)

    def resume(self) -> int:
        """Restore the latest complete checkpoint of this run's output folder; returns its step."""
        from fastslow import checkpoint

        folder = checkpoint.latest(self.out / "checkpoints")
        optim, state = checkpoint.load_training_state(folder)
        checkpoint.restore_policy(folder, self.learner.policy)  # the adapter alone under LoRA
        sync_policy(self.sampler, self.learner.policy)  # an engine with its own copy serves the restored weights
        self.learner.optimizer.load_state_dict(optim["optimizer"])
        self.learner.scheduler.load_state_dict(optim["scheduler"])
        self.learner.steps_done = state["learner_steps"]
        self.step, self.stream.cursor, self.history = state["step"], state["cursor"], state["history"]
        self.channel.load_state_dict(state)
        random.setstate(state["rng"]["python"])
        np.random.set_state(state["rng"]["numpy"])
        torch.set_rng_state(state["rng"]["torch"])
        self.jsonl.rewrite(self.history)
        return self.step

    def save_final(self) -> None:
        from fastslow.checkpoint import export_policy

        final = self.out / "final"
        export_policy(self.learner.policy, self.tokenizer, final, self.cfg.model.export)  # LoRA: merged or adapter
        (final / "population.json").write_text(json.dumps(self.population, indent=2))
