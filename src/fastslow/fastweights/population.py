"""Choosing the next population: the top-K of a GEPA round's per-instance Pareto front.

Ranking rule (the paper leaves it open, fst-method.md section 3.2):
  1. the front (``FRONT_RULE``): "pareto" (default) = candidates that no other candidate Pareto-dominates on the
     per-anchor-problem scores (>= everywhere, > somewhere); candidates with identical scores are all kept.
     "gepa" = candidates best on at least one anchor problem after GEPA's own dominator pruning, which keeps one
     member of a tie (the newest) and, with 0/1 scores at low accuracy, usually a single prompt;
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

FRONT_RULE = "pareto"  # see rule 1 above and docs/DECISIONS.md


def best_sets(subscores: Sequence[dict]) -> dict:
    """instance id -> set of candidate indices with the best score on it."""
    ids = set().union(*(s.keys() for s in subscores)) if subscores else set()
    fronts = {}
    for i in ids:
        best = max(s.get(i, float("-inf")) for s in subscores)
        fronts[i] = {c for c, s in enumerate(subscores) if s.get(i, float("-inf")) == best}
    return fronts


def pareto_front(subscores: Sequence[dict]) -> set[int]:
    """Candidates that no other candidate Pareto-dominates on the per-instance scores (>= on every instance and
    > on at least one). Candidates with identical score vectors do not dominate each other and are all kept."""
    ids = sorted(set().union(*(s.keys() for s in subscores))) if subscores else []
    vec = [tuple(s.get(i, float("-inf")) for i in ids) for s in subscores]

    def dominates(a, b):
        return all(x >= y for x, y in zip(a, b)) and any(x > y for x, y in zip(a, b))

    return {c for c, v in enumerate(vec) if not any(dominates(w, v) for w in vec)}


def rank_candidates(subscores: Sequence[dict], fill: str = "front", front_rule: str = FRONT_RULE) -> list[int]:
    """Candidate indices, best first, by the rule above (without repetition)."""
    if fill not in ("dominated", "front"):
        raise ValueError(f"unknown fill rule {fill!r}; expected 'dominated' or 'front'")
    if front_rule not in ("pareto", "gepa"):
        raise ValueError(f"unknown front rule {front_rule!r}; expected 'pareto' or 'gepa'")
    means = {c: sum(s.values()) / max(1, len(s)) for c, s in enumerate(subscores)}
    fronts = best_sets(subscores)
    wins = {c: sum(c in f for f in fronts.values()) for c in means}
    if front_rule == "pareto":
        front = pareto_front(subscores)
    else:
        front = set(find_dominator_programs(fronts, means)) if fronts else set(means)
    order = lambda c: (-means[c], -wins[c], c)  # noqa: E731
    dominated = sorted(set(means) - front, key=order) if fill == "dominated" else []
    return sorted(front, key=order) + dominated


def top_k(prompts: Sequence[str], subscores: Sequence[dict], k: int, fill: str = "front",
          front_rule: str = FRONT_RULE) -> list[str]:
    """The next population of exactly ``k`` prompts (distinct where possible)."""
    ranked, seen = [], set()
    for c in rank_candidates(subscores, fill, front_rule):
        if prompts[c] not in seen:
            seen.add(prompts[c])
            ranked.append(prompts[c])
    if not ranked:
        raise ValueError("no candidates to choose a population from")
    return [ranked[i % len(ranked)] for i in range(k)]
