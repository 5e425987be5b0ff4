"""FST's batch structure: G rollouts per problem, G/K per prompt, one advantage statistic per problem."""

import pytest

from fastslow.fastweights.cache import RolloutCache
from fastslow.rl.advantages import assign, has_signal, normalise
from fastslow.rl.rollouts import ProblemGroup, Rollout, collect_groups, split_group
from fastslow.rulebook import get_task
from fastslow.sampling import Completion, SamplingParams


class ScriptedSampler:
    """Answers every request with a fixed text and records what it was asked."""

    def __init__(self, answer_for):
        self.answer_for, self.calls = answer_for, []

    def sample(self, prompts, params, n=1):
        self.calls.append(len(prompts))
        return [[Completion([1, 2], [3, 4], [-0.1, -0.2], self.answer_for(p), True) for _ in range(n)]
                for p in prompts]


POPULATION = ["Transform the input.", "Sort the letters alphabetically.", "Reverse the string.",
              "Sort the letters alphabetically, then remove repeated letters."]


@pytest.mark.parametrize("k", [1, 2, 4])
def test_each_group_holds_every_prompt_g_over_k_times(k):
    task = get_task("tidy")
    problems = task.problems("train", 5)
    sampler = ScriptedSampler(lambda msgs: "abc")
    groups = collect_groups(sampler, task, problems, POPULATION[:k], 8, SamplingParams())
    assert sampler.calls == [5 * 8]  # one batched call
    for problem, group in zip(problems, groups):
        assert group.problem is problem and len(group.rollouts) == 8
        for idx, prompt in enumerate(POPULATION[:k]):
            mine = [r for r in group.rollouts if r.prompt_index == idx]
            assert len(mine) == 8 // k and all(r.prompt == prompt for r in mine)


def test_rewards_follow_the_prompt_that_produced_them():
    task = get_task("tidy")
    problems = task.problems("train", 3)
    # the scripted "model" answers correctly only under the explicit instruction
    answer = lambda msgs: task.program(msgs[-1]["content"]) if "remove" in msgs[0]["content"] else "zz"  # noqa
    groups = collect_groups(ScriptedSampler(answer), task, problems, POPULATION, 8, SamplingParams())
    assign(groups)
    for g in groups:
        for r, a in zip(g.rollouts, g.advantages):
            assert r.reward == (1.0 if r.prompt_index == 3 else 0.0)
            assert (a > 0) == (r.prompt_index == 3)
        assert abs(sum(g.advantages)) < 1e-9  # one statistic over the whole group


def test_prefilled_rollouts_fill_their_slots_first():
    task = get_task("tidy")
    problems = task.problems("train", 2)
    cache = RolloutCache(cycle=3)
    cache.add(Rollout(problems[0], 0, POPULATION[1], [1], [2], [-0.5], "cached", 0.0, "fb", True, cycle=3))
    sampler = ScriptedSampler(lambda msgs: "live")
    groups = collect_groups(sampler, task, problems, POPULATION[:2], 4, SamplingParams(), reuse=cache)
    assert len(cache) == 0 and cache.claimed == 1  # each cached rollout serves once
    assert sampler.calls == [7]
    first = groups[0].rollouts
    reused = [r for r in first if r.source == "reused"]
    assert len(reused) == 1 and reused[0].text == "cached" and reused[0].prompt_index == 1
    assert sum(r.prompt_index == 1 for r in first) == 2


def test_problem_baseline_values():
    assert normalise([1, 0, 0, 1], True, 0.0) == [1.0, -1.0, -1.0, 1.0]
    assert normalise([1, 0, 0, 0], False, 0.0) == [0.75, -0.25, -0.25, -0.25]


def test_prompt_baseline_normalises_each_subgroup():
    task = get_task("tidy")
    p = task.problems("train", 1)[0]
    mk = lambda k, r: Rollout(p, k, "x", [], [], [], "", r, "", True)  # noqa: E731
    g = ProblemGroup(p, [mk(0, 1.0), mk(0, 1.0), mk(1, 0.0), mk(1, 1.0)])
    assign([g], baseline="problem", scale_by_std=False)
    assert g.advantages == [0.25, 0.25, -0.75, 0.25]
    assign([g], baseline="prompt", scale_by_std=False)
    assert g.advantages == [0.0, 0.0, -0.5, 0.5]
    assert has_signal(g) and not has_signal(ProblemGroup(p, [mk(0, 1.0), mk(1, 1.0)]))


def test_group_size_must_split_evenly():
    assert split_group(8, 4) == 2
    with pytest.raises(ValueError, match="multiple of population size"):
        split_group(8, 3)
