"""The data gate reading s3:// (and gs://, az:// where an emulator runs) through pyarrow's file systems,
against real servers the fixtures start: credentials from the environment as each SDK takes them,
the same bytes giving the same data-version as a local copy, and each failure one line."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from aicd.datasets import content_hash, open_files
from tests.conftest import run_aicd
from tests.unit.test_cli_errors import assert_one_clear_line
from tests.unit.test_gha import parse_output_file

ROWS = pa.table({"id": list(range(2000)), "score": [i / 7 for i in range(2000)],
                 "plan": ["basic", "pro"] * 1000, "label": [i % 3 == 0 for i in range(2000)]})


def put(server, bucket: str, keys: list[str], tmp_path) -> None:
    fs = server.filesystem()
    server.create_bucket(bucket)
    for i, key in enumerate(keys):
        pq.write_table(ROWS.slice(i * 500, 500), f"{bucket}/{key}", filesystem=fs)
        pq.write_table(ROWS.slice(i * 500, 500), str(tmp_path / key.split("/")[-1]))


def validate(tmp_path, data: str, env: dict[str, str], runner: bool = False):
    (tmp_path / "out.txt").write_text("")
    (tmp_path / "aicd.yml").write_text("data:\n  label: label\n  positive: true\n  min-positive-share: 0.2\n")
    return run_aicd("validate", "--data", data, "--config", str(tmp_path / "aicd.yml"), "--report",
                    str(tmp_path / "r.json"), cwd=tmp_path,
                    env={**env, "RUNNER_TEMP": str(tmp_path), "GITHUB_OUTPUT": str(tmp_path / "out.txt"),
                         **({"GITHUB_ACTIONS": "true"} if runner else {})})


def test_an_s3_glob_is_checked_with_the_version_of_its_local_copy(s3_server, tmp_path):
    put(s3_server, "lake", ["behaviour/day=1/part-0.parquet", "behaviour/day=2/part-1.parquet"], tmp_path)
    result = validate(tmp_path, "s3://lake/behaviour/*/part-*.parquet", s3_server.env, runner=True)
    assert result.code == 0, result.output
    assert f"::add-mask::{s3_server.env['AWS_SECRET_ACCESS_KEY']}" in result.stdout
    outputs = parse_output_file((tmp_path / "out.txt").read_text())
    assert outputs["data-version"] == content_hash(open_files(str(tmp_path / "part-*.parquet")))
    assert json.loads((tmp_path / "r.json").read_text())["rows"] == 1000
    assert not list(tmp_path.glob("aicd-data-*")), "the spool is removed when the step ends"


@pytest.mark.parametrize(("data", "change", "needles"), [
    ("s3://lake/behaviour/missing.parquet", {}, ("s3://lake/behaviour/missing.parquet", "no such object")),
    ("s3://no-such-bucket/x.parquet", {}, ("s3://no-such-bucket/x.parquet",)),
    ("s3://lake/behaviour/*.csv", {}, ("no object matches the glob",)),
    ("s3://lake/behaviour/day=1/part-0.parquet", {"AWS_SECRET_ACCESS_KEY": "wrong-secret"},
     ("s3://lake/behaviour/day=1/part-0.parquet", "access refused")),
    ("s3://lake/behaviour/day=1/part-0.parquet", {"AWS_ENDPOINT_URL": "http://127.0.0.1:1"},
     ("s3://lake/behaviour/day=1/part-0.parquet", "cannot read")),
])
def test_each_storage_failure_is_one_line_naming_the_url(s3_server, tmp_path, data, change, needles):
    put(s3_server, "lake", ["behaviour/day=1/part-0.parquet"], tmp_path)
    line = assert_one_clear_line(validate(tmp_path, data, {**s3_server.env, **change}), *needles)
    assert "wrong-secret" not in line


def test_a_gs_object_is_read_through_the_emulator_google_sdks_use(gcs_server, tmp_path):
    put(gcs_server, "warehouse", ["exports/rows.parquet"], tmp_path)
    result = validate(tmp_path, "gs://warehouse/exports/rows.parquet", gcs_server.env)
    assert result.code == 0, result.output
    outputs = parse_output_file((tmp_path / "out.txt").read_text())
    assert outputs["data-version"] == content_hash(open_files(str(tmp_path / "rows.parquet")))
    missing = validate(tmp_path, "gs://warehouse/exports/other.parquet", gcs_server.env)
    assert_one_clear_line(missing, "gs://warehouse/exports/other.parquet", "no such object")
