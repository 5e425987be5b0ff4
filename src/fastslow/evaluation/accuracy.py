"""Sampling-based accuracy of a policy on a task under one system prompt.

Accuracy is the task's *metric* (``Score.correct``: exact success), kept apart from the *reward* that training
uses: with a partial-credit reward, mean@k is still the fraction of samples that solved the problem, and the mean
reward is reported beside it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from fastslow.sampling import Sampler, SamplingParams
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


def validation_metrics(sampler: Sampler, tasks: Sequence[Task], val: Mapping[str, Sequence[Problem]], current: Task,
                       system_prompt: str, params: SamplingParams, k: int) -> tuple[dict, int]:
    """A run's validation record under ``system_prompt`` (both engines log the same keys): ``val_mean@k``
    (accuracy) and ``val_reward@k`` of the ``current`` task, and in a stream ``.../<task>`` for every task
    (retention). Returns (metrics, verifier errors)."""
    key, reward_key, result, errors = f"val_mean@{k}", f"val_reward@{k}", {}, 0
    for task in tasks:
        acc = evaluate(sampler, task, val[task.name], system_prompt, params, k=k)
        result[f"{key}/{task.name}"] = acc.mean  # accuracy (the task's metric), not the shaped reward
        result[f"{reward_key}/{task.name}"] = acc.mean_reward
        errors += acc.verifier_errors
    result[key] = result[f"{key}/{current.name}"]
    result[reward_key] = result[f"{reward_key}/{current.name}"]
    if len(tasks) == 1:
        del result[f"{key}/{current.name}"], result[f"{reward_key}/{current.name}"]
    return result, errors


def evaluate(sampler: Sampler, task: Task, problems: Sequence[Problem], system_prompt: str,
             params: SamplingParams, k: int = 1) -> AccuracyResult:
    prompts = [task.render(p, system_prompt) for p in problems]
    completions = sampler.sample(prompts, params, n=k)
    scored = [[safe_score(task, p, c.text) for c in row] for p, row in zip(problems, completions)]
    return AccuracyResult(rewards=[[s.reward for s, _ in row] for row in scored],
                          correct=[[s.success for s, _ in row] for row in scored],
                          verifier_errors=sum(failed for row in scored for _, failed in row))
