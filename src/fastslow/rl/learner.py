"""The Learner: one optimizer step of CISPO (or GRPO / Dr.GRPO) on a batch of problem groups.

Log-probs are recomputed for the current weights and compared with the *stored behaviour* log-probs, so stale or
reused rollouts are importance-corrected. A frozen reference model (the base weights) provides the optional
KL-to-reference penalty (k3) and the per-step KL estimate on the policy's own samples. Gradient accumulation uses
batch-wide token weights, so the update does not depend on the micro-batch size. By default each distinct prompt
runs through the model once per step (prompts that share a stem, such as one system prompt over several problems:
the stem once, then each rest) and its keys/values fan out to its completions (``fastslow.rl.shared_prefix``, the
same gradient for less compute); ``shared_prefix=False`` runs every rollout's full prompt+completion. The model,
optimizer and scheduler go through ``accelerate`` so the same code runs on several GPUs (DDP/FSDP/DeepSpeed) without
a rewrite; the shared-prefix path runs a backward pass per level each step (completions, then prompts, then their
stems), which is fine for the native engine's single process.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from fastslow.rl import shared_prefix
from fastslow.rl.batch import completion_logits, gather_logprobs, pack
from fastslow.rl.loss_registry import resolve_loss, token_objective
from fastslow.rl.losses import token_weights
from fastslow.rl.rollouts import ProblemGroup


@dataclass
class LearnerConfig:
    loss: str = "cispo"  # a registered loss (cispo | grpo | drgrpo) or module:attr (fastslow.rl.loss_registry)
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
    shared_prefix: bool = True  # each distinct prompt runs once per step (fastslow.rl.shared_prefix)
    temperature: float = 1.0  # the sampling temperature, so ratios are 1 on fresh on-policy data
    max_completion_len: int | None = None  # Dr.GRPO's constant normaliser (the run's max_new_tokens)


def learner_config(cfg) -> LearnerConfig:
    """The learner settings of a run config (``learner`` section, sampling temperature, Dr.GRPO's constant)."""
    L = cfg.learner
    return LearnerConfig(loss=L.loss, aggregation=L.aggregation, tau=L.tau, eps_low=L.eps_low, eps_high=L.eps_high,
                         kl_coef=L.kl_coef, lr=L.lr, warmup_steps=L.warmup_steps, weight_decay=L.weight_decay,
                         grad_clip=L.grad_clip, micro_batch_size=L.micro_batch_size,
                         temperature=cfg.rollout.temperature, shared_prefix=L.shared_prefix is not False,
                         max_completion_len=L.constant_normaliser or cfg.rollout.max_new_tokens)


class Learner:
    def __init__(self, model, config: LearnerConfig, ref_model=None, pad_id: int = 0, accelerator=None):
        from accelerate import Accelerator

        self.config = config
        self.loss = resolve_loss(config.loss)
        self.pad_id = pad_id
        self.accelerator = accelerator or Accelerator(cpu=not torch.cuda.is_available())
        optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, betas=config.betas,
                                      weight_decay=config.weight_decay)
        warmup = max(1, config.warmup_steps)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: min(1.0, (s + 1) / warmup))
        self.model, self.optimizer, self.scheduler = self.accelerator.prepare(model, optimizer, scheduler)
        self.ref_model = ref_model
        self.steps_done = 0
        self.timings: dict[str, float] = {}  # the last step's seconds: forward, ref_forward, backward, optimizer

    @property
    def policy(self):
        """The unwrapped model, for sampling."""
        return self.accelerator.unwrap_model(self.model)

    def step(self, groups: Sequence[ProblemGroup]) -> dict[str, float]:
        """One optimizer step on ``groups`` (advantages already assigned). Returns metrics."""
        cfg = self.config
        self.timings = {}
        rollouts = [(g_i, r, a) for g_i, g in enumerate(groups) for r, a in zip(g.rollouts, g.advantages)]
        if not rollouts:  # every group had zero reward variance: no update, but the warm-up counts RL steps
            with warnings.catch_warnings():  # torch warns when a scheduler steps before its optimizer ever has
                warnings.simplefilter("ignore", UserWarning)
                self.scheduler.step()
            self.steps_done += 1
            return {"skipped": 1.0, "lr": self.scheduler.get_last_lr()[0]}
        prompts = [r.prompt_ids for _, r, _ in rollouts]
        completions = [r.token_ids for _, r, _ in rollouts]
        width = max(1, max(len(c) for c in completions))
        mask = torch.zeros((len(rollouts), width))
        behaviour = torch.zeros((len(rollouts), width))
        tokens = torch.full((len(rollouts), width), self.pad_id, dtype=torch.long)  # completions, right-padded
        for i, (_, r, _) in enumerate(rollouts):
            mask[i, : len(r.token_ids)] = 1
            behaviour[i, : len(r.behaviour_logprobs)] = torch.tensor(r.behaviour_logprobs)
            tokens[i, : len(r.token_ids)] = torch.tensor(list(r.token_ids), dtype=torch.long)
        advantages = torch.tensor([a for _, _, a in rollouts], dtype=torch.float32)
        group_ids = torch.tensor([g for g, _, _ in rollouts])
        weights = token_weights(mask, group_ids, self.loss.aggregation(cfg.aggregation), cfg.max_completion_len)

        self.model.train()
        self.timings = {"forward": 0.0, "ref_forward": 0.0, "backward": 0.0, "optimizer": 0.0}
        sums = {"loss": 0.0, "entropy": 0.0, "clipped": 0.0, "kl_k3": 0.0, "ratio": 0.0}
        n_tokens = mask.sum().item()
        tensors = (behaviour, advantages, weights)
        if cfg.shared_prefix and shared_prefix.supported(self.model):
            self._shared_prefix_passes(prompts, completions, tokens, mask, tensors, sums)
        else:
            self._unshared_passes(prompts, completions, tensors, sums)
        clock = time.perf_counter()
        grad_norm = self.accelerator.clip_grad_norm_(self.model.parameters(), cfg.grad_clip or math.inf)
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.timings["optimizer"] += time.perf_counter() - clock
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

    def _unshared_passes(self, prompts, completions, tensors, sums) -> None:
        """Micro-batches of whole prompt+completion rows, grouped by total length (little compute on padding)."""
        cfg, device = self.config, self.accelerator.device
        order = sorted(range(len(prompts)), key=lambda i: (len(prompts[i]) + len(completions[i]), i))
        for start in range(0, len(order), cfg.micro_batch_size):
            rows = order[start : start + cfg.micro_batch_size]
            mb = pack([prompts[i] for i in rows], [completions[i] for i in rows], self.pad_id).to(device)
            clock = time.perf_counter()
            logits = completion_logits(self.model, mb, cfg.temperature)
            self.timings["forward"] += time.perf_counter() - clock
            ref_logits = None
            if self.ref_model is not None:
                clock = time.perf_counter()
                with torch.no_grad():
                    ref_logits = completion_logits(self.ref_model, mb, cfg.temperature)
                self.timings["ref_forward"] += time.perf_counter() - clock
            self._micro_batch(rows, logits, ref_logits, mb.completion, mb.mask.float(), tensors, sums)

    def _shared_prefix_passes(self, prompts, completions, tokens, mask, tensors, sums) -> None:
        """Each distinct prompt runs once (``fastslow.rl.shared_prefix``); micro-batches hold completions only,
        grouped by completion length, on top of their prompts' fanned-out KV cache."""
        cfg, device = self.config, self.accelerator.device
        distinct, index = shared_prefix.distinct_prompts(prompts)
        index = index.to(device)
        clock = time.perf_counter()
        prefix = shared_prefix.build(self.model, distinct, self.pad_id, device, grad=True)
        self.timings["forward"] += time.perf_counter() - clock
        ref_prefix = None
        if self.ref_model is not None:
            clock = time.perf_counter()
            ref_prefix = shared_prefix.build(self.ref_model, distinct, self.pad_id, device, grad=False)
            self.timings["ref_forward"] += time.perf_counter() - clock
        order = sorted(range(len(prompts)), key=lambda i: (len(completions[i]), i))
        for start in range(0, len(order), cfg.micro_batch_size):
            rows = order[start : start + cfg.micro_batch_size]
            width = max(1, max(len(completions[i]) for i in rows))
            completion, m, idx = tokens[rows, :width].to(device), mask[rows, :width].to(device), index[rows]
            clock = time.perf_counter()
            logits = prefix.completion_logits(self.model, idx, completion, m, cfg.temperature)
            self.timings["forward"] += time.perf_counter() - clock
            ref_logits = None
            if ref_prefix is not None:
                clock = time.perf_counter()
                with torch.no_grad():
                    ref_logits = ref_prefix.completion_logits(self.ref_model, idx, completion, m, cfg.temperature)
                self.timings["ref_forward"] += time.perf_counter() - clock
            self._micro_batch(rows, logits, ref_logits, completion, m, tensors, sums)
        clock = time.perf_counter()
        prefix.backward()
        self.timings["backward"] += time.perf_counter() - clock

    def _micro_batch(self, rows, logits, ref_logits, completion, m, tensors, sums) -> None:
        """The loss of one micro-batch (its share of the batch loss, by the batch-wide token weights), backward,
        and the metric sums."""
        cfg, device = self.config, self.accelerator.device
        behaviour, advantages, weights = tensors
        t = completion.shape[1]
        logp = gather_logprobs(logits, completion)
        old, adv = behaviour[rows, :t].to(device), advantages[rows].to(device)
        ref_logp = gather_logprobs(ref_logits, completion) if ref_logits is not None else None
        tok_loss, clipped, kl = token_objective(self.loss, cfg, logp, old, adv, ref_logp)
        if kl is not None:
            sums["kl_k3"] += (kl.detach() * m).sum().item()
        loss = (tok_loss * weights[rows, :t].to(device)).sum()
        clock = time.perf_counter()
        self.accelerator.backward(loss)
        self.timings["backward"] += time.perf_counter() - clock
        with torch.no_grad():
            entropy = -(logits.softmax(-1) * logits.log_softmax(-1)).sum(-1)
            sums["loss"] += loss.item()
            sums["entropy"] += (entropy * m).sum().item()
            sums["clipped"] += (clipped.float() * m).sum().item()
            sums["ratio"] += (torch.exp(logp.detach() - old) * m).sum().item()
