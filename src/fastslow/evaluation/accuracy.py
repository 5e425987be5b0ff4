"""Sampling-based accuracy of a policy on a task under one system prompt.

Accuracy is the task's *metric* (``Score.correct``: exact success), kept apart from the *reward* that training
uses: with a partial-credit reward, mean@k is still the fraction of samples that solved the problem, and the mean
reward is reported beside it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from fastslow.sampler import Sampler, SamplingParams
from fastslow.tasks.base import Problem, Task, safe_score


@dataclass
class AccuracyResult:
    rewards: list[list[float]]  # [problem][sample]
    correct: list[list[bool]] = field(default_factory=list)  # [problem][sample]; empty: reward >= 1
    verifier_errors: int = 0

    def __post_init__(self) -> None:
        if not self.correct:
            self.correct = [[r >= 1.0 for r in row] for row in self.rewards]

    @property
    def mean(self) -> float:
        """mean@k accuracy: the fraction of (problem, sample) pairs that are correct."""
        flat = [c for row in self.correct for c in row]
        return sum(flat) / max(1, len(flat))

    @property
    def mean_reward(self) -> float:
        flat = [r for row in self.rewards for r in row]
        return sum(flat) / max(1, len(flat))

    def pass_at(self, k: int) -> float:
        """Unbiased pass@k (Chen et al. 2021) from n >= k samples per problem, counting a correct sample as a pass."""
        from math import comb

        total = 0.0
        for row in self.correct:
            n, c = len(row), sum(row)
            if n < k:
                raise ValueError(f"pass@{k} needs at least {k} samples per problem, got {n}")
            total += 1.0 - (comb(n - c, k) / comb(n, k) if n - c >= k else 0.0)
        return total / max(1, len(self.correct))


def evaluate(sampler: Sampler, task: Task, problems: Sequence[Problem], system_prompt: str,
             params: SamplingParams, k: int = 1) -> AccuracyResult:
    prompts = [task.render(p, system_prompt) for p in problems]
    completions = sampler.sample(prompts, params, n=k)
    scored = [[safe_score(task, p, c.text) for c in row] for p, row in zip(problems, completions)]
    return AccuracyResult(rewards=[[s.reward for s, _ in row] for row in scored],
                          correct=[[s.success for s, _ in row] for row in scored],
                          verifier_errors=sum(failed for row in scored for _, failed in row))
