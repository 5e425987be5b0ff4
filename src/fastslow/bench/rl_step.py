"""``fst bench rl-step``: seconds per RL step and per trained token, fastslow vs TRL's GRPOTrainer, interleaved.

Both do one full RL step (sample 8 problems x 8 rollouts x up to 32 new tokens, score, one CISPO optimizer step)
on the same model, with the same sampling (temperature 1, no top-k/top-p), thread count and learning-rate schedule
(constant 2e-4, no warm-up: fastslow's ``warmup_steps`` is 0 here and TRL's scheduler is ``constant``). TRL runs
``loss_type="cispo"`` with ``epsilon_high=5.0`` (set explicitly: it silently falls back to 0.2 otherwise).

The trainers are interleaved: TRL's ``on_step_end`` callback runs one step of every fastslow variant (in an order
that rotates each round) before TRL starts its next step, so load changes on a shared machine hit all of them
alike. fastslow runs five ways: exactly TRL's work (zero-variance groups kept, no KL log, as TRL with beta=0), the
same with the whole batch in one micro-batch (as TRL runs it; fastslow's default is 16 rollouts), the same with
shared-prefix learning off (the learner's previous path: every rollout's full prompt+completion), with
the per-step KL log (one extra forward of the frozen base model), and its default step (KL log, zero-variance
groups dropped). Each step records the tokens generated and the tokens trained (loss-bearing completion tokens)
and a time breakdown (generation, scoring, learner forward / backward / optimizer, the rest), so seconds per
trained token stand next to seconds per step. ``engine trl (1 process)`` is fastslow's TRL integration
(``fastslow.integrations.trl``) in mode rl doing the same work as plain TRL; it has its own training loop, so it
runs after the interleaved block (not interleaved). The first step of each is a warm-up and is not counted; the
figures are medians and ratios of medians. On a GPU every clock read waits for the queued kernels (``sync``).
"""

from __future__ import annotations

import functools
import os
import statistics
import tempfile
import time
from pathlib import Path

import torch

from fastslow.config import parse_config
from fastslow.model.base import load_model, resolve_model_path
from fastslow.tasks import load_task

B, G, NEW_TOKENS, LR = 8, 8, 32, 2e-4

# fastslow variants: name -> learner overrides
VARIANTS = {
    "same_work": {"drop_zero_variance": False, "log_kl": False},
    # TRL runs its whole batch (B x G rollouts) through one forward; fastslow's default micro-batch is 16 rollouts
    "same_work_one_micro_batch": {"drop_zero_variance": False, "log_kl": False, "micro_batch_size": B * G},
    "same_work_unshared_prefix": {"drop_zero_variance": False, "log_kl": False, "shared_prefix": False},
    "kl_log": {"drop_zero_variance": False, "log_kl": True},
    "default": {"drop_zero_variance": True, "log_kl": True},
}


def sync() -> None:
    """Wait for queued GPU work, so a clock read covers the kernels its code launched (no-op on CPU). Without it a
    trainer whose step ends with kernels still queued (TRL logs after ``on_step_end``) hands their time to the next
    one timed."""
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def timed(record: dict, key: str, fn):
    """``fn`` that adds its wall time to ``record[key]``."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        sync()
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            sync()
            record[key] = record.get(key, 0.0) + time.perf_counter() - start
    return wrapper


class FastslowRunner:
    """One fastslow ``Trainer`` (mode rl) stepped from outside; every step's seconds, tokens and breakdown."""

    def __init__(self, model_path: str, out: Path, steps: int, learner: dict):
        from fastslow.trainer import Trainer

        cfg = parse_config({
            "mode": "rl", "model": model_path, "output_dir": str(out), "steps": steps,
            "threads": torch.get_num_threads(),
            "rollout": {"problems_per_step": B, "group_size": G, "max_new_tokens": NEW_TOKENS},
            "learner": {"lr": LR, "warmup_steps": 0, **learner},
            "eval": {"kl_problems": 0},
        })
        self.trainer = Trainer(cfg)
        self.records: list[dict] = []
        self._generated = 0
        sample = self.trainer.sampler.sample

        def counting_sample(*args, **kwargs):
            out = sample(*args, **kwargs)
            self._generated += sum(len(c.token_ids) for row in out for c in row)
            return out

        self.trainer.sampler.sample = counting_sample

    def step(self) -> None:
        self._generated = 0
        self.trainer.learner.timings = {}
        sync()
        start = time.perf_counter()
        metrics = self.trainer.rl_step()
        self.trainer.step += 1
        sync()
        seconds = time.perf_counter() - start
        learner = self.trainer.learner.timings if "skipped" not in metrics else {}
        parts = {"generation": metrics.get("time_generation", 0.0), "scoring": metrics.get("time_scoring", 0.0),
                 "learner_forward": learner.get("forward", 0.0), "learner_ref_forward": learner.get("ref_forward", 0.0),
                 "learner_backward": learner.get("backward", 0.0), "optimizer": learner.get("optimizer", 0.0)}
        parts["other"] = seconds - sum(parts.values())
        self.records.append({"start": start, "seconds": seconds, "generated_tokens": self._generated,
                             "trained_tokens": int(metrics.get("tokens", 0)), "lr": metrics["lr"],
                             "breakdown": parts})


def trl_trainer(model_path: str, steps: int, out: Path, callbacks: list):
    """Plain TRL 1.16 GRPOTrainer (cispo, beta 0), constant learning rate, and hooks that record each step's
    generated and trained tokens and a breakdown (generation, scoring, forward, backward, optimizer)."""
    from datasets import Dataset
    from transformers import TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    model, tok = load_model(model_path)
    task = load_task("rulebook/tidy")
    problems = {p.id: p for p in task.problems("train", B * steps)}
    rows = [{"prompt": task.render(p, task.seed_prompt), "pid": p.id} for p in problems.values()]

    def reward(prompts, completions, pid, **_):
        return [task.score(problems[i], c[0]["content"]).reward for i, c in zip(pid, completions)]

    args = GRPOConfig(output_dir=str(out), per_device_train_batch_size=B * G, num_generations=G,
                      max_completion_length=NEW_TOKENS, max_steps=steps, learning_rate=LR,
                      use_cpu=not torch.cuda.is_available(), bf16=False,
                      gradient_checkpointing=False, loss_type="cispo", epsilon_high=5.0, beta=0.0,
                      report_to="none", save_strategy="no", logging_steps=1, disable_tqdm=True,
                      temperature=1.0, top_p=1.0, top_k=0, shuffle_dataset=False, warmup_steps=0,
                      lr_scheduler_type="constant")
    current: dict = {}
    records: list[dict] = []

    class Clock(TrainerCallback):
        """Step wall time (callbacks run outside TRL's own timer); the optimizer's share between its two hooks."""

        def on_step_begin(self, *a, **k):
            current.clear()
            sync()
            current["start"] = time.perf_counter()

        def on_pre_optimizer_step(self, *a, **k):
            sync()
            current["opt_start"] = time.perf_counter()

        def on_optimizer_step(self, *a, **k):
            sync()
            current["optimizer"] = time.perf_counter() - current["opt_start"]

        def on_step_end(self, args, state, control, lr_scheduler=None, **k):
            sync()
            seconds = time.perf_counter() - current["start"]
            parts = {"generation": current.get("generation", 0.0), "scoring": current.get("scoring", 0.0),
                     "learner_forward": current.get("forward", 0.0), "learner_ref_forward": 0.0,
                     "learner_backward": current.get("backward", 0.0), "optimizer": current.get("optimizer", 0.0)}
            parts["other"] = seconds - sum(parts.values())
            records.append({"start": current["start"], "seconds": seconds,
                            "generated_tokens": current.get("generated_tokens", 0),
                            "trained_tokens": current.get("trained_tokens", 0),
                            "lr": lr_scheduler.get_last_lr()[0] if lr_scheduler is not None else None,
                            "breakdown": parts})

    trainer = GRPOTrainer(model=model, reward_funcs=reward, args=args, train_dataset=Dataset.from_list(rows),
                          processing_class=tok, callbacks=[Clock(), *callbacks])
    generate_and_score = trainer._generate_and_score_completions

    def counting(*a, **k):
        batch = generate_and_score(*a, **k)
        current["generated_tokens"] = int(batch["completion_mask"].sum())
        current["trained_tokens"] = int(batch["num_items_in_batch"])  # the loss mask's token count
        return batch

    trainer._generate_and_score_completions = counting
    trainer._generate = timed(current, "generation", trainer._generate)
    trainer._calculate_rewards = timed(current, "scoring", trainer._calculate_rewards)
    trainer.compute_loss = timed(current, "forward", trainer.compute_loss)
    trainer.accelerator.backward = timed(current, "backward", trainer.accelerator.backward)
    return trainer, records


def interleaved(model_path: str, steps: int, out: Path) -> dict[str, list[dict]]:
    """TRL and every fastslow variant, one step each per round (TRL's step, then the variants, rotating)."""
    from transformers import TrainerCallback

    runners = {name: FastslowRunner(model_path, out / name, steps, learner) for name, learner in VARIANTS.items()}
    names = list(runners)

    class Interleave(TrainerCallback):
        def __init__(self):
            self.round = 0

        def on_step_end(self, *a, **k):  # after TRL's clock stopped (that callback is first), before its next step
            shift = self.round % len(names)
            for name in names[shift:] + names[:shift]:
                runners[name].step()
            self.round += 1

    trainer, trl_records = trl_trainer(model_path, steps, out / "trl", [Interleave()])
    trainer.train()
    return {"trl": trl_records, **{name: r.records for name, r in runners.items()}}


def trl_engine_step_times(model_path: str, steps: int, out: Path) -> list[float]:
    """engine: trl (1 process), mode rl, the same batch, sampling, learning rate and zero-variance handling as TRL."""
    from fastslow.integrations.trl import build_trl_trainer
    from transformers import TrainerCallback

    cfg = parse_config({
        "mode": "rl", "engine": "trl", "model": model_path, "output_dir": str(out), "steps": steps,
        "threads": torch.get_num_threads(),
        "rollout": {"problems_per_step": B, "group_size": G, "max_new_tokens": NEW_TOKENS},
        "learner": {"lr": LR, "drop_zero_variance": False, "log_kl": False, "warmup_steps": 0},
        "eval": {"every": steps + 1, "problems": 1, "k": 1, "kl_problems": 0},
        "checkpoint": {"every": steps + 1},
    })

    trainer, engine = build_trl_trainer(cfg)
    times: list[float] = []

    class Clock(TrainerCallback):
        def on_step_begin(self, *a, **k):
            sync()
            self.start = time.perf_counter()

        def on_step_end(self, *a, **k):
            sync()
            times.append(time.perf_counter() - self.start)

    trainer.callback_handler.callbacks.insert(0, Clock())  # its on_step_end runs before the engine's (eval, stats)
    trainer.train()
    if engine.sink is not None:
        engine.sink.close()
    return times[1:]


def summarise(records: list[dict]) -> dict:
    """Medians over the timed steps (the first, a warm-up, is dropped): seconds per step, per trained token (steps
    that trained nothing are left out of that one), tokens, and the time breakdown per part."""
    timed_steps = records[1:]
    med = statistics.median
    per_token = [r["seconds"] / r["trained_tokens"] for r in timed_steps if r["trained_tokens"]]
    return {
        "s_per_step_median": med(r["seconds"] for r in timed_steps),
        "s_per_trained_token_median": med(per_token) if per_token else None,
        "generated_tokens_per_step_median": med(r["generated_tokens"] for r in timed_steps),
        "trained_tokens_per_step_median": med(r["trained_tokens"] for r in timed_steps),
        "breakdown_s_median": {k: med(r["breakdown"][k] for r in timed_steps) for k in timed_steps[0]["breakdown"]},
        "s_per_step": [r["seconds"] for r in timed_steps],
        "generated_tokens": [r["generated_tokens"] for r in timed_steps],
        "trained_tokens": [r["trained_tokens"] for r in timed_steps],
    }


def run(model: str = "base", steps: int = 16, engine: bool = True) -> dict:
    path = str(resolve_model_path(model))
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        records = interleaved(path, steps + 1, Path(tmp))
        engine_trl = trl_engine_step_times(path, steps + 1, Path(tmp) / "engine-trl") if engine else None
    load_after = os.getloadavg()
    s = {name: summarise(r) for name, r in records.items()}
    trl, same = s["trl"], s["same_work"]

    def speedup(name: str, key: str) -> float | None:
        return trl[key] / s[name][key] if s[name][key] and trl[key] else None

    result = {
        "problems": B, "rollouts_per_problem": G, "new_tokens": NEW_TOKENS, "steps_timed": steps,
        "threads": torch.get_num_threads(), "lr": LR, "lr_schedule": "constant, no warm-up (both trainers)",
        "interleaved": True, "loadavg_before": list(load_before), "loadavg_after": list(load_after),
        "trl_s_per_step_median": trl["s_per_step_median"],
        "fastslow_same_work_as_trl_s_per_step_median": same["s_per_step_median"],
        "fastslow_same_work_unshared_prefix_s_per_step_median": s["same_work_unshared_prefix"]["s_per_step_median"],
        "fastslow_s_per_step_median": s["kl_log"]["s_per_step_median"],
        "fastslow_drop_zero_variance_s_per_step_median": s["default"]["s_per_step_median"],
        "trl_s_per_trained_token_median": trl["s_per_trained_token_median"],
        "fastslow_same_work_as_trl_s_per_trained_token_median": same["s_per_trained_token_median"],
        "speedup_vs_trl_same_work": speedup("same_work", "s_per_step_median"),
        "speedup_vs_trl_same_work_per_trained_token": speedup("same_work", "s_per_trained_token_median"),
        "speedup_vs_trl_same_work_unshared_prefix": speedup("same_work_unshared_prefix", "s_per_step_median"),
        "speedup_vs_trl_same_work_unshared_prefix_per_trained_token":
            speedup("same_work_unshared_prefix", "s_per_trained_token_median"),
        "speedup_vs_trl": speedup("kl_log", "s_per_step_median"),
        "speedup_vs_trl_with_zero_variance_drop": speedup("default", "s_per_step_median"),
        "shared_prefix_speedup_same_work": (s["same_work_unshared_prefix"]["s_per_step_median"]
                                            / same["s_per_step_median"]),
        "shared_prefix_learner_speedup_same_work": (
            _learner_s(s["same_work_unshared_prefix"]) / _learner_s(same)),
        # paired: the median over rounds of one round's ratio (the steps of a round ran back to back, so a load
        # swing on the shared machine cancels out of it)
        "paired_speedup_vs_trl_same_work": paired(records["trl"], records["same_work"], _seconds),
        "paired_speedup_vs_trl_same_work_per_trained_token": paired(records["trl"], records["same_work"],
                                                                    _per_token),
        "paired_shared_prefix_speedup_same_work": paired(records["same_work_unshared_prefix"],
                                                         records["same_work"], _seconds),
        "paired_shared_prefix_learner_speedup_same_work": paired(records["same_work_unshared_prefix"],
                                                                 records["same_work"], _learner_record_s),
        "variants": s,
    }
    if engine_trl is not None:
        med = statistics.median
        result.update({
            "engine_trl_1_process_s_per_step_median": med(engine_trl),
            "engine_trl_overhead_vs_trl": med(engine_trl) / trl["s_per_step_median"],
            "engine_trl_vs_fastslow_same_work": med(engine_trl) / same["s_per_step_median"],
            "engine_trl_s_per_step": engine_trl, "engine_trl_interleaved": False,
        })
    return result


def paired(slow: list[dict], fast: list[dict], measure) -> float | None:
    """Median over the timed rounds of ``measure(slow step) / measure(fast step)``."""
    ratios = [measure(a) / measure(b) for a, b in zip(slow[1:], fast[1:]) if measure(a) and measure(b)]
    return statistics.median(ratios) if ratios else None


def _seconds(record: dict) -> float:
    return record["seconds"]


def _per_token(record: dict) -> float | None:
    return record["seconds"] / record["trained_tokens"] if record["trained_tokens"] else None


def _learner_part(breakdown: dict) -> float:
    """The learner's share of a step's breakdown: forward, reference forward, backward, optimizer."""
    return sum(breakdown[k] for k in ("learner_forward", "learner_ref_forward", "learner_backward", "optimizer"))


def _learner_record_s(record: dict) -> float:
    return _learner_part(record["breakdown"])


def _learner_s(summary: dict) -> float:
    """Median seconds of the learner's share of a step (the sum of the parts' medians)."""
    return _learner_part(summary["breakdown_s_median"])


__all__ = ["run"]
