"""The loss registry: every policy-gradient loss either engine can train with, by name.

A loss is a per-token function ``token_loss(logp, behaviour_logp, advantages, config) -> (loss, clipped)`` on
``[N, T]`` tensors (``advantages`` is ``[N]``, ``config`` the ``LearnerConfig`` with tau, eps_low, eps_high, ...),
plus what aggregation ``prompt`` means for it (Dr.GRPO: the constant normaliser). Both engines weight it by the same
batch-wide token weights (``losses.token_weights``) and add the same k3 KL term, so a registered loss trains the
same under ``engine: native`` and ``engine: trl``. Adding a loss is one file::

    from fastslow.rl.loss_registry import register_loss

    def my_loss(logp, behaviour_logp, advantages, config):
        return -(advantages[:, None] * logp), torch.zeros_like(logp, dtype=torch.bool)

    LOSS = register_loss("my_loss", my_loss)

and ``learner.loss: path/to/file.py:LOSS`` (or ``package.module:LOSS``) in the run config. A loss that declares
``trl=False`` (it needs more than per-token log-probs) is refused by name under ``engine: trl``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

BUILTIN = ("cispo", "grpo", "drgrpo")  # known without importing torch (config validation)


@dataclass(frozen=True)
class LossSpec:
    name: str
    token_loss: Callable
    prompt_aggregation: str = "prompt"  # what ``aggregation: prompt`` means for this loss
    trl: bool = True  # engine: trl can train it (per-token loss from per-token log-probs)

    def aggregation(self, asked: str) -> str:
        return self.prompt_aggregation if asked == "prompt" else asked


LOSSES: dict[str, LossSpec] = {}


def register_loss(name: str, token_loss: Callable, *, prompt_aggregation: str = "prompt",
                  trl: bool = True) -> LossSpec:
    spec = LossSpec(name, token_loss, prompt_aggregation, trl)
    LOSSES[name] = spec
    return spec


def _builtins() -> None:
    from fastslow.rl.losses import cispo_token_loss, clipped_ratio_token_loss

    def cispo(logp, old, adv, c):
        return cispo_token_loss(logp, old, adv, c.tau, c.cispo_low)

    def clipped(logp, old, adv, c):
        return clipped_ratio_token_loss(logp, old, adv, c.eps_low, c.eps_high)

    register_loss("cispo", cispo)
    register_loss("grpo", clipped)
    register_loss("drgrpo", clipped, prompt_aggregation="constant")  # Dr.GRPO: no length normalisation


def resolve_loss(name: str) -> LossSpec:
    """The loss named ``name``: a registered name, or ``package.module:attr`` / ``path/to/file.py:attr`` naming a
    ``LossSpec`` (which importing the file registers)."""
    from fastslow.config import ConfigError

    if not LOSSES:
        _builtins()
    if name in LOSSES:
        return LOSSES[name]
    if ":" in name:
        from fastslow.plugins import import_target

        spec = import_target(name, f"learner.loss {name!r}", ConfigError)
        if not isinstance(spec, LossSpec):
            raise ConfigError(f"learner.loss {name!r}: names a {type(spec).__name__}, not a LossSpec; build it "
                              "with fastslow.rl.loss_registry.register_loss")
        return spec
    raise ConfigError(f"learner.loss: unknown loss {name!r}; registered: {', '.join(sorted(LOSSES))}, or name "
                      "your own as 'package.module:attr' or 'path/to/file.py:attr'")


def token_objective(spec: LossSpec, config, logp, behaviour_logp, advantages, ref_logp=None):
    """The per-token objective both engines minimise: the loss, plus ``kl_coef`` times the k3 KL to the reference
    when ``ref_logp`` is given. Returns (per-token loss, clipped mask, per-token k3 KL or None)."""
    from fastslow.rl.losses import k3_kl

    tok_loss, clipped = spec.token_loss(logp, behaviour_logp, advantages, config)
    kl = None
    if ref_logp is not None:
        kl = k3_kl(logp, ref_logp)
        if config.kl_coef:
            tok_loss = tok_loss + config.kl_coef * kl
    return tok_loss, clipped, kl
