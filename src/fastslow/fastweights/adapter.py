"""The GEPA adapter: evaluates candidate prompts with the *live* policy, in batches, and builds the reflective dataset.

A candidate is ``{"system_prompt": text}``. Evaluation samples one rollout per problem at the training
temperature, so what GEPA measures is the current policy under that prompt, and every rollout it consumes is a
valid sample for the slow loop (captured in a ``RolloutCache``).

Seeds are per row, not per call: the rollout of (prompt, problem) for a purpose is drawn with a seed that depends
on the round, the purpose and the problem, never on the candidate (common random numbers: a parent and its child
see the same noise) nor on the other rows of the sampler call (the sampler's per-row ``seeds``). Purposes:
``val`` (a full anchor evaluation: re-scoring and accepted children) and ``mb`` (a reflection minibatch; its seed
also names the minibatch, so a problem drawn again in another minibatch gets a fresh draw, as with the per-batch
seeds before). Because a rollout does not depend on its batch, the adapter can

* batch: ``batch_evaluate`` (gepa's batch hook) sends every missing row of all its (candidate, problems) pairs
  through ONE sampler call, and round-start re-scoring of the whole population is one call;
* speculate: when a new candidate (a child) is evaluated on its minibatch, its full anchor evaluation is sampled
  in the same call; if GEPA accepts the child, the full evaluation it asks for next is served from that store,
  identical to what sampling it then would have given. A rejected child's anchor rows are never consumed (counted
  in ``speculative_unused``);
* look ahead (``lookahead`` module): a call made anyway also samples the next iteration's minibatch for every
  candidate that could be its parent, so that parent evaluation needs no call of its own;
* never sample a row twice: a repeated evaluation (a parent re-drawn on the same minibatch) is served from the
  store. GEPA's budget accounting is unchanged: it counts the rows it consumes, exactly as before, and
  ``metric_calls`` reports the same count; ``generated`` counts sampled rows.
"""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Sequence
from dataclasses import replace

from gepa import EvaluationBatch

from fastslow.fastweights.cache import RolloutCache
from fastslow.rl.rollouts import Rollout, to_rollout
from fastslow.sampling import Sampler, SamplingParams
from fastslow.tasks.base import Problem, Task

COMPONENT = "system_prompt"


def row_seed(base: int, key: tuple) -> int:
    """The sampling seed of one row: a function of the round's base seed and the row's (purpose, ..., problem)."""
    digest = hashlib.sha256(repr((base, key)).encode()).digest()
    return int.from_bytes(digest[:8], "little") % (2**63)


def anchor_keys(ids: Sequence[str]) -> list[tuple]:
    """Row keys of a full anchor evaluation. A problem listed r times (``population.rollouts_per_anchor``) gets r
    rollouts: its first keeps the one-rollout key ``("val", id)`` (so r = 1 is unchanged and every r shares its
    first draws, common random numbers across settings too), the n-th repeat ``("val", id, n)``."""
    seen: dict[str, int] = {}
    keys = []
    for i in ids:
        n = seen.get(i, 0)
        seen[i] = n + 1
        keys.append(("val", i) if n == 0 else ("val", i, n))
    return keys


def takes_row_seeds(sampler) -> bool:
    """Whether ``sampler.sample`` accepts per-row ``seeds`` (HFSampler does; other backends may not)."""
    try:
        return "seeds" in inspect.signature(sampler.sample).parameters
    except (TypeError, ValueError):
        return False


def evaluation(rollouts: Sequence[Rollout], capture_traces: bool, **extra) -> EvaluationBatch:
    """GEPA's view of some rollouts: outputs and scores, and the traces its reflection reads when asked for."""
    trajectories = [{"input": r.problem.text, "output": r.text, "feedback": r.feedback, "score": r.reward}
                    for r in rollouts] if capture_traces else None
    return EvaluationBatch(outputs=[r.text for r in rollouts], scores=[r.reward for r in rollouts],
                           trajectories=trajectories, **extra)


class PolicyAdapter:
    """GEPAAdapter over our Sampler and Task, with gepa's batch hook (``batch_evaluate``)."""

    propose_new_texts = None  # proposals come from the round's custom proposer (a Reflector)

    def __init__(self, sampler: Sampler, task: Task, params: SamplingParams, cache: RolloutCache, seed: int = 0,
                 anchor: Sequence[Problem] = (), speculate: bool = True, batched: bool = True):
        self.sampler, self.task, self.params, self.cache, self.seed = sampler, task, params, cache, seed
        self.anchor_ids = tuple(p.id for p in anchor)
        self.anchor = list(anchor)
        self.anchor_keys = anchor_keys(self.anchor_ids)
        self.batched = batched
        if not batched:  # the reference path for benchmarks: gepa then evaluates one (candidate, batch) per call
            self.batch_evaluate = None
        self.speculate = speculate and batched and bool(self.anchor)
        self.lookahead = None  # a lookahead.Lookahead, set by the round when speculating
        self.row_seeds = takes_row_seeds(sampler)
        self.metric_calls = 0  # rows handed to GEPA (its budget's unit; repeats included, as GEPA counts them)
        self.generated = 0  # rows actually sampled
        self.sampler_calls = 0
        self.verifier_errors = 0  # sampled rows whose verifier raised (scored 0, see tasks.base.safe_score)
        self._store: dict[tuple[str, tuple], Rollout] = {}  # (prompt, row key) -> its rollout
        self._consumed: set[tuple[str, tuple]] = set()
        self._primed: dict[tuple[str, tuple[str, ...]], EvaluationBatch] = {}
        # (problem id, prompt) -> RL rollouts of the previous cycle, served to reflection minibatches for free
        self.feedback_pool: dict[tuple[str, str], list] = {}
        self.feedback_served = 0
        self.confirm_rollouts = 0  # rollouts drawn by ``anchor_replicas`` (outside GEPA's budget)

    # ---- row keys -------------------------------------------------------------------------------------------
    def row_keys(self, batch: Sequence[Problem]) -> list[tuple]:
        ids = tuple(p.id for p in batch)
        if ids == self.anchor_ids:
            return list(self.anchor_keys)
        return [("mb", ids, i) for i in ids]

    @property
    def speculative_unused(self) -> int:
        """Sampled rows never handed to GEPA (anchor rows of rejected children)."""
        return len(set(self._store) - self._consumed)

    def prime(self, prompt: str, problems: Sequence[Problem], result: EvaluationBatch) -> None:
        """Serve the next evaluation of (prompt, problems) from an existing result, uncounted (GEPA re-evaluates
        its seed candidate when it starts; the population was just scored on the same problems)."""
        self._primed[(prompt, tuple(p.id for p in problems))] = result

    # ---- GEPA's hooks ---------------------------------------------------------------------------------------
    def evaluate(self, batch: Sequence[Problem], candidate: dict[str, str], capture_traces: bool = False
                 ) -> EvaluationBatch:
        prompt = candidate[COMPONENT]
        primed = self._primed.pop((prompt, tuple(p.id for p in batch)), None)
        if primed is not None:
            return primed
        return self._evaluate([(candidate, batch)], capture_traces, use_feedback=capture_traces)[0]

    def evaluate_on_anchor(self, prompts: Sequence[str]) -> list[EvaluationBatch]:
        """Full anchor evaluations of several prompts in one sampler call (round-start re-scoring)."""
        items = [({COMPONENT: p}, self.anchor) for p in prompts]
        if not self.batched:
            return [self._evaluate([item], capture_traces=False, use_feedback=False)[0] for item in items]
        return self._evaluate(items, capture_traces=False, use_feedback=False)

    def batch_evaluate(self, items: Sequence[tuple[dict[str, str], Sequence[Problem]]]) -> list[EvaluationBatch]:
        """gepa's batch hook: every (candidate, problems) pair of one proposer or engine step, in one sampler
        call (plus speculative anchor rows for new candidates). Always returns trajectories, as gepa's default
        (``evaluate(..., capture_traces=True)`` per pair) does."""
        return self._evaluate(items, capture_traces=True, use_feedback=True)

    def _evaluate(self, items, capture_traces: bool, use_feedback: bool) -> list[EvaluationBatch]:
        results: list[EvaluationBatch | None] = [None] * len(items)
        wanted: list[tuple[str, tuple, Problem]] = []
        new: list[str] = []
        for n, (candidate, batch) in enumerate(items):
            prompt = candidate[COMPONENT]
            if use_feedback and self._in_feedback_pool(batch, prompt):
                results[n] = self._from_feedback_pool(batch, prompt)
                continue
            wanted += [(prompt, key, p) for key, p in zip(self.row_keys(batch), batch)]
            if self.speculate and not self._has_anchor_rows(prompt):
                wanted += [(prompt, key, p) for key, p in zip(self.anchor_keys, self.anchor)]
                new.append(prompt)
        if self.speculate and self.lookahead is not None and self._missing(wanted):
            wanted += self._next_parent_rows(new)
        self._sample_missing(wanted)
        for n, (candidate, batch) in enumerate(items):
            if results[n] is None:
                results[n] = self._result(candidate[COMPONENT], batch, capture_traces)
        return results

    def anchor_replicas(self, prompts: Sequence[str], problems: Sequence[Problem], first: int, count: int
                        ) -> dict[str, list[list[float]]]:
        """More rollouts of whole anchor evaluations, outside GEPA (the gated rule's confirmation, ``incumbent``):
        replicas ``first .. first + count - 1`` of each problem for each prompt, in one sampler call, keyed like
        the anchor's own replicas (so replica n is the same draw however it was asked for). Returns prompt ->
        [scores of each problem] per replica; the rollouts join the reuse cache and ``confirm_rollouts``."""
        wanted = [(prompt, ("val", p.id) if n == 0 else ("val", p.id, n), p) for prompt in prompts
                  for n in range(first, first + count) for p in problems]
        self._sample_missing(wanted)
        out: dict[str, list[list[float]]] = {prompt: [] for prompt in prompts}
        for prompt, key, _ in wanted:
            rollout = self._store[(prompt, key)]
            if (prompt, key) not in self._consumed:
                self._consumed.add((prompt, key))
                self.cache.add(rollout)
                self.confirm_rollouts += 1
            out[prompt].append(rollout.reward)
        n = len(problems)
        return {prompt: [v[k * n:(k + 1) * n] for k in range(count)] for prompt, v in out.items()}

    def _in_feedback_pool(self, batch: Sequence[Problem], prompt: str) -> bool:
        return bool(self.feedback_pool) and all((p.id, prompt) in self.feedback_pool for p in batch)

    def _missing(self, wanted: list[tuple[str, tuple, Problem]]) -> bool:
        return any((prompt, key) not in self._store for prompt, key, _ in wanted)

    def _next_parent_rows(self, new_prompts: list[str]) -> list[tuple[str, tuple, Problem]]:
        """Rows of the next iteration's minibatch for every prompt that could be its parent (the front now, and the
        candidates new in this call), unless the feedback pool would serve them."""
        batch = self.lookahead.next_minibatch()
        if not batch:
            return []
        keys = self.row_keys(batch)
        prompts = dict.fromkeys([*self.lookahead.front_prompts(), *new_prompts])
        return [(prompt, key, p) for prompt in prompts if not self._in_feedback_pool(batch, prompt)
                for key, p in zip(keys, batch)]

    def _has_anchor_rows(self, prompt: str) -> bool:
        return all((prompt, key) in self._store for key in self.anchor_keys)

    def _sample_missing(self, wanted: list[tuple[str, tuple, Problem]]) -> None:
        todo = list({(prompt, key): (prompt, key, p) for prompt, key, p in wanted
                     if (prompt, key) not in self._store}.values())
        if not todo:
            return
        prompts = [self.task.render(p, prompt) for prompt, _, p in todo]
        seeds = [row_seed(self.seed, key) for _, key, _ in todo]
        if self.row_seeds:
            params = replace(self.params, seed=None)
            completions = self.sampler.sample(prompts, params, seeds=seeds)
        else:  # a backend without per-row seeds: one seed for the call (rows then depend on their batch)
            params = replace(self.params, seed=row_seed(self.seed, tuple(seeds)))
            completions = self.sampler.sample(prompts, params)
        self.sampler_calls += 1
        self.generated += len(todo)
        for (prompt, key, p), row in zip(todo, completions):
            rollout = to_rollout(self.task, p, 0, prompt, row[0], source="gepa", cycle=self.cache.cycle)
            self.verifier_errors += rollout.verifier_error
            self._store[(prompt, key)] = rollout

    def _result(self, prompt: str, batch: Sequence[Problem], capture_traces: bool) -> EvaluationBatch:
        rollouts = []
        for key in self.row_keys(batch):
            rollout = self._store[(prompt, key)]
            if (prompt, key) not in self._consumed:  # first hand-out: the slow loop may reuse it (once)
                self._consumed.add((prompt, key))
                self.cache.add(rollout)
            rollouts.append(rollout)
        self.metric_calls += len(rollouts)
        return evaluation(rollouts, capture_traces)

    def _from_feedback_pool(self, batch: Sequence[Problem], prompt: str) -> EvaluationBatch:
        """A reflection minibatch built from rollouts the slow loop already produced under this prompt (no new
        metric calls). They were sampled with weights up to one cycle old; the child they are compared with is
        sampled fresh."""
        rollouts = [self.feedback_pool[(p.id, prompt)][0] for p in batch]
        self.feedback_served += len(rollouts)
        return evaluation(rollouts, capture_traces=True, num_metric_calls=0)

    def make_reflective_dataset(self, candidate: dict[str, str], eval_batch: EvaluationBatch,
                                components_to_update: list[str]) -> dict[str, list[dict[str, str]]]:
        records = [{"Inputs": t["input"], "Generated Outputs": t["output"], "Feedback": t["feedback"]}
                   for t in eval_batch.trajectories or []]
        return {c: records for c in components_to_update}
