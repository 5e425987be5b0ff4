"""The ``model`` section of a run config: the policy (folder, hub id, ``base`` or ``smollm2``), dtype, LoRA,
reference and export.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from fastslow.config_base import Section


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
