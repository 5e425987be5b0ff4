"""Issue 21: population selection under noisy 0/1 rewards and junk proposals (pure rules; seconds)."""

import random
from types import SimpleNamespace

from gepa.strategies.candidate_selector import ParetoCandidateSelector

from fastslow.fastweights.acceptance import PairedAcceptance, acceptance_criterion, paired
from fastslow.fastweights.incumbent import gated_population
from fastslow.fastweights.population import top_k
from fastslow.fastweights.selectors import lexicase_pick

Z = 1.645


def scores(vec):
    return dict(enumerate(vec))


def one_rollout(n):
    return [[i] for i in range(n)]


def draw(rng, rates):
    return [float(rng.random() < p) for p in rates]


def test_paired_statistic_and_ties():
    assert paired([1, 1, 0], [1, 1, 0]).beats(Z) is False  # a tie is never a win
    assert paired([1, 0, 0], [0, 0, 0]).beats(Z) is False  # +1 of 3: 0.33 +- 0.33
    assert paired([1, 1, 0], [0, 0, 0]).beats(Z) is True  # +2 of 3
    assert paired([0, 0, 0], [1, 1, 0]).worse(Z) is True
    p = paired([1, 0, 1, 1], [0, 0, 1, 0])
    assert abs(p.mean - 0.5) < 1e-12 and abs(p.se - (1 / 3) ** 0.5 / 2) < 1e-12


def test_paired_minibatch_acceptance_rejects_ties_and_single_lucky_wins():
    crit = acceptance_criterion("paired")
    assert isinstance(crit, PairedAcceptance)
    def prop(before, after):
        return SimpleNamespace(subsample_scores_before=before,
                                                     subsample_scores_after=after)
    assert not crit.should_accept(prop([0, 1, 0], [0, 1, 0]), None)
    assert not crit.should_accept(prop([0, 1, 0], [1, 1, 0]), None)
    assert crit.should_accept(prop([0, 1, 0], [1, 1, 1]), None)
    assert acceptance_criterion("strict_improvement") == "strict_improvement"


def test_lucky_junk_does_not_displace_the_incumbent():
    """The issue's failure, built exactly: the seed solves 3 of 8 anchors, a junk prompt happens to solve those and
    2 more. The Pareto front drops the seed (dominated); the gated rule keeps it as the lead and keeps the junk out
    (+2 of 8 is 0.25 +- 0.16: within noise)."""
    seed = scores([1, 0, 1, 0, 1, 0, 0, 0])
    junk = scores([1, 1, 1, 0, 1, 0, 0, 1])
    prompts = ["seed", "junk"]
    assert top_k(prompts, [seed, junk], 4) == ["junk"] * 4  # today's rule: the seed is gone
    g = gated_population(prompts, [seed, junk], one_rollout(8), 4, Z)
    assert g.population == ["seed"] * 4 and not g.replaced and g.passed == 0


def test_noisy_lucky_candidates_rarely_displace_the_incumbent():
    """Many seeded draws: the incumbent solves each of 24 anchors with p = 0.4, five junk children with p = 0.3
    (worse). The gated rule lets junk lead in under 5% of rounds; the front rule in most."""
    rng = random.Random(0)
    displaced = {"gated": 0, "front": 0}
    rounds = 400
    for _ in range(rounds):
        subs = [scores(draw(rng, [0.4] * 24))] + [scores(draw(rng, [0.3] * 24)) for _ in range(5)]
        prompts = ["seed"] + [f"junk{i}" for i in range(5)]
        displaced["gated"] += gated_population(prompts, subs, one_rollout(24), 4, Z).population[0] != "seed"
        displaced["front"] += top_k(prompts, subs, 4)[0] != "seed"
    assert displaced["gated"] / rounds < 0.05
    assert displaced["front"] / rounds > 0.3


def test_a_genuinely_better_candidate_wins():
    """The incumbent solves each of 24 anchors with p = 0.2, a child with p = 0.7 (the rule found): it wins in
    nearly every round."""
    rng = random.Random(1)
    wins = 0
    rounds = 200
    for _ in range(rounds):
        subs = [scores(draw(rng, [0.2] * 24)), scores(draw(rng, [0.7] * 24))]
        g = gated_population(["seed", "better"], subs, one_rollout(24), 4, Z)
        wins += g.population[0] == "better" and g.replaced and "seed" not in g.population
    assert wins / rounds > 0.95


def test_several_rollouts_per_anchor_are_averaged_per_problem():
    # problem i's rollouts are valset ids i and i + 4; child better on 3 problems by one of two rollouts each
    groups = [[i, i + 4] for i in range(4)]
    inc = scores([0, 0, 0, 0, 0, 0, 0, 0])
    child = scores([1, 1, 1, 0, 0, 0, 0, 0])
    g = gated_population(["a", "b"], [inc, child], groups, 2, Z)
    assert g.passed == 1 and g.population == ["b", "b"]  # mean diff 0.375 +- 0.125
    child_half = scores([1, 0, 0, 0, 0, 0, 0, 0])
    assert gated_population(["a", "b"], [inc, child_half], groups, 2, Z).population == ["a", "a"]


def test_diversity_only_with_evidence_and_new_coverage():
    inc = scores([0] * 12)
    a = scores([1] * 6 + [0] * 6)  # beats the incumbent, solves the first half
    b = scores([0] * 6 + [1] * 6)  # beats the incumbent, solves the second half: functionally different
    a_copy = scores([1] * 6 + [0] * 6)  # beats it too but solves nothing new
    g = gated_population(["inc", "a", "b", "a2"], [inc, a, b, a_copy], one_rollout(12), 4, Z)
    assert g.population == ["a", "b", "a", "b"] and g.kept == [1, 2]
    # a tie with the incumbent (same total, different problems) is not a way in
    inc2 = scores([1] * 6 + [0] * 6)
    g2 = gated_population(["inc", "tie"], [inc2, b], one_rollout(12), 3, Z)
    assert g2.population == ["inc"] * 3


def test_carried_members_stay_unless_beaten_beyond_noise():
    inc = scores([1] * 8 + [0] * 4)
    other = scores([0] * 8 + [1] * 4)  # carried; worse overall (-4/12 mean) but solves 4 the lead does not
    weak = scores([0] * 12)  # carried; beaten beyond noise
    g = gated_population(["inc", "other", "weak"], [inc, other, weak], one_rollout(12), 3, Z, carried=3)
    assert g.population == ["inc", "other", "inc"]


class _State:
    def __init__(self, subs):
        self.prog_candidate_val_subscores = subs
        self.program_full_scores_val_set = [sum(s.values()) / len(s) for s in subs]
        self.per_program_tracked_scores = self.program_full_scores_val_set
        fronts = {}
        for i in subs[0]:
            best = max(s[i] for s in subs)
            fronts[i] = {c for c, s in enumerate(subs) if s[i] == best}
        self._fronts = fronts

    def get_pareto_front_mapping(self):
        return self._fronts


def test_lexicase_does_not_zero_out_the_best_candidate():
    """gepa issue #432 built: the best candidate (6 of 8) shares every win with two specialists (4 of 8) that each
    have one problem of their own. gepa's pruned Pareto selector never picks it; lexicase picks it often."""
    best = scores([1, 1, 1, 1, 1, 1, 0, 0])
    spec1 = scores([1, 1, 1, 0, 0, 0, 1, 0])
    spec2 = scores([0, 0, 0, 1, 1, 1, 0, 1])
    state = _State([spec1, best, spec2])
    state.program_candidates = [{}, {}, {}]
    rng = random.Random(0)
    pareto = [ParetoCandidateSelector(rng).select_candidate_idx(state) for _ in range(300)]
    assert pareto.count(1) == 0
    lex = [lexicase_pick(state.prog_candidate_val_subscores, rng) for _ in range(300)]
    assert lex.count(1) / 300 > 0.5
    assert set(lex) == {0, 1, 2}  # specialists still get picks


def test_round_counts_selection_rollouts_and_samples_each_replica(tiny_model_dir):
    """A gated round with 2 rollouts per anchor problem: every full anchor evaluation has 2n rows with distinct
    seeds, the first replica is the one-rollout draw (common random numbers across settings), and the record says
    what selection spent (re-scoring plus accepted children's anchor evaluations)."""
    from fastslow.fastweights.gepa_round import gepa_round
    from fastslow.model.base import load_model
    from fastslow.rulebook import get_task
    from fastslow.sampling import HFSampler, SamplingParams

    model, tok = load_model(tiny_model_dir)
    task = get_task("tidy", partial_credit=True)
    anchor = task.problems("train", 6)
    params = SamplingParams(temperature=1.0, max_new_tokens=12)

    class Hints:
        n = 0

        def propose(self, current, examples):
            Hints.n += 1
            return f"{current} Hint {Hints.n}."

    one = gepa_round(HFSampler(model, tok), task, Hints(), anchor, ["Transform the input."], 0, 2, params)
    two = gepa_round(HFSampler(model, tok), task, Hints(), anchor, ["Transform the input."], 20, 2, params,
                     selection_rule="gated", rollouts_per_anchor=2)
    assert one.rescore_calls == 6 and two.rescore_calls == 12
    rescored = gepa_round(HFSampler(model, tok), task, Hints(), anchor, ["Transform the input."], 0, 2, params,
                          rollouts_per_anchor=2)
    first = {r.problem.id: r.token_ids for bucket in one.cache._store.values() for r in bucket}
    pairs = {pid: [r.token_ids for r in bucket] for (pid, _), bucket in rescored.cache._store.items()}
    assert sorted(map(len, pairs.values())) == [2] * 6  # two rollouts of each problem, each cached once
    assert all(pairs[pid][0] == first[pid] for pid in first)  # replica 0 = the one-rollout draw
    assert any(a != b for a, b in pairs.values())  # replica 1 has its own seed
    assert two.selection_rollouts == two.rescore_calls + two.accepted * 12
    assert two.rollouts_per_anchor == 2 and two.incumbent_replaced is not None
    assert one.selection_rollouts == 6 and one.incumbent_replaced is None


def test_replay_reflector_is_seeded_and_serves_outcomes(tmp_path):
    import json

    import pytest

    from fastslow.fastweights.reflectors.replay import ReplayReflector

    bank = tmp_path / "bank.json"
    bank.write_text(json.dumps({"answers": [{"outcome": "proposal", "proposal": "You are a neverending developer."},
                                            {"outcome": "repeat"}, {"outcome": "unusable"}]}))
    ex = [{"Inputs": "1+2", "Generated Outputs": "4", "Feedback": "wrong"}]
    a = [ReplayReflector(bank, seed=3).propose("Seed.", ex) for _ in range(1)]
    r1, r2 = ReplayReflector(bank, seed=3), ReplayReflector(bank, seed=3)
    seq1 = [r1.propose("Seed.", ex) for _ in range(30)]
    assert seq1 == [r2.propose("Seed.", ex) for _ in range(30)] and a[0] == seq1[0]
    assert set(seq1) == {"You are a neverending developer.", "Seed.", None}
    assert r1.stats.calls == 30 and r1.stats.failures == seq1.count(None)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"answers": [{"outcome": "maybe"}]}))
    with pytest.raises(ValueError, match="outcome"):
        ReplayReflector(bad)
    with pytest.raises(FileNotFoundError, match="population.reflector.args.bank"):
        ReplayReflector(tmp_path / "missing.json")


def test_config_fields_validate():
    import pytest
    from pydantic import ValidationError

    from fastslow.config import PopulationConfig

    with pytest.raises(ValidationError, match="rollouts_per_anchor"):
        PopulationConfig(rollouts_per_anchor=0)
    with pytest.raises(ValidationError, match="selection"):
        PopulationConfig(selection="lucky")
    assert PopulationConfig(acceptance="paired", parent_selector="lexicase").selection_z == 1.645


def test_confirmation_adds_rollouts_only_to_close_comparisons():
    """At the floor (the incumbent solves nothing) a child solving 2 of 16 anchors once is close, not beyond noise;
    two more rollouts each, where the child solves 4 problems every time, confirm it (3.3 of 16 problems' worth
    against 0: 0.21 +- 0.10, over the two-challenger threshold of 1.96 SE). A child behind the incumbent gets no
    extra rollouts."""
    from fastslow.fastweights.gepa_round import confirm
    from fastslow.fastweights.incumbent import close_challengers

    n = 16
    subs = [scores([0] * n), scores([1, 1] + [0] * (n - 2)), scores([0] * n)]
    prompts = ["seed", "partial rule", "junk"]
    groups = one_rollout(n)
    assert close_challengers(prompts, subs, groups, Z, 2) == [1]
    assert gated_population(prompts, subs, groups, 2, Z).population == ["seed", "seed"]

    asked = []

    class Adapter:
        def anchor_replicas(self, who, problems, first, count):
            asked.append((who, first, count))
            return {"seed": [[0.0] * n] * count, "partial rule": [[1.0] * 4 + [0.0] * (n - 4)] * count}

    confirm(Adapter(), prompts, subs, groups, list(range(n)), 1, 2, 2, Z)
    assert asked == [(["seed", "partial rule"], 1, 2)]
    assert all(len(g) == 3 for g in groups) and len(subs[2]) == n  # junk got none
    g = gated_population(prompts, subs, groups, 2, Z)
    assert g.population == ["partial rule", "partial rule"] and g.replaced


def test_protected_rule_seats_a_floor_breaker_but_never_lets_luck_lead():
    """``selection: protected`` (the cipher floor, docs/results/selection-embedded.json): the seed solves none of 24
    anchors, a correct rule the weights barely execute solves 2 (0.08 +- 0.06: not beyond noise). ``gated`` keeps
    it out, so FST never trains under it; ``protected`` gives it a seat behind the seed. A prompt that solves
    nothing new (junk tied with the seed) gets no seat under either rule."""
    seed, rule, tie = scores([0] * 24), scores([1, 1] + [0] * 22), scores([0] * 24)
    prompts, subs = ["seed", "rule", "tie"], [seed, rule, tie]
    assert gated_population(prompts, subs, one_rollout(24), 4, Z).population == ["seed"] * 4
    p = gated_population(prompts, subs, one_rollout(24), 4, Z, explore=True)
    assert p.population == ["seed", "rule", "seed", "rule"] and not p.replaced and p.kept == [0, 1]
    # once the slow weights execute it (9 of 24), it wins beyond noise and leads
    strong = scores([1] * 9 + [0] * 15)
    p2 = gated_population(["seed", "rule"], [seed, strong], one_rollout(24), 2, Z, carried=2, explore=True)
    assert p2.population == ["rule", "rule"] and p2.replaced  # beaten beyond noise, the seed leaves


def test_protected_rule_keeps_the_incumbent_leading_against_lucky_junk():
    """The displacement rate of the protected rule equals the gated rule's: other seats are open, the lead is not.
    Seed 40 % on 24 anchors, five junk children at 40 % (equally good): junk leads in under 5 % of rounds."""
    rng = random.Random(3)
    rounds, led = 400, 0
    for _ in range(rounds):
        subs = [scores(draw(rng, [0.4] * 24)) for _ in range(6)]
        prompts = ["seed"] + [f"junk{i}" for i in range(5)]
        led += gated_population(prompts, subs, one_rollout(24), 4, Z, explore=True).population[0] != "seed"
    assert led / rounds < 0.05
