import gzip

import pytest

from aicd.data.io import content_hash, read_table
from aicd.errors import DataError
from aicd.examples.coffee import generate


@pytest.mark.parametrize("name", ["d.csv", "d.csv.gz", "d.csv.zst", "d.parquet", "d.jsonl"])
def test_every_supported_format_reads_back_the_same_frame(tmp_path, name):
    frame = generate(50)
    path = tmp_path / name
    if name.endswith(".parquet"):
        frame.to_parquet(path)
    elif name.endswith(".jsonl"):
        frame.to_json(path, orient="records", lines=True)
    else:
        frame.to_csv(path, index=False)
    back = read_table(path)
    assert back.shape == frame.shape
    assert back["clicked"].tolist() == frame["clicked"].tolist()


def test_unsupported_extension_and_empty_file(tmp_path):
    (tmp_path / "d.xlsx").write_text("x")
    with pytest.raises(DataError, match="unsupported file type"):
        read_table(tmp_path / "d.xlsx")
    (tmp_path / "e.csv").write_text("")
    with pytest.raises(DataError, match="cannot parse CSV"):
        read_table(tmp_path / "e.csv")


def test_content_hash_is_of_the_bytes(tmp_path):
    a, b = tmp_path / "a.csv.gz", tmp_path / "b.csv"
    a.write_bytes(gzip.compress(b"x,y\n1,2\n", mtime=0))
    b.write_bytes(b"x,y\n1,2\n")
    assert content_hash(a) != content_hash(b)
    assert len(content_hash(b)) == 16 and content_hash(b) == content_hash(b)
