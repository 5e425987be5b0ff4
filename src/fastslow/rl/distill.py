"""FST-distill's slow step: on-policy reverse-KL self-distillation (paper §5.7, after Hübotter et al. 2026).

    L(theta) = E_{x, y ~ pi_theta(.|x)}  sum_t  KL( pi_theta(.|x, y<t) || pi_teacher(.|x, phi, y<t) )

The student is the policy under its own context (the seed prompt, or none); the teacher is a frozen or EMA copy of
the policy under the evolved prompt phi. Only the fast weights (the prompts) raise reward; the slow weights learn to
behave without the prompt as they do with it.

The estimator. Completions ``y`` are sampled from the student (on-policy) and then held fixed. At every sampled
prefix the per-token KL is computed *exactly* over the full vocabulary,

    KL_t = sum_v p_theta(v) (log p_theta(v) - log q(v)),   p = softmax(student logits), q = softmax(teacher logits)

and the loss is the token-weighted sum of KL_t (the learner's aggregation rule, so micro-batching does not change
the gradient). Its gradient is the exact gradient of each KL_t with respect to theta at that position
(``reverse_kl_tokens`` says how it is computed), and is *not* taken through:

* the sampling distribution of ``y`` (no score-function term for how theta changes which prefixes are visited:
  the usual on-policy distillation practice, GKD / Thinking Machines' on-policy distillation; it is the exact
  gradient of the per-token KLs on the sampled prefixes, a biased but low-variance estimate of the gradient of the
  sequence-level reverse KL);
* the teacher (its logits are computed under ``torch.no_grad``; it is a separate, frozen or EMA module).

The loss is exactly zero, and so is its gradient, when teacher and student have the same weights and context
(d/dtheta sum_v p (log p - log q) = sum_v dp (log p - log q) + sum_v dp = 0 at p = q); both are tested, and the
gradient against central finite differences in float64.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from fastslow.rl.batch import pack
from fastslow.rl.losses import token_weights


@dataclass
class DistillSample:
    """One student completion and the two contexts it is scored under (token ids, chat-templated)."""

    student_prompt_ids: list[int]
    teacher_prompt_ids: list[int]
    token_ids: list[int]
    group: int = 0  # the problem it answers (for prompt-level aggregation)


def context_logits(model, prompts: Sequence[Sequence[int]], completions: Sequence[Sequence[int]], pad_id: int,
                   temperature: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """(logits [N, T, V] at the positions that predict each completion token, mask [N, T]), at least fp32 (fp64
    stays fp64, for the finite-difference test), divided by the sampling temperature."""
    device = next(model.parameters()).device
    mb = pack(prompts, completions, pad_id).to(device)
    positions = (mb.attention_mask.cumsum(-1) - 1).clamp(min=0)
    out = model(input_ids=mb.input_ids, attention_mask=mb.attention_mask, position_ids=positions, use_cache=False,
                logits_to_keep=mb.completion.shape[1] + 1)
    logits = out.logits[:, :-1]
    if logits.dtype not in (torch.float32, torch.float64):
        logits = logits.float()
    return (logits / temperature if temperature not in (0, 1) else logits), mb.mask.to(logits.dtype)


def reverse_kl_tokens(student_logits: torch.Tensor, teacher_logits: torch.Tensor) -> torch.Tensor:
    """Exact per-token KL(student || teacher) over the full vocabulary, [N, T].

    The value is sum_v p (log p - log q); the gradient flows through ``p`` only, with the log-ratio held constant:
    sum_v dp (log p - log q). That is the full gradient, because the other term, sum_v p dlog p = sum_v dp, is zero
    (probabilities sum to one). Written this way the gradient is *exactly* zero where the two distributions are
    equal, instead of the rounding noise of a term that cancels analytically, which Adam would scale up to a
    full-size step (a cycle whose lead prompt is still the seed prompt must leave the weights where they are)."""
    logp = student_logits.log_softmax(-1)
    logq = teacher_logits.log_softmax(-1)
    return (logp.exp() * (logp - logq).detach()).sum(-1)


def distill_loss(student, teacher, samples: Sequence[DistillSample], pad_id: int, temperature: float = 1.0,
                 aggregation: str = "prompt", micro_batch_size: int = 16, backward: Callable | None = None,
                 max_len: int | None = None) -> dict:
    """The batch loss (token-weighted exact reverse KL) over ``samples``; with ``backward`` its gradient is
    accumulated into ``student``'s ``.grad`` micro-batch by micro-batch (``backward(loss)``, e.g.
    ``accelerator.backward``); ``max_len``: aggregation 'constant''s normaliser (Dr.GRPO's). Returns the loss, the
    token-mean KL, the student's token-mean entropy and the token count (floats)."""
    lengths = [len(s.token_ids) for s in samples]
    width = max(1, max(lengths))
    mask = torch.zeros((len(samples), width))
    for i, n in enumerate(lengths):
        mask[i, :n] = 1
    weights = token_weights(mask, torch.tensor([s.group for s in samples]), aggregation, max_len)
    totals = {"loss": 0.0, "kl": 0.0, "entropy": 0.0, "tokens": float(mask.sum())}
    order = sorted(range(len(samples)), key=lambda i: (lengths[i], i))
    for start in range(0, len(order), micro_batch_size):
        rows = order[start : start + micro_batch_size]
        completions = [samples[i].token_ids for i in rows]
        logits, m = context_logits(student, [samples[i].student_prompt_ids for i in rows], completions, pad_id,
                                   temperature)
        with torch.no_grad():
            teacher_logits, _ = context_logits(teacher, [samples[i].teacher_prompt_ids for i in rows], completions,
                                               pad_id, temperature)
        kl = reverse_kl_tokens(logits, teacher_logits.to(logits.dtype))
        w = weights[rows, : kl.shape[1]].to(kl.device, kl.dtype)
        loss = (kl * w).sum()
        if backward is not None:
            backward(loss)
        with torch.no_grad():
            entropy = -(logits.softmax(-1) * logits.log_softmax(-1)).sum(-1)
            totals["loss"] += loss.item()
            totals["kl"] += (kl * m).sum().item()
            totals["entropy"] += (entropy * m).sum().item()
    n = max(1.0, totals["tokens"])
    totals["kl"] /= n
    totals["entropy"] /= n
    return totals


MIN_KL = 1e-6  # nats per token: below this the teacher and student agree up to rounding; no step is taken


def distill_step(learner, teacher, samples: Sequence[DistillSample], aggregation: str = "prompt",
                 min_kl: float = MIN_KL) -> dict:
    """One optimizer step of the reverse-KL loss on ``samples``, through ``learner``'s model, optimizer, scheduler
    and gradient clipping (the same warm-up and learning rate as an RL step). Returns metrics; ``distill_kl`` is the
    token-mean KL to the teacher *before* the step.

    A batch whose KL is below ``min_kl`` takes no optimizer step (``skipped``: 1; the schedule still advances, as
    for an RL batch without signal): student and teacher then differ only by rounding (e.g. a fresh snapshot under
    the same prompt, computed through a different kernel path), and Adam would scale that noise up to a full-size
    step."""
    cfg = learner.config
    learner.timings = {}
    start = time.perf_counter()
    learner.model.train()
    totals = distill_loss(learner.model, teacher, samples, learner.pad_id, cfg.temperature, aggregation,
                          cfg.micro_batch_size, backward=learner.accelerator.backward,
                          max_len=cfg.max_completion_len)
    learner.timings["forward_backward"] = time.perf_counter() - start
    if totals["kl"] < min_kl:
        learner.optimizer.zero_grad(set_to_none=True)
        with warnings.catch_warnings():  # torch warns when a scheduler steps before its optimizer ever has
            warnings.simplefilter("ignore", UserWarning)
            learner.scheduler.step()
        learner.steps_done += 1
        return {"loss": totals["loss"], "distill_kl": totals["kl"], "entropy": totals["entropy"], "grad_norm": 0.0,
                "tokens": totals["tokens"], "rollouts": len(samples), "lr": learner.scheduler.get_last_lr()[0],
                "skipped": 1.0}
    start = time.perf_counter()
    grad_norm = learner.accelerator.clip_grad_norm_(learner.model.parameters(), cfg.grad_clip or math.inf)
    learner.optimizer.step()
    learner.scheduler.step()
    learner.optimizer.zero_grad(set_to_none=True)
    learner.timings["optimizer"] = time.perf_counter() - start
    learner.steps_done += 1
    return {"loss": totals["loss"], "distill_kl": totals["kl"], "entropy": totals["entropy"],
            "grad_norm": float(grad_norm), "tokens": totals["tokens"], "rollouts": len(samples),
            "lr": learner.scheduler.get_last_lr()[0]}
