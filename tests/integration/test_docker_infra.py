"""The Docker test infrastructure itself: the engine runs the local base image, the local registry takes a
push only with the right password, and ``LocalRegistry.tags`` reads what was pushed."""

from __future__ import annotations

import secrets
import urllib.error
import urllib.request

import pytest


def push(client, ref: str, auth: dict | None = None) -> list[dict]:
    """Push ``ref`` and return the daemon's progress messages (a push error is a message, not an exception)."""
    repository, tag = ref.rsplit(":", 1)
    return list(client.images.push(repository, tag=tag, auth_config=auth, stream=True, decode=True))


def errors(messages: list[dict]) -> list[str]:
    return [m.get("error") or m["errorDetail"].get("message", "")
            for m in messages if "error" in m or "errorDetail" in m]


def test_engine_runs_the_base_image(docker_engine, base_image):
    assert docker_engine.ping()
    image = docker_engine.images.get(base_image)
    assert image.attrs["Config"]["Cmd"] == ["python3"]
    assert "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" in image.attrs["Config"]["Env"]
    out = docker_engine.containers.run(base_image, ["python3", "-c", "import sys;print(sys.version)"],
                                       remove=True, network_mode="none")
    assert out.decode().startswith("3.11.")
    # python3 and the CA bundle only: no pip, no numpy
    probe = ("import importlib.util as u, os; bundle = '/etc/ssl/certs/ca-certificates.crt';"
             "print(u.find_spec('pip'), u.find_spec('numpy'), os.path.getsize(bundle) > 0)")
    out = docker_engine.containers.run(base_image, ["python3", "-c", probe], remove=True, network_mode="none")
    assert out.decode().split() == ["None", "None", "True"]


def test_push_with_auth_is_listed_by_tags(docker_engine, docker_registry, base_image):
    # the engine treats the loopback range as an insecure (plain HTTP) registry by default
    assert "127.0.0.0/8" in docker_engine.info()["RegistryConfig"]["InsecureRegistryCIDRs"]
    with pytest.raises(urllib.error.HTTPError) as anonymous:  # the registry asks every client for a password
        urllib.request.urlopen(f"http://{docker_registry.host}/v2/_catalog", timeout=5)
    anonymous.value.close()
    assert anonymous.value.code == 401

    tag = secrets.token_hex(4)
    ref = f"{docker_registry.host}/aicd-infra/base:{tag}"
    assert docker_engine.images.get(base_image).tag(ref)
    try:
        docker_engine.login(registry=docker_registry.host, username=docker_registry.username,
                            password=docker_registry.password, reauth=True)
        messages = push(docker_engine, ref, {"username": docker_registry.username,
                                             "password": docker_registry.password})
    finally:
        docker_engine.images.remove(ref)
    assert not errors(messages), messages
    assert any(m.get("aux", {}).get("Tag") == tag and m["aux"].get("Digest") for m in messages), messages
    assert tag in docker_registry.tags("aicd-infra/base")


def test_push_with_a_wrong_password_fails(docker_engine, docker_registry, base_image):
    import docker

    with pytest.raises(docker.errors.APIError) as login:
        docker_engine.login(registry=docker_registry.host, username=docker_registry.username,
                            password="wrong-" + secrets.token_hex(4), reauth=True)
    assert "401" in str(login.value) or "unauthorized" in str(login.value).lower()

    repository = f"aicd-infra/denied-{secrets.token_hex(4)}"
    ref = f"{docker_registry.host}/{repository}:1"
    assert docker_engine.images.get(base_image).tag(ref)
    try:
        messages = push(docker_engine, ref, {"username": docker_registry.username, "password": "wrong-secret"})
    finally:
        docker_engine.images.remove(ref)
    assert errors(messages), messages
    assert docker_registry.tags(repository) == []
