"""Diagnostic KL(pi_train || pi_base): how far the slow weights have moved.

Definition (used for every mode, so numbers are comparable):
  1. For each held-out validation problem x, sample responses y ~ pi_train(. | x, c) at temperature 1 (so the
     samples follow pi_train itself).
  2. Teacher-force y through both models with the SAME context c (default: the task's seed prompt, which isolates
     weight drift from prompt effects; never pi_train under an evolved prompt against pi_base under the seed).
  3. At every response position compute the exact KL over the full vocabulary,
     sum_v pi_train(v) * (log pi_train(v) - log pi_base(v)); prompt tokens are masked out.
  4. Average over response tokens (token-level), then over problems.
This is separate from the training penalty (k3 on the policy's own samples, see ``rl/losses.py``).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from fastslow.rl.batch import completion_logits, pack
from fastslow.sampling import Sampler, SamplingParams
from fastslow.tasks.base import Problem, Task


def exact_token_kl(logits_p: torch.Tensor, logits_q: torch.Tensor) -> torch.Tensor:
    """KL(p || q) over the last (vocabulary) dimension, per position."""
    logp, logq = logits_p.float().log_softmax(-1), logits_q.float().log_softmax(-1)
    return (logp.exp() * (logp - logq)).sum(-1)


@torch.no_grad()
def kl_to_base(policy, base, sampler: Sampler, task: Task, problems: Sequence[Problem], context: str,
               samples_per_problem: int = 2, max_new_tokens: int = 64, seed: int = 0, pad_id: int = 0) -> float:
    completions = sampler.sample([task.render(p, context) for p in problems],
                                 SamplingParams(temperature=1.0, max_new_tokens=max_new_tokens, seed=seed),
                                 n=samples_per_problem)
    flat = [c for row in completions for c in row]
    device = next(policy.parameters()).device
    batch = pack([c.prompt_ids for c in flat], [c.token_ids for c in flat], pad_id).to(device)
    was_training = policy.training
    policy.eval()
    kl = exact_token_kl(completion_logits(policy, batch), completion_logits(base, batch))
    policy.train(was_training)
    mask = batch.mask.float()
    per_response = (kl * mask).sum(-1) / mask.sum(-1).clamp(min=1)
    per_problem = per_response.view(len(problems), samples_per_problem).mean(-1)
    return per_problem.mean().item()


def kl_contexts(policy, base, sampler: Sampler, task: Task, problems: Sequence[Problem], seed_prompt: str, lead: str,
                kl_context: str, max_new_tokens: int, seed: int, pad_id: int) -> dict[str, float]:
    """The diagnostic KL under ``eval.kl_context`` (seed, lead or both), for every engine: ``kl_to_base`` (the
    seed-prompt value under ``both``), plus ``kl_to_base_seed`` and ``kl_to_base_lead`` under ``both``. A context
    equal to one already measured (rl: the lead prompt is the seed prompt) is not measured twice."""
    contexts = {"seed": seed_prompt, "lead": lead}
    kls: dict[str, float] = {}
    for name in ("seed", "lead") if kl_context == "both" else (kl_context,):
        same = [k for k in kls if contexts[k] == contexts[name]]
        kls[name] = kls[same[0]] if same else kl_to_base(policy, base, sampler, task, problems, contexts[name],
                                                         max_new_tokens=max_new_tokens, seed=seed, pad_id=pad_id)
    result = {"kl_to_base": kls["seed"] if "seed" in kls else kls["lead"]}
    if kl_context == "both":  # FST's weights are trained under its lead prompt: measure both contexts
        result["kl_to_base_seed"], result["kl_to_base_lead"] = kls["seed"], kls["lead"]
    return result
