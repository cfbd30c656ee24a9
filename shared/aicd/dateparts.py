"""The pipeline step that turns date columns into their parts (:mod:`aicd.dates`) at training.

Kept apart from :mod:`aicd.dates` because it is a scikit-learn estimator: the ONNX serving path
expands dates with :func:`aicd.dates.expand` and never imports scikit-learn; a model served by
scikit-learn unpickles this class (skops trusts it by name, as recorded at training).
"""

from __future__ import annotations

from sklearn.base import BaseEstimator, TransformerMixin

from .dates import expand, part_names

__all__ = ["DateParts"]


class DateParts(TransformerMixin, BaseEstimator):
    """The first step of a pipeline with date features: the date columns of a DataFrame become their
    parts (:func:`expand`); every other column passes as it is, in order."""

    def __init__(self, dates: tuple[str, ...] = ()):
        self.dates = dates

    def fit(self, x, y=None):
        return self

    def transform(self, x):
        import pandas as pd

        columns = {name: x[name].tolist() if name in self.dates else x[name] for name in x.columns}
        return pd.DataFrame(expand(columns, self.dates), index=x.index)

    def get_feature_names_out(self, input_features=None):
        names = list(input_features) if input_features is not None else []
        return [p for name in names for p in (part_names(name) if name in self.dates else [name])]
