"""The pipeline step that turns date columns into their parts (:mod:`aicd.dates`) at training.

Kept apart from :mod:`aicd.dates` because it is a scikit-learn estimator: the ONNX serving path
expands dates with :func:`aicd.dates.expand` and never imports scikit-learn; a model served by
scikit-learn unpickles this class (skops trusts it by name, as recorded at training).
"""

from __future__ import annotations

from sklearn.base import BaseEstimator, TransformerMixin

from .dates import MISSING_PARTS, part_names, parts_of

__all__ = ["DateParts"]


class DateParts(TransformerMixin, BaseEstimator):
    """The first step of a pipeline with date features: the date columns of a DataFrame become their
    parts (:func:`expand`); every other column passes as it is, in order."""

    def __init__(self, dates: tuple[str, ...] = ()):
        self.dates = dates

    def fit(self, x, y=None):
        return self

    def transform(self, x):
        """Each distinct value of a date column is parsed once by :func:`parts_of` — the very function
        the server applies per request, so both agree — and its parts are spread over its rows: a
        million rows of a few thousand dates cost a few thousand parses."""
        import numpy as np
        import pandas as pd

        out = {}
        for name in x.columns:
            if name not in self.dates:
                out[name] = x[name]
                continue
            codes, distinct = pd.factorize(x[name], use_na_sentinel=True)
            table = np.array([*(parts_of(v) for v in distinct), MISSING_PARTS], dtype=float)
            parts = table[codes]  # a missing value's code is -1: the last row, all NaN
            for i, part in enumerate(part_names(name)):
                out[part] = parts[:, i]
        return pd.DataFrame(out, index=x.index)

    def get_feature_names_out(self, input_features=None):
        names = list(input_features) if input_features is not None else []
        return [p for name in names for p in (part_names(name) if name in self.dates else [name])]
