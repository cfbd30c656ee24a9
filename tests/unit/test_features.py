"""A team's table, not the coffee example: ids and dates are left out, wide categoricals capped,
gradient boosting exports to ONNX with its whole pipeline, and a decision threshold is chosen on
validation rows and applied where the model answers."""

import re

import numpy as np
import pandas as pd
import pytest

from aicd.bins import MAX_LEVELS
from aicd.config import parse_config
from aicd.decision import decide, probability_rows
from aicd.examples.churn import churn_frame
from aicd.model.features import plan_features
from aicd.model.onnx_export import export_onnx
from aicd.model.threshold import choose_threshold
from aicd.model.train import build_estimator, train_and_evaluate

CHURN = churn_frame(4000, seed=3)


def trained(estimator: str, extra: str = ""):
    cfg = parse_config(f"data: {{label: churned}}\nmodel:\n  estimator: {estimator}\n"
                       f"  thresholds: {{accuracy: 0.5}}\n{extra}").model
    return train_and_evaluate(CHURN, "churned", cfg, build_estimator(cfg))


def test_ids_are_left_out_dates_become_parts_and_a_wide_column_is_capped_each_with_a_note():
    plan = plan_features(CHURN, [c for c in CHURN.columns if c != "churned"])
    assert set(plan.left_out) == {"customer_id"} and plan.dates == ("signup_date",)
    assert plan.categorical == ("plan", "payment", "region") and "tenure_days" in plan.numeric
    assert len(plan.levels["region"]) == MAX_LEVELS and plan.capped["region"] > MAX_LEVELS
    notes = "\n".join(plan.notes())
    assert "`customer_id` is not a feature: an identifier" in notes
    assert "`signup_date` is a date: the model sees its year, month, weekday, days" in notes
    assert "`region` has" in notes


def test_model_max_levels_sets_the_cap_for_the_encoding_the_profile_and_the_note():
    """The cap is one setting: the model's encoding, the drift profile the server counts by, and the note."""
    from aicd.data.drift import profile_frame
    from aicd.steps.train import _Profile

    result = trained("sklearn.ensemble.HistGradientBoostingClassifier", "  max-levels: 8\n")
    assert CHURN["region"].nunique() > 8
    assert re.search(r"`region` has [0-9,]+ levels: the 8 most frequent are encoded", "\n".join(result.notes))
    cfg = parse_config("data: {label: churned}\nmodel:\n  max-levels: 8\n")
    profiling = _Profile(CHURN, cfg)
    profiling.start(result.feature_types)
    profile = profiling.result()
    assert "signup_date" not in profile and "customer_id" not in profile  # a date has none; an id is no feature
    assert len(profile["region"]["levels"]) == 8
    assert profile["region"]["other"] == int(CHURN["region"].value_counts().iloc[8:].sum())
    assert len(profile_frame(CHURN[["region"]])["region"]["levels"]) == MAX_LEVELS  # the default elsewhere
    encoder = result.model.named_steps["preprocess"].named_transformers_["cat"]  # ordinal codes: no imputer
    assert [len(c) for c in encoder.categories_] == [3, 4, 8]  # plan, payment, region: capped at 8


def test_a_declared_category_is_never_left_out_and_datetime_columns_are_dates():
    frame = CHURN.assign(when=pd.to_datetime(CHURN["signup_date"]))
    plan = plan_features(frame, ["customer_id", "when", "plan"], keep=["customer_id"])
    assert "customer_id" in plan.categorical and plan.dates == ("when",) and not plan.left_out


def test_dates_have_the_same_parts_at_training_and_in_the_server():
    """The pipeline's first step and the server's expansion are one function on every form a date
    comes in: ISO text with and without a time or offset, pandas timestamps, missing and junk."""
    from aicd.dateparts import DateParts
    from aicd.dates import expand, parts_of

    values = ["2026-03-01", "2026-03-01T23:30:00+02:00", "2026-03-01T21:30:00Z", None, "soon", ""]
    trained = DateParts(("d",)).fit_transform(pd.DataFrame({"d": values, "x": range(6)}))
    served = expand({"d": values, "x": list(range(6))}, ["d"])
    assert list(trained.columns) == ["d.year", "d.month", "d.weekday", "d.days", "x"]
    for name in trained.columns:
        assert np.array_equal(trained[name].to_numpy(dtype=float), np.asarray(served[name], dtype=float),
                              equal_nan=True)
    assert parts_of("2026-03-01T23:30:00+02:00") == parts_of("2026-03-01T21:30:00Z")  # one instant
    assert parts_of(pd.Timestamp("2026-03-01")) == parts_of("2026-03-01") == (2026.0, 3.0, 6.0, 20513.0)


@pytest.mark.parametrize("estimator", ["sklearn.ensemble.HistGradientBoostingClassifier",
                                       "sklearn.ensemble.RandomForestClassifier",
                                       "sklearn.linear_model.LogisticRegression"])
def test_each_model_family_exports_to_onnx_with_its_pipeline_and_agrees_on_the_holdout(estimator):
    result = trained(estimator)
    assert "customer_id" not in result.features and "region" in result.features
    assert result.feature_types["signup_date"] == "datetime"
    export = export_onnx(result.model, result.holdout, result.feature_types, "classification")
    assert export.blob is not None, export.reason
    assert export.agreement >= 0.999


def test_gradient_boosting_regression_exports_too():
    cfg = parse_config("data: {label: usage_hours}\nmodel:\n  estimator: sklearn.ensemble."
                       "HistGradientBoostingRegressor\n  max-missing-label-ratio: 0.1\n").model
    frame = CHURN[CHURN["usage_hours"].notna()]
    result = train_and_evaluate(frame, "usage_hours", cfg, build_estimator(cfg))
    export = export_onnx(result.model, result.holdout, result.feature_types, "regression")
    assert export.blob is not None and export.agreement == 1.0, export.reason


def test_a_reason_for_no_export_is_one_short_line():
    from aicd.model.onnx_export import _reason

    try:
        raise ValueError("Unable to create node 'X' with name='X' and attributes={'a': [" + "1, " * 5000 + "]}") \
            from TypeError("Expected an int, got a boolean.")
    except ValueError as exc:
        reason = _reason(exc)
    assert reason == "ValueError: Unable to create node 'X' (TypeError: Expected an int, got a boolean.)"


def test_the_threshold_rules_choose_on_the_scores_they_are_given():
    rng = np.random.default_rng(0)
    positive = rng.random(2000) < 0.2
    scores = np.clip(np.where(positive, 0.65, 0.35) + rng.normal(0, 0.15, 2000), 0, 1)
    f1 = choose_threshold(positive, scores, "f1")
    assert 0.4 < f1.threshold < 0.6
    recall = choose_threshold(positive, scores, "recall", 0.95)
    assert recall.recall >= 0.95 and recall.met and recall.threshold < f1.threshold
    precision = choose_threshold(positive, scores, "precision", 0.9)
    assert precision.precision >= 0.9 and precision.threshold > f1.threshold
    assert not choose_threshold(positive, scores, "precision", 1.01).met


def test_a_recall_target_is_met_on_the_holdout_and_stored_where_the_server_reads_it():
    plain, tuned = trained("sklearn.ensemble.HistGradientBoostingClassifier"), \
        trained("sklearn.ensemble.HistGradientBoostingClassifier", "  decision-threshold: {recall: 0.8}\n")
    assert tuned.evaluation.threshold is not None and tuned.evaluation.threshold < 0.5
    assert tuned.metrics["recall"] > plain.metrics["recall"] and tuned.metrics["recall"] >= 0.7
    assert any("validation rows carved from the training rows" in n for n in tuned.notes)
    assert tuned.metrics["average_precision"] == plain.metrics["average_precision"]  # the scores are the same


def test_a_decision_threshold_on_a_multiclass_label_is_one_clear_error():
    from aicd.errors import DataError

    frame = CHURN.assign(churned=CHURN["plan"])
    cfg = parse_config("data: {label: churned}\nmodel:\n  decision-threshold: f1\n"
                       "  thresholds: {accuracy: 0.1}\n").model
    with pytest.raises(DataError, match="needs a binary classifier"):
        train_and_evaluate(frame.drop(columns=["plan"]), "churned", cfg, build_estimator(cfg))


def test_the_server_side_decision_and_probability_rows():
    assert decide([[0.7, 0.3], [0.5, 0.5]], [0, 1], 1, 0.3) == [1, 1]
    assert decide([[0.71, 0.29]], ["stay", "churn"], "churn", 0.3) == ["stay"]
    assert probability_rows([[0.25, 0.75]], [False, True]) == [{"false": 0.25, "true": 0.75}]


def test_numeric_columns_cross_the_onnx_boundary_alike_as_lists_and_as_arrays():
    from aicd.feeds import feeds

    values = [1.5, None, float("nan"), 3, True]
    as_list = feeds({"x": values}, {"x": "float"})["x"]
    as_array = feeds({"x": np.array([1.5, np.nan, np.nan, 3, 1.0])}, {"x": "float"})["x"]
    assert as_list.dtype == as_array.dtype == np.float32 and as_list.shape == as_array.shape == (5, 1)
    assert np.array_equal(as_list, as_array, equal_nan=True)


def test_the_onnx_server_answers_raw_rows_with_dates_and_dotted_names_as_scikit_learn_does(tmp_path):
    """What the server loads gives scikit-learn's labels and probabilities on raw request rows:
    date text expanded before the graph, a column named `avg.spend` found though the exporter
    renames the graph input, and the decision threshold applied."""
    from aicd.modelfiles import write_onnx_model_dir
    from aicd.serve.model import load_model_dir

    frame = CHURN.rename(columns={"usage_hours": "avg.spend"})
    cfg = parse_config("data: {label: churned}\nmodel:\n  estimator: sklearn.ensemble.HistGradientBoostingClassifier"
                       "\n  decision-threshold: 0.3\n  thresholds: {accuracy: 0.5}\n").model
    result = train_and_evaluate(frame, "churned", cfg, build_estimator(cfg))
    export = export_onnx(result.model, result.holdout, result.feature_types, "classification")
    assert export.blob is not None, export.reason
    meta = {"features": result.features, "feature_types": result.feature_types, "classes": result.classes,
            "task": "classification", "positive": 1, "decision_threshold": result.evaluation.threshold}
    sha = write_onnx_model_dir(tmp_path / "m", export.blob, meta, {})
    served = load_model_dir(tmp_path / "m", sha)
    rows = result.holdout[result.features].head(300)
    columns = {name: [None if v != v else v for v in rows[name].tolist()] for name in result.features}
    labels, probabilities = served.answer(columns, True)
    expected = np.asarray(result.model.predict_proba(rows))[:, 1]
    assert np.allclose([p["1"] for p in probabilities], expected, atol=1e-5)
    assert labels == [1 if p >= 0.3 else 0 for p in expected]


def test_a_request_with_a_date_that_is_not_one_is_a_400_naming_the_field():
    from aicd.serve.app import BadRequest, rows_to_columns

    ok = rows_to_columns({"instances": [{"d": "2026-03-01"}, {"d": None}]}, ["d"], {"d": "datetime"}, 10)
    assert ok == {"d": ["2026-03-01", None]}
    with pytest.raises(BadRequest, match=r"`instances\[0\].d` must be an ISO-8601 date or time, got 'soon'"):
        rows_to_columns({"instances": [{"d": "soon"}]}, ["d"], {"d": "datetime"}, 10)


def test_dates_read_from_a_csv_by_arrow_are_dates_too(tmp_path):
    from aicd.datasets import read_frame

    CHURN.head(300).to_csv(tmp_path / "t.csv", index=False)
    frame = read_frame(str(tmp_path / "t.csv"))
    assert plan_features(frame, ["signup_date", "plan"]).dates == ("signup_date",)


def test_bad_config_against_the_data_is_one_line_before_any_fit(tmp_path):
    """A positive class the label lacks, a decision threshold on three classes or a regressor, and a
    dropped column that is not there are refused at their line, before the fit."""
    from aicd.errors import ConfigError
    from aicd.steps.train import _checked_against_data

    def check(text, frame=CHURN):
        cfg = parse_config(text)
        return _checked_against_data(frame, cfg)

    with pytest.raises(ConfigError, match=r"`data.positive` is \"Churn\", which is not a class") as info:
        check("data: {label: churned, positive: Churn}\n")
    assert info.value.line == 1
    labels = CHURN.assign(churned=CHURN["churned"].map({1: "churn", 0: "stay"}))
    with pytest.raises(ConfigError, match=r"is 1 \(the default\), which is not a class"):
        check("data: {label: churned}\n", labels)
    assert check("data: {label: churned, positive: CHURN}\n", labels).data.positive == "churn"
    assert check("data: {label: flag, positive: 'true'}\n", CHURN.assign(flag=CHURN["churned"] == 1)).data.positive \
        is True
    with pytest.raises(ConfigError, match="needs a binary label; `plan` has 3 classes"):
        check("data: {label: plan}\nmodel: {decision-threshold: f1}\n")
    with pytest.raises(ConfigError, match=r"`model.drop-columns`: `tenure` is not a column"):
        check("data: {label: churned}\nmodel: {drop-columns: [tenure]}\n")
    with pytest.raises(ConfigError, match="is for binary classifiers; this model is a regressor"):
        parse_config("model: {estimator: sklearn.linear_model.Ridge, decision-threshold: 0.3}\n")


def test_boolean_labels_export_and_are_answered_as_the_models_own_classes(tmp_path):
    from aicd.modelfiles import write_onnx_model_dir
    from aicd.serve.model import load_model_dir

    frame = CHURN.assign(churned=CHURN["churned"] == 1)
    cfg = parse_config("data: {label: churned, positive: true}\nmodel:\n  estimator: sklearn.ensemble."
                       "HistGradientBoostingClassifier\n  thresholds: {accuracy: 0.5}\n").model
    result = train_and_evaluate(frame, "churned", cfg, build_estimator(cfg), positive=True)
    export = export_onnx(result.model, result.holdout, result.feature_types, "classification")
    assert export.blob is not None and export.agreement == 1.0, export.reason
    meta = {"features": result.features, "feature_types": result.feature_types, "classes": result.classes,
            "task": "classification"}
    served = load_model_dir(tmp_path, write_onnx_model_dir(tmp_path, export.blob, meta, {}))
    rows = result.holdout[result.features].head(50)
    labels = served.predict({n: [None if v != v else v for v in rows[n].tolist()] for n in result.features})
    assert labels == result.model.predict(rows).tolist() and all(isinstance(v, bool) for v in labels)


def test_a_typo_beside_instances_is_a_400_with_a_suggestion():
    from aicd.serve.app import BadRequest, _wants_probabilities

    assert _wants_probabilities({"instances": [], "probabilities": True}, True)
    with pytest.raises(BadRequest, match=r"unknown field `probability` beside `instances` \(did you mean"):
        _wants_probabilities({"instances": [], "probability": True}, True)


@pytest.mark.parametrize("estimator,task", [("xgboost.XGBClassifier", "classification"),
                                            ("lightgbm.LGBMClassifier", "classification"),
                                            ("xgboost.XGBRegressor", "regression"),
                                            ("lightgbm.LGBMRegressor", "regression")])
def test_xgboost_and_lightgbm_export_through_onnxmltools_and_are_served_alike(estimator, task, tmp_path):
    """The scikit-learn APIs of XGBoost and LightGBM need no model.estimator-modules, take their
    parameters by name (through **kwargs), and export inside aicd's pipeline."""
    from aicd.modelfiles import write_onnx_model_dir
    from aicd.serve.model import load_model_dir

    label = "churned" if task == "classification" else "usage_hours"
    frame = CHURN[CHURN["usage_hours"].notna()]
    cfg = parse_config(f"data: {{label: {label}}}\nmodel:\n  estimator: {estimator}\n  params: {{n_estimators: 40}}\n"
                       f"  task: {task}\n" + ("  thresholds: {accuracy: 0.5}\n" if task == "classification" else ""))
    result = train_and_evaluate(frame, label, cfg.model, build_estimator(cfg.model))
    export = export_onnx(result.model, result.holdout, result.feature_types, task)
    assert export.blob is not None and export.agreement == 1.0, export.reason
    meta = {"features": result.features, "feature_types": result.feature_types, "classes": result.classes,
            "task": task}
    served = load_model_dir(tmp_path, write_onnx_model_dir(tmp_path, export.blob, meta, {}))
    rows = result.holdout[result.features].head(100)
    answers = served.predict({n: [None if v != v else v for v in rows[n].tolist()] for n in result.features})
    expected = result.model.predict(rows)
    if task == "classification":
        assert answers == expected.tolist()
    else:
        assert np.allclose(answers, expected, rtol=1e-4, atol=1e-3)


def test_a_missing_boosting_library_that_cannot_be_installed_is_one_line(monkeypatch, tmp_path):
    import aicd.installs as installs
    from aicd.errors import ServiceError

    monkeypatch.setattr(installs.importlib.util, "find_spec", lambda name: None)
    from dataclasses import replace

    monkeypatch.setitem(installs.EXTRAS, "boosting", replace(installs.EXTRAS["boosting"], lock=tmp_path / "no.lock"))
    with pytest.raises(ServiceError, match="xgboost, onnxmltools is not installed and cannot be"):
        installs.ensure_boosting("xgboost")
    assert installs.ensure_boosting("sklearn") is False


def test_the_training_step_parses_each_distinct_date_once_and_agrees_with_the_server_row_by_row():
    """DateParts (training, by distinct value) and aicd.dates.expand (the server, per row) give the same
    parts for every kind of value, missing and unreadable ones included."""
    import numpy as np
    import pandas as pd

    from aicd.dateparts import DateParts
    from aicd.dates import expand

    values = ["2026-03-01", None, "2026-03-01T10:00:00+02:00", "junk", " 2025-01-02 ", float("nan"), "2026-03-01",
              "2024-02-29T23:59:59", "", "2026-03-01"] * 50
    frame = pd.DataFrame({"d": values, "n": range(len(values))})
    stamps = pd.DataFrame({"d": pd.to_datetime(["2026-01-01", None, "2026-05-05T12:00:00+01:00"], utc=True,
                                               format="ISO8601"), "n": [1, 2, 3]})
    for x in (frame, stamps, frame.astype({"d": "string"})):
        mine = DateParts(("d",)).transform(x)
        server = pd.DataFrame(expand({"d": x["d"].tolist(), "n": list(x["n"])}, ("d",)))
        assert list(mine.columns) == list(server.columns)
        assert np.allclose(mine.to_numpy(float), server.to_numpy(float), equal_nan=True)


@pytest.mark.parametrize("estimator", ["sklearn.ensemble.HistGradientBoostingClassifier", "xgboost.XGBClassifier"])
def test_a_missing_level_is_coded_like_a_level_not_kept_and_served_alike_by_onnx(estimator, tmp_path):
    """Ordinal codes need no imputer in front: a missing level is -1, the code of a level beyond
    model.max-levels, in scikit-learn and in the exported graph (whose missing string is "")."""
    from aicd.modelfiles import write_onnx_model_dir
    from aicd.serve.model import load_model_dir

    frame = CHURN.copy()
    frame.loc[frame.index[::7], "plan"] = None  # one row in seven has no plan
    cfg = parse_config(f"data: {{label: churned}}\nmodel:\n  estimator: {estimator}\n  max-levels: 8\n"
                       "  thresholds: {accuracy: 0.5}\n").model
    result = train_and_evaluate(frame, "churned", cfg, build_estimator(cfg))
    encoder = result.model.named_steps["preprocess"].named_transformers_["cat"]
    codes = encoder.transform(pd.DataFrame({"plan": [None, "no such plan", encoder.categories_[0][0]],
                                            "payment": [None] * 3, "region": [None] * 3}))
    assert codes[:, 0].tolist() == [-1, -1, 0] and (codes[:, 1:] == -1).all()
    export = export_onnx(result.model, result.holdout, result.feature_types, "classification")
    assert export.blob is not None and export.agreement == 1.0, export.reason
    meta = {"features": result.features, "feature_types": result.feature_types, "classes": result.classes,
            "task": "classification"}
    served = load_model_dir(tmp_path, write_onnx_model_dir(tmp_path, export.blob, meta, {}))
    rows = result.holdout[result.features][result.holdout["plan"].isna()].head(100)
    assert len(rows) > 20
    labels, probabilities = served.answer({n: [None if v != v else v for v in rows[n].tolist()]
                                           for n in result.features}, True)
    assert np.allclose([p["1"] for p in probabilities], result.model.predict_proba(rows)[:, 1], atol=1e-5)
    assert labels == result.model.predict(rows).tolist()


def test_empty_text_is_no_level_and_a_column_without_values_is_no_feature(tmp_path):
    """The server sends a missing text as "": kept as a level, it would code missing values as that
    level in ONNX and as -1 in scikit-learn, and the export would be refused. A column with nothing
    but missing or empty cells has no level to encode at all."""
    frame = CHURN.assign(payment=CHURN["payment"].where(CHURN.index % 5 != 0, ""), blank="")
    frame.loc[frame.index[::9], "blank"] = None
    plan = plan_features(frame, ["payment", "blank", "plan"])
    assert "" not in plan.levels["payment"] and "blank" not in plan.categorical
    assert plan.left_out["blank"] == "no values (every cell is missing or empty)"
    cfg = parse_config("data: {label: churned}\nmodel:\n  estimator: sklearn.ensemble.HistGradientBoostingClassifier\n"
                       "  thresholds: {accuracy: 0.5}\n").model
    result = train_and_evaluate(frame, "churned", cfg, build_estimator(cfg))
    export = export_onnx(result.model, result.holdout, result.feature_types, "classification")
    assert export.blob is not None and export.agreement == 1.0, export.reason


def test_the_registered_pipeline_holds_scikit_learns_own_encoder_with_the_same_codes():
    """LevelCodes codes while training; what is registered loads without aicd (skops finds no aicd type)."""
    import skops.io

    from aicd.levelcodes import LevelCodes, plain

    result = trained("sklearn.ensemble.HistGradientBoostingClassifier", "")
    registered = plain(result.model)
    assert type(result.model.named_steps["preprocess"].named_transformers_["cat"]) is LevelCodes  # left as it is
    encoder = registered.named_steps["preprocess"].named_transformers_["cat"]
    assert type(encoder).__name__ == "OrdinalEncoder" and not isinstance(encoder, LevelCodes)
    untrusted = skops.io.get_untrusted_types(data=skops.io.dumps(registered))
    assert not [t for t in untrusted if t.startswith("aicd.") and "DateParts" not in t], untrusted
    rows = result.holdout[result.features]
    assert np.array_equal(registered.predict_proba(rows), result.model.predict_proba(rows))


@pytest.mark.parametrize("estimator", ["sklearn.ensemble.HistGradientBoostingClassifier", "lightgbm.LGBMClassifier"])
def test_nullable_numbers_with_missing_cells_train_and_export(estimator):
    """Parquet written from pandas' nullable types comes back as Int64 / Float64 / boolean with pd.NA."""
    frame = CHURN.assign(support_tickets=CHURN["support_tickets"].astype("Int64"),
                         usage_hours=CHURN["usage_hours"].astype("Float64"))
    frame.loc[frame.index[::11], "support_tickets"] = pd.NA
    cfg = parse_config(f"data: {{label: churned}}\nmodel:\n  estimator: {estimator}\n"
                       "  thresholds: {accuracy: 0.5}\n").model
    result = train_and_evaluate(frame, "churned", cfg, build_estimator(cfg))
    export = export_onnx(result.model, result.holdout, result.feature_types, "classification")
    assert export.blob is not None and export.agreement == 1.0, export.reason
