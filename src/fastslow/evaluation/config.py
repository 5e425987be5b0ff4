"""The ``eval`` section of a run config: validation mean@k and the diagnostic KL to the base.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from fastslow.config_base import Section


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
