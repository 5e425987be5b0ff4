"""``fst bench rl-step`` plumbing on a tiny model: the trainers alternate step by step, share the constant learning
rate, and every step records generated and trained tokens and a time breakdown that adds up to the step."""

import statistics

import pytest

from fastslow.bench import rl_step


@pytest.fixture(scope="module")
def records(tiny_model_dir, tmp_path_factory):
    patch = pytest.MonkeyPatch()
    for name, value in (("B", 2), ("G", 4), ("NEW_TOKENS", 6)):
        patch.setattr(rl_step, name, value)
    try:
        yield rl_step.interleaved(str(tiny_model_dir), 3, tmp_path_factory.mktemp("bench"))
    finally:
        patch.undo()


def test_every_trainer_steps_with_the_same_constant_learning_rate(records):
    assert set(records) == {"trl", *rl_step.VARIANTS}
    for name, rs in records.items():
        assert len(rs) == 3, name
        assert all(r["lr"] == pytest.approx(rl_step.LR) for r in rs), (name, [r["lr"] for r in rs])


def test_tokens_are_counted_for_both_trainers(records):
    for name in ("trl", "same_work", "same_work_unshared_prefix", "kl_log"):  # identical work: every token trains
        for r in records[name]:
            assert 0 < r["generated_tokens"] <= 2 * 4 * 6
            assert r["trained_tokens"] == r["generated_tokens"], name
    assert all(r["trained_tokens"] <= r["generated_tokens"] for r in records["default"])


def test_steps_alternate_between_trl_and_fastslow(records):
    trl = records["trl"]
    for i, t in enumerate(trl):
        ours = [records[name][i] for name in rl_step.VARIANTS]
        assert t["start"] + t["seconds"] <= min(r["start"] for r in ours)
        if i + 1 < len(trl):
            assert max(r["start"] + r["seconds"] for r in ours) <= trl[i + 1]["start"]


def test_breakdown_adds_up_and_summary_reports_per_token_time(records):
    for name, rs in records.items():
        for r in rs:
            assert sum(r["breakdown"].values()) == pytest.approx(r["seconds"], rel=1e-6), name
            assert r["breakdown"]["generation"] > 0 and r["breakdown"]["learner_backward"] >= 0
    s = rl_step.summarise(records["same_work"])
    assert len(s["s_per_step"]) == 2  # the warm-up step is dropped
    assert s["s_per_trained_token_median"] == pytest.approx(
        statistics.median(r["seconds"] / r["trained_tokens"] for r in records["same_work"][1:]))
    assert set(s["breakdown_s_median"]) == {"generation", "scoring", "learner_forward", "learner_ref_forward",
                                            "learner_backward", "optimizer", "other"}


def test_paired_ratio_is_the_median_of_per_round_ratios_after_the_warm_up():
    slow = [{"seconds": s} for s in (100.0, 2.0, 3.0, 8.0)]
    fast = [{"seconds": s} for s in (1.0, 1.0, 1.0, 2.0)]
    assert rl_step.paired(slow, fast, rl_step._seconds) == 3.0  # rounds 2/1, 3/1, 8/2; the warm-up is dropped
