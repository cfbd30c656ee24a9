"""Logging in to a cluster the way kubectl does: kubeconfig files, exec credential plugins, OIDC
id-tokens, token files and the in-cluster service account.

Contracts:
- ``KUBECONFIG`` may list several files (``:``-separated); they merge as kubectl merges them: the
  first file that names a cluster, user or context wins, and the first ``current-context`` is used.
- An ``exec`` user runs its plugin (how EKS, GKE and AKS kubeconfigs log in: ``aws eks get-token``,
  ``gke-gcloud-auth-plugin``, ``kubelogin``) with ``KUBERNETES_EXEC_INFO`` set as the
  client.authentication.k8s.io protocol says, non-interactively, and keeps its token until its
  ``expirationTimestamp``; a 401 runs it again once.
- A ``tokenFile`` (and the in-cluster token, which the kubelet rotates) is read again on every
  refresh, never cached for the process's life.
- Every problem is one line naming the kubeconfig, the user or the plugin, never a traceback.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import shutil
import ssl
import subprocess
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ...errors import ConfigError

__all__ = ["IN_CLUSTER", "Credentials", "Login", "in_cluster", "read_kubeconfig"]

IN_CLUSTER = Path("/var/run/secrets/kubernetes.io/serviceaccount")
EXEC_TIMEOUT = 60  # seconds a credential plugin may take (a cloud CLI fetching a token)


@dataclass
class Credentials:
    """How requests authenticate: a bearer token that may need refreshing, and/or a client
    certificate (inline or from a plugin), loaded into the SSL context."""

    who: str
    token: str = ""
    token_file: Path | None = None
    plugin: dict | None = None  # the kubeconfig's `exec` stanza
    base: Path = Path(".")
    cluster: dict = field(default_factory=dict)  # for provideClusterInfo
    expires: float = 0.0  # epoch seconds; 0 for no expiry
    cert_pem: tuple[bytes, bytes] | None = None  # (certificate, key)

    @property
    def refreshable(self) -> bool:
        return self.plugin is not None or self.token_file is not None

    def bearer(self) -> str:
        """The token to send now, fetched first when there is none yet or it expired."""
        fetched = bool(self.token or self.cert_pem)
        expired = bool(self.expires) and time.time() >= self.expires - 10  # 10 s early: no request is sent late
        if self.refreshable and (not fetched or expired):
            self.refresh()
        return self.token

    def refused_hint(self) -> str:
        """What to do when the API server answers 401: a token that is a JWT (an OIDC ID token, a
        ServiceAccount token) and expired says when; otherwise the server did not take the credentials."""
        expiry = _jwt_expiry(self.token)
        if expiry and expiry <= time.time():
            when = dt.datetime.fromtimestamp(expiry, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
            return (f"its token expired at {when}: put a fresh one in the kubeconfig, or log in with an exec plugin "
                    "(kubelogin for OIDC) that fetches one")
        return "the API server did not accept the credentials: check that they are current and that it trusts them"

    def refresh(self) -> None:
        if self.token_file is not None:
            try:
                self.token = self.token_file.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ConfigError(f"cannot read the token file of {self.who}: {exc.strerror}",
                                  file=str(self.token_file)) from None
        elif self.plugin is not None:
            self._run_plugin()

    def _run_plugin(self) -> None:
        spec, command = self.plugin, str(self.plugin.get("command", ""))
        found = shutil.which(command) or (str(self.base / command) if (self.base / command).is_file() else None)
        if not found:
            hint = str(spec.get("installHint") or "").strip().splitlines()
            raise ConfigError(f"the credential plugin `{command}` of {self.who} is not installed",
                              hint=hint[0] if hint else "install it on the runner, or use a kubeconfig with a token")
        api_version = spec.get("apiVersion", "client.authentication.k8s.io/v1")
        info = {"apiVersion": api_version, "kind": "ExecCredential", "spec": {"interactive": False}}
        if spec.get("provideClusterInfo"):
            info["spec"]["cluster"] = _cluster_info(self.cluster)
        env = {**os.environ, **{e["name"]: str(e["value"]) for e in spec.get("env") or []},
               "KUBERNETES_EXEC_INFO": json.dumps(info)}
        try:
            done = subprocess.run([found, *map(str, spec.get("args") or [])], env=env, capture_output=True,
                                  stdin=subprocess.DEVNULL, timeout=EXEC_TIMEOUT, cwd=self.base)
        except subprocess.TimeoutExpired:
            raise ConfigError(f"the credential plugin `{command}` of {self.who} gave no answer in "
                              f"{EXEC_TIMEOUT} s", hint="run it by hand to see what it waits for") from None
        if done.returncode != 0:
            last = (done.stderr.decode(errors="replace").strip().splitlines() or ["no message"])[-1][:300]
            raise ConfigError(f"the credential plugin `{command}` of {self.who} failed (exit {done.returncode}): "
                              f"{last}", hint="run it by hand; it may need a cloud login on the runner")
        try:
            answer = json.loads(done.stdout or b"{}")
        except ValueError:
            answer = None
        self._take(answer, command)

    def _take(self, answer: dict, command: str) -> None:
        status = answer.get("status") if isinstance(answer, dict) else None
        if not isinstance(status, dict) or not (status.get("token") or status.get("clientCertificateData")):
            raise ConfigError(f"the credential plugin `{command}` of {self.who} printed no ExecCredential with "
                              "a token or certificate", hint="it must print client.authentication.k8s.io JSON")
        self.token = str(status.get("token") or "")
        if status.get("clientCertificateData") and status.get("clientKeyData"):
            self.cert_pem = (status["clientCertificateData"].encode(), status["clientKeyData"].encode())
        stamp = status.get("expirationTimestamp")
        self.expires = _epoch(stamp) if stamp else 0.0


@dataclass
class Login:
    """Where the API server is and how to talk to it."""

    server: str
    credentials: Credentials
    ca: dict = field(default_factory=dict)  # the cluster stanza: CA, insecure-skip-tls-verify, tls-server-name
    base: Path = Path(".")
    proxy: str = ""

    def ssl_context(self, with_client_cert: bool = True) -> ssl.SSLContext:
        """Trusting the cluster's CA; carrying the client certificate when there is one."""
        context = ssl.create_default_context()
        if self.ca.get("insecure-skip-tls-verify"):
            context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        elif self.ca.get("certificate-authority-data"):
            context.load_verify_locations(cadata=base64.b64decode(self.ca["certificate-authority-data"]).decode())
        elif self.ca.get("certificate-authority"):
            context.load_verify_locations(cafile=str(self.base / self.ca["certificate-authority"]))
        if with_client_cert and self.credentials.cert_pem:
            _load_cert(context, *self.credentials.cert_pem)
        return context


def read_kubeconfig(paths: str | Path, context_name: str = "") -> Login:
    """The login of ``context_name`` (default: the current context) in the kubeconfig file(s)
    ``paths`` (one path, or several joined by ``os.pathsep`` as in ``KUBECONFIG``)."""
    files = [Path(p) for p in str(paths).split(os.pathsep) if p]
    existing = [p for p in files if p.is_file()]
    if not existing:
        if in_cluster_available():
            return in_cluster()
        raise ConfigError("kubeconfig not found", file=str(paths),
                          hint="pass a kubeconfig file in the `kubeconfig` input, or set KUBECONFIG")
    config = _merge([_load(p) for p in existing], existing)
    shown = str(existing[0]) if len(existing) == 1 else os.pathsep.join(map(str, existing))
    ctx_name = context_name or config.get("current-context") or ""
    ctx = _named(config, "contexts", ctx_name, shown).get("context") or {}
    cluster_entry = _named(config, "clusters", ctx.get("cluster", ""), shown)
    user_entry = _named(config, "users", ctx.get("user", ""), shown)
    cluster, user = cluster_entry.get("cluster") or {}, user_entry.get("user") or {}
    base = cluster_entry["_base"]
    credentials = _credentials(user, user_entry["_base"], f"user `{ctx.get('user', '?')}`", cluster)
    server = str(cluster.get("server", "")).rstrip("/")
    if not server:
        raise ConfigError(f"cluster `{ctx.get('cluster', '?')}` has no server address", file=shown)
    proxy = str(cluster.get("proxy-url") or "")
    if proxy and not proxy.startswith(("http://", "https://")):
        raise ConfigError(f"proxy-url {proxy!r}: only http:// and https:// proxies are supported", file=shown,
                          hint="use an HTTP CONNECT proxy, or HTTPS_PROXY in the environment")
    return Login(server, credentials, cluster, base, proxy)


def in_cluster_available(env: Mapping[str, str] | None = None, root: Path = IN_CLUSTER) -> bool:
    env = os.environ if env is None else env
    return bool(env.get("KUBERNETES_SERVICE_HOST")) and (root / "token").is_file()


def in_cluster(env: Mapping[str, str] | None = None, root: Path = IN_CLUSTER) -> Login:
    """The pod's own service account, as a runner inside the cluster (e.g. actions-runner-controller)
    sees it: the API server from KUBERNETES_SERVICE_HOST/PORT, the rotating token and the CA."""
    env = os.environ if env is None else env
    host, port = env.get("KUBERNETES_SERVICE_HOST", ""), env.get("KUBERNETES_SERVICE_PORT", "443")
    if not host or not (root / "token").is_file():
        raise ConfigError("not inside a cluster: no KUBERNETES_SERVICE_HOST or no service account token",
                          file=str(root), hint="pass a kubeconfig file in the `kubeconfig` input")
    host = f"[{host}]" if ":" in host else host
    credentials = Credentials("this pod's service account", token_file=root / "token")
    return Login(f"https://{host}:{port}", credentials, {"certificate-authority": str(root / "ca.crt")}, root)


def _credentials(user: dict, base: Path, who: str, cluster: dict) -> Credentials:
    if user.get("exec"):
        return Credentials(who, plugin=user["exec"], base=base, cluster=cluster)
    provider = user.get("auth-provider") or {}
    if provider:
        return _auth_provider(provider, who)
    cert = _client_cert(user, base, who)
    if user.get("token"):
        return Credentials(who, token=str(user["token"]), cert_pem=cert)
    if user.get("tokenFile"):
        return Credentials(who, token_file=base / user["tokenFile"], cert_pem=cert)
    return Credentials(who, cert_pem=cert)


def _auth_provider(provider: dict, who: str) -> Credentials:
    """``auth-provider: oidc`` with an id-token (refreshing it needs the identity provider: kubectl's
    own way today is the kubelogin exec plugin). The retired gcp and azure providers say so."""
    name, config = provider.get("name", ""), provider.get("config") or {}
    if name != "oidc":
        raise ConfigError(f"{who} uses the `{name}` auth-provider, which kubectl no longer supports",
                          hint="regenerate the kubeconfig with the cloud's exec plugin "
                               "(gke-gcloud-auth-plugin, kubelogin)")
    token = str(config.get("id-token") or "")
    expires = _jwt_expiry(token)
    if not token or (expires and expires <= time.time()):
        raise ConfigError(f"the OIDC id-token of {who} is {'missing' if not token else 'expired'}",
                          hint="aicd does not refresh id-tokens; use an exec plugin such as kubelogin "
                               "(kubectl oidc-login) in the kubeconfig")
    return Credentials(who, token=token, expires=expires)


def _client_cert(user: dict, base: Path, who: str) -> tuple[bytes, bytes] | None:
    parts = []
    for key in ("client-certificate", "client-key"):
        if user.get(f"{key}-data"):
            parts.append(base64.b64decode(user[f"{key}-data"]))
        elif user.get(key):
            try:
                parts.append((base / user[key]).read_bytes())
            except OSError as exc:
                raise ConfigError(f"cannot read the {key} of {who}: {exc.strerror}", file=str(base / user[key])) \
                    from None
    return (parts[0], parts[1]) if len(parts) == 2 else None


def _load_cert(context: ssl.SSLContext, cert: bytes, key: bytes) -> None:
    """ssl only reads files: the material goes to a private temp dir, removed once loaded."""
    with tempfile.TemporaryDirectory(prefix="aicd-kube-") as tmp:
        cert_path, key_path = Path(tmp) / "cert.pem", Path(tmp) / "key.pem"
        cert_path.write_bytes(cert)
        key_path.write_bytes(key)
        context.load_cert_chain(str(cert_path), str(key_path))


def _load(path: Path) -> dict:
    try:
        config = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read kubeconfig: {exc}", file=str(path),
                          hint="pass a kubeconfig file in the `kubeconfig` input") from None
    if not isinstance(config, dict):
        raise ConfigError("is not a kubeconfig (no mapping at the top)", file=str(path))
    return config


def _merge(configs: list[dict], paths: list[Path]) -> dict:
    """kubectl's merge: for each name the first definition wins; relative paths stay relative to
    the file that defined the entry (kept as ``_base``)."""
    out: dict = {"current-context": next((c.get("current-context") for c in configs if c.get("current-context")),
                                         "")}
    for section in ("clusters", "users", "contexts"):
        seen: dict[str, dict] = {}
        for config, path in zip(configs, paths, strict=True):
            for entry in config.get(section) or []:
                if isinstance(entry, dict) and entry.get("name") not in seen:
                    seen[entry.get("name")] = {**entry, "_base": path.parent}
        out[section] = list(seen.values())
    return out


def _named(config: dict, section: str, name: str, shown: str) -> dict:
    for entry in config.get(section) or []:
        if entry.get("name") == name:
            return entry
    names = ", ".join(str(e.get("name")) for e in config.get(section) or []) or "none"
    raise ConfigError(f"kubeconfig has no {section[:-1]} named {name!r} (it has: {names})", file=shown)


def _cluster_info(cluster: dict) -> dict:
    """``spec.cluster`` of the ExecCredential (its fields are spelled as in the kubeconfig)."""
    keys = ("server", "certificate-authority-data", "insecure-skip-tls-verify", "tls-server-name", "proxy-url")
    info = {key: cluster[key] for key in keys if key in cluster}
    extension = next((e.get("extension") for e in cluster.get("extensions") or []
                      if e.get("name") == "client.authentication.k8s.io/exec"), None)
    return {**info, **({"config": extension} if extension is not None else {})}


def _epoch(stamp: str) -> float:
    try:
        return dt.datetime.fromisoformat(str(stamp).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0


def _jwt_expiry(token: str) -> float:
    """The ``exp`` claim of a JWT, unverified (the API server verifies it); 0 if it has none."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return float(claims.get("exp", 0))
    except (IndexError, ValueError, TypeError, AttributeError):
        return 0.0
