"""``FSTCallback``, the fast weights and bookkeeping around TRL's steps: the GEPA round every T steps (rank 0, the
result broadcast), the step's metrics in the native schema, evaluations, and the FST state in each checkpoint.
Built by ``_callback_class`` so that transformers is imported only when a trainer is built."""

from __future__ import annotations

import os
import random
import time
from pathlib import Path

import torch

from fastslow.integrations.trl.engine import STATE_FILE, FSTEngine
from fastslow.integrations.trl.policy import full_model, sampler_for


TRL_TO_NATIVE = {"reward": "reward_mean", "frac_reward_zero_std": "zero_variance_frac", "loss": "loss",
                 "grad_norm": "grad_norm", "entropy": "entropy", "cispo_clip_ratio": "clip_frac",
                 "learning_rate": "lr"}


def _callback_class():
    from transformers import TrainerCallback

    class FSTCallback(TrainerCallback):
        def __init__(self, engine: FSTEngine):
            self.engine = engine
            self.trainer = None
            self.step_start = 0.0

        # fast weights ---------------------------------------------------------------------------------------
        def on_step_begin(self, args, state, control, **kwargs):
            eng, cfg = self.engine, self.engine.cfg
            step, T = state.global_step, cfg.population.cycle_steps
            if cfg.mode == "fst" and step % T == 0 and step // T not in eng.rounds_done:
                self.gepa_round(step, step // T)
            self.step_start = time.perf_counter()  # as the native time_step: the RL step, not the GEPA round

        def gepa_round(self, step: int, cycle: int) -> None:
            from accelerate.utils import broadcast_object_list, gather_object

            eng, cfg, acc = self.engine, self.engine.cfg, self.trainer.accelerator
            feedback = gather_object(list(eng.cycle_rollouts)) if cfg.population.reflect_on_rl_rollouts else []
            payload = [None]
            with full_model(self.trainer) as model:  # every rank holds the gathered weights; rank 0 works
                if acc.is_main_process:
                    payload = [self._round_on_rank0(model, step, cycle, feedback)]
                acc.wait_for_everyone()
            broadcast_object_list(payload, from_process=0)
            record, population, cache_state, counts = payload[0]
            eng.population, eng.counts = list(population), dict(counts)
            eng.cache = None
            if cache_state is not None:
                from fastslow.fastweights.cache import RolloutCache

                eng.cache = RolloutCache()
                eng.cache.load_state_dict(cache_state)
            eng.cycle_rollouts = []
            eng.rounds_done.add(cycle)
            if acc.is_main_process:
                eng.log(step, "gepa", record)
            eng.debug({"kind": "population", "step": step, "cycle": cycle, "rank": acc.process_index,
                       "population": eng.population})

        def _round_on_rank0(self, model, step: int, cycle: int, feedback: list):
            from fastslow.fastweights.gepa_round import gepa_round
            from fastslow.sampling import SamplingParams
            from fastslow.trainer import derived_seed

            eng, cfg, P = self.engine, self.engine.cfg, self.engine.cfg.population
            lookahead = [p for i in range(step, step + P.cycle_steps) for p in eng.stream.batch(i)]
            rng = random.Random(derived_seed(cfg.seed, cycle, 4))
            anchor = lookahead if P.anchor_size >= len(lookahead) else rng.sample(lookahead, P.anchor_size)
            task = eng.task_at(step)
            r = cfg.rollout
            params = SamplingParams(temperature=r.temperature, top_p=r.top_p, max_new_tokens=r.max_new_tokens,
                                    seed=derived_seed(cfg.seed, step, 5))
            start = time.perf_counter()
            ids = task_problem_ids(eng, task)
            result = gepa_round(sampler_for(model, self.trainer), task, eng.reflector, anchor, eng.population,
                                P.budget, eng.K, params, cycle=cycle, seed=cfg.seed,
                                minibatch_size=P.minibatch_size, max_prompt_chars=P.max_prompt_chars,
                                feedback_rollouts=[x for x in feedback if x.problem.id in ids], fill=P.fill,
                                acceptance=P.acceptance, front_rule=P.front)
            counts = dict(eng.counts)
            counts["gepa_rounds"] += 1
            counts["gepa_metric_calls"] += result.metric_calls
            counts["gepa_rescore_calls"] += result.rescore_calls
            counts["reflection_calls"] += result.reflection_calls
            stats = eng.reflector.stats
            record = {"cycle": cycle, "population": list(result.population),
                      "population_scores": result.population_scores, "candidates": len(result.candidates),
                      "accepted": result.accepted, "metric_calls": result.metric_calls,
                      "rescore_calls": result.rescore_calls, "reflection_calls": result.reflection_calls,
                      "cached_rollouts": result.cache.added, "feedback_served": result.feedback_served,
                      "reflector_failures": stats.failures,
                      "reflector_tokens": stats.prompt_tokens + stats.completion_tokens,
                      "reflector_cost_usd": stats.cost_usd, "time_gepa": time.perf_counter() - start}
            cache = result.cache.state_dict() if P.reuse_rollouts and cfg.mode == "fst" else None
            return record, list(result.population), cache, counts

        # slow-weight step metrics --------------------------------------------------------------------------
        def on_step_end(self, args, state, control, **kwargs):
            from accelerate.utils import gather_object

            eng = self.engine
            local = [(r.reward, r.correct, r.prompt_index, r.source == "reused",
                      bool(r.verifier_error) and r.source != "reused") for r in eng.step_rollouts]
            rows = gather_object(local)
            eng.step_rollouts = []
            reused = sum(x[3] for x in rows)
            eng.counts["rl_rollouts"] += len(rows) - reused
            eng.counts["reused_rollouts"] += reused
            eng.counts["verifier_errors"] += sum(x[4] for x in rows)
            stats = {"train_accuracy": sum(bool(x[1]) for x in rows) / max(1, len(rows)),
                     "reused_frac": reused / max(1, len(rows))}
            for k in range(len(eng.population)):
                rs = [x[0] for x in rows if x[2] == k]
                stats[f"reward_prompt_{k}"] = sum(rs) / max(1, len(rs))
            stats["time_generation"] = eng.step_stats.pop("time_generation", 0.0)
            stats["time_step"] = time.perf_counter() - self.step_start
            eng.step_stats["pending_train"] = stats
            cfg = eng.cfg
            if state.global_step % cfg.eval.every == 0 or state.global_step == cfg.steps:
                ev = self.evaluate(state.global_step)
                if ev is not None:
                    eng.pending.append(("eval", ev))

        def on_log(self, args, state, control, logs=None, **kwargs):
            eng = self.engine
            logs = logs or {}
            if "train_runtime" in logs or "pending_train" not in eng.step_stats:
                return
            stats = eng.step_stats.pop("pending_train")
            if not state.is_world_process_zero:
                eng.pending.clear()
                return
            record = {TRL_TO_NATIVE[k]: v for k, v in logs.items() if k in TRL_TO_NATIVE}
            record.update(stats)
            record.update({f"trl/{k}": v for k, v in logs.items()
                           if k not in TRL_TO_NATIVE and isinstance(v, (int, float))})
            eng.log(state.global_step, "train", {**record, **eng.counts})
            for kind, rec in eng.pending:
                eng.log(state.global_step, kind, rec)
            eng.pending.clear()

        # evaluation: rank 0 under the lead prompt, the others wait ---------------------------------------
        def on_train_begin(self, args, state, control, **kwargs):
            if state.global_step == 0 and not self.engine.history:
                ev = self.evaluate(0)
                if ev is not None:
                    self.engine.log(0, "eval", ev)

        def evaluate(self, step: int) -> dict | None:
            from fastslow.evaluation.accuracy import validation_metrics
            from fastslow.sampling import SamplingParams
            from fastslow.trainer import derived_seed

            eng, cfg, acc = self.engine, self.engine.cfg, self.trainer.accelerator
            result = None
            with full_model(self.trainer) as model:
                if acc.is_main_process:
                    ev, start = cfg.eval, time.perf_counter()
                    lead = eng.population[0]
                    params = SamplingParams(temperature=ev.temperature, top_p=ev.top_p,
                                            max_new_tokens=cfg.rollout.max_new_tokens,
                                            seed=derived_seed(cfg.seed, step, 2))
                    current = eng.task_at(step)
                    for task in eng.tasks:
                        if task.name not in eng.val:
                            eng.val[task.name] = task.problems("val", ev.problems)
                    result, errors = validation_metrics(sampler_for(model, self.trainer), eng.tasks, eng.val,
                                                        current, lead, params, ev.k)
                    eng.counts["verifier_errors"] += errors
                    if ev.kl_problems and eng.base is not None:
                        result["kl_to_base"] = self.kl_to_base(model, step, current, lead)
                    result["time_eval"] = time.perf_counter() - start
                    result = {**result, **eng.counts, "lead_prompt": lead}
                acc.wait_for_everyone()
            return result

        def kl_to_base(self, model, step: int, task, lead: str) -> float:
            """The native engine's diagnostic KL(pi_train || pi_base) on validation problems (rank 0)."""
            from fastslow.evaluation.kl import kl_to_base
            from fastslow.trainer import derived_seed

            eng, cfg = self.engine, self.engine.cfg
            device = next(model.parameters()).device
            if hasattr(eng.base, "to") and next(eng.base.parameters()).device != device:
                eng.base.to(device)
            context = task.seed_prompt if cfg.eval.kl_context == "seed" else lead
            return kl_to_base(model, eng.base, sampler_for(model, self.trainer), task,
                              eng.val[task.name][: cfg.eval.kl_problems], context,
                              max_new_tokens=cfg.rollout.max_new_tokens, seed=derived_seed(cfg.seed, step, 3),
                              pad_id=self.trainer.processing_class.pad_token_id)

        # checkpoints -------------------------------------------------------------------------------------
        def on_save(self, args, state, control, **kwargs):
            from accelerate.utils import gather_object

            eng = self.engine
            cycle_rollouts = gather_object(list(eng.cycle_rollouts)) \
                if eng.cfg.population.reflect_on_rl_rollouts else []
            if args.should_save:  # the main process (of each node, with save_on_each_node)
                folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
                folder.mkdir(parents=True, exist_ok=True)
                torch.save(eng.state_dict(state.global_step, cycle_rollouts), folder / STATE_FILE)
            self.trainer.accelerator.wait_for_everyone()
            stop = os.environ.get("FST_TRL_EXIT_AFTER_SAVE")  # tests: a crash right after a checkpoint
            if stop and int(stop) == state.global_step:
                os._exit(17)

    return FSTCallback


def task_problem_ids(eng: FSTEngine, task) -> set:
    return {pid for (name, pid) in eng.problems if name == task.name}
