"""Export a fitted scikit-learn model to ONNX — the serving fast path — and prove it agrees.

onnxruntime answers one row in microseconds where scikit-learn takes milliseconds, and the serving
image then needs neither scikit-learn nor any unpickling. The export is only kept when the ONNX
model gives the same answers as the scikit-learn one on the holdout (classification: the same
label on at least ``MIN_AGREEMENT`` of the rows; regression: within 1e-4 relative). Anything
that does not convert (a custom transformer, an estimator skl2onnx lacks) is not an error: the
model is served by scikit-learn from its skops file instead, and the reason is reported.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..feeds import NUMERIC_KINDS, feeds

__all__ = ["MIN_AGREEMENT", "OnnxExport", "export_onnx"]

MIN_AGREEMENT = 0.999


@dataclass(frozen=True)
class OnnxExport:
    blob: bytes | None  # the serialized ONNX model; None when not exported
    agreement: float | None  # share of holdout rows where ONNX and scikit-learn agree
    reason: str = ""  # why there is no export


def export_onnx(model, holdout: pd.DataFrame, feature_types: dict[str, str], task: str) -> OnnxExport:
    """Convert ``model`` (taking the raw feature columns of ``holdout``) and check it on ``holdout``."""
    try:
        blob = _convert(model, feature_types, task)
        agreement = _agreement(model, blob, holdout, feature_types, task)
    except Exception as exc:  # skl2onnx raises many kinds; none of them should fail training
        return OnnxExport(None, None, f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
    if agreement < MIN_AGREEMENT:
        return OnnxExport(None, agreement, f"ONNX agrees with scikit-learn on only {agreement:.2%} of the holdout")
    return OnnxExport(blob, agreement)


def _convert(model, feature_types: dict[str, str], task: str) -> bytes:
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import FloatTensorType, StringTensorType

    model = _impute_empty_strings(model)
    inputs = [(name, FloatTensorType([None, 1]) if kind in NUMERIC_KINDS else StringTensorType([None, 1]))
              for name, kind in feature_types.items()]
    final = model.steps[-1][1] if hasattr(model, "steps") else model
    options = {id(final): {"zipmap": False}} if task == "classification" else None
    return to_onnx(model, initial_types=inputs, options=options).SerializeToString()


def _impute_empty_strings(model):
    """A copy whose string imputers treat ``""`` as missing (skl2onnx cannot match NaN in strings).

    The fitted statistics are unchanged, so the copy answers exactly as the original does once
    missing strings arrive as ``""`` — which is how :func:`aicd.feeds.feeds` encodes them.
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline

    model = copy.deepcopy(model)
    pending = [model]
    while pending:
        step = pending.pop()
        if isinstance(step, Pipeline):
            pending.extend(s for _, s in step.steps)
        elif isinstance(step, ColumnTransformer):
            pending.extend(t for _, t, _ in step.transformers_)
        elif isinstance(step, SimpleImputer) and getattr(step, "statistics_", np.empty(0)).dtype == object:
            step.missing_values = ""
    return model


def _agreement(model, blob: bytes, holdout: pd.DataFrame, feature_types: dict[str, str], task: str) -> float:
    import onnxruntime

    session = onnxruntime.InferenceSession(blob, providers=["CPUExecutionProvider"])
    columns = {name: holdout[name].tolist() for name in feature_types}
    onnx_answer = session.run(None, feeds(columns, feature_types))[0].ravel()
    sklearn_answer = np.asarray(model.predict(holdout[list(feature_types)])).ravel()
    if task == "regression":
        close = np.isclose(onnx_answer.astype(float), sklearn_answer.astype(float), rtol=1e-4, atol=1e-4)
        return float(close.mean())
    return float(np.mean(onnx_answer.astype(str) == sklearn_answer.astype(str)))
