"""Kubernetes manifests for a model release (pure: data in, dicts out).

Every object carries ``app.kubernetes.io/name: <name>``, ``app.kubernetes.io/managed-by: aicd`` and
the user's ``deploy.kubernetes.labels``; pods also carry ``aicd.dev/track`` (stable, canary, blue,
green, a, b), ``aicd.dev/model-version`` and ``aicd.dev/revision``, so ``kubectl get pods -L``
shows what serves where. Pods run the serving image as uid 65532 with a read-only root, no
privilege escalation, no capabilities, the runtime's seccomp profile and no API token; readiness
is ``/readyz`` (model loaded and warmed), liveness ``/healthz``. The feedback token reaches the
model servers from the Secret ``<name>-feedback`` (key ``token``) as ``AICD_FEEDBACK_TOKEN``; the
reference is optional, so a release without a token starts and refuses feedback.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...config import KubernetesConfig

__all__ = ["PORT", "KubeRelease", "deployment", "feedback_secret", "http_route", "object_labels", "placement",
           "router_deployment", "service", "service_url", "tenant_manifests"]

PORT = 8080
NAME_LABEL = "app.kubernetes.io/name"


@dataclass(frozen=True)
class KubeRelease:
    """One revision of a model: what a Deployment runs."""

    revision: int
    image: str
    model_uri: str = ""
    model_version: str = ""
    run_id: str = ""
    commit: str = ""

    def record(self) -> dict:
        return {"revision": self.revision, "image": self.image, "model_uri": self.model_uri,
                "model_version": self.model_version, "run_id": self.run_id, "commit": self.commit}


def object_labels(name: str, cfg: KubernetesConfig) -> dict[str, str]:
    return {**cfg.labels, NAME_LABEL: name, "app.kubernetes.io/managed-by": "aicd"}


def deployment(name: str, namespace: str, track: str, release: KubeRelease, replicas: int, cfg: KubernetesConfig,
               variant: str = "stable", deployment_name: str = "") -> dict:
    """The Deployment of one track; ``deployment_name`` defaults to ``<name>-<track>``."""
    selector = {NAME_LABEL: name, "aicd.dev/track": track}
    pod_labels = {**object_labels(name, cfg), **selector, "aicd.dev/model-version": release.model_version or "none",
                  "aicd.dev/revision": str(release.revision)}
    annotations = {**cfg.annotations, "aicd.dev/model-uri": release.model_uri, "aicd.dev/run-id": release.run_id,
                   "aicd.dev/commit": release.commit, "aicd.dev/image": release.image}
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": deployment_name or f"{name}-{track}", "namespace": namespace, "labels": pod_labels,
                     "annotations": annotations},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": selector},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
            "progressDeadlineSeconds": cfg.progress_deadline_seconds,
            "revisionHistoryLimit": cfg.keep_revisions,
            "template": {"metadata": {"labels": pod_labels, "annotations": annotations},
                         "spec": _pod_spec(release.image, variant, cfg, feedback_secret=f"{name}-feedback")},
        },
    }


def _pod_spec(image: str, variant: str, cfg: KubernetesConfig, command: list[str] | None = None,
              env: dict[str, str] | None = None, feedback_secret: str = "") -> dict:
    variables = [{"name": k, "value": v} for k, v in {"AICD_VARIANT": variant, **(env or {})}.items()]
    if feedback_secret:
        variables.append({"name": "AICD_FEEDBACK_TOKEN", "valueFrom": {
            "secretKeyRef": {"name": feedback_secret, "key": "token", "optional": True}}})
    container = {
        "name": "server", "image": image, "ports": [{"name": "http", "containerPort": PORT}],
        "env": variables,
        "readinessProbe": {"httpGet": {"path": "/readyz", "port": "http"}, "periodSeconds": 2, "failureThreshold": 2},
        "livenessProbe": {"httpGet": {"path": "/healthz", "port": "http"}, "initialDelaySeconds": 5,
                          "periodSeconds": 10},
        "resources": cfg.resources,
        "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                            "capabilities": {"drop": ["ALL"]}},
    }
    if command:
        container["command"] = command
    spec = {"containers": [container], "automountServiceAccountToken": False, "terminationGracePeriodSeconds": 30,
            "securityContext": {"runAsNonRoot": True, "runAsUser": 65532, "runAsGroup": 65532,
                                "seccompProfile": {"type": "RuntimeDefault"}}}
    return {**spec, **placement(cfg)}


def placement(cfg) -> dict:
    """Where a pod may run and what it pulls with — node selector, tolerations, pull Secrets, as a pod
    spec spells them (only those set). ``cfg``: deploy.kubernetes or model.kubernetes, which share them."""
    spec: dict = {}
    if cfg.node_selector:
        spec["nodeSelector"] = dict(cfg.node_selector)
    if cfg.tolerations:
        spec["tolerations"] = [dict(t) for t in cfg.tolerations]
    if cfg.image_pull_secrets:
        spec["imagePullSecrets"] = [{"name": n} for n in cfg.image_pull_secrets]
    return spec


def service(service_name: str, namespace: str, name: str, selector: dict[str, str], cfg: KubernetesConfig) -> dict:
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": service_name, "namespace": namespace, "labels": object_labels(name, cfg),
                         "annotations": dict(cfg.annotations)},
            "spec": {"selector": {NAME_LABEL: name, **selector},
                     "ports": [{"name": "http", "port": PORT, "targetPort": "http"}]}}


def service_url(service_name: str) -> str:
    """The Service's address as kubelet's service environment variables give it, expanded in the pod's
    env (``$(X_SERVICE_HOST)``): no cluster DNS needed. The variant Services exist before the router's
    pods and keep their ClusterIP for their life, so the address never goes stale."""
    prefix = service_name.upper().replace("-", "_").replace(".", "_")
    return f"http://$({prefix}_SERVICE_HOST):$({prefix}_SERVICE_PORT)"


def http_route(name: str, namespace: str, gateway: str, weights: dict[str, int], cfg: KubernetesConfig) -> dict:
    """An HTTPRoute on ``gateway`` ([namespace/]name) splitting by ``weights`` {service: weight}."""
    gateway_ns, _, gateway_name = gateway.rpartition("/")
    parent = {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": gateway_name}
    if gateway_ns:
        parent["namespace"] = gateway_ns
    return {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
            "metadata": {"name": name, "namespace": namespace, "labels": object_labels(name, cfg)},
            "spec": {"parentRefs": [parent],
                     "rules": [{"backendRefs": [{"name": svc, "port": PORT, "weight": weight}
                                                for svc, weight in weights.items()]}]}}


def feedback_secret(name: str, namespace: str, token: str, cfg: KubernetesConfig) -> dict:
    """The Secret holding the bearer token the model servers of ``name`` require on /feedback."""
    return {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": {"name": f"{name}-feedback", "namespace": namespace, "labels": object_labels(name, cfg)},
            "stringData": {"token": token}}


def router_deployment(name: str, namespace: str, image: str, upstreams: dict[str, str], split: float,
                      cfg: KubernetesConfig) -> dict:
    """The A/B router: hashes the user key to a variant, forwards to that variant's Service."""
    release = KubeRelease(0, image)
    manifest = deployment(name, namespace, "router", release, max(1, min(cfg.replicas, 2)), cfg, "router")
    env = {"AICD_AB_SPLIT": f"{split:g}", "AICD_AB_KEY": cfg.ab.key,
           **{f"AICD_AB_{variant.upper()}": url for variant, url in upstreams.items()}}
    manifest["spec"]["template"]["spec"] = _pod_spec(image, "router", cfg,
                                                     ["python3", "-m", "aicd.serve.router"], env)
    return manifest


def tenant_manifests(tenant: str, namespace: str) -> list[dict]:
    """Namespace, the deployer ServiceAccount and a Role confined to that namespace (for an admin to apply)."""
    labels = {"aicd.dev/tenant": tenant, "app.kubernetes.io/managed-by": "aicd"}
    rules = [
        {"apiGroups": ["apps"], "resources": ["deployments", "replicasets"], "verbs": ["*"]},
        {"apiGroups": [""], "resources": ["services", "configmaps", "pods", "secrets"], "verbs": ["*"]},
        {"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]},  # a training Job's log, streamed
        {"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["*"]},  # model.runner: kubernetes
        {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["*"]},
        {"apiGroups": ["gateway.networking.k8s.io"], "resources": ["httproutes"], "verbs": ["*"]},
    ]
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace, "labels": labels}},
        {"apiVersion": "v1", "kind": "ServiceAccount",
         "metadata": {"name": "aicd-deployer", "namespace": namespace, "labels": labels}},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
         "metadata": {"name": "aicd-deployer", "namespace": namespace, "labels": labels}, "rules": rules},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
         "metadata": {"name": "aicd-deployer", "namespace": namespace, "labels": labels},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "aicd-deployer"},
         "subjects": [{"kind": "ServiceAccount", "name": "aicd-deployer", "namespace": namespace}]},
    ]
