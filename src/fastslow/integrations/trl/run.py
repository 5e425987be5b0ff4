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


def micro_batch(rows_per_process: int, asked: int) -> int:
    """Rows per forward/backward under engine trl: the largest divisor of the per-process rows not above
    ``learner.micro_batch_size`` (TRL splits the step into equal micro-batches; the result does not depend on it)."""
    return max(d for d in range(1, min(asked, rows_per_process) + 1) if rows_per_process % d == 0)


def grpo_args(cfg: RunConfig, out: Path, num_processes: int, progress: bool = False):
    from trl import GRPOConfig

    B, G, L, R = cfg.rollout.problems_per_step, cfg.rollout.group_size, cfg.learner, cfg.rollout
    split_group(G, cfg.population_k)
    if B % num_processes:
        raise ConfigError(f"rollout.problems_per_step ({B}) must be a multiple of the number of processes "
                          f"({num_processes}) under engine: trl, so that each process holds whole groups")
    from fastslow.rl.loss_registry import resolve_loss

    if not resolve_loss(L.loss).trl:
        raise ConfigError(f"learner.loss: {L.loss!r} cannot run under engine: trl (it declares trl=False: it needs "
                          "more than per-token log-probs); use engine: native")
    extra = dict(cfg.trl.args)
    clash = sorted(set(extra) & OWNED_ARGS)
    if clash:
        raise ConfigError(f"trl.args: {', '.join(clash)} are set by fastslow from the run config (rollout, "
                          "learner, checkpoint sections); remove them from trl.args")
    rows = B * G // num_processes
    mb = micro_batch(rows, L.micro_batch_size)
    cpu = not torch.cuda.is_available()
    defaults = {"use_cpu": cpu, "bf16": False, "report_to": "none", "logging_steps": 1,
                "disable_tqdm": not progress, "log_completions": False, "save_only_model": False,
                "lr_scheduler_type": "constant", "top_k": 0}
    # the loss is fastslow's (FSTGRPOTrainer._compute_loss): TRL's loss_type and epsilons are unused, its KL is off
    return GRPOConfig(
        output_dir=str(out), per_device_train_batch_size=mb, gradient_accumulation_steps=rows // mb,
        steps_per_generation=rows // mb, num_generations=G, max_completion_length=R.max_new_tokens,
        max_steps=cfg.steps, learning_rate=L.lr, weight_decay=L.weight_decay, max_grad_norm=L.grad_clip or 1e9,
        beta=0.0, loss_type="dapo", temperature=R.temperature, top_p=R.top_p, num_iterations=1,
        shuffle_dataset=False, seed=cfg.seed, save_strategy="steps", save_steps=cfg.checkpoint.every,
        save_total_limit=cfg.checkpoint.keep, gradient_checkpointing=cfg.model.gradient_checkpointing,
        **{**defaults, **extra})


def build_trl_trainer(cfg: RunConfig, progress: bool = False, policy=None, tokenizer=None, reflector=None,
                      tasks=None):
    """(trainer, engine): FST on TRL's GRPOTrainer, built from the same run config by the same build step as the
    native engine."""
    check_trl_version()
    if cfg.mode == "gepa":
        raise ConfigError("mode: gepa never updates the weights; use engine: native for it (engine: trl trains "
                          "the slow weights with TRL)")
    os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")
    from datasets import Dataset

    from fastslow.build import build_run, build_sinks
    from fastslow.metrics import JsonlSink

    n_proc = process_count()
    out = Path(cfg.output_dir)
    args = grpo_args(cfg, out / "checkpoints", n_proc, progress)  # validates B vs processes before any loading
    rank0 = args.process_index == 0
    distill = cfg.mode == "fst-distill"  # the slow step is the reverse KL to a teacher, as the native engine's
    kl_in_step = not distill and (cfg.learner.kl_coef > 0 or cfg.learner.log_kl)
    parts = build_run(cfg, tasks=tasks, policy=policy, tokenizer=tokenizer, reflector=reflector,
                      reference=kl_in_step or (rank0 and cfg.eval.kl_problems > 0), write_config=rank0)
    teacher = None
    if distill:
        from fastslow.rl.teacher import Teacher

        teacher = Teacher(cfg.distill.teacher, cfg.distill.ema_decay)
    engine = FSTEngine(cfg, parts.tasks, parts.stream, parts.channel, reference=parts.reference,
                       kl_in_step=kl_in_step and parts.reference is not None, teacher=teacher)
    rows = engine.build_rows()
    if rank0:
        engine.sink = JsonlSink(out / "metrics.jsonl")
        engine.sinks = build_sinks(cfg, out)
    callback = _callback_class()(engine)
    trainer = _trainer_class()(model=parts.policy, reward_funcs=[FSTReward(engine)], args=args,
                               train_dataset=Dataset.from_list(rows), processing_class=parts.tokenizer,
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
    """Train with engine: trl. Returns (history, engine); the history is complete on rank 0 only. The final folder
    follows ``model.export`` (a LoRA policy merged, or its adapter), as the native engine's."""
    from fastslow.build import guard_run_folder
    from fastslow.checkpoint import export_policy

    guard_run_folder(cfg, resume)
    trainer, engine = build_trl_trainer(cfg, progress)
    trainer.train(resume_from_checkpoint=latest_checkpoint(cfg) if resume else None)
    from fastslow.model.lora import is_peft

    final = Path(cfg.output_dir) / "final"
    policy = trainer.accelerator.unwrap_model(trainer.model)
    if is_peft(policy) and cfg.model.export == "merged":  # the merged full model (DDP: every rank holds it)
        if trainer.accelerator.is_main_process:
            export_policy(policy, trainer.processing_class, final, "merged")
    else:  # a full model (gathered by TRL under sharding) or the adapter alone
        trainer.save_model(str(final))
    if trainer.accelerator.is_main_process:
        (final / "population.json").write_text(json.dumps(engine.population, indent=2))
    trainer.accelerator.wait_for_everyone()
    engine.close()
    return engine.history, engine
