"""The data gate against the reference profile stored with a registered model (a real MLflow server)."""

import json

import pytest

from aicd.examples.coffee import generate
from aicd.gha import Actions
from aicd.steps import train, validate
from tests.conftest import STEP_ENV


def test_new_data_is_compared_with_what_the_production_model_learned_from(mlflow_server, coffee, tmp_path):
    out = train.run({"data": str(coffee["data"]), "config": str(coffee["config"]), "tracking-uri": mlflow_server.uri,
                     "model-name": "profiled"}, Actions({}), env={"GITHUB_SHA": "profile-test"})
    reference = f"models:/profiled/{out['model-version']}"
    shifted, same = tmp_path / "shifted.csv", tmp_path / "same.csv"
    generate(3000, seed=99, drift=1.0).to_csv(shifted, index=False)
    generate(3000, seed=98).to_csv(same, index=False)
    config = tmp_path / "aicd.yml"
    config.write_text("data:\n  label: clicked\n  drift: {method: auto}\n")

    def run(data):
        report = tmp_path / f"{data.stem}.json"
        result = validate.run({"data": str(data), "config": str(config), "reference": reference,
                               "tracking-uri": mlflow_server.uri, "report": str(report)}, Actions({}), env=STEP_ENV)
        return result, json.loads(report.read_text())

    result, body = run(shifted)
    drifted = json.loads(result["drifted-columns"])
    assert {"visits_per_week", "preferred_roast", "coffee_price"} <= set(drifted)
    notes = {d["column"]: d["note"] for d in body["drift"]}
    assert "stored profile" in notes["visits_per_week"]
    assert body["reference"] == reference and "clicked" not in notes
    assert "<svg" in (tmp_path / "shifted.html").read_text()
    assert body["weights"] == "importance" and body["drifted_weight"] >= 0.2 and result["dataset-drifted"] == "true"
    assert float(result["drift-score"]) == pytest.approx(body["drifted_weight"], abs=1e-4)
    result, body = run(same)
    assert json.loads(result["drifted-columns"]) == [] and result["dataset-drifted"] == "false"
    assert body["label_drift"]["column"] == "clicked" and result["label-drifted"] == "false"
    assert "not measured by the data gate" in body["prediction_drift"]


def test_a_moved_label_is_reported_apart_from_the_features(mlflow_server, coffee, tmp_path):
    """Training stores the label's distribution with the model; the data gate judges the label alone
    (output label-drifted) and never counts it among the features' drift."""
    out = train.run({"data": str(coffee["data"]), "config": str(coffee["config"]), "tracking-uri": mlflow_server.uri,
                     "model-name": "labelled"}, Actions({}), env={"GITHUB_SHA": "label-test"})
    frame = generate(3000, seed=97)
    frame.loc[frame.index[:900], "clicked"] = 1  # the same customers; far more of them clicked
    moved = tmp_path / "moved.csv"
    frame.to_csv(moved, index=False)
    config = tmp_path / "aicd.yml"
    config.write_text("data:\n  label: clicked\n")
    report = tmp_path / "moved.json"
    result = validate.run({"data": str(moved), "config": str(config), "reference":
                           f"models:/labelled/{out['model-version']}", "tracking-uri": mlflow_server.uri,
                           "report": str(report)}, Actions({}), env=STEP_ENV)
    body = json.loads(report.read_text())
    assert result["label-drifted"] == "true" and body["label_drift"]["method"] == "levels"
    assert body["label_drift"]["threshold"] == 0.005
    assert json.loads(result["drifted-columns"]) == [] and result["dataset-drifted"] == "false"
    assert "Label drift" in (tmp_path / "moved.html").read_text()
