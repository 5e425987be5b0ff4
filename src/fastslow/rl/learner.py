"""The Learner: one optimizer step of CISPO (or GRPO / Dr.GRPO) on a batch of problem groups.

Log-probs are recomputed for the current weights and compared with the *stored behaviour* log-probs, so stale or
reused rollouts are importance-corrected. A frozen reference model (the base weights) provides the optional
KL-to-reference penalty (k3) and the per-step KL estimate on the policy's own samples. Gradient accumulation uses
batch-wide token weights, so the update does not depend on the micro-batch size. The model, optimizer and scheduler
go through ``accelerate`` so the same code runs on several GPUs (DDP/FSDP/DeepSpeed) without a rewrite.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from fastslow.rl.batch import completion_logits, gather_logprobs, pack
from fastslow.rl.losses import cispo_token_loss, clipped_ratio_token_loss, k3_kl, token_weights
from fastslow.rl.rollouts import ProblemGroup


@dataclass
class LearnerConfig:
    loss: str = "cispo"  # cispo | grpo | drgrpo
    aggregation: str = "prompt"  # prompt | token | sequence | constant
    tau: float = 4.0  # CISPO truncation (paper: clip_high 3 -> weights in [0, 4])
    cispo_low: float | None = None  # optional CISPO lower bound (paper: clip_low 1 -> 0, i.e. none)
    eps_low: float = 0.2  # GRPO clip range
    eps_high: float = 0.2
    kl_coef: float = 0.0  # KL-to-reference penalty (paper: 1e-3), k3 estimator, added to the loss
    lr: float = 1e-6
    warmup_steps: int = 10
    betas: tuple[float, float] = (0.9, 0.999)
    weight_decay: float = 0.0
    grad_clip: float | None = None  # the paper mentions none
    micro_batch_size: int = 16  # rollouts per forward/backward (grouped by length)
    temperature: float = 1.0  # the sampling temperature, so ratios are 1 on fresh on-policy data
    max_completion_len: int | None = None  # Dr.GRPO's constant normaliser (defaults to the batch's longest)


class Learner:
    def __init__(self, model, config: LearnerConfig, ref_model=None, pad_id: int = 0, accelerator=None):
        from accelerate import Accelerator

        self.config = config
        self.pad_id = pad_id
        self.accelerator = accelerator or Accelerator(cpu=not torch.cuda.is_available())
        optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, betas=config.betas,
                                      weight_decay=config.weight_decay)
        warmup = max(1, config.warmup_steps)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: min(1.0, (s + 1) / warmup))
        self.model, self.optimizer, self.scheduler = self.accelerator.prepare(model, optimizer, scheduler)
        self.ref_model = ref_model
        self.steps_done = 0

    @property
    def policy(self):
        """The unwrapped model, for sampling."""
        return self.accelerator.unwrap_model(self.model)

    def step(self, groups: Sequence[ProblemGroup]) -> dict[str, float]:
        """One optimizer step on ``groups`` (advantages already assigned). Returns metrics."""
        cfg = self.config
        rollouts = [(g_i, r, a) for g_i, g in enumerate(groups) for r, a in zip(g.rollouts, g.advantages)]
        if not rollouts:  # every group had zero reward variance: no update, but the warm-up counts RL steps
            with warnings.catch_warnings():  # torch warns when a scheduler steps before its optimizer ever has
                warnings.simplefilter("ignore", UserWarning)
                self.scheduler.step()
            self.steps_done += 1
            return {"skipped": 1.0, "lr": self.scheduler.get_last_lr()[0]}
        device = self.accelerator.device
        prompts = [r.prompt_ids for _, r, _ in rollouts]
        completions = [r.token_ids for _, r, _ in rollouts]
        width = max(1, max(len(c) for c in completions))
        mask = torch.zeros((len(rollouts), width))
        behaviour = torch.zeros((len(rollouts), width))
        for i, (_, r, _) in enumerate(rollouts):
            mask[i, : len(r.token_ids)] = 1
            behaviour[i, : len(r.behaviour_logprobs)] = torch.tensor(r.behaviour_logprobs)
        advantages = torch.tensor([a for _, _, a in rollouts], dtype=torch.float32)
        group_ids = torch.tensor([g for g, _, _ in rollouts])
        aggregation = "constant" if cfg.loss == "drgrpo" and cfg.aggregation == "prompt" else cfg.aggregation
        weights = token_weights(mask, group_ids, aggregation, cfg.max_completion_len)

        self.model.train()
        sums = {"loss": 0.0, "entropy": 0.0, "clipped": 0.0, "kl_k3": 0.0, "ratio": 0.0}
        n_tokens = mask.sum().item()
        # micro-batches of similar length waste little compute on padding; the batch-wide token weights keep the
        # summed gradient identical to one full-batch step
        order = sorted(range(len(rollouts)), key=lambda i: (len(prompts[i]) + len(completions[i]), i))
        for start in range(0, len(order), cfg.micro_batch_size):
            rows = order[start : start + cfg.micro_batch_size]
            mb = pack([prompts[i] for i in rows], [completions[i] for i in rows], self.pad_id).to(device)
            t = mb.mask.shape[1]
            m = mb.mask.float()
            logits = completion_logits(self.model, mb, cfg.temperature)
            logp = gather_logprobs(logits, mb.completion)
            old, adv = behaviour[rows, :t].to(device), advantages[rows].to(device)
            if cfg.loss == "cispo":
                tok_loss, clipped = cispo_token_loss(logp, old, adv, cfg.tau, cfg.cispo_low)
            elif cfg.loss in ("grpo", "drgrpo"):
                tok_loss, clipped = clipped_ratio_token_loss(logp, old, adv, cfg.eps_low, cfg.eps_high)
            else:
                raise ValueError(f"unknown loss {cfg.loss!r}; expected cispo, grpo or drgrpo")
            if self.ref_model is not None:
                with torch.no_grad():
                    ref_logp = gather_logprobs(completion_logits(self.ref_model, mb, cfg.temperature),
                                               mb.completion)
                kl = k3_kl(logp, ref_logp)
                sums["kl_k3"] += (kl.detach() * m).sum().item()
                if cfg.kl_coef:
                    tok_loss = tok_loss + cfg.kl_coef * kl
            loss = (tok_loss * weights[rows, :t].to(device)).sum()
            self.accelerator.backward(loss)
            with torch.no_grad():
                entropy = -(logits.softmax(-1) * logits.log_softmax(-1)).sum(-1)
                sums["loss"] += loss.item()
                sums["entropy"] += (entropy * m).sum().item()
                sums["clipped"] += (clipped.float() * m).sum().item()
                sums["ratio"] += (torch.exp(logp.detach() - old) * m).sum().item()
        grad_norm = self.accelerator.clip_grad_norm_(self.model.parameters(), cfg.grad_clip or math.inf)
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.steps_done += 1
        metrics = {
            "loss": sums["loss"], "grad_norm": float(grad_norm), "entropy": sums["entropy"] / n_tokens,
            "clip_frac": sums["clipped"] / n_tokens, "kl_k3": sums["kl_k3"] / n_tokens,
            "ratio_mean": sums["ratio"] / n_tokens, "tokens": n_tokens, "rollouts": len(rollouts),
            "lr": self.scheduler.get_last_lr()[0],
        }
        if self.ref_model is None:  # no reference model: no KL was measured, so none is reported
            del metrics["kl_k3"]
        return metrics
