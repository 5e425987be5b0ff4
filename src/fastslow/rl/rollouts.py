"""Rollout groups with FST's batch structure.

One RL step takes B problems. Each problem gets G rollouts spread evenly over the K prompts of the current
population (G/K each, a deterministic stratified assignment as in the paper), and all G rollouts form ONE group:
the advantage statistic is computed once per problem (the paper's "problem baseline"). Every rollout keeps the
prompt that produced it, its tokens and behaviour log-probs, so training conditions on that prompt and stale or
reused rollouts can be importance-corrected.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from fastslow.sampling import Completion, Sampler, SamplingParams
from fastslow.tasks.base import Problem, Task, safe_score


@dataclass
class Rollout:
    problem: Problem
    prompt_index: int  # position of the prompt in the population used for this step
    prompt: str
    prompt_ids: list[int]
    token_ids: list[int]
    behaviour_logprobs: list[float]
    text: str
    reward: float
    feedback: str
    finished: bool
    source: str = "live"  # "live" or "reused" (taken from a GEPA round's cache)
    cycle: int = -1  # FST cycle that produced it (reuse must never cross cycles)
    correct: bool = False  # the task's metric (exact success), apart from a possibly partial reward
    verifier_error: bool = False  # the verifier raised; reward 0 (see tasks.base.safe_score)


@dataclass
class ProblemGroup:
    """All G rollouts of one problem; ``advantages`` is filled by ``advantages.assign``."""

    problem: Problem
    rollouts: list[Rollout]
    advantages: list[float] = field(default_factory=list)

    @property
    def rewards(self) -> list[float]:
        return [r.reward for r in self.rollouts]


def split_group(group_size: int, population_size: int) -> int:
    """Rollouts per prompt (G/K); K must divide G."""
    if population_size < 1 or group_size % population_size:
        raise ValueError(f"group size G={group_size} must be a positive multiple of population size "
                         f"K={population_size}")
    return group_size // population_size


def to_rollout(task: Task, problem: Problem, prompt_index: int, prompt: str, c: Completion, source: str = "live",
               cycle: int = -1) -> Rollout:
    score, failed = safe_score(task, problem, c.text)
    return Rollout(problem, prompt_index, prompt, c.prompt_ids, c.token_ids, c.logprobs, c.text, score.reward,
                   score.feedback, c.finished, source, cycle, score.success, failed)


def collect_groups(sampler: Sampler, task: Task, problems: Sequence[Problem], population: Sequence[str],
                   group_size: int, params: SamplingParams, reuse=None, cycle: int = -1,
                   timings: dict | None = None) -> list[ProblemGroup]:
    """Sample one group per problem: every prompt of ``population`` gets exactly G/K rollouts.

    ``reuse`` (anything with ``claim(problem_id, prompt, n) -> list[Rollout]``, e.g. a GEPA round's
    ``RolloutCache``) fills slots with rollouts that already exist; only the remaining slots are sampled live,
    all in one batched sampler call.
    """
    per_prompt = split_group(group_size, len(population))
    slots: dict[tuple[int, int], list[Rollout]] = {}
    requests: list[tuple[int, int]] = []
    for i, problem in enumerate(problems):
        for k, prompt in enumerate(population):
            reused = reuse.claim(problem.id, prompt, per_prompt) if reuse is not None else []
            slots[(i, k)] = [
                Rollout(**{**r.__dict__, "prompt_index": k, "source": "reused"}) for r in reused
            ]
            requests += [(i, k)] * (per_prompt - len(reused))
    timings = timings if timings is not None else {}
    if requests:  # one sampler call; the sampler prefills each distinct prompt once
        start = time.perf_counter()
        completions = sampler.sample([task.render(problems[i], population[k]) for i, k in requests], params)
        timings["generation"] = timings.get("generation", 0.0) + time.perf_counter() - start
        start = time.perf_counter()
        for (i, k), row in zip(requests, completions):
            slots[(i, k)].append(to_rollout(task, problems[i], k, population[k], row[0], cycle=cycle))
        timings["scoring"] = timings.get("scoring", 0.0) + time.perf_counter() - start
    return [ProblemGroup(p, [r for k in range(len(population)) for r in slots[(i, k)]])
            for i, p in enumerate(problems)]
