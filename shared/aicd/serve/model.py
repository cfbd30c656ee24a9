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

from ..decision import as_classes, decide, probability_rows
from ..errors import ServiceError
from ..modelfiles import META_FILE, MODEL_FILE, ONNX_FILE, PROFILE_FILE, sha256_file

__all__ = ["Answer", "LoadedModel", "load_model_dir", "load_sklearn"]

# feature columns, whether class probabilities are wanted -> (one answer per row, probabilities or None)
Answer = Callable[[dict[str, list], bool], tuple[list, list | None]]


@dataclass
class LoadedModel:
    """A model ready to answer. A classifier's ``answer`` also gives its class probabilities when
    asked (rows of ``{class: p}``); a binary model with a decision threshold answers by it."""

    meta: dict
    runtime: str  # "onnx" or "sklearn"
    answer: Answer
    profile: dict = field(default_factory=dict)

    def predict(self, columns: dict[str, list]) -> list:
        return self.answer(columns, False)[0]

    @property
    def has_probabilities(self) -> bool:
        return self.meta.get("task", "classification") == "classification" and bool(self.meta.get("classes"))

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
        return LoadedModel(meta, "onnx", _onnx_answer(model_dir / ONNX_FILE, meta), profile)
    estimator = load_sklearn(model_dir, expected_sha256)
    return LoadedModel(meta, "sklearn", _sklearn_answer(estimator, meta), profile)


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


def _onnx_answer(path: Path, meta: dict) -> Answer:
    import onnxruntime

    from ..dates import expand
    from ..feeds import dates_of, feeds, input_types

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1  # one row is microseconds of work: threads only add hand-off latency
    options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    outputs = [o.name for o in session.get_outputs()]  # a classifier's: label, probabilities
    inputs = [i.name for i in session.get_inputs()]  # in feature order; the exporter may rename ("a.b" -> "a_b")
    types, decided = meta.get("feature_types", {}), _decider(meta)
    dates, graph_types = dates_of(types), input_types(types)
    classes = meta.get("classes") or []

    def answer(columns: dict[str, list], probabilities: bool) -> tuple[list, list | None]:
        want = len(outputs) > 1 and (probabilities or decided is not None)
        given = feeds(expand(columns, dates), graph_types)
        fed = {name: given[f] for name, f in zip(inputs, graph_types, strict=True)}
        out = session.run(outputs if want else outputs[:1], fed)
        labels = as_classes(out[0].ravel().tolist(), classes)
        proba = out[1].tolist() if want else None
        if decided is not None and proba is not None:
            labels = decided(proba)
        return labels, probability_rows(proba, classes) if probabilities and proba is not None else None

    return answer


def _sklearn_answer(estimator, meta: dict) -> Answer:
    import pandas as pd

    features, decided = list(meta["features"]), _decider(meta)
    classes = meta.get("classes") or []
    can = hasattr(estimator, "predict_proba") and bool(classes)

    def answer(columns: dict[str, list], probabilities: bool) -> tuple[list, list | None]:
        frame = pd.DataFrame(columns, columns=features)
        proba = estimator.predict_proba(frame).tolist() if can and (probabilities or decided) else None
        labels = decided(proba) if decided is not None and proba is not None else [
            v.item() if hasattr(v, "item") else v for v in estimator.predict(frame)]
        return labels, probability_rows(proba, classes) if probabilities and proba is not None else None

    return answer


def _decider(meta: dict):
    """Labels from probabilities at the model's decision threshold; None when it has none."""
    threshold = meta.get("decision_threshold")
    if threshold is None:
        return None
    classes, positive = meta["classes"], meta.get("positive", 1)
    return lambda proba: decide(proba, classes, positive, threshold)
