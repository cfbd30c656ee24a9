"""The training image: aicd itself, with every locked dependency, for ``model.runner: kubernetes``.

``aicd image train --registry <registry>`` builds it over a Python base (``python:3.12-slim`` by
default) and pushes it; model.kubernetes.image names what it prints. Contracts:
- It holds requirements/aicd.lock and every optional set (:data:`aicd.installs.EXTRAS`: gradient
  boosting, the PostgreSQL driver) installed for the base's own Python and CPU, and the whole
  ``aicd`` package; its ``ENTRYPOINT`` is ``python3 -m aicd``.
- ``AICD_LOCK_SHA256`` in its environment is the digest of the aicd.lock it holds: a training Job
  refuses an image whose lock is not the runner's (:func:`aicd.steps.train_job.check_image_lock`).
- Non-root (uid 65532), read-only-root friendly (bytecode compiled at build), working directory
  ``/workspace``. The tag is the first 12 hex digits of a digest of the locks and the code: the
  same aicd makes the same tag, and an image of that tag is reused.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Callable
from pathlib import Path

from ..installs import EXTRAS
from .image import ROOT, UID, BuiltImage, ImageBuilder, Recipe, copy_code, link_tree, repository_name

__all__ = ["build_toolkit", "toolkit_dockerfile"]

LOCK = ROOT / "requirements" / "aicd.lock"
CODE_ROOT = Path(__file__).resolve().parents[1]


def _locks() -> tuple[Path, ...]:
    return (LOCK, *(extra.lock for extra in EXTRAS.values() if not extra.in_aicd_lock))


def _tag(base_id: str) -> str:
    digest = hashlib.sha256(base_id.encode())
    for lock in _locks():
        digest.update(lock.read_bytes())
    for path in sorted(CODE_ROOT.rglob("*.py")):
        if "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(CODE_ROOT)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def toolkit_dockerfile(base: str, lock_sha256: str, labels: dict[str, str]) -> str:
    """The generated Dockerfile (pure); the context holds ``site/`` and ``code/``."""
    label_lines = " \\\n      ".join(f"{json.dumps(k)}={json.dumps(v)}" for k, v in labels.items())
    return f"""\
FROM {base}
COPY site /opt/aicd/site
COPY code /opt/aicd/code
ENV PYTHONPATH=/opt/aicd/site:/opt/aicd/code PYTHONUNBUFFERED=1 AICD_LOCK_SHA256={lock_sha256} HOME=/tmp \\
    MLFLOW_DISABLE_TELEMETRY=true
RUN ["python3", "-m", "compileall", "-q", "-j", "0", "/opt/aicd/code", "/opt/aicd/site"]
RUN ["python3", "-c", "import aicd.steps.train, sklearn, mlflow, pyarrow, onnxruntime"]
ENV PYTHONDONTWRITEBYTECODE=1
WORKDIR /workspace
USER {UID}:{UID}
ENTRYPOINT ["python3", "-m", "aicd"]
LABEL {label_lines}
"""


def build_toolkit(client, recipe: Recipe, progress: Callable[[str], None] = lambda line: None) -> BuiltImage:
    """Build (or reuse) and push the training image; ``recipe.image_name`` defaults to ``aicd-train``."""
    builder = ImageBuilder(client, recipe.cache_dir, progress=progress)
    builder.ensure_base(recipe.base)
    tag = _tag(client.images.get(recipe.base).id)
    reference = f"{repository_name(recipe.registry, recipe.image_name or 'aicd-train')}:{tag}"
    lock_sha = hashlib.sha256(LOCK.read_bytes()).hexdigest()
    labels = {"org.opencontainers.image.title": "aicd training image", "org.opencontainers.image.source": recipe.source,
              "org.opencontainers.image.revision": recipe.commit, "io.aicd.lock.sha256": lock_sha}
    image = _existing(client, reference)
    if image is None:
        python, machine = builder.base_python(recipe.base)
        site = builder.site_packages(*_locks()[:1], python, machine, *_locks()[1:], prefix="train-site",
                                     prune=False)  # the whole toolkit: training imports what serving never does
        with tempfile.TemporaryDirectory(prefix="aicd-toolkit-") as tmp:
            context = Path(tmp)
            link_tree(site, context / "site")
            copy_code(context / "code", tuple(p.name for p in CODE_ROOT.iterdir()
                                               if p.name != "__pycache__" and (p.is_dir() or p.suffix == ".py")))
            (context / "Dockerfile").write_text(toolkit_dockerfile(recipe.base, lock_sha, labels), encoding="utf-8")
            image_id = builder.build_context(context, reference)
        size = client.images.get(image_id).attrs.get("Size", 0) / 1e6
        image = BuiltImage(reference, image_id, size_mb=round(size, 1))
        progress(f"built {reference} ({image.size_mb:.0f} MB)")
    else:
        progress(f"{reference} is already built from this aicd: using it")
    if recipe.registry:
        image = builder.push(image, recipe.username, recipe.password)
        progress(f"pushed {image.reference}@{image.digest}")
    return image


def _existing(client, reference: str) -> BuiltImage | None:
    import docker.errors

    try:
        found = client.images.get(reference)
    except docker.errors.ImageNotFound:
        return None
    return BuiltImage(reference, found.id, size_mb=round(found.attrs.get("Size", 0) / 1e6, 1), reused=True)
