"""aicd.signing with real model_signing and real EC keys: sign a directory, verify it, refuse tampering."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from aicd.errors import UserError
from aicd.signing import load_private_key, load_public_key, sign_dir, verify_dir

URI = "models:/coffee/3"


def _pems(password: bytes | None = None) -> tuple[str, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    crypt = serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, crypt).decode()
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return private, public


@pytest.fixture
def model(tmp_path):
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "model.skops").write_bytes(b"weights")
    (folder / "aicd.json").write_text("{}")
    return folder


@pytest.fixture(scope="module")
def keys():
    return _pems()


def test_signed_directory_verifies_with_its_key(model, keys):
    key = load_private_key(keys[0])
    assert sign_dir(model, key).name == "model.sig"
    assert verify_dir(model, keys[1], URI) == key.fingerprint
    assert key.fingerprint.startswith("sha256:") and len(key.fingerprint) == 71


@pytest.mark.parametrize("change", ["changed", "added", "removed"])
def test_tampered_directory_is_refused_in_one_line(model, keys, change):
    sign_dir(model, load_private_key(keys[0]))
    if change == "changed":
        (model / "model.skops").write_bytes(b"other weights")
    elif change == "added":
        (model / "extra.py").write_text("import os")
    else:
        (model / "aicd.json").unlink()
    with pytest.raises(UserError) as err:
        verify_dir(model, keys[1], URI)
    message = str(err.value)
    assert message.startswith(f"model {URI} is not signed by the key in model-signing-public-key: ")
    assert "\n" not in message
    assert {"changed": "model.skops", "added": "extra.py", "removed": "aicd.json"}[change] in message


def test_unsigned_and_other_key_are_refused(model, keys):
    with pytest.raises(UserError, match=r"has no model\.sig"):
        verify_dir(model, keys[1], URI)
    sign_dir(model, load_private_key(_pems()[0]))
    with pytest.raises(UserError, match=f"model {URI} is not signed by the key in model-signing-public-key"):
        verify_dir(model, keys[1], URI)


def test_encrypted_key_needs_its_password():
    private, _ = _pems(b"s3cret")
    assert load_private_key(private, "s3cret").fingerprint.startswith("sha256:")
    with pytest.raises(UserError, match=r"^`model-signing-key` is not a usable PEM private key"):
        load_private_key(private, "")


@pytest.mark.parametrize("text", ["", "not a key", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----"])
def test_bad_private_key_names_the_input(text):
    with pytest.raises(UserError, match=r"^`model-signing-key` is not a usable PEM private key"):
        load_private_key(text)


def test_rsa_key_is_refused():
    pem = rsa.generate_private_key(65537, 2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    with pytest.raises(UserError, match="not an elliptic-curve key"):
        load_private_key(pem)


def test_bad_public_key_names_the_input(model):
    with pytest.raises(UserError, match=r"^`model-signing-public-key` is not a PEM public key"):
        verify_dir(model, "nope", URI)
    with pytest.raises(UserError, match=r"^`model-signing-public-key`"):
        load_public_key("")
