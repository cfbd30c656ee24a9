"""Signing the serving image with cosign, its CycloneDX SBOM, and verifying it before a rollout: the pure part.

This module builds cosign's argument lists, the SBOM document and the verdict of a verification from
cosign's own output; :mod:`aicd.deploy.cosign` runs the commands. Contracts:
- Every image is named BY DIGEST (``repository@sha256:...``): a tag can move between signing,
  verifying and deploying; a digest cannot.
- The private key travels in an environment variable (``--key env://AICD_COSIGN_KEY``), the password
  in ``COSIGN_PASSWORD``: neither is ever on a command line. :func:`redact` removes them from any text
  that could be shown.
- Offline flags (no transparency log, plain-HTTP registry) are given only for a loopback registry,
  where no public transparency log or TLS can be had; any other registry gets cosign's defaults.
- The SBOM is CycloneDX 1.5 JSON: one ``library`` component per Python distribution the image's own
  interpreter sees, each with name, version and a ``pkg:pypi`` purl.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime

from ..errors import ConfigError, ServiceError, UserError

__all__ = ["KEY_ENV", "SBOM_PROBE", "attest_argv", "by_digest", "is_loopback", "parse_distributions", "redact",
           "registry_host", "sbom_document", "sign_argv", "verify_argv", "verify_attestation_argv", "verify_failure"]

KEY_ENV = "AICD_COSIGN_KEY"  # the variable the private key PEM is handed to cosign in
# Run by the image's own python3: every distribution on its path (PYTHONPATH included), as JSON.
SBOM_PROBE = ("import importlib.metadata as m, json; print(json.dumps(sorted({(d.metadata['Name'], d.version) "
              "for d in m.distributions() if d.metadata['Name']})))")
_NOT_SIGNED = ("no signatures found", "no matching signatures", "invalid signature", "signature verification failed",
               "manifest_unknown", "failed to verify signature", "crypto/rsa: verification error",
               "no matching attestations")


def registry_host(reference: str) -> str:
    """The registry part of an image reference (``docker.io`` when there is none)."""
    first = reference.split("/", 1)[0]
    return first if "/" in reference and ("." in first or ":" in first or first == "localhost") else "docker.io"


def is_loopback(reference: str) -> bool:
    """True when the image's registry is on this machine (127.0.0.0/8, localhost, [::1])."""
    host = registry_host(reference)
    host = host[1:host.index("]")] if host.startswith("[") else host.rsplit(":", 1)[0]
    return host == "localhost" or host == "::1" or host.startswith("127.")


def by_digest(reference: str, digest: str) -> str:
    """``repository@digest`` of ``reference`` (a tag, if any, dropped); ConfigError without a digest."""
    if not re.fullmatch(r"sha256:[0-9a-f]{64}", digest or ""):
        raise ConfigError(f"image {reference!r} has no registry digest to sign or verify",
                          hint="give `registry` so the image is pushed, or an `image` pushed to a registry")
    repository = reference.split("@", 1)[0]
    last = repository.rsplit("/", 1)[-1]
    if ":" in last:
        repository = repository[: len(repository) - len(last)] + last.split(":", 1)[0]
    return f"{repository}@{digest}"


def _offline(reference: str, verify: bool) -> list[str]:
    if not is_loopback(reference):
        return []
    flags = ["--allow-http-registry=true", "--allow-insecure-registry=true"]
    return [*flags, "--insecure-ignore-tlog=true"] if verify else [*flags, "--tlog-upload=false"]


def sign_argv(cosign: str, reference: str) -> list[str]:
    """``cosign sign`` of ``reference`` (by digest) with the key in :data:`KEY_ENV`."""
    return [cosign, "sign", "--yes", f"--key=env://{KEY_ENV}", *_offline(reference, False), reference]


def attest_argv(cosign: str, reference: str, sbom_path: str) -> list[str]:
    """``cosign attest`` of the CycloneDX SBOM at ``sbom_path`` to ``reference``."""
    return [cosign, "attest", "--yes", f"--key=env://{KEY_ENV}", "--type=cyclonedx", f"--predicate={sbom_path}",
            *_offline(reference, False), reference]


def verify_argv(cosign: str, reference: str, public_key_path: str) -> list[str]:
    return [cosign, "verify", f"--key={public_key_path}", *_offline(reference, True), "--output=json", reference]


def verify_attestation_argv(cosign: str, reference: str, public_key_path: str) -> list[str]:
    return [cosign, "verify-attestation", f"--key={public_key_path}", "--type=cyclonedx",
            *_offline(reference, True), "--output=json", reference]


def parse_distributions(stdout: str) -> list[tuple[str, str]]:
    """The probe's ``[[name, version], ...]``; ServiceError when the image printed anything else."""
    try:
        pairs = json.loads(stdout.strip().splitlines()[-1])
        return [(str(name), str(version)) for name, version in pairs]
    except (ValueError, IndexError, TypeError):
        raise ServiceError("Docker engine", f"the image's python3 did not list its packages: {stdout[:200]!r}",
                           retryable=False) from None


def _purl_name(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()  # PEP 503 normalisation, as the pypi purl type requires


def sbom_document(distributions: Iterable[tuple[str, str]], reference: str, *, serial: str | None = None,
                  now: datetime | None = None) -> dict:
    """A CycloneDX 1.5 BOM of the image at ``reference`` (by digest) holding ``distributions``."""
    components = [{"type": "library", "bom-ref": f"pkg:pypi/{_purl_name(n)}@{v}", "name": n, "version": v,
                   "purl": f"pkg:pypi/{_purl_name(n)}@{v}"} for n, v in sorted(set(distributions))]
    name, _, digest = reference.partition("@")
    return {
        "bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1,
        "serialNumber": f"urn:uuid:{serial or uuid.uuid4()}",
        "metadata": {"timestamp": (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                     "tools": {"components": [{"type": "application", "name": "aicd"}]},
                     "component": {"type": "container", "bom-ref": reference, "name": name, "version": digest}},
        "components": components,
    }


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every non-empty secret (and each line of a multi-line one, such as a PEM) as ***."""
    for secret in secrets:
        for part in sorted({secret, *(line for line in secret.splitlines() if len(line) > 8)}, key=len, reverse=True):
            if part:
                text = text.replace(part, "***")
    return text


def _first_error(stderr: str) -> str:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    for line in lines:
        if line.lower().startswith("error"):
            return line.removeprefix("Error: ").removeprefix("error: ")
    return lines[-1] if lines else "no output"


def verify_failure(reference: str, stderr: str) -> Exception:
    """The error for a failed ``cosign verify`` of ``reference``: not signed by the key (a UserError), else
    a registry that could not be read (a ServiceError, retryable)."""
    reason = _first_error(stderr)
    if any(mark in stderr.lower() for mark in _NOT_SIGNED):
        return UserError(f"image {reference} is not signed by the key in cosign-public-key: {reason}",
                         hint="sign it with cosign-key (the private key of that public key) in the step that "
                              "builds it; nothing was deployed")
    return ServiceError(f"registry {registry_host(reference)}", f"verifying the signature of {reference}: {reason}",
                        retryable=True, hint="nothing was deployed")
