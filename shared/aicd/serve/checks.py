"""What a request may carry as a feature value, for every protocol the server speaks (pure).

``/predict`` and the Open Inference Protocol's ``/v2/.../infer`` take the same values for a
feature of each kind recorded at training, so both check them here and a request is refused for
the same reasons whichever route carried it. ``BadRequest`` is the one error a request's checks
raise: its status is the client's fault (4xx), never a 5xx the production gate would count.
"""

from __future__ import annotations

import math

from ..dates import is_date_text

__all__ = ["KIND_NAMES", "LARGEST", "BadRequest", "encodable", "finite", "fits"]

KIND_NAMES = {"int": "a number", "float": "a number", "bool": "true or false", "str": "a string",
              "datetime": "an ISO-8601 date or time"}
LARGEST = 3.4e38  # float32's range: ONNX runtimes compute in float32


class BadRequest(Exception):
    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


def encodable(text: str) -> bool:
    """JSON may escape lone surrogates (``"\\ud800"``) that no runtime can encode as UTF-8."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def finite(number: float) -> bool:
    try:
        return math.isfinite(number) and abs(number) <= LARGEST
    except OverflowError:  # an integer beyond any float
        return False


def fits(value: object, kind: str) -> bool:
    """Whether ``value`` is one of a ``kind`` feature's values; None (missing) always is: the model's
    own pipeline imputes or codes it."""
    if value is None:
        return True
    if kind in ("int", "float"):
        return type(value) in (int, float) and finite(value)
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "datetime":
        return isinstance(value, str) and is_date_text(value)
    return isinstance(value, str)
