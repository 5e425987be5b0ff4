"""Sampling-based accuracy of a policy on a task under one system prompt."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from fastslow.sampler import Sampler, SamplingParams
from fastslow.task import Problem, Task


@dataclass
class AccuracyResult:
    rewards: list[list[float]]  # [problem][sample]

    @property
    def mean(self) -> float:
        """mean@k: the average reward over problems and their k samples."""
        flat = [r for row in self.rewards for r in row]
        return sum(flat) / max(1, len(flat))

    def pass_at(self, k: int) -> float:
        """Unbiased pass@k (Chen et al. 2021) from n >= k samples per problem, counting reward 1 as a pass."""
        from math import comb

        total = 0.0
        for row in self.rewards:
            n, c = len(row), sum(r >= 1.0 for r in row)
            if n < k:
                raise ValueError(f"pass@{k} needs at least {k} samples per problem, got {n}")
            total += 1.0 - (comb(n - c, k) / comb(n, k) if n - c >= k else 0.0)
        return total / max(1, len(self.rewards))


def evaluate(sampler: Sampler, task: Task, problems: Sequence[Problem], system_prompt: str,
             params: SamplingParams, k: int = 1) -> AccuracyResult:
    prompts = [task.render(p, system_prompt) for p in problems]
    completions = sampler.sample(prompts, params, n=k)
    return AccuracyResult([[task.score(p, c.text).reward for c in row] for p, row in zip(problems, completions)])
