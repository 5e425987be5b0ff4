"""The build step every engine calls: seeds, tasks and their data stream, policy and reference, reflector (and its
fit check), the fast channel, metric sinks and the run-folder guard.

Why one step: the native engine (``fastslow.trainer``) and the TRL engine (``fastslow.integrations.trl``) must
start from the same parts built the same way, or a run means something different under each. Anything an engine
builds on its own (its optimizer, its sampler, TRL's dataset) stays with that engine.
"""

from __future__ import annotations

import json
import random
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from fastslow.config import ConfigError, RunConfig
from fastslow.data import ProblemStream, StagedProblemStream
from fastslow.sampling import SamplingParams
from fastslow.tasks import Task, load_task


def derived_seed(seed: int, step: int, purpose: int) -> int:
    """Independent, reproducible sampling seeds per (run seed, step, purpose)."""
    return (seed * 1_000_003 + step * 7_919 + purpose * 104_729) % (2**63)


def row_seed(seed: int, step: int, task: str, problem_id: str, slot: int) -> int:
    """The seed of one rollout slot of a step: a function of (run seed, step, problem, slot) alone, so a row samples
    the same completion whichever process holds it (process-count invariance of ``engine: trl``)."""
    return (derived_seed(seed, step, 1) + zlib.crc32(f"{task}/{problem_id}/{slot}".encode())) % 2**62


def rollout_params(cfg: RunConfig, step: int, purpose: int) -> SamplingParams:
    """The rollout sampling parameters at ``step`` (purpose 1: RL rollouts, 5: the GEPA round)."""
    r = cfg.rollout
    return SamplingParams(temperature=r.temperature, top_p=r.top_p, max_new_tokens=r.max_new_tokens,
                          seed=derived_seed(cfg.seed, step, purpose))


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


def build_stream(cfg: RunConfig, tasks: list[Task]) -> ProblemStream:
    """The deterministic data stream (step s holds batch s); also the GEPA round's lookahead."""
    if len(tasks) > 1:
        return StagedProblemStream(tasks, cfg.rollout.problems_per_step, cfg.task.steps_per_stage, seed=cfg.seed)
    return ProblemStream(tasks[0], cfg.rollout.problems_per_step, seed=cfg.seed)


def check_reflector_fits(cfg: RunConfig, tasks: list[Task]) -> None:
    """The offline Rulebook reflector reads Rulebook feedback only; on any other task it would never propose."""
    from fastslow.rulebook import InstructionSuite, RulebookTask

    if cfg.mode == "rl" or cfg.population.reflector.kind != "rulebook":
        return
    other = [t.name for t in tasks if not isinstance(t, (RulebookTask, InstructionSuite))]
    if other:
        raise ConfigError(f"population.reflector.kind: 'rulebook' (the offline Rulebook reflector) only works on "
                          f"Rulebook tasks, but task {other[0]!r} is not one; use kind: llm (any LLM through "
                          "litellm) or kind: python with id: module:attr")


def has_checkpoints(cfg: RunConfig) -> bool:
    """Whether the run folder holds a checkpoint of either engine (native ``step-N``, TRL ``checkpoint-N``)."""
    folder = Path(cfg.output_dir) / "checkpoints"
    return folder.is_dir() and any(p.is_dir() and p.name.startswith(("step-", "checkpoint-"))
                                   and not p.name.endswith(".tmp") for p in folder.iterdir())


def guard_run_folder(cfg: RunConfig, resume: bool) -> None:
    """Never overwrite a run: a folder with checkpoints needs --resume, and --resume needs a checkpoint."""
    found = has_checkpoints(cfg)
    if found and not resume:
        raise ConfigError(f"output_dir {str(cfg.output_dir)!r} already holds a run with checkpoints; pass --resume "
                          "to continue it, or choose another output_dir (nothing was overwritten)")
    if resume and not found:
        raise ConfigError(f"--resume: no checkpoint in {str(Path(cfg.output_dir) / 'checkpoints')!r}")


def build_sinks(cfg: RunConfig, out: Path) -> list:
    """The optional metric sinks of ``logging`` (TensorBoard, Weights & Biases), for the process that logs."""
    sinks = []
    if cfg.logging.tensorboard:
        from fastslow.metrics import TensorBoardSink

        sinks.append(TensorBoardSink(Path(out) / "tensorboard"))
    if cfg.logging.wandb:
        from fastslow.metrics import WandbSink

        sinks.append(WandbSink(cfg.logging.wandb_project, cfg.model_dump(mode="json"), Path(out)))
    return sinks


@dataclass
class RunParts:
    """What both engines train with."""

    tasks: list[Task]
    stream: ProblemStream
    policy: object
    tokenizer: object
    reference: object | None  # frozen initial weights, the adapter-disabled policy under LoRA, or None
    channel: object  # fastslow.fastweights.channel.FastChannel


def build_run(cfg: RunConfig, *, tasks=None, policy=None, tokenizer=None, reflector=None,
              reference: bool = True, write_config: bool = True) -> RunParts:
    """Seeds, tasks and stream, policy and reference (when ``reference``), the reflector (checked against the tasks
    unless passed in) and the fast channel holding it. ``write_config``: the process that writes the run folder."""
    from fastslow.fastweights.channel import FastChannel
    from fastslow.model.base import load_model
    from fastslow.model.lora import build_reference, prepare_policy

    torch.set_num_threads(cfg.threads)
    seed_everything(cfg.seed)
    if write_config:
        out = Path(cfg.output_dir)
        out.mkdir(parents=True, exist_ok=True)
        (out / "config.json").write_text(json.dumps(cfg.model_dump(mode="json"), indent=2))
    tasks = list(tasks) if tasks is not None else build_tasks(cfg)
    if reflector is None:
        check_reflector_fits(cfg, tasks)
    if (policy is None) != (tokenizer is None):
        raise ValueError("pass both policy and tokenizer, or neither")
    if policy is None:  # cfg.model: folder / hub id / base / smollm2, dtype, LoRA, gradient checkpointing
        policy, tokenizer = load_model(cfg.model)
    else:
        policy = prepare_policy(policy, cfg.model)
    ref = build_reference(policy, cfg.model.reference) if reference else None
    if cfg.mode != "rl" and reflector is None:
        from fastslow.fastweights.reflectors.factory import build_reflector

        reflector = build_reflector(cfg.population.reflector, cfg.seed, cfg.population.max_prompt_chars)
    channel = FastChannel(cfg, tasks[0].seed_prompt, reflector)
    return RunParts(tasks, build_stream(cfg, tasks), policy, tokenizer, ref, channel)
