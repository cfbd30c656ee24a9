"""aicd.data.tails against SciPy: the drift rule's p-values without importing scipy.stats."""

from __future__ import annotations

import itertools
import math
import subprocess
import sys

import numpy as np
import pytest
from scipy import special, stats

from aicd.data import tails


@pytest.mark.parametrize("df", [1, 2, 3, 9, 10, 49, 300])
def test_chi2_sf_is_scipys_to_1e_12_relative(df):
    for x in np.linspace(0.01, 6 * df + 60, 150):
        expected = stats.chi2.sf(x, df)
        if expected > 1e-290:
            assert tails.chi2_sf(float(x), df) == pytest.approx(expected, rel=1e-12)
    assert tails.chi2_sf(0.0, df) == 1.0


def test_kolmogorov_sf_is_within_one_percent_of_the_exact_distribution_from_ten_thousand():
    for n in (10_000, 40_000, 250_000):
        for lam in np.linspace(0.3, 5.5, 40):
            exact = stats.kstwo.sf(lam / math.sqrt(n), n)
            if exact > 1e-12:
                assert tails.kolmogorov_sf(lam / math.sqrt(n), n) == pytest.approx(exact, rel=0.01)
    assert tails.kolmogorov_sf(0.0, 1e5) == 1.0


def test_the_cramer_von_mises_limit_is_scipys():
    from scipy.stats._hypotests import _cdf_cvm_inf

    for x in np.linspace(0.003, 4, 200):
        assert tails.cvm_inf_sf(float(x)) == pytest.approx(1 - _cdf_cvm_inf(x), abs=1e-9)
    assert tails.cvm_inf_sf(0.001) == 1.0
    for q in np.logspace(-4, 2.5, 60):  # the Bessel function the series needs
        assert tails._bessel_k_quarter(float(q)) == pytest.approx(special.kv(0.25, q), rel=1e-9)


def test_log_factorial_is_lgamma_on_both_sides_of_the_table():
    k = np.array([0, 1, 2, 254, 255, 256, 257, 10_000, 3_000_001])
    assert tails.log_factorial(k) == pytest.approx([math.lgamma(v + 1) for v in k], rel=1e-14)


def test_hypergeometric_mid_p_is_scipys_in_the_middle_and_far_in_the_tails():
    rng = np.random.default_rng(7)
    for _ in range(200):
        total = int(rng.integers(2, 400_000))
        marked, drawn = int(rng.integers(1, total)), int(rng.integers(1, total))
        low, high = max(0, drawn - (total - marked)), min(drawn, marked)
        spread = 4 * int(math.sqrt(drawn) + 1)
        x = int(min(max(stats.hypergeom.rvs(total, marked, drawn, random_state=rng)
                        + rng.integers(-spread, spread + 1), low), high))
        at = stats.hypergeom.pmf(x, total, marked, drawn)
        expected = min(1.0, 2 * min(stats.hypergeom.cdf(x - 1, total, marked, drawn) + at / 2,
                                    stats.hypergeom.sf(x, total, marked, drawn) + at / 2))
        if expected > 1e-280:
            assert tails.hypergeom_midp(x, total, marked, drawn) == pytest.approx(expected, rel=1e-7)
    ks = np.array([0, 3, 7])
    assert np.exp(tails.hypergeom_logpmf(ks, 50, 10, 20)) == pytest.approx(stats.hypergeom.pmf(ks, 50, 10, 20))


def test_the_hypergeometric_pmf_is_zero_outside_its_support_as_scipys():
    """A level larger than the current side cannot lie wholly in it: probability 0, not an error."""
    k, total, marked, drawn = np.array([600, 5, 0, 45]), 1000, np.array([600, 5, 960, 45]), 50
    expected = stats.hypergeom.pmf(k, total, marked, drawn)
    assert np.exp(tails.hypergeom_logpmf(k, total, marked, drawn)) == pytest.approx(expected)
    assert expected[0] == 0 and expected[2] == 0


def test_the_default_drift_rule_never_imports_scipy_stats():
    """What the module is for: a 1,000-row gate must not pay the 0.8-2 s of importing scipy.stats."""
    probe = """
import sys, numpy as np
from aicd.data.drift import Side, column_drift
rng = np.random.default_rng(0)
num = lambda v: Side("numeric", v.size, sample=v)
cat = lambda c: Side("categorical", sum(c.values()), counts=c)
for rows in (200, 1000, 30000):
    column_drift("x", num(rng.normal(size=rows)), num(rng.normal(0.1, 1, rows)))
column_drift("c", cat({"a": 500, "b": 300}), cat({"a": 450, "b": 330, "new": 20}))
column_drift("c", cat({"a": 500, "b": 300}), cat({"a": 450, "b": 330}), "chisquare")
print("scipy.stats" in sys.modules)
"""
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_the_cramer_von_mises_tail_keeps_falling_far_out_and_nan_is_no_evidence():
    """Far in the tail the series' 1 - CDF cancels to 0 and then stops converging (0.53 at 1e8): the
    asymptote takes over, monotone and within 1 % of the series where both hold."""
    xs = [3.0, 4.0, 5.0, 6.0, 10.0, 1e3, 1e6, 1e8]
    values = [tails.cvm_inf_sf(x) for x in xs]
    assert all(a >= b for a, b in itertools.pairwise(values)) and values[-1] < 1e-290
    assert tails.cvm_inf_sf(5.0) == pytest.approx(math.sqrt(2) * math.erfc(math.pi * math.sqrt(2.5)), rel=0.01)
    assert tails.cvm_inf_sf(5.0 + 1e-9) == pytest.approx(tails.cvm_inf_sf(5.0), rel=0.01)
    for nan_safe in (tails.cvm_inf_sf, lambda x: tails.chi2_sf(x, 3), lambda x: tails.kolmogorov_sf(x, 1e5)):
        assert nan_safe(float("nan")) == 1.0
