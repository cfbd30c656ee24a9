"""The ordinal encoder of aicd's gradient boosting pipelines: scikit-learn's, with text coded in C.

Kept apart because it is a scikit-learn estimator, used while the train stage fits, evaluates and
exports (skl2onnx converts it with its own OrdinalEncoder converter, :mod:`aicd.model.onnx_export`).
The model registered is :func:`plain`: plain OrdinalEncoders, loadable without aicd.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.preprocessing import OrdinalEncoder

__all__ = ["LevelCodes", "parts", "plain"]


class LevelCodes(OrdinalEncoder):
    """:class:`~sklearn.preprocessing.OrdinalEncoder` with explicit levels and
    ``handle_unknown="use_encoded_value"``, whose fit and transform of a DataFrame of text columns
    look each column up in one hash table (:func:`_positions`) instead of value by value in Python:
    800,000 rows x 8 columns coded in about 0.1 s instead of 1.3 s. The codes are
    OrdinalEncoder's own — a column's i-th level is i, anything else (a missing value too, since no
    level is missing) is ``unknown_value`` — and any other input takes OrdinalEncoder's path."""

    def fit(self, X, y=None):
        # With explicit levels nothing learned depends on the rows (the levels, the columns' names
        # and count): the first row gives the same encoder without turning every value into an object.
        return super().fit(X.iloc[:1] if self._text_frame(X) else X, y)

    def transform(self, X):
        if not (self._text_frame(X) and list(X.columns) == list(getattr(self, "feature_names_in_", []))
                and all(_text_levels(levels) for levels in self.categories_)):
            return super().transform(X)
        out = np.empty(X.shape, dtype=self.dtype)
        for j, levels in enumerate(self.categories_):
            codes = _positions(X.iloc[:, j], levels)
            out[:, j] = np.where(codes < 0, self.unknown_value, codes)
        return out

    def _text_frame(self, X) -> bool:
        """A DataFrame of pandas text columns, to be coded by explicit levels and nothing else (no
        infrequent levels, no code of its own for a missing value)."""
        return (isinstance(X, pd.DataFrame) and len(X) > 0 and not isinstance(self.categories, str)
                and self.handle_unknown == "use_encoded_value" and self.min_frequency is None
                and self.max_categories is None and _is_nan(self.encoded_missing_value)
                and all(isinstance(dtype, pd.StringDtype) for dtype in X.dtypes))


def plain(model):
    """A copy of ``model`` (a fitted Pipeline, ColumnTransformer or encoder, nested as deep as need
    be) in which every LevelCodes is the scikit-learn OrdinalEncoder it is, with the same fitted state
    and so the same codes: what is registered loads wherever scikit-learn does, without aicd, and
    the serving image needs no aicd class for it. ``model`` itself is left as it is."""
    import copy

    model = copy.deepcopy(model)
    for step in parts(model):
        if isinstance(step, LevelCodes):
            step.__class__ = OrdinalEncoder  # the same attributes: a subclass adds none
    return model


def parts(model):
    """``model`` and every estimator inside it: a Pipeline's steps and a ColumnTransformer's
    transformers (fitted and as given), nested as deep as need be; "drop" and "passthrough" are none."""
    pending = [model]
    while pending:
        step = pending.pop()
        yield step
        pending.extend(s for _, s in getattr(step, "steps", []))
        for attribute in ("transformers", "transformers_"):
            pending.extend(t for _, t, _ in getattr(step, attribute, []) if not isinstance(t, str))


def _is_nan(value) -> bool:
    return isinstance(value, float) and value != value


def _positions(column: pd.Series, levels) -> np.ndarray:
    """Each value's position among ``levels``, -1 where it is none of them (or missing): by Arrow's
    ``index_in`` on an Arrow-backed column (7x pandas' hash lookup on 800,000 rows), else by pandas'
    (the scikit-learn serving image has no PyArrow, and its columns are not Arrow-backed)."""
    if getattr(column.dtype, "storage", "") == "pyarrow":
        import pyarrow as pa
        import pyarrow.compute as pc

        found = pc.index_in(pa.array(column), value_set=pa.array(list(levels), pa.string()))
        return pc.fill_null(found, -1).to_numpy()
    return pd.Index(levels, dtype=object).get_indexer(column)


def _text_levels(levels) -> bool:
    return all(isinstance(level, str) for level in levels)
