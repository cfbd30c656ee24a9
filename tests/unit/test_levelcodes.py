"""aicd's ordinal encoder gives scikit-learn's OrdinalEncoder codes, by its own faster path."""

import numpy as np
import pandas as pd
import pytest
from sklearn.preprocessing import OrdinalEncoder

from aicd.levelcodes import LevelCodes

LEVELS = [["a", "b", "c"], ["x", "y"]]


def frame(dtype) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    first = rng.choice(["a", "b", "c", "zz", None], 5_000).tolist()
    second = rng.choice(["x", "y", "w", None], 5_000).tolist()
    return pd.DataFrame({"p": first, "q": second}, dtype=dtype)


@pytest.mark.parametrize("dtype", ["str", pd.StringDtype("python"), pd.StringDtype("pyarrow"), object])
def test_codes_are_ordinal_encoders_for_text_missing_and_unknown_values(dtype):
    x = frame(dtype)
    kwargs = {"categories": LEVELS, "handle_unknown": "use_encoded_value", "unknown_value": -1,
              "dtype": np.float64}
    ours, theirs = LevelCodes(**kwargs).fit(x), OrdinalEncoder(**kwargs).fit(x)
    assert [c.tolist() for c in ours.categories_] == [c.tolist() for c in theirs.categories_]
    assert list(ours.feature_names_in_) == list(theirs.feature_names_in_) and ours.n_features_in_ == 2
    codes = ours.transform(x)
    assert codes.dtype == np.float64
    assert np.array_equal(codes, theirs.transform(x))
    assert set(np.unique(codes[:, 0])) == {-1.0, 0.0, 1.0, 2.0}  # "zz" and missing are -1


def test_anything_else_takes_ordinal_encoders_own_path():
    x = frame("str")
    fitted = LevelCodes(categories=LEVELS, handle_unknown="use_encoded_value", unknown_value=-1).fit(x)
    as_objects = fitted.transform(x.astype(object))  # not pandas text: OrdinalEncoder's path
    assert np.array_equal(as_objects, fitted.transform(x))
    with pytest.raises(ValueError, match="unknown categor"):  # its own refusals stay its own
        LevelCodes(categories=LEVELS).fit(x)
    auto = LevelCodes(handle_unknown="use_encoded_value", unknown_value=-1).fit(x)
    assert np.array_equal(auto.transform(x), OrdinalEncoder(handle_unknown="use_encoded_value",
                                                            unknown_value=-1).fit(x).transform(x), equal_nan=True)


def test_pandas_text_columns_are_coded_without_ordinal_encoders_per_value_path(monkeypatch):
    x = frame("str")
    fitted = LevelCodes(categories=LEVELS, handle_unknown="use_encoded_value", unknown_value=-1).fit(x)
    expected = fitted.transform(x)

    def refuse(*args, **kwargs):
        raise AssertionError("OrdinalEncoder's own transform was called")

    monkeypatch.setattr(OrdinalEncoder, "transform", refuse)
    assert np.array_equal(fitted.transform(x), expected)


def test_infrequent_levels_take_ordinal_encoders_own_fit_and_transform():
    x = frame("str")
    kwargs = {"handle_unknown": "use_encoded_value", "unknown_value": -1, "min_frequency": 0.3}
    ours, theirs = LevelCodes(**kwargs).fit(x), OrdinalEncoder(**kwargs).fit(x)
    assert np.array_equal(ours.transform(x), theirs.transform(x), equal_nan=True)
