"""``data.columns.<name>.expect``: a small expression language over ``value``, that cannot run code.

An expectation such as ``value % 5 == 0`` or ``0 <= value < 100 and value != 13`` is parsed
with Python's grammar but only these forms are accepted, checked when the config is read:

    value                       the column (each non-missing value)
    numbers, strings, booleans  constants
    + - * / // % **             arithmetic; unary - and +
    < <= > >= == !=             comparisons, chains included (0 <= value < 100)
    in / not in [a, b, ...]     membership in a list of constants
    and or not  & | ~           logic
    abs(x) len(x)               absolute value; length of a string

Anything else — attribute access, subscripts, other names or calls, comprehensions — is a
config error, so an expectation can never reach an object's internals (``pandas.eval`` could,
which is why it is not used). Evaluation is vectorized over a pandas Series.
"""

from __future__ import annotations

import ast
import operator
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pandas is imported only to evaluate: reading the config must stay light
    import numpy as np
    import pandas as pd

__all__ = ["ExpressionError", "evaluate", "parse_expectation"]

_ARITHMETIC = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
               ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow,
               ast.BitAnd: operator.and_, ast.BitOr: operator.or_}
_COMPARE = {ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge,
            ast.Eq: operator.eq, ast.NotEq: operator.ne}
_FUNCTIONS = {"abs": lambda x: x.abs() if _is_series(x) else abs(x),
              "len": lambda x: x.astype(str).str.len() if _is_series(x) else len(str(x))}


class ExpressionError(ValueError):
    """The expectation uses something outside the language above (the message says what)."""


def parse_expectation(text: str) -> ast.Expression:
    """The checked syntax tree of ``text``; ExpressionError naming the first thing not allowed."""
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise ExpressionError(f"is not a valid expression ({exc.msg})") from None
    called = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    for node in ast.walk(tree):
        _check(node, id(node) in called)
    return tree


def _check(node: ast.AST, is_called: bool) -> None:
    if isinstance(node, ast.Name) and node.id != "value" and not (is_called and node.id in _FUNCTIONS):
        raise ExpressionError(f"uses the name {node.id!r}; only `value` is known")
    if isinstance(node, ast.Call) and not (isinstance(node.func, ast.Name) and node.func.id in _FUNCTIONS
                                           and len(node.args) == 1 and not node.keywords):
        raise ExpressionError("calls something other than abs(x) or len(x)")
    if isinstance(node, ast.Constant) and not isinstance(node.value, (int, float, str, bool)):
        raise ExpressionError(f"holds the constant {node.value!r}")
    if isinstance(node, (ast.List, ast.Tuple)) and not all(isinstance(e, ast.Constant) for e in node.elts):
        raise ExpressionError("lists may hold only constants")
    allowed = (ast.Expression, ast.Name, ast.Load, ast.Constant, ast.BinOp, ast.UnaryOp, ast.BoolOp, ast.Compare,
               ast.Call, ast.List, ast.Tuple, ast.And, ast.Or, ast.Not, ast.USub, ast.UAdd, ast.Invert,
               ast.In, ast.NotIn, *_ARITHMETIC, *_COMPARE)
    if not isinstance(node, allowed):
        raise ExpressionError(f"uses {type(node).__name__}, which expectations do not allow")


def evaluate(tree: ast.Expression, values: pd.Series) -> np.ndarray:
    """One boolean per value: where the expectation holds."""
    return _as_bool(_eval(tree.body, values), values).to_numpy()


def _is_series(x: object) -> bool:
    import pandas as pd

    return isinstance(x, pd.Series)


def _eval(node: ast.AST, values: pd.Series):
    if isinstance(node, ast.Name):
        return values
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.BinOp):
        return _arithmetic(node.op, _eval(node.left, values), _eval(node.right, values))
    if isinstance(node, ast.UnaryOp):
        operand = _eval(node.operand, values)
        if isinstance(node.op, (ast.Not, ast.Invert)):
            return ~operand.astype(bool) if _is_series(operand) else not operand
        return -operand if isinstance(node.op, ast.USub) else +operand
    if isinstance(node, ast.BoolOp):
        parts = [_as_bool(_eval(v, values), values) for v in node.values]
        combine = operator.and_ if isinstance(node.op, ast.And) else operator.or_
        out = parts[0]
        for part in parts[1:]:
            out = combine(out, part)
        return out
    if isinstance(node, ast.Compare):
        return _compare(node, values)
    if isinstance(node, ast.Call):
        return _FUNCTIONS[node.func.id](_eval(node.args[0], values))
    return [_eval(e, values) for e in node.elts]  # a list or tuple of constants (only after `in`)


def _arithmetic(op: ast.operator, left, right):
    """Arithmetic with bounded cost: numbers only (``'ab' * 10**12`` would allocate petabytes), and
    constants in floating point (``9 ** 9 ** 9`` overflows at once instead of computing for hours)."""
    logic = isinstance(op, (ast.BitAnd, ast.BitOr))
    for side in (left, right):
        if isinstance(side, str) or (_is_series(side) and not logic and not _numeric(side)):
            raise ExpressionError("does arithmetic on text; compare text with == or in [...]")
    if not logic and not _is_series(left) and not _is_series(right):
        left, right = float(left), float(right)
    return _ARITHMETIC[type(op)](left, right)


def _numeric(series) -> bool:
    import pandas as pd

    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)


def _compare(node: ast.Compare, values: pd.Series) -> pd.Series:
    out, left = None, _eval(node.left, values)
    for op, right_node in zip(node.ops, node.comparators, strict=True):
        right = _eval(right_node, values)
        if isinstance(op, (ast.In, ast.NotIn)):
            if not isinstance(right, list) or not _is_series(left):
                raise ExpressionError("`in` needs `value` (or an expression of it) on the left and a list on the right")
            part = left.isin(right)
            part = ~part if isinstance(op, ast.NotIn) else part
        else:
            part = _COMPARE[type(op)](left, right)
        part = _as_bool(part, values)
        out = part if out is None else out & part
        left = right
    return out


def _as_bool(result, values: pd.Series) -> pd.Series:
    import numpy as np
    import pandas as pd

    if isinstance(result, pd.Series):
        return result.astype(bool)
    return pd.Series(np.full(len(values), bool(result)), index=values.index)
