import numpy as np
import pytest

from aicd.errors import ConfigError
from aicd.model.compare import compare_models
from aicd.model.train import Evaluation
from aicd.tenancy import check_tenant, owns, qualified_name


def evaluation(truth, score):
    return Evaluation("classification", truth, (score > 0.5).astype(int), np.column_stack([1 - score, score]), [0, 1])


@pytest.fixture
def holdout():
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 2, 800)
    good = np.clip(truth * 0.5 + rng.random(800) * 0.5, 0.01, 0.99)
    bad = np.clip(truth * 0.15 + rng.random(800) * 0.85, 0.01, 0.99)
    return truth, good, bad


def test_a_model_against_itself_is_non_inferior_with_an_interval_around_zero(holdout):
    truth, good, _ = holdout
    (c,) = compare_models(evaluation(truth, good), evaluation(truth, good), ["accuracy"], 0.01, False, 300, 0.95, 0)
    assert c.difference == 0 and c.low == 0 and c.high == 0 and c.passed and c.verdict == "non-inferior"
    (c,) = compare_models(evaluation(truth, good), evaluation(truth, good), ["accuracy"], 0.01, True, 300, 0.95, 0)
    assert not c.passed  # improvement required, none shown


def test_a_worse_candidate_is_inferior_and_orientation_follows_the_metric(holdout):
    truth, good, bad = holdout
    results = compare_models(evaluation(truth, bad), evaluation(truth, good), ["accuracy", "log_loss"], 0.01, False,
                             300, 0.95, 0)
    for c in results:
        assert c.difference < 0 and c.high < 0 and c.verdict == "inferior" and not c.passed
    better = compare_models(evaluation(truth, good), evaluation(truth, bad), ["log_loss"], 0.01, True, 300, 0.95, 0)
    assert better[0].low > 0 and better[0].passed and better[0].verdict == "superior"


def test_the_bootstrap_is_seeded(holdout):
    truth, good, bad = holdout
    runs = [compare_models(evaluation(truth, good), evaluation(truth, bad), ["f1"], 0.01, False, 200, 0.9, 7)
            for _ in range(2)]
    assert runs[0] == runs[1]


def test_tenant_ids_and_namespaces():
    assert qualified_name("acme", "coffee") == "acme__coffee" and qualified_name("", "coffee") == "coffee"
    assert owns("acme", "acme__coffee") and not owns("acme", "globex__coffee") and not owns("acme", "coffee")
    assert owns("", "coffee") and not owns("", "acme__coffee")
    assert not owns("acme", "acme-corp__coffee")
    for bad in ("../x", "a/b", "ACME", "-a", "a-", "a_b", "a" * 41, "a..b"):
        with pytest.raises(ConfigError):
            check_tenant(bad)
