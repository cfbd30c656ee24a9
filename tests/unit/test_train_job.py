"""model.runner: kubernetes — the config, the Job manifest and the step's refusals (pure parts; the Job
itself runs on the real node in tests/integration/test_kube_training.py)."""

from __future__ import annotations

import pytest

from aicd.config import load_config
from aicd.deploy.kube.job import TrainingJob, job
from aicd.errors import ConfigError
from aicd.steps import train_job
from aicd.steps.train_job import _data_reference, _failure_words, _last_aicd_line, check_image_lock

IMAGE = "registry.example.com/aicd-train:0123456789ab"


def config(tmp_path, body: str):
    path = tmp_path / "aicd.yml"
    path.write_text("data: {label: y}\nmodel:\n  runner: kubernetes\n" + body, encoding="utf-8")
    return load_config(str(path))


def test_a_kubernetes_runner_needs_its_image(tmp_path):
    with pytest.raises(ConfigError, match=r"model.kubernetes.image` is required") as refused:
        config(tmp_path, "")
    assert refused.value.line == 3 and "aicd image train" in refused.value.hint


@pytest.mark.parametrize(("body", "message", "line"), [
    ("    volumes: [{claim: Data, mount: /data}]\n", "not a PersistentVolumeClaim name", 6),
    ("    volumes: [{claim: data, mount: /tmp}]\n", "must be an absolute folder", 6),
    ("    volumes: [{claim: a, mount: /data}, {claim: b, mount: /data/x}]\n", "inside another volume", 6),
    ("    tolerations: [{key: gpu, operator: Sometimes}]\n", "operator must be Equal or Exists", 6),
    ("    active-deadline-seconds: 0\n", "must be between 1", 6),
    ("    env: [\"NOT-A-NAME\"]\n", "not an environment variable name", 6),
    ("    imagex: x\n", "unknown key", 6),
])
def test_each_mistake_names_its_line(tmp_path, body, message, line):
    with pytest.raises(ConfigError, match=message) as refused:
        config(tmp_path, f"  kubernetes:\n    image: {IMAGE}\n" + body)
    assert refused.value.line == line


def spec(**env) -> TrainingJob:
    return TrainingJob("churn-train-abc123", "aicd-acme", "acme__churn", IMAGE, "ml/aicd.yml",
                       {"AICD_DATA": "/data/x.csv", **env}, ("MLFLOW_TRACKING_TOKEN",))


def test_the_job_runs_locked_down_with_its_placement_resources_and_deadline(tmp_path):
    cfg = config(tmp_path, f"""  kubernetes:
    image: {IMAGE}
    resources: {{limits: {{memory: 8Gi, nvidia.com/gpu: 1}}}}
    node-selector: {{pool: gpu}}
    tolerations: [{{key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}}]
    image-pull-secrets: [registry]
    active-deadline-seconds: 900
    volumes: [{{claim: training-data, mount: /data}}]
""")
    manifest = job(spec(), cfg.model.kubernetes, suspended=True)
    assert manifest["spec"]["backoffLimit"] == 0 and manifest["spec"]["activeDeadlineSeconds"] == 900
    assert manifest["spec"]["suspend"] is True
    pod = manifest["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["resources"]["limits"] == {"memory": "8Gi", "nvidia.com/gpu": "1"}
    assert pod["nodeSelector"] == {"pool": "gpu"} and pod["tolerations"][0]["key"] == "nvidia.com/gpu"
    assert pod["imagePullSecrets"] == [{"name": "registry"}]
    assert pod["automountServiceAccountToken"] is False and pod["restartPolicy"] == "Never"
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] and security["runAsNonRoot"]
    assert security["capabilities"]["drop"] == ["ALL"]
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    assert mounts["/workspace/ml/aicd.yml"]["subPath"] == "aicd.yml" and mounts["/data"]["readOnly"]
    claim = next(v for v in pod["volumes"] if "persistentVolumeClaim" in v)
    assert claim["persistentVolumeClaim"] == {"claimName": "training-data", "readOnly": True}
    assert container["envFrom"] == [{"secretRef": {"name": "churn-train-abc123"}}]
    assert container["terminationMessagePolicy"] == "FallbackToLogsOnError"
    assert manifest["metadata"]["labels"]["app.kubernetes.io/name"] == "acme-churn"


def test_data_only_the_runner_has_is_refused_before_anything_is_submitted(tmp_path):
    cfg = config(tmp_path, f"  kubernetes:\n    image: {IMAGE}\n    volumes: [{{claim: d, mount: /data}}]\n")
    for given in ("s3://bucket/train.parquet", "gs://b/x/*.parquet", "az://c/p.csv", "sql: SELECT * FROM t",
                  "/data/train.csv", "/data/2026/*.parquet"):
        assert _data_reference(given, cfg) == given
    for runner_only in ("data/train.csv", "/home/runner/work/x.csv", "/datasets/x.csv", "file:///tmp/x.csv",
                        "https://example.com/x.csv", "queries/train.sql"):
        with pytest.raises(ConfigError, match="a training Job cannot read it") as refused:
            _data_reference(runner_only, cfg)
        assert "mounted at /data" in refused.value.hint


def test_a_sqlite_store_and_an_unset_variable_are_refused(tmp_path, monkeypatch):
    cfg = config(tmp_path, f"  kubernetes:\n    image: {IMAGE}\n    env: [HF_TOKEN]\n")
    inputs = {"data": "s3://b/x.csv", "on-failure": "fail"}
    with pytest.raises(ConfigError, match="not reachable from a training Job"):
        train_job._plan(inputs, cfg, {}, "churn", "aicd", "sqlite:///mlflow.db")
    with pytest.raises(ConfigError, match="HF_TOKEN is not set on the runner") as refused:
        train_job._plan(inputs, cfg, {}, "churn", "aicd", "http://mlflow:5000")
    assert refused.value.line == 6


def test_secrets_go_to_the_secret_and_plain_inputs_to_the_spec(tmp_path):
    cfg = config(tmp_path, f"  kubernetes:\n    image: {IMAGE}\n    env: [HF_TOKEN]\n")
    env = {"MLFLOW_TRACKING_TOKEN": "tok", "AWS_SECRET_ACCESS_KEY": "aws", "HF_TOKEN": "hf", "GITHUB_SHA": "a" * 40,
           "UNRELATED": "x"}
    plan = train_job._plan({"data": "s3://b/x.csv", "on-failure": "fail", "tenant": "acme"}, cfg, env, "acme__churn",
                           "aicd-acme", "http://mlflow:5000")
    assert plan.secret_values == {"MLFLOW_TRACKING_TOKEN": "tok", "AWS_SECRET_ACCESS_KEY": "aws", "HF_TOKEN": "hf"}
    assert not set(plan.secret_values.values()) & set(plan.spec.env.values())
    assert plan.spec.env["AICD_DATA"] == "s3://b/x.csv" and plan.spec.env["GITHUB_SHA"] == "a" * 40
    assert plan.spec.env[train_job.JOB_ENV] == f"aicd-acme/{plan.spec.name}"
    assert "UNRELATED" not in plan.spec.env and len(plan.spec.name) <= 63


def test_the_image_must_hold_the_runners_lock():
    check_image_lock({train_job.EXPECT_ENV: "a" * 64, train_job.LOCK_ENV: "a" * 64})
    with pytest.raises(ConfigError, match=r"another requirements/aicd\.lock"):
        check_image_lock({train_job.EXPECT_ENV: "a" * 64, train_job.LOCK_ENV: "b" * 64})
    with pytest.raises(ConfigError, match="image none"):
        check_image_lock({train_job.EXPECT_ENV: "a" * 64})


def test_how_a_failed_job_is_told():
    assert "active deadline of 60 s" in _failure_words("DeadlineExceeded", "", None, {}, 60)
    evicted = {"status": {"reason": "Evicted", "message": "The node was low on resource: memory."},
               "spec": {"nodeName": "n1"}}
    assert _failure_words("BackoffLimitExceeded", "", evicted, {}, 60) == \
        "the pod was evicted from node n1: The node was low on resource: memory."
    assert "OOMKilled" in _failure_words("BackoffLimitExceeded", "", {}, {"reason": "OOMKilled", "exitCode": 137}, 60)
    message = "  │ noise\nerror: aicd.yml:4: `model.params`: unknown (hint)\n"
    assert _last_aicd_line(message) == "aicd.yml:4: `model.params`: unknown (hint)"
    assert _last_aicd_line("aicd: model gate failed: x\n") == "model gate failed: x"
    assert _last_aicd_line("Killed\n") == ""


def test_a_tracking_uri_with_credentials_goes_through_the_secret(tmp_path):
    cfg = config(tmp_path, f"  kubernetes:\n    image: {IMAGE}\n")
    inputs = {"data": "s3://b/x.csv", "on-failure": "fail"}
    plan = train_job._plan(inputs, cfg, {}, "churn", "aicd", "https://ci:pa55@mlflow.example.com")
    assert plan.secret_values["MLFLOW_TRACKING_URI"] == "https://ci:pa55@mlflow.example.com"
    assert "pa55" not in str(job(plan.spec, cfg.model.kubernetes))
    plain = train_job._plan(inputs, cfg, {}, "churn", "aicd", "https://mlflow.example.com")
    assert plain.spec.env["MLFLOW_TRACKING_URI"] == "https://mlflow.example.com" and not plain.secret_values


def test_an_entrypoint_module_is_shipped_to_the_same_workspace_path(tmp_path):
    (tmp_path / "ml").mkdir()
    (tmp_path / "ml" / "fit.py").write_text("def train(x, y, params):\n    ...\n", encoding="utf-8")
    (tmp_path / "aicd.yml").write_text(f"""data: {{label: y}}
model:
  entrypoint: ml.fit:train
  task: classification
  runner: kubernetes
  kubernetes: {{image: {IMAGE}}}
""", encoding="utf-8")
    cfg = load_config(str(tmp_path / "aicd.yml"))
    plan = train_job._plan({"data": "s3://b/x.csv", "on-failure": "fail", "config": str(tmp_path / "aicd.yml")}, cfg,
                           {"GITHUB_WORKSPACE": str(tmp_path)}, "churn", "aicd", "https://mlflow")
    assert plan.files == {"ml/fit.py": "def train(x, y, params):\n    ...\n"}
    (made,) = [m for m in plan.owned("uid-1") if m["kind"] == "ConfigMap"]
    assert made["data"]["file-0"] == plan.files["ml/fit.py"]
    assert made["metadata"]["ownerReferences"][0]["uid"] == "uid-1"
    mounts = {m["mountPath"]: m for m in job(plan.spec, cfg.model.kubernetes)["spec"]["template"]["spec"]
              ["containers"][0]["volumeMounts"]}
    assert mounts["/workspace/ml/fit.py"]["subPath"] == "file-0"
    with pytest.raises(ConfigError, match="not a file of the workspace") as refused:
        train_job._plan({"data": "s3://b/x.csv", "on-failure": "fail"}, cfg, {"GITHUB_WORKSPACE": str(tmp_path / "x")},
                        "churn", "aicd", "https://mlflow")
    assert refused.value.line == 3


class RunTags:
    """The registry's answer to "which run did this Job make" (the one call _failure makes)."""

    def __init__(self, tags):
        self.tags = tags

    def job_run(self, name, job_id):
        return self.tags


def test_a_failed_job_keeps_the_gate_s_verdict_its_own_line_and_the_bug_status():
    spec = TrainingJob("j-train-1", "aicd-acme", "acme__churn", IMAGE, "", {})
    from aicd.errors import GateFailed, ServiceError, UserError

    gate = train_job._failure(train_job.Outcome(False, "", 1, ""), spec, RunTags({"aicd.gate": "failed"}), "m")
    assert isinstance(gate, GateFailed) and "model gate failed" in gate.message
    refused = train_job._failure(train_job.Outcome(False, "", 1, "aicd.yml:3: bad"), spec, RunTags(None), "m")
    assert isinstance(refused, UserError) and refused.message.endswith("aicd.yml:3: bad")
    bug = train_job._failure(train_job.Outcome(False, "", 70, ""), spec, RunTags(None), "m")
    assert isinstance(bug, RuntimeError)
    lost = train_job._failure(train_job.Outcome(False, "the pod was evicted", 143, ""), spec, RunTags(None), "m",
                              taken_back=False)
    assert isinstance(lost, ServiceError) and "check model m for a version tagged aicd.job=aicd-acme/j-train-1" in \
        lost.message
