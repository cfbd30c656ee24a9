"""The kubernetes target's pure parts: manifests, deploy config, the A/B split, tenant namespaces."""

import random

import pytest

from aicd.config import KubernetesConfig, parse_config
from aicd.deploy.kube import manifests
from aicd.deploy.kube.client import resource_path
from aicd.deploy.kube.manifests import KubeRelease, deployment, router_deployment, service, tenant_manifests
from aicd.errors import ConfigError
from aicd.serve.router import variant_for
from aicd.steps.targets import namespace_for

RELEASE = KubeRelease(3, "ghcr.io/acme/coffee:3-0123abc", "models:/coffee/3", "3", "run-1", "0123abcdef")


def test_a_deployment_is_non_root_probed_labelled_and_surges_without_losing_capacity():
    cfg = KubernetesConfig(labels={"team": "ml"}, annotations={"owner": "ml@acme"}, node_selector={"pool": "cpu"},
                           resources={"requests": {"cpu": "250m"}})
    d = deployment("coffee", "aicd-acme", "canary", RELEASE, 4, cfg, "canary")
    spec, pod = d["spec"], d["spec"]["template"]["spec"]
    assert d["metadata"]["name"] == "coffee-canary" and spec["replicas"] == 4
    assert spec["strategy"]["rollingUpdate"] == {"maxUnavailable": 0, "maxSurge": 1}
    assert spec["selector"]["matchLabels"] == {"app.kubernetes.io/name": "coffee", "aicd.dev/track": "canary"}
    labels = spec["template"]["metadata"]["labels"]
    assert labels["aicd.dev/model-version"] == "3" and labels["aicd.dev/revision"] == "3" and labels["team"] == "ml"
    assert spec["template"]["metadata"]["annotations"]["aicd.dev/commit"] == "0123abcdef"
    assert pod["securityContext"]["runAsNonRoot"] and pod["securityContext"]["runAsUser"] == 65532
    assert pod["automountServiceAccountToken"] is False and pod["nodeSelector"] == {"pool": "cpu"}
    container = pod["containers"][0]
    assert container["securityContext"] == {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                            "capabilities": {"drop": ["ALL"]}}
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["resources"] == {"requests": {"cpu": "250m"}}
    assert {"name": "AICD_VARIANT", "value": "canary"} in container["env"]


def test_the_service_selects_by_name_and_optional_track():
    s = service("coffee", "ns", "coffee", {"aicd.dev/track": "blue"}, KubernetesConfig())
    assert s["spec"]["selector"] == {"app.kubernetes.io/name": "coffee", "aicd.dev/track": "blue"}
    assert s["spec"]["ports"][0]["port"] == 8080


def test_the_router_runs_the_router_module_with_the_split():
    r = router_deployment("coffee", "ns", "img:1", {"a": "http://a", "b": "http://b"}, 25, KubernetesConfig())
    container = r["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["python3", "-m", "aicd.serve.router"]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["AICD_AB_SPLIT"] == "25" and env["AICD_AB_A"] == "http://a" and env["AICD_AB_KEY"] == "x-user-id"


def test_tenant_rbac_is_a_role_confined_to_the_tenant_namespace():
    objects = {o["kind"]: o for o in tenant_manifests("acme", "aicd-acme")}
    assert set(objects) == {"Namespace", "ServiceAccount", "Role", "RoleBinding"}
    assert objects["Role"]["metadata"]["namespace"] == "aicd-acme"
    assert objects["RoleBinding"]["subjects"] == [{"kind": "ServiceAccount", "name": "aicd-deployer",
                                                   "namespace": "aicd-acme"}]
    assert namespace_for("acme", "shared") == "aicd-acme" and namespace_for("", "") == "aicd"


def test_resource_paths():
    assert resource_path("Deployment", "ns", "x") == "/apis/apps/v1/namespaces/ns/deployments/x"
    assert resource_path("Namespace", name="ns") == "/api/v1/namespaces/ns"


def test_the_ab_split_is_sticky_and_exact():
    keys = [f"user-{random.Random(1).random()}-{i}" for i in range(100_000)]
    share = sum(variant_for(k, 20) == "b" for k in keys) / len(keys)
    assert abs(share - 0.20) < 0.005
    assert [variant_for(k, 20) for k in keys[:1000]] == [variant_for(k, 20) for k in keys[:1000]]
    assert variant_for(None, 99) == "a" and variant_for("x", 0) == "a" and variant_for("x", 100) == "b"
    # raising the split only moves users from a to b, never back
    assert all(variant_for(k, 50) == "b" for k in keys[:5000] if variant_for(k, 20) == "b")


def test_deploy_config_defaults_and_errors():
    cfg = parse_config("deploy:\n  kubernetes: {strategy: blue-green, replicas: 3}\n").deploy.kubernetes
    assert (cfg.strategy, cfg.replicas, cfg.keep_revisions, cfg.canary.steps) == ("blue-green", 3, 5, (10, 50, 100))
    with pytest.raises(ConfigError, match=r"aicd.yml:2: `deploy.kubernetes.strategy`: must be one of"):
        parse_config("deploy:\n  kubernetes: {strategy: yolo}\n")
    with pytest.raises(ConfigError, match="rising percentages ending at 100"):
        parse_config("deploy:\n  kubernetes:\n    canary: {steps: [10, 50]}\n")
    with pytest.raises(ConfigError, match=r"labels\.team`: must be a string"):
        parse_config("deploy:\n  kubernetes:\n    labels: {team: [a]}\n")


def test_model_pods_read_the_feedback_token_from_the_deployments_secret_and_only_there():
    cfg = KubernetesConfig()
    pod = deployment("churn", "aicd-acme", "stable", KubeRelease(3, "img:1"), 2, cfg)["spec"]["template"]["spec"]
    env = {e["name"]: e for e in pod["containers"][0]["env"]}
    assert env["AICD_FEEDBACK_TOKEN"]["valueFrom"] == {
        "secretKeyRef": {"name": "churn-feedback", "key": "token", "optional": True}}
    assert "value" not in env["AICD_FEEDBACK_TOKEN"]  # never inlined in the Deployment
    secret = manifests.feedback_secret("churn", "aicd-acme", "t0k", cfg)
    assert (secret["kind"], secret["metadata"]["name"], secret["stringData"]) == ("Secret", "churn-feedback",
                                                                                 {"token": "t0k"})
    assert resource_path("Secret", "aicd-acme", "churn-feedback").endswith("aicd-acme/secrets/churn-feedback")


def test_tolerations_and_pull_secrets_reach_every_pod_as_a_pod_spec_spells_them():
    text = ("deploy:\n  kubernetes:\n    tolerations:\n"
            "      - {key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}\n"
            "      - {key: pool, value: ml, effect: NoExecute, tolerationSeconds: 30}\n"
            "    image-pull-secrets: [ghcr-read]\n")
    cfg = parse_config(text).deploy.kubernetes
    assert parse_config("deploy:\n  kubernetes:\n    tolerations: [{operator: Exists}]\n").deploy.kubernetes \
        .tolerations == ({"operator": "Exists"},)  # tolerates every taint
    pod = deployment("churn", "aicd", "stable", KubeRelease(1, "img:1"), 2, cfg)["spec"]["template"]["spec"]
    assert pod["tolerations"] == [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},
                                  {"key": "pool", "value": "ml", "effect": "NoExecute", "tolerationSeconds": 30,
                                   "operator": "Equal"}]
    assert pod["imagePullSecrets"] == [{"name": "ghcr-read"}]
    router = router_deployment("churn", "aicd", "img:1", {"a": "http://a"}, 50, cfg)["spec"]["template"]["spec"]
    assert router["tolerations"] == pod["tolerations"] and router["imagePullSecrets"] == pod["imagePullSecrets"]
    assert "tolerations" not in deployment("c", "aicd", "stable", KubeRelease(1, "i"), 1,
                                           KubernetesConfig())["spec"]["template"]["spec"]


@pytest.mark.parametrize(("text", "needle"), [
    ("tolerations: [{key: a, operator: Maybe}]", r"tolerations\[0\]\.operator`: operator must be Equal or Exists"),
    ("tolerations: [{key: a, effect: Sometimes}]", r"tolerations\[0\]\.effect`: effect must be one of"),
    ("tolerations: [{key: a, operator: Exists, value: b}]", "an Exists toleration has no value"),
    ("tolerations: [{key: a, effect: NoExecute, tolerationSeconds: -1}]", "must be a whole number of seconds"),
    ("tolerations: [{key: a, colour: red}]", "colour"),
    ("image-pull-secrets: [ok, Bad_Name]", r"image-pull-secrets\[1\]`: 'Bad_Name' is not a Secret name"),
    ("image-pull-secrets: [-bad-]", "is not a Secret name"),
    ("image-pull-secrets: ['a..b']", "is not a Secret name"),
    ("image-pull-secrets: [ünï]", "is not a Secret name"),
    ("tolerations: [{effect: NoSchedule}]", "without a key must have operator: Exists"),
    ("tolerations: [null]", "must be a mapping|without a key"),
    ("tolerations: [{key: a, value: b, effect: NoSchedule, tolerationSeconds: 5}]", "NoExecute only"),
    ("tolerations: [{key: 'bad key!'}]", "is not a taint key"),
    ("tolerations: [{key: a, value: 'has spaces'}]", "is not a taint value"),
    ("tolerations: [{key: a, value: 3}]", r"tolerations\[0\]\.value`: must be a string"),
])
def test_a_wrong_toleration_or_secret_name_names_its_key(text, needle):
    with pytest.raises(ConfigError, match=needle) as err:
        parse_config(f"deploy:\n  kubernetes:\n    {text}\n")
    assert "aicd.yml:3" in str(err.value)  # the line, as every aicd.yml mistake


def test_a_router_whose_service_variable_was_never_expanded_refuses_to_start(monkeypatch, capsys):
    from aicd.serve import router

    monkeypatch.setenv("AICD_AB_A", "http://10.96.0.9:8080")
    monkeypatch.setenv("AICD_AB_B", manifests.service_url("churn-b"))  # kubelet left it as written
    assert router.main() == 3  # the pod crash-loops, and the rollout ends on kubelet's verdict
    assert "no address for variant b" in capsys.readouterr().err
