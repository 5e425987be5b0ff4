"""The teacher of FST-distill: a frozen snapshot of the policy, or an exponential moving average of it.

``frozen`` is the paper's theta-bar: the weights are copied at the start of every GEPA cycle (``refresh``) and stay
fixed for the cycle, so the student chases a fixed target while the prompts move it. ``ema`` follows the student
slowly (``update`` after every step), a common stabiliser in self-distillation. The teacher is a separate module in
eval mode without gradients, so nothing flows back into it.
"""

from __future__ import annotations

import copy

import torch


class Teacher:
    def __init__(self, kind: str = "frozen", ema_decay: float = 0.99):
        if kind not in ("frozen", "ema"):
            raise ValueError(f"distill.teacher must be 'frozen' or 'ema', got {kind!r}")
        self.kind, self.decay = kind, ema_decay
        self.model = None

    def refresh(self, policy) -> None:
        """A frozen teacher takes a fresh snapshot (a cycle starts); an EMA teacher is made once and then only
        follows the student."""
        if self.model is None or self.kind == "frozen":
            self.model = copy.deepcopy(policy).eval().requires_grad_(False)

    @torch.no_grad()
    def update(self, policy) -> None:
        """EMA only: teacher <- decay * teacher + (1 - decay) * student, over the trainable parameters."""
        if self.kind != "ema" or self.model is None:
            return
        mine = dict(self.model.named_parameters())
        for name, p in policy.named_parameters():
            if p.requires_grad:
                mine[name].lerp_(p.detach().to(mine[name].dtype), 1.0 - self.decay)
