import math

import numpy as np
import pytest
from scipy.spatial.distance import jensenshannon
from scipy.stats import chisquare, entropy, ks_2samp, wasserstein_distance

from aicd.data.drift import (
    Side,
    chisquare_pvalue,
    column_drift,
    js_distance,
    kl_divergence,
    ks_pvalue,
    profile_frame,
    psi,
    sides_from_profile,
    wasserstein_normed,
)
from aicd.examples.coffee import generate
from tests.conftest import STEP_ENV

RNG = np.random.default_rng(42)
CASES = [([1, 2, 3, 4], [4, 3, 2, 1]), ([10, 1, 5], [3, 3, 3]), ([0.2, 0.8], [0.5, 0.5]),
         ([120, 80, 40, 7, 1], [100, 90, 50, 9, 3])]


def test_the_storys_kl_example():
    assert kl_divergence([0.6, 0.4], [0.4, 0.6]) == pytest.approx(0.0811, abs=5e-5)
    assert kl_divergence([0.6, 0.4], [0.4, 0.6]) == pytest.approx(0.2 * math.log(1.5), abs=1e-12)


@pytest.mark.parametrize("p,q", CASES)
def test_kl_and_js_match_scipy_to_1e9(p, q):
    assert abs(kl_divergence(p, q) - entropy(p, q)) < 1e-9
    assert abs(js_distance(p, q) - jensenshannon(p, q)) < 1e-9


@pytest.mark.parametrize("p,q", CASES)
def test_chisquare_matches_scipy_to_1e9(p, q):
    expected = np.asarray(p, float) / np.sum(p) * np.sum(q)
    assert abs(chisquare_pvalue(p, q) - chisquare(q, expected).pvalue) < 1e-9


@pytest.mark.parametrize("shift", [0.0, 0.1, 0.5])
def test_ks_and_wasserstein_match_scipy_to_1e9(shift):
    ref, cur = RNG.normal(0, 2, 700), RNG.normal(shift, 2, 900)
    assert abs(ks_pvalue(ref, cur) - ks_2samp(ref, cur).pvalue) < 1e-9
    assert abs(wasserstein_normed(ref, cur) - wasserstein_distance(ref, cur) / np.std(ref)) < 1e-9
    same_size = RNG.normal(shift, 3, 700)
    assert abs(wasserstein_normed(ref, same_size) - wasserstein_distance(ref, same_size) / np.std(ref)) < 1e-9


def test_psi_is_symmetric_and_zero_for_equal_distributions():
    assert psi([1, 2, 3], [1, 2, 3]) == pytest.approx(0)
    assert psi([1, 3], [3, 1]) == pytest.approx(psi([3, 1], [1, 3]))
    assert psi([0.6, 0.4], [0.4, 0.6]) == pytest.approx(0.4 * math.log(1.5))


def test_empty_bins_never_leak_inf_or_nan():
    for p, q in (([10, 0, 5], [3, 3, 3]), ([3, 3, 3], [10, 0, 5]), ([5, 0], [0, 5])):
        for fn in (kl_divergence, psi, js_distance, chisquare_pvalue):
            assert math.isfinite(fn(p, q)), fn.__name__


def numeric(values):
    values = np.asarray(values, float)
    return Side("numeric", len(values), sample=values)


def test_evidently_picks_by_type_and_size():
    small_ref, small_cur = numeric(RNG.normal(size=500)), numeric(RNG.normal(size=500))
    big_ref, big_cur = numeric(RNG.normal(size=5000)), numeric(RNG.normal(0.3, 1, 5000))
    assert column_drift("x", small_ref, small_cur, "evidently").method == "ks"
    result = column_drift("x", big_ref, big_cur, "evidently")
    assert result.method == "wasserstein" and result.drifted and result.threshold == 0.1
    cats = Side("categorical", 3000, counts={"a": 1000, "b": 2000})
    assert column_drift("c", cats, cats, "evidently").method == "js"
    few = Side("categorical", 30, counts={"a": 10, "b": 20})
    assert column_drift("c", few, few, "evidently").method == "chisquare"


def test_auto_picks_the_rules_tests_by_type_whatever_the_size():
    for n in (500, 5000):
        assert column_drift("x", numeric(RNG.normal(size=n)), numeric(RNG.normal(size=n))).method == "homogeneity"
    cats = Side("categorical", 3000, counts={"a": 1000, "b": 2000})
    assert column_drift("c", cats, cats).method == "levels"


def test_p_value_methods_drift_below_their_threshold():
    ref, cur = numeric(RNG.normal(size=800)), numeric(RNG.normal(1.0, 1, 800))
    result = column_drift("x", ref, cur, "ks")
    assert result.statistic < 0.05 and result.drifted
    same = column_drift("x", ref, numeric(RNG.normal(size=800)), "ks")
    assert not same.drifted


def test_unseen_categories_constant_columns_and_empty_sides():
    ref = Side("categorical", 100, counts={"a": 50, "b": 50})
    cur = Side("categorical", 100, counts={"a": 50, "z": 50})
    result = column_drift("c", ref, cur, "psi")
    assert result.bins == ["a", "b", "other"] and math.isfinite(result.statistic) and result.drifted
    assert "unseen in the reference, counted as other: z" in result.note
    constant = numeric(np.ones(2000))
    assert math.isfinite(column_drift("k", constant, numeric(np.ones(2000) * 2)).statistic)
    assert column_drift("e", numeric([]), numeric([1.0])) is None


def test_a_profile_reference_uses_binned_methods_and_says_so():
    frame = generate(3000, seed=1)
    sides = sides_from_profile(profile_frame(frame, 10, exclude=["clicked"]))
    cur = numeric(generate(3000, seed=3, drift=1.0)["visits_per_week"])
    result = column_drift("visits_per_week", sides["visits_per_week"], cur, "evidently")
    assert result.method == "js" and "stored profile" in result.note and result.drifted
    same = column_drift("visits_per_week", sides["visits_per_week"], numeric(generate(3000, seed=2)["visits_per_week"]),
                        "evidently")
    assert not same.drifted
    result = column_drift("visits_per_week", sides["visits_per_week"], cur)  # auto: the bins' homogeneity
    assert result.method == "homogeneity" and "stored profile" in result.note and result.drifted
    same = column_drift("visits_per_week", sides["visits_per_week"], numeric(generate(3000, seed=2)["visits_per_week"]))
    assert not same.drifted


def test_an_id_column_over_the_level_cap_on_one_side_is_left_out_not_called_missing(tmp_path):
    import json

    from aicd.data.scan import LEVEL_CAP
    from aicd.gha import Actions
    from aicd.steps import validate

    rng = np.random.default_rng(0)
    for name, rows in (("ref.csv", LEVEL_CAP - 500), ("cur.csv", LEVEL_CAP + 500)):  # ids: under, then over
        x = rng.normal(size=rows)
        lines = [f"user-{i},{v:.4f}" for i, v in enumerate(x)]
        (tmp_path / name).write_text("user_id,x\n" + "\n".join(lines) + "\n")
    out = validate.run({"data": str(tmp_path / "cur.csv"), "reference": str(tmp_path / "ref.csv"),
                        "report": str(tmp_path / "r.json")}, Actions({}), env=STEP_ENV)
    report = json.loads((tmp_path / "r.json").read_text())
    assert out["passed"] == "true"
    assert [d["column"] for d in report["drift"]] == ["x"]


def test_both_gates_judge_unseen_categories_alike_through_one_registry():
    """The data gate folds levels the reference never saw into `other`, as the model server counts
    them; on the same counts the production gate's drift check then gives the same statistic for
    every method the two share."""
    from aicd.config import LiveDriftConfig
    from aicd.data.drift import BINNED, METHODS
    from aicd.monitor.alerts import DRIFT_RULES
    from aicd.monitor.decide import drift_checks
    from aicd.monitor.metrics import Snapshot
    from aicd.serve.metrics import reference_ratios

    ref = Side("categorical", 1000, counts={"dark": 600, "light": 400})
    live = {"dark": 500, "light": 300, "oat": 150, "decaf": 50}  # two levels the reference never saw
    server_bins = {"dark": 500, "light": 300, "other": 200}  # what the model server exports for the same rows
    shares = reference_ratios({"kind": "categorical", "levels": ["dark", "light"], "counts": [600, 400]})
    snap = Snapshot(bins={"roast": server_bins}, reference={"roast": shares})
    for method in BINNED:
        offline = column_drift("roast", ref, Side("categorical", 1000, counts=live), method)
        online = drift_checks(snap, LiveDriftConfig(method, METHODS[method].threshold, 1))[0]
        assert offline.statistic == pytest.approx(online.candidate, rel=1e-9), method
    assert set(DRIFT_RULES) == {n for n, m in METHODS.items() if m.promql} == {"kl", "psi", "js"}
    assert all(m.p_value == (m.threshold == 0.05) for m in METHODS.values())


def test_unseen_levels_never_pool_with_a_real_level_named_other_and_booleans_match_their_profile():
    ref = Side("categorical", 100, counts={"car": 90, "other": 10})
    cur = Side("categorical", 100, counts={"car": 80, "other": 10, "yacht": 10})
    result = column_drift("purpose", ref, cur, "kl")
    assert result.bins == ["car", "other", "other (unseen)"] and result.current == [80.0, 10.0, 10.0]
    profile = Side("categorical", 100, counts={"False": 40, "True": 60})  # a stored profile's spelling
    scanned = Side("categorical", 100, counts={"false": 41, "true": 59})  # the scan's
    same = column_drift("homeowner", profile, scanned, "js")
    assert same.bins == ["false", "true"] and not same.drifted and "unseen" not in same.note


def test_drift_leaves_out_dropped_and_skipped_columns_and_dates(tmp_path):
    """The churn table: `model.drop-columns` and `skip: true` columns are not drift-tested, nor is a
    signup date (scanned as a date, never as a category), however much they move."""
    import json

    from aicd.examples.churn import churn_frame
    from aicd.gha import Actions
    from aicd.steps import validate

    ref, cur = churn_frame(3000, seed=1), churn_frame(3000, seed=2)
    cur["payment"] = "crypto"  # changed by design: skipped
    cur["tenure_days"] = cur["tenure_days"] * 10  # dropped from the model: not a drift concern
    ref.to_csv(tmp_path / "ref.csv", index=False)
    cur.to_csv(tmp_path / "cur.csv", index=False)
    (tmp_path / "aicd.yml").write_text("data:\n  label: churned\n  min-positive-share: 0.01\n"
                                       "  drift: {columns: {payment: {skip: true}}}\n"
                                       "model: {drop-columns: [tenure_days]}\n")
    validate.run({"data": str(tmp_path / "cur.csv"), "reference": str(tmp_path / "ref.csv"),
                  "config": str(tmp_path / "aicd.yml"), "report": str(tmp_path / "r.json")}, Actions({}), env=STEP_ENV)
    tested = {d["column"] for d in json.loads((tmp_path / "r.json").read_text())["drift"]}
    assert tested and not tested & {"payment", "tenure_days", "signup_date", "churned", "customer_id"}
    assert {"usage_hours", "plan", "region"} <= tested


def test_a_wide_column_in_a_stored_profile_keeps_its_top_levels_and_pools_the_rest_for_both_gates():
    """The profile caps a categorical at the levels the model encodes; the rest are one `other` bin
    that the data gate and the server both count unseen and rare values into, with its real share."""
    import pandas as pd

    from aicd.bins import MAX_LEVELS
    from aicd.data.drift import Side, column_drift, profile_frame, sides_from_profile
    from aicd.serve.metrics import reference_ratios

    levels = [f"r{i:03d}" for i in range(200)]
    rng = np.random.default_rng(0)
    ref = pd.DataFrame({"region": rng.choice(levels, 20_000, p=np.r_[[0.009] * 100, [0.001] * 100])})
    profile = profile_frame(ref)["region"]
    assert len(profile["levels"]) == MAX_LEVELS and profile["other"] > 0
    assert reference_ratios(profile)["other"] == pytest.approx(profile["other"] / 20_000)
    side = sides_from_profile({"region": profile})["region"]
    same = pd.Series(rng.choice(levels, 20_000, p=np.r_[[0.009] * 100, [0.001] * 100])).value_counts()
    result = column_drift("region", side, Side("categorical", 20_000, counts=same.to_dict()), "js")
    assert not result.drifted and f"not among the profile's {MAX_LEVELS} kept levels, counted as other" in result.note
