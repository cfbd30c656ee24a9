"""aicd-tenants.yml end to end under act (host mode): three tenants fan out, one fails its model gate,
the other two ship, and no tenant sees another's model.

act runs `.github/workflows/tenants-example.yml`, which calls the reusable `aicd-tenants.yml`: a
matrix job per tenant (data gate, model gate, release, production gate) that uploads its kept
pull-request comment sections and results as an artifact, then one job that downloads them all.
`actions/upload-artifact` and `actions/download-artifact` are served from local copies built at the
commits the template pins (scripts/install-act-actions: act cannot clone them without GitHub), and
act's own artifact server (--artifact-server-path) stores the artifacts.
"""

from __future__ import annotations

import json
import re
import urllib.request
from pathlib import Path

from aicd.deploy.local import LocalTarget
from aicd.examples.coffee import CONFIG_PATH, generate
from tests.act_runner import run_act

WORKFLOW = ".github/workflows/tenants-example.yml"
TENANTS = ("acme", "globex", "initech")


def tenant_config(folder: Path) -> Path:
    """The coffee example's aicd.yml with three tenants, each on its own data; initech demands an
    accuracy no model reaches, so its model gate fails."""
    sources = {}
    for tenant, seed in zip(TENANTS, (12, 8, 9), strict=True):  # seeds whose holdout accuracy clears the story's 0.9
        sources[tenant] = folder / f"{tenant}.csv"
        generate(3000, seed=seed).to_csv(sources[tenant], index=False)
    tenants = f"""
tenants:
  acme:
    data: {{source: {sources['acme']}}}
  globex:
    data: {{source: {sources['globex']}}}
    model: {{params: {{n_estimators: 50}}}}
  initech:
    data: {{source: {sources['initech']}}}
    model: {{thresholds: {{accuracy: 0.999}}}}
"""
    path = folder / "aicd.yml"
    path.write_text(Path(CONFIG_PATH).read_text(encoding="utf-8") + tenants, encoding="utf-8")
    return path


def test_three_tenants_fan_out_one_fails_its_gate_and_the_others_ship_apart(action_venv, mlflow_server,
                                                                           tmp_path):
    state = tmp_path / "deploy"
    config = tenant_config(tmp_path)
    try:
        proc = run_act(WORKFLOW, {"tenants": json.dumps(list(TENANTS)), "config": str(config),
                                  "tracking-uri": mlflow_server.uri, "state-dir": str(state)},
                       tmp_path / "act-home", extra=["--artifact-server-path", str(tmp_path / "artifacts")],
                       timeout=1500)
        log = proc.stdout + proc.stderr
        (tmp_path / "act.log").write_text(log, encoding="utf-8")
        assert proc.returncode != 0, log[-4000:]  # initech's job failed, and the run says so
        # the `results` output as the last job sets it (act runs no caller job after a failed reusable workflow)
        match = re.search(r"\[tenants/aicd tenants/Every tenant\] .*::set-output:: results=(\{.*\})", proc.stdout)
        assert match, f"{tmp_path / 'act.log'}: {log[-3000:]}"
        results = json.loads(match.group(1))
        assert sorted(results) == sorted(TENANTS)
        # the local target pushes nothing, so the provenance matrix is empty (and that job is skipped)
        subjects = r"\[tenants/aicd tenants/Every tenant\] .*::set-output:: subjects=\[\]"
        assert re.search(subjects, proc.stdout), log[-3000:]
        assert "Build provenance" not in proc.stdout

        client = mlflow_server.client()
        for tenant in ("acme", "globex"):
            out, name = results[tenant], f"{tenant}__coffee-recommender"
            assert (out["data-gate"], out["model-gate"], out["release"]) == ("success",) * 3, out
            assert out["model-name"] == name and out["model-uri"] == f"models:/{name}/{out['model-version']}"
            version = client.get_model_version(name, out["model-version"])
            run = client.get_run(version.run_id)
            assert run.data.tags["aicd.tenant"] == tenant
            assert json.loads(out["metrics"])["accuracy"] >= 0.9
            with urllib.request.urlopen(f"{out['endpoint']}/metrics", timeout=10) as resp:
                served = set(re.findall(r'model="([^"]+)"', resp.read().decode()))
            assert served == {name}, served  # each endpoint serves its own tenant's model, and only it
            assert out["decision"] == "hold"  # no traffic yet
        assert results["acme"]["endpoint"] != results["globex"]["endpoint"]
        assert client.get_run(client.get_model_version("globex__coffee-recommender", "1").run_id) \
            .data.params["n_estimators"] == "50"  # globex's override
        assert client.get_run(client.get_model_version("acme__coffee-recommender", "1").run_id) \
            .data.params["n_estimators"] == "100"  # the defaults

        failed = results["initech"]
        assert (failed["data-gate"], failed["model-gate"], failed["release"]) == ("success", "failure", "skipped")
        assert failed["model-uri"] == "" and failed["endpoint"] == ""
        registered = {m.name for m in client.search_registered_models()}
        assert {"acme__coffee-recommender", "globex__coffee-recommender"} <= registered
        assert not any(n.startswith("initech__") for n in registered), registered  # nothing registered
        for model in client.search_model_versions("name = 'coffee-recommender'"):  # other tests share the server:
            assert client.get_run(model.run_id).data.tags.get("aicd.tenant", "") not in TENANTS  # no tenant's

        # one job after the matrix gathered every tenant's sections: 4 + 4 + 2 (initech stopped at training)
        assert "aicd comment: 10 section(s) kept" in proc.stdout, log[-6000:]
    finally:
        for tenant in TENANTS:
            if (state / tenant).exists():  # initech never deployed: it has nothing to stop
                LocalTarget(state / tenant).stop()
