"""OpenSSF model signing of a model directory: sign it at registration, verify it before serving.

Why a signature beside the checksum tags: the tags live in the same registry as the files, so whoever can
rewrite one can rewrite the other; a signature made with a key the registry never sees cannot be forged
there. The signature (``model.sig``, a Sigstore bundle of the directory's manifest) travels with the model's
files; the manifest covers every file but itself, so a changed, added or removed file fails verification.

Keys are PEM text (an input or secret), checked with ``cryptography`` before any work starts; the
``model_signing`` package (with sigstore) is the ``signing`` Extra, installed only when a key is given, and
imported only inside :func:`sign_dir` / :func:`verify_dir`. The serving image never needs it: the deploy
step verifies before it builds or starts anything, and the server keeps checking its checksum.

Errors: a key that does not load is a :class:`UserError` naming its input; a model that does not verify is
a :class:`UserError` naming the model and the public-key input (retrying cannot help).
"""

from __future__ import annotations

import hashlib
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from .errors import UserError
from .modelfiles import SIGNATURE_FILE

__all__ = ["PRIVATE_KEY_INPUT", "PUBLIC_KEY_INPUT", "SigningKey", "fingerprint", "load_private_key",
           "load_public_key", "sign_dir", "verify_dir"]

PRIVATE_KEY_INPUT = "model-signing-key"
PASSWORD_INPUT = "model-signing-key-password"
PUBLIC_KEY_INPUT = "model-signing-public-key"


@dataclass(frozen=True)
class SigningKey:
    """A loaded elliptic-curve private key: its PEM text, password and the public key's fingerprint."""

    pem: str = field(repr=False)
    password: str = field(repr=False)
    fingerprint: str


def fingerprint(public_key) -> str:
    """``sha256:<hex>`` of the public key's DER SubjectPublicKeyInfo (what ``openssl pkey -pubout`` shows)."""
    from cryptography.hazmat.primitives import serialization

    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return "sha256:" + hashlib.sha256(der).hexdigest()


def load_private_key(pem: str, password: str = "") -> SigningKey:
    """The key in ``pem`` (EC, optionally encrypted with ``password``), or one line naming the input."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    try:
        key = serialization.load_pem_private_key(pem.strip().encode() + b"\n", password.encode() or None)
    except (ValueError, TypeError) as exc:
        raise UserError(f"`{PRIVATE_KEY_INPUT}` is not a usable PEM private key: {_reason(exc)}",
                        hint=f"give an EC private key in PEM (and `{PASSWORD_INPUT}` if it is encrypted)") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise UserError(f"`{PRIVATE_KEY_INPUT}` is a {type(key).__name__.lstrip('_')}, not an elliptic-curve key",
                        hint="model signing takes EC keys: openssl ecparam -name prime256v1 -genkey -noout")
    return SigningKey(pem.strip() + "\n", password, fingerprint(key.public_key()))


def load_public_key(pem: str):
    """The EC public key in ``pem``, or one line naming the input."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    try:
        key = serialization.load_pem_public_key(pem.strip().encode() + b"\n")
    except (ValueError, TypeError) as exc:
        raise UserError(f"`{PUBLIC_KEY_INPUT}` is not a PEM public key: {_reason(exc)}",
                        hint="give the public half of model-signing-key: openssl ec -in key.pem -pubout") from None
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise UserError(f"`{PUBLIC_KEY_INPUT}` is not an elliptic-curve public key",
                        hint="give the public half of model-signing-key: openssl ec -in key.pem -pubout")
    return key


def sign_dir(model_dir: Path, key: SigningKey) -> Path:
    """Write ``model_dir/model.sig`` over every other file of ``model_dir``; returns its path.

    The key reaches model_signing only as a file, so it is written to a private temp file removed at once.
    """
    import model_signing

    signature = model_dir / SIGNATURE_FILE
    with tempfile.TemporaryDirectory() as tmp:
        key_file = Path(tmp) / "key.pem"
        key_file.touch(mode=0o600)
        key_file.write_text(key.pem, encoding="utf-8")
        hashing = model_signing.hashing.Config().set_ignored_paths(paths=[SIGNATURE_FILE])
        try:
            (model_signing.signing.Config().set_hashing_config(hashing)
             .use_elliptic_key_signer(private_key=key_file, password=key.password or None)
             .sign(model_dir, signature))
        except Exception as exc:  # model_signing raises ValueError, cryptography and sigstore their own
            raise UserError(f"`{PRIVATE_KEY_INPUT}`: signing the model failed: {_reason(exc)}",
                            hint=f"check {PRIVATE_KEY_INPUT} and {PASSWORD_INPUT}") from None
    return signature


def verify_dir(model_dir: Path, public_pem: str, model_uri: str, written_here: tuple[str, ...] = ()) -> str:
    """Check that ``model_dir`` is exactly what the holder of ``public_pem``'s private key signed.

    ``written_here`` names files the downloader itself writes into the directory (never taken from the
    store, so nothing anyone could plant); they are left out of the comparison. Returns the key's
    fingerprint. Unsigned, tampered (a file changed, added or removed) or signed by another key: one
    :class:`UserError` line naming ``model_uri`` and the input.
    """
    public = load_public_key(public_pem)
    signature = model_dir / SIGNATURE_FILE
    if not signature.is_file():
        raise _refused(model_uri, f"it has no {SIGNATURE_FILE} (registered without model-signing-key)")
    import model_signing

    with tempfile.TemporaryDirectory() as tmp:
        key_file = Path(tmp) / "public.pem"
        key_file.write_text(public_pem.strip() + "\n", encoding="utf-8")
        try:
            # the signing side's hashing (sha256 per file), told to skip the signature and the downloader's files
            hashing = model_signing.hashing.Config().set_ignored_paths(paths=[SIGNATURE_FILE, *written_here])
            (model_signing.verifying.Config().set_hashing_config(hashing)
             .use_elliptic_key_verifier(public_key=key_file).verify(model_dir, signature))
        except Exception as exc:  # model_signing raises ValueError, sigstore and protobuf their own
            raise _refused(model_uri, _reason(exc)) from None
    return fingerprint(public)


def _refused(model_uri: str, reason: str) -> UserError:
    return UserError(f"model {model_uri} is not signed by the key in {PUBLIC_KEY_INPUT}: {reason}",
                     hint="deploy a version trained with the matching model-signing-key, or restore its files")


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:300]
