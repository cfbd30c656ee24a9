"""Model signing end to end on the real MLflow server: train signs with an EC P-256 key, deploy (local
target) verifies before it starts anything; unsigned, tampered or foreign-key models are refused in one
line while the previous revision keeps serving."""

from __future__ import annotations

import urllib.request

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from aicd.deploy.local import LocalTarget
from aicd.errors import UserError
from aicd.gha import Actions
from aicd.steps import deploy, train
from tests.conftest import FEEDBACK_TOKEN, STEP_ENV

NAME = "coffee-signed"


def _keypair() -> tuple[str, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return private, public


def _serving(deploy_dir, endpoint: str) -> int:
    """The revision the target serves now, after checking its endpoint still answers ready."""
    with urllib.request.urlopen(f"{endpoint}/readyz", timeout=5) as answer:
        assert answer.status == 200
    return LocalTarget(deploy_dir).current().revision


def test_signed_model_deploys_and_any_other_is_refused(mlflow_server, coffee, deploy_dir, tmp_path):
    gh = Actions({"GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md")})
    private, public = _keypair()
    training = {"data": str(coffee["data"]), "config": str(coffee["config"]), "tracking-uri": mlflow_server.uri,
                "model-name": NAME}
    client = mlflow_server.client()

    with pytest.raises(UserError, match=r"^`model-signing-key` is not a usable PEM private key"):
        train.run({**training, "model-signing-key": "-----BEGIN PRIVATE KEY-----\nAAAA\n"}, gh, env=STEP_ENV)
    assert not client.search_registered_models(f"name = '{NAME}'")  # nothing registered, not even the name

    signed = train.run({**training, "model-signing-key": private}, gh, env=STEP_ENV)
    version = client.get_model_version(NAME, signed["model-version"])
    assert version.tags["aicd.signed_by"].startswith("sha256:")
    assert f"key `{version.tags['aicd.signed_by']}`" in (tmp_path / "summary.md").read_text()

    base = {"tracking-uri": mlflow_server.uri, "state-dir": str(deploy_dir), "feedback-token": FEEDBACK_TOKEN,
            "model-signing-public-key": public}
    first = deploy.run({**base, "model-uri": signed["model-uri"]}, gh, env=STEP_ENV)
    revision = _serving(deploy_dir, first["endpoint"])

    unsigned = train.run(training, gh, env=STEP_ENV)  # no key: another identity, so a new version
    assert unsigned["model-version"] != signed["model-version"]
    refusals = {
        "unsigned": ({**base, "model-uri": unsigned["model-uri"]}, "has no model.sig"),
        "other key": ({**base, "model-uri": signed["model-uri"], "model-signing-public-key": _keypair()[1]},
                      "Key mismatch"),
    }
    for what, (inputs, reason) in refusals.items():
        with pytest.raises(UserError) as err:
            deploy.run(inputs, gh, env=STEP_ENV)
        message = str(err.value)
        assert "\n" not in message and reason in message, (what, message)
        assert message.startswith(f"model models:/{NAME}/") and "model-signing-public-key" in message
        assert _serving(deploy_dir, first["endpoint"]) == revision, what

    # tampering through the registry: a file added to the signed version's artifacts (checksums still match)
    extra = tmp_path / "backdoor.py"
    extra.write_text("import os\n")
    client.log_artifact(version.run_id, str(extra), "model")
    with pytest.raises(UserError, match=r"not signed by the key in model-signing-public-key: .*backdoor\.py"):
        deploy.run({**base, "model-uri": signed["model-uri"]}, gh, env=STEP_ENV)
    assert _serving(deploy_dir, first["endpoint"]) == revision
