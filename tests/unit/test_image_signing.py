"""aicd.deploy.signing: cosign argument lists, the CycloneDX SBOM, redaction, verification verdicts."""

import re
from pathlib import Path

import pytest

from aicd.deploy import signing
from aicd.errors import ConfigError, ServiceError, UserError

DIGEST = "sha256:" + "ab" * 32


def test_the_image_is_named_by_digest_with_its_tag_dropped():
    assert signing.by_digest("127.0.0.1:5000/coffee:1-abc", DIGEST) == f"127.0.0.1:5000/coffee@{DIGEST}"
    with pytest.raises(ConfigError):
        signing.by_digest("127.0.0.1:5000/coffee:1-abc", "")


def test_offline_flags_only_for_a_loopback_registry():
    local = signing.sign_argv("cosign", f"127.0.0.1:5000/c@{DIGEST}")
    assert "--tlog-upload=false" in local and "--allow-http-registry=true" in local
    remote = signing.sign_argv("cosign", f"ghcr.io/acme/c@{DIGEST}")
    assert not [a for a in remote if "tlog" in a or "allow" in a]
    assert "--insecure-ignore-tlog=true" in signing.verify_argv("cosign", f"localhost:5000/c@{DIGEST}", "k.pub")
    assert f"--key=env://{signing.KEY_ENV}" in remote  # the key never on the command line


def test_sbom_is_cyclonedx_1_5_with_pypi_purls():
    doc = signing.sbom_document([("Scikit_Learn", "1.5.0"), ("numpy", "2.0.1")], f"r/c@{DIGEST}")
    assert (doc["bomFormat"], doc["specVersion"]) == ("CycloneDX", "1.5")
    assert doc["serialNumber"].startswith("urn:uuid:") and len(doc["serialNumber"]) == 45
    purls = [c["purl"] for c in doc["components"]]
    assert purls == ["pkg:pypi/scikit-learn@1.5.0", "pkg:pypi/numpy@2.0.1"]


def test_secrets_are_redacted_line_by_line():
    pem = "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\nc2VjcmV0LWtleS1ib2R5\n-----END"
    assert "c2VjcmV0" not in signing.redact("bad key c2VjcmV0LWtleS1ib2R5 and pw hunter22", [pem, "hunter22"])


def test_an_unsigned_image_is_a_user_error_and_a_dead_registry_a_service_error():
    err = signing.verify_failure("r/c@x", "Error: no signatures found\nmain.go: error during command execution")
    assert isinstance(err, UserError) and "not signed by the key in cosign-public-key" in str(err)
    assert isinstance(signing.verify_failure("r/c@x", "Error: connection refused"), ServiceError)


PEM = "-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----\n"


@pytest.mark.parametrize(("inputs", "refusal"), [
    ({"cosign-key": PEM, "image": "r.example/m:1", "registry": "r.example"}, "`image` was built elsewhere"),
    ({"cosign-public-key": PEM}, "input `cosign-public-key`: signatures live in a registry"),
    ({"cosign-key": PEM}, "input `cosign-key`: signatures live in a registry"),
])
def test_signing_inputs_that_could_vouch_for_the_wrong_image_are_refused_before_anything_is_built(inputs, refusal):
    from aicd.steps.deploy.signature import check_signing

    with pytest.raises(ConfigError, match=re.escape(refusal)):
        check_signing(inputs, "docker", "deploy")


def test_model_signing_public_key_is_refused_with_an_image_built_elsewhere():
    from aicd.steps.deploy.inputs import fetch

    with pytest.raises(ConfigError, match="`image` was built elsewhere"):
        fetch({"model-signing-public-key": PEM, "image": "r.example/m:1", "model-uri": "models:/m/1"}, {},
              Path("/nonexistent"))


def test_no_secret_in_the_repr_of_a_cosign_runner_or_a_model_signing_key():
    from aicd.deploy.cosign import Cosign
    from aicd.signing import SigningKey

    assert "hunter2" not in repr(Cosign("cosign", "user", "hunter2"))
    assert "hunter2" not in repr(SigningKey("-----BEGIN hunter2", "hunter2", "sha256:ab"))
