"""Comparisons of two prompts that respect sampling noise (issue 21).

Rewards are 0/1 and a prompt's score on a problem is one or a few rollouts, so an equally good (or worse) prompt
often *looks* better by luck: with one rollout on each of 8 problems, a nonsense prompt ties or beats the seed
prompt in a large share of draws. Every comparison here is

* **paired**: both prompts are scored on the same problems with the same per-row seeds (common random numbers,
  ``adapter.row_seed``), and the statistic is the per-problem difference ``d_i = s_child(i) - s_ref(i)``, where a
  problem's score is the mean over its rollouts (``population.rollouts_per_anchor``);
* **one-sided, beyond the paired standard error**: the child beats the reference when
  ``mean(d) > 0`` and ``mean(d) > z * sd(d) / sqrt(n)`` (``sd`` with ddof=1; a zero ``sd`` with a positive mean,
  every problem moved the same way, passes). With ``z = 1.645`` this is a one-sided paired z-test at 5%; its
  false-acceptance rate on equally good prompts is measured in ``fastslow.bench.false_acceptance``
  (docs/results/selection-false-acceptance.json), not assumed. A tie is never a win.

``PairedAcceptance`` is the same test as gepa's ``AcceptanceCriterion`` on a reflection minibatch (gepa 0.1.4
accepts any object with ``should_accept(proposal, state)``). The population rule that uses the anchor-set test is
in ``incumbent``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

Z_ONE_SIDED_5 = 1.645  # one-sided 5% normal quantile


@dataclass(frozen=True)
class Paired:
    """The paired comparison of a child with a reference over n problems."""

    mean: float  # mean per-problem difference, child - reference
    se: float  # its standard error (sd ddof=1 / sqrt(n)); 0 when n < 2
    n: int

    def beats(self, z: float) -> bool:
        """Better beyond noise: a positive mean difference more than ``z`` standard errors above zero."""
        return self.mean > 0 and self.mean > z * self.se + 1e-12

    def worse(self, z: float) -> bool:
        """Worse beyond noise (the reference beats the child)."""
        return self.mean < 0 and -self.mean > z * self.se + 1e-12


def paired(child: Sequence[float], reference: Sequence[float]) -> Paired:
    """Paired statistic of two per-problem score vectors (same problems, same order)."""
    if len(child) != len(reference):
        raise ValueError(f"paired comparison of {len(child)} against {len(reference)} problems")
    if not child:
        raise ValueError("paired comparison over no problems")
    d = [a - b for a, b in zip(child, reference)]
    n = len(d)
    mean = sum(d) / n
    if n < 2:
        return Paired(mean, 0.0, n)
    var = sum((x - mean) ** 2 for x in d) / (n - 1)
    return Paired(mean, math.sqrt(var / n), n)


def per_problem(subscores: dict, groups: Sequence[Sequence]) -> list[float]:
    """A candidate's per-problem scores: the mean over each problem's rollouts. ``groups[i]`` lists the GEPA
    valset ids holding problem i's rollouts (one id per rollout, ``population.rollouts_per_anchor`` of them)."""
    out = []
    for ids in groups:  # a candidate may lack confirmation replicas another has: the mean of what it has
        have = [subscores[j] for j in ids if j in subscores]
        out.append(sum(have) / len(have))
    return out


class PairedAcceptance:
    """gepa acceptance criterion: accept a child whose reflection-minibatch scores beat its parent's by the paired
    test above (same minibatch, same per-row seeds). On a minibatch of 3 one-rollout problems at z = 1.645 that
    means a net gain on at least two problems (+1 on one of three is 0.33 +- 0.33: not enough)."""

    def __init__(self, z: float = Z_ONE_SIDED_5):
        self.z = z

    def should_accept(self, proposal, state) -> bool:
        before = list(proposal.subsample_scores_before or [])
        after = list(proposal.subsample_scores_after or [])
        if not before or len(before) != len(after):
            return False
        return paired(after, before).beats(self.z)


def acceptance_criterion(name: str, z: float = Z_ONE_SIDED_5):
    """What ``gepa.optimize`` takes for ``population.acceptance``: gepa's own names pass through as strings."""
    if name == "paired":
        return PairedAcceptance(z)
    if name in ("strict_improvement", "improvement_or_equal"):
        return name
    raise ValueError(f"unknown acceptance rule {name!r}; expected 'paired', 'strict_improvement' or "
                     "'improvement_or_equal'")
