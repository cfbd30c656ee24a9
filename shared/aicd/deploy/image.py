"""The serving image: a generated Dockerfile over any Python base, built and pushed with the Docker SDK.

Contracts:
- The image holds the base, the locked serving dependencies for the base's own Python and CPU
  (installed on the host by uv into the build context — the build needs no network), the
  ``aicd.serve`` code, and the verified model directory (and, for a canary that shadow-scores with
  the stable model, that model's directory at ``/shadow``). ONNX models get onnxruntime + numpy
  only; a model without an ONNX export (served or shadow) also gets scikit-learn, pandas and skops.
- Non-root (uid 65532), read-only-root friendly (no bytecode or temp writes at run time: the
  build precompiles), a HEALTHCHECK on ``/readyz``, OCI labels (source, revision, created) and
  aicd labels tying it to the model URI, version, run, data version and checksum.
- Tags are ``<model-version>-<short-sha>``: the same model from the same commit gets the same tag,
  and is built once: an image of that tag whose ``io.aicd.build`` label matches (a digest of the
  base image, the serving lock and code, the model checksum, the environment and the labels) is
  used as it is. Anything else differing builds anew.
- Credentials are given to the engine only, never printed; push errors name the registry.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ..errors import ConfigError, ServiceError, UserError

__all__ = ["BuiltImage", "ImageBuilder", "Recipe", "build_and_push", "build_key", "dockerfile", "image_labels",
           "image_tag", "repository_name", "serving_lock"]

ROOT = Path(__file__).resolve().parents[3]  # the checkout: requirements/ and shared/ live here
SERVING_CODE = ("__init__.py", "errors.py", "modelfiles.py", "feeds.py", "latency.py", "bins.py", "decision.py",
                "dates.py", "dateparts.py", "serve")
SKLEARN_ONLY = ("dateparts.py",)  # imported only when skops loads a scikit-learn-served model, whose image has it
UID = 65532  # the conventional "nonroot" uid of distroless images
PORT = 8080


@dataclass(frozen=True)
class BuiltImage:
    reference: str  # repository:tag
    image_id: str
    digest: str = ""  # sha256:... once pushed
    size_mb: float = 0.0
    reused: bool = False  # an image of this tag with the same build key was already there
    sbom: str = ""  # path of the CycloneDX SBOM attested to it (aicd.deploy.cosign), when it was signed


@dataclass(frozen=True)
class Recipe:
    """How a stage asks for a serving image: the base, where to push it (and as whom), provenance."""

    base: str = "python:3.12-slim"
    registry: str = ""  # empty: a local image only
    image_name: str = ""  # empty: the model's name
    username: str = ""
    password: str = ""
    commit: str = ""
    source: str = ""  # the repository's URL (the OCI source label)
    cache_dir: Path = Path.home() / ".cache" / "aicd"


def build_and_push(client, recipe: Recipe, model_uri: str, model_dir: Path, meta: dict,
                   shadow: tuple[str, Path, dict] | None = None,
                   progress: Callable[[str], None] = lambda line: None) -> BuiltImage:
    """The serving image of ``model_dir`` (with ``shadow``'s model at /shadow, scoring every request
    unserved), built — or reused, when one of the same build key exists — and pushed when the
    recipe names a registry."""
    from ..registry import serving_checksum

    checksum = serving_checksum(meta)
    repository = repository_name(recipe.registry, recipe.image_name or meta["model_name"])
    runtime_env = {"AICD_MODEL_SHA256": checksum, "AICD_MODEL_NAME": meta["model_name"],
                   "AICD_MODEL_VERSION": str(meta["model_version"]), "AICD_RUN_ID": meta["run_id"]}
    labels = image_labels(meta, model_uri, checksum, recipe.source, recipe.commit)
    tag = image_tag(str(meta["model_version"]), recipe.commit)
    if shadow:
        uri, _, shadow_meta = shadow
        runtime_env.update(AICD_SHADOW_MODEL_DIR="/shadow", AICD_SHADOW_SHA256=serving_checksum(shadow_meta),
                           AICD_SHADOW_MODEL_VERSION=str(shadow_meta["model_version"]))
        labels.update({"io.aicd.shadow.uri": uri, "io.aicd.shadow.version": str(shadow_meta["model_version"]),
                       "io.aicd.shadow.sha256": serving_checksum(shadow_meta)})
        tag += f"-shadow{shadow_meta['model_version']}"  # never the tag of the same model without a shadow
    builder = ImageBuilder(client, recipe.cache_dir, progress=progress)
    started = time.monotonic()
    image = builder.build(base=recipe.base, repository=repository, tag=tag, model_dir=model_dir, meta=meta,
                          env=runtime_env, labels=labels, shadow=(shadow[1], shadow[2]) if shadow else None)
    if not image.reused:
        progress(f"built {image.reference} ({image.size_mb:.0f} MB) in {time.monotonic() - started:.1f} s")
    if recipe.registry:
        image = builder.push(image, recipe.username, recipe.password)
        progress(f"pushed {image.reference}@{image.digest}")
    return image


def image_tag(model_version: str, commit: str) -> str:
    """``<model-version>-<short-sha>``; ``local`` stands in for the commit outside a checkout."""
    return f"{model_version}-{commit[:7] if commit else 'local'}"


def image_labels(meta: Mapping, model_uri: str, checksum: str, source: str, commit: str) -> dict[str, str]:
    return {
        "org.opencontainers.image.title": f"aicd model server: {meta.get('model_name', '')}",
        "org.opencontainers.image.source": source,
        "org.opencontainers.image.revision": commit,
        "org.opencontainers.image.created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "org.opencontainers.image.version": str(meta.get("model_version", "")),
        "io.aicd.model.uri": model_uri,
        "io.aicd.model.name": str(meta.get("model_name", "")),
        "io.aicd.model.version": str(meta.get("model_version", "")),
        "io.aicd.model.run-id": str(meta.get("run_id", "")),
        "io.aicd.model.sha256": checksum,
        "io.aicd.data.version": str(meta.get("data_version", "")),
        "io.aicd.data.source": str(meta.get("data_source", "")),
        "io.aicd.runtime": "onnx" if meta.get("onnx_sha256") else "sklearn",
    }


def build_key(base_id: str, lock: bytes, env: Mapping[str, str], labels: Mapping[str, str]) -> str:
    """What an image is made of, as one digest: equal keys build equal images (the creation time aside)."""
    digest = hashlib.sha256()
    stable = {k: v for k, v in labels.items() if k != "org.opencontainers.image.created"}
    for part in (base_id.encode(), lock, json.dumps([sorted(env.items()), sorted(stable.items())]).encode(),
                 _code_digest().encode()):
        digest.update(hashlib.sha256(part).digest())
    return digest.hexdigest()


def _code_digest() -> str:
    """The serving code the image copies, and this module (the Dockerfile, the pruning); the model's
    own bytes are in the checksum label."""
    package = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256(Path(__file__).read_bytes())
    for name in SERVING_CODE:
        files = sorted((package / name).rglob("*.py")) if (package / name).is_dir() else [package / name]
        for path in files:
            digest.update(str(path.relative_to(package)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def serving_lock(meta: Mapping, *more: Mapping) -> Path:
    """The lock file of what the image must hold for these models (the served one, a shadow)."""
    onnx = all(m.get("onnx_sha256") for m in (meta, *more))
    return ROOT / "requirements" / ("serve-onnx.lock" if onnx else "serve-sklearn.lock")


def dockerfile(base: str, env: Mapping[str, str], labels: Mapping[str, str], shadow: bool = False) -> str:
    """The generated Dockerfile (pure). The context holds ``site/``, ``code/`` and ``model/`` (and
    ``shadow/`` when ``shadow``: the second model the server scores every request with)."""
    env_lines = " \\\n    ".join(f"{k}={json.dumps(v)}" for k, v in env.items())
    label_lines = " \\\n      ".join(f"{json.dumps(k)}={json.dumps(v)}" for k, v in labels.items())
    probe = f"import urllib.request; urllib.request.urlopen('http://127.0.0.1:{PORT}/readyz', timeout=2)"
    # The check run loads the model as the server would (a model that fails its checksum fails the
    # build) and leaves bytecode for exactly the modules serving imports; then the root goes read-only.
    return f"""\
FROM {base}
COPY site /opt/aicd/site
COPY code /opt/aicd/code
COPY model /model
{"COPY shadow /shadow" + chr(10) if shadow else ""}ENV PYTHONPATH=/opt/aicd/site:/opt/aicd/code PYTHONUNBUFFERED=1 \\
    AICD_HOST=0.0.0.0 AICD_PORT={PORT} AICD_MODEL_DIR=/model \\
    {env_lines}
RUN ["python3", "-m", "aicd.serve", "--check"]
ENV PYTHONDONTWRITEBYTECODE=1
USER {UID}:{UID}
EXPOSE {PORT}
HEALTHCHECK --interval=5s --timeout=3s --start-period=10s --retries=3 CMD ["python3", "-c", {json.dumps(probe)}]
ENTRYPOINT ["python3", "-m", "aicd.serve"]
LABEL {label_lines}
"""


class ImageBuilder:
    """Builds and pushes serving images on one Docker engine (``client``: a docker.DockerClient)."""

    def __init__(self, client, cache_dir: Path, progress: Callable[[str], None] = lambda line: None):
        self.client, self.cache_dir, self.progress = client, Path(cache_dir), progress

    def build(self, *, base: str, repository: str, tag: str, model_dir: Path, meta: Mapping,
              env: Mapping[str, str], labels: Mapping[str, str], shadow: tuple[Path, Mapping] | None = None
              ) -> BuiltImage:
        """``shadow``: (directory, metadata) of a model to copy to ``/shadow`` (the caller's ``env``
        names it to the server)."""
        self.ensure_base(base)
        lock = serving_lock(meta, *([shadow[1]] if shadow else []))
        key = build_key(self.client.images.get(base).id, lock.read_bytes(), env, labels)
        existing = self._existing(f"{repository}:{tag}", key)
        if existing:
            self.progress(f"{existing.reference} was built from the same model, code and base: using it")
            return existing
        labels = {**labels, "io.aicd.build": key}
        python, machine = self.base_python(base)
        site = self.site_packages(lock, python, machine)
        with tempfile.TemporaryDirectory(prefix="aicd-image-") as tmp:
            context = Path(tmp)
            link_tree(site, context / "site")
            copy_code(context / "code")
            shutil.copytree(model_dir, context / "model")
            if shadow:
                shutil.copytree(shadow[0], context / "shadow")
            (context / "Dockerfile").write_text(dockerfile(base, env, labels, bool(shadow)), encoding="utf-8")
            image_id = self.build_context(context, f"{repository}:{tag}")
        size = self.client.images.get(image_id).attrs.get("Size", 0) / 1e6
        return BuiltImage(f"{repository}:{tag}", image_id, size_mb=round(size, 1))

    def _existing(self, reference: str, key: str) -> BuiltImage | None:
        import docker.errors

        try:
            image = self.client.images.get(reference)
        except docker.errors.ImageNotFound:
            return None
        if (image.labels or {}).get("io.aicd.build") != key:
            return None
        return BuiltImage(reference, image.id, size_mb=round(image.attrs.get("Size", 0) / 1e6, 1), reused=True)

    def base_python(self, base: str) -> tuple[str, str]:
        """(``3.12``, ``x86_64``) of the base image's ``python3``: the serving wheels must match it."""
        import docker.errors

        self.ensure_base(base)
        probe = "import platform, sys; print('%d.%d' % sys.version_info[:2], platform.machine())"
        try:
            out = self.client.containers.run(base, ["python3", "-c", probe], remove=True, network_disabled=True)
        except docker.errors.DockerException as exc:
            raise UserError(f"base image {base!r} has no working python3 ({_first_line(exc)})",
                            hint="give a Python base image in the `base-image` input, e.g. python:3.12-slim") from None
        version, machine = out.decode().split()
        return version, machine

    def ensure_base(self, base: str) -> None:
        import docker.errors

        try:
            self.client.images.get(base)
            return
        except docker.errors.ImageNotFound:
            pass
        except docker.errors.APIError as exc:
            if exc.status_code == 400:  # the engine's verdict on the reference itself
                raise UserError(f"input `base-image`: {base!r} is not an image reference ({_first_line(exc)})",
                                hint="e.g. python:3.12-slim, or the name scripts/build-base-image printed") from None
            raise ServiceError("Docker engine", f"looking up the base image {base!r}: {_first_line(exc)}",
                               retryable=True) from None
        self.progress(f"pulling base image {base}")
        try:
            self.client.images.pull(base)
        except docker.errors.DockerException as exc:
            raise ServiceError("Docker engine", f"base image {base!r} is not present and cannot be pulled "
                               f"({_first_line(exc)})", retryable=True,
                               hint="check the `base-image` input and that the engine can reach its registry") from None

    def site_packages(self, lock: Path, python: str, machine: str, *more: Path, prefix: str = "serve-site",
                      prune: bool = True) -> Path:
        """The locked packages of ``lock`` (and ``more`` locks) for ``python`` on ``machine``, installed
        once into the cache; ``prune`` removes what serving never loads (:data:`PRUNE`)."""
        locks = (lock, *more)
        key = hashlib.sha256(b"".join(p.read_bytes() for p in locks) + f"{python}-{machine}-{prune}".encode()
                             ).hexdigest()[:16]
        target = self.cache_dir / f"{prefix}-{python}-{machine}-{key}"
        if (target / ".complete").exists():
            return target
        self.progress(f"installing {', '.join(p.name for p in locks)} for Python {python} on {machine}")
        staging = Path(tempfile.mkdtemp(prefix=target.name + ".", dir=self.cache_dir))
        uv = Path(sys.executable).parent / "uv"
        cmd = [str(uv if uv.exists() else shutil.which("uv") or "uv"), "pip", "install", "-q", "--target",
               str(staging), "--python-version", python, "--python-platform", f"{machine}-manylinux_2_28",
               "--only-binary", ":all:", "--require-hashes", "--no-deps", *(a for p in locks for a in ("-r", str(p)))]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            shutil.rmtree(staging, ignore_errors=True)
            raise ServiceError("package index", f"cannot install the serving dependencies for Python {python} "
                               f"on {machine}: {done.stderr.strip().splitlines()[-1:]}", retryable=True,
                               hint="check network access to PyPI, or pick a base image with Python 3.11-3.13")
        if prune:
            _prune(staging)
        (staging / ".complete").touch()
        if not (target / ".complete").exists():
            shutil.rmtree(target, ignore_errors=True)
            os.replace(staging, target)
        return target

    def build_context(self, context: Path, reference: str) -> str:
        """Build the prepared ``context`` folder (its Dockerfile) as ``reference``; the image id."""
        import docker.errors

        image_id = ""
        try:
            for chunk in self.client.api.build(path=str(context), tag=reference, rm=True, forcerm=True,
                                               decode=True, pull=False):
                if "error" in chunk:
                    raise ServiceError("Docker engine", f"building {reference}: {chunk['error'].strip()}",
                                       retryable=False)
                if "stream" in chunk and chunk["stream"].strip().startswith("Step "):
                    self.progress(chunk["stream"].strip())
                if "aux" in chunk and "ID" in chunk["aux"]:
                    image_id = chunk["aux"]["ID"]
        except docker.errors.DockerException as exc:
            raise ServiceError("Docker engine", f"building {reference}: {_first_line(exc)}", retryable=True) from None
        return image_id or self.client.images.get(reference).id

    def push(self, image: BuiltImage, username: str = "", password: str = "") -> BuiltImage:
        """Push ``image.reference``; returns it with the registry's digest."""
        import docker.errors

        repository, tag = image.reference.rsplit(":", 1)
        registry = repository.split("/")[0]
        auth = {"username": username, "password": password} if username else None
        digest = ""
        try:
            for chunk in self.client.api.push(repository, tag, auth_config=auth, stream=True, decode=True):
                if "error" in chunk:
                    raise ServiceError(f"registry {registry}", f"pushing {image.reference}: "
                                       f"{_redact(chunk['error'], password)}", retryable=_retryable(chunk["error"]),
                                       hint="check the registry address and the registry-username/password inputs")
                digest = chunk.get("aux", {}).get("Digest", digest)
        except docker.errors.DockerException as exc:
            raise ServiceError(f"registry {registry}", f"pushing {image.reference}: "
                               f"{_redact(_first_line(exc), password)}", retryable=True) from None
        if not digest:
            raise ServiceError(f"registry {registry}", f"pushing {image.reference}: no digest came back",
                               retryable=True)
        return BuiltImage(image.reference, image.image_id, digest, image.size_mb, image.reused, image.sbom)


def repository_name(registry: str, image_name: str) -> str:
    """``<registry>/<image-name>`` in the lower case registries require; ConfigError when unusable."""
    name = image_name.lower().replace("__", "-").replace("_", "-")
    if not name or any(c not in "abcdefghijklmnopqrstuvwxyz0123456789-./" for c in name):
        raise ConfigError(f"input `image-name`: {image_name!r} cannot be an image name",
                          hint="use lower-case letters, digits, '-', '.' and '/'")
    return f"{registry.rstrip('/')}/{name}" if registry else f"aicd/{name}"


# Parts of the serving packages that serving never loads: test suites, type stubs, numpy's Fortran
# tooling, onnxruntime's model-conversion tools and its C-API library (the Python module links the
# runtime statically; the .so is for C programs: 34 MB). Licence files stay. The build's --check
# run loads and runs the model as the server does, so a wrong entry fails the build, not production.
PRUNE = ("numpy/f2py", "numpy/distutils", "onnxruntime/transformers", "onnxruntime/quantization",
         "onnxruntime/tools", "onnxruntime/capi/libonnxruntime.so*")


def _prune(site: Path) -> None:
    doomed = [*site.rglob("tests"), *site.rglob("*.pyi"), *(p for pattern in PRUNE for p in site.glob(pattern))]
    for path in doomed:
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        elif path.exists():
            path.unlink()


def link_tree(source: Path, dest: Path) -> None:
    """Hard links where the filesystem allows (the site is ~100 MB), else copies."""
    try:
        shutil.copytree(source, dest, copy_function=os.link, ignore=shutil.ignore_patterns(".complete"))
    except OSError:
        shutil.rmtree(dest, ignore_errors=True)
        shutil.copytree(source, dest, ignore=shutil.ignore_patterns(".complete"))


def copy_code(dest: Path, names: tuple[str, ...] = SERVING_CODE) -> None:
    """The ``aicd`` package's ``names`` (the serving code by default) into ``dest/aicd``."""
    package = Path(__file__).resolve().parents[1]
    (dest / "aicd").mkdir(parents=True)
    for name in names:
        source = package / name
        if source.is_dir():
            shutil.copytree(source, dest / "aicd" / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, dest / "aicd" / name)


def _first_line(exc: Exception) -> str:
    text = str(getattr(exc, "explanation", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _redact(text: str, secret: str) -> str:
    return text.replace(secret, "***") if secret else text


def _retryable(message: str) -> bool:
    lowered = message.lower()
    return not any(word in lowered for word in ("unauthorized", "denied", "authentication required", "forbidden"))
