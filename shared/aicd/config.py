"""The ``aicd.yml`` schema: one typed object per gate, with errors that point at file and line.

Unknown keys are errors (a typo must not silently fall back to a default), types are checked,
and every default below is the story's default and documented in the README. Keys are
kebab-case like the action inputs.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .config_deploy import DeployConfig, parse_deploy
from .config_monitor import MonitorConfig, parse_monitor
from .data.drift import METHODS
from .errors import ConfigError
from .model.metrics import CLASSIFICATION as CLASSIFICATION_METRICS
from .model.metrics import HIGHER_IS_BETTER
from .model.metrics import RANGES as METRIC_RANGES
from .model.metrics import REGRESSION as REGRESSION_METRICS

__all__ = ["ColumnSpec", "CompareConfig", "Config", "DataConfig", "DriftConfig", "DriftOverride", "ModelConfig",
           "MonitorConfig",
           "SliceConfig", "SplitConfig", "load_config", "parse_config"]

DTYPES = ("int", "float", "bool", "str", "category")
DRIFT_METHODS = ("auto", *METHODS)  # auto picks per column (aicd.data.drift.choose_method)


@dataclass(frozen=True)
class ColumnSpec:
    name: str
    dtype: str | None = None
    nullable: bool = True
    min: float | None = None
    max: float | None = None
    allowed: tuple[Any, ...] | None = None
    regex: str | None = None
    expect: str | None = None
    line: int | None = None


@dataclass(frozen=True)
class DriftOverride:
    method: str | None = None
    threshold: float | None = None


@dataclass(frozen=True)
class DriftConfig:
    """``method: auto`` picks per column by type and size (as Evidently's defaults do): KS (numeric)
    and chi-square (categorical) p-values below 0.05 up to 1,000 rows; above that normed
    Wasserstein (numeric) and Jensen-Shannon distance (categorical) above 0.1. ``threshold`` is
    then the default for the chosen method unless set."""

    reference: str | None = None
    method: str = "auto"
    threshold: float | None = None
    bins: int = 10
    share: float = 0.5
    sample_rows: int = 100_000
    columns: dict[str, DriftOverride] = field(default_factory=dict)


@dataclass(frozen=True)
class DataConfig:
    label: str | None = None
    positive: Any = 1
    max_missing_ratio: float = 0.05
    min_positive_share: float = 0.30
    delimiter: str = ","  # CSV field separator
    columns: tuple[ColumnSpec, ...] = ()
    drift: DriftConfig = field(default_factory=DriftConfig)
    max_missing_total: float | None = None
    keys: tuple[str, ...] = ()
    max_duplicate_rows: int | None = None
    min_rows: int | None = None
    max_rows: int | None = None
    max_row_change: float | None = None
    freshness_column: str | None = None
    freshness_max_age_hours: float | None = None


@dataclass(frozen=True)
class SplitConfig:
    """How the holdout is cut: ``random`` (stratified for classification), ``group`` (no value of
    ``column`` on both sides: no user leaks into the holdout) or ``time`` (the latest rows by
    ``column`` are the holdout). The split column is not a feature."""

    kind: str = "random"
    column: str | None = None


@dataclass(frozen=True)
class SliceConfig:
    """Metrics per value of ``column`` on the holdout, each gated by ``thresholds`` when the slice
    has at least ``min-rows`` rows."""

    column: str
    thresholds: dict[str, float] = field(default_factory=dict)
    min_rows: int = 30


@dataclass(frozen=True)
class CompareConfig:
    """Champion/challenger: a paired bootstrap interval of candidate minus champion per metric."""

    metrics: tuple[str, ...] = ()  # empty: the metrics that have thresholds
    margin: float = 0.01
    require_improvement: bool = False
    resamples: int = 1000
    confidence: float = 0.95


DEFAULT_ESTIMATOR = "sklearn.ensemble.RandomForestClassifier"
DEFAULT_PARAMS = {"n_estimators": 100, "random_state": 0}  # the default estimator's, and only its


@dataclass(frozen=True)
class ModelConfig:
    name: str = "model"
    estimator: str = DEFAULT_ESTIMATOR
    entrypoint: str | None = None
    params: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_PARAMS))
    estimator_modules: tuple[str, ...] = ()  # top-level packages allowed besides scikit-learn
    max_missing_label_ratio: float = 0.0  # rows without a label refuse training unless this share allows dropping
    task: str = "classification"
    test_size: float = 0.2
    seed: int = 42
    thresholds: dict[str, float] = field(default_factory=lambda: {"accuracy": 0.9})
    split: SplitConfig = field(default_factory=SplitConfig)
    drop_columns: tuple[str, ...] = ()
    slices: tuple[SliceConfig, ...] = ()
    compare: CompareConfig = field(default_factory=CompareConfig)


@dataclass(frozen=True)
class Config:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    monitor: MonitorConfig = field(default_factory=MonitorConfig)
    deploy: DeployConfig = field(default_factory=DeployConfig)
    file: str = "aicd.yml"
    lines: dict[str, int] = field(default_factory=dict, repr=False)

    def line_of(self, path: str) -> int | None:
        """The line of a dotted key path such as ``data.columns.age.min``, if it was in the file."""
        return self.lines.get(path)


def load_config(path: str | Path | None) -> Config:
    """Read and validate ``aicd.yml``; ``None`` or an empty path gives the all-defaults config."""
    if not path:
        return Config(file="(defaults)")
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("config file not found", file=file, hint="check the `config` input path") from None
    except IsADirectoryError:
        raise ConfigError("is a directory, not a config file", file=file, hint="name the aicd.yml file") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"is not UTF-8 text (byte {exc.start})", file=file,
                          hint="the config must be a YAML text file") from None
    except OSError as exc:
        raise ConfigError(f"cannot read config: {exc.strerror}", file=file) from None
    return parse_config(text, file)


def parse_config(text: str, file: str = "aicd.yml") -> Config:
    lines: dict[str, int] = {}
    try:  # composing, then constructing only plain values: a tag such as !!python/name is a YAML error
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        raw = _to_python(node, "", lines) if node is not None else {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else None
        problem = getattr(exc, "problem", None) or (str(exc) if type(exc) is yaml.YAMLError else "invalid YAML")
        raise ConfigError(f"invalid YAML: {problem}", file=file, line=line) from None
    reader = _Reader(file, lines)
    root = reader.mapping(raw, "", {"data", "model", "monitor", "deploy"})
    return Config(
        data=_data(reader, root.get("data", {})),
        model=_model(reader, root.get("model", {})),
        monitor=parse_monitor(reader, root.get("monitor", {})),
        deploy=parse_deploy(reader, root.get("deploy", {})),
        file=file,
        lines=lines,
    )


def _to_python(node: yaml.Node, path: str, lines: dict[str, int]) -> Any:
    """Turn a composed YAML node into plain data, recording the line of each key path. Keys are
    text, except inside ``model.params``, where they keep their YAML type (``class_weight: {0: 1}``
    means the class 0, not the text "0")."""
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        out = {}
        typed = path.startswith("model.params.")
        for key_node, value_node in node.value:
            key = _typed_key(key_node) if typed else str(key_node.value)
            child = f"{path}.{key}" if path else key
            if key in out:  # YAML would keep the last silently: the first setting would be lost unseen
                again = key_node.start_mark.line + 1
                raise yaml.YAMLError(f"`{child}` is set twice (lines {lines[child]} and {again})")
            lines[child] = key_node.start_mark.line + 1
            out[key] = _to_python(value_node, child, lines)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_to_python(v, f"{path}[{i}]", lines) for i, v in enumerate(node.value)]
    return yaml.constructor.SafeConstructor().construct_object(node, deep=True)


class _Reader:
    """Typed access to the raw mapping that raises ConfigError at the offending line."""

    def __init__(self, file: str, lines: dict[str, int]):
        self.file, self.lines = file, lines

    def fail(self, path: str, message: str, hint: str = "") -> ConfigError:
        return ConfigError(f"`{path}`: {message}", file=self.file, line=self.lines.get(path), hint=hint)

    def mapping(self, value: Any, path: str, allowed: set[str] | None = None) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self.fail(path or "(top level)", f"must be a mapping, got {_kind(value)}")
        for key in value:
            if allowed is not None and key not in allowed:
                guess = difflib.get_close_matches(key, sorted(allowed), n=1)
                hint = f"did you mean `{guess[0]}`?" if guess else f"known keys: {', '.join(sorted(allowed))}"
                raise self.fail(_join(path, key), "unknown key", hint)
        return value

    def number(self, m: dict, path: str, key: str, default: float, *, low: float | None = None,
               high: float | None = None, integer: bool = False) -> Any:
        if key not in m or m[key] is None:
            return default
        value, where = m[key], _join(path, key)
        ok = isinstance(value, int) if integer else isinstance(value, (int, float))
        if isinstance(value, bool) or not ok:
            raise self.fail(where, f"must be {'an integer' if integer else 'a number'}, got {_kind(value)} {value!r}")
        if not math.isfinite(value):  # .nan compares false with everything: it would switch the rule off
            raise self.fail(where, f"must be a finite number, got {value!r}")
        if (low is not None and value < low) or (high is not None and value > high):
            bounds = f"between {low} and {high}" if low is not None and high is not None else \
                f"at least {low}" if low is not None else f"at most {high}"
            raise self.fail(where, f"must be {bounds}, got {value}")
        return value

    def strings(self, m: dict, path: str, key: str) -> list[str]:
        values = self.sequence(m, path, key)
        if not all(isinstance(v, str) for v in values):
            raise self.fail(_join(path, key), "must be a list of strings")
        return values

    def sequence(self, m: dict, path: str, key: str) -> list:
        value = m.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.fail(_join(path, key), f"must be a list, got {_kind(value)}")
        return value

    def text(self, m: dict, path: str, key: str, default: str | None, choices: tuple[str, ...] = ()) -> Any:
        if key not in m or m[key] is None:
            return default
        value, where = m[key], _join(path, key)
        if not isinstance(value, str):
            raise self.fail(where, f"must be a string, got {_kind(value)} {value!r}")
        if choices and value not in choices:
            raise self.fail(where, f"must be one of {', '.join(choices)}, got {value!r}")
        return value


def _data(r: _Reader, raw: Any) -> DataConfig:
    keys = {"label", "positive", "max-missing-ratio", "min-positive-share", "columns", "drift", "max-missing-total",
            "delimiter",
            "keys", "max-duplicate-rows", "min-rows", "max-rows", "max-row-change", "freshness"}
    m = r.mapping(raw, "data", keys)
    fresh = r.mapping(m.get("freshness"), "data.freshness", {"column", "max-age-hours"})
    if fresh and not fresh.get("column"):
        raise r.fail("data.freshness", "needs `column` (a timestamp column) and `max-age-hours`")
    return DataConfig(
        max_missing_total=r.number(m, "data", "max-missing-total", None, low=0, high=1),
        keys=tuple(r.strings(m, "data", "keys")),
        max_duplicate_rows=r.number(m, "data", "max-duplicate-rows", None, low=0, integer=True),
        min_rows=r.number(m, "data", "min-rows", None, low=0, integer=True),
        max_rows=r.number(m, "data", "max-rows", None, low=0, integer=True),
        max_row_change=r.number(m, "data", "max-row-change", None, low=0),
        freshness_column=r.text(fresh, "data.freshness", "column", None),
        freshness_max_age_hours=r.number(fresh, "data.freshness", "max-age-hours", None, low=0),
        label=r.text(m, "data", "label", None),
        positive=m.get("positive", 1),
        max_missing_ratio=r.number(m, "data", "max-missing-ratio", 0.05, low=0, high=1),
        min_positive_share=r.number(m, "data", "min-positive-share", 0.30, low=0, high=1),
        delimiter=_delimiter(r, m),
        columns=tuple(_column(r, name, spec) for name, spec in r.mapping(m.get("columns"), "data.columns").items()),
        drift=_drift(r, m.get("drift")),
    )


def _delimiter(r: _Reader, m: dict) -> str:
    text = r.text(m, "data", "delimiter", ",")
    text = "\t" if text in ("\\t", "tab") else text
    if len(text) != 1 or text in "\r\n\"":
        raise r.fail("data.delimiter", f"must be one character such as ';', '|' or '\\t', got {text!r}")
    return text


def _column(r: _Reader, name: str, raw: Any) -> ColumnSpec:
    path = f"data.columns.{name}"
    m = r.mapping(raw, path, {"dtype", "nullable", "min", "max", "allowed", "regex", "expect"})
    regex = r.text(m, path, "regex", None)
    if regex is not None:
        import re

        try:
            re.compile(regex)
        except re.error as exc:
            raise r.fail(f"{path}.regex", f"invalid regular expression: {exc}") from None
    nullable = m.get("nullable", True)
    if not isinstance(nullable, bool):
        raise r.fail(f"{path}.nullable", f"must be true or false, got {nullable!r}")
    allowed = m.get("allowed")
    if allowed is not None and not isinstance(allowed, list):
        raise r.fail(f"{path}.allowed", f"must be a list of values, got {_kind(allowed)}")
    low, high = r.number(m, path, "min", None), r.number(m, path, "max", None)
    if low is not None and high is not None and low > high:
        raise r.fail(f"{path}.min", f"min {low} is greater than max {high}")
    return ColumnSpec(name=name, dtype=r.text(m, path, "dtype", None, DTYPES), nullable=nullable, min=low,
                      max=high, allowed=tuple(allowed) if allowed is not None else None, regex=regex,
                      expect=_expectation(r, m, path), line=r.lines.get(path))


def _expectation(r: _Reader, m: dict, path: str) -> str | None:
    from .data.expect import ExpressionError, parse_expectation

    text = r.text(m, path, "expect", None)
    if text is not None:
        try:
            parse_expectation(text)
        except ExpressionError as exc:
            raise r.fail(f"{path}.expect", f"{text!r} {exc}",
                         "an expectation uses `value`, constants, arithmetic, comparisons, and/or/not, "
                         "`in [...]`, abs() and len()") from None
    return text


def _drift(r: _Reader, raw: Any) -> DriftConfig:
    path = "data.drift"
    m = r.mapping(raw, path, {"reference", "method", "threshold", "bins", "share", "sample-rows", "columns"})
    overrides = {}
    for column, spec in r.mapping(m.get("columns"), f"{path}.columns").items():
        o = r.mapping(spec, f"{path}.columns.{column}", {"method", "threshold"})
        overrides[column] = DriftOverride(r.text(o, f"{path}.columns.{column}", "method", None, DRIFT_METHODS[1:]),
                                          r.number(o, f"{path}.columns.{column}", "threshold", None, low=0))
    return DriftConfig(
        reference=r.text(m, path, "reference", None),
        method=r.text(m, path, "method", "auto", DRIFT_METHODS),
        threshold=r.number(m, path, "threshold", None, low=0),
        bins=r.number(m, path, "bins", 10, low=2, high=1000, integer=True),
        share=r.number(m, path, "share", 0.5, low=0, high=1),
        sample_rows=r.number(m, path, "sample-rows", 100_000, low=1000, high=10_000_000, integer=True),
        columns=overrides,
    )


def _model(r: _Reader, raw: Any) -> ModelConfig:
    keys = {"name", "estimator", "entrypoint", "params", "task", "test-size", "seed", "thresholds", "split",
            "drop-columns", "slices", "compare", "estimator-modules", "max-missing-label-ratio"}
    m = r.mapping(raw, "model", keys)
    defaults = ModelConfig()
    name = r.text(m, "model", "name", defaults.name)
    if not name or "__" in name or not all(c.isalnum() or c in "-_." for c in name):
        raise r.fail("model.name", f"must use letters, digits, '-', '_' or '.' (no '__'), got {name!r}")
    entrypoint = r.text(m, "model", "entrypoint", None)
    if entrypoint is not None and entrypoint.count(":") != 1:
        raise r.fail("model.entrypoint", f"must be module:function, got {entrypoint!r}")
    if entrypoint is not None and m.get("estimator") is not None:
        raise r.fail("model.estimator", "is set together with `model.entrypoint`; the entrypoint trains the model",
                     hint="keep one of them")
    estimator, modules, params = _estimator(r, m)
    task = _task(r, m, estimator, entrypoint)
    known = CLASSIFICATION_METRICS if task == "classification" else REGRESSION_METRICS
    thresholds = _thresholds(r, m, "model", known, defaults.thresholds if task == "classification" else {})
    return ModelConfig(
        name=name,
        estimator=estimator,
        entrypoint=entrypoint,
        params=params,
        estimator_modules=modules,
        max_missing_label_ratio=r.number(m, "model", "max-missing-label-ratio", 0.0, low=0, high=0.99),
        task=task,
        test_size=r.number(m, "model", "test-size", defaults.test_size, low=0.01, high=0.9),
        seed=r.number(m, "model", "seed", defaults.seed, integer=True),
        thresholds=thresholds,
        split=_split(r, m.get("split")),
        drop_columns=tuple(r.strings(m, "model", "drop-columns")),
        slices=tuple(_slice(r, i, s, known) for i, s in enumerate(r.sequence(m, "model", "slices"))),
        compare=_compare(r, m.get("compare"), known),
    )


def _task(r: _Reader, m: dict, estimator: str, entrypoint: str | None) -> str:
    """``model.task``; when absent, a regressor's (by scikit-learn's naming) is regression and any other
    estimator's classification. Training checks this against the estimator class itself. An
    entrypoint's model is unknown until it has run, so its task must be given."""
    if m.get("task") is not None:
        return r.text(m, "model", "task", None, TASKS)
    if entrypoint is not None:
        raise ConfigError("`model.task` is required with `model.entrypoint`", file=r.file,
                          line=r.lines.get("model.entrypoint"), hint="add `task: classification` or "
                          "`task: regression` under `model:`")
    return "regression" if looks_like_regressor(estimator) else "classification"


def looks_like_regressor(estimator: str) -> bool:
    name = estimator.rpartition(".")[2]
    return (name.endswith(("Regressor", "Regression")) and name != "LogisticRegression") or name in _REGRESSORS


TASKS = ("classification", "regression")
_REGRESSORS = frozenset({"Ridge", "RidgeCV", "Lasso", "LassoCV", "ElasticNet", "ElasticNetCV", "Lars", "LarsCV",
                         "LassoLars", "LassoLarsCV", "LassoLarsIC", "SVR", "NuSVR", "LinearSVR", "KernelRidge",
                         "BayesianRidge", "OrthogonalMatchingPursuit", "OrthogonalMatchingPursuitCV",
                         "MultiTaskLasso", "MultiTaskElasticNet"})


def _estimator(r: _Reader, m: dict) -> tuple[str, tuple[str, ...], dict[str, Any]]:
    """``model.estimator``, ``model.estimator-modules`` and ``model.params``, checked by the rules of
    :mod:`aicd.model.estimators` (no import happens here). The default parameters belong to the
    default estimator: another estimator without ``params`` gets its own defaults."""
    from .model.estimators import EstimatorRefused, check_estimator_path, plain_value_problem

    estimator = r.text(m, "model", "estimator", DEFAULT_ESTIMATOR)
    modules = tuple(r.strings(m, "model", "estimator-modules"))
    bad = [name for name in modules if not name.isidentifier() or name.startswith("_")]
    if bad:
        raise r.fail("model.estimator-modules", f"must list top-level package names, got {bad[0]!r}")
    try:
        check_estimator_path(estimator, modules)
    except EstimatorRefused as exc:
        raise r.fail(exc.key, exc.message, exc.hint) from None
    if "params" not in m:
        return estimator, modules, dict(DEFAULT_PARAMS) if estimator == DEFAULT_ESTIMATOR else {}
    params = dict(r.mapping(m.get("params"), "model.params"))
    for key, value in params.items():
        problem = "the name is not a string" if not isinstance(key, str) else plain_value_problem(value)
        if problem:
            raise r.fail(f"model.params.{key}", problem if problem.startswith("the") else f"the value {problem}",
                         "parameters are plain values; build objects in your own `model.entrypoint`")
    return estimator, modules, params


def _thresholds(r: _Reader, m: dict, path: str, known: frozenset, default: dict) -> dict[str, float]:
    if "thresholds" not in m:
        return dict(default)
    raw = r.mapping(m.get("thresholds"), f"{path}.thresholds")
    for metric in raw:
        if metric not in known:
            raise r.fail(f"{path}.thresholds.{metric}", "unknown metric for this task",
                         f"use one of {', '.join(sorted(known))}")
    out = {k: r.number(raw, f"{path}.thresholds", k, 0.0) for k in raw}
    for metric, limit in out.items():
        low, high = METRIC_RANGES[metric]
        if not low <= limit <= high:
            shown = f"{low:g} to {high:g}".replace("inf", "∞")
            raise r.fail(f"{path}.thresholds.{metric}", f"{limit} is outside {metric}'s range ({shown})",
                         f"it is a {'minimum' if metric in HIGHER_IS_BETTER else 'maximum'}: the model passes "
                         f"when its holdout {metric} is {'at least' if metric in HIGHER_IS_BETTER else 'at most'} it")
    return out


def _split(r: _Reader, raw: Any) -> SplitConfig:
    m = r.mapping(raw, "model.split", {"kind", "column"})
    kind = r.text(m, "model.split", "kind", "random", ("random", "group", "time"))
    column = r.text(m, "model.split", "column", None)
    if kind != "random" and not column:
        raise r.fail("model.split", f"a {kind} split needs `column`")
    return SplitConfig(kind, column)


def _slice(r: _Reader, index: int, raw: Any, known: frozenset) -> SliceConfig:
    path = f"model.slices[{index}]"
    m = r.mapping(raw, path, {"column", "thresholds", "min-rows"})
    column = r.text(m, path, "column", None)
    if not column:
        raise r.fail(path, "a slice needs `column`")
    return SliceConfig(column, _thresholds(r, m, path, known, {}),
                       r.number(m, path, "min-rows", 30, low=1, integer=True))


def _compare(r: _Reader, raw: Any, known: frozenset) -> CompareConfig:
    path = "model.compare"
    m = r.mapping(raw, path, {"metrics", "margin", "require-improvement", "resamples", "confidence"})
    metrics = tuple(r.strings(m, path, "metrics"))
    for metric in metrics:
        if metric not in known:
            raise r.fail(f"{path}.metrics", f"unknown metric {metric!r} for this task",
                         f"use one of {', '.join(sorted(known))}")
    improve = m.get("require-improvement", False)
    if not isinstance(improve, bool):
        raise r.fail(f"{path}.require-improvement", f"must be true or false, got {improve!r}")
    return CompareConfig(metrics, r.number(m, path, "margin", 0.01, low=0), improve,
                         r.number(m, path, "resamples", 1000, low=100, high=100_000, integer=True),
                         r.number(m, path, "confidence", 0.95, low=0.5, high=0.9999))


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _typed_key(node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        value = yaml.constructor.SafeConstructor().construct_object(node)
        if isinstance(value, (bool, int, float, str)) or value is None:
            return value
    return str(node.value)


def _kind(value: Any) -> str:
    names = {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean"}
    return names.get(type(value), type(value).__name__)
