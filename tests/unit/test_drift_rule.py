"""aicd's default drift rule (method auto): false alarms controlled across columns and sizes, every
change kind found, Holm, the effect floor, the per-level categorical test, unseen levels, the
dataset's weighted verdict — and ``method: evidently`` giving today's Evidently-compatible results."""

from __future__ import annotations

import numpy as np
import pytest

from aicd.data.drift import Side, column_drift
from aicd.data.stats import bins_pvalue, cohens_h, kolmogorov_pvalue, levels_pvalue, location_pvalue, step_gaps
from aicd.data.verdict import holm, judge_family, weighted_share

LEVELS = np.array(["a", "b", "c", "d", "rare"], dtype=object)
SHARES = [0.45, 0.25, 0.15, 0.10, 0.05]


def numeric(values) -> Side:
    values = np.asarray(values, dtype=float)
    return Side("numeric", values.size, sample=values)


def categorical(values) -> Side:
    levels, counts = np.unique(np.asarray(values).astype(str), return_counts=True)
    return Side("categorical", int(counts.sum()), counts=dict(zip(levels.tolist(), counts.tolist(), strict=True)))


def batch(rng, rows: int) -> dict[str, Side]:
    out = {f"x{i}": numeric(rng.normal(size=rows)) for i in range(8)}
    out |= {f"c{i}": categorical(rng.choice(LEVELS, rows, p=SHARES)) for i in range(4)}
    return out


def judged(reference: dict[str, Side], current: dict[str, Side], method: str = "auto"):
    results = [column_drift(name, reference[name], current[name], method) for name in reference]
    return judge_family(results, 0.05)


@pytest.mark.parametrize(("rows", "batches"), [(200, 60), (1000, 40), (10_000, 8)])
def test_stable_data_raises_at_most_one_false_alarm_per_hundred_columns(rows, batches):
    rng = np.random.default_rng(rows)
    alarms = total = 0
    for _ in range(batches):
        results = judged(batch(rng, rows), batch(rng, rows))
        alarms, total = alarms + sum(r.drifted for r in results), total + len(results)
    assert alarms / total <= 0.01, f"{alarms} false alarms in {total} column-batches at {rows} rows"


def test_evidently_flags_several_times_more_stable_columns_at_small_sizes():
    """The reason for the new default: at 200 rows each column judged alone at p < 0.05."""
    rng = np.random.default_rng(3)
    old = new = 0
    for _ in range(40):
        ref, cur = batch(rng, 200), batch(rng, 200)
        old += sum(r.drifted for r in judged(ref, cur, "evidently"))
        new += sum(r.drifted for r in judged(ref, cur))
    assert old >= 3 * max(new, 1)


@pytest.mark.parametrize("change", ["mean-small", "mean-large", "variance", "tails", "doubling", "new-level"])
def test_every_change_kind_is_found_at_a_thousand_rows(change):
    rng = np.random.default_rng(11)
    reference, current = batch(rng, 2000), batch(rng, 2000)
    x = rng.normal(size=2000)
    changed = {"mean-small": ("x0", numeric(x + 0.25)), "mean-large": ("x0", numeric(x + 1.0)),
               "variance": ("x0", numeric(x * 1.5)),
               "tails": ("x0", numeric(rng.standard_t(3, 2000) / np.sqrt(3.0))),
               "doubling": ("c0", categorical(rng.choice(LEVELS, 2000, p=[0.42, 0.23, 0.15, 0.10, 0.10]))),
               "new-level": ("c0", categorical(rng.choice(np.append(LEVELS, "new"), 2000,
                                                          p=[0.43, 0.24, 0.14, 0.09, 0.05, 0.05])))}
    column, side = changed[change]
    current[column] = side
    results = {r.column: r for r in judged(reference, current)}
    assert results[column].drifted, results[column]
    assert sum(r.drifted for r in results.values()) == 1  # and nothing else


def test_holm_adjusts_step_down_and_keeps_the_order_given():
    assert holm([0.01, 0.04, 0.03, 0.5]) == pytest.approx([0.04, 0.09, 0.09, 0.5])
    assert holm([]) == []
    assert holm([0.3]) == [0.3]


def test_a_column_significant_alone_is_not_after_holm_over_twelve():
    rng = np.random.default_rng(5)
    reference, current = batch(rng, 400), batch(rng, 400)
    alone = [column_drift(n, reference[n], current[n]) for n in reference]
    borderline = min(alone, key=lambda r: r.statistic)
    family = {r.column: r for r in judge_family(alone, 0.05)}
    assert family[borderline.column].adjusted == pytest.approx(min(1.0, len(alone) * borderline.statistic))
    assert all(r.adjusted >= r.statistic for r in family.values())


def test_a_million_rows_do_not_flag_a_trivial_shift_but_do_flag_a_real_one():
    rng = np.random.default_rng(8)
    reference = numeric(rng.normal(size=1_000_000))
    trivial = judge_family([column_drift("x", reference, numeric(rng.normal(0.02, 1, 1_000_000)))], 0.05)[0]
    assert trivial.adjusted < 1e-6 and not trivial.drifted  # beyond doubt, and too small to matter
    assert trivial.effect < trivial.floor and "below the effect floor" in trivial.note
    real = judge_family([column_drift("x", reference, numeric(rng.normal(0.1, 1, 1_000_000)))], 0.05)[0]
    assert real.drifted and real.effect >= real.floor
    levels = Side("categorical", 1_000_000, counts={"a": 500_000, "b": 500_000})
    nudged = Side("categorical", 1_000_000, counts={"a": 502_000, "b": 498_000})
    result = judge_family([column_drift("c", levels, nudged)], 0.05)[0]
    assert result.adjusted < 0.05 and not result.drifted


def test_a_low_share_level_doubling_is_found_level_by_level_where_js_misses_it():
    reference = Side("categorical", 2000, counts={"a": 1100, "b": 500, "c": 300, "rare": 100})
    current = Side("categorical", 2000, counts={"a": 1040, "b": 480, "c": 280, "rare": 200})
    assert not column_drift("c", reference, current, "evidently").drifted  # JS 0.06 <= 0.1
    result = judge_family([column_drift("c", reference, current)], 0.05)[0]
    assert result.method == "levels" and result.drifted and result.statistic < 1e-6


def test_levels_pvalue_is_a_bonferroni_over_levels_of_two_sided_mid_p():
    from scipy.stats import hypergeom

    ref, cur = [60, 40], [45, 55]
    x, total, drawn = 55, 200, 95
    mid = hypergeom.pmf(x, total, drawn, 100) / 2
    one = 2 * min(hypergeom.cdf(x - 1, total, drawn, 100) + mid, hypergeom.sf(x, total, drawn, 100) + mid)
    assert levels_pvalue(ref, cur) == pytest.approx(min(1.0, 2 * one), rel=1e-9)
    assert levels_pvalue([50, 50], [50, 50]) == 1.0


def test_an_unseen_level_with_enough_rows_is_significant_on_its_own():
    """Ten rows of a level the 200-row reference never had: P = C(200, 10) / C(400, 10), with half the
    column's budget — past Holm over a dozen columns, while one unseen row is no evidence."""
    known = {"a": 100, "b": 60, "c": 40}
    reference = Side("categorical", 200, counts=known)
    current = Side("categorical", 200, counts={"a": 95, "b": 57, "c": 38, "new": 10})
    result = column_drift("c", reference, current)
    assert result.statistic * 12 < 0.05 and "unseen in the reference" in result.note
    assert levels_pvalue([100, 60, 40, 0], [99, 60, 40, 1]) > 0.5
    noise = [column_drift(f"x{i}", numeric(np.random.default_rng(i).normal(size=200)),
                          numeric(np.random.default_rng(i + 50).normal(size=200))) for i in range(11)]
    assert {r.column: r.drifted for r in judge_family([result, *noise], 0.05)}["c"]


def test_location_uses_cramer_von_mises_while_a_side_is_small_then_ks_both_as_scipy():
    from scipy.stats import cramervonmises_2samp, ks_2samp

    rng = np.random.default_rng(2)
    a, b = np.sort(rng.normal(size=3000)), np.sort(rng.normal(0.05, 1, 4000))
    assert location_pvalue(step_gaps(a, b)) == pytest.approx(cramervonmises_2samp(a, b).pvalue, abs=1e-9)
    tied, few = np.sort(rng.integers(0, 7, 2500).astype(float)), np.sort(rng.integers(0, 7, 30).astype(float))
    assert cramervonmises_2samp(tied, few).pvalue < 1e-6 < 0.05 < location_pvalue(step_gaps(tied, few))  # scipy's ranks
    tiny_a, tiny_b = np.sort(rng.normal(size=12)), np.sort(rng.normal(1, 1, 9))  # scipy's exact distribution
    assert location_pvalue(step_gaps(tiny_a, tiny_b)) == pytest.approx(cramervonmises_2samp(tiny_a, tiny_b).pvalue)
    big, small = np.sort(rng.normal(size=60_000)), np.sort(rng.normal(0.1, 1, 5000))  # one side small: CvM
    assert location_pvalue(step_gaps(big, small)) == pytest.approx(cramervonmises_2samp(big, small).pvalue, abs=1e-9)
    big_a, big_b = np.sort(rng.normal(size=30_000)), np.sort(rng.normal(0.02, 1, 25_000))
    exact = ks_2samp(big_a, big_b, method="exact").pvalue
    assert location_pvalue(step_gaps(big_a, big_b)) == pytest.approx(exact, rel=0.01)
    assert kolmogorov_pvalue(step_gaps(big_a, big_a)) == 1.0


def test_a_numeric_column_of_few_values_raises_no_more_false_alarms_than_the_level():
    """Ties: Anderson's T on the step CDFs, not the rank form (which grows with the ties)."""
    rng = np.random.default_rng(12)

    def zero_inflated(rows):  # a discount: 60 % of orders have none
        values = np.round(rng.lognormal(0, 1, rows), 2)
        values[rng.random(rows) < 0.6] = 0.0
        return np.sort(values)

    for rows, other in ((1000, 1000), (3000, 40)):
        p = [location_pvalue(step_gaps(np.sort(rng.integers(0, 5, rows).astype(float)),
                                       np.sort(rng.integers(0, 5, other).astype(float)))) for _ in range(200)]
        assert np.mean(np.asarray(p) < 0.05) <= 0.08
    p = np.asarray([location_pvalue(step_gaps(zero_inflated(6000), zero_inflated(2000))) for _ in range(300)])
    assert np.mean(p < 0.05) <= 0.08 and np.mean(p < 0.01) <= 0.025  # the continuous moments gave 3x the level


def test_decile_homogeneity_catches_a_variance_change_the_location_test_is_weak_on():
    rng = np.random.default_rng(4)
    reference = numeric(rng.normal(size=5000))
    wider = numeric(rng.normal(0, 1.3, 5000))
    result = column_drift("x", reference, wider)
    assert result.drifted and result.statistic < 1e-6
    assert bins_pvalue([10, 10, 0], [10, 10, 0]) == 1.0 and bins_pvalue([5], [7]) == 1.0


def test_cohens_h_is_the_largest_change_of_a_levels_share():
    assert cohens_h([95, 5], [90, 10]) == pytest.approx(2 * (np.arcsin(np.sqrt(0.1)) - np.arcsin(np.sqrt(0.05))))
    assert cohens_h([0, 0], [1, 1]) == 0.0


def test_a_column_with_a_threshold_of_its_own_is_judged_alone():
    rng = np.random.default_rng(6)
    ref, cur = numeric(rng.normal(size=500)), numeric(rng.normal(0.3, 1, 500))
    own = column_drift("x", ref, cur, "homogeneity", threshold=0.2)
    judged_alone = judge_family([own], 0.05)[0]
    assert judged_alone.adjusted is None and judged_alone.drifted == own.drifted


def test_the_dataset_verdict_weighs_drifted_columns_by_importance():
    rng = np.random.default_rng(9)
    reference, current = batch(rng, 2000), batch(rng, 2000)
    current["x0"] = numeric(rng.normal(1.0, 1, 2000))
    results = judged(reference, current)
    assert weighted_share(results) == pytest.approx(1 / 12)  # equal weights: one column of twelve
    weights = {name: 0.01 for name in reference} | {"x0": 0.5}
    assert weighted_share(results, weights) == pytest.approx(0.5 / (0.5 + 0.11))
    assert weighted_share(results, {name: 0.0 for name in reference}) == pytest.approx(1 / 12)
    assert weighted_share([]) == 0.0


def test_method_evidently_is_the_old_auto_column_for_column():
    """The old choice by type and size, with each method's own threshold and no Holm or floor."""
    from aicd.data.drift import METHODS

    rng = np.random.default_rng(10)
    for rows in (500, 5000):
        reference, current = batch(rng, rows), batch(rng, rows)
        current["x1"] = numeric(rng.normal(0.2, 1, rows))
        for r in judged(reference, current, "evidently"):
            expected = {("numeric", True): "ks", ("numeric", False): "wasserstein",
                        ("categorical", True): "chisquare", ("categorical", False): "js"}[(r.kind, rows <= 1000)]
            direct = column_drift(r.column, reference[r.column], current[r.column], expected)
            assert (r.method, r.statistic, r.threshold, r.drifted) == (expected, direct.statistic,
                                                                        METHODS[expected].threshold, direct.drifted)
            assert r.effect is None and r.adjusted is None


def test_ten_rows_of_a_new_level_in_two_hundred_flag_the_column_outside_holm():
    """Evidently's chi-square flags one unseen row at once; aicd wants evidence, but not a Bonferroni
    over every column and level: ten rows all on one side of 400 is p = 0.001 on its own, past the
    unseen test's fifth of the level; five (p = 0.03) are not enough."""
    reference = Side("categorical", 200, counts={"a": 100, "b": 60, "c": 40})
    current = Side("categorical", 200, counts={"a": 95, "b": 57, "c": 38, "new": 10})
    result = column_drift("c", reference, current)
    assert result.unseen == pytest.approx(0.00089, abs=0.0001) and result.statistic * 12 > 0.01
    rng = np.random.default_rng(12)
    noise = [column_drift(f"x{i}", numeric(rng.normal(size=200)), numeric(rng.normal(size=200))) for i in range(11)]
    assert {r.column: r.drifted for r in judge_family([result, *noise], 0.05)}["c"]
    five = Side("categorical", 200, counts={"a": 98, "b": 58, "c": 39, "new": 5})
    judged = judge_family([column_drift("c", reference, five)], 0.05)[0]
    assert judged.unseen == pytest.approx(0.03, abs=0.005) and not judged.drifted


def test_the_rare_levels_a_wide_columns_samples_lack_by_chance_are_no_new_category():
    """Two samples of one Zipf-distributed 300-level column: each has dozens of rows in levels the other
    lacks. Pooled into one bin they looked like a new category in every pair; the largest such level,
    bounded over the levels at least as large, raises at most ~1 % alarms."""
    from collections import Counter

    def side(rng, rows):
        values = rng.zipf(1.3, rows) % 300
        return Side("categorical", rows, counts={f"region-{k}": c for k, c in Counter(values.tolist()).items()})

    alarms, pairs = 0, 200
    for seed in range(pairs):
        rng = np.random.default_rng(seed)
        reference, current = side(rng, 3000), side(rng, 3000)
        assert set(current.counts) - set(reference.counts)  # unseen levels in every pair
        alarms += judge_family([column_drift("region", reference, current)], 0.05)[0].drifted
    assert alarms <= 0.02 * pairs
    rng = np.random.default_rng(0)
    reference, current = side(rng, 3000), side(rng, 3000)
    grown = Side("categorical", 3150, counts={**current.counts, "region-new": 150})  # a real new region, 5 %
    assert judge_family([column_drift("region", reference, grown)], 0.05)[0].drifted


def test_homogeneity_named_for_a_categorical_column_tests_its_levels_counts():
    reference = Side("categorical", 300, counts={"a": 200, "b": 100})
    moved = Side("categorical", 300, counts={"a": 100, "b": 200})
    assert column_drift("c", reference, moved, "homogeneity").drifted
    assert not column_drift("c", reference, reference, "homogeneity").drifted


def test_a_new_level_beside_levels_larger_than_the_current_side_is_judged_not_an_error():
    """The union bound runs over every level at least as large as the new one, and a reference level can
    hold more rows than the whole current side (60,000 against 20,000: it cannot lie wholly in it)."""
    rng = np.random.default_rng(13)
    levels = np.array([f"c{i}" for i in range(40)])
    shares = np.concatenate([[0.5], 0.5 / np.arange(1, 40) / np.sum(1 / np.arange(1, 40))])  # one country half
    reference = categorical(rng.choice(levels, 60_000, p=shares))
    current = categorical(np.concatenate([rng.choice(levels, 19_400, p=shares), ["ZZ"] * 600]))
    result = column_drift("country", reference, current)
    assert result.drifted and result.unseen is not None and result.unseen < 1e-10
    quiet = categorical(np.concatenate([rng.choice(levels, 19_999, p=shares), ["ZZ"]]))
    assert column_drift("country", reference, quiet).unseen > 0.01  # one row of a new level is no news


def test_a_side_whose_sample_is_empty_or_tiny_is_no_evidence_and_no_error():
    """A sparse column: non-null rows counted on the whole file, but none (or one) in the sample."""
    rng = np.random.default_rng(14)
    values = np.sort(rng.normal(size=5000))
    for sample in (np.empty(0), np.array([0.3])):
        assert location_pvalue(step_gaps(sample, values)) == 1.0
        assert location_pvalue(step_gaps(values, sample)) == 1.0
        result = column_drift("x", Side("numeric", 3, sample=sample), numeric(values))
        assert result is not None and not result.drifted
    few, one = np.sort(rng.normal(size=15)), np.array([0.1])
    assert location_pvalue(step_gaps(few, one)) == 1.0  # scipy's exact path says NaN: no evidence, not p = 0
