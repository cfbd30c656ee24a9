"""The deploy step's signing: sign and attest the pushed image (cosign-key), verify it (cosign-public-key).

Contracts: every check of the inputs runs before anything is built; verification runs on the exact
digest that is about to be deployed and, when it fails, nothing has been deployed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from ...deploy.cosign import Cosign, find_cosign, image_sbom
from ...deploy.image import BuiltImage
from ...deploy.signing import by_digest
from ...errors import ConfigError
from ...gha import Actions
from ...under_act import placed

__all__ = ["check_signing", "sign_image", "verify_before_deploy"]


def check_signing(inputs: Mapping[str, str], kind: str, command: str) -> None:
    """The signing inputs make sense for this target and command, and cosign is there when needed."""
    key, public = inputs.get("cosign-key") or "", inputs.get("cosign-public-key") or ""
    if not (key or public):
        return
    if kind == "local" or command not in ("deploy", "build"):
        raise ConfigError(f"inputs `cosign-key` / `cosign-public-key` apply to deploy and build on the docker and "
                          f"kubernetes targets, not {command} on {kind}", hint="leave them empty here")
    if key and inputs.get("image"):  # signing an image this step did not build would vouch for anything
        raise ConfigError("input `cosign-key` signs the image this step builds; `image` was built elsewhere",
                          hint="sign it where it is built (the step with command: build and cosign-key), and give "
                               "cosign-public-key here to verify it")
    if not (inputs.get("registry") or inputs.get("image")):
        name = "cosign-key" if key else "cosign-public-key"
        raise ConfigError(f"input `{name}`: signatures live in a registry, and this step pushes nowhere",
                          hint=f"give `registry` (or an `image` already pushed) with {name}")
    for name, value in (("cosign-key", key), ("cosign-public-key", public)):
        if value and "-----BEGIN" not in value:
            raise ConfigError(f"input `{name}` is not a PEM key",
                              hint="give the contents of the file `cosign generate-key-pair` made, not its path")
    find_cosign(inputs.get("cosign") or "")


def _cosign(inputs: Mapping[str, str]) -> Cosign:
    return Cosign(find_cosign(inputs.get("cosign") or ""), inputs.get("registry-username") or "",
                  inputs.get("registry-password") or "")


def _digest(env: Mapping[str, str], image: BuiltImage, inputs: Mapping[str, str]) -> BuiltImage:
    """``image`` with its registry digest (an `image` input is looked up in its registry)."""
    if image.digest:
        return image
    if "@sha256:" in image.reference:
        return replace(image, digest=image.reference.split("@", 1)[1])
    from ...deploy.docker_target import docker_client
    from ...errors import ServiceError

    user = inputs.get("registry-username") or ""
    auth = {"username": user, "password": inputs.get("registry-password") or ""} if user else None
    try:
        data = docker_client(env.get("DOCKER_HOST", "")).images.get_registry_data(image.reference, auth_config=auth)
    except Exception as exc:  # the docker SDK's errors: the image is not in its registry
        raise ServiceError(f"registry {image.reference.split('/')[0]}", f"reading the digest of {image.reference}: "
                           f"{str(exc).splitlines()[0]}", retryable=True) from None
    return replace(image, digest=data.id)


def sign_image(inputs: Mapping[str, str], gh: Actions, env: Mapping[str, str], image: BuiltImage) -> BuiltImage:
    """With cosign-key: sign ``image`` by digest, write its SBOM and attest it; ``image`` with ``sbom`` set."""
    if not inputs.get("cosign-key"):
        return image
    from ...deploy.docker_target import docker_client

    image = _digest(env, image, inputs)
    reference = by_digest(image.reference, image.digest)
    local = image.reference if image.image_id or not image.reused else reference
    sbom = image_sbom(docker_client(env.get("DOCKER_HOST", "")), reference, local)
    path = Path(placed(inputs.get("sbom") or "aicd-reports/sbom.cdx.json", env))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(sbom, indent=1) + "\n", encoding="utf-8")
    _cosign(inputs).sign_and_attest(reference, inputs["cosign-key"], inputs.get("cosign-password") or "", path)
    gh.info(f"aicd deploy: signed {reference} and attested its SBOM ({len(sbom['components'])} packages, {path})")
    return replace(image, sbom=str(path))


def verify_before_deploy(inputs: Mapping[str, str], gh: Actions, env: Mapping[str, str], image: BuiltImage
                         ) -> BuiltImage:
    """With cosign-public-key: the digest about to be deployed carries a signature by that key, else raise."""
    if not inputs.get("cosign-public-key"):
        return image
    image = _digest(env, image, inputs)
    reference = by_digest(image.reference, image.digest)
    _cosign(inputs).verify(reference, inputs["cosign-public-key"])
    gh.info(f"aicd deploy: {reference} is signed by the key in cosign-public-key")
    return replace(image, reference=reference)  # deployed by that digest: a tag could move after the check
