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

``rl`` keeps the seed prompt (K=1) and never runs GEPA; ``gepa`` never updates the weights; the data stream, the
budgets and the evaluation are the same code for all three. Every step logs reward, zero-variance fraction,
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

from fastslow.config import RunConfig
from fastslow.data import ProblemStream, StagedProblemStream
from fastslow.evaluation.accuracy import validation_metrics
from fastslow.evaluation.kl import kl_to_base
from fastslow.metrics import JsonlSink, MetricsLogger, Sink
from fastslow.model.base import load_model
from fastslow.model.lora import build_reference, prepare_policy
from fastslow.rl.advantages import assign, has_signal
from fastslow.rl.learner import Learner, LearnerConfig
from fastslow.rl.rollouts import collect_groups
from fastslow.sampling import SamplerError, SamplingParams, build_sampler
from fastslow.sampling.factory import before_update, sync_policy
from fastslow.tasks import Task, load_task


def derived_seed(seed: int, step: int, purpose: int) -> int:
    """Independent, reproducible sampling seeds per (run seed, step, purpose)."""
    return (seed * 1_000_003 + step * 7_919 + purpose * 104_729) % (2**63)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def build_tasks(cfg: RunConfig) -> list[Task]:
    """The run's tasks, resolved by id through the one task resolver (``fastslow.tasks.load_task``)."""
    tasks = []
    for ref in cfg.task.refs:
        args = {"partial_credit": True, **ref.args} if cfg.task.partial_credit else ref.args
        tasks.append(load_task(ref.id, args, seed=cfg.seed, seed_prompt=cfg.task.seed_prompt))
    return tasks


def check_reflector_fits(cfg: RunConfig, tasks: list[Task]) -> None:
    """The offline Rulebook reflector reads Rulebook feedback only; on any other task it would never propose."""
    from fastslow.config import ConfigError
    from fastslow.rulebook import InstructionSuite, RulebookTask

    if cfg.mode == "rl" or cfg.population.reflector.kind != "rulebook":
        return
    other = [t.name for t in tasks if not isinstance(t, (RulebookTask, InstructionSuite))]
    if other:
        raise ConfigError(f"population.reflector.kind: 'rulebook' (the offline Rulebook reflector) only works on "
                          f"Rulebook tasks, but task {other[0]!r} is not one; use kind: llm (any LLM through "
                          "litellm) or kind: python with id: module:attr")


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
    extra metric sinks) can be passed in; everything else is built from ``cfg``."""

    def __init__(self, cfg: RunConfig, sinks: list[Sink] | None = None, reflector=None,
                 tasks: list[Task] | None = None, policy=None, tokenizer=None, sampler=None):
        refuse_several_processes()
        self.cfg = cfg
        torch.set_num_threads(cfg.threads)
        seed_everything(cfg.seed)
        self.out = Path(cfg.output_dir)
        self.out.mkdir(parents=True, exist_ok=True)
        (self.out / "config.json").write_text(json.dumps(cfg.model_dump(mode="json"), indent=2))
        self.tasks = list(tasks) if tasks is not None else build_tasks(cfg)
        if reflector is None:
            check_reflector_fits(cfg, self.tasks)
        if (policy is None) != (tokenizer is None):
            raise ValueError("pass both policy and tokenizer, or neither")
        if policy is None:  # cfg.model: folder / hub id / base / smollm2, dtype, LoRA, gradient checkpointing
            policy, tokenizer = load_model(cfg.model)
        else:
            policy = prepare_policy(policy, cfg.model)
        self.policy, self.tokenizer = policy, tokenizer
        # the frozen reference: a copy of the initial weights, the adapter-disabled policy under LoRA, or None
        self.base = build_reference(self.policy, cfg.model.reference)
        L = cfg.learner
        self.learner = Learner(self.policy, LearnerConfig(
            loss=L.loss, aggregation=L.aggregation, tau=L.tau, eps_low=L.eps_low, eps_high=L.eps_high,
            kl_coef=L.kl_coef, lr=L.lr, warmup_steps=L.warmup_steps, weight_decay=L.weight_decay,
            grad_clip=L.grad_clip, micro_batch_size=L.micro_batch_size, temperature=cfg.rollout.temperature,
            shared_prefix=L.shared_prefix,
        ), ref_model=self.base if (L.kl_coef > 0 or L.log_kl) else None, pad_id=self.tokenizer.pad_token_id)
        if self.base is not None:
            self.base.to(self.learner.accelerator.device)  # the policy was placed by accelerate; keep them together
        # one sampler (one engine) per run: RL rollouts, GEPA rounds, reuse and evaluation (rollout.backend)
        if sampler is None:
            sampler = build_sampler(cfg, self.learner.policy, self.tokenizer)
        else:  # a passed-in engine (tests, benchmarks) serves this run's policy from the start
            sync_policy(sampler, self.learner.policy)
        self.sampler = sampler
        if len(self.tasks) > 1:
            self.stream = StagedProblemStream(self.tasks, cfg.rollout.problems_per_step, cfg.task.steps_per_stage,
                                              seed=cfg.seed)
        else:
            self.stream = ProblemStream(self.tasks[0], cfg.rollout.problems_per_step, seed=cfg.seed)
        try:
            self.val = {t.name: t.problems("val", cfg.eval.problems) for t in self.tasks}
        except ValueError as err:  # a finite val split smaller than asked for
            from fastslow.config import ConfigError

            raise ConfigError(f"eval.problems ({cfg.eval.problems}): {err}") from None
        self.population = [self.tasks[0].seed_prompt]
        self.K = 1 if cfg.mode == "rl" else cfg.population.size
        self.cache = None  # the latest GEPA round's rollouts (reuse)
        # this cycle's RL rollouts, by task (feedback for the next round's reflection, if enabled)
        self.cycle_rollouts: dict[str, list] = {}
        self.reflector = reflector
        if cfg.mode != "rl" and reflector is None:
            from fastslow.fastweights.reflectors.factory import build_reflector

            self.reflector = build_reflector(cfg.population.reflector, cfg.seed, cfg.population.max_prompt_chars)
        self.counts = {"rl_rollouts": 0, "reused_rollouts": 0, "gepa_metric_calls": 0, "gepa_rescore_calls": 0,
                       "reflection_calls": 0, "gepa_rounds": 0, "verifier_errors": 0}
        sinks = list(sinks or [])
        if cfg.logging.tensorboard:
            from fastslow.metrics import TensorBoardSink

            sinks.append(TensorBoardSink(self.out / "tensorboard"))
        if cfg.logging.wandb:
            from fastslow.metrics import WandbSink

            sinks.append(WandbSink(cfg.logging.wandb_project, cfg.model_dump(mode="json"), self.out))
        self.jsonl = JsonlSink(self.out / "metrics.jsonl")
        self.logger = MetricsLogger([self.jsonl, *sinks])
        self.step = 0
        self.history: list[dict] = []

    @property
    def task(self):
        """The task being trained on at the current step (fixed unless the config has a task stream)."""
        return self.stream.task_at(min(self.step, self.cfg.steps - 1))

    def rollout_params(self, purpose: int) -> SamplingParams:
        r = self.cfg.rollout
        return SamplingParams(temperature=r.temperature, top_p=r.top_p, max_new_tokens=r.max_new_tokens,
                              seed=derived_seed(self.cfg.seed, self.step, purpose))

    # ---- fast weights: one GEPA round ----------------------------------------------------------------------
    def gepa_round(self, cycle: int) -> dict:
        from fastslow.fastweights.gepa_round import gepa_round

        cfg, P = self.cfg, self.cfg.population
        lookahead = [p for batch in self.stream.peek(P.cycle_steps) for p in batch]
        rng = random.Random(derived_seed(cfg.seed, cycle, 4))
        anchor = lookahead if P.anchor_size >= len(lookahead) else rng.sample(lookahead, P.anchor_size)
        start = time.perf_counter()
        result = gepa_round(self.sampler, self.task, self.reflector, anchor, self.population, P.budget, self.K,
                            self.rollout_params(5), cycle=cycle, seed=cfg.seed, minibatch_size=P.minibatch_size,
                            max_prompt_chars=P.max_prompt_chars,
                            feedback_rollouts=self.cycle_rollouts.get(self.task.name, []), fill=P.fill,
                            acceptance=P.acceptance, front_rule=P.front, selection_rule=P.selection,
                            rollouts_per_anchor=P.rollouts_per_anchor, z=P.selection_z,
                            parent_selector=P.parent_selector, confirm_rollouts=P.confirm_rollouts,
                            confirm_max=P.confirm_max)
        self.cycle_rollouts = {}
        self.population = result.population
        self.cache = result.cache if P.reuse_rollouts and cfg.mode == "fst" else None
        self.counts["gepa_rounds"] += 1
        self.counts["gepa_metric_calls"] += result.metric_calls
        self.counts["gepa_rescore_calls"] += result.rescore_calls + result.confirm_rollouts  # both outside the budget
        self.counts["reflection_calls"] += result.reflection_calls
        self.counts["verifier_errors"] += result.verifier_errors
        return {"cycle": cycle, "population": list(result.population), "population_scores": result.population_scores,
                "candidates": len(result.candidates), "accepted": result.accepted,
                "metric_calls": result.metric_calls, "rescore_calls": result.rescore_calls,
                "reflection_calls": result.reflection_calls, "cached_rollouts": result.cache.added,
                "gepa_generated": result.generated, "gepa_sampler_calls": result.sampler_calls,
                "speculative_unused": result.speculative_unused,
                "feedback_served": result.feedback_served,
                "selection_rollouts": result.selection_rollouts, "confirm_rollouts": result.confirm_rollouts,
                "incumbent_replaced": result.incumbent_replaced,
                "beat_incumbent": result.beat_incumbent,
                "reflector_failures": self.reflector.stats.failures,  # cumulative, as the token and cost counts
                "reflector_tokens": self.reflector.stats.prompt_tokens + self.reflector.stats.completion_tokens,
                "reflector_cost_usd": self.reflector.stats.cost_usd,
                "time_gepa": time.perf_counter() - start}

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
        if cfg.population.reflect_on_rl_rollouts and cfg.mode == "fst":
            self.cycle_rollouts.setdefault(self.task.name, []).extend(r for g in groups for r in g.rollouts)
        reused = sum(r.source == "reused" for g in groups for r in g.rollouts)
        errors = sum(r.verifier_error for g in groups for r in g.rollouts if r.source != "reused")
        self.counts["rl_rollouts"] += len(rewards) - reused
        self.counts["reused_rollouts"] += reused
        self.counts["verifier_errors"] += errors
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
        if ev.kl_problems and self.base is not None:  # model.reference: none -> no diagnostic KL
            contexts = {"seed": self.task.seed_prompt, "lead": lead}
            kls: dict[str, float] = {}
            for name in ("seed", "lead") if ev.kl_context == "both" else (ev.kl_context,):
                if contexts[name] in [contexts[k] for k in kls]:  # rl: the lead prompt is the seed prompt
                    kls[name] = next(v for k, v in kls.items() if contexts[k] == contexts[name])
                    continue
                kls[name] = kl_to_base(self.learner.policy, self.base, self.sampler, self.task,
                                       self.val[self.task.name][: ev.kl_problems], contexts[name],
                                       max_new_tokens=cfg.rollout.max_new_tokens,
                                       seed=derived_seed(cfg.seed, self.step, 3), pad_id=self.tokenizer.pad_token_id)
            result["kl_to_base"] = kls["seed"] if "seed" in kls else kls["lead"]
            if ev.kl_context == "both":  # FST's weights are trained under its lead prompt: measure both contexts
                result["kl_to_base_seed"], result["kl_to_base_lead"] = kls["seed"], kls["lead"]
        result["time_eval"] = time.perf_counter() - start
        return result

    # ---- the loop ------------------------------------------------------------------------------------------
    def run(self, progress: bool = True) -> list[dict]:
        """Algorithm 1 (see the module docstring). A generation backend that fails mid-run (an engine crash, a lost
        server) stops the run with a ``SamplerError`` that names the last complete checkpoint; checkpoints are
        written atomically between steps, so that one is intact and ``fst run --resume`` continues from it."""
        try:
            return self._run(progress)
        except SamplerError as err:
            from fastslow import checkpoint

            self.logger.close()
            try:
                last = f"the last complete checkpoint is {checkpoint.latest(self.out / 'checkpoints')}"
            except checkpoint.CheckpointError:
                last = "no checkpoint was written yet"
            raise SamplerError(f"{err} (the run stopped at step {self.step}; {last}; fix the backend and continue "
                               "with fst run --resume)") from err

    def _run(self, progress: bool) -> list[dict]:
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        cfg, T = self.cfg, self.cfg.population.cycle_steps
        columns = [TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                   TimeElapsedColumn(), TextColumn("{task.fields[info]}")]
        with Progress(*columns, disable=not progress, transient=False) as bar:
            job = bar.add_task(f"{cfg.mode} {'>'.join(cfg.task.names)}", total=cfg.steps, info="")
            if self.step == 0:
                self._eval_and_log()
            while self.step < cfg.steps:
                if self.step % T == 0 and cfg.mode in ("fst", "gepa"):
                    self._log("gepa", self.gepa_round(cycle=self.step // T))
                start = time.perf_counter()
                if cfg.mode in ("fst", "rl"):
                    metrics = self.rl_step()
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
        reflector = None
        if self.reflector is not None:
            rng = getattr(self.reflector, "rng", None)
            reflector = {"stats": self.reflector.stats, "rng": rng.getstate() if rng is not None else None}
        return {
            "step": self.step, "population": self.population, "cursor": self.stream.cursor, "counts": self.counts,
            "history": self.history, "cache": self.cache.state_dict() if self.cache is not None else None,
            "cycle_rollouts": self.cycle_rollouts,
            "reflector": reflector, "learner_steps": self.learner.steps_done,
            "rng": {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()},
        }

    def save_checkpoint(self) -> Path:
        from fastslow import checkpoint

        return checkpoint.save(self.out / "checkpoints", self.step, self.learner.policy, self.tokenizer,
                               self.learner.optimizer, self.learner.scheduler, self.run_state(),
                               keep=self.cfg.checkpoint.keep)

    def resume(self) -> int:
        """Restore the latest complete checkpoint of this run's output folder; returns its step."""
        from fastslow import checkpoint
        from fastslow.fastweights.cache import RolloutCache

        folder = checkpoint.latest(self.out / "checkpoints")
        optim, state = checkpoint.load_training_state(folder)
        checkpoint.restore_policy(folder, self.learner.policy)  # the adapter alone under LoRA
        sync_policy(self.sampler, self.learner.policy)  # an engine with its own copy serves the restored weights
        self.learner.optimizer.load_state_dict(optim["optimizer"])
        self.learner.scheduler.load_state_dict(optim["scheduler"])
        self.learner.steps_done = state["learner_steps"]
        self.step, self.population, self.counts = state["step"], state["population"], state["counts"]
        self.stream.cursor, self.history = state["cursor"], state["history"]
        self.cycle_rollouts = state["cycle_rollouts"]
        self.cache = None
        if state["cache"] is not None:
            self.cache = RolloutCache()
            self.cache.load_state_dict(state["cache"])
        if state["reflector"] is not None and self.reflector is not None:
            self.reflector.stats = state["reflector"]["stats"]
            if state["reflector"]["rng"] is not None:
                self.reflector.rng.setstate(state["reflector"]["rng"])
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
