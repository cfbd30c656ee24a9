"""A small Kubernetes API client: JSON over HTTPS, server-side apply, kubectl's logins.

aicd needs a dozen verbs on half a dozen kinds. The official client (kubernetes 37) installs 75 MB
with aiohttp and pydantic and takes 1.1 s to import here, in every action that shares the lock;
this one is a few hundred lines and logs in the same ways (:mod:`.login`). Contracts:
- ``apply`` is server-side apply with field manager ``aicd`` (``force``: aicd owns the fields it
  sets; fields other managers set — an HPA's replicas, a user's annotation — are left alone).
- Every failure leaves as :class:`KubeError` carrying the HTTP status; 401/403 say whose
  credentials were refused and for what, a refused connection names the API server.
- A 401 with credentials that can be fetched again (an exec plugin, a token file) fetches them
  once and retries; a proxy comes from the kubeconfig's ``proxy-url``, else from HTTPS_PROXY /
  NO_PROXY in the environment.
"""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ...errors import KubeError
from .login import Credentials, Login, read_kubeconfig

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
    "Job": ("apis/batch/v1", "jobs", True),
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
    credentials: Credentials = field(default_factory=lambda: Credentials("the kubeconfig user"))
    trust_only: ssl.SSLContext | None = None  # the same trust, without a client certificate
    proxy: str = ""  # the kubeconfig's proxy-url; empty: the environment's
    login: Login | None = None  # where a refreshed client certificate is loaded from

    @classmethod
    def from_kubeconfig(cls, path: str | Path, context_name: str = "") -> KubeClient:
        """The context's cluster and user in the kubeconfig file(s) ``path`` (``:``-separated like
        KUBECONFIG); inside a cluster with no kubeconfig, the pod's service account."""
        return cls.from_login(read_kubeconfig(path, context_name))

    @classmethod
    def from_login(cls, login: Login) -> KubeClient:
        login.credentials.bearer()  # an exec plugin runs now: a certificate it returns goes into the context
        return cls(login.server, login.ssl_context(), login.credentials, login.ssl_context(False), login.proxy,
                   login)

    @property
    def who(self) -> str:
        return self.credentials.who

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

    def delete(self, kind: str, namespace: str, name: str, propagation: str = "") -> None:
        """Idempotent: deleting what is gone is fine. ``propagation``: Background or Foreground deletes
        what the object owns too (a Job's pods)."""
        query = f"?propagationPolicy={propagation}" if propagation else ""
        try:
            self.request("DELETE", resource_path(kind, namespace, name) + query)
        except KubeError as exc:
            if exc.status != 404:
                raise

    def log_lines(self, namespace: str, pod: str, container: str, timeout: float) -> Iterator[str]:
        """The container's log as it is written (``follow``), line by line, until the container ends
        (or ``timeout`` seconds pass without a byte)."""
        path = f"{resource_path('Pod', namespace, pod)}/log?follow=true&container={urllib.parse.quote(container)}"
        headers = {"Accept": "*/*"}
        token = self.credentials.bearer()
        if token:
            headers["Authorization"] = f"Bearer {token}"
        try:
            with self._opener().open(urllib.request.Request(self.server + path, headers=headers),
                                     timeout=timeout) as resp:
                for raw in resp:
                    yield raw.decode("utf-8", errors="replace").rstrip("\r\n")
        except urllib.error.HTTPError as err:
            raise self._error("GET", path, err.code, err.read()) from None
        except (urllib.error.URLError, OSError) as exc:
            raise KubeError(self.server, 0, f"following the log of pod {pod}: {getattr(exc, 'reason', exc)}") from None

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
        try:
            return self._send(method, path, body, content_type)
        except KubeError as exc:
            if exc.status != 401 or not self.credentials.refreshable:
                raise
        cert = self.credentials.cert_pem
        self.credentials.refresh()  # an expired or rotated token: fetch it again, once
        if self.login is not None and self.credentials.cert_pem != cert:
            self.context = self.login.ssl_context()
        return self._send(method, path, body, content_type)

    def _send(self, method: str, path: str, body: dict | None, content_type: str) -> dict:
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Accept": "application/json", "Content-Type": content_type}
        token = self.credentials.bearer()
        if token:
            headers["Authorization"] = f"Bearer {token}"
        req = urllib.request.Request(self.server + path, data, headers, method=method)
        try:
            with self._opener().open(req, timeout=30) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as err:
            raise self._error(method, path, err.code, err.read()) from None
        except (urllib.error.URLError, OSError) as exc:
            via = f" through the proxy {self.proxy}" if self.proxy else ""
            raise KubeError(self.server, 0, f"cannot reach the API server{via} "
                            f"({getattr(exc, 'reason', exc)})",
                            hint="check the kubeconfig's server address and that the cluster is up") from None
        return json.loads(raw) if raw else {}

    def _opener(self) -> urllib.request.OpenerDirector:
        proxies = {"https": self.proxy, "http": self.proxy} if self.proxy else None  # None: the environment's
        return urllib.request.build_opener(urllib.request.ProxyHandler(proxies),
                                           urllib.request.HTTPSHandler(context=self.context))

    def _error(self, method: str, path: str, status: int, raw: bytes) -> KubeError:
        try:
            message = json.loads(raw).get("message", "")
        except ValueError:
            message = raw.decode(errors="replace")[:200]
        if status in (401, 403):  # 401: not taken for anyone (bad or expired); 403: taken, but RBAC says no
            hint = self.credentials.refused_hint() if status == 401 else \
                "check the credentials and their RBAC role in this namespace"
            return KubeError(self.server, status, f"{self.who} may not {method} {path}: {message}", hint=hint)
        return KubeError(self.server, status, f"{method} {path}: HTTP {status}: {message}")
