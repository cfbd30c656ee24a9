"""Build, fit and evaluate the configured model on a seeded holdout (no registry, no Actions I/O).

The model comes from ``model.estimator`` (an import path of an estimator, Pipeline or factory,
called with ``model.params``) or from ``model.entrypoint`` (``module:function`` in the user's
repository, called as ``function(x_train, y_train, params)`` and returning a fitted estimator). A
bare estimator gets automatic preprocessing (median-impute numbers; strings as ordinal codes for
gradient boosting, a missing one -1, else imputed and one-hot encoded), so the fitted object is one
Pipeline taking the raw feature columns. The same data,
config and seed give the same split and, for seeded estimators, the same metrics.
"""

from __future__ import annotations

import difflib
import importlib
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..config import DecisionThreshold, ModelConfig, SliceConfig, SplitConfig
from ..dates import part_names
from ..decision import decide
from ..errors import ConfigError, DataError, EntrypointFailed
from .estimators import EstimatorRefused, resolve_estimator
from .features import SPARSE_WIDTH, FeaturePlan, plan_features
from .metrics import classification_metrics, regression_metrics
from .threshold import choose_threshold

__all__ = ["Evaluation", "SliceResult", "TrainResult", "build_estimator", "evaluate", "load_entrypoint", "split",
           "train_and_evaluate", "with_preprocessing"]


@dataclass
class Evaluation:
    """A model's answers on the holdout, enough to recompute any metric on any subset of rows."""

    task: str
    y_true: np.ndarray
    y_pred: np.ndarray
    proba: np.ndarray | None = None
    classes: list = field(default_factory=list)
    positive: object = 1
    threshold: float | None = None  # the decision threshold the predictions were made at (binary only)

    def metrics(self, rows: np.ndarray | None = None) -> dict[str, float]:
        pick = (lambda a: a) if rows is None else (lambda a: a[rows])
        if self.task == "regression":
            return regression_metrics(pick(self.y_true), pick(self.y_pred))
        proba = pick(self.proba) if self.proba is not None else None
        return classification_metrics(pick(self.y_true), pick(self.y_pred), proba, self.classes, self.positive)


@dataclass(frozen=True)
class SliceResult:
    column: str
    value: str
    rows: int
    metrics: dict[str, float]
    thresholds: dict[str, float]
    gated: bool  # False when the slice is smaller than its min-rows


@dataclass
class TrainResult:
    model: object
    metrics: dict[str, float]
    evaluation: Evaluation
    features: list[str]
    feature_types: dict[str, str]
    classes: list
    n_train: int
    n_test: int
    holdout: pd.DataFrame
    slices: list[SliceResult]
    notes: list[str] = field(default_factory=list)  # which columns were left out or capped, and why
    seconds: dict[str, float] = field(default_factory=dict)  # "fit" (the estimator's) and "evaluate"


QUIET = {"lightgbm": {"verbosity": -1}}  # LightGBM prints a line per fit and per warning to stdout otherwise


def build_estimator(cfg: ModelConfig, config_file: str = "aicd.yml", lines: Mapping[str, int] | None = None):
    """The estimator ``cfg.estimator`` names, made with ``cfg.params`` — only after
    :func:`aicd.model.estimators.resolve_estimator` has accepted both (config never runs code)."""
    lines = lines or {}
    try:
        estimator_class = resolve_estimator(cfg.estimator, cfg.params, cfg.estimator_modules)
    except EstimatorRefused as exc:
        line = lines.get(exc.key) or lines.get("model.params") or lines.get("model.estimator")
        raise ConfigError(f"`{exc.key}`: {exc.message}", file=config_file, line=line, hint=exc.hint) from None
    quiet = QUIET.get(estimator_class.__module__.split(".")[0], {})  # unless the params say otherwise
    try:
        estimator = estimator_class(**{**quiet, **cfg.params})
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"`model.params`: {exc}", file=config_file, line=lines.get("model.params")) from None
    _check_task(estimator, cfg, config_file, lines)
    return estimator


def _check_task(estimator, cfg: ModelConfig, config_file: str, lines: Mapping[str, int]) -> None:
    from sklearn.base import is_classifier, is_regressor

    kind = "regression" if is_regressor(estimator) else "classification" if is_classifier(estimator) else None
    if kind is None:
        raise ConfigError(f"`model.estimator`: {type(estimator).__name__} is neither a classifier nor a regressor",
                          file=config_file, line=lines.get("model.estimator"),
                          hint="name a supervised estimator, or train your own with `model.entrypoint`")
    if kind != cfg.task:
        raise ConfigError(f"`model.task` is {cfg.task} but {type(estimator).__name__} does {kind}",
                          file=config_file, line=lines.get("model.task") or lines.get("model.estimator"),
                          hint=f"set `model.task: {kind}` or pick a {cfg.task} estimator")


def load_entrypoint(spec: str, workdir: str, config_file: str = "aicd.yml", line: int | None = None):
    """Import ``module:function`` from the user's repository (``workdir`` goes first on sys.path)."""
    module_name, _, function_name = spec.partition(":")
    if workdir not in sys.path:  # last, so the repository's modules never shadow installed ones
        sys.path.append(workdir)
    _check_in_repository(module_name, workdir, spec, config_file, line)
    try:
        function = getattr(importlib.import_module(module_name), function_name)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"`model.entrypoint`: cannot import {spec!r} ({exc})", file=config_file, line=line,
                          hint="give module:function of a file in the repository") from None
    except (Exception, SystemExit) as exc:  # the module's own top-level code failed: the user's code
        raise EntrypointFailed(f"`model.entrypoint`: importing {module_name} raised {type(exc).__name__}: "
                               f"{str(exc).splitlines()[0] if str(exc) else ''}".rstrip(": "),
                               hint="fix that module in your repository") from None
    if not callable(function):
        raise ConfigError(f"`model.entrypoint`: {spec!r} is not a function", file=config_file, line=line)
    return function


def _fit_estimator(model, x_train: pd.DataFrame, y_train: pd.Series) -> None:
    """The configured estimator's fit; what it raises is about the parameters or the data it was
    given (scikit-learn checks both as it fits), so it is the user's to fix, in one line."""
    try:
        model.fit(x_train, y_train)
    except (ValueError, TypeError, ArithmeticError, IndexError, KeyError, AttributeError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if type(exc).__name__ == "InvalidParameterError" or isinstance(exc, (TypeError, AttributeError)):
            estimator = model.steps[-1][1] if hasattr(model, "steps") else model
            raise ConfigError(f"`model.params`: fitting {type(estimator).__name__} failed: {first}",
                              hint="fix the parameters in aicd.yml") from None
        raise DataError(f"training failed: {first}",
                        hint="check the label and feature columns against `model.task`") from None


def _run_entrypoint(entrypoint, cfg: ModelConfig, x_train: pd.DataFrame, y_train: pd.Series):
    """The user's own code: whatever it raises or returns wrong is reported as theirs, in one line."""
    try:
        model = entrypoint(x_train, y_train, dict(cfg.params))
    except (Exception, SystemExit) as exc:  # SystemExit too: the user's exit() must not end aicd silently
        detail = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}".rstrip(": ")
        raise EntrypointFailed(f"`model.entrypoint` {cfg.entrypoint} raised {detail}",
                               hint="fix that function in your repository (run it locally to see the traceback)"
                               ) from None
    if not (callable(getattr(model, "predict", None))):
        raise EntrypointFailed(f"`model.entrypoint` {cfg.entrypoint} returned {type(model).__name__}, "
                               "not a fitted estimator", hint="return the fitted model (an object with predict)")
    _check_returned(model, cfg)
    return model


def _check_returned(model, cfg: ModelConfig) -> None:
    from sklearn.base import is_classifier, is_regressor
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    try:
        check_is_fitted(model)
    except NotFittedError:
        raise EntrypointFailed(f"`model.entrypoint` {cfg.entrypoint} returned an unfitted "
                               f"{type(model).__name__}", hint="call fit before returning the model") from None
    except TypeError:  # not a scikit-learn estimator: its predictions will tell
        return
    kind = "regression" if is_regressor(model) else "classification" if is_classifier(model) else cfg.task
    if kind != cfg.task:
        raise EntrypointFailed(f"`model.entrypoint` {cfg.entrypoint} returned a {kind} model "
                               f"({type(model).__name__}) but `model.task` is {cfg.task}",
                               hint=f"return a {cfg.task} model, or set `model.task: {kind}`")


def _check_in_repository(module_name: str, workdir: str, spec: str, config_file: str, line: int | None) -> None:
    """The entrypoint's module must be a file of the repository (found before anything is run)."""
    import importlib.util
    from pathlib import Path

    try:
        found = importlib.util.find_spec(module_name.split(".")[0])
    except (ImportError, ValueError):
        found = None
    has_file = found is not None and found.has_location and found.origin and Path(found.origin).is_file()
    origin = Path(found.origin).resolve() if has_file else None  # frozen and built-in modules have no file
    if origin is None or not origin.is_relative_to(Path(workdir).resolve()):
        raise ConfigError(f"`model.entrypoint`: {spec!r} is not a function of a module in the repository",
                          file=config_file, line=line,
                          hint=f"put the module in {workdir} (the workspace) and name it module:function")


def with_preprocessing(estimator, features: pd.DataFrame, plan: FeaturePlan | None = None):
    """``estimator`` behind the encoding of :mod:`aicd.model.features` (a Pipeline or anything that
    is not a classifier or regressor is returned as it is)."""
    from sklearn.base import is_classifier, is_regressor
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline, make_pipeline

    if isinstance(estimator, Pipeline) or not (is_classifier(estimator) or is_regressor(estimator)):
        return estimator
    plan = plan or plan_features(features, features.columns)
    categorical = list(plan.categorical)
    encoder, sparse = _encoder(estimator, [plan.levels[c] for c in categorical])
    dates = list(plan.dates)
    numeric = SimpleImputer(strategy="median")
    if not _is_trees(estimator):  # linear models and neighbours need comparable scales; trees do not care
        from sklearn.preprocessing import StandardScaler

        numeric = make_pipeline(numeric, StandardScaler())
    if not _codes(encoder):  # one-hot: a missing level is imputed; ordinal codes give it -1, as a level not kept
        encoder = make_pipeline(SimpleImputer(strategy="most_frequent"), encoder)
    pre = ColumnTransformer([
        ("num", numeric, [*plan.numeric, *(p for d in dates for p in part_names(d))]),
        ("cat", encoder, categorical),
    ], sparse_threshold=0.3 if sparse else 0.0)
    if dates:  # imported here: a scikit-learn estimator, and the step imports scikit-learn only to fit
        from ..dateparts import DateParts
    steps = [("dates", DateParts(tuple(dates)))] if dates else []  # first: the server expands dates the same way
    return Pipeline([*steps, ("preprocess", pre), ("estimator", estimator)])


GRADIENT_BOOSTING = ("HistGradientBoostingClassifier", "HistGradientBoostingRegressor", "XGBClassifier",
                     "XGBRegressor", "LGBMClassifier", "LGBMRegressor")


def _encoder(estimator, levels: list[list[str]]):
    """Ordinal codes for gradient boosting (trees split on them; a level not kept is -1), else
    one-hot columns of the kept levels (others are all zeros), and whether the output may stay
    sparse: only when the estimator takes sparse input and the matrix is wide."""
    from sklearn.preprocessing import OneHotEncoder

    if type(estimator).__name__ in GRADIENT_BOOSTING:
        from ..levelcodes import LevelCodes

        return LevelCodes(categories=levels or "auto", handle_unknown="use_encoded_value", unknown_value=-1,
                          dtype=np.float64), False
    width = sum(len(kept) for kept in levels)
    return OneHotEncoder(categories=levels or "auto", handle_unknown="ignore",
                         sparse_output=True), width > SPARSE_WIDTH and _takes_sparse(estimator)


def _codes(encoder) -> bool:
    """Whether ``encoder`` gives ordinal codes: it needs no imputer in front, since a missing value is
    outside its explicit levels and is coded -1 like a level not kept (so does the exported graph, whose
    missing string is "", no level either) — imputing 800,000 rows of strings cost 2.9 s of a 4.8 s
    encoding, and a missing level is something the trees can split on."""
    return type(encoder).__name__ == "LevelCodes"


def _is_trees(estimator) -> bool:
    name = type(estimator).__name__
    return any(word in name for word in ("Tree", "Forest", "Boosting", "XGB", "LGBM"))


def _takes_sparse(estimator) -> bool:
    try:
        from sklearn.utils import get_tags

        return bool(get_tags(estimator).input_tags.sparse)
    except (ImportError, AttributeError):  # scikit-learn before 1.6 has no tags: dense is always safe
        return False


def split(frame: pd.DataFrame, label: str, cfg: ModelConfig) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(train, test) rows by ``cfg.split``; seeded, so the same input always gives the same cut."""
    s: SplitConfig = cfg.split
    if s.kind != "random" and s.column not in frame.columns:
        raise DataError(f"split column `{s.column}` is not in the data", hint="fix `model.split.column` in aicd.yml")
    if s.kind == "time":
        ordered = frame.sort_values(s.column, kind="mergesort")
        cut = len(ordered) - max(1, round(len(ordered) * cfg.test_size))
        return ordered.iloc[:cut], ordered.iloc[cut:]
    if s.kind == "group":
        from sklearn.model_selection import GroupShuffleSplit

        train_idx, test_idx = next(GroupShuffleSplit(1, test_size=cfg.test_size, random_state=cfg.seed)
                                   .split(frame, groups=frame[s.column]))
        return frame.iloc[train_idx], frame.iloc[test_idx]
    from sklearn.model_selection import train_test_split

    y = frame[label]
    stratify = y if cfg.task == "classification" and y.value_counts().min() >= 2 else None
    return train_test_split(frame, test_size=cfg.test_size, random_state=cfg.seed, stratify=stratify)


def evaluate(model, x: pd.DataFrame, y: pd.Series, task: str, positive=1, threshold: float | None = None) -> Evaluation:
    """Predict the holdout once; metrics of any subset are computed from this. A binary model's
    ``threshold`` turns its positive-class probability into the label, as the server does."""
    model, x = _transformed(model, x)
    if task == "regression":
        return Evaluation(task, y.to_numpy(dtype=float), np.asarray(model.predict(x)).astype(float))
    classes = _classes(model)
    proba = np.asarray(model.predict_proba(x)) if hasattr(model, "predict_proba") and classes else None
    predicted = _labels(model, x, proba, classes)
    if threshold is not None and proba is not None:
        predicted = np.asarray(decide(proba, classes, positive, threshold), dtype=predicted.dtype)
    return Evaluation(task, y.to_numpy(), predicted, proba, classes, positive, threshold)


# classifiers whose predict is the most probable class of predict_proba (the trees' share of votes or
# an increasing function of the same raw score): their labels come from the probabilities, which
# saves predicting the holdout twice (a second of a million-row train stage)
ARGMAX_OF_PROBA = ("sklearn.ensemble._forest.", "sklearn.ensemble._hist_gradient_boosting.", "sklearn.ensemble._gb.",
                   "sklearn.tree.", "sklearn.linear_model._logistic.", "xgboost.sklearn.", "lightgbm.sklearn.")
NEAR_TIE = 1e-9  # top two probabilities this close: the estimator's own predict breaks the tie


def _labels(model, x, proba: np.ndarray | None, classes: list) -> np.ndarray:
    """The holdout's labels as ``model.predict`` gives them. For the estimators of ``ARGMAX_OF_PROBA``
    they are read off ``proba``, except near ties (within ``NEAR_TIE``), where predict's own rule
    (``raw > 0`` or ``>= 0``) may differ from the first maximum: those rows are predicted."""
    kind = f"{type(model).__module__}.{type(model).__qualname__}"
    if proba is None or proba.ndim != 2 or proba.shape[1] != len(classes) or not kind.startswith(ARGMAX_OF_PROBA):
        return np.asarray(model.predict(x))
    labels = np.asarray(classes)[np.argmax(proba, axis=1)]
    top = np.sort(proba, axis=1)[:, -2:] if proba.shape[1] > 1 else np.zeros((len(proba), 2))
    near = np.flatnonzero(top[:, 1] - top[:, 0] <= NEAR_TIE)
    if near.size:
        labels[near] = np.asarray(model.predict(x.iloc[near] if hasattr(x, "iloc") else x[near]))
    return labels


def _transformed(model, x: pd.DataFrame):
    """(final estimator, ``x`` through the pipeline's transformers) for a Pipeline, so predicting
    labels and probabilities encodes the rows once; anything else as it is."""
    from sklearn.pipeline import Pipeline

    if isinstance(model, Pipeline) and len(model.steps) > 1:
        return model.steps[-1][1], model[:-1].transform(x)
    return model, x


def labelled_rows(frame: pd.DataFrame, label: str, cfg: ModelConfig) -> tuple[pd.DataFrame, int]:
    """The rows that have a label, and how many were dropped for lacking one. Refuses (DataError)
    rows without a label beyond ``model.max-missing-label-ratio`` (none by default), and a label
    with fewer than two classes (classification) or a single value (regression)."""
    if label not in frame.columns:
        guess = difflib.get_close_matches(label, [str(c) for c in frame.columns], n=1)
        shown = ", ".join(f"`{c}`" for c in list(frame.columns)[:8]) + (", ..." if len(frame.columns) > 8 else "")
        raise DataError(f"label column `{label}` (data.label) is not in the data, whose columns are {shown}",
                        hint=f"did you mean `{guess[0]}`?" if guess else
                        "check that this is the training data, or set `data.label` to one of its columns")
    missing = int(frame[label].isna().sum())
    if missing and missing / len(frame) > cfg.max_missing_label_ratio:
        allowed = f" (model.max-missing-label-ratio allows {cfg.max_missing_label_ratio:.1%})" \
            if cfg.max_missing_label_ratio else ""
        raise DataError(f"label `{label}` is missing in {missing:,} of {len(frame):,} rows "
                        f"({missing / len(frame):.1%}){allowed}",
                        hint="fill in the labels, or allow dropping such rows with `model.max-missing-label-ratio`")
    labelled = frame[frame[label].notna()] if missing else frame
    if missing and _integral(labelled[label]):  # blanks made pandas read 0/1 as floats: the labels are ints
        labelled = labelled.assign(**{label: labelled[label].astype("int64")})
    if cfg.task == "regression" and not pd.api.types.is_numeric_dtype(labelled[label]):
        raise DataError(f"label `{label}` is {labelled[label].dtype}, but a regression label must be numeric",
                        hint="set `model.task: classification`, or train on a numeric label")
    values = labelled[label].nunique()
    if values < 2:
        only = f" ({str(labelled[label].iloc[0])!r})" if values else ""
        what = "class" if cfg.task == "classification" else "value"
        raise DataError(f"label `{label}` has a single {what}{only} in {len(labelled):,} rows: there is nothing "
                        f"to learn" if values else f"label `{label}` has no values", hint="check the label column")
    return labelled, missing


def _evaluated(model, x: pd.DataFrame, y: pd.Series, cfg: ModelConfig, positive, users: bool,
               threshold: float | None = None) -> Evaluation:
    """The holdout evaluation; a model from the user's entrypoint failing to predict is theirs to fix."""
    if not users:
        return evaluate(model, x, y, cfg.task, positive, threshold)
    try:
        return evaluate(model, x, y, cfg.task, positive, threshold)
    except Exception as exc:
        first = str(exc).splitlines()[0] if str(exc) else ""
        raise EntrypointFailed(f"the model `model.entrypoint` {cfg.entrypoint} returned failed to predict the "
                               f"holdout: {type(exc).__name__}: {first}".rstrip(": "),
                               hint="it must predict from the same feature columns it was given") from None


def _integral(series: pd.Series) -> bool:
    return pd.api.types.is_float_dtype(series) and bool(np.all(np.mod(series.to_numpy(), 1) == 0))


def train_and_evaluate(frame: pd.DataFrame, label: str, cfg: ModelConfig, estimator=None, entrypoint=None,
                       positive=1, declared: tuple[str, ...] = (), after_fit=None) -> TrainResult:
    """Split, fit (``estimator`` or the user's ``entrypoint``), evaluate; holdout metrics and slices.
    ``frame`` holds labelled rows only (see :func:`labelled_rows`). A bare estimator's features are
    chosen by :func:`aicd.model.features.plan_features` (``declared`` columns are never left out);
    an entrypoint gets every column but the label, the dropped and the split column.
    ``after_fit(model, holdout, feature_types)``, when given, is called once the model is fitted and
    before the holdout is evaluated (the train stage starts its ONNX export there, beside the evaluation)."""
    frame, _ = labelled_rows(frame, label, cfg)
    train, test = split(frame, label, cfg)
    not_features = {label, *cfg.drop_columns, *([cfg.split.column] if cfg.split.column else [])}
    candidates = [c for c in frame.columns if c not in not_features]
    plan = plan_features(train, candidates, declared, cfg.max_levels) if entrypoint is None else None
    features = plan.features if plan is not None else candidates
    if not features:
        raise DataError("no feature columns are left to train on", hint="; ".join(plan.notes()) if plan else "")
    from sklearn.base import clone

    def fit(rows: pd.DataFrame):
        if entrypoint is not None:
            return _run_entrypoint(entrypoint, cfg, rows[features], rows[label])
        model = with_preprocessing(clone(estimator), rows[features], plan)
        _fit_estimator(model, rows[features], rows[label])
        return model

    fit_started = time.monotonic()
    model = fit(train)
    seconds = {"fit": time.monotonic() - fit_started}
    notes = plan.notes() if plan is not None else []
    threshold = None
    if cfg.decision_threshold is not None:
        chosen_started = time.monotonic()
        threshold, note = _decision_threshold(fit, model, train, features, label, cfg, positive)
        seconds["fit"] += time.monotonic() - chosen_started  # its own fit on four fifths, and scoring the fifth
        notes.append(note)
    dates = set(plan.dates) if plan is not None else set()
    types = {c: "datetime" if c in dates else _kind(frame[c]) for c in features}
    if after_fit is not None:
        after_fit(model, test, types)
    evaluate_started = time.monotonic()
    evaluation = _evaluated(model, test[features], test[label], cfg, positive, entrypoint is not None, threshold)
    metrics = _rounded(evaluation.metrics())
    seconds["evaluate"] = time.monotonic() - evaluate_started
    return TrainResult(model, metrics, evaluation, features, types,
                       _classes(model), len(train), len(test), test, _slices(test, evaluation, cfg.slices), notes,
                       seconds)


def _decision_threshold(fit, model, train: pd.DataFrame, features: list[str], label: str, cfg: ModelConfig,
                        positive) -> tuple[float, str]:
    """The binary decision threshold by ``model.decision-threshold``: a fixed one as given, else chosen
    on validation rows carved from the training rows (never the holdout the gate judges) by a model
    fitted on the rest; the registered model itself is fitted on all training rows."""
    rule: DecisionThreshold = cfg.decision_threshold
    classes = _classes(model)
    if len(classes) != 2 or positive not in classes or not hasattr(model, "predict_proba"):
        raise DataError(f"`model.decision-threshold` needs a binary classifier with probabilities whose classes "
                        f"include data.positive ({positive!r}); this one has classes {classes}",
                        hint="remove model.decision-threshold, or set data.positive to one of the classes")
    if rule.rule == "fixed":
        return rule.value, (f"decision threshold {rule.value:g} (fixed): {positive!r} when its probability "
                            "is at least it")
    from sklearn.model_selection import train_test_split

    stratify = train[label] if train[label].value_counts().min() >= 2 else None
    fit_rows, validation = train_test_split(train, test_size=VALIDATION_SHARE, random_state=cfg.seed,
                                            stratify=stratify)
    scorer = fit(fit_rows)
    scores = np.asarray(scorer.predict_proba(validation[features]))[:, _classes(scorer).index(positive)]
    choice = choose_threshold(validation[label].to_numpy() == positive, scores, rule.rule, rule.value)
    best = choice.precision if rule.rule == "precision" else choice.recall
    goal = "maximises F1" if rule.rule == "f1" else f"{rule.rule} at least {rule.value:g}" + (
        "" if choice.met else f", not reached: the best is {best:.3f}")
    return choice.threshold, (f"decision threshold {choice.threshold:.4g} ({goal}; precision {choice.precision:.3f}, "
                              f"recall {choice.recall:.3f} on {len(validation):,} validation rows carved from the "
                              "training rows)")


VALIDATION_SHARE = 0.2


def _slices(test: pd.DataFrame, evaluation: Evaluation, specs: tuple[SliceConfig, ...]) -> list[SliceResult]:
    out = []
    for spec in specs:
        if spec.column not in test.columns:
            raise DataError(f"slice column `{spec.column}` is not in the data",
                            hint="fix `model.slices` in aicd.yml")
        column = test[spec.column]
        values = np.where(column.isna(), "(missing)", column.astype(str)).astype(str)
        for value in sorted(set(values)):
            rows = np.nonzero(values == value)[0]
            out.append(SliceResult(spec.column, value, len(rows), _rounded(evaluation.metrics(rows)),
                                   spec.thresholds, len(rows) >= spec.min_rows))
    return out


def _rounded(metrics: dict[str, float]) -> dict[str, float]:
    return {k: round(float(v), 6) for k, v in metrics.items()}


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
