"""A small Kubernetes API client: kubeconfig auth, JSON over HTTPS, server-side apply.

aicd needs a dozen verbs on half a dozen kinds; the official client would add 30 MB and seconds of
import to every deploy. Contracts:
- ``apply`` is server-side apply with field manager ``aicd`` (``force``: aicd owns the fields it
  sets; fields other managers set — an HPA's replicas, a user's annotation — are left alone).
- Every failure leaves as :class:`KubeError` carrying the HTTP status; 401/403 say whose
  credentials were refused and for what, a refused connection names the API server.
"""

from __future__ import annotations

import base64
import json
import ssl
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import yaml

from ...errors import ConfigError, KubeError

__all__ = ["KubeClient", "KubeError", "resource_path"]

FIELD_MANAGER = "aicd"
# kind -> (API group/version path, plural, namespaced)
KINDS = {
    "Namespace": ("api/v1", "namespaces", False),
    "Service": ("api/v1", "services", True),
    "ConfigMap": ("api/v1", "configmaps", True),
    "Secret": ("api/v1", "secrets", True),
    "ServiceAccount": ("api/v1", "serviceaccounts", True),
    "Pod": ("api/v1", "pods", True),
    "Deployment": ("apis/apps/v1", "deployments", True),
    "ReplicaSet": ("apis/apps/v1", "replicasets", True),
    "Lease": ("apis/coordination.k8s.io/v1", "leases", True),
    "Role": ("apis/rbac.authorization.k8s.io/v1", "roles", True),
    "RoleBinding": ("apis/rbac.authorization.k8s.io/v1", "rolebindings", True),
    "HTTPRoute": ("apis/gateway.networking.k8s.io/v1", "httproutes", True),
}


def resource_path(kind: str, namespace: str = "", name: str = "") -> str:
    group, plural, namespaced = KINDS[kind]
    path = f"/{group}/namespaces/{namespace}/{plural}" if namespaced else f"/{group}/{plural}"
    return f"{path}/{name}" if name else path


@dataclass
class KubeClient:
    server: str
    context: ssl.SSLContext  # trusts the cluster CA; carries the client certificate, if any
    token: str = ""
    who: str = "the kubeconfig user"
    trust_only: ssl.SSLContext | None = None  # the same trust, without a client certificate

    @classmethod
    def from_kubeconfig(cls, path: str | Path, context_name: str = "") -> KubeClient:
        """Read a kubeconfig: server and CA of the context's cluster, token or client cert of its user."""
        try:
            config = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"cannot read kubeconfig: {exc}", file=str(path),
                              hint="pass a kubeconfig file in the `kubeconfig` input") from None
        base = Path(path).parent
        ctx_name = context_name or config.get("current-context", "")
        ctx = _named(config, "contexts", ctx_name, path).get("context", {})
        cluster = _named(config, "clusters", ctx.get("cluster", ""), path).get("cluster", {})
        user = _named(config, "users", ctx.get("user", ""), path).get("user", {})
        ssl_context, trust_only = _trusting(cluster, base), _trusting(cluster, base)
        _load_client_cert(ssl_context, user, base)
        token = user.get("token", "")
        if not token and user.get("tokenFile"):
            token = (base / user["tokenFile"]).read_text().strip()
        return cls(cluster.get("server", "").rstrip("/"), ssl_context, token, f"user `{ctx.get('user', '?')}`",
                   trust_only)

    # -- verbs ---------------------------------------------------------------------------------
    def get(self, kind: str, namespace: str, name: str) -> dict | None:
        """The object, or None when it does not exist."""
        try:
            return self.request("GET", resource_path(kind, namespace, name))
        except KubeError as exc:
            if exc.status == 404:
                return None
            raise

    def list(self, kind: str, namespace: str, selector: str = "") -> list[dict]:
        query = f"?labelSelector={urllib.parse.quote(selector)}" if selector else ""
        return self.request("GET", resource_path(kind, namespace) + query).get("items", [])

    def apply(self, obj: dict) -> dict:
        """Server-side apply ``obj`` (a complete manifest) as field manager ``aicd``."""
        meta = obj["metadata"]
        path = resource_path(obj["kind"], meta.get("namespace", ""), meta["name"])
        return self.request("PATCH", f"{path}?fieldManager={FIELD_MANAGER}&force=true", obj,
                            "application/apply-patch+yaml")

    def create(self, obj: dict) -> dict:
        meta = obj["metadata"]
        return self.request("POST", resource_path(obj["kind"], meta.get("namespace", "")), obj)

    def replace(self, obj: dict) -> dict:
        """PUT: fails with 409 when ``metadata.resourceVersion`` is stale (optimistic locking)."""
        meta = obj["metadata"]
        return self.request("PUT", resource_path(obj["kind"], meta.get("namespace", ""), meta["name"]), obj)

    def delete(self, kind: str, namespace: str, name: str) -> None:
        """Idempotent: deleting what is gone is fine."""
        try:
            self.request("DELETE", resource_path(kind, namespace, name))
        except KubeError as exc:
            if exc.status != 404:
                raise

    def has_api(self, group_version: str) -> bool:
        """Whether the server serves ``group_version`` (e.g. gateway.networking.k8s.io/v1)."""
        try:
            self.request("GET", f"/apis/{group_version}")
            return True
        except KubeError as exc:
            if exc.status == 404:
                return False
            raise

    def request(self, method: str, path: str, body: dict | None = None,
                content_type: str = "application/json") -> dict:
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Accept": "application/json", "Content-Type": content_type}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        req = urllib.request.Request(self.server + path, data, headers, method=method)
        try:
            with urllib.request.urlopen(req, timeout=30, context=self.context) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as err:
            raise self._error(method, path, err.code, err.read()) from None
        except (urllib.error.URLError, OSError) as exc:
            raise KubeError(self.server, 0, f"cannot reach the API server ({getattr(exc, 'reason', exc)})",
                            hint="check the kubeconfig's server address and that the cluster is up") from None
        return json.loads(raw) if raw else {}

    def _error(self, method: str, path: str, status: int, raw: bytes) -> KubeError:
        try:
            message = json.loads(raw).get("message", "")
        except ValueError:
            message = raw.decode(errors="replace")[:200]
        if status in (401, 403):
            return KubeError(self.server, status, f"{self.who} may not {method} {path}: {message}",
                             hint="check the credentials and their RBAC role in this namespace")
        return KubeError(self.server, status, f"{method} {path}: HTTP {status}: {message}")


def _named(config: dict, section: str, name: str, path) -> dict:
    for entry in config.get(section) or []:
        if entry.get("name") == name:
            return entry
    raise ConfigError(f"kubeconfig has no {section[:-1]} named {name!r}", file=str(path))


def _trusting(cluster: dict, base: Path) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if cluster.get("insecure-skip-tls-verify"):
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    elif cluster.get("certificate-authority-data"):
        context.load_verify_locations(cadata=base64.b64decode(cluster["certificate-authority-data"]).decode())
    elif cluster.get("certificate-authority"):
        context.load_verify_locations(cafile=str(base / cluster["certificate-authority"]))
    return context


def _load_client_cert(context: ssl.SSLContext, user: dict, base: Path) -> None:
    """Client certificate and key, inline (``-data``) or by path. ssl only reads files, so inline
    material goes to a private temp dir that is removed as soon as it is loaded."""
    with tempfile.TemporaryDirectory(prefix="aicd-kube-") as tmp:
        paths = []
        for key in ("client-certificate", "client-key"):
            if user.get(f"{key}-data"):
                path = Path(tmp) / f"{key}.pem"
                path.write_bytes(base64.b64decode(user[f"{key}-data"]))
                paths.append(str(path))
            elif user.get(key):
                paths.append(str(base / user[key]))
        if len(paths) == 2:
            context.load_cert_chain(*paths)
