"""The next population with a protected incumbent (``population.selection: gated``, issue 21).

Why: with 0/1 rewards and one rollout per anchor problem, the per-instance Pareto front of ``population`` (the
``front`` rule) lets an equally lucky nonsense prompt dominate or tie the seed prompt, and a reflector that proposes
junk then fills the population with it (in the issue's runs the seed left the population after the first round
and validation accuracy fell by up to 19 points). Here a prompt needs *evidence* to enter:

1. **The incumbent** is the round's carried lead (``population[0]``: the best prompt so far), re-scored on this
   round's fresh anchor problems with the current weights (a held-out estimate: those problems and rollout seeds
   were never used to choose it). It stays the lead unless a candidate beats it beyond noise on the anchor set
   (``acceptance.paired(...).beats``: paired over problems, common random numbers, one-sided at ``z``, raised by
   Bonferroni for the number of candidates tested, ``family_z``).
   If several do, the one with the best mean anchor score (then the oldest) becomes the new incumbent, and the old
   one leaves (it was beaten beyond noise).
2. **Other members** must each be either a child that beat the old incumbent beyond noise, or a member carried from
   the previous population (admitted earlier by the same evidence); and neither may be worse than the new
   incumbent beyond noise.
3. **Functional diversity, not ties:** going down that list (best mean first, then oldest) a prompt is kept only if
   it adds coverage, i.e. scores strictly higher than every prompt already kept on at least one anchor problem
   (per-problem means over its rollouts). A prompt that solves nothing the others do not is dropped, however many
   ties it has.
4. Fewer than K distinct prompts are repeated best first (the incumbent gets the spare slots), as in ``population``.

Confirmation (``population.confirm_rollouts``, adaptive): a challenger whose comparison is close (ahead of the
incumbent but not beyond noise; ``close_challengers``, the best ``confirm_max`` of them) gets that many more
rollouts per anchor problem, and so does the incumbent, and the test is repeated on all of them. Rollouts are spent
only where a decision hangs on them: at the floor (an incumbent solving nothing), a child that solves a few anchors
by a real partial rule passes after confirmation, where one rollout each could not tell it from luck. The two
looks raise the false-acceptance rate above the single test's; fastslow.bench.false_acceptance measures both.

``population.selection: protected`` is the same rule with rule 2 relaxed for the *other* members only: any
candidate not worse than the new incumbent beyond noise may compete for a seat, and rule 3 (new coverage) decides.
Why: on the embedded cipher world a correct rule that the base weights can barely execute solves a few anchor
problems where the seed solves none; that cannot be told from luck in one round, so ``gated`` never lets it in and
FST stays at the floor (docs/results/selection-embedded.json), while under ``protected`` it takes a seat, the slow
weights train under it, and it replaces the incumbent once it wins beyond noise. The incumbent, which is what
evaluation and export use (``population[0]``), is protected exactly as under ``gated``; a lucky junk prompt can take
an other seat, but only by solving a problem that no kept prompt solved, and never the lead.

The rules are measured against the ``front`` rule in docs/results/selection-*.json.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from statistics import NormalDist

from fastslow.fastweights.acceptance import paired, per_problem


def family_z(z: float, m: int) -> float:
    """The threshold that keeps the chance that *any* of ``m`` equally good challengers passes at the one-sided level
    of ``z`` (Bonferroni). A round tests every child against the incumbent; at a per-test 5% five junk children would
    displace it in about one round in four, not one in twenty."""
    if m <= 1:
        return z
    alpha = 1 - NormalDist().cdf(z)
    return NormalDist().inv_cdf(1 - alpha / m)


@dataclass
class Gated:
    population: list[str]
    incumbent: int  # candidate index of the new lead
    replaced: bool  # the carried lead was beaten beyond noise
    passed: int  # candidates that beat the carried lead beyond noise
    tested: int  # candidates compared with the carried lead
    kept: list[int] = field(default_factory=list)  # candidate indices of the distinct prompts kept, best first


def close_challengers(prompts: Sequence[str], subscores: Sequence[dict], groups: Sequence[Sequence], z: float,
                      limit: int) -> list[int]:
    """Challengers ahead of the incumbent (candidate 0) that do not beat it beyond noise, best mean gain first."""
    v = [per_problem(s, groups) for s in subscores]
    challengers = [c for c in range(1, len(prompts)) if prompts[c] != prompts[0]]
    zf = family_z(z, len(challengers))
    tests = {c: paired(v[c], v[0]) for c in challengers}
    close = [c for c, t in tests.items() if t.mean > 0 and not t.beats(zf)]
    return sorted(close, key=lambda c: (-tests[c].mean, c))[:limit]


def gated_population(prompts: Sequence[str], subscores: Sequence[dict], groups: Sequence[Sequence], k: int,
                     z: float, carried: int = 1, explore: bool = False) -> Gated:
    """Apply rules 1-4. ``prompts``/``subscores`` in GEPA's order (the carried population first: candidate 0 is
    the incumbent, candidates ``< carried`` were carried); ``groups`` maps each anchor problem to its valset ids.
    ``explore`` (``selection: protected``): other members need no win over the incumbent, only new coverage."""
    if not prompts:
        raise ValueError("no candidates to choose a population from")
    v = [per_problem(s, groups) for s in subscores]
    means = [sum(x) / len(x) for x in v]
    challengers = [c for c in range(1, len(prompts)) if prompts[c] != prompts[0]]
    zf = family_z(z, len(challengers))
    winners = [c for c in challengers if paired(v[c], v[0]).beats(zf)]
    lead = min(winners, key=lambda c: (-means[c], c)) if winners else 0
    pool = set(challengers) if explore else set(winners) | set(range(1, min(carried, len(prompts))))
    eligible = [c for c in pool if c != lead and not paired(v[c], v[lead]).worse(z)]
    kept = [lead]
    for c in sorted(eligible, key=lambda c: (-means[c], c)):
        if prompts[c] in {prompts[j] for j in kept}:
            continue
        if any(all(v[c][i] > v[j][i] for j in kept) for i in range(len(groups))):
            kept.append(c)
    distinct = [prompts[c] for c in kept]
    return Gated(population=[distinct[i % len(distinct)] for i in range(k)], incumbent=lead,
                 replaced=lead != 0, passed=len(winners), tested=len(challengers), kept=kept)
