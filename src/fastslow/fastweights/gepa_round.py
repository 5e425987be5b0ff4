"""One light GEPA round on the live policy (paper App. A/E), built on the ``gepa`` library.

round(policy, anchor problems, population, budget) -> new population:
  1. Re-score every carried prompt on the anchor problems with the CURRENT weights. Old scores are useless (the
     weights and the anchor set both changed), and re-scoring is NOT counted against the metric-call budget
     (K x |anchor| calls would exceed the paper's whole budget); it is reported separately as ``rescore_calls``.
  2. Seed a GEPA state with that population and its fresh scores, then let ``gepa`` run its loop: Pareto parent
     selection, a reflection minibatch (default 3), a reflector's incremental edit, acceptance on the
     minibatch (``ACCEPTANCE``: gepa's "improvement_or_equal", a child that ties its parent is kept as a lateral
     move; gepa's own default, strict improvement, rejected almost every child once the lead prompt stated the rule,
     leaving a one-prompt population), full anchor evaluation of accepted children, until ``budget`` metric calls are
     spent (GEPA checks the budget between iterations, so the last iteration may overshoot; ``metric_calls``
     reports what was really used).
  3. Return the next population: ``selection_rule="front"``, the top-K of the Pareto front over per-anchor-problem
     scores (``population.top_k``; with ``population.FRONT_RULE`` = "pareto", tied candidates all stay on the front
     and the oldest leads); or ``"gated"`` (issue 21), a protected incumbent that only a candidate better beyond
     noise replaces, other members only with that evidence and new coverage (``incumbent`` module); or
     ``"protected"`` (``population.selection``'s default), the same protected incumbent with the other seats open to
     any candidate not worse beyond noise that adds coverage.
Issue 21 knobs: ``rollouts_per_anchor`` r scores every full anchor evaluation on r rollouts per problem (GEPA's
valset lists each problem r times, each copy with its own row seed, ``adapter.anchor_keys``); ``acceptance`` may be
"paired" (``acceptance.PairedAcceptance``); ``parent_selector`` "lexicase" (``selectors``). ``selection_rollouts``
reports the anchor-set rollouts spent judging candidates (re-scoring plus accepted children's full evaluations),
which are already inside ``metric_calls`` + ``rescore_calls``.
Every rollout handed to GEPA in steps 1-2 lands (once) in the round's ``RolloutCache`` for reuse by the slow loop.
In the other direction (optional, new here), the slow loop's rollouts of the previous cycle can serve the reflection
minibatches of carried prompts, so a parent's traces cost no metric calls.

Cost (issue 12): step 1 is one sampler call for the whole population, and each GEPA iteration makes at most one
after the first (the child's minibatch together with its speculative full anchor evaluation and, looking ahead, the
next iteration's minibatch for every candidate that could be its parent: ``lookahead`` module), through the
adapter's ``batch_evaluate`` with per-row seeds (``adapter`` module docstring). The decisions are those of
evaluating one (candidate, problems) pair per call (``batched=False``, the reference path): same rollouts, same
scores, same budget accounting; ``generated`` and ``sampler_calls`` report the cost.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field

import gepa
from gepa.core.state import GEPAState, ValsetEvaluation

from fastslow.fastweights import population as population_mod
from fastslow.fastweights.acceptance import Z_ONE_SIDED_5, acceptance_criterion
from fastslow.fastweights.adapter import COMPONENT, PolicyAdapter
from fastslow.fastweights.cache import RolloutCache
from fastslow.fastweights.incumbent import close_challengers, gated_population
from fastslow.fastweights.lookahead import Lookahead, selection
from fastslow.fastweights.population import top_k
from fastslow.fastweights.reflectors.base import Reflector, ReflectorError
from fastslow.rl.rollouts import Rollout
from fastslow.sampling import Sampler, SamplingParams
from fastslow.tasks.base import Problem, Task

log = logging.getLogger("fastslow.gepa")


# gepa acceptance criterion for a child on its reflection minibatch; "strict_improvement" is gepa's default and
# this module's rule before the population-diversity change (docs/DECISIONS.md).
ACCEPTANCE = "improvement_or_equal"


class PromptTooLong(ValueError):
    pass


@dataclass
class RoundResult:
    population: list[str]
    population_scores: list[float]  # mean anchor score of each returned prompt under the current weights
    candidates: list[str]  # every prompt the round held, in GEPA's order
    candidate_scores: list[float]
    metric_calls: int  # rollouts spent on new proposals (the budgeted quantity)
    rescore_calls: int  # rollouts spent re-scoring the carried population (not budgeted)
    reflection_calls: int
    proposals_rejected_too_long: int
    accepted: int  # new candidates added to the pool
    feedback_served: int  # reflection-minibatch rollouts served from the slow loop's rollouts (no metric calls)
    verifier_errors: int  # rollouts (re-scoring included) whose verifier raised and were scored 0
    cache: RolloutCache = field(repr=False)
    generated: int = 0  # rollouts actually sampled (each once; speculative anchor rows included)
    sampler_calls: int = 0  # batched sampler calls the round made
    # each returned prompt's per-anchor scores (anchor order): functional diversity compares these, not strings
    population_anchor_scores: list[list[float]] = field(default_factory=list)
    speculative_unused: int = 0  # sampled anchor rows of children GEPA rejected (never handed to GEPA)
    # issue 20: every reflection call's outcome (PROPOSAL_OUTCOMES), and why the failed ones failed
    proposal_outcomes: dict[str, int] = field(default_factory=dict)
    failure_reasons: list[str] = field(default_factory=list)
    # rollouts spent judging candidates on the anchor set: re-scoring the carried population plus the full anchor
    # evaluations of accepted children (rollouts_per_anchor per problem). Already inside metric_calls +
    # rescore_calls, so the compute-matched view counts them; reported apart to show what selection costs.
    selection_rollouts: int = 0
    confirm_rollouts: int = 0  # gated selection's confirmation rollouts: outside GEPA's budget and outside the above
    rollouts_per_anchor: int = 1
    incumbent_replaced: bool | None = None  # gated selection: the carried lead was beaten beyond noise
    beat_incumbent: int | None = None  # gated selection: candidates that beat the carried lead beyond noise

    @property
    def all_failed(self) -> bool:
        """The reflector was asked and gave nothing usable, at least one call failing (see ``FAILURES``)."""
        o = self.proposal_outcomes
        return (self.reflection_calls > 0 and o.get("accepted", 0) + o.get("rejected_minibatch", 0) == 0
                and any(o.get(k, 0) for k in FAILURES))


# What became of each reflection call (issue 20). ``accepted`` / ``rejected_minibatch``: handed to GEPA and judged on
# the reflection minibatch; ``repeat_parent``: the parent word for word; ``no_proposal``: the reflector returned
# None without recording a failure (it had nothing to change). The others are failures the reflector records
# (``ReflectorStats.fail``): ``unusable`` (no closed fence, empty), ``too_long``, ``residue`` (chat-template or
# thinking tokens), ``call_failed`` (API error after retries, or a custom reflector that raised), ``failed`` (a
# failure the reflector did not classify).
PROPOSAL_OUTCOMES = ("accepted", "rejected_minibatch", "repeat_parent", "unusable", "too_long", "residue",
                     "call_failed", "failed", "no_proposal")
FAILURES = ("unusable", "too_long", "residue", "call_failed", "failed")


class IterationCap:
    """Stop GEPA after ``limit`` iterations. Normal iterations spend at least a minibatch of metric calls, so the
    budget binds first; this cap only matters when iterations are free (reflection minibatches served from the
    slow loop's rollouts while the reflector has nothing to change), which would otherwise never end."""

    def __init__(self, limit: int):
        self.limit = limit

    def __call__(self, state) -> bool:
        return state.i + 1 >= self.limit


class _SilentLogger:
    def log(self, message: str) -> None:
        log.debug(message)


def make_proposer(reflector: Reflector, max_prompt_chars: int, counters: dict):
    """GEPA ``custom_candidate_proposer``: the reflector's edit, or ``{}`` (GEPA then skips the proposal without
    spending metric calls) when it has nothing usable or the prompt is over the length cap. Every call's outcome is
    counted in ``counters`` (``PROPOSAL_OUTCOMES``; ``evaluated``: handed to GEPA, later split into accepted and
    rejected on the minibatch) and the failures' messages are kept in ``counters["reasons"]``."""

    def propose(candidate: dict[str, str], reflective_dataset: dict, components: list[str]) -> dict[str, str]:
        if "fatal" in counters:  # the reflector cannot work: not asked again, GEPA stops before its next iteration
            return {}
        counters["reflection_calls"] += 1
        current = candidate[COMPONENT]
        stats = getattr(reflector, "stats", None)
        before = dict(getattr(stats, "outcomes", None) or {})
        failures, warnings = getattr(stats, "failures", 0), len(getattr(stats, "warnings", None) or [])
        try:
            new = reflector.propose(current, reflective_dataset[COMPONENT])
        except ReflectorError as err:  # cannot heal (litellm gone, ...): end the round, then the run
            counters["fatal"] = err
            _count(counters, "call_failed")
            return {}
        except Exception as err:  # noqa: BLE001 - gepa would swallow it uncounted (and ask again); count it
            _count(counters, "call_failed")
            counters.setdefault("reasons", []).append(f"{getattr(reflector, 'name', 'reflector')}: propose "
                                                      f"raised {type(err).__name__}: {err}")
            log.warning("reflector %s raised %s: %s; proposal skipped", getattr(reflector, "name", "?"),
                        type(err).__name__, err)
            return {}
        if new is None:
            after = getattr(stats, "outcomes", None) or {}
            kind = next((k for k in after if after[k] > before.get(k, 0)), None)
            if kind is None:
                kind = "failed" if getattr(stats, "failures", 0) > failures else "no_proposal"
            _count(counters, kind if kind in PROPOSAL_OUTCOMES else "failed")
            counters.setdefault("reasons", []).extend((getattr(stats, "warnings", None) or [])[warnings:])
            return {}
        if new.strip() == current.strip():
            _count(counters, "repeat_parent")
            return {}
        if len(new) > max_prompt_chars:
            counters["too_long"] += 1
            counters.setdefault("reasons", []).append(f"a proposed prompt of {len(new)} characters (cap "
                                                      f"{max_prompt_chars})")
            log.warning("rejected a proposed prompt of %d characters (cap %d)", len(new), max_prompt_chars)
            return {}
        _count(counters, "evaluated")
        return {COMPONENT: new}

    return propose


def _count(counters: dict, key: str) -> None:
    counters[key] = counters.get(key, 0) + 1


def proposal_outcomes(counters: dict, accepted: int) -> dict[str, int]:
    """Every reflection call of the round by outcome (``PROPOSAL_OUTCOMES``); they sum to the reflection calls."""
    out = {k: counters.get(k, 0) for k in PROPOSAL_OUTCOMES}
    out["accepted"], out["rejected_minibatch"] = accepted, counters.get("evaluated", 0) - accepted
    return out


def _log_failed_round(cycle: int, outcomes: dict[str, int], reasons: list[str]) -> None:
    """A round in which every proposal failed is a warning with the reasons, not a silent no-op (issue 20)."""
    shown = list(dict.fromkeys(reasons))[:5]
    counts = ", ".join(f"{k} {v}" for k, v in outcomes.items() if v)
    log.warning("GEPA round %d: no usable proposal from %d reflection call(s) (%s). Reasons: %s", cycle,
                sum(outcomes.values()), counts, " | ".join(shown) or "none recorded")


def confirm(adapter: PolicyAdapter, prompts: list[str], subscores: list[dict], groups: list[list[int]],
            problems: list[Problem], have: int, extra: int, limit: int, z: float) -> None:
    """The gated rule's confirmation (``incumbent`` module docstring): ``extra`` more rollouts per anchor problem for
    the incumbent and each close challenger, appended to their scores (new valset ids) and to ``groups``."""
    close = close_challengers(prompts, subscores, groups, z, limit)
    if not close:
        return
    who = [0, *close]
    replicas = adapter.anchor_replicas(list(dict.fromkeys(prompts[c] for c in who)), problems, have, extra)
    n, base = len(problems), max(max(g) for g in groups) + 1
    for i in range(n):
        groups[i].extend(base + k * n + i for k in range(extra))
    for c in who:
        for k in range(extra):
            subscores[c].update({base + k * n + i: replicas[prompts[c]][k][i] for i in range(n)})


def validate_prompt(prompt: str, max_prompt_chars: int) -> str:
    if len(prompt) > max_prompt_chars:
        raise PromptTooLong(f"prompt of {len(prompt)} characters exceeds the length cap of {max_prompt_chars}")
    return prompt


def gepa_round(sampler: Sampler, task: Task, reflector: Reflector, anchor: Sequence[Problem],
               population: Sequence[str], budget: int, k: int, params: SamplingParams, cycle: int = 0,
               seed: int = 0, minibatch_size: int = 3, max_prompt_chars: int = 1000,
               feedback_rollouts: Sequence[Rollout] = (), fill: str = "front",
               acceptance: str | None = None, front_rule: str | None = None, speculate: bool = True,
               batched: bool = True, lookahead: bool = True, selection_rule: str = "front",
               rollouts_per_anchor: int = 1, z: float = Z_ONE_SIDED_5, parent_selector: str = "pareto",
               confirm_rollouts: int = 0, confirm_max: int = 2) -> RoundResult:
    """One round (see the module docstring). ``feedback_rollouts``: the slow loop's rollouts of the previous
    cycle; when given, reflection minibatches are drawn from their problems and a parent prompt's minibatch is
    served from them instead of being re-sampled (the Pareto/acceptance set stays the fresh anchor set)."""
    if not anchor:
        raise ValueError("a GEPA round needs at least one anchor problem")
    if rollouts_per_anchor < 1:
        raise ValueError(f"rollouts_per_anchor must be at least 1, got {rollouts_per_anchor}")
    if selection_rule not in ("front", "gated", "protected"):
        raise ValueError(f"unknown selection rule {selection_rule!r}; expected 'front', 'gated' or 'protected'")
    problems = list(anchor)
    # the valset GEPA sees: each anchor problem r times (its rollouts get distinct row seeds, adapter.anchor_keys)
    anchor = problems * rollouts_per_anchor
    groups = [[i + j * len(problems) for j in range(rollouts_per_anchor)] for i in range(len(problems))]
    accept = acceptance_criterion(acceptance or ACCEPTANCE, z)
    cache = RolloutCache(cycle)
    adapter = PolicyAdapter(sampler, task, params, cache, seed=seed * 7_919 + cycle, anchor=anchor,
                            speculate=speculate, batched=batched)
    feedback_set = problems
    if feedback_rollouts:
        for r in feedback_rollouts:
            adapter.feedback_pool.setdefault((r.problem.id, r.prompt), []).append(r)
        feedback_set = list({r.problem.id: r.problem for r in feedback_rollouts}.values())
    distinct = list(dict.fromkeys(validate_prompt(p, max_prompt_chars) for p in population))

    # 1. re-score the carried population under the current weights (outside the budget), in one sampler call
    evaluations = adapter.evaluate_on_anchor(distinct)
    rescore_calls, adapter.metric_calls = adapter.metric_calls, 0
    ids = list(range(len(anchor)))

    def as_valset(eb) -> ValsetEvaluation:
        return ValsetEvaluation(dict(zip(ids, eb.outputs)), dict(zip(ids, eb.scores)), None)

    counters = {"reflection_calls": 0, "too_long": 0}
    with tempfile.TemporaryDirectory(prefix="fst-gepa-") as run_dir:
        state = GEPAState({COMPONENT: distinct[0]}, as_valset(evaluations[0]), frontier_type="instance")
        for prompt, eb in zip(distinct[1:], evaluations[1:]):
            state.update_state_with_new_program(parent_program_idx=[0], new_program={COMPONENT: prompt},
                                                valset_evaluation=as_valset(eb), run_dir=None,
                                                num_metric_calls_by_discovery_of_new_program=0)
        state.num_full_ds_evals, state.total_num_evals = len(distinct), 0
        state.save(run_dir)
        if budget > 0:
            adapter.prime(distinct[0], anchor, evaluations[0])
            # what gepa builds from seed + cycle
            selector, batch_sampler = selection(seed + cycle, minibatch_size, parent_selector)
            if lookahead and adapter.speculate:
                adapter.lookahead = Lookahead(batch_sampler, COMPONENT)
            result = gepa.optimize(
                seed_candidate={COMPONENT: distinct[0]}, trainset=feedback_set, valset=anchor, adapter=adapter,
                custom_candidate_proposer=make_proposer(reflector, max_prompt_chars, counters),
                max_metric_calls=budget, batch_sampler=batch_sampler,
                candidate_selection_strategy=selector, frontier_type="instance", skip_perfect_score=True,
                perfect_score=1.0, acceptance_criterion=accept, use_merge=False, run_dir=run_dir,
                seed=seed + cycle, logger=_SilentLogger(),
                display_progress_bar=False, raise_on_exception=True,
                stop_callbacks=[IterationCap(max(1, budget)), lambda _state: "fatal" in counters],
            )
            if "fatal" in counters:  # issue 20: gepa swallows proposer exceptions; a fatal one stops the run
                raise counters["fatal"]
            prompts = [c[COMPONENT] for c in result.candidates]
            subscores = [dict(s) for s in result.val_subscores]
        else:
            prompts = [c[COMPONENT] for c in state.program_candidates]
            subscores = [dict(s) for s in state.prog_candidate_val_subscores]
    gated = None
    if selection_rule in ("gated", "protected"):
        if confirm_rollouts > 0:
            confirm(adapter, prompts, subscores, groups, problems, rollouts_per_anchor, confirm_rollouts,
                    confirm_max, z)
        gated = gated_population(prompts, subscores, groups, k, z, carried=len(distinct),
                                 explore=selection_rule == "protected")
        new_population = gated.population
    else:
        new_population = top_k(prompts, subscores, k, fill, front_rule or population_mod.FRONT_RULE)
    means = {p: sum(s.values()) / len(s) for p, s in zip(prompts, subscores)}
    accepted = len(prompts) - len(distinct)
    outcomes = proposal_outcomes(counters, accepted)
    reasons = list(dict.fromkeys(counters.get("reasons", [])))[:20]
    result = RoundResult(
        population=new_population, population_scores=[means[p] for p in new_population], candidates=prompts,
        candidate_scores=[means[p] for p in prompts], metric_calls=adapter.metric_calls, rescore_calls=rescore_calls,
        reflection_calls=counters["reflection_calls"], proposals_rejected_too_long=counters["too_long"],
        accepted=accepted, feedback_served=adapter.feedback_served,
        selection_rollouts=rescore_calls + accepted * len(anchor) + adapter.confirm_rollouts,
        confirm_rollouts=adapter.confirm_rollouts, rollouts_per_anchor=rollouts_per_anchor,
        incumbent_replaced=None if gated is None else gated.replaced,
        beat_incumbent=None if gated is None else gated.passed,
        verifier_errors=adapter.verifier_errors, cache=cache, generated=adapter.generated,
        sampler_calls=adapter.sampler_calls, speculative_unused=adapter.speculative_unused,
        proposal_outcomes=outcomes, failure_reasons=reasons,
        population_anchor_scores=[_in_anchor_order(dict(zip(prompts, subscores))[p]) for p in new_population],
    )
    if result.all_failed:
        _log_failed_round(cycle, outcomes, reasons)
    return result


def _in_anchor_order(subscores: dict) -> list[float]:
    """One prompt's per-anchor scores as a list in anchor order (GEPA keys them by anchor index)."""
    return [subscores[i] for i in sorted(subscores)]
