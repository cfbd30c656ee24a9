"""Export a fitted scikit-learn model to ONNX — the serving fast path — and prove it agrees.

onnxruntime answers one row in microseconds where scikit-learn takes milliseconds, and the serving
image then needs neither scikit-learn nor any unpickling. The export is only kept when the ONNX
model gives the same answers as the scikit-learn one on the holdout (up to ``AGREEMENT_ROWS`` of
its rows, a seeded sample; classification: the same label on at least ``MIN_AGREEMENT`` of them;
regression: within 1e-4 relative). Anything
that does not convert (a custom transformer, an estimator skl2onnx lacks) is not an error: the
model is served by scikit-learn from its skops file instead, and the reason is reported.
"""

from __future__ import annotations

import contextlib
import copy
import importlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..dates import expand
from ..feeds import NUMERIC_KINDS, dates_of, feeds, input_types

__all__ = ["MIN_AGREEMENT", "OnnxExport", "export_onnx"]

MIN_AGREEMENT = 0.999
TIE = 1e-6  # probabilities this close are a tie: which class wins is float rounding
AGREEMENT_ROWS = 20_000  # holdout rows the export is checked on, at most


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
        return OnnxExport(None, None, _reason(exc))
    if agreement < MIN_AGREEMENT:
        return OnnxExport(None, agreement, f"ONNX agrees with scikit-learn on only {agreement:.2%} of the holdout")
    return OnnxExport(blob, agreement)


def _convert(model, feature_types: dict[str, str], task: str) -> bytes:
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import FloatTensorType, StringTensorType

    model, feature_types = _without_dates(_impute_empty_strings(model), feature_types)
    inputs = [(name, FloatTensorType([None, 1]) if kind in NUMERIC_KINDS else StringTensorType([None, 1]))
              for name, kind in feature_types.items()]
    final = model.steps[-1][1] if hasattr(model, "steps") else model
    options = {id(final): {"zipmap": False}} if task == "classification" else None
    opset = _boosting_opset(final)
    _register_level_codes()
    with _integer_missing_flags():
        return to_onnx(model, initial_types=inputs, options=options, target_opset=opset).SerializeToString()


BOOSTING = {"xgboost": ("XGBClassifier", "XGBRegressor"), "lightgbm": ("LGBMClassifier", "LGBMRegressor")}
CONVERTERS = {"xgboost": ("onnxmltools.convert.xgboost.operator_converters.XGBoost", "convert_xgboost"),
              "lightgbm": ("onnxmltools.convert.lightgbm.operator_converters.LightGbm", "convert_lightgbm")}


def _boosting_opset(final) -> dict | None:
    """XGBoost and LightGBM export through onnxmltools' converters, registered with skl2onnx here,
    at the ai.onnx.ml opset onnxmltools writes (3); None (skl2onnx's defaults) for anything else."""
    package = type(final).__module__.split(".")[0]
    if package not in BOOSTING:
        return None
    from skl2onnx import get_latest_tested_opset_version, update_registered_converter
    from skl2onnx.common.shape_calculator import (
        calculate_linear_classifier_output_shapes,
        calculate_linear_regressor_output_shapes,
    )

    module = importlib.import_module(package)
    converters = importlib.import_module(CONVERTERS[package][0])
    convert = getattr(converters, CONVERTERS[package][1])
    classifier, regressor = (getattr(module, name) for name in BOOSTING[package])
    shapes = calculate_linear_classifier_output_shapes
    update_registered_converter(classifier, f"{package}{classifier.__name__}", shapes, convert,
                                options={"nocl": [True, False], "zipmap": [True, False, "columns"]})
    update_registered_converter(regressor, f"{package}{regressor.__name__}", calculate_linear_regressor_output_shapes,
                                convert, options={"split": None} if package == "lightgbm" else None)
    return {"": get_latest_tested_opset_version(), "ai.onnx.ml": 3}


def _register_level_codes() -> None:
    """aicd's ordinal encoder (:class:`aicd.levelcodes.LevelCodes`) is scikit-learn's with a faster
    transform: it converts as an OrdinalEncoder, by skl2onnx's own shape calculator and converter."""
    from skl2onnx import update_registered_converter
    from skl2onnx.operator_converters.ordinal_encoder import convert_sklearn_ordinal_encoder
    from skl2onnx.shape_calculators.ordinal_encoder import calculate_sklearn_ordinal_encoder_output_shapes

    from ..levelcodes import LevelCodes

    update_registered_converter(LevelCodes, "AicdLevelCodes", calculate_sklearn_ordinal_encoder_output_shapes,
                                convert_sklearn_ordinal_encoder)


def _without_dates(model, feature_types: dict[str, str]):
    """A pipeline that starts by expanding dates (:class:`aicd.dates.DateParts`) is exported without
    that step: the server expands them the same way before the graph, which then takes the parts."""
    from sklearn.pipeline import Pipeline

    from ..dateparts import DateParts

    if not (isinstance(model, Pipeline) and isinstance(model.steps[0][1], DateParts)):
        return model, feature_types
    return Pipeline(model.steps[1:]), input_types(feature_types)


@contextlib.contextmanager
def _integer_missing_flags():
    """skl2onnx 1.20 builds HistGradientBoosting's trees with ``False`` (a bool) as the missing-value
    flag of every leaf, which onnx refuses in an integer attribute ("Expected an int, got a
    boolean"); give it the integer it means while converting. The flag of a split is unchanged."""
    from skl2onnx.common import tree_ensemble

    original = tree_ensemble.add_node

    def add_node(*args, nodes_missing_value_tracks_true=0, **kwargs):
        return original(*args, nodes_missing_value_tracks_true=int(nodes_missing_value_tracks_true), **kwargs)

    tree_ensemble.add_node = add_node
    try:
        yield
    finally:
        tree_ensemble.add_node = original


def _reason(exc: Exception) -> str:
    """One readable line: the error's first line, without the attribute arrays skl2onnx appends."""
    first = str(exc).splitlines()[0] if str(exc) else ""
    first = first.split(" and attributes=")[0].split(" with name=")[0]
    cause = exc.__cause__
    because = f" ({type(cause).__name__}: {str(cause).splitlines()[0][:120]})" if cause and str(cause) else ""
    text = f"{type(exc).__name__}: {first}"[:200] + because
    return text.rstrip(": ")


def _impute_empty_strings(model):
    """A copy whose string imputers treat ``""`` as missing (skl2onnx cannot match NaN in strings).

    The fitted statistics are unchanged, so the copy answers exactly as the original does once
    missing strings arrive as ``""`` — which is how :func:`aicd.feeds.feeds` encodes them.
    """
    from sklearn.impute import SimpleImputer

    from ..levelcodes import parts

    model = copy.deepcopy(model)
    for step in parts(model):
        if isinstance(step, SimpleImputer) and getattr(step, "statistics_", np.empty(0)).dtype == object:
            step.missing_values = ""
    return model


def _as_text(labels: np.ndarray) -> np.ndarray:
    """Labels as comparable text: a boolean class is 0/1 on one side and True/False on the other."""
    if labels.dtype == bool:
        labels = labels.astype(int)
    words = {"true": "1", "false": "0"}
    return np.array([str(int(v)) if isinstance(v, (bool, np.bool_)) else words.get(str(v).lower(), str(v))
                     for v in labels.tolist()])


def _column(series: pd.Series, kind: str):
    """A feature column as :func:`aicd.feeds.feeds` takes it: numbers as one float array (NaN missing)."""
    if kind in NUMERIC_KINDS and pd.api.types.is_numeric_dtype(series):
        return series.to_numpy(dtype=np.float64, na_value=np.nan)
    return series.tolist()


def _agreement(model, blob: bytes, holdout: pd.DataFrame, feature_types: dict[str, str], task: str) -> float:
    """The share of holdout rows answered alike. A classifier's row also agrees when scikit-learn's
    probabilities tie (two classes within ``TIE``, as 50 of 100 trees make it) and ONNX gives the same
    probabilities: the tie is broken by float rounding, not by a different model."""
    import onnxruntime

    session = onnxruntime.InferenceSession(blob, providers=["CPUExecutionProvider"])
    if len(holdout) > AGREEMENT_ROWS:  # a seeded sample: 1 disagreement in 1,000 still shows as about 20
        holdout = holdout.sample(AGREEMENT_ROWS, random_state=0)
    columns = {name: _column(holdout[name], kind) for name, kind in feature_types.items()}
    given = feeds(expand(columns, dates_of(feature_types)), graph := input_types(feature_types))
    answers = session.run(None, {i.name: given[f] for i, f in zip(session.get_inputs(), graph, strict=True)})
    onnx_answer = answers[0].ravel()
    x = holdout[list(feature_types)]
    sklearn_answer = np.asarray(model.predict(x)).ravel()
    if task == "regression":
        close = np.isclose(onnx_answer.astype(float), sklearn_answer.astype(float), rtol=1e-4, atol=1e-4)
        return float(close.mean())
    same = _as_text(onnx_answer) == _as_text(sklearn_answer)
    if len(answers) > 1 and hasattr(model, "predict_proba") and not same.all():
        proba = np.asarray(model.predict_proba(x))
        top = np.sort(proba, axis=1)[:, -2:] if proba.shape[1] > 1 else np.zeros((len(proba), 2))
        tied = (top[:, 1] - top[:, 0]) <= TIE
        alike = np.all(np.isclose(np.asarray(answers[1]), proba, atol=1e-4), axis=1)
        same |= tied & alike
    return float(np.mean(same))
