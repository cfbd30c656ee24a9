"""The production gate's statistics and decisions, on hand-made snapshots (no servers)."""

from dataclasses import replace as with_

import numpy as np
import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from aicd.config import LiveDriftConfig, MonitorConfig
from aicd.monitor.decide import GROUPS, Evaluation, decide, drift_checks, evaluate
from aicd.monitor.metrics import Snapshot, parse_snapshot
from aicd.monitor.stats import difference_interval, rate_interval
from aicd.serve.metrics import LATENCY_BUCKETS
from aicd.steps.monitor.summary import render_summary

CFG = MonitorConfig()
REFERENCE = {"roast": {"dark": 0.5, "light": 0.5, "other": 0.0}}


def snap(requests=2000, errors=0, correct=1900, incorrect=100, latency=0.01, converted=0, not_converted=0,
         bins=None, version="2", variant="canary"):
    return Snapshot(requests=requests, errors=errors, correct=correct, incorrect=incorrect, converted=converted,
                    not_converted=not_converted, latency_buckets=buckets(latency, requests),
                    bins=bins if bins is not None else {"roast": {"dark": 1000, "light": 1000}},
                    reference=REFERENCE, model={"name": "m", "version": version, "variant": variant})


def buckets(latency, n):
    """A cumulative histogram on the server's buckets with every request taking ``latency`` seconds."""
    return {le: n if le >= latency else 0 for le in (*LATENCY_BUCKETS, float("inf"))}


def judge(mode, cfg=CFG, **groups):
    return decide([evaluate(groups, mode, cfg)], cfg)


# -- intervals -------------------------------------------------------------------------------------
def test_rate_interval_contains_the_estimate_and_narrows_with_data():
    small, large = rate_interval(90, 100, 0.01), rate_interval(9000, 10000, 0.01)
    assert small.low < 0.9 < small.high and large.low < 0.9 < large.high
    assert (large.high - large.low) < (small.high - small.low) / 5
    assert rate_interval(0, 0, 0.01).low == 0 and rate_interval(0, 0, 0.01).high == 1


def test_zero_errors_still_have_an_interval_above_zero():
    iv = rate_interval(0, 500, 0.01)
    assert iv.low == 0 and 0 < iv.high < 0.05


def test_difference_interval_is_b_minus_a():
    iv = difference_interval(400, 10000, 500, 10000, 0.05)
    assert iv.estimate == pytest.approx(-0.01) and iv.low < -0.01 < iv.high


def test_peeking_at_every_look_keeps_false_alarms_below_alpha():
    """The always-valid property, checked: 300 A/A experiments looked at 100 times each."""
    rng, alarms = np.random.default_rng(7), 0
    for _ in range(300):
        a, b = rng.binomial(1, 0.9, 10000).cumsum(), rng.binomial(1, 0.9, 10000).cumsum()
        alarms += any(not (iv.low <= 0 <= iv.high) for n in range(100, 10001, 100)
                      for iv in [difference_interval(int(b[n - 1]), n, int(a[n - 1]), n, 0.05)])
    assert alarms / 300 <= 0.05


# -- the served version alone ------------------------------------------------------------------------
def test_a_healthy_model_is_promoted():
    assert judge("none", served=snap()).decision == "promote"


def test_low_traffic_holds_and_says_not_enough_samples():
    d = judge("none", served=snap(requests=40, correct=30, incorrect=5))
    assert d.decision == "hold" and "not enough samples" in d.reason


def test_clearly_bad_accuracy_rolls_back():
    d = judge("none", served=snap(correct=1400, incorrect=600))
    assert d.decision == "rollback" and "online-accuracy" in d.reason


def test_accuracy_near_the_threshold_is_inconclusive_not_a_coin_flip():
    d = judge("none", served=snap(correct=170, incorrect=30))  # 0.85 observed
    assert d.decision == "hold"
    assert [c.verdict for c in d.evaluation.checks if c.metric == "online-accuracy"] == ["inconclusive"]


def test_errors_and_latency_roll_back():
    assert judge("none", served=snap(errors=200)).decision == "rollback"
    assert judge("none", served=snap(latency=2.5)).decision == "rollback"


# -- canary against stable ---------------------------------------------------------------------------
def big(**kw):
    return snap(requests=10000, correct=9500, incorrect=500, **kw)


def test_a_canary_as_good_as_stable_is_promoted_once_there_is_enough_evidence():
    assert judge("canary", stable=snap(variant="stable", version="1"), canary=snap()).decision == "hold"
    d = judge("canary", stable=big(variant="stable", version="1"), canary=big())
    assert d.decision == "promote", d.reason
    assert {c.test for c in d.evaluation.checks} >= {"absolute", "vs stable"}


def test_a_canary_worse_than_stable_rolls_back_even_above_the_absolute_threshold():
    stable = snap(variant="stable", version="1", correct=1960, incorrect=40)  # 0.98
    d = judge("canary", stable=stable, canary=snap(correct=1800, incorrect=200))  # 0.90: above 0.85, 8 points down
    assert d.decision == "rollback"
    failed = [(c.metric, c.test) for c in d.evaluation.failed]
    assert failed == [("online-accuracy", "vs stable")]


def test_a_canary_with_low_traffic_holds():
    d = judge("canary", stable=snap(variant="stable"), canary=snap(requests=30, correct=20, incorrect=5))
    assert d.decision == "hold" and "not enough samples" in d.reason


def test_canary_conversion_is_judged_only_where_reported():
    checks = judge("canary", stable=snap(variant="stable"), canary=snap()).evaluation.checks
    assert "conversion" not in {c.metric for c in checks}
    checks = judge("canary", stable=snap(variant="stable", converted=100, not_converted=1900),
                   canary=snap(converted=100, not_converted=1900)).evaluation.checks
    assert "conversion" in {c.metric for c in checks}


def test_consecutive_failures_hold_before_rolling_back():
    cfg = MonitorConfig(consecutive_failures=2, evaluations=3)
    bad = evaluate({"served": snap(errors=300)}, "none", cfg)
    first = decide([bad], cfg)
    assert first.decision == "hold" and "1 of 2 consecutive failures" in first.reason
    assert decide([bad, bad], cfg).decision == "rollback"
    good = evaluate({"served": snap()}, "none", cfg)
    assert decide([bad, good, bad], cfg).decision == "hold"


# -- A/B: the story's case -------------------------------------------------------------------------
def ab(n, conv_a, conv_b):
    a = snap(variant="a", version="1", requests=n, correct=int(n * 0.95), incorrect=n - int(n * 0.95),
             converted=int(n * conv_a), not_converted=n - int(n * conv_a))
    b = snap(variant="b", version="2", requests=n, correct=int(n * 0.95), incorrect=n - int(n * 0.95),
             converted=int(n * conv_b), not_converted=n - int(n * conv_b))
    return judge("ab", a=a, b=b)


def test_ab_accuracy_fine_but_conversion_down_rolls_back_once_the_evidence_is_there():
    early = ab(2000, 0.05, 0.04)
    assert early.decision == "hold"  # a 1-point drop in 2,000 users each is not evidence yet
    late = ab(40000, 0.05, 0.04)
    assert late.decision == "rollback"
    conversion = next(c for c in late.evaluation.checks if c.metric == "conversion")
    assert conversion.verdict == "fail" and conversion.interval[1] < 0
    assert "relative lift -20.0%" in conversion.note
    assert all(c.verdict == "pass" for c in late.evaluation.checks if c.metric == "online-accuracy")


def test_ab_better_conversion_is_promoted_and_equal_conversion_holds():
    assert ab(40000, 0.04, 0.05).decision == "promote"
    assert ab(40000, 0.05, 0.05).decision == "hold"


# -- drift -----------------------------------------------------------------------------------------
def test_drifted_traffic_asks_for_retraining():
    drifted = snap(bins={"roast": {"dark": 1700, "light": 300, "missing": 50}})
    d = judge("none", served=drifted)
    assert d.decision == "retrain" and "roast" in d.reason
    check = d.evaluation.drift[0]
    expected = 0.5 * np.log(0.5 / 0.85) + 0.5 * np.log(0.5 / 0.15)  # KL(reference || live)
    assert check.candidate == pytest.approx(expected, rel=1e-3)  # ("other" has the smoothing share 1e-4)


def test_unseen_levels_count_against_the_reference_and_missing_does_not():
    checks = drift_checks(snap(bins={"roast": {"dark": 500, "light": 500, "decaf": 1000}}), LiveDriftConfig())
    assert checks[0].verdict == "drift" and checks[0].note == "largest shift in bin decaf"
    checks = drift_checks(snap(bins={"roast": {"dark": 500, "light": 500, "missing": 5000}}), LiveDriftConfig())
    assert checks[0].verdict == "pass"


def test_drift_needs_enough_values_and_a_failure_beats_drift():
    few = drift_checks(snap(bins={"roast": {"dark": 90, "light": 10}}), LiveDriftConfig())
    assert few[0].verdict == "inconclusive"
    both = judge("none", served=snap(errors=300, bins={"roast": {"dark": 1900, "light": 100}}))
    assert both.decision == "rollback"


@pytest.mark.parametrize("method", ["psi", "js", "chisquare"])
def test_every_drift_method_flags_a_large_shift(method):
    cfg = LiveDriftConfig(method=method, threshold=0.05 if method == "chisquare" else 0.1)
    assert drift_checks(snap(bins={"roast": {"dark": 1900, "light": 100}}), cfg)[0].verdict == "drift"
    assert drift_checks(snap(bins={"roast": {"dark": 1005, "light": 995}}), cfg)[0].verdict == "pass"


# -- reading and reporting -------------------------------------------------------------------------
def test_parse_the_servers_metric_names_by_variant():
    registry = CollectorRegistry()
    labels = ["model", "version", "variant"]
    requests = Counter("aicd_requests", "", ["route", "status", *labels], registry=registry)
    feedback = Counter("aicd_feedback", "", ["outcome", *labels], registry=registry)
    latency = Histogram("aicd_request_latency_seconds", "", labels, buckets=(0.01, 0.1), registry=registry)
    Gauge("aicd_model_info", "", ["model", "version", "run_id", "variant", "runtime"],
          registry=registry).labels("m", "2", "r", "canary", "onnx").set(1)
    canary, stable = ("m", "2", "canary"), ("m", "1", "stable")
    requests.labels("predict", "200", *canary).inc(97)
    requests.labels("predict", "500", *canary).inc(3)
    requests.labels("feedback", "200", *canary).inc(50)
    requests.labels("predict", "200", *stable).inc(1000)
    feedback.labels("correct", *canary).inc(45)
    feedback.labels("incorrect", *canary).inc(5)
    for _ in range(90):
        latency.labels(*canary).observe(0.005)
    for _ in range(10):
        latency.labels(*canary).observe(0.05)
    s = parse_snapshot(generate_latest(registry).decode(), {"variant": "canary"})
    assert (s.requests, s.errors, s.correct, s.incorrect) == (100, 3, 45, 5)
    assert s.latency_quantile(0.5) == 0.01 and s.latency_quantile(0.95) == 0.1
    assert s.slower_than(0.01) == 10 and s.slower_than(0.005) == 10  # judged on the 0.01 bucket
    assert s.model["version"] == "2"
    assert parse_snapshot(generate_latest(registry).decode(), {"variant": "stable"}).requests == 1000


def test_summary_has_one_table_per_check_with_both_versions():
    d = judge("canary", stable=big(variant="stable", version="1"), canary=big())
    text = render_summary(d, "canary", {"stable": big(variant="stable", version="1"), "canary": big()},
                          {"promoted": "models:/m/2"})
    assert "## ✅ aicd production gate — promote" in text
    for title in ("### Online accuracy (share", "### Error rate (share", "### Latency (share of /predict slower",
                  "### Drift of live traffic from the training data — stable and canary pooled", "### Samples"):
        assert title in text
    assert "| test | stable | canary | difference | interval | threshold | samples (smaller side) | verdict |" in text
    assert "| /predict requests | 10000 | 10000 |" in text  # both sides' counts, not just the smaller one
    assert "version 2 (canary) against version 1 (stable)" in text
    assert "**Promoted:** models:/m/2 is now champion" in text


def test_the_summary_says_how_it_judged_and_whether_anything_was_rolled_back():
    from aicd.steps.monitor.summary import Working

    bad = judge("none", served=snap(correct=1000, incorrect=1000))
    assert bad.decision == "rollback"
    snaps = {"served": snap(correct=1000, incorrect=1000)}
    working = Working(0.99, 3, "since the served model started, 12.0 min ago", "Prometheus at http://p", 2, "fail")
    text = render_summary(bad, "none", snaps, {}, working)
    assert "— rollback decided; nothing was rolled back (on-failure: fail, the step fails)" in text
    assert "Confidence 0.99 family-wise over every look, split over 3 tests: each interval at 0.9967" in text
    assert "Counted since the served model started, 12.0 min ago, from Prometheus at http://p" in text
    assert "A rollback needs 2 failing evaluations in a row; on-failure: fail." in text
    report = render_summary(bad, "none", snaps, {}, Working(0.99, 3, "x", "y", 1, "report"))
    assert "(on-failure: report, the step passes)" in report and "needs one failing evaluation" in report
    done = render_summary(bad, "none", snaps, {"rolled_back": "revision 2 → revision 1"}, working)
    assert "— rollback, carried out" in done and "**Rolled back:** revision 2 → revision 1" in done


def test_evidence_is_json_safe():
    import json

    d = decide([Evaluation(judge("none", served=snap(requests=0, correct=0, incorrect=0)).evaluation.checks)], CFG)
    json.dumps(d.evidence(), allow_nan=False)


def test_a_stable_p95_beyond_the_last_bucket_is_not_a_free_pass():
    slow = snap(variant="stable", latency=10.0)  # every request in +Inf
    decision = judge("canary", stable=slow, canary=snap(latency=10.0))
    absolute = next(c for c in decision.evaluation.checks if c.metric == "latency-p95" and c.test == "absolute")
    assert absolute.verdict == "fail" and "p95 > 5000 ms" in absolute.note
    assert decision.decision == "rollback" and judge("none", served=snap(latency=10.0)).decision == "rollback"


def test_the_latency_comparison_means_the_same_at_every_look():
    """Relative latency is judged on the configured limit, whatever stable's p95 is at this look; the
    values are shares of slow requests (the unit of the interval), the p95s are in the note, in ms."""
    tests = set()
    for stable_latency in (0.0007, 0.02, 0.3):
        check = next(c for c in judge("canary", stable=snap(variant="stable", latency=stable_latency),
                                      canary=snap(latency=0.02)).evaluation.checks
                     if c.metric == "latency-p95" and c.test.startswith("vs"))
        tests.add(check.test)
        assert 0 <= check.baseline <= 1 and 0 <= check.candidate <= 1
        assert check.note.startswith("p95 stable <= ") and ", canary <= 25 ms" in check.note  # each side named
    assert tests == {"vs stable: share slower than 500 ms"}
    served = next(c for c in judge("none", served=snap(latency=0.02)).evaluation.checks if c.metric == "latency-p95")
    assert served.candidate == 0.0 and served.note.startswith("p95 <= 25 ms")
    assert served.threshold == "<= 0.05 slower than 500 ms (p95 <= 500 ms)"


def test_drift_has_an_overall_line_and_says_when_there_is_no_reference():
    checks = judge("none", served=snap(bins={"roast": {"dark": 1700, "light": 300}})).evaluation.drift
    overall = checks[-1]
    assert overall.metric == "drift:overall" and overall.verdict == "drift"
    assert overall.note == "1 of 1 features drifted; worst: roast"
    bare = Snapshot(requests=10, model={"name": "m", "version": "1"})
    [only] = drift_checks(bare, LiveDriftConfig())
    assert only.verdict == "inconclusive" and "no reference profile" in only.note


def test_a_group_served_by_two_versions_at_once_is_refused():
    from aicd.errors import UserError
    from aicd.monitor.sources import one_version

    mixed = Snapshot(versions={"1", "2"})
    with pytest.raises(UserError, match=r"served by several versions at once \(1, 2\)"):
        one_version("served", mixed, "Prometheus at http://x")


def test_an_inconclusive_check_says_how_many_samples_would_decide_it():
    """The count it names is the one at which the interval, at today's rates, clears the tolerance:
    one tenth fewer and it would not yet."""
    from aicd.monitor.stats import difference_interval, difference_needed, rate_interval, rate_needed

    alpha = 0.01 / 6  # a canary without business outcomes: 6 tests share the budget
    needed = difference_needed(2760, 3000, 2790, 3000, alpha, -0.02)  # canary 0.92 vs stable 0.93
    assert needed and needed > 3000

    def low_at(m):
        return difference_interval(round(0.92 * m), m, round(0.93 * m), m, alpha).low

    assert low_at(needed) >= -0.0201 and low_at(int(needed * 0.9)) < -0.02
    assert difference_needed(2790, 3000, 2790 + 60, 3000, alpha, -0.02) is None  # exactly on the tolerance
    n = rate_needed(870, 1000, alpha, 0.85)
    assert rate_interval(round(0.87 * n), n, alpha).low >= 0.8499 > rate_interval(round(0.87 * n * 0.9),
                                                                                    int(n * 0.9), alpha).low
    stable, canary = snap(variant="stable", correct=2790, incorrect=210), snap(correct=2760, incorrect=240)
    check = next(c for c in judge("canary", stable=stable, canary=canary).evaluation.checks
                 if c.metric == "online-accuracy" and c.test == "vs stable")
    assert check.verdict == "inconclusive"
    assert f"about {needed - 3000:,} more feedback labels on the smaller side decide it" in check.note


def test_the_summary_turns_the_samples_still_needed_into_time_at_the_current_traffic():
    from aicd.steps.monitor.summary import Working

    stable, canary = snap(variant="stable", correct=2790, incorrect=210), snap(correct=2760, incorrect=240)
    decision = judge("canary", stable=stable, canary=canary)
    check = next(c for c in decision.evaluation.checks if c.metric == "online-accuracy" and c.test == "vs stable")
    assert check.needed and check.needed > check.samples == 3000
    working = Working(0.99, 7, "x", "y", 1, "fail", elapsed=600.0)  # 3,000 labels in 10 minutes
    text = render_summary(decision, "canary", {"stable": stable, "canary": canary}, {}, working)
    minutes = (check.needed - 3000) * 600 / 3000 / 60
    assert f"at the current traffic about {minutes:.0f} min more" in text
    assert "at the current traffic" not in render_summary(decision, "canary", {"stable": stable, "canary": canary},
                                                           {}, Working(0.99, 7, "x", "y", 1, "fail"))


def test_the_error_budget_is_split_over_exactly_the_checks_built():
    """The family-wise guarantee: each check's interval is at (1 - confidence) / (the checks actually
    built) — 3 alone, 6 for a canary without outcomes, 7 with conversion — never a hand count."""
    from aicd.monitor.stats import rate_interval

    with_outcomes = {"converted": 100, "not_converted": 1900}
    cases = [("none", {"served": snap()}, 3),
             ("canary", {"stable": snap(variant="stable"), "canary": snap()}, 6),
             ("canary", {"stable": snap(variant="stable", **with_outcomes), "canary": snap(**with_outcomes)}, 7),
             ("ab", {"a": snap(variant="a", **with_outcomes), "b": snap(variant="b", **with_outcomes)}, 7)]
    for mode, groups, tests in cases:
        evaluation = evaluate(groups, mode, CFG)
        assert len(evaluation.checks) == tests
        assert evaluation.alpha * tests == pytest.approx(1 - CFG.confidence)
        served = groups[GROUPS[mode][1]]
        accuracy = next(c for c in evaluation.checks if c.metric == "online-accuracy" and c.test == "absolute")
        iv = rate_interval(served.correct, served.feedback, (1 - CFG.confidence) / tests)
        assert accuracy.interval == (iv.low, iv.high)


# -- paired comparison (the canary's shadow is stable's model) ---------------------------------------
def pairs_after(rng, n, shares):
    """Cumulative Pairs(only_b, only_a, both, neither) after each of ``n`` labelled requests."""
    from aicd.monitor.stats import Pairs

    cells = rng.multinomial(1, shares, n).cumsum(axis=0)  # both, b only, a only, neither
    return lambda m: Pairs(int(cells[m - 1, 1]), int(cells[m - 1, 2]), int(cells[m - 1, 0]), int(cells[m - 1, 3]))


def test_a_paired_interval_is_valid_under_peeking_and_narrower_when_the_models_mostly_agree():
    """At a true difference of exactly the tolerance, a paired check fails at most alpha of the time
    at every look; and on the same labels it is as narrow as an unpaired one on twice the labels."""
    from aicd.monitor.stats import paired_interval

    rng, alarms = np.random.default_rng(11), 0
    for _ in range(300):  # accuracy 0.90 vs 0.92: b is worse by 0.02; they disagree on 6 %
        at = pairs_after(rng, 8000, [0.87, 0.02, 0.04, 0.07])
        alarms += any(paired_interval(at(n), 0.05).high < -0.02 for n in range(100, 8001, 100))
    assert alarms / 300 <= 0.05
    same = pairs_after(np.random.default_rng(3), 4000, [0.89, 0.03, 0.03, 0.05])(4000)
    paired = paired_interval(same, 0.01)
    a, b = same.both + same.only_a, same.both + same.only_b
    unpaired = difference_interval(b, same.n, a, same.n, 0.01)
    # the width falls as 1/sqrt(n): a ratio of widths r is r² times fewer labels for the same width
    assert ((unpaired.high - unpaired.low) / (paired.high - paired.low)) ** 2 > 2
    assert paired.estimate == pytest.approx(unpaired.estimate)


def paired_canary(both, served, shadow, neither, shadow_version="1"):
    correct = both + served
    return replace_snapshot(snap(requests=both + served + shadow + neither, correct=correct,
                                 incorrect=shadow + neither),
                            paired={"both": both, "served": served, "shadow": shadow, "neither": neither},
                            shadow_versions={shadow_version})


def replace_snapshot(s, **fields):
    from dataclasses import replace

    return replace(s, **fields)


def test_the_gate_judges_accuracy_on_the_same_requests_when_the_canarys_shadow_is_stable():
    stable = snap(requests=4000, correct=3680, incorrect=320, variant="stable", version="1")  # 0.92
    canary = paired_canary(3560, 120, 120, 200)  # 0.92 against its shadow's 0.92, 6 % disagreement
    unpaired = judge("canary", stable=stable, canary=replace_snapshot(canary, paired={}, shadow_versions=set()))
    paired = judge("canary", stable=stable, canary=canary)
    before = next(c for c in unpaired.evaluation.checks if c.metric == "online-accuracy" and c.test != "absolute")
    after = next(c for c in paired.evaluation.checks if c.metric == "online-accuracy" and c.test != "absolute")
    assert (before.test, before.verdict) == ("vs stable", "inconclusive")
    assert (after.test, after.verdict, after.samples) == ("vs stable, paired", "pass", 4000)
    assert "disagree on 6.0%" in after.note
    assert len(paired.evaluation.checks) == len(unpaired.evaluation.checks)  # the same budget split
    worse = judge("canary", stable=stable, canary=paired_canary(1650, 20, 190, 140))  # 0.835 vs 0.92 on the same
    assert worse.decision == "rollback"
    assert ("online-accuracy", "vs stable, paired") in [(c.metric, c.test) for c in worse.evaluation.failed]


def test_pairs_against_another_version_than_stable_are_not_used_and_the_note_says_why():
    stable = snap(variant="stable", version="1")
    d = judge("canary", stable=stable, canary=paired_canary(1780, 60, 60, 100, shadow_version="0"))
    check = next(c for c in d.evaluation.checks if c.metric == "online-accuracy" and c.test != "absolute")
    assert check.test == "vs stable"
    assert "paired labels unused: the candidate's shadow is version 0, the baseline serves 1" in check.note


def test_a_run_of_agreement_in_a_small_sample_claims_no_more_than_an_exact_bound():
    """0 disagreements in 300 pairs: an exact (Clopper-Pearson) bound at the per-test level still
    allows a disagreement rate, hence an accuracy gap, of 1 - alpha^(1/300) — the interval must not
    pass a tolerance inside it."""
    from aicd.monitor.stats import Pairs, paired_interval

    alpha = 0.01 / 6
    exact = 1 - alpha ** (1 / 300)
    iv = paired_interval(Pairs(0, 0, 290, 10), alpha)
    assert iv.low < -exact and iv.high > exact


def test_the_samples_needed_follow_the_regularised_variance_as_it_shrinks():
    """Zero errors on both sides: the projection from an early look lands near where the check really
    passes (it once assumed the early, regularised variance would stay, and overstated it fourfold)."""
    from aicd.monitor.stats import difference_needed

    alpha, n = 0.01 / 6, 100
    while difference_interval(0, n, 0, n, alpha).high > 0.005:
        n += 1
    for early in (150, 400, 900):
        assert abs(difference_needed(0, early, 0, early, alpha, 0.005) - n) < 0.1 * n


def test_online_precision_and_recall_of_the_positive_class_are_judged_when_configured():
    """A model that almost never says "fraud" is accurate on a 5 % label; recall sees it. The checks
    exist only when configured, and each takes its share of the error budget."""

    from aicd.monitor.decide import evaluate

    snap = Snapshot(requests=4000, correct=3800, incorrect=200, latency_buckets={0.005: 4000.0, float("inf"): 4000.0},
                    confusion={("positive", "positive"): 10, ("positive", "negative"): 190,
                               ("negative", "positive"): 5, ("negative", "negative"): 3795})
    plain = evaluate({"served": snap}, "none", CFG)
    assert "online-recall" not in [c.metric for c in plain.checks]
    strict = evaluate({"served": snap}, "none", with_(CFG, min_recall=0.5, min_precision=0.5))
    checks = {c.metric: c for c in strict.checks}
    assert checks["online-recall"].verdict == "fail" and checks["online-precision"].verdict == "inconclusive"
    assert "15 labelled positive predictions of 100 needed" in checks["online-precision"].note
    assert strict.alpha == pytest.approx(plain.alpha * len(plain.checks) / len(strict.checks))


# -- regressors and F1 -------------------------------------------------------------------------------
def regressor(errors, version="2", variant="canary", requests=2000):
    """A regressor's snapshot whose labelled rows had these errors."""
    e = np.abs(np.asarray(errors, dtype=float))
    return Snapshot(requests=requests, latency_buckets=buckets(0.01, requests), model={
        "name": "m", "version": version, "variant": variant, "task": "regression"},
        error_sums={"count": float(e.size), "abs": float(e.sum()), "squared": float((e ** 2).sum()),
                    "fourth": float((e ** 4).sum())})


def test_a_regressor_is_judged_on_its_online_error_not_on_an_accuracy_it_cannot_have():
    rng = np.random.default_rng(3)
    good = regressor(rng.normal(0, 1.0, 3000))  # MAE ~0.80, RMSE ~1.0
    plain = evaluate({"served": good}, "none", CFG)
    assert [c.metric for c in plain.checks] == ["error-rate", "latency-p95"]  # no accuracy: it would hold forever
    assert decide([plain], CFG).decision == "promote"
    strict = with_(CFG, max_mae=1.0, max_rmse=1.2)
    checks = {c.metric: c for c in evaluate({"served": good}, "none", strict).checks}
    assert checks["online-mae"].verdict == "pass" and checks["online-rmse"].verdict == "pass"
    assert checks["online-mae"].candidate == pytest.approx(0.8, abs=0.05)
    assert checks["online-rmse"].candidate == pytest.approx(1.0, abs=0.05)
    low, high = checks["online-rmse"].interval
    assert low < checks["online-rmse"].candidate < high <= 1.2
    bad = {c.metric: c for c in evaluate({"served": regressor(rng.normal(0, 2.0, 3000))}, "none", strict).checks}
    assert bad["online-mae"].verdict == "fail" and bad["online-rmse"].verdict == "fail"
    few = {c.metric: c for c in evaluate({"served": regressor([1.0] * 20)}, "none", strict).checks}
    assert few["online-mae"].verdict == "inconclusive" and "20 labelled rows of 100 needed" in few["online-mae"].note


def test_a_regressor_canary_may_not_err_more_than_the_tolerance_above_stable():
    rng = np.random.default_rng(4)
    stable = regressor(rng.normal(0, 1.0, 4000), version="1", variant="stable")
    same = regressor(rng.normal(0, 1.0, 4000))
    worse = regressor(rng.normal(0, 1.5, 4000))  # MAE 50 % higher
    check = next(c for c in evaluate({"stable": stable, "canary": worse}, "canary", CFG).checks
                 if c.metric == "online-mae")
    assert check.verdict == "fail" and check.difference == pytest.approx(0.4, abs=0.08)
    assert check.interval[0] < check.difference < check.interval[1]
    assert judge("canary", stable=stable, canary=worse).decision == "rollback"
    assert judge("canary", stable=stable, canary=same).decision == "promote"


def test_the_online_mae_interval_keeps_its_error_rate_under_peeking():
    """200 streams whose true MAE sits exactly on the limit, looked at every 100 rows up to 3,000:
    a wrong "fail" (the whole interval above a limit the truth meets) stays within alpha."""
    from aicd.monitor.stats import Moments, mean_interval

    rng, alpha, wrong = np.random.default_rng(5), 0.05, 0
    for _ in range(200):
        errors = rng.exponential(1.0, 3000)  # MAE 1, heavily skewed
        sums, sq = np.cumsum(errors), np.cumsum(errors ** 2)
        wrong += any(mean_interval(Moments(n, sums[n - 1], sq[n - 1]), alpha).low > 1.0 for n in range(100, 3001, 100))
    assert wrong / 200 <= alpha


def test_online_f1_is_judged_through_the_jaccard_rate_it_rises_with():
    confusion = {("positive", "positive"): 300, ("positive", "negative"): 100, ("negative", "positive"): 100,
                 ("negative", "negative"): 3500}  # precision = recall = F1 = 0.75
    snap = Snapshot(requests=4000, correct=3800, incorrect=200, latency_buckets=buckets(0.01, 4000),
                    confusion=confusion, model={"name": "m", "version": "2", "variant": "served"})
    check = next(c for c in evaluate({"served": snap}, "none", with_(CFG, min_f1=0.6)).checks
                 if c.metric == "online-f1")
    assert check.candidate == pytest.approx(0.75) and check.verdict == "pass" and check.threshold == ">= 0.6"
    assert check.interval[0] < 0.75 < check.interval[1] <= 1
    strict = next(c for c in evaluate({"served": snap}, "none", with_(CFG, min_f1=0.85)).checks
                  if c.metric == "online-f1")
    assert strict.verdict == "fail"
    text = render_summary(decide([evaluate({"served": snap}, "none", with_(CFG, min_f1=0.6))], CFG), "none",
                          {"served": snap}, {})
    assert "Online F1" in text and "0.7500" in text


def test_a_wide_column_is_judged_only_with_enough_values_per_bin_and_then_its_own_traffic_passes():
    """Traffic drawn from the training shares of a 200-level column: at 803 values many levels are empty
    and KL reads drift (0.15 on a real adopter's column); the gate waits for 10 values a bin, and then passes."""
    rng = np.random.default_rng(0)
    shares = rng.dirichlet(np.full(200, 2.0))
    levels = [f"m{i:03d}" for i in range(200)]
    reference = {"merchant": {**dict(zip(levels, shares.tolist(), strict=True)), "other": 0.0}}

    def judged(n):
        counts = np.bincount(rng.choice(200, size=n, p=shares), minlength=200)
        live = {"merchant": {lv: int(c) for lv, c in zip(levels, counts, strict=True) if c}}
        return drift_checks(with_(snap(bins=live), reference=reference), LiveDriftConfig())[0]

    sparse = judged(803)
    assert sparse.verdict == "inconclusive" and "2,010 needed (10 per bin of its 201)" in sparse.note
    from aicd.data.drift import METHODS
    counts = np.bincount(rng.choice(200, size=803, p=shares), minlength=200)
    assert METHODS["kl"].statistic([*shares, 1e-4], [*counts, 0]) > 0.1  # what judging it then would have said
    assert judged(5000).verdict == "pass"
