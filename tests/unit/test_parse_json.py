"""The model server's body parser: json.loads's value and errors, whichever parser answers."""

import json
import math
import random

import pytest

from aicd.serve.app import parse_json

TRICKY = [b'{"a": 1, "a": 2}', b'[1e400, -1e400, 1e-400]', b'-0', b'-0.0', b'18446744073709551615',
          b'18446744073709551616', b'-9223372036854775809', b'123456789012345678901234567890',
          b'{"x": NaN}', b'[Infinity, -Infinity]', b'"\\ud800"', b'"\\udc00\\ud800"', b'"\\ud83d\\ude00"',
          '{"é": "ü"}'.encode(), '{"é": 1}'.encode("utf-16"), '[1]'.encode("utf-32-le"),
          b'\xef\xbb\xbf{"bom": true}', b'\xff\xfe', b'{"a": 1,}', b'[01]', b'1.', b'.5', b'"\t"', b'  [ ]  ',
          b'', b'null', b'true', b'{"a" 1}', b'[1] [2]', b'"\\u0000"', b'1E+2', b'0.1e-2',
          b'[' * 500 + b']' * 500, b'[' * 2000 + b']' * 2000, b'{"x":' * 1100 + b'1' + b'}' * 1100,
          b'"' + b'\xed\xa0\x80' + b'"', b'"\xc3"', b'{"a": [1, 2.5, "x", null, false]}']


def outcome(parse, body: bytes):
    try:
        return "value", parse(body)
    except RecursionError:
        return "error", RecursionError
    except ValueError:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        return "error", ValueError


def same(one, other) -> bool:
    """Equal values, NaN equal to NaN and -0.0 told from 0.0 (json.dumps keeps both apart)."""
    return json.dumps(one, sort_keys=True) == json.dumps(other, sort_keys=True) and type(one) is type(other)


@pytest.mark.parametrize("body", TRICKY, ids=range(len(TRICKY)))
def test_the_server_reads_every_body_as_the_json_module_does(body):
    want, got = outcome(json.loads, body), outcome(parse_json, body)
    assert want[0] == got[0], (body[:60], want, got)
    if want[0] == "value":
        assert same(want[1], got[1]), (body[:60], want, got)
    else:
        assert got[1] is want[1]


def random_value(rng: random.Random, depth: int = 0):
    kinds = ["int", "float", "str", "bool", "null"] + (["list", "dict"] if depth < 4 else [])
    kind = rng.choice(kinds)
    if kind == "int":
        return rng.choice([rng.randint(-10, 10), rng.randint(-2**70, 2**70), 2**63, -2**63 - 1])
    if kind == "float":
        return rng.choice([rng.uniform(-1e6, 1e6), rng.random() * 10 ** rng.randint(-320, 308), math.nan,
                           math.inf, -0.0])
    if kind == "str":
        points = [rng.choice([rng.randint(32, 126), rng.randint(0x80, 0xFFFF), rng.randint(0x10000, 0x10FFFF)])
                  for _ in range(rng.randint(0, 8))]  # lone surrogates (0xD800-0xDFFF) included
        return "".join(map(chr, points))
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "null":
        return None
    if kind == "list":
        return [random_value(rng, depth + 1) for _ in range(rng.randint(0, 5))]
    return {str(random_value(rng, 5)) if rng.random() < 0.9 else "k": random_value(rng, depth + 1)
            for _ in range(rng.randint(0, 5))}


def test_random_bodies_read_alike():
    rng = random.Random(7)
    for _ in range(3000):
        value = random_value(rng)
        text = json.dumps(value, ensure_ascii=rng.random() < 0.5)
        try:
            body = text.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate only travels escaped
            body = json.dumps(value).encode()
        want, got = outcome(json.loads, body), outcome(parse_json, body)
        assert want[0] == got[0] and (want[0] == "error" or same(want[1], got[1])), (body[:80], want, got)
