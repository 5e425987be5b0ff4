"""The ``trl`` section of a run config (engine: trl only): extra GRPOConfig fields.
"""

from __future__ import annotations

from pydantic import Field

from fastslow.config_base import Section


class TrlSection(Section):
    """engine: trl only (FST on TRL's GRPOTrainer, see fastslow.integrations.trl)."""

    args: dict = Field(default_factory=dict, description="extra GRPOConfig fields, e.g. bf16: true, "
                       "gradient_checkpointing_kwargs, ddp_timeout (the batch, loss, sampling, schedule and "
                       "checkpoint fields come from the rollout, learner and checkpoint sections)")
