"""The data gate against the reference profile stored with a registered model (a real MLflow server)."""

import json

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
    result, _ = run(same)
    assert json.loads(result["drifted-columns"]) == [] and result["dataset-drifted"] == "false"
