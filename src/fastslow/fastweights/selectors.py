"""Parent selection for binary rewards: lexicase (``population.parent_selector: lexicase``, issue 21).

gepa's default parent selector (``ParetoCandidateSelector``) samples from the per-instance Pareto front after
*pruning* programs whose every win is shared with another program (``gepa_utils.remove_dominated_programs``, which
tries the lowest-scoring programs first). With 0/1 scores most wins are shared, so the pruning can remove the best
candidate: one that solves many problems, each also solved by some weaker specialist, gets zero weight
(gepa issue #432; ``tests/test_selection.py`` builds the case).

Lexicase selection does not prune. Each pick shuffles the anchor problems, keeps the candidates best on the first,
then among those the best on the next, and so on, and draws uniformly among whoever is left. A candidate is picked
whenever some ordering puts one of its best problems first, so the best candidate is never zeroed out, and a
specialist still gets picks through the problems only it solves. The random stream is the one gepa's selection
shares with its minibatch sampler (``lookahead.selection``), so runs stay reproducible by seed. Every lexicase
winner is best on at least one instance, so ``lookahead``'s superset of possible next parents still holds.
"""

from __future__ import annotations

import random

from gepa.proposer.reflective_mutation.base import CandidateSelector


def lexicase_pick(subscores: list[dict], rng: random.Random) -> int:
    """One lexicase selection over per-instance scores (candidate index)."""
    if not subscores:
        raise ValueError("lexicase selection over no candidates")
    ids = sorted(set().union(*(s.keys() for s in subscores)), key=repr)
    rng.shuffle(ids)
    pool = list(range(len(subscores)))
    for i in ids:
        best = max(subscores[c].get(i, float("-inf")) for c in pool)
        pool = [c for c in pool if subscores[c].get(i, float("-inf")) == best]
        if len(pool) == 1:
            return pool[0]
    return rng.choice(pool)


class LexicaseCandidateSelector(CandidateSelector):
    def __init__(self, rng: random.Random):
        self.rng = rng

    def select_candidate_idx(self, state) -> int:
        return lexicase_pick(state.prog_candidate_val_subscores, self.rng)
