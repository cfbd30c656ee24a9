"""Running cosign: sign a pushed serving image and attest its SBOM; verify an image before a rollout.

The arguments, the SBOM and the verdicts come from :mod:`aicd.deploy.signing` (pure); this module
only runs processes. Contracts:
- Registry credentials reach cosign through a private, temporary ``DOCKER_CONFIG`` (never argv); the
  private key and its password through the environment; all three are redacted from every message.
- :meth:`Cosign.verify` either returns (the digest is signed by the key) or raises; it changes nothing.
- A cosign that cannot be found is a ConfigError naming the `cosign` input, raised before any work.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ConfigError, ServiceError
from . import signing

__all__ = ["Cosign", "find_cosign", "image_sbom"]

TIMEOUT = 180  # seconds for one cosign call: a registry round trip or two, never minutes


def find_cosign(path: str) -> str:
    """The cosign binary named by the `cosign` input (a path, or a name on PATH)."""
    found = shutil.which(path or "cosign")
    if not found:
        raise ConfigError(f"input `cosign`: no cosign binary at {path or 'cosign'!r} (on PATH)",
                          hint="install cosign (sigstore/cosign-installer on GitHub runners, or scripts/install-cosign "
                               "here) and give its path in `cosign`")
    return found


@dataclass(frozen=True)
class Cosign:
    binary: str
    username: str = ""  # registry basic auth, for a registry that needs it
    password: str = field(default="", repr=False)

    def sign_and_attest(self, reference: str, key: str, key_password: str, sbom_path: Path) -> None:
        """Sign ``reference`` (by digest) and attach the SBOM at ``sbom_path`` as a cyclonedx attestation."""
        env = {signing.KEY_ENV: key, "COSIGN_PASSWORD": key_password}
        self._run(signing.sign_argv(self.binary, reference), env, "signing", (key, key_password))
        self._run(signing.attest_argv(self.binary, reference, str(sbom_path)), env, "attesting the SBOM of",
                  (key, key_password))

    def verify(self, reference: str, public_key: str, attestation: bool = False) -> str:
        """Check that ``reference`` carries a signature (or, with ``attestation``, a cyclonedx attestation)
        by ``public_key`` (PEM); cosign's JSON report, else the error of :func:`signing.verify_failure`."""
        with tempfile.TemporaryDirectory(prefix="aicd-cosign-") as tmp:
            key_path = Path(tmp) / "cosign.pub"
            key_path.write_text(public_key.strip() + "\n", encoding="utf-8")
            make = signing.verify_attestation_argv if attestation else signing.verify_argv
            done = self._call(make(self.binary, reference, str(key_path)), {})
        if done.returncode != 0:
            raise signing.verify_failure(reference, signing.redact(done.stderr, (self.password,)))
        return done.stdout

    def _run(self, argv: list[str], env: dict[str, str], doing: str, secrets: tuple[str, ...]) -> None:
        done = self._call(argv, env)
        if done.returncode != 0:
            reason = signing.redact(done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "no output",
                                    (*secrets, self.password))
            raise ServiceError(f"registry {signing.registry_host(argv[-1])}", f"{doing} {argv[-1]}: {reason}",
                               retryable="unauthorized" not in reason.lower(),
                               hint="check cosign-key / cosign-password and the registry credentials")

    def _call(self, argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
        with tempfile.TemporaryDirectory(prefix="aicd-cosign-auth-") as config:
            full = {**os.environ, "COSIGN_YES": "true", **env}
            if self.username:  # else the runner's own login (docker login, DOCKER_CONFIG) is cosign's too
                auth = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
                host = signing.registry_host(argv[-1])
                (Path(config) / "config.json").write_text(json.dumps({"auths": {host: {"auth": auth}}}))
                full["DOCKER_CONFIG"] = config
            try:
                return subprocess.run(argv, env=full, capture_output=True, text=True, timeout=TIMEOUT, check=False)
            except subprocess.TimeoutExpired:
                raise ServiceError(f"registry {signing.registry_host(argv[-1])}", f"cosign {argv[1]} of {argv[-1]} "
                                   f"took over {TIMEOUT} s", retryable=True) from None


def image_sbom(client, reference: str, local_image: str) -> dict:
    """The CycloneDX SBOM of ``local_image`` (its own python3 lists what it holds), for ``reference``."""
    import docker.errors

    try:
        out = client.containers.run(local_image, ["-c", signing.SBOM_PROBE], entrypoint=["python3"], remove=True,
                                    network_disabled=True)
    except docker.errors.DockerException as exc:
        raise ServiceError("Docker engine", f"listing the packages of {local_image}: {str(exc).splitlines()[0]}",
                           retryable=False) from None
    return signing.sbom_document(signing.parse_distributions(out.decode()), reference)
