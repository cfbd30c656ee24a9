"""Logging in with an OIDC ID token, as managed clusters and self-run OIDC setups do, to the real test
API server, which trusts a loopback identity provider (tests/integration/oidc_infra.py) through its
structured authentication configuration: an ID token as the kubeconfig's ``token``, a kubelogin-style
exec plugin that gets one from the provider's token endpoint, and the ``auth-provider: oidc`` form.
RBAC is bound to the token's user (``sub``) and to its ``groups`` claim; deploys go through
action-deploy's own path (KubeTarget.open on the kubeconfig)."""

import base64
import sys
import time
from pathlib import Path

import pytest
import yaml

from aicd.config import KubernetesConfig
from aicd.deploy.kube.client import KubeClient
from aicd.deploy.kube.manifests import tenant_manifests
from aicd.deploy.kube.target import KubeTarget
from aicd.deploy.target import Candidate, Settings
from aicd.errors import ConfigError, KubeError
from tests.integration.oidc_infra import AUDIENCE, PREFIX, whoami

pytestmark = pytest.mark.integration

ALICE_NS, TEAM_NS = "aicd-oidc-alice", "aicd-oidc-team"  # alice's by her username; ml-team's by the group
IMAGE = "registry.example/coffee:{}-0123abc"


@pytest.fixture(scope="module")
def namespaces(kube_cluster):
    """Two tenant namespaces with the deployer Role; alice is bound to hers as a User, the group
    ml-team to its own as a Group (both as the API server names OIDC identities: prefixed)."""
    admin = kube_cluster.api()
    for namespace, subject in ((ALICE_NS, {"kind": "User", "name": f"{PREFIX}alice"}),
                               (TEAM_NS, {"kind": "Group", "name": f"{PREFIX}ml-team"})):
        for obj in tenant_manifests(namespace.removeprefix("aicd-"), namespace):
            admin.apply(obj)
        admin.apply({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                     "metadata": {"name": "oidc-deployer", "namespace": namespace},
                     "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "aicd-deployer"},
                     "subjects": [{**subject, "apiGroup": "rbac.authorization.k8s.io"}]})
        kube_cluster.create_namespace(namespace)
    return admin


def kubeconfig(cluster, folder: Path, user: dict) -> Path:
    """A kubeconfig in ``folder`` whose user `ci` logs in as ``user`` says."""
    ca = base64.b64encode(Path(cluster.ca_file).read_bytes()).decode()
    doc = {"apiVersion": "v1", "kind": "Config", "current-context": "ctx",
           "clusters": [{"name": "test", "cluster": {"server": cluster.server, "certificate-authority-data": ca}}],
           "users": [{"name": "ci", "user": user}],
           "contexts": [{"name": "ctx", "context": {"cluster": "test", "user": "ci"}}]}
    path = folder / "kubeconfig"
    path.write_text(yaml.safe_dump(doc))
    return path


def deploy(config: Path, namespace: str, version: int = 1):
    """What action-deploy does with the `kubeconfig` and `namespace` inputs: open the target, deploy."""
    settings = Settings(model_name="coffee", kubeconfig=str(config), namespace=namespace,
                        kubernetes=KubernetesConfig(replicas=1, progress_deadline_seconds=20))
    candidate = Candidate(f"models:/coffee/{version}", Path("/nonexistent"), {"model_version": str(version)},
                          IMAGE.format(version))
    return KubeTarget.open(settings).deploy(candidate)


def refused(config: Path, namespace: str) -> KubeError:
    with pytest.raises(KubeError) as caught:
        deploy(config, namespace)
    return caught.value


def test_an_id_token_in_the_kubeconfig_deploys_in_its_namespace_and_is_refused_in_another(
        kube_cluster, oidc_issuer, namespaces, tmp_path):
    config = kubeconfig(kube_cluster, tmp_path, {"token": oidc_issuer.mint("alice")})
    assert deploy(config, ALICE_NS).serving.revision == 1
    served = namespaces.get("Deployment", ALICE_NS, "coffee")["spec"]["template"]["spec"]["containers"][0]
    assert served["image"] == IMAGE.format(1)
    error = refused(config, TEAM_NS)
    message = str(error)
    assert error.status == 403 and "\n" not in message
    assert "user `ci` may not" in message and f'User "{PREFIX}alice"' in message and f'"{TEAM_NS}"' in message


def test_the_groups_claim_grants_what_the_groups_rolebinding_allows(kube_cluster, oidc_issuer, namespaces, tmp_path):
    member = oidc_issuer.mint("bob", groups=["ml-team"])
    assert f"{PREFIX}ml-team" in whoami(kube_cluster, member)["groups"]
    (tmp_path / "member").mkdir()
    assert deploy(kubeconfig(kube_cluster, tmp_path / "member", {"token": member}), TEAM_NS).serving.revision
    (tmp_path / "outsider").mkdir()
    outsider = kubeconfig(kube_cluster, tmp_path / "outsider", {"token": oidc_issuer.mint("bob", groups=["sales"])})
    error = refused(outsider, TEAM_NS)  # the same user without the group: the group was what granted it
    assert error.status == 403 and f'User "{PREFIX}bob"' in str(error)


def test_an_expired_id_token_is_one_401_line_without_retrying(kube_cluster, oidc_issuer, namespaces, tmp_path):
    expired = oidc_issuer.mint("alice", lifetime=600, age=3600)  # expired 50 minutes ago
    config = kubeconfig(kube_cluster, tmp_path, {"token": expired})
    started = time.monotonic()
    error = refused(config, ALICE_NS)
    assert time.monotonic() - started < 5  # refused at once: no waiting for the deploy Lease, no retries
    message = str(error)
    assert error.status == 401 and "\n" not in message and "user `ci` may not" in message
    assert "its token expired at" in error.hint  # the server says only "Unauthorized"; the token says why
    assert whoami(kube_cluster, oidc_issuer.mint("alice")) is not None  # the issuer is trusted: it was the expiry


PLUGIN = """\
import base64, json, ssl, sys, time, urllib.error, urllib.parse, urllib.request
# kubelogin's `get-token`, reduced to its password grant: discovery, token endpoint, ExecCredential.
opts = dict(arg.removeprefix("--").split("=", 1) for arg in sys.argv[2:])
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(
    context=ssl.create_default_context(cafile=opts["certificate-authority"])))
def fetch(url, form=None):
    try:
        with opener.open(url, urllib.parse.urlencode(form).encode() if form else None, timeout=10) as resp:
            return json.load(resp)
    except urllib.error.HTTPError as err:  # kubelogin's way: one line on stderr, exit 1
        sys.exit(f"error: get-token: authentication error: {err.code} {err.read().decode()}")
endpoint = fetch(opts["oidc-issuer-url"] + "/.well-known/openid-configuration")["token_endpoint"]
token = fetch(endpoint, {"grant_type": "password", "client_id": opts["oidc-client-id"], "scope": "openid",
                         "username": opts["username"], "password": opts["password"]})["id_token"]
claims = token.split(".")[1]
exp = json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))["exp"]
print(json.dumps({"apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential",
                  "spec": {"interactive": False},
                  "status": {"expirationTimestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(exp)),
                             "token": token}}))
"""


def kubelogin_user(tmp_path: Path, issuer, username: str, password: str) -> dict:
    """An exec user as `kubectl oidc-login setup` writes one (the command stood in for by PLUGIN)."""
    script = tmp_path / "kubelogin.py"
    script.write_text(PLUGIN)
    args = [str(script), "get-token", f"--oidc-issuer-url={issuer.url}", f"--oidc-client-id={AUDIENCE}",
            "--grant-type=password", f"--username={username}", f"--password={password}",
            f"--certificate-authority={issuer.ca_file}"]
    return {"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": sys.executable, "args": args,
                     "interactiveMode": "Never"}}


def test_a_kubelogin_style_exec_plugin_gets_an_id_token_from_the_issuer_once(
        kube_cluster, oidc_issuer, namespaces, tmp_path):
    oidc_issuer.add_user("carol", "s3cret", groups=("ml-team",))
    granted = len(oidc_issuer.grants)
    config = kubeconfig(kube_cluster, tmp_path, kubelogin_user(tmp_path, oidc_issuer, "carol", "s3cret"))
    assert deploy(config, TEAM_NS, version=2).serving.model_version == "2"
    assert oidc_issuer.grants[granted:] == ["carol"]  # one token for the whole deploy, kept until it expires
    error = refused(config, ALICE_NS)
    assert error.status == 403 and f'User "{PREFIX}carol"' in str(error)


def test_a_wrong_password_is_the_plugins_one_line(kube_cluster, oidc_issuer, tmp_path):
    oidc_issuer.add_user("dave", "right")
    config = kubeconfig(kube_cluster, tmp_path, kubelogin_user(tmp_path, oidc_issuer, "dave", "wrong"))
    with pytest.raises(ConfigError) as failed:
        KubeClient.from_kubeconfig(config)
    message = str(failed.value)
    assert "credential plugin" in message and "user `ci`" in message and "invalid_grant" in message
    assert "\n" not in message and oidc_issuer.grants.count("dave") == 0


def test_an_auth_provider_oidc_id_token_logs_in(kube_cluster, oidc_issuer, namespaces, tmp_path):
    provider = {"name": "oidc", "config": {"id-token": oidc_issuer.mint("alice"), "idp-issuer-url": oidc_issuer.url,
                                           "client-id": AUDIENCE}}
    api = KubeClient.from_kubeconfig(kubeconfig(kube_cluster, tmp_path, {"auth-provider": provider}))
    api.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "hello", "namespace": ALICE_NS}})
    assert api.get("ConfigMap", ALICE_NS, "hello") is not None
    with pytest.raises(KubeError) as refused_read:
        api.get("ConfigMap", TEAM_NS, "hello")
    assert refused_read.value.status == 403 and f'User "{PREFIX}alice"' in str(refused_read.value)


def test_other_logins_still_work_beside_the_jwt_authenticator(kube_cluster, oidc_issuer, namespaces):
    """The issuer is one more token authenticator: client certificates and ServiceAccount tokens
    are still taken for who they are."""
    assert kube_cluster.api().get("Namespace", "", ALICE_NS) is not None  # the admin's client certificate
    user = whoami(kube_cluster, kube_cluster.token_for(ALICE_NS, "aicd-deployer"))
    assert user["username"] == f"system:serviceaccount:{ALICE_NS}:aicd-deployer"
