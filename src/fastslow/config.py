"""Run configuration: one validated object, loadable from YAML.

Unknown or ill-typed fields are errors that name the field (``learner.lr: Input should be a valid number``),
raised as ``ConfigError`` so the CLI prints them without a traceback. The three modes share every section, so
``fst``, ``rl`` and ``gepa`` runs have identical budgets and code paths.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from fastslow.errors import FastSlowError


class ConfigError(FastSlowError, ValueError):
    """A run configuration is invalid."""


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", protected_namespaces=())


class TaskRef(Section):
    """One task: an id (see ``fastslow.tasks.registry``) and the arguments passed to its factory."""

    id: str
    args: dict = Field(default_factory=dict, description="passed to the task's factory (family options)")


class TaskConfig(Section):
    id: str | None = Field(None, description="task id: rulebook/<name>, reasoning_gym/<dataset>, codeio, math, "
                           "star_graph, hover, mcq, package.module:attr, or a registered plug-in")
    name: str | None = Field(None, description="short form of id for Rulebook tasks (name: tidy)")
    args: dict = Field(default_factory=dict, description="passed to the task's factory (family options)")
    seed_prompt: str | None = Field(None, description="replaces the task's own seed prompt (the population seed)")
    partial_credit: bool = Field(False, description="Rulebook only: edit-distance partial-credit reward")
    stream: list[str | TaskRef] = Field(default_factory=list, description="continual learning: task ids (or "
                                        "{id, args}) in sequence (overrides id)")
    steps_per_stage: int = Field(100, ge=1, description="RL steps per task of the stream")

    @model_validator(mode="after")
    def _one_id(self) -> TaskConfig:
        if self.id is not None and self.name is not None and self.id not in (self.name, f"rulebook/{self.name}"):
            raise ValueError(f"give task.id or its short form task.name, not both (id {self.id!r}, name "
                             f"{self.name!r})")
        if self.id is None and self.name is None and not self.stream:
            self.id = "rulebook/tidy"
        return self

    @property
    def refs(self) -> list[TaskRef]:
        """The tasks to build, in order (one unless there is a stream)."""
        if self.stream:
            return [TaskRef(id=t) if isinstance(t, str) else t for t in self.stream]
        return [TaskRef(id=self.id or self.name, args=self.args)]

    @property
    def names(self) -> list[str]:
        return [r.id for r in self.refs]


class ModelKwargs(Section):
    """Passed to ``AutoModelForCausalLM.from_pretrained`` (and, where it applies, to the tokenizer)."""

    dtype: Literal["fp32", "bf16", "fp16"] = Field("fp32", description="weights dtype at load time")
    attn_implementation: str | None = Field(None, description="eager | sdpa | flash_attention_2 | ...")
    revision: str | None = Field(None, description="hub revision (branch, tag or commit) of a hub id")
    trust_remote_code: bool = False


class LoraSection(Section):
    """LoRA through peft: only the adapter is trained; the reference is the model with the adapter disabled."""

    r: int = Field(8, ge=1, description="rank")
    alpha: float = Field(16.0, gt=0, description="lora_alpha (scale = alpha / r)")
    dropout: float = Field(0.0, ge=0, lt=1, description="lora_dropout (0 keeps the learner's forward "
                           "deterministic, so importance ratios are exactly 1 on fresh rollouts)")
    target_modules: list[str] | str | None = Field(None, description="module names, 'all-linear', or null for "
                                                   "peft's default for the architecture (q_proj, v_proj)")


class ModelConfig(Section):
    """The policy. ``model: <path>`` is short for ``model: {path: <path>}``."""

    path: str = Field("base", description="local folder, hub id, 'base' (the shipped tiny model) or 'smollm2' "
                      "(SmolLM2-135M-Instruct built offline, see `fst models smollm2`)")
    kwargs: ModelKwargs = ModelKwargs()
    chat_template_kwargs: dict = Field(default_factory=dict, description="passed to apply_chat_template, e.g. "
                                       "enable_thinking: false")
    reference: Literal["copy", "none"] = Field("copy", description="copy: frozen initial weights (with LoRA: the "
                                               "adapter-disabled model, no copy); none: no reference (no KL)")
    lora: LoraSection | None = None
    gradient_checkpointing: bool = False
    export: Literal["merged", "adapter"] = Field("merged", description="final/ holds the merged full model, or "
                                                 "only the LoRA adapter")

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data):
        if isinstance(data, (str, Path)):
            return {"path": str(data)}
        return data

    @model_validator(mode="after")
    def _check(self) -> ModelConfig:
        if not self.path:
            raise ValueError("path: give a model folder, a hub id, 'base' or 'smollm2'")
        if self.export == "adapter" and self.lora is None:
            raise ValueError("export: 'adapter' needs model.lora (without LoRA there is no adapter to export)")
        return self


class VLLMSection(Section):
    """rollout.backend: vllm — one in-process vLLM engine per run (RL rollouts, GEPA rounds, evaluation)."""

    dtype: Literal["auto", "fp32", "bf16", "fp16"] = Field("auto", description="engine weights dtype; auto follows "
                                                           "model.kwargs.dtype (fp32 makes ratios ~1 exactly)")
    max_model_len: int | None = Field(None, ge=1, description="prompt + completion tokens per sequence (null: the "
                                      "model's max_position_embeddings)")
    gpu_memory_utilization: float = Field(0.5, gt=0, le=1, description="GPU only: share of GPU memory for the "
                                          "engine (weights + KV cache); the learner shares the GPU")
    enable_sleep_mode: bool = Field(False, description="GPU only: free the KV cache (and offload the engine's "
                                    "weights) during every learner step")
    tensor_parallel_size: int = Field(1, ge=1, description="GPUs the engine shards the model over: 1 only (a "
                                      "tensor-parallel engine runs workers in other processes, so every weight sync "
                                      "would be serialised over RPC; untested, refused)")
    enable_prefix_caching: bool = Field(True, description="reuse the KV cache of shared prompt prefixes (reset "
                                        "after every weight sync)")
    kv_cache_gib: float = Field(1.0, gt=0, description="CPU only: KV cache size in GiB (VLLM_CPU_KVCACHE_SPACE, "
                                "unless that is set)")
    compile: bool | None = Field(None, description="torch.compile the engine's model (and CUDA graphs on a GPU); "
                                 "null: vLLM's default on a GPU, eager on CPU (compiling takes minutes to start "
                                 "there, then decodes faster)")
    engine_kwargs: dict = Field(default_factory=dict, description="extra keyword arguments for vllm.LLM")

    @field_validator("tensor_parallel_size")
    @classmethod
    def _in_process(cls, size: int) -> int:
        if size > 1:
            raise ValueError(f"{size} > 1 is refused: a tensor-parallel engine runs its workers in other processes, "
                             "so every weight sync would be serialised over RPC (untested); use 1 (one GPU per "
                             "engine; several GPUs: engine: trl, which samples with hf)")
        return size


class OpenAISection(Section):
    """rollout.backend: openai — any OpenAI-compatible completions endpoint (e.g. `vllm serve`)."""

    base_url: str | None = Field(None, description="e.g. http://127.0.0.1:8000/v1")
    model: str | None = Field(None, description="served model name (null: the server's first model)")
    api_key: str | None = Field(None, description="sent as a bearer token (null: $OPENAI_API_KEY if set)")
    timeout: float = Field(300.0, gt=0, description="seconds per request")
    concurrency: int = Field(8, ge=1, description="requests in flight (one per distinct prompt)")


class RolloutConfig(Section):
    problems_per_step: int = Field(8, ge=1, description="B: problems per RL step")
    group_size: int = Field(8, ge=1, description="G: rollouts per problem, split over the K prompts")
    temperature: float = Field(1.0, gt=0)
    top_p: float = Field(1.0, gt=0, le=1)
    max_new_tokens: int = Field(48, ge=1)
    backend: Literal["hf", "vllm", "openai"] = Field("hf", description="generation for RL, GEPA and evaluation: "
                                                     "hf (HFSampler, the training model itself), vllm (an in-process "
                                                     "vLLM engine, weights synced every step), openai (a server; "
                                                     "mode gepa only)")
    vllm: VLLMSection = VLLMSection()
    openai: OpenAISection = OpenAISection()


class LearnerSection(Section):
    loss: str = Field("cispo", description="cispo | grpo | drgrpo, or your own loss as 'package.module:attr' / "
                      "'path/to/file.py:attr' naming a LossSpec (fastslow.rl.loss_registry)")
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
    micro_batch_size: int = Field(16, ge=1, description="rollouts per forward/backward, grouped by length (engine "
                                  "trl: per-process micro-batch, the rest by gradient accumulation; the largest "
                                  "divisor of the per-process rollouts not above this)")
    constant_normaliser: int | None = Field(None, ge=1, description="Dr.GRPO's fixed normaliser L in sum / "
                                            "(rollouts * L) (aggregation constant, or drgrpo's prompt); null: "
                                            "rollout.max_new_tokens, the generation budget, as in the Dr.GRPO paper")
    shared_prefix: bool | None = Field(None, description="run each distinct prompt once per step (prompts sharing a "
                                       "stem: the stem once, then each rest) and fan its keys/values out to its "
                                       "completions (same gradient; off: every rollout's full prompt+completion); "
                                       "null: on under engine native, off under trl (true is refused there)")

    @field_validator("loss")
    @classmethod
    def _known_loss(cls, loss: str) -> str:
        from fastslow.rl.loss_registry import BUILTIN, LOSSES

        if loss not in BUILTIN and ":" not in loss and loss not in LOSSES:
            raise ValueError(f"unknown loss {loss!r}; expected cispo, grpo or drgrpo, or your own as "
                             "'package.module:attr' or 'path/to/file.py:attr'")
        return loss

    baseline: Literal["problem", "prompt"] = "problem"
    scale_by_std: bool = True
    drop_zero_variance: bool = True


class ReflectorConfig(Section):
    kind: Literal["rulebook", "llm", "python"] = Field("rulebook", description="rulebook (the simulated reflector: "
                                                      "program induction with a mistake rate, Rulebook tasks only), "
                                                      "llm (any model through litellm), python (your own: id)")
    # python: your own reflector, a class or factory returning an object with propose(current_prompt, examples)
    id: str | None = Field(None, description="kind python: 'package.module:attr' or 'path/to/file.py:attr'")
    args: dict = Field(default_factory=dict, description="kind python: keyword arguments for the class or factory")
    # rulebook (the simulated reflector): its strength knobs
    max_depth: int = Field(3, ge=1, le=3)
    examples_seen: int | None = Field(None, ge=1)
    noise: float = Field(0.0, ge=0, le=1, description="simulated reflector's mistake rate (strength = 1 - noise)")
    # when the prompt's rule already explains every example, a careful simulated call rewords the framing around
    # it (on) or proposes nothing (off). The reworded variants are equivalent by construction, and on the RL-learns
    # setting FST with them ended within the seed spread of FST without (docs/results/reframe-comparison.json), so
    # the default is off (issue 18, item 5)
    reframe: bool = Field(False, description="simulated reflector: reword a working prompt's framing")
    # LLM reflector through litellm
    model: str = "openai/gpt-5.2"
    api_base: str | None = None
    temperature: float = Field(1.0, ge=0)
    timeout: float = Field(60.0, gt=0)
    retries: int = Field(3, ge=0, le=10, description="retries after a failed API call (timeouts, 5xx, rate limits); "
                         "bounded so a dead server costs minutes, not hours")
    backoff: float = Field(1.0, ge=0, le=60, description="seconds before the first retry, doubled for each next "
                           "one (capped at 60 s)")
    # issue 20: the reflector's answer length was fixed at 1024 tokens, too few for a thinking model's reasoning
    max_tokens: int = Field(1024, ge=16, description="most tokens in one reflector answer (thinking included)")
    preflight: bool = Field(True, description="one short call at start: a missing litellm, bad model name, bad "
                            "credentials or unreachable api_base stop the run before training, not hours later")

    @model_validator(mode="after")
    def _python_needs_id(self) -> ReflectorConfig:
        if self.kind == "python" and not self.id:
            raise ValueError("kind 'python' needs population.reflector.id: 'package.module:attr' (or "
                             "'path/to/file.py:attr') naming a reflector class or factory")
        return self


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
    acceptance: Literal["improvement_or_equal", "strict_improvement", "paired"] = Field(
        "improvement_or_equal", description="gepa's test of a child on its reflection minibatch: ties with the "
        "parent accepted (keeps the population diverse), strict improvement (gepa's default), or 'paired': beats "
        "the parent beyond the paired standard error at selection_z (fastweights/acceptance.py); docs/DECISIONS.md")
    # issue 21: with 0/1 rewards a lucky junk prompt can take the population under the 'front' rule
    selection: Literal["front", "gated"] = Field(
        "front", description="how the next population is chosen: 'front' = top-K of the per-instance Pareto front "
        "(fastweights/population.py); 'gated' = a protected incumbent that only a candidate better beyond noise "
        "on the anchor set replaces, other members only with that evidence and new coverage "
        "(fastweights/incumbent.py; fill and front are then unused)")
    rollouts_per_anchor: int = Field(1, ge=1, le=16, description="rollouts per anchor problem in full anchor "
                                     "evaluations (re-scoring and accepted children): more tell candidates apart "
                                     "better, at r x the anchor cost (counted in metric_calls/rescore_calls and "
                                     "reported as selection_rollouts)")
    confirm_rollouts: int = Field(0, ge=0, le=8, description="gated selection: extra rollouts per anchor problem "
                                  "for the incumbent and each close challenger (ahead but not beyond noise), then "
                                  "the test again on all of them; spent only where a decision hangs on them, "
                                  "outside the budget, counted in rescore_calls and selection_rollouts")
    confirm_max: int = Field(2, ge=1, le=16, description="gated selection: at most this many close challengers "
                             "are confirmed per round (the best by mean gain)")
    parent_selector: Literal["pareto", "lexicase"] = Field(
        "pareto", description="how GEPA picks the parent to mutate: gepa's pruned Pareto front (can give the best "
        "candidate zero weight under 0/1 scores, gepa issue #432) or lexicase (fastweights/selectors.py)")
    selection_z: float = Field(1.645, gt=0, le=5, description="one-sided threshold, in paired standard errors, "
                               "for 'beats beyond noise' (gated selection and paired acceptance); 1.645 = 5% "
                               "one-sided; the measured false-acceptance rate is in docs/BENCHMARKS.md")
    front: Literal["pareto", "gepa"] = Field("pareto", description="the front the population is taken from: "
                                             "Pareto non-dominance with ties kept, oldest first, or gepa's "
                                             "dominator pruning (keeps one of a tie, the newest)")
    reuse_rollouts: bool = Field(True, description="fill RL group slots with this cycle's GEPA rollouts")
    reflect_on_rl_rollouts: bool = Field(False, description="serve reflection minibatches of carried prompts from "
                                         "the previous cycle's RL rollouts (saves metric calls; new, see docs)")
    reflector: ReflectorConfig = ReflectorConfig()
    # issue 20: a reflector that fails every proposal turns FST into RL with K copies of the seed prompt, silently
    max_failed_rounds: int = Field(2, ge=0, description="stop the run after this many GEPA rounds in a row in "
                                   "which every proposal failed (no usable proposal); 0 never stops")


class EvalConfig(Section):
    every: int = Field(10, ge=1, description="evaluate every N RL steps (and at the start and end)")
    problems: int = Field(64, ge=1, le=512)
    k: int = Field(4, ge=1, description="samples per problem: mean@k")
    temperature: float = Field(0.6, gt=0)
    top_p: float = Field(0.95, gt=0, le=1)
    kl_problems: int = Field(32, ge=0, description="validation problems for the diagnostic KL (0 = off)")
    kl_context: Literal["seed", "lead", "both"] = Field(
        "seed", description="context of the diagnostic KL: the seed prompt (weight drift alone), the deployed lead "
        "prompt, or both (kl_to_base is then the seed-prompt value; kl_to_base_seed and kl_to_base_lead are logged)")


class CheckpointConfig(Section):
    every: int = Field(50, ge=1, description="save a joint checkpoint every N RL steps (and at the end)")
    keep: int = Field(3, ge=1, description="most recent checkpoints kept")


class LoggingConfig(Section):
    tensorboard: bool = False
    wandb: bool = False
    wandb_project: str = "fastslow"


class TrlSection(Section):
    """engine: trl only (FST on TRL's GRPOTrainer, see fastslow.integrations.trl)."""

    args: dict = Field(default_factory=dict, description="extra GRPOConfig fields, e.g. bf16: true, "
                       "gradient_checkpointing_kwargs, ddp_timeout (the batch, loss, sampling, schedule and "
                       "checkpoint fields come from the rollout, learner and checkpoint sections)")


class DistillSection(Section):
    """mode: fst-distill only (paper §5.7): the slow step is on-policy reverse-KL self-distillation of the policy
    under the seed prompt (the student) to the policy under the evolved prompt(s) (the teacher); see
    ``fastslow.rl.distill`` for the estimator."""

    teacher: Literal["frozen", "ema"] = Field("frozen", description="teacher weights: frozen (a snapshot taken at "
                                              "the start of every GEPA cycle, the paper's theta-bar) or ema (an "
                                              "exponential moving average of the student, updated every step)")
    ema_decay: float = Field(0.99, gt=0, lt=1, description="teacher: ema only; weight of the old teacher per step "
                             "(closer to 1: a slower, more stable target)")
    teacher_prompt: Literal["lead", "population"] = Field(
        "lead", description="the teacher's context: the lead prompt, or each population prompt in turn (rollout j "
        "of a problem is distilled towards prompt j mod K, the same G/K split FST's groups use)")
    student_prompt: Literal["seed", "none"] = Field("seed", description="the student's context: the seed prompt "
                                                    "(the paper) or no system prompt (bakes the prompt in)")


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
        if self.engine == "trl" and self.mode == "fst-distill":  # not wired through TRL's trainer yet
            raise ValueError("mode: fst-distill runs on engine: native only for now (TRL's GRPOTrainer has no "
                             "reverse-KL distillation step wired in); set engine: native")
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
