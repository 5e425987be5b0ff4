"""``fst bench rl-step``: seconds per RL step, fastslow vs TRL's GRPOTrainer, measured in the same run.

Both do one full RL step (sample 8 problems x 8 rollouts x up to 32 new tokens, score, one CISPO optimizer step)
on the same model, with the same sampling (temperature 1, no top-k/top-p), learning rate and thread count. TRL
runs ``loss_type="cispo"`` with ``epsilon_high=5.0`` (set explicitly: it silently falls back to 0.2 otherwise).
fastslow runs three ways: exactly TRL's work (zero-variance groups kept, no KL logging, as TRL with beta=0), with
the per-step KL log (one extra forward of the frozen base model), and its default step (KL log, zero-variance
groups dropped). ``engine trl (1 process)`` is fastslow's TRL integration (``fastslow.integrations.trl``: TRL's
GRPOTrainer with FST's rollout function, reward function, advantages and aggregation) in mode rl, doing the same
work as plain TRL (zero-variance groups kept), so its gap to plain TRL is the integration's overhead (or gain: its
rollouts come from fastslow's sampler). The first step of each is a warm-up and is not counted; the figures are
ratios of medians.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import torch

from fastslow.config import parse_config
from fastslow.model.base import load_model, resolve_model_path
from fastslow.tasks import load_task

B, G, NEW_TOKENS, LR = 8, 8, 32, 2e-4


def fastslow_step_times(model_path: str, steps: int, out: Path, drop_zero_variance: bool, log_kl: bool = True
                        ) -> list[float]:
    from fastslow.trainer import Trainer

    cfg = parse_config({
        "mode": "rl", "model": model_path, "output_dir": str(out), "steps": steps, "threads": torch.get_num_threads(),
        "rollout": {"problems_per_step": B, "group_size": G, "max_new_tokens": NEW_TOKENS},
        "learner": {"lr": LR, "drop_zero_variance": drop_zero_variance, "log_kl": log_kl},
        "eval": {"kl_problems": 0},
    })
    trainer = Trainer(cfg)
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        trainer.rl_step()
        trainer.step += 1
        times.append(time.perf_counter() - start)
    return times[1:]


def trl_step_times(model_path: str, steps: int, out: Path) -> list[float]:
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    model, tok = load_model(model_path)
    task = load_task("rulebook/tidy")
    problems = {p.id: p for p in task.problems("train", B * steps)}
    rows = [{"prompt": task.render(p, task.seed_prompt), "pid": p.id} for p in problems.values()]

    def reward(prompts, completions, pid, **_):
        return [task.score(problems[i], c[0]["content"]).reward for i, c in zip(pid, completions)]

    clock = step_clock()
    args = GRPOConfig(output_dir=str(out), per_device_train_batch_size=B * G, num_generations=G,
                      max_completion_length=NEW_TOKENS, max_steps=steps, learning_rate=LR, use_cpu=True, bf16=False,
                      gradient_checkpointing=False, loss_type="cispo", epsilon_high=5.0, beta=0.0,
                      report_to="none", save_strategy="no", logging_steps=1, disable_tqdm=True,
                      temperature=1.0, top_p=1.0, top_k=0, shuffle_dataset=False, warmup_steps=0)
    trainer = GRPOTrainer(model=model, reward_funcs=reward, args=args, train_dataset=Dataset.from_list(rows),
                          processing_class=tok, callbacks=[clock])
    trainer.train()
    return clock.times[1:]


def step_clock():
    """A TRL callback that records each optimizer step's wall time (callbacks run outside TRL's own timer)."""
    from transformers import TrainerCallback

    class Clock(TrainerCallback):
        def __init__(self):
            self.times, self.start = [], 0.0

        def on_step_begin(self, *a, **k):
            self.start = time.perf_counter()

        def on_step_end(self, *a, **k):
            self.times.append(time.perf_counter() - self.start)

    return Clock()


def trl_engine_step_times(model_path: str, steps: int, out: Path) -> list[float]:
    """engine: trl (1 process), mode rl, the same batch, sampling, learning rate and zero-variance handling as TRL."""
    from fastslow.integrations.trl import build_trl_trainer

    cfg = parse_config({
        "mode": "rl", "engine": "trl", "model": model_path, "output_dir": str(out), "steps": steps,
        "threads": torch.get_num_threads(),
        "rollout": {"problems_per_step": B, "group_size": G, "max_new_tokens": NEW_TOKENS},
        "learner": {"lr": LR, "drop_zero_variance": False, "log_kl": False, "warmup_steps": 0},
        "eval": {"every": steps + 1, "problems": 1, "k": 1, "kl_problems": 0},
        "checkpoint": {"every": steps + 1},
    })

    trainer, engine = build_trl_trainer(cfg)
    clock = step_clock()
    trainer.callback_handler.callbacks.insert(0, clock)  # its on_step_end runs before the engine's (eval, stats)
    trainer.train()
    if engine.sink is not None:
        engine.sink.close()
    return clock.times[1:]


def run(model: str = "base", steps: int = 6) -> dict:
    path = str(resolve_model_path(model))
    with tempfile.TemporaryDirectory() as tmp:
        ours = fastslow_step_times(path, steps + 1, Path(tmp) / "ours", drop_zero_variance=False)
        same = fastslow_step_times(path, steps + 1, Path(tmp) / "same", drop_zero_variance=False, log_kl=False)
        ours_drop = fastslow_step_times(path, steps + 1, Path(tmp) / "ours-drop", drop_zero_variance=True)
        theirs = trl_step_times(path, steps + 1, Path(tmp) / "trl")
        engine_trl = trl_engine_step_times(path, steps + 1, Path(tmp) / "engine-trl")
    med = statistics.median
    return {
        "problems": B, "rollouts_per_problem": G, "new_tokens": NEW_TOKENS, "steps_timed": steps,
        "threads": torch.get_num_threads(),
        "fastslow_s_per_step_median": med(ours), "fastslow_drop_zero_variance_s_per_step_median": med(ours_drop),
        "fastslow_same_work_as_trl_s_per_step_median": med(same),
        "trl_s_per_step_median": med(theirs),
        "engine_trl_1_process_s_per_step_median": med(engine_trl),
        "engine_trl_overhead_vs_trl": med(engine_trl) / med(theirs),
        "engine_trl_vs_fastslow_same_work": med(engine_trl) / med(same),
        "speedup_vs_trl": med(theirs) / med(ours),
        "speedup_vs_trl_same_work": med(theirs) / med(same),
        "speedup_vs_trl_with_zero_variance_drop": med(theirs) / med(ours_drop),
        "fastslow_s_per_step": ours, "trl_s_per_step": theirs, "engine_trl_s_per_step": engine_trl,
    }


__all__ = ["run"]
