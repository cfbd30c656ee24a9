"""Loading a model directory for serving: checksum first, then skops with the recorded trusted types.

The directory is what training logged: ``model.skops`` plus ``aicd.json`` (features and their
types, classes, the SHA-256 and the skops types trusted at training). The checksum is compared
with the one the caller got from the registry, so a file changed after training refuses to load.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ..errors import ServiceError

__all__ = ["LoadedModel", "load_model_dir"]


@dataclass
class LoadedModel:
    estimator: object
    meta: dict

    @property
    def features(self) -> list[str]:
        return list(self.meta["features"])


def load_model_dir(model_dir: str | Path, expected_sha256: str) -> LoadedModel:
    """Verify and load; raise ServiceError when the file does not match ``expected_sha256``."""
    import skops.io

    from ..registry import META_FILE, MODEL_FILE, sha256_file

    model_dir = Path(model_dir)
    meta = json.loads((model_dir / META_FILE).read_text(encoding="utf-8"))
    actual = sha256_file(model_dir / MODEL_FILE)
    if actual != expected_sha256:
        raise ServiceError("model server", f"refusing to start: {model_dir / MODEL_FILE} has SHA-256 {actual}, "
                           f"expected {expected_sha256}", retryable=False, hint="redeploy from the registry")
    estimator = skops.io.load(model_dir / MODEL_FILE, trusted=meta.get("trusted_types", []))
    return LoadedModel(estimator, meta)
