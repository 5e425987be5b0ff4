"""The rollouts of a step: which prompt each of a group's G slots gets (``slot_prompts``), TRL's ``rollout_func``
(``FSTRolloutFunc``: reused GEPA rollouts first, then one sampled completion per slot) and TRL's reward function
(``FSTReward``: the rewards scored as the rollouts were built, recorded for reflection)."""

from __future__ import annotations

import time

from fastslow.integrations.trl.engine import FSTEngine
from fastslow.integrations.trl.policy import full_model, sampler_for
from fastslow.rl.rollouts import Rollout, split_group


def slot_prompts(group_size: int, population_size: int) -> list[int]:
    """Prompt index of each of a group's G slots: G/K consecutive slots per prompt (K must divide G)."""
    per = split_group(group_size, population_size)
    return [j // per for j in range(group_size)]


# ---- rollout_func ----------------------------------------------------------------------------------------------
class FSTRolloutFunc:
    """TRL ``rollout_func(prompts, trainer)``: each run of G consecutive rows is one problem; slot j gets prompt
    ``population[j // (G/K)]`` (mode fst-distill: the student's context in every slot); reused GEPA rollouts fill
    slots first; one completion per remaining slot."""

    def __init__(self, engine: FSTEngine):
        self.engine = engine

    def __call__(self, prompts: list, trainer) -> dict:
        from fastslow.build import rollout_params, row_seed
        from fastslow.rl.rollouts import to_rollout

        eng, cfg = self.engine, self.engine.cfg
        rows = trainer._fst_inputs
        G, n = trainer.num_generations, len(prompts)
        if len(rows) != n or n % G:
            raise RuntimeError(f"TRL gave this process {n} rows, not a whole number of groups of G={G}: the "
                               "FST rollout function needs every process to hold whole groups")
        # fst-distill: every slot samples under the student's context (the teacher's contexts enter the loss only)
        population = [eng.student_prompt(eng.task_named(rows[0]["fst_task"]))] if eng.distill else \
            list(eng.population)
        slots = slot_prompts(G, len(population))
        per = G // len(population)
        step = trainer.state.global_step
        out: list[Rollout | None] = [None] * n
        requests: list[int] = []
        for start in range(0, n, G):
            group = rows[start : start + G]
            key = (group[0]["fst_task"], group[0]["fst_pid"])
            if any((r["fst_task"], r["fst_pid"]) != key for r in group):
                raise RuntimeError("TRL's rows are not grouped by problem (G consecutive copies); the FST "
                                   "rollout function relies on TRL 1.16's RepeatSampler order")
            problem = eng.problem(*key)
            for k, prompt in enumerate(population):
                reused = eng.cache.claim(problem.id, prompt, per) if eng.cache is not None else []
                positions = [start + j for j in range(G) if slots[j] == k]
                for pos, r in zip(positions, reused):
                    out[pos] = Rollout(**{**r.__dict__, "prompt_index": k, "source": "reused"})
                requests += positions[len(reused):]
        params = rollout_params(cfg, step, 1)
        # one seed per (step, problem, slot): a row samples the same completion on whichever process holds it
        seeds = [row_seed(cfg.seed, step, rows[pos]["fst_task"], rows[pos]["fst_pid"], pos % G) for pos in requests]
        start_t = time.perf_counter()
        with full_model(trainer) as model:
            if requests:
                sampler = sampler_for(model, trainer)
                messages = []
                for pos in requests:
                    task = eng.task_named(rows[pos]["fst_task"])
                    messages.append(task.render(eng.problem(rows[pos]["fst_task"], rows[pos]["fst_pid"]),
                                                population[slots[pos % G]]))
                completions = sampler.sample(messages, params, seeds=seeds)
                for pos, row in zip(requests, completions):
                    task = eng.task_named(rows[pos]["fst_task"])
                    problem = eng.problem(rows[pos]["fst_task"], rows[pos]["fst_pid"])
                    # scored here once (the reward function reads it back: no second verifier call)
                    out[pos] = to_rollout(task, problem, slots[pos % G], population[slots[pos % G]], row[0])
        eng.step_stats["time_generation"] = eng.step_stats.get("time_generation", 0.0) + time.perf_counter() - start_t
        eng.batch_rollouts = list(out)
        return {
            "prompt_ids": [list(x.prompt_ids) for x in out],
            "completion_ids": [list(x.token_ids) for x in out],
            "logprobs": [list(x.behaviour_logprobs) for x in out],
            "fst_prompt_index": [x.prompt_index for x in out],
            "fst_text": [x.text for x in out],
        }


# ---- reward function -------------------------------------------------------------------------------------------
class FSTReward:
    """TRL reward function: ``Task.score`` through ``safe_score`` (scored as the rollouts were built), recording
    each (problem, prompt, completion, reward, feedback) for reflection and the step's metrics."""

    __name__ = "fst"

    def __init__(self, engine: FSTEngine):
        self.engine = engine

    def __call__(self, prompts, completions, fst_pid, fst_task, fst_text, fst_prompt_index, **_) -> list[float]:
        eng = self.engine
        rollouts = eng.batch_rollouts
        if len(rollouts) != len(fst_pid):
            raise RuntimeError("FST reward function called on rows the rollout function did not produce")
        rewards = []
        for r, pid, text in zip(rollouts, fst_pid, fst_text):
            if r.problem.id != pid or r.text != text:
                raise RuntimeError("FST reward function: rows out of order with the rollouts")
            rewards.append(float(r.reward))
        eng.step_rollouts.extend(rollouts)
        for name in dict.fromkeys(fst_task):  # this process's share, gathered to rank 0 for the round
            eng.channel.carry([r for r, t in zip(rollouts, fst_task) if t == name], name)
        return rewards
