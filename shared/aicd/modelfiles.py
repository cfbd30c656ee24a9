"""What a model directory holds, and its checksum (stdlib only: it also ships in the serving image).

A model directory, as training logs it:
    model.skops              the fitted scikit-learn object (skops, never plain pickle)
    model.onnx               the same model as ONNX, when it converts and agrees on the holdout
    aicd.json                features and their types, classes, checksums, ONNX agreement ...
    reference_profile.json   per-feature bins of the training data (drift, serving bin counters)
    model.sig                an OpenSSF model-signing signature over all the other files, when signed
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

__all__ = ["META_FILE", "MODEL_FILE", "ONNX_FILE", "PROFILE_FILE", "SIGNATURE_FILE", "sha256_file",
           "write_onnx_model_dir"]

MODEL_FILE = "model.skops"
ONNX_FILE = "model.onnx"
META_FILE = "aicd.json"
PROFILE_FILE = "reference_profile.json"
SIGNATURE_FILE = "model.sig"


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_onnx_model_dir(dest: Path, onnx: bytes, meta: dict, profile: dict) -> str:
    """A servable directory without MLflow (benchmarks, tests): the ONNX file, metadata and profile.

    Returns the ONNX file's SHA-256, which the server must be given to start.
    """
    dest.mkdir(parents=True, exist_ok=True)
    (dest / ONNX_FILE).write_bytes(onnx)
    (dest / META_FILE).write_text(json.dumps(meta), encoding="utf-8")
    (dest / PROFILE_FILE).write_text(json.dumps(profile), encoding="utf-8")
    return sha256_file(dest / ONNX_FILE)
