"""Building and running: TRL's ``GRPOConfig`` from the run config (``grpo_args``), the trainer and engine
(``build_trl_trainer``), and ``run_trl``, the ``engine: trl`` entry point (fresh run or resume from the latest
checkpoint)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from fastslow.config import ConfigError, RunConfig
from fastslow.integrations.trl.callback import _callback_class
from fastslow.integrations.trl.engine import FSTEngine
from fastslow.integrations.trl.grpo_trainer import _trainer_class
from fastslow.integrations.trl.launch import check_trl_version, process_count
from fastslow.integrations.trl.rollouts import FSTReward, FSTRolloutFunc
from fastslow.rl.rollouts import split_group


OWNED_ARGS = {"output_dir", "per_device_train_batch_size", "num_generations", "max_completion_length", "max_steps",
              "learning_rate", "loss_type", "epsilon", "epsilon_high", "beta", "temperature", "top_p",
              "gradient_accumulation_steps", "steps_per_generation", "generation_batch_size", "num_iterations",
              "shuffle_dataset", "seed", "save_steps", "save_total_limit", "save_strategy", "use_vllm",
              "rollout_func", "weight_decay", "max_grad_norm"}


def grpo_args(cfg: RunConfig, out: Path, num_processes: int, progress: bool = False):
    from trl import GRPOConfig

    B, G, L, R = cfg.rollout.problems_per_step, cfg.rollout.group_size, cfg.learner, cfg.rollout
    K = 1 if cfg.mode == "rl" else cfg.population.size
    split_group(G, K)
    if B % num_processes:
        raise ConfigError(f"rollout.problems_per_step ({B}) must be a multiple of the number of processes "
                          f"({num_processes}) under engine: trl, so that each process holds whole groups")
    if L.loss == "cispo":
        loss = {"loss_type": "cispo", "epsilon_high": L.tau}  # set explicitly: TRL silently falls back to 0.2
    else:  # grpo / drgrpo: the clipped surrogate, normalised by fastslow's token weights
        loss = {"loss_type": "dapo", "epsilon": L.eps_low, "epsilon_high": L.eps_high}
    extra = dict(cfg.trl.args)
    clash = sorted(set(extra) & OWNED_ARGS)
    if clash:
        raise ConfigError(f"trl.args: {', '.join(clash)} are set by fastslow from the run config (rollout, "
                          "learner, checkpoint sections); remove them from trl.args")
    cpu = not torch.cuda.is_available()
    defaults = {"use_cpu": cpu, "bf16": False, "report_to": "none", "logging_steps": 1,
                "disable_tqdm": not progress, "log_completions": False, "save_only_model": False,
                "lr_scheduler_type": "constant", "top_k": 0}
    return GRPOConfig(
        output_dir=str(out), per_device_train_batch_size=B * G // num_processes, gradient_accumulation_steps=1,
        num_generations=G, max_completion_length=R.max_new_tokens, max_steps=cfg.steps, learning_rate=L.lr,
        weight_decay=L.weight_decay, max_grad_norm=L.grad_clip or 1e9, beta=L.kl_coef,
        temperature=R.temperature, top_p=R.top_p, num_iterations=1, shuffle_dataset=False, seed=cfg.seed,
        save_strategy="steps", save_steps=cfg.checkpoint.every, save_total_limit=cfg.checkpoint.keep,
        gradient_checkpointing=cfg.model.gradient_checkpointing, **loss, **{**defaults, **extra})


def build_trl_trainer(cfg: RunConfig, progress: bool = False, policy=None, tokenizer=None, reflector=None,
                      tasks=None):
    """(trainer, engine): FST on TRL's GRPOTrainer, built from the same run config as the native engine."""
    check_trl_version()
    if cfg.mode == "gepa":
        raise ConfigError("mode: gepa never updates the weights; use engine: native for it (engine: trl trains "
                          "the slow weights with TRL)")
    os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")
    from datasets import Dataset

    from fastslow.data import ProblemStream, StagedProblemStream
    from fastslow.metrics import JsonlSink
    from fastslow.model.base import load_model
    from fastslow.trainer import build_tasks, check_reflector_fits, seed_everything

    torch.set_num_threads(cfg.threads)
    seed_everything(cfg.seed)
    n_proc = process_count()
    out = Path(cfg.output_dir)
    args = grpo_args(cfg, out / "checkpoints", n_proc, progress)  # validates B vs processes before any loading
    tasks = list(tasks) if tasks is not None else build_tasks(cfg)
    if reflector is None:
        check_reflector_fits(cfg, tasks)
    if policy is None:
        policy, tokenizer = load_model(cfg.model)
    if cfg.mode != "rl" and reflector is None:
        from fastslow.fastweights.reflectors.factory import build_reflector

        reflector = build_reflector(cfg.population.reflector, cfg.seed, cfg.population.max_prompt_chars)
    B = cfg.rollout.problems_per_step
    stream = (StagedProblemStream(tasks, B, cfg.task.steps_per_stage, seed=cfg.seed) if len(tasks) > 1
              else ProblemStream(tasks[0], B, seed=cfg.seed))
    engine = FSTEngine(cfg, tasks, stream, population=[tasks[0].seed_prompt], reflector=reflector)
    if args.process_index == 0 and cfg.eval.kl_problems > 0:
        from fastslow.model.lora import build_reference

        engine.base = build_reference(policy, cfg.model.reference)  # initial weights, before any resume
    rows = engine.build_rows()
    if args.process_index == 0:
        out.mkdir(parents=True, exist_ok=True)
        (out / "config.json").write_text(json.dumps(cfg.model_dump(mode="json"), indent=2))
        engine.sink = JsonlSink(out / "metrics.jsonl")
    callback = _callback_class()(engine)
    trainer = _trainer_class()(model=policy, reward_funcs=[FSTReward(engine)], args=args,
                               train_dataset=Dataset.from_list(rows), processing_class=tokenizer,
                               rollout_func=FSTRolloutFunc(engine), callbacks=[callback], engine=engine)
    callback.trainer = trainer
    if not progress:  # quiet: metrics.jsonl only, no per-step dict printed by transformers
        from transformers.trainer_callback import PrinterCallback

        trainer.remove_callback(PrinterCallback)
    return trainer, engine


def latest_checkpoint(cfg: RunConfig) -> str | None:
    from transformers.trainer_utils import get_last_checkpoint

    folder = Path(cfg.output_dir) / "checkpoints"
    return get_last_checkpoint(str(folder)) if folder.is_dir() else None


def run_trl(cfg: RunConfig, resume: bool = False, progress: bool = False) -> tuple[list[dict], FSTEngine]:
    """Train with engine: trl. Returns (history, engine); the history is complete on rank 0 only."""
    if not resume and latest_checkpoint(cfg) is not None:
        raise ConfigError(f"output_dir {str(cfg.output_dir)!r} already holds a run with checkpoints; pass --resume "
                          "to continue it, or choose another output_dir (nothing was overwritten)")
    trainer, engine = build_trl_trainer(cfg, progress)
    checkpoint = None
    if resume:
        checkpoint = latest_checkpoint(cfg)
        if checkpoint is None:
            raise ConfigError(f"--resume: no checkpoint in {str(Path(cfg.output_dir) / 'checkpoints')!r}")
    trainer.train(resume_from_checkpoint=checkpoint)
    final = Path(cfg.output_dir) / "final"
    trainer.save_model(str(final))
    if trainer.accelerator.is_main_process:
        (final / "population.json").write_text(json.dumps(engine.population, indent=2))
    if engine.sink is not None:
        engine.sink.close()
    return engine.history, engine
