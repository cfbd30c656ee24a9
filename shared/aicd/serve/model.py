"""Loading a model directory for serving: checksum first, then onnxruntime (or skops, never pickle).

The caller passes the SHA-256 the registry recorded at training for the file that will be served
(the ONNX export when there is one, else ``model.skops``); a file that does not match refuses to
load, so a model changed after training never answers a request. ONNX needs only onnxruntime and
numpy; the scikit-learn path imports pandas, scikit-learn and skops lazily, and only loads the
types that were trusted when the model was trained.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ServiceError
from ..modelfiles import META_FILE, MODEL_FILE, ONNX_FILE, PROFILE_FILE, sha256_file

__all__ = ["LoadedModel", "load_model_dir", "load_sklearn"]

Predict = Callable[[dict[str, list]], list]  # feature columns -> one answer per row


@dataclass
class LoadedModel:
    meta: dict
    runtime: str  # "onnx" or "sklearn"
    predict: Predict
    profile: dict = field(default_factory=dict)

    @property
    def features(self) -> list[str]:
        return list(self.meta["features"])

    @property
    def feature_types(self) -> dict[str, str]:
        return dict(self.meta.get("feature_types", {}))


def load_model_dir(model_dir: str | Path, expected_sha256: str, runtime: str = "auto") -> LoadedModel:
    """Verify and load for serving; ServiceError when the served file does not match the checksum.

    ``runtime`` "auto" serves ``model.onnx`` when the directory has one, else ``model.skops``.
    """
    model_dir = Path(model_dir)
    meta = _read_json(model_dir / META_FILE, required=True)
    profile = _read_json(model_dir / PROFILE_FILE, required=False)
    if runtime == "auto":
        runtime = "onnx" if (model_dir / ONNX_FILE).is_file() else "sklearn"
    if runtime == "onnx":
        _verify(model_dir / ONNX_FILE, expected_sha256)
        return LoadedModel(meta, "onnx", _onnx_predict(model_dir / ONNX_FILE, meta), profile)
    estimator = load_sklearn(model_dir, expected_sha256)
    return LoadedModel(meta, "sklearn", _sklearn_predict(estimator, meta), profile)


def load_sklearn(model_dir: str | Path, expected_sha256: str):
    """The fitted scikit-learn object from ``model.skops``, after the checksum check."""
    import skops.io

    model_dir = Path(model_dir)
    meta = _read_json(model_dir / META_FILE, required=True)
    _verify(model_dir / MODEL_FILE, expected_sha256)
    return skops.io.load(model_dir / MODEL_FILE, trusted=meta.get("trusted_types", []))


def _verify(path: Path, expected: str) -> None:
    actual = sha256_file(path) if path.is_file() else "missing"
    if actual != expected:
        raise ServiceError("model server", f"refusing to start: {path} has SHA-256 {actual}, expected {expected}",
                           retryable=False, hint="the model was changed after training; redeploy from the registry")


def _read_json(path: Path, required: bool) -> dict:
    if not path.is_file():
        if required:
            raise ServiceError("model server", f"{path} is missing: not an aicd model directory", retryable=False,
                               hint="deploy a model registered by action-train")
        return {}
    return json.loads(path.read_text(encoding="utf-8"))


def _onnx_predict(path: Path, meta: dict) -> Predict:
    import onnxruntime

    from ..feeds import feeds

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1  # one row is microseconds of work: threads only add hand-off latency
    options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    output = [session.get_outputs()[0].name]
    types = meta.get("feature_types", {})

    def predict(columns: dict[str, list]) -> list:
        return session.run(output, feeds(columns, types))[0].ravel().tolist()

    return predict


def _sklearn_predict(estimator, meta: dict) -> Predict:
    import pandas as pd

    features = list(meta["features"])

    def predict(columns: dict[str, list]) -> list:
        answers = estimator.predict(pd.DataFrame(columns, columns=features))
        return [v.item() if hasattr(v, "item") else v for v in answers]

    return predict
