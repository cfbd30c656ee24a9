"""tracking_file finds the .dvc file or dvc.lock stage that tracks a path, from files alone: the path's
own ``<path>.dvc``, a tracked directory holding it, a stage output relative to its dvc.lock, and None
for everything DVC does not track."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from aicd.datasets import dvc
from aicd.errors import DataError


def dvc_repo(root: Path) -> Path:
    (root / ".dvc").mkdir(parents=True)
    return root


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def dvc_file(path: Path, md5: str = "e5ebd4c02cefbe7955977c67ada242b7") -> Path:
    text = f"outs:\n- md5: {md5}\n  size: 8\n  hash: md5\n  path: {path.name}\n"
    return write(path.with_name(path.name + ".dvc"), text)


LOCK = """schema: '2.0'
stages:
  prepare:
    cmd: python prepare.py
    deps:
    - path: raw/input.csv
      md5: 11111111111111111111111111111111
    outs:
    - path: out/train.csv
      hash: md5
      md5: 764efa883dda1e11db47671c4a3bbd9e
      size: 3
    - path: features
      md5: 22222222222222222222222222222222.dir
"""


def test_a_file_beside_its_dvc_file(tmp_path):
    repo = dvc_repo(tmp_path)
    track = dvc_file(repo / "data" / "x.csv")
    assert dvc.tracking_file(str(repo / "data" / "x.csv")) == track


def test_a_relative_path_is_taken_from_the_working_directory(tmp_path, monkeypatch):
    repo = dvc_repo(tmp_path)
    track = dvc_file(repo / "data" / "x.csv")
    monkeypatch.chdir(repo / "data")
    assert dvc.tracking_file("x.csv") == track
    monkeypatch.chdir(repo)
    assert dvc.tracking_file("./data/../data/x.csv") == track


def test_a_tracked_directory_and_files_inside_it(tmp_path):
    repo = dvc_repo(tmp_path)
    track = dvc_file(repo / "images", md5="a4425c8fadf6a167c8e417ed5d4ca49d.dir")
    assert dvc.tracking_file(str(repo / "images")) == track
    assert dvc.tracking_file(str(repo / "images" / "sub" / "b.txt")) == track
    assert dvc._find_out(str(repo / "images" / "sub" / "b.txt")).md5 == "a4425c8fadf6a167c8e417ed5d4ca49d.dir"


def test_a_stage_output_of_dvc_lock_relative_to_its_folder(tmp_path):
    repo = dvc_repo(tmp_path)
    lock = write(repo / "pipeline" / "dvc.lock", LOCK)
    assert dvc.tracking_file(str(repo / "pipeline" / "out" / "train.csv")) == lock
    assert dvc._find_out(str(repo / "pipeline" / "out" / "train.csv")).md5 == "764efa883dda1e11db47671c4a3bbd9e"
    assert dvc.tracking_file(str(repo / "pipeline" / "features" / "f.parquet")) == lock
    assert dvc.tracking_file(str(repo / "out" / "train.csv")) is None  # relative to pipeline/, not the root


def test_a_dependency_is_not_an_output(tmp_path):
    repo = dvc_repo(tmp_path)
    write(repo / "dvc.lock", LOCK)
    assert dvc.tracking_file(str(repo / "raw" / "input.csv")) is None


def test_the_dvc_file_must_name_the_path(tmp_path):
    repo = dvc_repo(tmp_path)
    write(repo / "data" / "x.csv.dvc", "outs:\n- md5: e5ebd4c02cefbe7955977c67ada242b7\n  path: y.csv\n")
    assert dvc.tracking_file(str(repo / "data" / "x.csv")) is None


def test_the_remote_of_an_output_is_read(tmp_path):
    repo = dvc_repo(tmp_path)
    write(repo / "x.csv.dvc", "outs:\n- md5: e5ebd4c02cefbe7955977c67ada242b7\n  path: x.csv\n  remote: backup\n")
    assert dvc._find_out(str(repo / "x.csv")).remote == "backup"


@pytest.mark.parametrize("name", ["untracked.csv", "data", "."])
def test_untracked_paths(tmp_path, name):
    repo = dvc_repo(tmp_path)
    dvc_file(repo / "data" / "x.csv")
    assert dvc.tracking_file(str(repo / name)) is None


def test_outside_a_dvc_repo_nothing_is_tracked(tmp_path):
    dvc_file(tmp_path / "data" / "x.csv")  # a stray .dvc file, but no .dvc/ folder above it
    assert dvc.tracking_file(str(tmp_path / "data" / "x.csv")) is None


def test_the_nearest_dvc_repo_counts(tmp_path):
    outer = dvc_repo(tmp_path)
    dvc_file(outer / "inner" / "x.csv")
    dvc_repo(outer / "inner")
    assert dvc.tracking_file(str(outer / "inner" / "x.csv")) == outer / "inner" / "x.csv.dvc"
    write(outer / "inner" / "x.csv.dvc", "")  # empty: tracks nothing
    assert dvc.tracking_file(str(outer / "inner" / "x.csv")) is None


def test_a_broken_dvc_file_is_one_data_error(tmp_path):
    repo = dvc_repo(tmp_path)
    write(repo / "x.csv.dvc", "outs: [\n")
    with pytest.raises(DataError) as caught:
        dvc.tracking_file(str(repo / "x.csv"))
    assert "\n" not in str(caught.value) and "x.csv.dvc" in str(caught.value)


def test_it_runs_nothing(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("tracking_file ran a subprocess")

    monkeypatch.setattr(subprocess, "run", refuse)
    monkeypatch.setattr(subprocess, "Popen", refuse)
    repo = dvc_repo(tmp_path)
    write(repo / "dvc.lock", LOCK)
    assert dvc.tracking_file(str(repo / "out" / "train.csv")) == repo / "dvc.lock"


def test_the_remote_comes_from_dvc_config_levels(tmp_path, monkeypatch):
    repo = dvc_repo(tmp_path / "repo")
    monkeypatch.setenv("DVC_GLOBAL_CONFIG_DIR", str(tmp_path / "global"))
    monkeypatch.setenv("DVC_SYSTEM_CONFIG_DIR", str(tmp_path / "system"))
    assert dvc._remote(repo, "") == ("", "")
    write(repo / ".dvc" / "config", "[core]\n    remote = storage\n['remote \"storage\"']\n    url = /srv/dvc\n")
    assert dvc._remote(repo, "") == ("storage", "/srv/dvc")
    write(repo / ".dvc" / "config.local", "['remote \"storage\"']\n    url = s3://bucket/dvc\n")
    write(tmp_path / "global" / "config", "['remote \"backup\"']\n    url = https://dvc.example/store\n")
    assert dvc._remote(repo, "") == ("storage", "s3://bucket/dvc")
    assert dvc._remote(repo, "backup") == ("backup", "https://dvc.example/store")


def test_public_surface_is_pinned():
    assert dvc.__all__ == ["DvcOrigin", "pull", "tracking_file"]
