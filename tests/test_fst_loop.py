"""The FST loop (Algorithm 1): GEPA exactly every T steps, K prompts x G/K rollouts in one group per problem,
rollout reuse confined to its own cycle; the same loop runs rl and gepa modes."""

import pytest

from fastslow.config import parse_config
from fastslow.rl import rollouts as rollouts_module
from fastslow.trainer import Trainer
from helpers import HintReflector



def config(model_dir, out, mode="fst", **population):
    return parse_config({
        "mode": mode, "model": str(model_dir), "output_dir": str(out), "steps": 7,
        "task": {"name": "tidy", "partial_credit": True},
        "rollout": {"problems_per_step": 2, "group_size": 4, "max_new_tokens": 8},
        "population": {"size": 2, "cycle_steps": 3, "anchor_size": 4, "budget": 12, **population},
        "eval": {"every": 7, "problems": 4, "k": 2, "kl_problems": 2},
    })


@pytest.fixture
def spy(monkeypatch):
    """Record every group the RL steps build."""
    seen = []
    original = rollouts_module.collect_groups

    def recording(*args, **kwargs):
        groups = original(*args, **kwargs)
        seen.append((kwargs.get("cycle"), groups))
        return groups

    monkeypatch.setattr("fastslow.trainer.collect_groups", recording)
    return seen


def test_gepa_every_t_steps_and_group_structure(tiny_model_dir, tmp_path, spy):
    trainer = Trainer(config(tiny_model_dir, tmp_path), reflector=HintReflector())
    history = trainer.run(progress=False)
    rounds = [h for h in history if h["kind"] == "gepa"]
    assert [h["step"] for h in rounds] == [0, 3, 6]  # before steps 1, 4 and 7
    assert [h["cycle"] for h in rounds] == [0, 1, 2]
    assert len(spy) == 7
    for step, (_, groups) in enumerate(spy):
        population = next(h["population"] for h in reversed(rounds) if h["step"] <= step)
        for g in groups:
            assert len(g.rollouts) == 4
            for k, prompt in enumerate(population):
                mine = [r for r in g.rollouts if r.prompt_index == k]
                assert len(mine) == 2 and all(r.prompt == prompt for r in mine)
            assert abs(sum(g.advantages)) < 1e-6  # one statistic over all K prompts' rollouts


def test_reuse_never_crosses_cycles(tiny_model_dir, tmp_path, spy):
    trainer = Trainer(config(tiny_model_dir, tmp_path), reflector=HintReflector())
    history = trainer.run(progress=False)
    reused = [(step, r) for step, (_, groups) in enumerate(spy) for g in groups for r in g.rollouts
              if r.source == "reused"]
    assert reused, "the anchor set is drawn from the lookahead, so some slots must be reused"
    for step, r in reused:
        assert r.cycle == step // 3
    train = [h for h in history if h["kind"] == "train"]
    assert train[-1]["reused_rollouts"] == len(reused)


def test_no_reuse_when_disabled(tiny_model_dir, tmp_path, spy):
    Trainer(config(tiny_model_dir, tmp_path, reuse_rollouts=False), reflector=HintReflector()).run(progress=False)
    assert not any(r.source == "reused" for _, groups in spy for g in groups for r in g.rollouts)


def test_gepa_mode_freezes_weights_and_rl_mode_never_reflects(tiny_model_dir, tmp_path, spy):
    trainer = Trainer(config(tiny_model_dir, tmp_path / "g", mode="gepa"), reflector=HintReflector())
    before = {k: v.clone() for k, v in trainer.learner.policy.state_dict().items()}
    history = trainer.run(progress=False)
    after = trainer.learner.policy.state_dict()
    assert all((before[k] == after[k]).all() for k in before) and not spy
    evals = [h for h in history if h["kind"] == "eval"]
    assert evals[-1]["gepa_metric_calls"] > 0 and evals[-1]["reflection_calls"] > 0
    assert evals[-1]["kl_to_base"] == 0.0

    reflector = HintReflector()
    history = Trainer(config(tiny_model_dir, tmp_path / "r", mode="rl"), reflector=reflector).run(progress=False)
    assert reflector.stats.calls == 0 and not [h for h in history if h["kind"] == "gepa"]
    assert all(len(g.rollouts) == 4 and {r.prompt_index for r in g.rollouts} == {0} for _, gs in spy for g in gs)


def test_task_stream_switches_tasks_between_cycles(tiny_model_dir, tmp_path, spy):
    data = config(tiny_model_dir, tmp_path).model_dump()
    data["task"].update(stream=["tidy", "mirror"], steps_per_stage=3)
    data["steps"] = 6
    trainer = Trainer(parse_config(data), reflector=HintReflector())
    history = trainer.run(progress=False)
    assert [{p.id.split("/")[0] for g in groups for p in [g.problem]} for _, groups in spy] == \
        [{"tidy"}] * 3 + [{"mirror"}] * 3
    last_eval = [h for h in history if h["kind"] == "eval"][-1]
    assert {"val_mean@2/tidy", "val_mean@2/mirror"} <= set(last_eval)
    assert last_eval["val_mean@2"] == last_eval["val_mean@2/mirror"]
    with pytest.raises(Exception, match="multiple of population.cycle_steps"):
        parse_config({**data, "task": {**data["task"], "steps_per_stage": 4}})


def test_rl_rollouts_serve_the_next_rounds_reflection(tiny_model_dir, tmp_path, spy):
    history = Trainer(config(tiny_model_dir, tmp_path, reflect_on_rl_rollouts=True),
                      reflector=HintReflector()).run(progress=False)
    rounds = [h for h in history if h["kind"] == "gepa"]
    assert rounds[0]["feedback_served"] == 0  # cycle 0 has no RL rollouts yet
    assert all(r["feedback_served"] > 0 for r in rounds[1:])
    assert all(r["feedback_served"] % 3 == 0 for r in rounds)  # whole reflection minibatches of 3
    rl_problems = {g.problem.id for _, groups in spy[:3] for g in groups}
    assert len(rl_problems) == 6


@pytest.mark.parametrize("acceptance,front", [("strict_improvement", "gepa"), ("improvement_or_equal", "pareto")])
def test_population_rules_reach_the_gepa_round(tiny_model_dir, tmp_path, monkeypatch, acceptance, front):
    from fastslow.fastweights import gepa_round as gepa_round_module

    seen = []
    original = gepa_round_module.gepa_round

    def recording(*args, **kwargs):
        seen.append((kwargs["acceptance"], kwargs["front_rule"]))
        return original(*args, **kwargs)

    monkeypatch.setattr(gepa_round_module, "gepa_round", recording)
    cfg = config(tiny_model_dir, tmp_path, acceptance=acceptance, front=front)
    Trainer(cfg, reflector=HintReflector()).run(progress=False)
    assert seen and set(seen) == {(acceptance, front)}


def test_reuse_serves_every_gepa_rollout_of_a_surviving_prompt(tiny_model_dir, tmp_path, spy, monkeypatch):
    """Every rollout a round handed to GEPA on a problem trained in its cycle, under a prompt that survived into the
    population, fills a slot of that problem's group (up to the G/K slots per prompt), and no slot is sampled when
    a cached rollout could fill it."""
    import fastslow.fastweights.gepa_round as round_module

    rounds = []
    original = round_module.gepa_round

    def recording(*args, **kwargs):
        result = original(*args, **kwargs)
        rounds.append((list(result.population), {k: len(v) for k, v in result.cache._store.items()}))
        return result

    monkeypatch.setattr(round_module, "gepa_round", recording)
    Trainer(config(tiny_model_dir, tmp_path), reflector=HintReflector()).run(progress=False)
    per_prompt, checked = 2, 0
    for cycle, (population, cached) in enumerate(rounds):
        steps = spy[3 * cycle : 3 * cycle + 3]
        for _, groups in steps:
            for g in groups:
                for prompt in set(population):
                    slots = per_prompt * population.count(prompt)
                    reused = sum(r.source == "reused" and r.prompt == prompt for r in g.rollouts)
                    assert reused == min(slots, cached.get((g.problem.id, prompt), 0))
                    checked += reused
    assert checked > 0
