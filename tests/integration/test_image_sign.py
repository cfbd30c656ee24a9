"""action-deploy's image signing against a real registry (htpasswd auth), Docker engine and cosign v2.6.5.

cosign is the binary scripts/install-cosign builds from the Go module proxy; keys are made by
``cosign generate-key-pair``. Signing is offline (no transparency log): the registry is on loopback.
"""

import base64
import json
import os
import subprocess
import urllib.request

import pytest

from aicd.deploy.docker_target import DockerTarget
from aicd.deploy.naming import deployment_name
from aicd.errors import UserError
from aicd.gha import Actions
from aicd.steps import deploy, train
from tests.conftest import ROOT, STEP_ENV

MODEL = "signed-coffee"
ROW = {"age": 25, "visits_per_week": 3.5, "avg_spend": 5.0, "preferred_roast": "dark", "hour": 8,
       "coffee_roast": "dark", "coffee_price": 3.2, "coffee_sweetness": 0.7}


@pytest.fixture(scope="module")
def cosign():
    done = subprocess.run([str(ROOT / "scripts/install-cosign")], capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip()


def key_pair(cosign: str, folder) -> tuple[str, str]:
    folder.mkdir()
    subprocess.run([cosign, "generate-key-pair"], cwd=folder, check=True, capture_output=True,
                   env={**os.environ, "COSIGN_PASSWORD": "pw"}, timeout=60)
    return (folder / "cosign.key").read_text(), (folder / "cosign.pub").read_text()


@pytest.fixture(scope="module")
def keys(cosign, tmp_path_factory):
    root = tmp_path_factory.mktemp("keys")
    return key_pair(cosign, root / "ours"), key_pair(cosign, root / "theirs")


@pytest.fixture(scope="module")
def version(mlflow_server, coffee):
    out = train.run({"data": str(coffee["data"]), "config": str(coffee["config"]), "tracking-uri": mlflow_server.uri,
                     "model-name": MODEL}, Actions({}), env=STEP_ENV)
    return out["model-uri"]


@pytest.fixture
def signed_deploy(docker_engine, docker_registry, mlflow_server, base_image, cosign, tmp_path):
    from tests.integration.conftest import free_port

    listen = f"127.0.0.1:{free_port()}"

    def run(**extra):
        inputs = {"model-uri": "", "tracking-uri": mlflow_server.uri, "target": "docker", "base-image": base_image,
                  "listen": listen, "observe-seconds": "1", "ready-timeout": "30", "registry": docker_registry.host,
                  "registry-username": docker_registry.username, "registry-password": docker_registry.password,
                  "cosign": cosign, "sbom": str(tmp_path / "sbom.cdx.json"), **extra}
        return deploy.run(inputs, Actions({}), env={"GITHUB_SHA": "0123456789abcdef", "GITHUB_REPOSITORY": "acme/shop"})

    run.listen = listen
    yield run
    DockerTarget(docker_engine, deployment_name(MODEL)).stop()


def served_version(listen: str) -> str:
    req = urllib.request.Request(f"http://{listen}/predict", json.dumps(ROW).encode(),
                                 {"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return resp.headers["x-model-version"]


def test_a_signed_image_deploys_and_carries_a_verifiable_signature_and_sbom(
        signed_deploy, version, keys, cosign, docker_registry, docker_engine, tmp_path):
    (private, public), _ = keys
    out = signed_deploy(**{"model-uri": version, "cosign-key": private, "cosign-password": "pw",
                           "cosign-public-key": public})
    assert out["digest"].startswith("sha256:") and out["sbom"] == str(tmp_path / "sbom.cdx.json")
    sbom = json.loads((tmp_path / "sbom.cdx.json").read_text())
    assert sbom["bomFormat"] == "CycloneDX" and sbom["specVersion"] == "1.5"
    names = {c["name"].lower() for c in sbom["components"]}
    assert {"onnxruntime", "numpy", "uvicorn"} <= names  # the image's own Python packages
    assert served_version(signed_deploy.listen) == version.rsplit("/", 1)[1]
    reference = out["image"].rsplit(":", 1)[0] + "@" + out["digest"]
    started = [c.attrs["Config"]["Image"] for c in docker_engine.containers.list(filters={"name": f"aicd-{MODEL}-r"})]
    assert started == [reference]  # run by the verified digest, not by a tag that could have moved since
    (tmp_path / "cosign.pub").write_text(public)
    for verb in (["verify"], ["verify-attestation", "--type", "cyclonedx"]):
        done = subprocess.run([cosign, *verb, "--key", str(tmp_path / "cosign.pub"), "--insecure-ignore-tlog=true",
                               "--allow-insecure-registry", reference], capture_output=True, text=True, timeout=120,
                              env={**os.environ, "DOCKER_CONFIG": str(_docker_config(tmp_path, docker_registry))})
        assert done.returncode == 0, done.stderr[-1500:]


def test_an_image_signed_by_another_key_or_unsigned_is_refused_and_the_previous_revision_serves(
        signed_deploy, version, keys):
    (private, public), (_, other_public) = keys
    first = signed_deploy(**{"model-uri": version, "cosign-key": private, "cosign-password": "pw"})
    with pytest.raises(UserError, match="not signed by the key in cosign-public-key") as refused:
        signed_deploy(**{"model-uri": version, "image": first["image"], "cosign-public-key": other_public})
    assert "\n" not in str(refused.value)
    assert served_version(signed_deploy.listen) == first["model-version"]
    unsigned = signed_deploy(**{"model-uri": version, "command": "build", "image-name": "unsigned-coffee"})
    with pytest.raises(UserError, match="not signed by the key in cosign-public-key"):
        signed_deploy(**{"model-uri": version, "image": unsigned["image"], "cosign-public-key": public})
    assert served_version(signed_deploy.listen) == first["model-version"]


def _docker_config(tmp_path, registry):
    """A DOCKER_CONFIG with the registry's basic auth, for calling cosign directly."""
    folder = tmp_path / "docker-config"
    folder.mkdir(exist_ok=True)
    auth = base64.b64encode(f"{registry.username}:{registry.password}".encode()).decode()
    (folder / "config.json").write_text(json.dumps({"auths": {registry.host: {"auth": auth}}}))
    return folder
