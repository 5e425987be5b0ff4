"""Look one GEPA iteration ahead, so that a round makes one sampler call per iteration instead of two (issue 12).

A GEPA iteration evaluates a parent on a reflection minibatch, then the child the reflector proposed on the same
minibatch: two sampler calls, one after the other, each small. The next iteration's minibatch is already fixed
(gepa's ``EpochShuffledBatchSampler`` walks one shuffled order per epoch), and its parent is one of the candidates
on the Pareto front now, or this iteration's child. So while the child's call is made anyway, the adapter can
sample the next minibatch for every such candidate as well; the next parent evaluation is then served from the
adapter's store with no call of its own.

Because every row is drawn with its own seed (``adapter.row_seed``), a row sampled one iteration early is the row
that sampling it on demand would have given: GEPA's decisions, budget and the reuse cache are unchanged (tested).
The price is rows sampled for candidates that are not picked (counted in ``RoundResult.speculative_unused``); on a
backend where a call's latency, not its rows, sets its cost (small GEPA batches), that is cheap.

``selection(seed, minibatch_size)`` builds the candidate selector and batch sampler exactly as ``gepa.optimize``
does for ``candidate_selection_strategy="pareto"`` (one ``random.Random(seed)`` shared by both), so passing them
explicitly changes no draw.
"""

from __future__ import annotations

import random

from gepa.strategies.batch_sampler import EpochShuffledBatchSampler
from gepa.strategies.candidate_selector import ParetoCandidateSelector

from fastslow.fastweights.selectors import LexicaseCandidateSelector


class LookaheadBatchSampler(EpochShuffledBatchSampler):
    """gepa's epoch-shuffled minibatch sampler that can also say which minibatch the next iteration will draw."""

    def __init__(self, minibatch_size: int, rng: random.Random):
        super().__init__(minibatch_size, rng)
        self.state = self.loader = None

    def next_minibatch_ids(self, loader, state):
        self.state, self.loader = state, loader
        return super().next_minibatch_ids(loader, state)

    def peek_next_ids(self) -> list | None:
        """Trainset ids of the next iteration's minibatch, or None where that is not yet decided (before the first
        draw, or when the next draw starts a new epoch and reshuffles with the shared random stream)."""
        if self.state is None or not self.shuffled_ids or self._calls_in_iteration:
            return None
        start = (self._current_iteration + 1) * self.minibatch_size
        size = len(self.shuffled_ids)
        if start // size != self.epoch:
            return None
        start %= size
        return self.shuffled_ids[start:start + self.minibatch_size]

    def front_indices(self) -> set[int]:
        """Candidates that can be picked as the next parent: every program on the current per-instance front (a
        superset of gepa's choice set, which drops dominated ones)."""
        if self.state is None:
            return set()
        return set().union(*self.state.get_pareto_front_mapping().values())


def selection(seed: int, minibatch_size: int, parent: str = "pareto") -> tuple[object, LookaheadBatchSampler]:
    """The candidate selector (gepa's Pareto selector, or lexicase: ``selectors``) and the minibatch sampler, sharing
    one random stream as in ``gepa.optimize``."""
    rng = random.Random(seed)
    if parent == "lexicase":
        return LexicaseCandidateSelector(rng), LookaheadBatchSampler(minibatch_size, rng)
    if parent != "pareto":
        raise ValueError(f"unknown parent selector {parent!r}; expected 'pareto' or 'lexicase'")
    return ParetoCandidateSelector(rng=rng), LookaheadBatchSampler(minibatch_size, rng)


class Lookahead:
    """What the adapter asks before a sampler call: the (prompt, problems) pairs the next iteration's parent
    evaluation may request."""

    def __init__(self, sampler: LookaheadBatchSampler, component: str):
        self.sampler, self.component = sampler, component

    def next_minibatch(self) -> list | None:
        ids = self.sampler.peek_next_ids()
        return None if ids is None else list(self.sampler.loader.fetch(ids))

    def front_prompts(self) -> list[str]:
        state = self.sampler.state
        if state is None:
            return []
        return [state.program_candidates[i][self.component] for i in sorted(self.sampler.front_indices())]
