"""Run configuration: one validated object, loadable from YAML, composed of the sections that live with their
components (``config_base`` says where).

Unknown or ill-typed fields are errors that name the field (``learner.lr: Input should be a valid number``),
raised as ``ConfigError`` so the CLI prints them without a traceback. The three modes share every section, so
``fst``, ``rl`` and ``gepa`` runs have identical budgets and code paths.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import Field, ValidationError, model_validator

from fastslow.config_base import ConfigError, Section
from fastslow.evaluation.config import EvalConfig
from fastslow.fastweights.config import PopulationConfig, ReflectorConfig
from fastslow.integrations.trl.config import TrlSection
from fastslow.model.config import LoraSection, ModelConfig, ModelKwargs
from fastslow.rl.config import DistillSection, LearnerSection
from fastslow.sampling.config import OpenAISection, RolloutConfig, VLLMSection
from fastslow.tasks.config import TaskConfig, TaskRef

__all__ = ["CheckpointConfig", "ConfigError", "DistillSection", "EvalConfig", "LearnerSection", "LoggingConfig",
           "LoraSection", "ModelConfig", "ModelKwargs", "OpenAISection", "PopulationConfig", "ReflectorConfig",
           "RolloutConfig", "RunConfig", "Section", "TaskConfig", "TaskRef", "TrlSection", "VLLMSection",
           "load_config", "parse_config"]


class CheckpointConfig(Section):
    every: int = Field(50, ge=1, description="save a joint checkpoint every N RL steps (and at the end)")
    keep: int = Field(3, ge=1, description="most recent checkpoints kept")


class LoggingConfig(Section):
    tensorboard: bool = False
    wandb: bool = False
    wandb_project: str = "fastslow"


class RunConfig(Section):
    mode: Literal["fst", "rl", "gepa", "fst-distill"] = Field(
        "rl", description="fst: RL + GEPA; rl: RL under the seed prompt; gepa: prompts only; fst-distill: GEPA "
        "rounds, slow step = reverse-KL self-distillation towards the evolved prompt (distill section)")
    engine: Literal["native", "trl"] = Field("native", description="native: fastslow's learner (one process); "
                                             "trl: TRL's GRPOTrainer (accelerate multi-GPU / multi-node, FSDP2, "
                                             "ZeRO-3)")
    seed: int = 0
    model: ModelConfig = ModelConfig()
    output_dir: Path = Path("runs/run")
    steps: int = Field(100, ge=1)
    task: TaskConfig = TaskConfig()
    rollout: RolloutConfig = RolloutConfig()
    learner: LearnerSection = LearnerSection()
    population: PopulationConfig = PopulationConfig()
    eval: EvalConfig = EvalConfig()
    logging: LoggingConfig = LoggingConfig()
    checkpoint: CheckpointConfig = CheckpointConfig()
    threads: int = Field(1, ge=1)
    trl: TrlSection = TrlSection()
    distill: DistillSection = DistillSection()

    @property
    def population_k(self) -> int:
        """The effective population size K: rl trains under the seed prompt alone (K=1) whatever population.size
        says; the one place this rule lives."""
        return 1 if self.mode == "rl" else self.population.size

    @model_validator(mode="after")
    def _check(self) -> RunConfig:
        k = self.population_k
        if self.engine == "trl" and self.mode == "gepa":
            raise ValueError("engine: trl trains the weights with TRL, but mode: gepa never updates them; use "
                             "engine: native for mode gepa")
        self._check_backend()
        if self.engine == "trl":
            self._check_trl()
        if self.model.reference == "none" and self.learner.kl_coef > 0:
            raise ValueError(f"learner.kl_coef ({self.learner.kl_coef}) > 0 needs a reference model, but "
                             "model.reference is 'none'; set model.reference: copy or learner.kl_coef: 0")
        if self.task.stream and self.mode != "rl" and self.task.steps_per_stage % self.population.cycle_steps:
            raise ValueError(f"task.steps_per_stage ({self.task.steps_per_stage}) must be a multiple of "
                             f"population.cycle_steps ({self.population.cycle_steps}) so no GEPA cycle straddles "
                             "two tasks")
        if self.rollout.group_size % k:
            raise ValueError(f"rollout.group_size ({self.rollout.group_size}) must be a multiple of "
                             f"population.size ({k}): each prompt gets G/K rollouts")
        return self

    def _check_trl(self) -> None:
        """What engine: trl cannot honour, refused by field rather than silently ignored."""
        if self.learner.shared_prefix:
            raise ValueError("learner.shared_prefix: true works with engine: native only (TRL's trainer runs every "
                             "rollout's full prompt+completion; the gradient is the same); remove it or set it to "
                             "false")

    def _check_backend(self) -> None:
        """Backend combinations that would run but silently mean something else than asked."""
        backend = self.rollout.backend
        if backend == "hf":
            return
        if self.engine == "trl":
            raise ValueError(f"rollout.backend: {backend} works with engine: native only (engine: trl generates "
                             "with fastslow's HFSampler inside TRL's trainer); set rollout.backend: hf")
        if backend == "openai":
            if self.mode != "gepa":
                raise ValueError(f"rollout.backend: openai serves a fixed model from a server, but mode {self.mode} "
                                 "trains the weights, which the server would never see; use rollout.backend: vllm "
                                 "(in-process engine, weights synced every step) or hf, or mode: gepa")
            if not self.rollout.openai.base_url:
                raise ValueError("rollout.backend: openai needs rollout.openai.base_url (e.g. "
                                 "http://127.0.0.1:8000/v1)")
        if backend == "vllm" and self.mode != "gepa" and self.rollout.top_p < 1:
            raise ValueError(f"rollout.top_p ({self.rollout.top_p}) < 1 with rollout.backend: vllm: vLLM's "
                             "log-probs are then those of the top-p-truncated distribution, not the learner's "
                             "log_softmax(logits / T), so the importance ratio would be biased; set rollout.top_p: 1 "
                             "or rollout.backend: hf")


def _format(err: ValidationError) -> str:
    lines = []
    for e in err.errors():
        where = ".".join(str(p) for p in e["loc"]) or "config"
        msg = e["msg"].removeprefix("Value error, ")
        lines.append(f"{where}: {msg}" + (f" (got {e['input']!r})" if e["type"] != "missing" and
                                            not isinstance(e["input"], dict) else ""))
    return "; ".join(lines)


def parse_config(data: dict, source: str = "config") -> RunConfig:
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping of fields at the top level, got {type(data).__name__}")
    try:
        return RunConfig.model_validate(data)
    except ValidationError as err:
        raise ConfigError(f"{source}: {_format(err)}") from None


def load_config(path: str | Path, overrides: dict | None = None) -> RunConfig:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {str(path)!r} does not exist")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {err}") from None
    for dotted, value in (overrides or {}).items():
        node = data
        *parents, leaf = dotted.split(".")
        for key in parents:
            if node is data and key == "model" and isinstance(node.get(key), str):
                node[key] = {"path": node[key]}  # the string shorthand, expanded so model.* can be overridden
            node = node.setdefault(key, {})
        node[leaf] = value
    return parse_config(data, str(path))
