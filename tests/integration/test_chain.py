"""The whole chain in process, with simulated traffic: healthy → promote; wrong in production → rollback."""

import json
import urllib.request

import pytest

from aicd.datasets import read_frame
from aicd.errors import GateFailed
from aicd.gha import Actions
from aicd.simulate import send_traffic
from aicd.steps import deploy, monitor, train, validate
from tests.conftest import FEEDBACK_TOKEN, STEP_ENV


def test_validate_train_deploy_monitor(mlflow_server, coffee, deploy_dir, tmp_path):
    gh = Actions({"GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md")})
    v = validate.run({"data": str(coffee["data"]), "config": str(coffee["config"]),
                      "reference": str(coffee["reference"]), "report": str(tmp_path / "v.json")}, gh)
    assert v["passed"] == "true" and float(v["drift-score"]) < 0.1
    t = train.run({"data": str(coffee["data"]), "config": str(coffee["config"]), "data-version": v["data-version"],
                   "tracking-uri": mlflow_server.uri}, gh, env=STEP_ENV)
    base = {"tracking-uri": mlflow_server.uri, "state-dir": str(deploy_dir), "feedback-token": FEEDBACK_TOKEN}
    stable = deploy.run({**base, "model-uri": t["model-uri"]}, gh, env=STEP_ENV)
    production = read_frame(str(coffee["production"]))
    send_traffic(stable["endpoint"], production, "clicked", requests=600, seed=3, feedback_token=FEEDBACK_TOKEN)
    m = monitor.run({"endpoint": stable["endpoint"], "config": str(coffee["config"]), "state-dir": str(deploy_dir),
                     "on-failure": "rollback", "on-success": "promote", "tracking-uri": mlflow_server.uri,
                     "report": str(tmp_path / "m1.json")}, gh, env=STEP_ENV)
    assert m["decision"] == "promote", m["evidence"]
    assert m["promoted"] == t["model-uri"]
    champion = mlflow_server.client().get_model_version_by_alias("coffee-recommender", "champion")
    assert champion.version == t["model-version"]

    release = deploy.run({**base, "model-uri": t["model-uri"]}, gh, env=STEP_ENV)
    send_traffic(release["endpoint"], production, "clicked", requests=400, seed=4, flip_share=0.5,
                 feedback_token=FEEDBACK_TOKEN)
    with pytest.raises(GateFailed, match="production gate: rollback") as refused:  # the step fails: exit 1
        monitor.run({"endpoint": release["endpoint"], "config": str(coffee["config"]), "state-dir": str(deploy_dir),
                     "on-failure": "rollback", "report": str(tmp_path / "m2.json")}, gh)
    m = refused.value.outputs
    evidence = json.loads(m["evidence"])
    assert m["decision"] == "rollback" and m["rolled-back"] == "true"
    assert evidence["checks"][0]["metric"] == "online-accuracy" and evidence["checks"][0]["verdict"] == "fail"
    with urllib.request.urlopen(f"{stable['endpoint']}/readyz", timeout=5) as resp:
        assert resp.status == 200
    summary = (tmp_path / "summary.md").read_text()
    for heading in ("aicd data gate", "aicd model gate", "aicd release", "aicd production gate — rollback"):
        assert heading in summary


CHURN_CONFIG = """\
data:
  label: churned
  min-positive-share: 0.05
  columns:
    signup_date: {dtype: datetime}
    customer_id: {dtype: str, nullable: false}
  keys: [customer_id]
  freshness: {column: signup_date, max-age-hours: 100000}
model:
  name: churn
  estimator: sklearn.ensemble.HistGradientBoostingClassifier
  params: {max_iter: 60, random_state: 0}
  decision-threshold: f1
  thresholds: {average_precision: 0.25, balanced_accuracy: 0.6}
monitor:
  min-accuracy: 0.6
"""


def test_a_churn_table_with_ids_dates_and_a_wide_column_goes_the_whole_way(mlflow_server, deploy_dir, tmp_path):
    """Not the coffee data: gradient boosting on ids, dates, narrow and wide categoricals, missing
    cells and a 1-in-5 label, through validate → train → deploy → predict with probabilities →
    feedback → monitor."""
    from aicd.examples.churn import churn_frame

    for name, seed in (("train.csv", 0), ("reference.csv", 1), ("production.csv", 2)):
        churn_frame(5000, seed=seed).to_csv(tmp_path / name, index=False)
    (tmp_path / "aicd.yml").write_text(CHURN_CONFIG)
    config, data = str(tmp_path / "aicd.yml"), str(tmp_path / "train.csv")
    summary = tmp_path / "summary.md"
    gh = Actions({"GITHUB_STEP_SUMMARY": str(summary)})
    v = validate.run({"data": data, "config": config, "reference": str(tmp_path / "reference.csv"),
                      "report": str(tmp_path / "v.json")}, gh)
    drifted = {d["column"] for d in json.loads((tmp_path / "v.json").read_text())["drift"]}
    assert v["passed"] == "true" and not drifted & {"customer_id", "signup_date"}
    t = train.run({"data": data, "config": config, "data-version": v["data-version"],
                   "tracking-uri": mlflow_server.uri}, gh, env=STEP_ENV)
    assert t["passed"] == "true", summary.read_text()
    text = summary.read_text()
    assert "Served by onnxruntime" in text and "Confusion matrix" in text and "decision threshold" in text
    assert "`customer_id` is not a feature" in text.replace("\\", "")
    base = {"tracking-uri": mlflow_server.uri, "state-dir": str(deploy_dir), "feedback-token": FEEDBACK_TOKEN}
    stable = deploy.run({**base, "model-uri": t["model-uri"]}, gh, env=STEP_ENV)
    production = read_frame(str(tmp_path / "production.csv"))
    rows = json.loads(production.drop(columns=["churned"]).head(5).to_json(orient="records", date_format="iso"))
    request = urllib.request.Request(f"{stable['endpoint']}/predict", json.dumps(
        {"instances": rows, "probabilities": True}).encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as resp:
        answer = json.loads(resp.read())
    meta = json.loads(t["metrics"])
    assert len(answer["probabilities"]) == 5 and meta["average_precision"] >= 0.25
    for label, p in zip(answer["predictions"], answer["probabilities"], strict=True):
        assert set(p) == {"0", "1"} and abs(sum(p.values()) - 1) < 1e-4
        assert label in (0, 1)
    send_traffic(stable["endpoint"], production, "churned", requests=500, seed=5, feedback_token=FEEDBACK_TOKEN)
    m = monitor.run({"endpoint": stable["endpoint"], "config": config, "state-dir": str(deploy_dir),
                     "on-success": "promote", "tracking-uri": mlflow_server.uri,
                     "report": str(tmp_path / "m.json")}, gh, env=STEP_ENV)
    assert m["decision"] == "promote", m["evidence"]
