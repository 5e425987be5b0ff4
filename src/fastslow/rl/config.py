"""The slow weights' config sections: ``learner`` (loss, aggregation, optimiser, micro-batching) and ``distill``
(mode fst-distill's reverse-KL step).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from fastslow.config_base import Section


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
