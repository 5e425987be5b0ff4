"""Group-relative advantages (GRPO, paper Eq. 3), computed once per problem over all G rollouts."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Literal

from fastslow.rl.rollouts import ProblemGroup

Baseline = Literal["problem", "prompt"]


def normalise(rewards: Sequence[float], scale_by_std: bool, eps: float) -> list[float]:
    mean = sum(rewards) / len(rewards)
    centred = [r - mean for r in rewards]
    if not scale_by_std:
        return centred
    std = (sum(c * c for c in centred) / len(centred)) ** 0.5  # population std (1/G), as in Eq. 3
    return [c / (std + eps) for c in centred]


def assign(groups: Sequence[ProblemGroup], baseline: Baseline = "problem", scale_by_std: bool = True,
           eps: float = 1e-6) -> None:
    """Fill ``group.advantages``.

    ``problem``: one (mean, std) over all of a problem's rollouts, whatever prompt produced them (FST's choice);
    the advantage then credits a prompt that did better than the others on the same problem.
    ``prompt``: each (problem, prompt) sub-group is normalised on its own (the paper's weaker ablation).
    """
    for group in groups:
        if baseline == "problem":
            group.advantages = normalise(group.rewards, scale_by_std, eps)
            continue
        if baseline != "prompt":
            raise ValueError(f"unknown baseline {baseline!r}; expected 'problem' or 'prompt'")
        by_prompt: dict[int, list[int]] = defaultdict(list)
        for j, r in enumerate(group.rollouts):
            by_prompt[r.prompt_index].append(j)
        adv = [0.0] * len(group.rollouts)
        for idx in by_prompt.values():
            for j, a in zip(idx, normalise([group.rollouts[j].reward for j in idx], scale_by_std, eps)):
                adv[j] = a
        group.advantages = adv


def has_signal(group: ProblemGroup) -> bool:
    """False for a zero-variance group (all rewards equal): it carries no policy-gradient signal."""
    return max(group.rewards) > min(group.rewards)
