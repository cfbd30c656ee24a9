"""Property: whatever bytes a CSV holds, reading and checking it ends in data or a DataError, never a crash."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aicd.config import parse_config
from aicd.data.checks import run_checks
from aicd.data.scan import scan
from aicd.datasets import open_source
from aicd.errors import DataError

CFG = parse_config("data:\n  label: a\n  columns:\n    a: {dtype: int, min: 0}\n    b: {allowed: [x, y]}\n").data
CSVISH = st.lists(st.sampled_from([b"a", b"b", b",", b"\n", b"\r", b'"', b"1", b"-2.5", b"x", b"nan", b"inf", b"\xff",
                                   b"\xc3\xa9", b" ", b"\x00", b"a,b\n"]), max_size=60).map(b"".join)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(content=st.one_of(CSVISH, st.binary(max_size=200)))
def test_random_csv_bytes_never_raise_anything_but_a_data_error(tmp_path, content):
    path = tmp_path / "fuzz.csv"
    path.write_bytes(content)
    try:
        result = scan(open_source(str(path)), CFG)
        run_checks(result, CFG)
    except DataError as exc:
        assert str(exc).startswith(str(path))
    except Exception as exc:  # pragma: no cover - this is the failure the property hunts for
        pytest.fail(f"{type(exc).__name__}: {exc} on {content!r}")
