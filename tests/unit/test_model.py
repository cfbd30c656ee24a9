import numpy as np
import pytest
from sklearn import metrics as skm

from aicd.config import ModelConfig, parse_config
from aicd.errors import ConfigError
from aicd.examples.coffee import generate
from aicd.model.gate import check_thresholds
from aicd.model.metrics import accuracy_from_confusion, classification_metrics, regression_metrics
from aicd.model.train import build_estimator, load_entrypoint, split, train_and_evaluate


def test_the_storys_accuracy_example():
    assert accuracy_from_confusion(tp=80, fp=20, tn=190, fn=10) == pytest.approx(0.90)


def test_the_storys_mse_example():
    # Five daily coffee-sales forecasts off by 10, 20, 10, 20 and 10 cups: MSE 1100 / 5 = 220.
    actual = [120, 80, 150, 95, 60]
    forecast = [110, 100, 140, 115, 70]
    assert regression_metrics(actual, forecast)["mse"] == pytest.approx(220)


def test_classification_metrics_agree_with_scikit_learn():
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 2, 500)
    score = np.clip(truth * 0.3 + rng.random(500) * 0.7, 0, 1)
    score[:50] = 0.5  # ties
    predicted = (score > 0.5).astype(int)
    ours = classification_metrics(truth, predicted, np.column_stack([1 - score, score]), [0, 1])
    assert ours["log_loss"] == pytest.approx(skm.log_loss(truth, score))
    assert ours["accuracy"] == pytest.approx(skm.accuracy_score(truth, predicted))
    assert ours["precision"] == pytest.approx(skm.precision_score(truth, predicted))
    assert ours["recall"] == pytest.approx(skm.recall_score(truth, predicted))
    assert ours["f1"] == pytest.approx(skm.f1_score(truth, predicted))
    assert ours["roc_auc"] == pytest.approx(skm.roc_auc_score(truth, score))


def test_multiclass_metrics_are_macro_averages_like_scikit_learn():
    rng = np.random.default_rng(2)
    classes = ["dark", "light", "medium"]  # sorted, like an estimator's classes_
    truth = rng.choice(classes, 400)
    proba = rng.dirichlet([1, 1, 1], 400)
    proba[np.arange(400), [classes.index(t) for t in truth]] += 0.5
    proba /= proba.sum(axis=1, keepdims=True)
    predicted = np.array(classes)[proba.argmax(axis=1)]
    ours = classification_metrics(truth, predicted, proba, classes)
    assert ours["precision"] == pytest.approx(skm.precision_score(truth, predicted, average="macro"))
    assert ours["recall"] == pytest.approx(skm.recall_score(truth, predicted, average="macro"))
    assert ours["f1"] == pytest.approx(skm.f1_score(truth, predicted, average="macro"))
    assert ours["log_loss"] == pytest.approx(skm.log_loss(truth, proba, labels=classes))
    assert ours["roc_auc"] == pytest.approx(skm.roc_auc_score(truth, proba, multi_class="ovr", labels=classes))


def test_regression_metrics_agree_with_scikit_learn():
    rng = np.random.default_rng(1)
    t, p = rng.normal(size=200), rng.normal(size=200)
    ours = regression_metrics(t, p)
    assert ours["mae"] == pytest.approx(skm.mean_absolute_error(t, p))
    assert ours["r2"] == pytest.approx(skm.r2_score(t, p))
    assert ours["rmse"] == pytest.approx(skm.mean_squared_error(t, p) ** 0.5)


def test_threshold_directions():
    results = check_thresholds({"accuracy": 0.89, "rmse": 3.0}, {"accuracy": 0.9, "rmse": 5})
    assert [(r.metric, r.direction, r.passed) for r in results] == [("accuracy", ">=", False), ("rmse", "<=", True)]


def test_training_is_seeded_and_reproducible():
    frame = generate(1500)
    cfg = parse_config("model: {params: {n_estimators: 20, random_state: 0}}").model
    first = train_and_evaluate(frame, "clicked", cfg, build_estimator(cfg))
    second = train_and_evaluate(frame, "clicked", cfg, build_estimator(cfg))
    assert first.metrics == second.metrics
    assert first.n_test == 300


def test_unknown_estimator_and_bad_params_are_config_errors():
    with pytest.raises(ConfigError, match="cannot import"):
        build_estimator(ModelConfig(estimator="sklearn.ensemble.NoSuchForest"))
    with pytest.raises(ConfigError, match=r"model\.params"):
        build_estimator(ModelConfig(params={"n_trees": 3}))


def test_regression_and_multiclass_train_end_to_end():
    frame = generate(1200)
    reg = parse_config("model: {task: regression, estimator: sklearn.ensemble.RandomForestRegressor, "
                       "params: {n_estimators: 20, random_state: 0}, thresholds: {rmse: 5}}").model
    result = train_and_evaluate(frame.drop(columns=["clicked"]), "avg_spend", reg, build_estimator(reg))
    assert set(result.metrics) == {"mse", "rmse", "mae", "r2"} and result.metrics["rmse"] > 0
    multi = parse_config("model: {params: {n_estimators: 20, random_state: 0}}").model
    result = train_and_evaluate(frame, "coffee_roast", multi, build_estimator(multi))
    assert result.classes == ["dark", "light", "medium"]
    assert {"accuracy", "f1", "roc_auc", "log_loss"} <= set(result.metrics)


def test_group_split_keeps_each_group_on_one_side_and_time_split_holds_out_the_latest():
    frame = generate(600).assign(user=lambda f: f.index % 50, day=lambda f: f.index)
    group = parse_config("model: {split: {kind: group, column: user}}").model
    train, test = split(frame, "clicked", group)
    assert not set(train["user"]) & set(test["user"])
    assert "user" not in train_and_evaluate(frame, "clicked", group, build_estimator(group)).features
    timed = parse_config("model: {split: {kind: time, column: day}, test-size: 0.25}").model
    train, test = split(frame, "clicked", timed)
    assert len(test) == 150 and train["day"].max() < test["day"].min()


def test_a_user_entrypoint_from_the_repository_trains_the_model(tmp_path):
    (tmp_path / "custom_training.py").write_text(
        "from sklearn.linear_model import LogisticRegression\n"
        "def fit(x, y, params):\n"
        "    return LogisticRegression(**params).fit(x.select_dtypes('number'), y)\n")
    text = "model: {entrypoint: 'custom_training:fit', task: classification, params: {max_iter: 500}}"
    cfg = parse_config(text).model
    function = load_entrypoint(cfg.entrypoint, str(tmp_path))
    frame = generate(800).select_dtypes("number")
    result = train_and_evaluate(frame, "clicked", cfg, entrypoint=function)
    assert type(result.model).__name__ == "LogisticRegression" and result.metrics["accuracy"] > 0.5
    with pytest.raises(ConfigError, match="is not a function of a module in the repository"):
        load_entrypoint("no_such_module:fit", str(tmp_path))


def test_slices_get_their_own_metrics_and_a_minimum_size():
    cfg = parse_config("model: {params: {n_estimators: 20, random_state: 0}, slices: "
                       "[{column: coffee_roast, thresholds: {accuracy: 0.5}, min-rows: 150}]}").model
    result = train_and_evaluate(generate(1500), "clicked", cfg, build_estimator(cfg))
    by_value = {s.value: s for s in result.slices}
    assert set(by_value) == {"dark", "light", "medium"}
    assert sum(s.rows for s in result.slices) == result.n_test
    assert all(s.gated == (s.rows >= 150) for s in result.slices)


# -- config never runs code (hostile-input class 2) -------------------------------------------------

@pytest.mark.parametrize("estimator", ["os.system", "subprocess.getoutput", "builtins.eval", "posix.system",
                                       "antigravity.fly", "sklearn._config.set_config", "sklearn.utils.Bunch",
                                       "sklearn.preprocessing.StandardScaler", "sklearn.base.clone",
                                       "sklearn", "os.system()", "__import__"])
def test_an_estimator_that_is_not_an_allowed_estimator_class_is_refused_before_anything_runs(tmp_path, estimator):
    marker = tmp_path / "ran"
    text = f"model:\n  estimator: {estimator}\n  params: {{command: 'touch {marker}', cmd: 'touch {marker}'}}\n"
    try:
        cfg = parse_config(text, "aicd.yml")
    except ConfigError as exc:
        assert exc.line in (2, 3) and "model." in exc.message
    else:
        with pytest.raises(ConfigError) as refused:
            build_estimator(cfg.model, cfg.file, cfg.lines)
        assert refused.value.line in (2, 3)
    assert not marker.exists()


def test_a_module_outside_the_allowed_set_is_not_even_imported(tmp_path, monkeypatch):
    (tmp_path / "evil_pkg.py").write_text(f"open({str(tmp_path / 'imported')!r}, 'w').close()\n"
                                          "from sklearn.linear_model import LogisticRegression as Model\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ConfigError, match="not in an allowed package") as refused:
        parse_config("model:\n  estimator: evil_pkg.Model\n")
    assert refused.value.line == 2 and "estimator-modules" in refused.value.hint
    assert not (tmp_path / "imported").exists()
    allowed = parse_config("model:\n  estimator: evil_pkg.Model\n  estimator-modules: [evil_pkg]\n  params: {}\n")
    assert type(build_estimator(allowed.model)).__name__ == "LogisticRegression"  # listed explicitly: allowed


@pytest.mark.parametrize("params, key", [("{max_depth: !!binary aGk=}", "max_depth"),
                                         ("{max_depth: 2026-12-01}", "max_depth"),
                                         ("{max_depth: [1, 2020-01-01T10:00:00]}", "max_depth")])
def test_parameters_are_plain_values(params, key):
    with pytest.raises(ConfigError, match=f"model.params.{key}") as refused:
        parse_config(f"model:\n  params: {params}\n")
    assert refused.value.line == 2


def test_parameters_are_the_estimators_own_and_defaults_stay_with_the_default_estimator():
    with pytest.raises(ConfigError, match="takes no parameter 'max_dept'") as refused:
        build_estimator(parse_config("model:\n  params: {max_dept: 3}\n").model)
    assert "max_depth" in refused.value.hint
    other = parse_config("model:\n  estimator: sklearn.linear_model.LogisticRegression\n").model
    assert other.params == {} and type(build_estimator(other)).__name__ == "LogisticRegression"
    weighted = parse_config("model:\n  params: {class_weight: {churned: 5, stayed: 1}, n_estimators: 5}\n").model
    assert build_estimator(weighted).class_weight == {"churned": 5, "stayed": 1}  # a mapping of plain values


@pytest.mark.parametrize("spec", ["os:system", "subprocess:getoutput", "json:loads", "sklearn:show_versions"])
def test_an_entrypoint_outside_the_repository_is_refused_before_it_runs(tmp_path, spec):
    with pytest.raises(ConfigError, match="is not a function of a module in the repository"):
        load_entrypoint(spec, str(tmp_path))


def test_a_module_in_the_workspace_never_shadows_an_installed_one(tmp_path):
    """The workspace goes last on sys.path (and the actions run python -P), so a yaml.py there is not yaml."""
    import subprocess
    import sys

    from tests.conftest import SHARED

    (tmp_path / "yaml.py").write_text(f"open({str(tmp_path / 'ran')!r}, 'w').close()\n")
    (tmp_path / "d.csv").write_text("a,b\n1,2\n3,4\n")
    proc = subprocess.run([sys.executable, "-P", "-m", "aicd", "validate", "--data", "d.csv"], cwd=tmp_path,
                          env={"PYTHONPATH": str(SHARED)}, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert not (tmp_path / "ran").exists()
    action = (SHARED / "bin" / "aicd-action").read_text()
    assert '-P -m aicd "$@"' in action


@pytest.mark.parametrize("estimator", [
    "sklearn.ensemble.HistGradientBoostingClassifier", "sklearn.ensemble.RandomForestClassifier",
    "sklearn.linear_model.LogisticRegression", "sklearn.naive_bayes.GaussianNB",
    "sklearn.neighbors.KNeighborsClassifier"])
@pytest.mark.parametrize("classes", [2, 3])
def test_holdout_labels_read_off_the_probabilities_are_the_estimators_own_predictions(estimator, classes):
    """Evaluation predicts the holdout once: labels from predict_proba must be predict's, near ties too
    (a forest of 2 full-depth trees ties 1:1 on many rows; naive Bayes and k-NN are not read off, and still agree)."""
    from aicd.model.estimators import resolve_estimator
    from aicd.model.train import evaluate

    rng = np.random.default_rng(classes)
    x = rng.normal(size=(2000, 4))
    y = np.array(list("abc"))[:classes][(x[:, 0] + rng.normal(size=2000) > 0).astype(int) + (classes == 3) *
                                         (x[:, 1] > 1)]
    params = {"n_estimators": 2, "random_state": 0} if "Forest" in estimator else {}
    model = resolve_estimator(estimator, params, ())(**params).fit(x[:1500], y[:1500])
    import pandas as pd

    evaluation = evaluate(model, pd.DataFrame(x[1500:]), pd.Series(y[1500:]), "classification", positive="b")
    assert np.array_equal(evaluation.y_pred, model.predict(pd.DataFrame(x[1500:]).to_numpy()))
    if "Forest" in estimator:
        top = np.sort(evaluation.proba, axis=1)[:, -2:]
        assert np.any(top[:, 1] == top[:, 0])  # the tie path was taken
