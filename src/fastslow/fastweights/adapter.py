"""The GEPA adapter: evaluates a candidate prompt with the *live* policy and builds the reflective dataset.

A candidate is ``{"system_prompt": text}``. Evaluation samples one rollout per problem at the training
temperature, so what GEPA measures is the current policy under that prompt, and every rollout it produces is a
valid sample for the slow loop (captured in a ``RolloutCache``). Sampling seeds depend on the problems, not on the
candidate (common random numbers), so a parent and its child are compared on the same random draws.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from gepa import EvaluationBatch

from fastslow.fastweights.cache import RolloutCache
from fastslow.rl.rollouts import to_rollout
from fastslow.sampling import Sampler, SamplingParams
from fastslow.tasks.base import Problem, Task

COMPONENT = "system_prompt"


def batch_seed(base: int, problems: Sequence[Problem]) -> int:
    digest = hashlib.sha256(("|".join(p.id for p in problems) + f"#{base}").encode()).digest()
    return int.from_bytes(digest[:8], "little") % (2**63)


class PolicyAdapter:
    """GEPAAdapter over our Sampler and Task."""

    propose_new_texts = None  # proposals come from the round's custom proposer (a Reflector)

    def __init__(self, sampler: Sampler, task: Task, params: SamplingParams, cache: RolloutCache, seed: int = 0):
        self.sampler, self.task, self.params, self.cache, self.seed = sampler, task, params, cache, seed
        self.metric_calls = 0  # every rollout scored through this adapter
        self.verifier_errors = 0  # rollouts whose verifier raised (scored 0, see tasks.base.safe_score)
        self._primed: dict[tuple[str, tuple[str, ...]], EvaluationBatch] = {}
        # (problem id, prompt) -> RL rollouts of the previous cycle, served to reflection minibatches for free
        self.feedback_pool: dict[tuple[str, str], list] = {}
        self.feedback_served = 0

    def prime(self, prompt: str, problems: Sequence[Problem], result: EvaluationBatch) -> None:
        """Serve the next evaluation of (prompt, problems) from an existing result (GEPA re-evaluates its seed
        candidate when it starts; the population was just scored on the same problems)."""
        self._primed[(prompt, tuple(p.id for p in problems))] = result

    def evaluate(self, batch: Sequence[Problem], candidate: dict[str, str], capture_traces: bool = False
                 ) -> EvaluationBatch:
        prompt = candidate[COMPONENT]
        primed = self._primed.pop((prompt, tuple(p.id for p in batch)), None)
        if primed is not None:
            return primed
        if capture_traces and self.feedback_pool and all((p.id, prompt) in self.feedback_pool for p in batch):
            return self._from_feedback_pool(batch, prompt)
        params = SamplingParams(self.params.temperature, self.params.top_p, self.params.max_new_tokens,
                                seed=batch_seed(self.seed, batch))
        completions = self.sampler.sample([self.task.render(p, prompt) for p in batch], params)
        rollouts = [to_rollout(self.task, p, 0, prompt, row[0], source="gepa", cycle=self.cache.cycle)
                    for p, row in zip(batch, completions)]
        for r in rollouts:
            self.cache.add(r)
        self.metric_calls += len(rollouts)
        self.verifier_errors += sum(r.verifier_error for r in rollouts)
        trajectories = [{"input": r.problem.text, "output": r.text, "feedback": r.feedback, "score": r.reward}
                        for r in rollouts] if capture_traces else None
        return EvaluationBatch(outputs=[r.text for r in rollouts], scores=[r.reward for r in rollouts],
                               trajectories=trajectories)

    def _from_feedback_pool(self, batch: Sequence[Problem], prompt: str) -> EvaluationBatch:
        """A reflection minibatch built from rollouts the slow loop already produced under this prompt (no new
        metric calls). They were sampled with weights up to one cycle old; the child they are compared with is
        sampled fresh."""
        rollouts = [self.feedback_pool[(p.id, prompt)][0] for p in batch]
        self.feedback_served += len(rollouts)
        return EvaluationBatch(
            outputs=[r.text for r in rollouts], scores=[r.reward for r in rollouts],
            trajectories=[{"input": r.problem.text, "output": r.text, "feedback": r.feedback, "score": r.reward}
                          for r in rollouts], num_metric_calls=0)

    def make_reflective_dataset(self, candidate: dict[str, str], eval_batch: EvaluationBatch,
                                components_to_update: list[str]) -> dict[str, list[dict[str, str]]]:
        records = [{"Inputs": t["input"], "Generated Outputs": t["output"], "Feedback": t["feedback"]}
                   for t in eval_batch.trajectories or []]
        return {c: records for c in components_to_update}
