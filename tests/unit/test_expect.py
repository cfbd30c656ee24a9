"""Expectations are a closed little language: they test values and can never reach code."""

import pandas as pd
import pytest

from aicd.config import parse_config
from aicd.data.expect import ExpressionError, evaluate, parse_expectation
from aicd.errors import ConfigError


def holds(text: str, values: list) -> list[bool]:
    return evaluate(parse_expectation(text), pd.Series(values)).tolist()


@pytest.mark.parametrize("text, values, expected", [
    ("value % 5 == 0", [5, 7, 10], [True, False, True]),
    ("value >= 0 and value < 100", [-1, 0, 99, 100], [False, True, True, False]),
    ("0 <= value < 100", [-1, 0, 99, 100], [False, True, True, False]),
    ("(value > 1) & ~(value == 3) | (value == -5)", [1, 2, 3, -5], [False, True, False, True]),
    ("not value > 2", [1, 3], [True, False]),
    ("value in ['a', 'b']", ["a", "c"], [True, False]),
    ("value not in (1, 2)", [1, 3], [False, True]),
    ("abs(value - 10) <= 2 ** 1", [8, 13], [True, False]),
    ("len(value) <= 3", ["abc", "abcd"], [True, False]),
    ("True", [1, 2], [True, True]),
])
def test_the_language_tests_values(text, values, expected):
    assert holds(text, values) == expected


@pytest.mark.parametrize("text", [
    "value.__class__", "value.__class__.__init__.__globals__['os'].system('id')", "value.apply(print)",
    "__import__('os').system('id')", "os", "print(value)", "abs(value, 2)", "[x for x in value]",
    "value[0]", "lambda: 1", "value if value else 0", "value in [value.real]", "f'{value}'", "value := 1",
    "None", "...", "value ==",
])
def test_anything_else_is_refused_when_the_config_is_read(text):
    with pytest.raises(ExpressionError):
        parse_expectation(text)
    with pytest.raises(ConfigError, match=r"data\.columns\.x\.expect") as refused:
        parse_config(f"data:\n  columns:\n    x:\n      expect: {text!r}\n")
    assert refused.value.line == 4
