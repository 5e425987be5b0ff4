"""Choosing the next population: the top-K of a GEPA round's per-instance Pareto front.

Ranking rule (the paper leaves it open, fst-method.md section 3.2):
  1. the front = candidates that are best on at least one anchor problem, after GEPA's own dominance pruning;
  2. front members ranked by mean anchor score, ties broken by the number of problems they are best on, then
     by age (earlier candidates first, which keeps the population stable across cycles);
  3. only front members are kept (``fill="front"``, the default: the paper's "top-K of the Pareto front");
     with ``fill="dominated"`` the best dominated candidates (same order) fill the gap when the front has fewer
     than K members (in our measurements that keeps the generic seed prompt in the population, and training under
     it costs the weights their plasticity; see docs/BENCHMARKS.md);
  4. if fewer than K distinct prompts remain (the first cycle starts from the seed alone), the list is repeated,
     best first, so every problem still gets G rollouts split G/K per slot.
"""

from __future__ import annotations

from collections.abc import Sequence

from gepa.gepa_utils import find_dominator_programs


def best_sets(subscores: Sequence[dict]) -> dict:
    """instance id -> set of candidate indices with the best score on it."""
    ids = set().union(*(s.keys() for s in subscores)) if subscores else set()
    fronts = {}
    for i in ids:
        best = max(s.get(i, float("-inf")) for s in subscores)
        fronts[i] = {c for c, s in enumerate(subscores) if s.get(i, float("-inf")) == best}
    return fronts


def rank_candidates(subscores: Sequence[dict], fill: str = "front") -> list[int]:
    """Candidate indices, best first, by the rule above (without repetition)."""
    if fill not in ("dominated", "front"):
        raise ValueError(f"unknown fill rule {fill!r}; expected 'dominated' or 'front'")
    means = {c: sum(s.values()) / max(1, len(s)) for c, s in enumerate(subscores)}
    fronts = best_sets(subscores)
    wins = {c: sum(c in f for f in fronts.values()) for c in means}
    front = set(find_dominator_programs(fronts, means)) if fronts else set(means)
    order = lambda c: (-means[c], -wins[c], c)  # noqa: E731
    dominated = sorted(set(means) - front, key=order) if fill == "dominated" else []
    return sorted(front, key=order) + dominated


def top_k(prompts: Sequence[str], subscores: Sequence[dict], k: int, fill: str = "front") -> list[str]:
    """The next population of exactly ``k`` prompts (distinct where possible)."""
    ranked, seen = [], set()
    for c in rank_candidates(subscores, fill):
        if prompts[c] not in seen:
            seen.add(prompts[c])
            ranked.append(prompts[c])
    if not ranked:
        raise ValueError("no candidates to choose a population from")
    return [ranked[i % len(ranked)] for i in range(k)]
