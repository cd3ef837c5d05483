"""Search methods compared (zoo.scaling.search_curves), on studies whose answers are known."""

import pytest

from zoo.errors import ZooError
from zoo.scaling.search_curves import compare_searches


def _studies():
    return [
        {"sampler": "fast", "seed": 0, "losses": [3.0, 2.0, 2.5]},
        {"sampler": "fast", "seed": 1, "losses": [2.8, 2.01, 2.9]},
        {"sampler": "fast", "seed": 2, "losses": [None, 2.0, 2.2]},  # a pruned first trial
        {"sampler": "slow", "seed": 0, "losses": [3.0, 2.9, 2.5]},
        {"sampler": "slow", "seed": 1, "losses": [3.1, 3.0, 2.019]},
        {"sampler": "slow", "seed": 2, "losses": [3.2, 3.1, 3.05]},
    ]


def test_best_after_k_and_trials_to_tolerance_by_hand():
    result = compare_searches(_studies(), tolerance=0.01, bootstrap=200)
    assert result["reference"] == 2.0 and result["trials"] == 3
    fast, slow = result["samplers"]
    assert (fast["name"], fast["seeds"]) == ("fast", 3)
    # k = 1: one seed has no finished trial yet, so no mean; then the means by hand
    assert fast["best_after"][0]["mean"] is None
    assert fast["best_after"][1]["mean"] == pytest.approx((2.0 + 2.01 + 2.0) / 3)
    assert slow["best_after"][2]["mean"] == pytest.approx((2.5 + 2.019 + 3.05) / 3)
    low, high = slow["best_after"][2]["ci"]
    assert 2.019 <= low <= high <= 3.05
    # within 1% of 2.0 (2.02): every fast seed at trial 2; one slow seed at 3, two never (4)
    assert fast["trials_to_tolerance"] == {**fast["trials_to_tolerance"], "median": 2.0,
                                           "reached": 3, "of": 3}  # fmt: skip
    assert slow["trials_to_tolerance"]["median"] == 4.0
    assert slow["trials_to_tolerance"]["reached"] == 1


def test_bad_comparisons_are_refused():
    with pytest.raises(ZooError, match="same number of trials"):
        compare_searches([{"sampler": "a", "seed": 0, "losses": [1.0]},
                          {"sampler": "b", "seed": 0, "losses": [1.0, 2.0]}])  # fmt: skip
    with pytest.raises(ZooError, match="no search has a finished trial"):
        compare_searches([{"sampler": "a", "seed": 0, "losses": [None]}])
    with pytest.raises(ZooError, match="^tolerance"):
        compare_searches(_studies(), tolerance=-0.1)
