"""Reading data: every format, and every kind of bad input as one clear line (never a traceback)."""

import gzip

import numpy as np
import pytest

from aicd.datasets import content_hash, open_source, read_frame
from aicd.examples.coffee import CONFIG_PATH as CONFIG
from aicd.examples.coffee import generate
from tests.conftest import run_aicd
from tests.unit.test_cli_errors import assert_one_clear_line


@pytest.mark.parametrize("name", ["d.csv", "d.csv.gz", "d.csv.zst", "d.parquet", "d.jsonl", "d.jsonl.gz"])
def test_every_supported_format_reads_back_the_same_frame(tmp_path, name):
    frame = generate(50)
    path = tmp_path / name
    if ".parquet" in name:
        frame.to_parquet(path)
    elif ".jsonl" in name:
        frame.to_json(path, orient="records", lines=True, compression="infer")
    else:
        frame.to_csv(path, index=False)
    back = read_frame(str(path))
    assert back.shape == frame.shape
    assert back["clicked"].tolist() == frame["clicked"].tolist()


def test_a_glob_of_partitions_is_one_dataset_with_one_version(tmp_path):
    for i in range(3):
        generate(100, seed=i).to_csv(tmp_path / f"part-{i}.csv", index=False)
    source = open_source(str(tmp_path / "part-*.csv"))
    assert [p.name for p in source.files] == ["part-0.csv", "part-1.csv", "part-2.csv"]
    assert sum(b.num_rows for b in source.batches()) == 300
    assert content_hash(source) == content_hash(open_source(str(tmp_path / "part-*.csv")))


def test_content_hash_is_of_the_bytes(tmp_path):
    a, b = tmp_path / "a.csv.gz", tmp_path / "b.csv"
    a.write_bytes(gzip.compress(b"x,y\n1,2\n", mtime=0))
    b.write_bytes(b"x,y\n1,2\n")
    assert content_hash(open_source(str(a))) != content_hash(open_source(str(b)))
    assert len(content_hash(open_source(str(b)))) == 16


BAD = {
    "empty.csv": (b"", "the file is empty"),
    "header.csv": (b"a,b\n", "header but no rows"),
    "ragged.csv": (b"a,b\n1,2\n3\n", "ragged rows"),
    "latin1.csv": (b"name,n\ncaf\xe9,1\n", "not UTF-8 text"),
    "dupes.csv": (b"a,a\n1,2\n", "duplicate column names: a"),
    "corrupt.csv.gz": (b"\x1f\x8b\x08\x00garbage", "cannot read CSV"),
    "table.xlsx": (b"PK", "unsupported file type"),
    "empty.jsonl": (b"", "the JSON Lines file has no rows"),
    "turns.jsonl": (b'{"a": 1}\n' * 30000 + b'{"a": "one"}\n', "changed from number to string in row"),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_files_are_one_clear_line(tmp_path, name):
    content, needle = BAD[name]
    (tmp_path / name).write_bytes(content)
    assert_one_clear_line(run_aicd("validate", "--data", str(tmp_path / name)), name, needle)


def test_json_lines_are_streamed_in_blocks(tmp_path):
    path = tmp_path / "big.jsonl"
    path.write_text("".join(f'{{"i": {i}, "s": "row {i}"}}\n' for i in range(120_000)))  # ~3 MB: several blocks
    source = open_source(str(path))
    batches = list(source.batches())
    assert len(batches) > 1 and sum(b.num_rows for b in batches) == 120_000
    assert batches[-1].column("i")[-1].as_py() == 119_999


def test_a_glob_matching_nothing(tmp_path):
    assert_one_clear_line(run_aicd("validate", "--data", str(tmp_path / "*.csv")), "no file matches the glob")


def test_mixed_types_in_a_declared_column(tmp_path):
    (tmp_path / "d.csv").write_text("a,b\n1,2\n3,x\n")
    (tmp_path / "aicd.yml").write_text("data:\n  columns:\n    b: {dtype: int}\n")
    result = run_aicd("validate", "--data", str(tmp_path / "d.csv"), "--config", str(tmp_path / "aicd.yml"))
    assert_one_clear_line(result, "`b` has type str, expected int")


def test_nan_is_missing_and_inf_is_refused(tmp_path):
    rows = "\n".join(f"{i},{'inf' if i == 3 else i / 2}" for i in range(100))
    (tmp_path / "d.csv").write_text("a,b\n" + rows + "\n")
    assert_one_clear_line(run_aicd("validate", "--data", str(tmp_path / "d.csv")), "`b` has 1 infinite values")
    rows = "\n".join(f"{i},{'nan' if i < 10 else i}" for i in range(100))
    (tmp_path / "n.csv").write_text("a,b\n" + rows + "\n")
    assert_one_clear_line(run_aicd("validate", "--data", str(tmp_path / "n.csv")), "`b` is 10.0% missing")


def test_a_reference_with_different_columns(tmp_path):
    generate(100).to_csv(tmp_path / "d.csv", index=False)
    generate(100).drop(columns=["hour"]).to_csv(tmp_path / "r.csv", index=False)
    result = run_aicd("validate", "--data", str(tmp_path / "d.csv"), "--reference", str(tmp_path / "r.csv"))
    assert_one_clear_line(result, "the reference has different columns", "only in data: ['hour']")


def test_validate_never_imports_pandas(tmp_path):
    """pandas costs 0.6-0.8 s to import: a plain data gate run must not pay it (see aicd.data.arrow)."""
    import subprocess
    import sys

    from tests.conftest import SHARED

    generate(300).to_csv(tmp_path / "d.csv", index=False)
    generate(300, seed=3).to_csv(tmp_path / "r.csv", index=False)
    code = ("import sys; from aicd.cli import main; "
            f"code = main(['validate', '--data', {str(tmp_path / 'd.csv')!r}, '--reference', "
            f"{str(tmp_path / 'r.csv')!r}, '--config', {str(CONFIG)!r}, '--report', {str(tmp_path / 'r.json')!r}]); "
            "assert code == 0, code; assert 'pandas' not in sys.modules, 'pandas was imported'")
    proc = subprocess.run([sys.executable, "-c", code], env={"PYTHONPATH": str(SHARED), "RUNNER_TEMP": str(tmp_path)},
                          capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_a_large_csv_is_read_as_parallel_ranges_with_the_same_result(tmp_path, monkeypatch):
    from aicd.config import parse_config
    from aicd.data.scan import scan
    from aicd.datasets import files as source_module

    frame = generate(6000, missing={"avg_spend": 0.02})
    frame.to_csv(tmp_path / "d.csv", index=False)
    cfg = parse_config(CONFIG.read_text()).data
    whole = scan(open_source(str(tmp_path / "d.csv")), cfg)
    monkeypatch.setattr(source_module, "SPLIT_BYTES", 1000)  # force the split on a small file
    parts = open_source(str(tmp_path / "d.csv")).parts()
    assert len(parts) == 2 and parts[0].end == parts[1].start
    split = scan(open_source(str(tmp_path / "d.csv")), cfg)
    assert split.rows == whole.rows == 6000
    for name, col in whole.columns.items():
        other = split.columns[name]
        assert (col.nulls, col.min, col.max, col.counts, col.kind) == (
            other.nulls, other.min, other.max, other.counts, other.kind), name
    assert sorted(split.sample["age"]) == sorted(frame["age"].astype(float))  # all rows fit the sample


def test_a_large_parquet_file_is_read_as_runs_of_row_groups_with_the_same_result(tmp_path, monkeypatch):
    from aicd.config import parse_config
    from aicd.data.scan import scan
    from aicd.datasets import files as source_module

    frame = generate(6000, missing={"avg_spend": 0.02})
    frame.to_parquet(tmp_path / "d.parquet", row_group_size=1000)  # six row groups
    cfg = parse_config(CONFIG.read_text()).data
    whole = scan(open_source(str(tmp_path / "d.parquet")), cfg)
    monkeypatch.setattr(source_module, "SPLIT_BYTES", 1000)  # force the split on a small file
    parts = open_source(str(tmp_path / "d.parquet")).parts()
    assert [p.row_groups for p in parts] == [(0, 1, 2), (3, 4, 5)]
    assert sum(b.num_rows for p in parts for b in p.batches()) == 6000
    split = scan(open_source(str(tmp_path / "d.parquet")), cfg)
    assert split.rows == whole.rows == 6000
    for name, col in whole.columns.items():
        other = split.columns[name]
        assert (col.nulls, col.nans, col.min, col.max, col.counts, col.kind, col.below, col.above, col.not_allowed) == (
            other.nulls, other.nans, other.min, other.max, other.counts, other.kind, other.below, other.above,
            other.not_allowed), name
    assert sorted(split.sample["age"]) == sorted(frame["age"].astype(float))  # all rows fit the sample


def test_parts_that_know_their_rows_draw_the_same_sample_as_streaming_parts(tmp_path, monkeypatch):
    """Parquet runs know their rows, so the sample is planned (the cutoff known before reading); it
    must be the same rows the streaming bottom-k keeps, batch by batch, from the same seeded priorities."""
    import dataclasses

    from aicd.config import parse_config
    from aicd.data.scan import scan
    from aicd.datasets import files as source_module

    frame = generate(9000, missing={"avg_spend": 0.02})
    frame.to_parquet(tmp_path / "d.parquet", row_group_size=1000)
    cfg = parse_config(CONFIG.read_text()).data
    monkeypatch.setattr(source_module, "SPLIT_BYTES", 1000)
    monkeypatch.setattr(source_module, "PARQUET_BATCH_ROWS", 700)  # several batches per part, cut off-grid
    source = open_source(str(tmp_path / "d.parquet"))
    assert [p.rows for p in source.parts()] == [5000, 4000]
    planned = scan(source, cfg, sample_rows=1500, seed=3)

    class Streaming:  # the same parts, not telling their rows
        spec = source.spec

        def parts(self, types=None):
            return [dataclasses.replace(p, rows=None) for p in source.parts(types)]

    streamed = scan(Streaming(), cfg, sample_rows=1500, seed=3)
    for name in ("age", "avg_spend"):
        assert len(planned.sample[name]) == 1500
        np.testing.assert_array_equal(np.sort(planned.sample[name]), np.sort(streamed.sample[name]))
    assert not np.array_equal(np.sort(planned.sample["age"]), np.sort(frame["age"].to_numpy(float))[:1500])


def test_a_parquet_file_of_one_row_group_is_one_part(tmp_path, monkeypatch):
    from aicd.datasets import files as source_module

    generate(500).to_parquet(tmp_path / "d.parquet")
    monkeypatch.setattr(source_module, "SPLIT_BYTES", 1000)
    assert [p.row_groups for p in open_source(str(tmp_path / "d.parquet")).parts()] == [(0,)]


def test_parquet_partitions_that_disagree_are_one_clear_line(tmp_path, monkeypatch):
    """Split into row groups or not, partitions with other columns or types are refused in one line."""
    from aicd.config import parse_config
    from aicd.data.scan import scan
    from aicd.datasets import files as source_module
    from aicd.errors import DataError

    generate(3000).to_parquet(tmp_path / "part-0.parquet", row_group_size=500)
    generate(3000, seed=1).drop(columns=["hour"]).to_parquet(tmp_path / "part-1.parquet", row_group_size=500)
    result = run_aicd("validate", "--data", str(tmp_path / "part-*.parquet"), "--config", str(CONFIG))
    assert_one_clear_line(result, "columns differ between files", "part-*.parquet")
    monkeypatch.setattr(source_module, "SPLIT_BYTES", 1000)
    other = generate(3000, seed=2)
    other["age"] = other["age"].astype(str)
    other.to_parquet(tmp_path / "part-1.parquet", row_group_size=500)
    with pytest.raises(DataError) as caught:
        scan(open_source(str(tmp_path / "part-*.parquet")), parse_config(CONFIG.read_text()).data)
    assert "column `age` is int in one part of the data and str in another" in str(caught.value)
    assert "\n" not in str(caught.value)


def test_the_planned_sample_needs_memory_for_the_sample_not_for_the_rows():
    """The cutoff is found a chunk of priorities at a time, kept to the k smallest: the same cutoff as
    partitioning every priority at once, without holding them all."""
    import tracemalloc

    from aicd.data import scan as scan_module

    sizes, k = [6_000_000, 5_000_000], 1000
    everything = np.concatenate([np.random.default_rng((7, i)).random(n) for i, n in enumerate(sizes)])
    expected = float(np.partition(everything, k - 1)[k - 1])
    del everything
    tracemalloc.start()
    cutoff = scan_module._cutoff(sizes, k, 7)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert cutoff == expected and peak < 4 * scan_module.PLAN_CHUNK * 8  # a few chunks, not 11M priorities (88 MB)
    assert scan_module._cutoff([10, 20], 100, 7) == np.inf
