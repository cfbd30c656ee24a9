"""A loopback OIDC identity provider that the test API server (kube_infra.py) really trusts.

The issuer is an HTTPS server on 127.0.0.1 (its own CA, made here) serving what an API server and
kubelogin read from an identity provider: ``/.well-known/openid-configuration``, the JWKS at
``/keys`` and a token endpoint (``/token``, the OAuth2 password grant that ``kubelogin
--grant-type=password`` uses). ID tokens are RS256 JWTs signed by hand with ``cryptography``
(iss, aud, sub, iat, exp and a ``groups`` claim).

:func:`trust` makes the API server accept them through its structured authentication configuration:
kube-apiserver starts with ``--authentication-config <root>/authn.yaml`` holding no JWT
authenticator, and the file is rewritten here with one for this issuer. The server notices the change
(it watches the file), fetches the discovery document and keys, and only then switches: :func:`trust`
waits until a freshly minted token is accepted. Usernames and groups are mapped from ``sub`` and
``groups`` with the prefix ``oidc:`` (as managed clusters prefix them), so RBAC subjects are
``oidc:<sub>`` and ``oidc:<group>``. Client certificates and ServiceAccount tokens keep working:
a JWT authenticator is one more token authenticator, and the ServiceAccount issuer may not be reused.
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import json
import os
import ssl
import sys
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

__all__ = ["AUDIENCE", "PREFIX", "OidcIssuer", "oidc_issuer", "start_issuer", "trust", "whoami"]

AUDIENCE = "aicd-test"  # the OAuth2 client id; the API server accepts tokens issued to it only
PREFIX = "oidc:"  # prepended by the API server to usernames and groups from ID tokens
AUTHN_CONFIG = "authn.yaml"  # in the cluster's root: kube_infra.start_cluster passes it to kube-apiserver
NO_JWT = {"apiVersion": "apiserver.config.k8s.io/v1", "kind": "AuthenticationConfiguration", "jwt": []}


@dataclass
class OidcIssuer:
    url: str
    ca_file: Path  # the CA of the issuer's serving certificate (PEM)
    key: object  # the RSA signing key (cryptography)
    kid: str = "aicd-test-key"
    users: dict[str, tuple[str, tuple[str, ...]]] = field(default_factory=dict)  # name -> (password, groups)
    grants: list[str] = field(default_factory=list)  # users the token endpoint issued a token to, in order
    server: ThreadingHTTPServer | None = None

    def mint(self, sub: str, groups: tuple[str, ...] | list[str] = (), lifetime: int = 600, age: int = 0,
             audience: str = AUDIENCE) -> str:
        """A signed ID token for ``sub`` issued ``age`` seconds ago and valid for ``lifetime`` seconds
        from then (``age`` > ``lifetime``: an expired one)."""
        issued = int(time.time()) - age
        claims = {"iss": self.url, "aud": audience, "sub": sub, "iat": issued, "exp": issued + lifetime,
                  "groups": list(groups)}
        return _jwt(claims, self.key, self.kid)

    def add_user(self, name: str, password: str, groups: tuple[str, ...] = ()) -> None:
        """A user the token endpoint issues ID tokens to (password grant)."""
        self.users[name] = (password, tuple(groups))

    def authenticator(self) -> dict:
        """The API server's JWT authenticator for this issuer (AuthenticationConfiguration ``jwt[]``)."""
        return {"issuer": {"url": self.url, "audiences": [AUDIENCE], "certificateAuthority": self.ca_file.read_text()},
                "claimMappings": {"username": {"claim": "sub", "prefix": PREFIX},
                                  "groups": {"claim": "groups", "prefix": PREFIX}}}

    def jwks(self) -> dict:
        numbers = self.key.public_key().public_numbers()
        return {"keys": [{"kty": "RSA", "alg": "RS256", "use": "sig", "kid": self.kid,
                          "n": _b64(numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")),
                          "e": _b64(numbers.e.to_bytes(3, "big"))}]}

    def discovery(self) -> dict:
        return {"issuer": self.url, "jwks_uri": f"{self.url}/keys", "token_endpoint": f"{self.url}/token",
                "authorization_endpoint": f"{self.url}/authorize", "response_types_supported": ["id_token"],
                "subject_types_supported": ["public"], "id_token_signing_alg_values_supported": ["RS256"],
                "grant_types_supported": ["password"]}

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


def start_issuer(root: Path) -> OidcIssuer:
    """An issuer serving on a free loopback port; its CA and keys live in ``root``."""
    from cryptography.hazmat.primitives.asymmetric import rsa

    root.mkdir(parents=True, exist_ok=True)
    context = _serving_context(root)
    server = _Https(context)
    issuer = OidcIssuer(f"https://127.0.0.1:{server.server_address[1]}", root / "ca.crt",
                        rsa.generate_private_key(public_exponent=65537, key_size=2048), server=server)
    server.issuer = issuer
    threading.Thread(target=server.serve_forever, name="oidc-issuer", daemon=True).start()
    return issuer


def trust(cluster, issuer: OidcIssuer | None, timeout: float = 60) -> None:
    """Make the API server of ``cluster`` trust ``issuer`` (None: no JWT issuer at all) and wait
    until it does: a reload is applied only once the new issuer's discovery and keys were fetched
    (the server checks every 10 s), so the first tokens after a rewrite are still refused."""
    doc = {**NO_JWT, "jwt": [issuer.authenticator()] if issuer else []}
    path = Path(cluster.root) / AUTHN_CONFIG
    tmp = path.with_suffix(".tmp")
    tmp.write_text(yaml.safe_dump(doc))
    os.replace(tmp, path)  # whole at once: a half-written file read by the server's watcher is refused for good
    if issuer is None:
        return
    probe, deadline = issuer.mint("probe"), time.monotonic() + timeout
    while whoami(cluster, probe) is None:
        if time.monotonic() > deadline:
            log = (Path(cluster.root) / "kube-apiserver.log").read_text(errors="replace").splitlines()
            said = [line for line in log if "authentication config" in line or "oidc authenticator" in line][-5:]
            raise RuntimeError(f"the API server did not start trusting {issuer.url} in {timeout} s: "
                               + "\n".join(said))
        time.sleep(0.5)


def whoami(cluster, token: str) -> dict | None:
    """The user the API server takes ``token`` for (a SelfSubjectReview: every authenticated user
    may ask), or None when it refuses the token (401)."""
    from aicd.deploy.kube.client import KubeClient
    from aicd.errors import KubeError

    api = KubeClient.from_kubeconfig(cluster.kubeconfig_for(token, "whoami"))
    review = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
    try:
        return api.request("POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews", review)["status"]["userInfo"]
    except KubeError as exc:
        if exc.status == 401:
            return None
        raise


@pytest.fixture(scope="session")
def oidc_issuer(kube_cluster, tmp_path_factory):
    """An issuer the session's API server trusts; on teardown the server trusts no issuer again."""
    issuer = start_issuer(tmp_path_factory.mktemp("oidc"))
    try:
        started = time.monotonic()
        trust(kube_cluster, issuer)
        print(f"API server trusts the OIDC issuer {issuer.url} after {time.monotonic() - started:.1f} s")
        yield issuer
    finally:
        trust(kube_cluster, None)
        issuer.stop()


class _Https(ThreadingHTTPServer):
    daemon_threads = True
    issuer: OidcIssuer

    def __init__(self, context: ssl.SSLContext):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.context = context

    def handle_error(self, request, client_address):
        # A client that refuses the certificate or hangs up is its own business (the API server logs why);
        # anything else is a bug here and is printed as usual.
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)

    def finish_request(self, request, client_address):
        # TLS is set up in the request's own thread, so a slow or failed handshake stalls no other client.
        with self.context.wrap_socket(request, server_side=True) as tls:
            super().finish_request(tls, client_address)


class _Handler(BaseHTTPRequestHandler):
    server: _Https

    def do_GET(self):
        issuer = self.server.issuer
        pages = {"/.well-known/openid-configuration": issuer.discovery, "/keys": issuer.jwks}
        if self.path not in pages:
            return self._send(404, {"error": "not_found"})
        self._send(200, pages[self.path]())

    def do_POST(self):
        """The token endpoint: ``grant_type=password`` with the client id ``AUDIENCE``."""
        if self.path != "/token":
            return self._send(404, {"error": "not_found"})
        length = int(self.headers.get("Content-Length") or 0)
        form = {k: v[0] for k, v in urllib.parse.parse_qs(self.rfile.read(length).decode()).items()}
        issuer = self.server.issuer
        password, groups = issuer.users.get(form.get("username", ""), (None, ()))
        if form.get("grant_type") != "password" or form.get("client_id") != AUDIENCE or \
                password is None or form.get("password") != password:
            return self._send(400, {"error": "invalid_grant"})
        issuer.grants.append(form["username"])
        token = issuer.mint(form["username"], groups)
        self._send(200, {"access_token": token, "id_token": token, "token_type": "Bearer", "expires_in": 600})

    def _send(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format, *args):  # quiet: pytest shows stderr of failed tests only, noise hides causes
        pass


def _jwt(claims: dict, key, kid: str) -> str:
    """A compact JWS (RS256): base64url(header).base64url(claims).base64url(PKCS#1 v1.5 signature)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    header = {"alg": "RS256", "typ": "JWT", "kid": kid}
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    signature = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{_b64(signature)}"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _serving_context(folder: Path) -> ssl.SSLContext:
    """A CA (``ca.crt``) and a certificate for 127.0.0.1 it signed, loaded as the server's."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key, key = (rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(2))
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "aicd-test-oidc-ca")])

    def cert(subject, public_key, ca: bool):
        builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(ca_name).public_key(public_key)
                   .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
                   .not_valid_after(now + datetime.timedelta(days=2))
                   .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
        if not ca:
            builder = (builder.add_extension(x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False))
        return builder.sign(ca_key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)

    (folder / "ca.crt").write_bytes(cert(ca_name, ca_key.public_key(), ca=True))
    server_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "oidc-issuer")])
    (folder / "server.crt").write_bytes(cert(server_name, key.public_key(), ca=False))
    (folder / "server.key").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(folder / "server.crt"), str(folder / "server.key"))
    return context
