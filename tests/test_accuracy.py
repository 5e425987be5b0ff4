from math import comb

import pytest

from fastslow.evaluation.accuracy import AccuracyResult


def test_mean_and_unbiased_pass_at_k():
    res = AccuracyResult([[1, 0, 0, 0], [0, 0, 0, 0], [1, 1, 1, 1]])
    assert res.mean == pytest.approx(5 / 12)
    assert res.pass_at(1) == pytest.approx((0.25 + 0 + 1) / 3)
    assert res.pass_at(2) == pytest.approx(((1 - comb(3, 2) / comb(4, 2)) + 0 + 1) / 3)
    assert res.pass_at(4) == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="at least 5"):
        res.pass_at(5)


def test_partial_rewards_do_not_count_as_passes():
    assert AccuracyResult([[0.9, 0.5]]).pass_at(2) == 0.0
