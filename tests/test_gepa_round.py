"""The fast channel: the GEPA adapter contract, a round on the live policy, top-K export, budget accounting."""

import copy

import pytest
import torch

from fastslow.fastweights.adapter import COMPONENT, PolicyAdapter
from fastslow.fastweights.cache import RolloutCache
from fastslow.fastweights.gepa_round import PromptTooLong, gepa_round, make_proposer
from fastslow.fastweights.population import rank_candidates, top_k
from fastslow.fastweights.reflectors.base import ReflectorStats, check_examples
from fastslow.model.base import load_model
from fastslow.rl.rollouts import collect_groups
from fastslow.rulebook import get_task
from fastslow.sampling import HFSampler, SamplingParams

PARAMS = SamplingParams(temperature=1.0, max_new_tokens=12)


class CountingReflector:
    """Appends a numbered hint: every proposal is new text, so acceptance depends only on the scores."""

    name = "counting"

    def __init__(self):
        self.stats, self.seen = ReflectorStats(), []

    def propose(self, current, examples):
        examples = check_examples(current, examples)
        self.seen.append(examples)
        self.stats.calls += 1
        return f"{current} Hint {self.stats.calls}."


@pytest.fixture(scope="module")
def world(tiny_model_dir):
    model, tok = load_model(tiny_model_dir)
    task = get_task("tidy", partial_credit=True)
    return model, tok, task, task.problems("train", 10)


def test_adapter_contract_and_capture(world):
    model, tok, task, anchor = world
    cache = RolloutCache(cycle=2)
    adapter = PolicyAdapter(HFSampler(model, tok), task, PARAMS, cache)
    eb = adapter.evaluate(anchor[:4], {COMPONENT: "Transform the input."}, capture_traces=True)
    assert len(eb.outputs) == len(eb.scores) == len(eb.trajectories) == 4
    assert all(0 <= s <= 1 for s in eb.scores) and adapter.metric_calls == 4
    ds = adapter.make_reflective_dataset({COMPONENT: "x"}, eb, [COMPONENT])
    assert [set(r) for r in ds[COMPONENT]] == [{"Inputs", "Generated Outputs", "Feedback"}] * 4
    assert all(isinstance(v, str) for r in ds[COMPONENT] for v in r.values())
    assert ds[COMPONENT][0]["Inputs"] == anchor[0].text
    # every evaluated rollout is captured with its tokens and behaviour log-probs, tagged with the cycle
    claimed = cache.claim(anchor[0].id, "Transform the input.", 5)
    assert len(claimed) == 1 and claimed[0].cycle == 2 and len(claimed[0].behaviour_logprobs) == len(
        claimed[0].token_ids) > 0
    # same problems -> same random draws, whatever the candidate (common random numbers)
    again = adapter.evaluate(anchor[:4], {COMPONENT: "Transform the input."})
    assert again.outputs == eb.outputs


def test_round_budget_top_k_and_rescoring(world):
    model, tok, task, anchor = world
    reflector = CountingReflector()
    result = gepa_round(HFSampler(model, tok), task, reflector, anchor, ["Transform the input."], budget=40, k=4,
                        params=PARAMS)
    assert result.rescore_calls == len(anchor)  # the carried seed, scored outside the budget
    assert 40 <= result.metric_calls < 40 + 3 + 3 + len(anchor)  # at most one iteration of overshoot
    assert result.reflection_calls == reflector.stats.calls > 0
    assert len(result.population) == 4 and set(result.population) <= set(result.candidates)
    assert result.accepted == len(result.candidates) - 1
    assert result.population_scores[0] == max(result.candidate_scores)
    assert all(len(ex) <= 3 for ex in reflector.seen)  # reflection minibatch of 3
    # every rollout handed to GEPA is cached once (a repeated evaluation is served, not sampled again), and every
    # sampled rollout was either handed out or is a rejected child's speculative anchor row
    assert result.cache.added <= result.metric_calls + result.rescore_calls
    assert result.generated == result.cache.added + result.speculative_unused

    # a zero-budget round only re-scores, and the scores follow the weights
    changed = copy.deepcopy(model)
    with torch.no_grad():
        for p in changed.parameters():
            p.add_(0.3 * torch.randn(p.shape, generator=torch.Generator().manual_seed(0)))
    before = gepa_round(HFSampler(model, tok), task, reflector, anchor, result.population, 0, 4, PARAMS)
    after = gepa_round(HFSampler(changed, tok), task, reflector, anchor, result.population, 0, 4, PARAMS)
    assert before.metric_calls == after.metric_calls == 0
    assert before.rescore_calls == len(set(result.population)) * len(anchor)
    assert before.candidate_scores != after.candidate_scores


def test_ranking_rule():
    scores = [{0: 1, 1: 0, 2: 0}, {0: 0, 1: 1, 2: 1}, {0: 0, 1: 1, 2: 0}, {0: 0, 1: 0, 2: 0}]
    # 1 wins two problems; 0 wins one; 2 is dominated by 1; 3 is never best
    assert rank_candidates(scores, fill="dominated") == [1, 0, 2, 3]
    assert rank_candidates(scores) == [1, 0]  # the default keeps the Pareto front only
    assert top_k(["a", "b", "c", "d"], scores, 2) == ["b", "a"]
    assert top_k(["a", "b", "c", "d"], scores, 4, fill="dominated") == ["b", "a", "c", "d"]
    assert top_k(["a", "b", "c", "d"], scores, 4) == ["b", "a", "b", "a"]
    assert top_k(["a"], [{0: 0.5}], 3) == ["a", "a", "a"]  # fewer distinct prompts than K: repeat, best first


def test_prompt_length_cap(world):
    model, tok, task, anchor = world
    with pytest.raises(PromptTooLong, match="length cap of 20"):
        gepa_round(HFSampler(model, tok), task, CountingReflector(), anchor, ["x" * 21], 10, 2, PARAMS,
                   max_prompt_chars=20)

    class Verbose(CountingReflector):
        def propose(self, current, examples):
            return current + " and more" * 50

    counters = {"reflection_calls": 0, "too_long": 0}
    propose = make_proposer(Verbose(), 100, counters)
    examples = [{"Inputs": "a", "Generated Outputs": "b", "Feedback": "c"}]
    assert propose({COMPONENT: "Transform."}, {COMPONENT: examples}, [COMPONENT]) == {}
    assert (counters["reflection_calls"], counters["too_long"]) == (1, 1)
    assert "460 characters (cap 100)" in counters["reasons"][0]


def test_reflector_failure_skips_proposal():
    class Failing(CountingReflector):
        def propose(self, current, examples):
            return None

    counters = {"reflection_calls": 0, "too_long": 0}
    propose = make_proposer(Failing(), 100, counters)
    assert propose({COMPONENT: "p"}, {COMPONENT: []}, [COMPONENT]) == {}


def test_feedback_rollouts_serve_parent_minibatches_for_free(world):
    model, tok, task, anchor = world
    sampler = HFSampler(model, tok)
    prompt = "Transform the input."
    feedback = [r for g in collect_groups(sampler, task, task.problems("train", 20)[10:], [prompt], 2, PARAMS)
                for r in g.rollouts]
    reflector = CountingReflector()
    result = gepa_round(sampler, task, reflector, anchor, [prompt], budget=30, k=2, params=PARAMS,
                        feedback_rollouts=feedback)
    assert result.feedback_served >= 3
    feedback_inputs = {r.problem.text for r in feedback}
    first = reflector.seen[0]  # the seed's first reflection minibatch: RL problems with their RL outputs
    assert {ex["Inputs"] for ex in first} <= feedback_inputs
    assert all(any(ex["Generated Outputs"] == r.text for r in feedback) for ex in first)


def test_front_only_fill_drops_dominated_candidates():
    scores = [{0: 1, 1: 0, 2: 1}, {0: 0, 1: 0, 2: 0}]  # candidate 1 is never better: dominated
    assert top_k(["full", "seed"], scores, 4, fill="dominated") == ["full", "seed", "full", "seed"]
    assert top_k(["full", "seed"], scores, 4) == ["full"] * 4
    with pytest.raises(ValueError, match="unknown fill rule"):
        top_k(["a"], [{0: 1}], 1, fill="nope")


def test_a_raising_verifier_is_scored_zero_and_counted_in_the_round(world):
    model, tok, task, anchor = world

    class Flaky:
        name, seed_prompt = task.name, task.seed_prompt
        calls = 0

        def problems(self, split, n):
            return task.problems(split, n)

        def render(self, problem, prompt):
            return task.render(problem, prompt)

        def score(self, problem, completion):
            Flaky.calls += 1
            if Flaky.calls % 3 == 0:
                raise RuntimeError("verifier bug")
            return task.score(problem, completion)

    result = gepa_round(HFSampler(model, tok), Flaky(), CountingReflector(), anchor[:6], ["Transform the input."],
                        budget=12, k=2, params=PARAMS)
    assert result.verifier_errors == Flaky.calls // 3 > 0
    failed = [r for bucket in result.cache._store.values() for r in bucket if r.verifier_error]
    assert failed and all(r.reward == 0.0 and "verifier failed" in r.feedback for r in failed)


# ---- population diversity: lateral moves and ties on the Pareto front (docs/DECISIONS.md) ----------------------

class StandInWorld:
    """No model: any prompt that states "Rule." solves problems 0-3 of 8, the generic seed solves none. Every
    rule prompt has the same per-problem scores, so a paraphrase ties its parent on every minibatch."""

    name = "stand-in"

    def __init__(self):
        from fastslow.tasks.base import Problem

        self.anchor = [Problem(id=f"p{i}", text=f"problem {i}") for i in range(8)]

    def render(self, problem, system_prompt):
        return [{"role": "system", "content": system_prompt}, {"role": "user", "content": problem.text}]

    def score(self, problem, completion):
        from fastslow.tasks.base import Score

        ok = completion == "right"
        return Score(float(ok), f"Input '{problem.text}' -> {'correct' if ok else 'wrong'}")

    def sample(self, prompts, params, n=1):
        from fastslow.sampling import Completion

        def answer(messages):
            solved = "Rule." in messages[0]["content"] and int(messages[1]["content"].split()[-1]) < 4
            return "right" if solved else "wrong"

        return [[Completion([0], [1], [0.0], answer(m), True) for _ in range(n)] for m in prompts]


class ParaphrasingReflector(CountingReflector):
    """The seed gets the rule; a rule prompt gets a reworded copy (a lateral move: same scores, new text)."""

    def propose(self, current, examples):
        super().propose(current, examples)
        return f"Rule. Wording {self.stats.calls}."


@pytest.mark.parametrize("acceptance,front_rule,distinct", [
    ("strict_improvement", "gepa", 1),  # the old rule: ties are rejected, and tied members are pruned anyway
    ("improvement_or_equal", "gepa", 1),  # ties accepted, but GEPA's dominator pruning keeps one of them
    ("strict_improvement", "pareto", 1),  # the front would keep ties, but none is ever accepted
    ("improvement_or_equal", "pareto", 4),  # the default: lateral moves enter the front, K distinct prompts
])
def test_lateral_moves_and_pareto_ties_make_a_diverse_population(acceptance, front_rule, distinct):
    world = StandInWorld()
    result = gepa_round(world, world, ParaphrasingReflector(), world.anchor, ["Transform the input."], budget=60,
                        k=4, params=PARAMS, acceptance=acceptance, front_rule=front_rule)
    assert len(set(result.population)) == distinct
    assert all(p.startswith("Rule.") for p in result.population)  # the seed (solves nothing) is dominated
    first_rule = next(c for c in result.candidates if c.startswith("Rule."))
    # on a tie the Pareto rule keeps the oldest prompt as the lead; GEPA's pruning keeps the newest
    assert (result.population[0] == first_rule) == (front_rule == "pareto" or acceptance == "strict_improvement")


def test_default_round_rule_is_the_diverse_one():
    from fastslow.fastweights import gepa_round as module
    from fastslow.fastweights import population

    assert (module.ACCEPTANCE, population.FRONT_RULE) == ("improvement_or_equal", "pareto")
    world = StandInWorld()
    result = gepa_round(world, world, ParaphrasingReflector(), world.anchor, ["Transform the input."], budget=60,
                        k=4, params=PARAMS)
    assert len(set(result.population)) > 1


def test_pareto_front_keeps_ties_and_drops_dominated():
    from fastslow.fastweights.population import pareto_front

    scores = [{0: 1, 1: 0, 2: 0}, {0: 1, 1: 0, 2: 0}, {0: 0, 1: 1, 2: 0}, {0: 0, 1: 1, 2: 1}, {0: 0, 1: 0, 2: 0}]
    assert pareto_front(scores) == {0, 1, 3}  # 0 and 1 tie (both kept); 2 is dominated by 3; 4 by everyone
    assert rank_candidates(scores, front_rule="pareto") == [3, 0, 1]  # mean, then wins, then age
    assert rank_candidates(scores, front_rule="gepa") == [3, 1]  # GEPA's pruning drops the older of a tie
    with pytest.raises(ValueError, match="unknown front rule"):
        rank_candidates(scores, front_rule="nope")


# ---- batched evaluation (issue 12): per-row seeds, one sampler call per step, speculation, no repeats ------------

class CountingSampler:
    """Counts sampler calls and rows around a real sampler."""

    def __init__(self, sampler):
        self.inner, self.calls, self.rows = sampler, 0, 0

    def sample(self, prompts, params, n=1, seeds=None):
        self.calls += 1
        self.rows += len(prompts) * n
        return self.inner.sample(prompts, params, n, seeds=seeds)


def test_batched_evaluation_equals_one_pair_at_a_time(world):
    model, tok, task, anchor = world
    items = [({COMPONENT: "Transform the input."}, anchor[:3]), ({COMPONENT: "Sort it."}, anchor[3:6]),
             ({COMPONENT: "Sort it."}, anchor)]
    sampler = CountingSampler(HFSampler(model, tok))
    batched = PolicyAdapter(sampler, task, PARAMS, RolloutCache(), anchor=anchor).batch_evaluate(items)
    assert sampler.calls == 1 and sampler.rows == 3 + 3 + len(anchor) + len(anchor)  # + the speculative rows
    alone = [PolicyAdapter(HFSampler(model, tok), task, PARAMS, RolloutCache(), anchor=anchor, speculate=False)
             .batch_evaluate([item])[0] for item in items]
    assert [eb.outputs for eb in batched] == [eb.outputs for eb in alone]
    assert [eb.scores for eb in batched] == [eb.scores for eb in alone]
    assert all(len(eb.trajectories) == len(eb.outputs) for eb in batched)


def test_speculation_serves_the_full_evaluation_and_repeats_are_not_resampled(world):
    model, tok, task, anchor = world
    sampler = CountingSampler(HFSampler(model, tok))
    cache = RolloutCache()
    adapter = PolicyAdapter(sampler, task, PARAMS, cache, anchor=anchor)
    child = {COMPONENT: "Transform the input carefully."}
    adapter.batch_evaluate([(child, anchor[:3])])
    assert (sampler.calls, adapter.metric_calls, adapter.speculative_unused) == (1, 3, len(anchor))
    full = adapter.batch_evaluate([(child, anchor)])[0]  # GEPA accepted the child: served, counted, not sampled
    again = adapter.batch_evaluate([(child, anchor[:3])])[0]  # a repeat
    assert sampler.calls == 1 and adapter.metric_calls == 3 + len(anchor) + 3 and adapter.speculative_unused == 0
    lazy = PolicyAdapter(HFSampler(model, tok), task, PARAMS, RolloutCache(), anchor=anchor, speculate=False)
    assert full.outputs == lazy.batch_evaluate([(child, anchor)])[0].outputs
    assert again.outputs == lazy.batch_evaluate([(child, anchor[:3])])[0].outputs
    # each distinct rollout reaches the reuse cache once
    assert cache.added == 3 + len(anchor) and len(cache.claim(anchor[0].id, child[COMPONENT], 5)) == 2


def test_minibatch_and_anchor_draws_are_independent(world):
    """A problem's minibatch rollout and its full-evaluation rollout use different seeds (as before), so an
    accepted child's anchor score is not the sample it was accepted on."""
    model, tok, task, anchor = world
    adapter = PolicyAdapter(HFSampler(model, tok), task, PARAMS, RolloutCache(), anchor=anchor)
    keys_mb, keys_val = adapter.row_keys(anchor[:3]), adapter.row_keys(anchor)[:3]
    assert not set(keys_mb) & set(keys_val)
    assert adapter.row_keys(anchor[:3]) != adapter.row_keys(anchor[1:4])[:3]


@pytest.mark.parametrize("feedback", [False, True])
def test_speculative_round_makes_the_same_decisions_in_fewer_calls(world, feedback):
    model, tok, task, anchor = world
    population = ["Transform the input.", "Sort the letters."]
    fb = []
    if feedback:
        fb = [r for g in collect_groups(HFSampler(model, tok), task, task.problems("train", 20)[10:],
                                        population, 2, PARAMS) for r in g.rollouts]
    runs = []
    # one pair per call ... batched ... speculative ... speculative looking one iteration ahead
    for batched, speculate, lookahead in ((False, False, False), (True, False, False), (True, True, False),
                                          (True, True, True)):
        sampler = CountingSampler(HFSampler(model, tok))
        runs.append((gepa_round(sampler, task, CountingReflector(), anchor, population, budget=40, k=4,
                                params=PARAMS, speculate=speculate, batched=batched, lookahead=lookahead,
                                feedback_rollouts=fb), sampler))
    (one, one_sampler), (lazy, lazy_sampler), (fast, fast_sampler), (ahead, ahead_sampler) = runs
    for other in (one, lazy, fast):
        assert ahead.candidates == other.candidates and ahead.candidate_scores == other.candidate_scores
        assert ahead.population == other.population and ahead.metric_calls == other.metric_calls
        assert ahead.cache.added == other.cache.added
    assert ahead.rescore_calls == fast.rescore_calls == lazy.rescore_calls == one.rescore_calls == 2 * len(anchor)
    assert fast.sampler_calls == fast_sampler.calls < lazy_sampler.calls < one_sampler.calls
    if not feedback:  # with feedback rollouts, parents are served from the slow loop's rollouts already
        assert ahead.sampler_calls == ahead_sampler.calls < fast_sampler.calls
    assert ahead.generated >= fast.generated

def test_explicit_selection_is_what_gepa_builds_from_the_seed(world, monkeypatch):
    """The round passes gepa a Pareto selector and an epoch-shuffled minibatch sampler of its own (to look ahead);
    they share one random stream exactly as ``gepa.optimize`` builds them, so no decision changes."""
    import fastslow.fastweights.gepa_round as round_mod

    model, tok, task, anchor = world
    population = ["Transform the input.", "Sort the letters."]

    def run():
        return gepa_round(HFSampler(model, tok), task, CountingReflector(), anchor, population, budget=40, k=4,
                          params=PARAMS, lookahead=False, seed=5)

    ours = run()
    # gepa's own objects: the strategy names, with its default minibatch size (the round's default, 3)
    monkeypatch.setattr(round_mod, "selection",
                        lambda seed, minibatch_size, parent="pareto": ("pareto", "epoch_shuffled"))
    theirs = run()
    assert ours.candidates == theirs.candidates and ours.candidate_scores == theirs.candidate_scores
    assert ours.metric_calls == theirs.metric_calls and len(ours.candidates) > len(population)
    # the same minibatches were drawn: every rollout handed to GEPA is the same sample
    handed = lambda r: sorted((k, x.text) for k, v in r.cache.state_dict()["store"].items() for x in v)  # noqa: E731
    assert handed(ours) == handed(theirs)
