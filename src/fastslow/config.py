"""Run configuration: one validated object, loadable from YAML.

Unknown or ill-typed fields are errors that name the field (``learner.lr: Input should be a valid number``),
raised as ``ConfigError`` so the CLI prints them without a traceback. The three modes share every section, so
``fst``, ``rl`` and ``gepa`` runs have identical budgets and code paths.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from fastslow.errors import FastSlowError


class ConfigError(FastSlowError, ValueError):
    """A run configuration is invalid."""


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", protected_namespaces=())


class TaskConfig(Section):
    name: str = "tidy"
    seed_prompt: str = "Transform the input."
    partial_credit: bool = False
    stream: list[str] = Field(default_factory=list, description="continual learning: tasks in sequence "
                              "(overrides name)")
    steps_per_stage: int = Field(100, ge=1, description="RL steps per task of the stream")

    @property
    def names(self) -> list[str]:
        return list(self.stream) or [self.name]


class RolloutConfig(Section):
    problems_per_step: int = Field(8, ge=1, description="B: problems per RL step")
    group_size: int = Field(8, ge=1, description="G: rollouts per problem, split over the K prompts")
    temperature: float = Field(1.0, gt=0)
    top_p: float = Field(1.0, gt=0, le=1)
    max_new_tokens: int = Field(48, ge=1)


class LearnerSection(Section):
    loss: Literal["cispo", "grpo", "drgrpo"] = "cispo"
    aggregation: Literal["prompt", "token", "sequence", "constant"] = "prompt"
    tau: float = Field(4.0, gt=0, description="CISPO truncation threshold")
    eps_low: float = Field(0.2, ge=0)
    eps_high: float = Field(0.2, ge=0)
    kl_coef: float = Field(0.0, ge=0, description="KL-to-reference penalty (paper: 1e-3)")
    log_kl: bool = Field(True, description="log the k3 KL to the base on the policy's own samples every step "
                         "(one extra forward of the frozen base model)")
    lr: float = Field(2e-4, gt=0, description="paper: 1e-6 for 8B models; the tiny base model needs ~1e-4")
    warmup_steps: int = Field(10, ge=0)
    weight_decay: float = Field(0.0, ge=0)
    grad_clip: float | None = Field(None, gt=0)
    micro_batch_size: int = Field(16, ge=1, description="rollouts per forward/backward, grouped by length")
    baseline: Literal["problem", "prompt"] = "problem"
    scale_by_std: bool = True
    drop_zero_variance: bool = True


class ReflectorConfig(Section):
    kind: Literal["rulebook", "llm"] = "rulebook"
    # rulebook (offline) reflector: its strength knobs
    max_depth: int = Field(3, ge=1, le=3)
    examples_seen: int | None = Field(None, ge=1)
    noise: float = Field(0.0, ge=0, le=1)
    # LLM reflector through litellm
    model: str = "openai/gpt-5.2"
    api_base: str | None = None
    temperature: float = Field(1.0, ge=0)
    timeout: float = Field(60.0, gt=0)
    retries: int = Field(3, ge=0)


class PopulationConfig(Section):
    size: int = Field(4, ge=1, description="K: prompts in the population (forced to 1 in rl mode)")
    cycle_steps: int = Field(6, ge=1, description="T: RL steps between GEPA rounds")
    anchor_size: int = Field(24, ge=1, description="anchor problems per round, drawn from the next T batches")
    budget: int = Field(120, ge=0, description="metric calls (rollouts) per round for new proposals")
    minibatch_size: int = Field(3, ge=1, description="reflection minibatch size")
    max_prompt_chars: int = Field(1000, ge=10, description="prompt length cap")
    fill: Literal["front", "dominated"] = Field("front", description="top-K of the Pareto front only (repeated "
                                                "if the front is smaller than K), or also fill with the best "
                                                "dominated candidates")
    reuse_rollouts: bool = Field(True, description="fill RL group slots with this cycle's GEPA rollouts")
    reflect_on_rl_rollouts: bool = Field(False, description="serve reflection minibatches of carried prompts from "
                                         "the previous cycle's RL rollouts (saves metric calls; new, see docs)")
    reflector: ReflectorConfig = ReflectorConfig()


class EvalConfig(Section):
    every: int = Field(10, ge=1, description="evaluate every N RL steps (and at the start and end)")
    problems: int = Field(64, ge=1, le=512)
    k: int = Field(4, ge=1, description="samples per problem: mean@k")
    temperature: float = Field(0.6, gt=0)
    top_p: float = Field(0.95, gt=0, le=1)
    kl_problems: int = Field(32, ge=0, description="validation problems for the diagnostic KL (0 = off)")
    kl_context: Literal["seed", "lead"] = "seed"


class CheckpointConfig(Section):
    every: int = Field(50, ge=1, description="save a joint checkpoint every N RL steps (and at the end)")
    keep: int = Field(3, ge=1, description="most recent checkpoints kept")


class LoggingConfig(Section):
    tensorboard: bool = False
    wandb: bool = False
    wandb_project: str = "fastslow"


class RunConfig(Section):
    mode: Literal["fst", "rl", "gepa"] = "rl"
    seed: int = 0
    model: str = "base"
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

    @model_validator(mode="after")
    def _check(self) -> RunConfig:
        k = 1 if self.mode == "rl" else self.population.size
        if self.task.stream and self.mode != "rl" and self.task.steps_per_stage % self.population.cycle_steps:
            raise ValueError(f"task.steps_per_stage ({self.task.steps_per_stage}) must be a multiple of "
                             f"population.cycle_steps ({self.population.cycle_steps}) so no GEPA cycle straddles "
                             "two tasks")
        if self.rollout.group_size % k:
            raise ValueError(f"rollout.group_size ({self.rollout.group_size}) must be a multiple of "
                             f"population.size ({k}): each prompt gets G/K rollouts")
        return self


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
            node = node.setdefault(key, {})
        node[leaf] = value
    return parse_config(data, str(path))
