"""The fast channel's bookkeeping, the part both engines share: when a round is due, the anchor draw, the RL
rollout counters and carried rollouts, and the checkpoint state (a round trip, and the layout both engines save)."""

from types import SimpleNamespace

from fastslow.config import parse_config
from fastslow.data import ProblemStream
from fastslow.fastweights.cache import RolloutCache
from fastslow.fastweights.channel import COUNTERS, FastChannel
from fastslow.rl.rollouts import Rollout
from fastslow.tasks import load_task


def channel_of(mode="fst", **population):
    cfg = parse_config({"mode": mode, "population": {"size": 2, "cycle_steps": 3, "anchor_size": 4,
                                                      "reflect_on_rl_rollouts": True, **population},
                        "rollout": {"problems_per_step": 2, "group_size": 4}})
    return cfg, FastChannel(cfg, "seed prompt", SimpleNamespace(stats={"calls": 1}, rng=None))


def rollout(problem, source="live", error=False):
    return Rollout(problem, 0, "p", [1], [2], [-0.1], "x", 1.0, "", True, source, 0, True, error)


def test_rounds_are_due_every_t_steps_once_and_never_in_rl():
    _, ch = channel_of()
    assert [s for s in range(9) if ch.round_due(s)] == [0, 3, 6]
    ch.rounds_done.add(1)  # cycle 1 ran before a resume
    assert not ch.round_due(3)
    assert ch.K == 2 and channel_of("rl")[1].K == 1  # the effective K: rl trains under the seed prompt alone
    assert not any(channel_of("rl")[1].round_due(s) for s in range(9))


def test_anchor_is_a_seeded_draw_from_the_next_t_batches():
    _, ch = channel_of()
    stream = ProblemStream(load_task("rulebook/tidy", {}, seed=0), 2, seed=0)
    anchor = ch.anchor(stream, 3)
    lookahead = [p.id for i in (3, 4, 5) for p in stream.batch(i)]
    assert len(anchor) == 4 and {p.id for p in anchor} <= set(lookahead)
    assert [p.id for p in ch.anchor(stream, 3)] == [p.id for p in anchor]
    assert [p.id for p in channel_of(anchor_size=100)[1].anchor(stream, 3)] == lookahead


def test_rl_rollouts_are_counted_and_carried_and_the_state_round_trips():
    _, ch = channel_of()
    task = load_task("rulebook/tidy", {}, seed=0)
    problem = task.problems("train", 1)[0]
    reused = ch.record_rl([rollout(problem), rollout(problem, "reused"), rollout(problem, error=True)], "tidy")
    assert reused == 1
    assert ch.counts["rl_rollouts"] == 2 and ch.counts["reused_rollouts"] == 1 and ch.counts["verifier_errors"] == 1
    assert len(ch.carried["tidy"]) == 3
    ch.population, ch.cache = ["a", "b"], RolloutCache(0)
    ch.cache.add(rollout(problem))
    ch.rounds_done = {0, 1}
    state = ch.state_dict()
    assert set(state) == {"population", "counts", "cache", "cycle_rollouts", "reflector", "rounds_done"}
    assert set(state["counts"]) == set(COUNTERS)
    _, other = channel_of()
    other.load_state_dict(state)
    assert other.population == ["a", "b"] and other.counts == ch.counts and other.rounds_done == {0, 1}
    assert len(other.cache) == 1 and other.cache.cycle == 0 and len(other.carried["tidy"]) == 3
    assert other.reflector.stats == {"calls": 1}
    other.load_state_dict({**state, "cycle_rollouts": [rollout(problem)]})  # a pre-channel TRL checkpoint
    assert other.carried == {}
