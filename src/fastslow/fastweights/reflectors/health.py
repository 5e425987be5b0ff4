"""Stopping a run whose reflector keeps failing (issue 20).

A reflector that fails every proposal (a server that went away, credentials that expired mid-run, a model that
never closes its fence) leaves the population as it was: FST degrades to RL with K copies of the current prompts,
and nothing in the metrics says so unless one reads every round. ``FailedRounds`` counts GEPA rounds in a row in
which every proposal failed (``RoundResult.all_failed``: the reflector was asked, nothing usable came back, at
least one call failed; a round of repeats of the parent or of "nothing to change" is not a failure) and raises
``ReflectorError`` once there are ``population.max_failed_rounds`` of them. The trainer turns that into a stop that
names the last complete checkpoint, which is untouched: fix the reflector and ``fst run --resume``. The streak is
not checkpointed: a resumed run starts counting afresh, as it should after a fix.
"""

from __future__ import annotations

from fastslow.fastweights.reflectors.base import ReflectorError


def round_record(result) -> dict:
    """The flat fields a GEPA round adds to its metrics record: ``proposals_<outcome>`` for every outcome of
    ``gepa_round.PROPOSAL_OUTCOMES``, ``round_failed`` and up to five ``proposal_failure_reasons``."""
    return {**{f"proposals_{k}": v for k, v in result.proposal_outcomes.items()},
            "round_failed": result.all_failed, "proposal_failure_reasons": result.failure_reasons[:5]}


class FailedRounds:
    """Counts rounds in a row with no usable proposal; raises ``ReflectorError`` at ``limit`` (0: never)."""

    def __init__(self, limit: int, reflector_name: str = "the reflector"):
        self.limit, self.name, self.streak = limit, reflector_name, 0

    def observe(self, record: dict) -> None:
        """``record``: a round's metrics record (with the fields of ``round_record``)."""
        if not record.get("round_failed"):
            self.streak = 0
            return
        self.streak += 1
        if self.limit and self.streak >= self.limit:
            reasons = " | ".join(record.get("proposal_failure_reasons") or []) or "none recorded"
            raise ReflectorError(f"{self.name} gave no usable proposal in {self.streak} GEPA round(s) in a row "
                                 f"(population.max_failed_rounds: {self.limit}); the last round's reasons: {reasons}")
