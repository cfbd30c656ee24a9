"""Build, fit and evaluate the configured estimator on a seeded holdout (no registry, no Actions I/O).

A bare estimator gets automatic preprocessing (median-impute numbers; impute and one-hot encode
strings), so the fitted object is one Pipeline that takes the raw feature columns. The same
data, config and seed give the same split and, for seeded estimators, the same metrics.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..config import ModelConfig
from ..errors import ConfigError, DataError
from .metrics import classification_metrics, regression_metrics

__all__ = ["TrainResult", "build_estimator", "train_and_evaluate"]


@dataclass
class TrainResult:
    model: object
    metrics: dict[str, float]
    features: list[str]
    feature_types: dict[str, str]
    classes: list
    n_train: int
    n_test: int
    holdout: pd.DataFrame


def build_estimator(cfg: ModelConfig, config_file: str = "aicd.yml", line: int | None = None):
    """Import ``cfg.estimator`` (``package.module.Class``) and instantiate it with ``cfg.params``."""
    module_name, _, class_name = cfg.estimator.rpartition(".")
    try:
        cls = getattr(importlib.import_module(module_name), class_name) if module_name else None
    except (ImportError, AttributeError):
        cls = None
    if cls is None:
        raise ConfigError(f"`model.estimator`: cannot import {cfg.estimator!r}", file=config_file, line=line,
                          hint="give a full import path such as sklearn.ensemble.RandomForestClassifier")
    try:
        return cls(**cfg.params)
    except TypeError as exc:
        raise ConfigError(f"`model.params`: {exc}", file=config_file, line=line) from None


def _with_preprocessing(estimator, features: pd.DataFrame):
    from sklearn.base import is_classifier, is_regressor
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    if isinstance(estimator, Pipeline) or not (is_classifier(estimator) or is_regressor(estimator)):
        return estimator
    numeric = [c for c in features.columns if pd.api.types.is_numeric_dtype(features[c])]
    categorical = [c for c in features.columns if c not in numeric]
    pre = ColumnTransformer([
        ("num", SimpleImputer(strategy="median"), numeric),
        ("cat", make_pipeline(SimpleImputer(strategy="most_frequent"),
                              OneHotEncoder(handle_unknown="ignore", sparse_output=False)), categorical),
    ])
    return Pipeline([("preprocess", pre), ("estimator", estimator)])


def train_and_evaluate(frame: pd.DataFrame, label: str, cfg: ModelConfig, estimator, positive=1) -> TrainResult:
    """Split with ``cfg.seed`` (stratified for classification), fit, and compute holdout metrics."""
    from sklearn.model_selection import train_test_split

    if label not in frame.columns:
        raise DataError(f"label column `{label}` is not in the data", hint="set `data.label` in aicd.yml")
    frame = frame[frame[label].notna()]
    x, y = frame.drop(columns=[label]), frame[label]
    classification = cfg.task == "classification"
    stratify = y if classification and y.value_counts().min() >= 2 else None
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=cfg.test_size, random_state=cfg.seed, stratify=stratify)
    model = _with_preprocessing(estimator, x)
    try:
        model.fit(x_train, y_train)
    except ValueError as exc:
        raise DataError(f"training failed: {str(exc).splitlines()[0]}",
                        hint="check the label and feature columns against `model.task`") from None
    predicted = model.predict(x_test)
    if classification:
        score = _positive_score(model, x_test, positive)
        metrics = classification_metrics(y_test.to_numpy(), predicted, score, positive)
    else:
        metrics = regression_metrics(y_test.to_numpy(), predicted)
    holdout = x_test.assign(**{label: y_test})
    return TrainResult(model, {k: round(float(v), 6) for k, v in metrics.items()}, list(x.columns),
                       {c: _kind(x[c]) for c in x.columns}, _classes(model), len(x_train), len(x_test), holdout)


def _positive_score(model, x: pd.DataFrame, positive) -> np.ndarray | None:
    classes = _classes(model)
    if not hasattr(model, "predict_proba") or len(classes) != 2 or positive not in classes:
        return None
    return model.predict_proba(x)[:, classes.index(positive)]


def _classes(model) -> list:
    classes = getattr(model, "classes_", None)
    return [c.item() if hasattr(c, "item") else c for c in classes] if classes is not None else []


def _kind(series: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(series):
        return "bool"
    if pd.api.types.is_integer_dtype(series):
        return "int"
    if pd.api.types.is_float_dtype(series):
        return "float"
    return "str"
