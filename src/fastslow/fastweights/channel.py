"""The fast channel: the population of K prompts and everything around its GEPA rounds, for every engine.

It holds the population, the latest round's rollout cache (reuse), the RL rollouts carried into the next round's
reflection, the reflector, the run's counters and the set of cycles whose round already ran; it draws each round's
anchor problems, calls ``fastweights.gepa_round.gepa_round`` (the one place that does, so a new population option
is passed in ``round_options`` once) and returns the round's record; and it saves and restores all of it
(``state_dict``). The native engine (``fastslow.trainer``) and the TRL engine (``fastslow.integrations.trl``) both
use it: the engines differ in how they run the slow weights, never in the fast channel's bookkeeping.
"""

from __future__ import annotations

import random
import time

from fastslow.build import derived_seed, rollout_params

COUNTERS = ("rl_rollouts", "reused_rollouts", "gepa_metric_calls", "gepa_rescore_calls", "reflection_calls",
            "gepa_rounds", "verifier_errors", "eval_rollouts")


def round_options(population_cfg) -> dict:
    """The ``population`` section's options of ``gepa_round``, in one place for every engine."""
    P = population_cfg
    return {"minibatch_size": P.minibatch_size, "max_prompt_chars": P.max_prompt_chars, "fill": P.fill,
            "acceptance": P.acceptance, "front_rule": P.front, "selection_rule": P.selection,
            "rollouts_per_anchor": P.rollouts_per_anchor, "z": P.selection_z, "parent_selector": P.parent_selector,
            "confirm_rollouts": P.confirm_rollouts, "confirm_max": P.confirm_max}


class FastChannel:
    """The fast weights of a run (see the module docstring)."""

    def __init__(self, cfg, seed_prompt: str, reflector=None):
        self.cfg = cfg
        self.population: list[str] = [seed_prompt]
        self.reflector = reflector
        self.cache = None  # the latest GEPA round's RolloutCache (reuse), or None
        self.carried: dict[str, list] = {}  # this cycle's RL rollouts by task name (the next round's reflection)
        self.counts = dict.fromkeys(COUNTERS, 0)
        self.rounds_done: set[int] = set()  # cycles whose round already ran (a resumed step never reruns one)
        # rounds in a row with no usable proposal: ReflectorError at population.max_failed_rounds (not checkpointed:
        # a resumed run, after the reflector was fixed, counts afresh)
        from fastslow.fastweights.reflectors.health import FailedRounds

        self.failed_rounds = FailedRounds(cfg.population.max_failed_rounds,
                                          getattr(reflector, "name", None) or "the reflector")

    @property
    def K(self) -> int:
        return self.cfg.population_k

    def round_due(self, step: int) -> bool:
        """Every T steps in modes fst, gepa and fst-distill, once per cycle."""
        T = self.cfg.population.cycle_steps
        return self.cfg.mode in ("fst", "gepa", "fst-distill") and step % T == 0 and step // T not in self.rounds_done

    def anchor(self, stream, step: int) -> list:
        """The round's anchor problems: ``anchor_size`` of the next T batches (all of them if fewer)."""
        P = self.cfg.population
        lookahead = [p for i in range(step, step + P.cycle_steps) for p in stream.batch(i)]
        if P.anchor_size >= len(lookahead):
            return lookahead
        return random.Random(derived_seed(self.cfg.seed, step // P.cycle_steps, 4)).sample(lookahead, P.anchor_size)

    def round(self, sampler, task, stream, step: int) -> dict:
        """One GEPA round on ``sampler``'s live policy at ``step``: new population and cache, counters; returns
        the round's record."""
        from fastslow.fastweights.gepa_round import gepa_round
        from fastslow.fastweights.reflectors.health import round_record

        cfg, P = self.cfg, self.cfg.population
        cycle = step // P.cycle_steps
        start = time.perf_counter()
        result = gepa_round(sampler, task, self.reflector, self.anchor(stream, step), self.population, P.budget,
                            self.K, rollout_params(cfg, step, 5), cycle=cycle, seed=cfg.seed,
                            feedback_rollouts=self.carried.get(task.name, []), **round_options(P))
        self.carried = {}
        self.population = list(result.population)
        self.cache = result.cache if P.reuse_rollouts and cfg.mode == "fst" else None
        self.rounds_done.add(cycle)
        for key, value in (("gepa_rounds", 1), ("gepa_metric_calls", result.metric_calls),
                           # gated selection's confirmation rollouts are outside the budget, as re-scoring
                           ("gepa_rescore_calls", result.rescore_calls + result.confirm_rollouts),
                           ("reflection_calls", result.reflection_calls),
                           ("verifier_errors", result.verifier_errors)):
            self.counts[key] += value
        stats = self.reflector.stats
        return {"cycle": cycle, "population": list(result.population), "population_scores": result.population_scores,
                "population_anchor_scores": result.population_anchor_scores,
                "candidates": len(result.candidates), "accepted": result.accepted,
                "metric_calls": result.metric_calls, "rescore_calls": result.rescore_calls,
                "reflection_calls": result.reflection_calls, "cached_rollouts": result.cache.added,
                "gepa_generated": result.generated, "gepa_sampler_calls": result.sampler_calls,
                "speculative_unused": result.speculative_unused, "feedback_served": result.feedback_served,
                "selection_rollouts": result.selection_rollouts, "confirm_rollouts": result.confirm_rollouts,
                "incumbent_replaced": result.incumbent_replaced, "beat_incumbent": result.beat_incumbent,
                "verifier_errors": result.verifier_errors,
                "reflector_failures": stats.failures,  # cumulative, as the token and cost counts
                "reflector_tokens": stats.prompt_tokens + stats.completion_tokens,
                "reflector_cost_usd": stats.cost_usd, "time_gepa": time.perf_counter() - start,
                **round_record(result)}  # every proposal by outcome, and why the failed ones failed

    def record_rl(self, rollouts: list, task_name: str) -> int:
        """One RL step's rollouts: counted, and carried into the next round's reflection; returns how many were
        reused."""
        reused = sum(r.source == "reused" for r in rollouts)
        self.count_rl(len(rollouts), reused, sum(bool(r.verifier_error) for r in rollouts if r.source != "reused"))
        self.carry(rollouts, task_name)
        return reused

    def count_rl(self, rollouts: int, reused: int, verifier_errors: int) -> None:
        """Count an RL step's rollouts (all processes' under engine trl): live, reused, verifier errors."""
        self.counts["rl_rollouts"] += rollouts - reused
        self.counts["reused_rollouts"] += reused
        self.counts["verifier_errors"] += verifier_errors

    def carry(self, rollouts: list, task_name: str) -> None:
        """Keep RL rollouts for the next round's reflection (``population.reflect_on_rl_rollouts``, mode fst)."""
        if self.cfg.population.reflect_on_rl_rollouts and self.cfg.mode == "fst":
            self.carried.setdefault(task_name, []).extend(rollouts)

    # ---- checkpoint state --------------------------------------------------------------------------------------
    def state_dict(self, carried: dict | None = None) -> dict:
        """Population, cache, carried rollouts (``carried`` overrides this process's, e.g. gathered ones),
        reflector state, counters and finished rounds."""
        reflector = None
        if self.reflector is not None:
            rng = getattr(self.reflector, "rng", None)
            reflector = {"stats": self.reflector.stats, "rng": rng.getstate() if rng is not None else None}
        return {"population": list(self.population), "counts": dict(self.counts),
                "cache": self.cache.state_dict() if self.cache is not None else None,
                "cycle_rollouts": dict(self.carried if carried is None else carried), "reflector": reflector,
                "rounds_done": sorted(self.rounds_done)}

    def load_state_dict(self, state: dict) -> None:
        from fastslow.fastweights.cache import RolloutCache

        self.population, self.counts = list(state["population"]), {**self.counts, **state["counts"]}
        self.rounds_done = set(state.get("rounds_done", ()))
        self.cache = None
        if state["cache"] is not None:
            self.cache = RolloutCache()
            self.cache.load_state_dict(state["cache"])
        carried = state.get("cycle_rollouts") or {}
        # a checkpoint of the TRL engine before the fast channel kept a flat list (task unknown): not carried
        self.carried = {k: list(v) for k, v in carried.items()} if isinstance(carried, dict) else {}
        if state.get("reflector") is not None and self.reflector is not None:
            self.reflector.stats = state["reflector"]["stats"]
            if state["reflector"]["rng"] is not None and getattr(self.reflector, "rng", None) is not None:
                self.reflector.rng.setstate(state["reflector"]["rng"])
