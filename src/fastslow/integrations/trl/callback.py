"""``FSTCallback``, the fast weights and bookkeeping around TRL's steps: the GEPA round every T steps (rank 0, the
result broadcast), the step's metrics in the native schema, evaluations, and the FST state in each checkpoint.
Built by ``_callback_class`` so that transformers is imported only when a trainer is built."""

from __future__ import annotations

import os
import time
from pathlib import Path

import torch

from fastslow.integrations.trl.engine import STATE_FILE, FSTEngine
from fastslow.integrations.trl.policy import full_model, sampler_for

# TRL's log keys that carry native metrics (loss, entropy, clip_frac, kl_k3 come from the FST trainer's own sums)
TRL_TO_NATIVE = {"reward": "reward_mean", "frac_reward_zero_std": "zero_variance_frac", "grad_norm": "grad_norm",
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
            if self.engine.channel.round_due(state.global_step):
                self.gepa_round(state.global_step)
            self.step_start = time.perf_counter()  # as the native time_step: the RL step, not the GEPA round

        def gepa_round(self, step: int) -> None:
            """The fast channel's round on rank 0 (every rank holds the gathered weights), its state broadcast."""
            from accelerate.utils import broadcast_object_list

            eng, acc = self.engine, self.trainer.accelerator
            carried = gather_carried(eng.channel.carried)
            payload = [None]
            with full_model(self.trainer) as model:
                if acc.is_main_process:
                    eng.channel.carried = carried
                    record = eng.channel.round(sampler_for(model, self.trainer), eng.task_at(step), eng.stream, step)
                    payload = [(record, eng.channel.state_dict(carried={}))]
                acc.wait_for_everyone()
                if eng.distill:  # fst-distill: a frozen teacher snapshots the weights per cycle, on every rank
                    eng.teacher.refresh(model)
            broadcast_object_list(payload, from_process=0)
            record, shared = payload[0]
            eng.channel.load_state_dict(shared)
            if acc.is_main_process:
                eng.log(step, "gepa", record)
            eng.debug({"kind": "population", "step": step, "cycle": record["cycle"], "rank": acc.process_index,
                       "population": eng.population})
            # every rank holds the same record: all stop together after max_failed_rounds rounds with no proposal
            eng.channel.failed_rounds.observe(record)

        # slow-weight step metrics --------------------------------------------------------------------------
        def on_step_end(self, args, state, control, **kwargs):
            from accelerate.utils import gather_object

            eng = self.engine
            local = [(r.reward, r.correct, r.prompt_index, r.source == "reused",
                      bool(r.verifier_error) and r.source != "reused") for r in eng.step_rollouts]
            rows = gather_object(local)
            eng.step_rollouts = []
            reused = sum(x[3] for x in rows)
            eng.channel.count_rl(len(rows), reused, sum(x[4] for x in rows))
            stats = {**self.trainer.fst_step_metrics(),
                     "train_accuracy": sum(bool(x[1]) for x in rows) / max(1, len(rows)),
                     "reused_frac": reused / max(1, len(rows))}
            if eng.distill:  # fst-distill: an EMA teacher follows the student after every step
                eng.teacher.update(self.trainer.accelerator.unwrap_model(self.trainer.model))
            for k in range(1 if eng.distill else len(eng.population)):  # fst-distill samples one context
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
                           if k not in TRL_TO_NATIVE and k != "loss" and isinstance(v, (int, float))})
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
            from fastslow.build import derived_seed
            from fastslow.evaluation.accuracy import validation_metrics
            from fastslow.sampling import SamplingParams

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
                    eng.counts["eval_rollouts"] += ev.k * sum(len(eng.val[t.name]) for t in eng.tasks)
                    if ev.kl_problems and eng.reference is not None:
                        result.update(self.kl_to_base(model, step, current, lead))
                    result["time_eval"] = time.perf_counter() - start
                    result = {**result, **eng.counts, "lead_prompt": lead}
                acc.wait_for_everyone()
            return result

        def kl_to_base(self, model, step: int, task, lead: str) -> dict:
            """The native engine's diagnostic KL(pi_train || pi_base) under eval.kl_context (rank 0)."""
            from fastslow.build import derived_seed
            from fastslow.evaluation.kl import kl_contexts

            eng, cfg = self.engine, self.engine.cfg
            device = next(model.parameters()).device
            ref = eng.reference
            if any(True for _ in ref.parameters()) and next(ref.parameters()).device != device:
                ref.to(device)
            return kl_contexts(model, ref, sampler_for(model, self.trainer), task,
                               eng.val[task.name][: cfg.eval.kl_problems], task.seed_prompt, lead,
                               cfg.eval.kl_context, cfg.rollout.max_new_tokens, derived_seed(cfg.seed, step, 3),
                               self.trainer.processing_class.pad_token_id)

        # checkpoints -------------------------------------------------------------------------------------
        def on_save(self, args, state, control, **kwargs):
            eng = self.engine
            carried = gather_carried(eng.channel.carried)
            if args.should_save:  # the main process (of each node, with save_on_each_node)
                folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
                folder.mkdir(parents=True, exist_ok=True)
                torch.save(eng.state_dict(state.global_step, carried), folder / STATE_FILE)
            self.trainer.accelerator.wait_for_everyone()
            stop = os.environ.get("FST_TRL_EXIT_AFTER_SAVE")  # tests: a crash right after a checkpoint
            if stop and int(stop) == state.global_step:
                os._exit(17)

    return FSTCallback


def task_problem_ids(eng: FSTEngine, task) -> set:
    return {pid for (name, pid) in eng.problems if name == task.name}


def gather_carried(carried: dict) -> dict:
    """Every process's carried RL rollouts (by task name), in process order; every process calls it."""
    from accelerate.utils import gather_object

    merged: dict[str, list] = {}
    for name, rollout in gather_object([(n, r) for n, rs in carried.items() for r in rs]):
        merged.setdefault(name, []).append(rollout)
    return merged
