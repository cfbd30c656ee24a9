"""The ``model:`` section of aicd.yml: what is trained, how the holdout is cut, what the gate demands.

Each key is a field below (see :mod:`aicd.config.reader`). Fields are read in order, so a later
key's rules may depend on an earlier one's value: the task on the estimator, the known metrics on
the task, the default parameters on the estimator.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..bins import MAX_LEVELS
from ..errors import ConfigError
from ..model.metrics import CLASSIFICATION as CLASSIFICATION_METRICS
from ..model.metrics import HIGHER_IS_BETTER
from ..model.metrics import RANGES as METRIC_RANGES
from ..model.metrics import REGRESSION as REGRESSION_METRICS
from .reader import ABSENT, Entry, Reader, setting
from .training import RUNNERS, TrainingKubernetesConfig, check_runner

__all__ = ["DEFAULT_ESTIMATOR", "DEFAULT_PARAMS", "TASKS", "CompareConfig", "DecisionThreshold", "ModelConfig",
           "SliceConfig", "SplitConfig", "looks_like_regressor"]

TASKS = ("classification", "regression")
DEFAULT_ESTIMATOR = "sklearn.ensemble.RandomForestClassifier"
DEFAULT_PARAMS = {"n_estimators": 100, "random_state": 0}  # the default estimator's, and only its


def _known_metrics(e: Entry) -> frozenset:
    return CLASSIFICATION_METRICS if e.read["task"] == "classification" else REGRESSION_METRICS


def _thresholds(e: Entry) -> dict[str, float]:
    """Minimums (or maximums, for error metrics) per metric. Absent: the default, which is a
    classification default; a regressor has none unless given."""
    if e.value is ABSENT:
        return dict(e.default) if e.read["task"] == "classification" else {}
    known = _known_metrics(e)
    out = {}
    for metric, raw in e.mapping().items():
        where = f"{e.path}.{metric}"
        if metric not in known:
            raise e.fail("unknown metric for this task", f"use one of {', '.join(sorted(known))}", path=where)
        out[metric] = limit = Entry(e.reader, where, raw, 0.0, e.read).number()
        low, high = METRIC_RANGES[metric]
        if not low <= limit <= high:
            shown = f"{low:g} to {high:g}".replace("inf", "∞")
            better = metric in HIGHER_IS_BETTER
            raise e.fail(f"{limit} is outside {metric}'s range ({shown})",
                         f"it is a {'minimum' if better else 'maximum'}: the model passes when its holdout "
                         f"{metric} is {'at least' if better else 'at most'} it", path=where)
    return out


def _metrics(e: Entry) -> tuple[str, ...]:
    metrics, known = e.strings(), _known_metrics(e)
    for metric in metrics:
        if metric not in known:
            raise e.fail(f"unknown metric {metric!r} for this task", f"use one of {', '.join(sorted(known))}")
    return metrics


@dataclass(frozen=True)
class SplitConfig:
    """How the holdout is cut: ``random`` (stratified for classification), ``group`` (no value of
    ``column`` on both sides: no user leaks into the holdout) or ``time`` (the latest rows by
    ``column`` are the holdout). The split column is not a feature."""

    kind: str = setting("random", choices=("random", "group", "time"))
    column: str | None = setting(None)

    def check(self, r: Reader, path: str) -> None:
        if self.kind != "random" and not self.column:
            raise r.fail(path, f"a {self.kind} split needs `column`")


@dataclass(frozen=True)
class SliceConfig:
    """Metrics per value of ``column`` on the holdout, each gated by ``thresholds`` when the slice
    has at least ``min-rows`` rows."""

    column: str = setting(None)
    thresholds: dict[str, float] = setting(factory=dict, parse=_thresholds)
    min_rows: int = setting(30, low=1)

    def check(self, r: Reader, path: str) -> None:
        if not self.column:
            raise r.fail(path, "a slice needs `column`")


@dataclass(frozen=True)
class CompareConfig:
    """Champion/challenger: a paired bootstrap interval of candidate minus champion per metric."""

    metrics: tuple[str, ...] = setting((), parse=_metrics)  # empty: the metrics that have thresholds
    margin: float = setting(0.01, low=0)
    require_improvement: bool = setting(False)
    resamples: int = setting(1000, low=100, high=100_000)
    confidence: float = setting(0.95, low=0.5, high=0.9999)


@dataclass(frozen=True)
class DecisionThreshold:
    """``model.decision-threshold`` of a binary classifier: ``rule`` fixed (``value`` is the
    threshold), f1, precision or recall (``value`` is the target), chosen on validation rows."""

    rule: str
    value: float | None = None


DECISION_RULES = ("f1", "precision", "recall")


def _decision(e: Entry) -> DecisionThreshold | None:
    hint = "a number such as 0.35, `f1`, `{precision: 0.9}` or `{recall: 0.8}`"
    if not e.given:
        return None
    value = e.value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if not 0 < value < 1:
            raise e.fail(f"a fixed threshold must lie between 0 and 1, got {value}", hint)
        return DecisionThreshold("fixed", float(value))
    if value == "f1":
        return DecisionThreshold("f1")
    if isinstance(value, dict) and len(value) == 1 and next(iter(value)) in ("precision", "recall"):
        rule, target = next(iter(value.items()))
        target = Entry(e.reader, f"{e.path}.{rule}", target, None, e.read, low=0, high=1).number()
        return DecisionThreshold(rule, float(target))
    raise e.fail(f"must be {hint}, got {value!r}")


def _name(e: Entry) -> str:
    name = e.text()
    if not name or "__" in name or not all(c.isalnum() or c in "-_." for c in name):
        raise e.fail(f"must use letters, digits, '-', '_' or '.' (no '__'), got {name!r}")
    return name


def _entrypoint(e: Entry) -> str | None:
    entrypoint = e.text()
    if entrypoint is not None and entrypoint.count(":") != 1:
        raise e.fail(f"must be module:function, got {entrypoint!r}")
    return entrypoint


def _modules(e: Entry) -> tuple[str, ...]:
    modules = e.strings()
    bad = [name for name in modules if not name.isidentifier() or name.startswith("_")]
    if bad:
        raise e.fail(f"must list top-level package names, got {bad[0]!r}")
    return modules


def _estimator(e: Entry) -> str:
    """Checked by the rules of :mod:`aicd.model.estimators`; no import happens here."""
    from ..model.estimators import EstimatorRefused, check_estimator_path

    if e.given and e.read["entrypoint"] is not None:
        raise e.fail("is set together with `model.entrypoint`; the entrypoint trains the model", "keep one of them")
    estimator = e.text()
    try:
        check_estimator_path(estimator, e.read["estimator_modules"])
    except EstimatorRefused as exc:
        raise e.reader.fail(exc.key, exc.message, exc.hint) from None
    return estimator


def _params(e: Entry) -> dict[str, Any]:
    """The default parameters belong to the default estimator: another one without ``params``
    gets its own defaults."""
    from ..model.estimators import plain_value_problem

    if e.value is ABSENT:
        return dict(e.default) if e.read["estimator"] == DEFAULT_ESTIMATOR else {}
    params = dict(e.mapping())
    for key, value in params.items():
        problem = "the name is not a string" if not isinstance(key, str) else plain_value_problem(value)
        if problem:
            raise e.fail(problem if problem.startswith("the") else f"the value {problem}",
                         "parameters are plain values; build objects in your own `model.entrypoint`",
                         path=f"{e.path}.{key}")
    return params


def _task(e: Entry) -> str:
    """Absent: a regressor's (by scikit-learn's naming) is regression and any other estimator's
    classification; training checks this against the estimator class itself. An entrypoint's
    model is unknown until it has run, so its task must be given."""
    if e.given:
        return e.text()
    if e.read["entrypoint"] is not None:
        raise ConfigError(f"`{e.path}` is required with `model.entrypoint`", file=e.reader.file,
                          line=e.line("model.entrypoint"),
                          hint="add `task: classification` or `task: regression` under `model:`")
    return "regression" if looks_like_regressor(e.read["estimator"]) else "classification"


@dataclass(frozen=True)
class ModelConfig:
    name: str = setting("model", parse=_name)
    entrypoint: str | None = setting(None, parse=_entrypoint)
    estimator_modules: tuple[str, ...] = setting((), parse=_modules)  # top-level packages besides scikit-learn
    estimator: str = setting(DEFAULT_ESTIMATOR, parse=_estimator)
    params: dict[str, Any] = setting(factory=lambda: dict(DEFAULT_PARAMS), parse=_params)
    task: str = setting("classification", choices=TASKS, parse=_task)
    # rows without a label refuse training unless this share allows dropping them
    max_missing_label_ratio: float = setting(0.0, low=0, high=0.99)
    test_size: float = setting(0.2, low=0.01, high=0.9)
    seed: int = setting(42)
    thresholds: dict[str, float] = setting(factory=lambda: {"accuracy": 0.9}, parse=_thresholds)
    decision_threshold: DecisionThreshold | None = setting(None, parse=_decision)
    split: SplitConfig = setting(factory=SplitConfig)
    drop_columns: tuple[str, ...] = setting(())
    # levels of a categorical the model encodes (the most frequent); the rest are one "other" level
    max_levels: int = setting(MAX_LEVELS, low=2, high=10_000)
    slices: tuple[SliceConfig, ...] = setting((), parse=lambda e: tuple(
        e.section_at(SliceConfig, f"{e.path}[{i}]", raw) for i, raw in enumerate(e.sequence())))
    compare: CompareConfig = setting(factory=CompareConfig)
    runner: str = setting("local", choices=RUNNERS)  # where the training runs: here, or a Kubernetes Job
    kubernetes: TrainingKubernetesConfig = setting(factory=TrainingKubernetesConfig)

    def check(self, r: Reader, path: str) -> None:
        check_runner(r, path, self.runner, self.kubernetes)
        if self.decision_threshold is not None and self.task != "classification":
            raise r.fail(f"{path}.decision-threshold", "is for binary classifiers; this model is a regressor",
                         "remove it, or set `model.task: classification`")


def looks_like_regressor(estimator: str) -> bool:
    name = estimator.rpartition(".")[2]
    return (name.endswith(("Regressor", "Regression")) and name != "LogisticRegression") or name in _REGRESSORS


_REGRESSORS = frozenset({"Ridge", "RidgeCV", "Lasso", "LassoCV", "ElasticNet", "ElasticNetCV", "Lars", "LarsCV",
                         "LassoLars", "LassoLarsCV", "LassoLarsIC", "SVR", "NuSVR", "LinearSVR", "KernelRidge",
                         "BayesianRidge", "OrthogonalMatchingPursuit", "OrthogonalMatchingPursuitCV",
                         "MultiTaskLasso", "MultiTaskElasticNet"})
