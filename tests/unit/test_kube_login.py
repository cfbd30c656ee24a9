"""Logging in as kubectl does: merged kubeconfigs, exec credential plugins, OIDC, in-cluster."""

import base64
import json
import os
import sys
import time
from pathlib import Path

import pytest
import yaml

from aicd.deploy.kube.login import Credentials, in_cluster, in_cluster_available, read_kubeconfig
from aicd.errors import ConfigError


def kubeconfig(path: Path, user: dict, *, context="ctx", cluster="c", server="https://127.0.0.1:6443", **extra):
    doc = {"apiVersion": "v1", "kind": "Config", "current-context": context,
           "clusters": [{"name": cluster, "cluster": {"server": server, "insecure-skip-tls-verify": True, **extra}}],
           "users": [{"name": "u", "user": user}],
           "contexts": [{"name": context, "context": {"cluster": cluster, "user": "u"}}]}
    path.write_text(yaml.safe_dump(doc))
    return path


def plugin(tmp_path: Path, body: str) -> dict:
    """An exec credential plugin: a Python script, as `aws eks get-token` is a program."""
    script = tmp_path / "plugin.py"
    script.write_text("import json, os, sys, pathlib\n" + body)
    return {"apiVersion": "client.authentication.k8s.io/v1", "command": sys.executable, "args": [str(script)],
            "env": [{"name": "AICD_TEST", "value": "1"}], "interactiveMode": "Never"}


def answer(token: str, expires: str = "") -> str:
    status = {"token": token, **({"expirationTimestamp": expires} if expires else {})}
    return f"print(json.dumps({{'apiVersion': 'client.authentication.k8s.io/v1', 'kind': 'ExecCredential', " \
           f"'status': {status!r}}}))\n"


def test_kubeconfig_files_merge_as_kubectl_merges_them_first_one_wins(tmp_path):
    first = kubeconfig(tmp_path / "a", {"token": "from-a"}, server="https://a:6443")
    second = kubeconfig(tmp_path / "b", {"token": "from-b"}, context="other", server="https://b:6443")
    login = read_kubeconfig(f"{tmp_path / 'missing'}{os.pathsep}{first}{os.pathsep}{second}")
    assert (login.server, login.credentials.bearer()) == ("https://a:6443", "from-a")
    other = read_kubeconfig(f"{first}{os.pathsep}{second}", "other")
    assert other.server == "https://a:6443"  # cluster `c` and user `u` were defined first by a


def test_an_unknown_context_lists_the_ones_there_are(tmp_path):
    with pytest.raises(ConfigError, match=r"no context named 'prod' \(it has: ctx\)"):
        read_kubeconfig(kubeconfig(tmp_path / "k", {"token": "t"}), "prod")


def test_an_exec_plugin_is_run_non_interactively_with_the_protocol_and_its_env(tmp_path):
    body = ("info = json.loads(os.environ['KUBERNETES_EXEC_INFO'])\n"
            "token = info['apiVersion'] + '|' + str(info['spec']['interactive']) + '|' + os.environ['AICD_TEST']\n"
            "token += '|' + info['spec'].get('cluster', {}).get('server', '')\n"
            "print(json.dumps({'apiVersion': info['apiVersion'], 'kind': 'ExecCredential', "
            "'status': {'token': token}}))\n")
    spec = {**plugin(tmp_path, body), "provideClusterInfo": True}
    login = read_kubeconfig(kubeconfig(tmp_path / "k", {"exec": spec}))
    assert login.credentials.bearer() == "client.authentication.k8s.io/v1|False|1|https://127.0.0.1:6443"


def test_an_exec_token_is_kept_until_it_expires_then_fetched_again(tmp_path):
    calls = tmp_path / "calls"
    soon = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
    body = (f"p = pathlib.Path({str(calls)!r}); n = int(p.read_text()) + 1 if p.exists() else 1; "
            "p.write_text(str(n))\n" + answer("tok", soon))
    creds = read_kubeconfig(kubeconfig(tmp_path / "k", {"exec": plugin(tmp_path, body)})).credentials
    assert [creds.bearer() for _ in range(3)] == ["tok"] * 3 and calls.read_text() == "1"
    creds.expires = time.time() - 1
    creds.bearer()
    assert calls.read_text() == "2"


@pytest.mark.parametrize("body,message", [
    ("sys.stderr.write('no AWS credentials found\\n'); sys.exit(3)",
     "failed (exit 3): no AWS credentials found"),
    ("print('hello')", "printed no ExecCredential"),
    ("print(json.dumps({'status': {}}))", "printed no ExecCredential"),
])
def test_a_failing_plugin_is_one_line_naming_it_and_the_user(tmp_path, body, message):
    creds = read_kubeconfig(kubeconfig(tmp_path / "k", {"exec": plugin(tmp_path, body)})).credentials
    with pytest.raises(ConfigError) as info:
        creds.bearer()
    assert message in str(info.value) and "user `u`" in str(info.value) and "\n" not in str(info.value).strip()


def test_a_plugin_that_is_not_installed_gives_its_install_hint(tmp_path):
    spec = {"apiVersion": "client.authentication.k8s.io/v1beta1", "command": "aws-iam-authenticator-missing",
            "installHint": "install aws-iam-authenticator from https://example.invalid\nmore lines"}
    with pytest.raises(ConfigError) as info:
        read_kubeconfig(kubeconfig(tmp_path / "k", {"exec": spec})).credentials.bearer()
    assert "`aws-iam-authenticator-missing` of user `u` is not installed" in str(info.value)
    assert info.value.hint == "install aws-iam-authenticator from https://example.invalid"


def jwt(claims: dict) -> str:
    part = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    return f"e30.{part}.sig"


def test_an_oidc_id_token_is_used_until_it_expires_and_retired_providers_say_what_to_do(tmp_path):
    fresh = jwt({"exp": time.time() + 600})
    user = {"auth-provider": {"name": "oidc", "config": {"id-token": fresh, "idp-issuer-url": "https://idp"}}}
    assert read_kubeconfig(kubeconfig(tmp_path / "k", user)).credentials.bearer() == fresh
    user["auth-provider"]["config"]["id-token"] = jwt({"exp": time.time() - 5})
    with pytest.raises(ConfigError, match="id-token of user `u` is expired"):
        read_kubeconfig(kubeconfig(tmp_path / "k", user))
    with pytest.raises(ConfigError, match="`gcp` auth-provider, which kubectl no longer supports"):
        read_kubeconfig(kubeconfig(tmp_path / "k", {"auth-provider": {"name": "gcp"}}))


def test_a_refused_token_that_is_an_expired_jwt_says_when_it_expired():
    expired = Credentials("user `u`", token=jwt({"exp": 1_700_000_000}))  # an OIDC ID token of 2023-11-14
    assert expired.refused_hint().startswith("its token expired at 2023-11-14 22:13:20 UTC: ")
    for token in (jwt({"exp": time.time() + 600}), "opaque-token", ""):
        assert "did not accept the credentials" in Credentials("user `u`", token=token).refused_hint()


def test_a_socks_proxy_is_refused_in_one_line(tmp_path):
    with pytest.raises(ConfigError, match="only http:// and https:// proxies"):
        read_kubeconfig(kubeconfig(tmp_path / "k", {"token": "t"}, **{"proxy-url": "socks5://p:1080"}))


def test_in_cluster_reads_the_service_account_and_rereads_its_rotating_token(tmp_path):
    (tmp_path / "token").write_text("first\n")
    env = {"KUBERNETES_SERVICE_HOST": "fd00::1", "KUBERNETES_SERVICE_PORT": "443"}
    assert in_cluster_available(env, tmp_path) and not in_cluster_available({}, tmp_path)
    login = in_cluster(env, tmp_path)
    assert login.server == "https://[fd00::1]:443" and login.credentials.bearer() == "first"
    (tmp_path / "token").write_text("rotated\n")
    login.credentials.refresh()
    assert login.credentials.bearer() == "rotated"
    with pytest.raises(ConfigError, match="not inside a cluster"):
        in_cluster({}, tmp_path)


def test_no_kubeconfig_outside_a_cluster_is_one_line(tmp_path, monkeypatch):
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    with pytest.raises(ConfigError, match="kubeconfig not found"):
        read_kubeconfig(tmp_path / "none")
