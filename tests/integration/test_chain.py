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
