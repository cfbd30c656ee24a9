"""Which estimator a config may name, and with which parameters: config never runs code.

``model.estimator`` is an import path, so without limits it could name any callable
(``os.system``) and ``model.params`` would be its arguments. The rules, checked before anything
from the path is imported or called:

- the path is dotted identifiers, none private (``_``), under an allowed top-level package:
  scikit-learn, XGBoost and LightGBM always, more only when listed in ``model.estimator-modules``;
- what it names is a class, a scikit-learn estimator (a ``BaseEstimator`` subclass) with ``fit``
  and ``predict``;
- parameters are plain values — numbers, strings, booleans, null, and lists or mappings of them —
  and each is one of the class's own constructor parameters.

Repository code runs only through ``model.entrypoint``, which is the documented way to do it.
"""

from __future__ import annotations

import contextlib
import difflib
import importlib
import inspect
import re
from collections.abc import Iterable

__all__ = ["ALWAYS_ALLOWED", "EstimatorRefused", "check_estimator_path", "plain_value_problem", "resolve_estimator"]

ALWAYS_ALLOWED = ("sklearn", "xgboost", "lightgbm")  # estimator libraries; anything else must be listed
_PATH = re.compile(r"[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)+")
_SCALARS = (bool, int, float, str, type(None))


class EstimatorRefused(Exception):
    """The path or parameters break a rule above; ``key`` is the config key to blame."""

    def __init__(self, key: str, message: str, hint: str = ""):
        super().__init__(message)
        self.key, self.message, self.hint = key, message, hint


def check_estimator_path(path: str, extra_modules: Iterable[str] = ()) -> None:
    """Refuse a path that is not a public import path under an allowed package (imports nothing)."""
    allowed = (*ALWAYS_ALLOWED, *extra_modules)
    if not _PATH.fullmatch(path):
        raise EstimatorRefused("model.estimator", f"must be a public import path such as "
                               f"sklearn.linear_model.LogisticRegression, got {path!r}")
    if path.split(".", 1)[0] not in allowed:
        raise EstimatorRefused("model.estimator", f"{path!r} is not in an allowed package ({', '.join(allowed)})",
                               "list its top-level package under `model.estimator-modules`, or train it "
                               "from your own code with `model.entrypoint`")


def plain_value_problem(value: object, depth: int = 0) -> str | None:
    """Why ``value`` is not a plain parameter value, or None when it is."""
    if isinstance(value, _SCALARS):
        return None
    if depth >= 4:
        return "nests too deeply"
    if isinstance(value, list):
        return next((p for p in (plain_value_problem(v, depth + 1) for v in value) if p), None)
    if isinstance(value, dict):
        if not all(isinstance(k, _SCALARS) for k in value):
            return "has a key that is not a plain value"
        return next((p for p in (plain_value_problem(v, depth + 1) for v in value.values()) if p), None)
    return f"is a {type(value).__name__}, not a number, string, boolean, list or mapping"


def resolve_estimator(path: str, params: dict, extra_modules: Iterable[str] = ()) -> type:
    """The estimator class ``path`` names, after checking it and ``params`` against the rules above."""
    check_estimator_path(path, extra_modules)
    module_name, _, class_name = path.rpartition(".")
    try:
        found = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError):
        raise EstimatorRefused("model.estimator", f"cannot import {path!r}",
                               "give a full import path such as sklearn.ensemble.RandomForestClassifier") from None
    if not _is_estimator_class(found):
        raise EstimatorRefused("model.estimator", f"{path!r} is not a scikit-learn estimator class (one with fit "
                               "and predict)", "name an estimator class, or use `model.entrypoint` for your own code")
    known = _param_names(found)
    for name, value in params.items():
        if name not in known:
            guess = difflib.get_close_matches(str(name), sorted(known), n=1)
            raise EstimatorRefused(f"model.params.{name}", f"{class_name} takes no parameter {name!r}",
                                   f"did you mean `{guess[0]}`?" if guess else f"it takes: {', '.join(sorted(known))}")
        problem = plain_value_problem(value)
        if problem:
            raise EstimatorRefused(f"model.params.{name}", f"the value {problem}")
    return found


def _param_names(found: type) -> set[str]:
    """The parameters an estimator class takes. XGBoost's and LightGBM's scikit-learn classes take
    most of theirs as ``**kwargs``, so their default instance's ``get_params`` names them."""
    names = set(found._get_param_names())
    with contextlib.suppress(Exception):  # a class that cannot be made without arguments keeps its signature's
        names |= set(found().get_params(deep=False))
    return names


def _is_estimator_class(found: object) -> bool:
    from sklearn.base import BaseEstimator

    return (inspect.isclass(found) and issubclass(found, BaseEstimator)
            and callable(getattr(found, "fit", None)) and callable(getattr(found, "predict", None)))
