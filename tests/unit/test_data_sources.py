"""The source kinds behind open_source: SQL through SQLAlchemy (a real SQLite file), object URLs'
settings from the environment, and lineage records (pure)."""

from __future__ import annotations

import json
import sqlite3

import pyarrow as pa
import pytest

from aicd.datasets import content_hash, open_source, read_frame
from aicd.datasets import objects as obj
from aicd.datasets.sql import is_query
from aicd.errors import ConfigError, DataError, ServiceError
from aicd.lineage import DatasetRecord, Lineage, dataset_record, render, with_deployment


@pytest.fixture
def sqlite_url(tmp_path):
    db = tmp_path / "behaviour.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE events (id INTEGER, amount REAL, plan TEXT, note TEXT)")
        conn.executemany("INSERT INTO events VALUES (?, ?, ?, ?)",
                         [(i, i * 1.5, "pro" if i % 3 else "basic", None if i < 5000 else f"n{i}")
                          for i in range(12_000)])
    return f"sqlite:///{db}"


def test_a_sqlite_query_streams_in_batches_and_keeps_one_schema(sqlite_url, tmp_path):
    env = {"AICD_DATABASE_URL": sqlite_url}
    said = []
    source = open_source("sql: SELECT * FROM events ORDER BY id", env=env, say=said.append)
    frame = read_frame(source)
    assert len(frame) == 12_000 and frame["note"].isna().sum() == 5000  # all NULL in the first batches: text
    assert source.origin["kind"] == "sql" and source.origin["uri"] == sqlite_url
    assert any("12,000 rows" in line for line in said)
    again = open_source("sql:   SELECT * FROM events ORDER BY id  ;", env=env)
    assert content_hash(again) == content_hash(source)


def test_sql_failures_are_one_line_each(sqlite_url, tmp_path):
    env = {"AICD_DATABASE_URL": sqlite_url}
    with pytest.raises(DataError, match=r"the query failed .*no such table: nope"):
        open_source("sql: SELECT * FROM nope", env=env)
    with pytest.raises(DataError, match="returned no rows"):
        open_source("sql: SELECT * FROM events WHERE id < 0", env=env)
    with pytest.raises(ConfigError, match=r"\$AICD_DATABASE_URL is not set"):
        open_source("sql: SELECT 1", env={})
    masked = []
    with pytest.raises(ConfigError, match="is not a SQLAlchemy URL") as bad:
        open_source("sql: SELECT 1", env={"AICD_DATABASE_URL": "::not a url::"}, mask=masked.append)
    assert "not a url" not in str(bad.value) and masked == ["::not a url::"]
    with pytest.raises(ConfigError, match="no SQLAlchemy driver"):
        open_source("sql: SELECT 1", env={"AICD_DATABASE_URL": "mysql://u:pw@localhost/db"})
    with pytest.raises(DataError, match="query file not found"):
        open_source(str(tmp_path / "nightly.sql"), env=env)
    (tmp_path / "blank.sql").write_text("-- nothing yet\n;")
    with pytest.raises(DataError, match="returns no result set"):
        open_source(str(tmp_path / "blank.sql"), env=env)


def test_what_counts_as_a_query():
    assert is_query("queries/x.sql") and is_query("  SQL: select 1") and is_query("sql:select 1")
    assert not is_query("data/sql.csv") and not is_query("s3://b/k.parquet")


def test_object_urls_take_their_settings_from_the_environment_like_the_sdks():
    assert obj.is_object_url("s3://b/k.parquet") and obj.is_object_url("AZ://c/p") and not obj.is_object_url("s3:x")
    assert obj._s3_options({"AWS_ENDPOINT_URL": "http://127.0.0.1:9000", "AWS_REGION": "eu-west-1"}) == {
        "endpoint_override": "127.0.0.1:9000", "scheme": "http", "region": "eu-west-1"}
    assert obj._s3_options({"AWS_ENDPOINT_URL_S3": "https://s3.acme.io", "AWS_ENDPOINT_URL": "http://other"})[
        "endpoint_override"] == "s3.acme.io"
    assert obj._gcs_options({"STORAGE_EMULATOR_HOST": "localhost:4443"}) == {
        "anonymous": True, "endpoint_override": "localhost:4443", "scheme": "http"}
    masked = []
    options = obj._azure_options({"AZURE_STORAGE_CONNECTION_STRING": "DefaultEndpointsProtocol=http;AccountName=dev;"
                                  "AccountKey=c2VjcmV0;BlobEndpoint=http://127.0.0.1:10000/dev;"}, masked.append)
    assert options["account_name"] == "dev" and options["account_key"] == "c2VjcmV0" and masked == ["c2VjcmV0"]
    assert options["blob_storage_authority"] == "127.0.0.1:10000" and options["blob_storage_scheme"] == "http"
    with pytest.raises(DataError, match="needs the storage account"):
        obj._azure_options({}, masked.append)
    assert obj._fixed_prefix("events/day=*/part-*.parquet") == "events" and obj._fixed_prefix("*.csv") == ""
    with pytest.raises(DataError, match="names a bucket and a key"):
        obj._split("s3://bucket-only")


@pytest.mark.parametrize(("message", "kind"), [
    ("AWS Error NO_SUCH_BUCKET during ListObjectsV2 operation: The specified bucket does not exist", DataError),
    ("AWS Error ACCESS_DENIED during HeadObject operation: No response body.", ServiceError),
    ("AWS Error NETWORK_CONNECTION during HeadObject operation: curlCode: 7, Couldn't connect to server", ServiceError),
])
def test_storage_errors_are_classified(message, kind):
    error = obj._storage_error("s3://b/k.parquet", OSError(message))
    assert isinstance(error, kind) and "s3://b/k.parquet" in str(error)
    if kind is ServiceError:
        assert error.retryable == ("NETWORK" in message)


def test_a_dataset_record_is_what_mlflow_shows(tmp_path):
    record = dataset_record("data/day=*/events.parquet", {"kind": "s3", "uri": "s3://lake/events.parquet"},
                            "0123456789abcdef", {"id": "int64", "amount": "float64", "ok": "bool", "at":
                                                 "datetime64[ns]", "plan": "object"}, 42)
    assert record.name == "events" and record.source_type == "s3" and record.digest == "0123456789abcdef"
    spec = json.loads(record.schema)["mlflow_colspec"]
    assert [c["type"] for c in spec] == ["long", "double", "boolean", "datetime", "string"]
    assert json.loads(record.profile) == {"num_rows": 42, "num_columns": 5}
    assert record.origin == {"kind": "s3", "uri": "s3://lake/events.parquet"}


def test_the_deployments_tag_stays_within_mlflows_limit():
    value = None
    for n in range(200):
        value = with_deployment(value, {"target": "kubernetes", "deployment": "acme/" + "x" * 100, "revision": n})
        assert len(value) <= 5000
    kept = json.loads(value)
    assert kept[-1]["revision"] == 199 and len(kept) <= 20
    assert json.loads(with_deployment("not json", {"revision": 1})) == [{"revision": 1}]


def test_lineage_renders_each_stage_on_one_line_and_text_stays_inert():
    data = DatasetRecord("nightly", "ab" * 8, "sql", json.dumps({"kind": "sql", "uri": "postgresql://r:***@db/b",
                                                                 "query": "queries/nightly.sql\n::warning::x"}),
                         "", "")
    text = render(Lineage("models:/churn/7", "run1", [data], {"aicd.git_sha": "f" * 40, "aicd.gate": "passed"},
                          [{"target": "docker", "deployment": "churn", "revision": 3, "image": "reg/churn:7-fff",
                            "at": "2026-11-24T09:00:00Z", "command": "deploy"}]))
    lines = text.splitlines()
    assert lines[0].startswith("data      abababababababab  queries/nightly.sql")
    assert lines[-2:] == ["image     reg/churn:7-fff", "revision  r3  churn (docker), deploy at 2026-11-24T09:00:00Z"]
    assert "(never deployed)" in render(Lineage("models:/m/1", "r", [], {}))


def test_an_arrow_file_is_a_dataset(tmp_path):
    table = pa.table({"a": [1, 2, 3], "b": ["x", "y", None]})
    with pa.OSFile(str(tmp_path / "t.arrow"), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    assert read_frame(str(tmp_path / "t.arrow"))["a"].tolist() == [1, 2, 3]


def test_object_globs_match_as_local_globs_do():
    match = obj._glob_regex("b/data/*.parquet").fullmatch
    assert match("b/data/x.parquet") and not match("b/data/archive/old.parquet")
    deep = obj._glob_regex("b/data/**/part-?.parquet").fullmatch
    assert deep("b/data/part-1.parquet") and deep("b/data/d=1/h=2/part-3.parquet")
    assert not deep("b/data/oldpart-1.parquet")
    visible = obj._glob_regex("b/[!_]*.csv").fullmatch
    assert visible("b/x.csv") and not visible("b/_x.csv")


def test_credentials_in_a_urls_query_are_masked_and_never_shown(sqlite_url):
    from aicd.datasets.sql import ADBC_DIALECTS, open_query

    masked = []
    query = open_query("sql: SELECT 1", {"AICD_DATABASE_URL": "postgres://u:pw1@db:5432/x?password=pw2&sslmode=require"},
                       mask=masked.append)
    assert masked == ["pw1", "pw2"] and query.dialect in ADBC_DIALECTS
    assert query.shown == "postgres://u:***@db:5432/x?sslmode=require"


def test_sql_text_with_colons_is_sent_as_written(sqlite_url):
    source = open_source("""sql: SELECT '{"a":1}' AS doc, 'x:y' AS pair FROM events LIMIT 3""",
                         env={"AICD_DATABASE_URL": sqlite_url})
    assert read_frame(source)["doc"].tolist() == ['{"a":1}'] * 3


def test_a_long_data_version_fits_mlflows_digest():
    record = dataset_record("d.csv", {"kind": "file"}, "f" * 64, {}, 1)
    assert len(record.digest) == 32 and dataset_record("d.csv", {"kind": "file"}, "a" * 16, {}, 1).digest == "a" * 16
