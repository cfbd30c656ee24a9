import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import entropy

from aicd.data.drift import compare_profile, kl_divergence, profile_frame, psi
from aicd.examples.coffee import generate


def test_the_storys_kl_example():
    assert kl_divergence([0.6, 0.4], [0.4, 0.6]) == pytest.approx(0.0811, abs=5e-5)
    assert kl_divergence([0.6, 0.4], [0.4, 0.6]) == pytest.approx(0.2 * math.log(1.5), abs=1e-12)


@pytest.mark.parametrize("p,q", [([1, 2, 3, 4], [4, 3, 2, 1]), ([10, 1, 5], [3, 3, 3]), ([0.2, 0.8], [0.5, 0.5])])
def test_kl_matches_scipy_entropy_when_no_bin_is_empty(p, q):
    assert kl_divergence(p, q) == pytest.approx(entropy(p, q), abs=1e-12)


def test_empty_bins_are_smoothed_to_a_finite_value():
    assert math.isfinite(kl_divergence([10, 0, 5], [3, 3, 3]))
    assert math.isfinite(kl_divergence([3, 3, 3], [10, 0, 5]))
    assert math.isfinite(psi([5, 0], [0, 5]))


def test_psi_is_symmetric_and_zero_for_equal_distributions():
    assert psi([1, 2, 3], [1, 2, 3]) == pytest.approx(0)
    assert psi([1, 3], [3, 1]) == pytest.approx(psi([3, 1], [1, 3]))
    assert psi([0.6, 0.4], [0.4, 0.6]) == pytest.approx(0.2 * math.log(1.5) * 2)


def test_same_process_does_not_drift_and_a_shift_does():
    ref = profile_frame(generate(3000, seed=1), 10, exclude=["clicked"])
    same = compare_profile(ref, generate(3000, seed=2), "kl", 0.1)
    shifted = compare_profile(ref, generate(3000, seed=3, drift=1.0), "kl", 0.1)
    assert not any(d.drifted for d in same)
    assert {"visits_per_week", "preferred_roast", "coffee_price"} <= {d.column for d in shifted if d.drifted}


def test_missing_unseen_and_constant_columns_are_explicit_and_finite():
    ref = pd.DataFrame({"c": ["a", "b"] * 50, "k": [1.0] * 100, "x": np.arange(100.0)})
    cur = pd.DataFrame({"c": ["a", "z"] * 50, "k": [1.0] * 99 + [np.nan], "x": np.arange(100.0)})
    result = {d.column: d for d in compare_profile(profile_frame(ref, 10), cur, "psi", 0.1)}
    assert result["c"].bins[-1] == "(unseen)" and result["c"].current[-1] == 50
    assert result["k"].current[-2] == 1  # the (missing) bin
    assert sum(1 for count in result["k"].reference if count) == 1  # all reference mass in one bin
    assert all(math.isfinite(d.score) for d in result.values())
    assert not result["x"].drifted and result["c"].drifted
