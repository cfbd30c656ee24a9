"""aicd.datasets.dvc.pull against real DVC: a git repo with ``dvc init``, a local directory remote, data
added, pushed and committed twice; then the workspace copy is taken away, the commit changed, the
remote emptied or forgotten, and pull must restore the right bytes or fail with one line."""

from __future__ import annotations

import hashlib
import shutil
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from aicd.datasets import dvc
from aicd.errors import DataError, ServiceError
from tests.conftest import ROOT

V1, V2 = b"a,b\n1,2\n", b"a,b\n3,4\n5,6\n"


@dataclass
class Repo:
    root: Path
    remote: Path
    dvc: Path
    commits: list[str]

    def run(self, *cmd: str) -> str:
        return subprocess.run(cmd, cwd=self.root, capture_output=True, text=True, check=True, timeout=120).stdout

    def md5(self, dvc_file: str) -> str:
        return yaml.safe_load((self.root / dvc_file).read_text())["outs"][0]["md5"]

    def forget_local_copies(self, *paths: str) -> None:
        """Leave only the remote: no workspace copy, no DVC cache."""
        shutil.rmtree(self.root / ".dvc" / "cache", ignore_errors=True)
        for path in paths:
            target = self.root / path
            shutil.rmtree(target) if target.is_dir() else target.unlink()


@pytest.fixture(scope="session")
def dvc_venv() -> Path:
    out = subprocess.run([str(ROOT / "shared/bin/aicd-venv"), str(ROOT / "requirements/dvc.lock")],
                         capture_output=True, text=True, check=True, timeout=900)
    return Path(out.stdout.strip())


@pytest.fixture(autouse=True)
def isolated_dvc(tmp_path, monkeypatch):
    """No DVC or git config from this machine; no analytics."""
    for name, value in {"DVC_GLOBAL_CONFIG_DIR": tmp_path / "dvc-global", "DVC_SYSTEM_CONFIG_DIR": tmp_path / "dvc-sys",
                        "DVC_SITE_CACHE_DIR": tmp_path / "dvc-site", "DVC_NO_ANALYTICS": "1",
                        "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1", "GIT_AUTHOR_NAME": "t",
                        "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
                        "GIT_COMMITTER_EMAIL": "t@example.com"}.items():
        monkeypatch.setenv(name, str(value))


@pytest.fixture
def repo(tmp_path, dvc_venv, monkeypatch) -> Repo:
    """data/x.csv added at V1 and committed, then changed to V2 and committed; both pushed."""
    root, remote = tmp_path / "repo", tmp_path / "remote"
    (root / "data").mkdir(parents=True)
    made = Repo(root, remote, dvc_venv / "bin" / "dvc", [])
    made.run("git", "init", "-q", "-b", "main")
    made.run(str(made.dvc), "init", "-q")
    made.run(str(made.dvc), "remote", "add", "-d", "storage", str(remote))
    for content in (V1, V2):
        (root / "data" / "x.csv").write_bytes(content)
        made.run(str(made.dvc), "add", "-q", "data/x.csv")
        made.run(str(made.dvc), "push", "-q")
        made.run("git", "add", "-A")
        made.run("git", "commit", "-q", "-m", f"data {len(made.commits) + 1}")
        made.commits.append(made.run("git", "rev-parse", "HEAD").strip())
    monkeypatch.chdir(root)
    return made


def test_pull_restores_a_deleted_file(repo):
    repo.forget_local_copies("data/x.csv")
    said: list[str] = []
    origin = dvc.pull("data/x.csv", said.append)
    assert (repo.root / "data" / "x.csv").read_bytes() == V2
    assert origin == dvc.DvcOrigin("data/x.csv", repo.md5("data/x.csv.dvc"), repo.commits[1],
                                   f"storage ({repo.remote})")
    assert origin.md5 == hashlib.md5(V2).hexdigest()
    assert len(said) == 1 and "data/x.csv" in said[0] and "storage" in said[0]


def test_pull_when_the_copy_already_matches_changes_nothing(repo):
    before = (repo.root / "data" / "x.csv").stat()
    origin = dvc.pull(str(repo.root / "data" / "x.csv"))
    assert origin.md5 == hashlib.md5(V2).hexdigest() and origin.path == str(repo.root / "data" / "x.csv")
    assert (repo.root / "data" / "x.csv").stat().st_mtime_ns == before.st_mtime_ns


def test_an_older_commit_gets_its_older_bytes(repo):
    repo.run("git", "checkout", "-q", repo.commits[0])
    origin = dvc.pull("data/x.csv")  # the workspace holds V2, which the local cache keeps: DVC swaps it
    assert (repo.root / "data" / "x.csv").read_bytes() == V1
    assert origin.md5 == hashlib.md5(V1).hexdigest() == repo.md5("data/x.csv.dvc")
    assert origin.rev == repo.commits[0]


def test_an_older_commit_comes_from_the_remote(repo):
    repo.run("git", "checkout", "-q", repo.commits[0])
    repo.forget_local_copies("data/x.csv")  # a fresh runner: the checkout's .dvc file and the remote
    assert dvc.pull("data/x.csv").md5 == hashlib.md5(V1).hexdigest()
    assert (repo.root / "data" / "x.csv").read_bytes() == V1


def test_a_changed_copy_that_dvc_does_not_keep_is_not_overwritten(repo):
    repo.forget_local_copies()
    (repo.root / "data" / "x.csv").write_bytes(b"a,b\n9,9\n")  # edited, never `dvc add`ed
    with pytest.raises(DataError) as caught:
        dvc.pull("data/x.csv")
    assert "\n" not in str(caught.value) and str(caught.value).startswith("data/x.csv: ")
    assert "differs from the committed version" in str(caught.value) and "`dvc add`" in caught.value.hint
    assert (repo.root / "data" / "x.csv").read_bytes() == b"a,b\n9,9\n"


def test_an_object_missing_on_the_remote_is_one_data_error(repo):
    md5 = repo.md5("data/x.csv.dvc")
    (repo.remote / "files" / "md5" / md5[:2] / md5[2:]).unlink()
    repo.forget_local_copies("data/x.csv")
    with pytest.raises(DataError) as caught:
        dvc.pull("data/x.csv")
    message = str(caught.value)
    assert "\n" not in message, message
    assert message.startswith("data/x.csv: ") and f"storage ({repo.remote})" in message and md5 in message
    assert "`dvc push`" in caught.value.hint


def test_no_remote_configured_is_one_data_error(repo):
    repo.run(str(repo.dvc), "remote", "remove", "storage")
    repo.forget_local_copies("data/x.csv")
    with pytest.raises(DataError) as caught:
        dvc.pull("data/x.csv")
    assert "\n" not in str(caught.value) and str(caught.value).startswith("data/x.csv: no DVC remote")
    assert "dvc remote add -d" in caught.value.hint


def test_an_output_naming_an_unknown_remote_is_one_data_error(repo):
    dvc_file = repo.root / "data" / "x.csv.dvc"
    dvc_file.write_text(dvc_file.read_text().replace("  path: x.csv", "  path: x.csv\n  remote: backup"))
    repo.forget_local_copies("data/x.csv")
    with pytest.raises(DataError) as caught:
        dvc.pull("data/x.csv")
    assert str(caught.value).startswith("data/x.csv: DVC remote not configured: ") and "'backup'" in str(caught.value)


def test_no_remote_is_fine_while_the_copy_matches(repo):
    repo.run(str(repo.dvc), "remote", "remove", "storage")
    origin = dvc.pull("data/x.csv")
    assert origin.remote == "" and origin.md5 == hashlib.md5(V2).hexdigest()


def test_a_tracked_directory_and_a_file_inside_it(repo):
    images = repo.root / "images"
    (images / "sub").mkdir(parents=True)
    (images / "a.txt").write_text("one\n")
    (images / "sub" / "b.txt").write_text("two\n")
    repo.run(str(repo.dvc), "add", "-q", "images")
    repo.run(str(repo.dvc), "push", "-q")
    repo.run("git", "add", "-A")
    repo.run("git", "commit", "-q", "-m", "images")
    repo.forget_local_copies("images")
    origin = dvc.pull("images")
    assert (images / "a.txt").read_text() == "one\n" and (images / "sub" / "b.txt").read_text() == "two\n"
    assert origin.md5 == repo.md5("images.dvc") and origin.md5.endswith(".dir")
    repo.forget_local_copies("images")
    assert dvc.pull("images/sub/b.txt").md5 == origin.md5
    assert (images / "sub" / "b.txt").read_text() == "two\n"


def test_a_stage_output_of_dvc_lock(repo):
    (repo.root / "dvc.yaml").write_text("stages:\n  make:\n    cmd: mkdir -p out && printf 'c\\n7\\n' > out/y.csv\n"
                                        "    outs:\n    - out/y.csv\n")
    repo.run(str(repo.dvc), "repro", "-q")
    repo.run(str(repo.dvc), "push", "-q")
    repo.forget_local_copies("out/y.csv")
    origin = dvc.pull("out/y.csv")
    assert (repo.root / "out" / "y.csv").read_text() == "c\n7\n"
    assert origin.md5 == hashlib.md5(b"c\n7\n").hexdigest()


def test_an_unreachable_remote_is_a_retryable_service_error(repo):
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    repo.run(str(repo.dvc), "remote", "add", "-d", "-f", "web", f"http://127.0.0.1:{port}/dvc")
    repo.forget_local_copies("data/x.csv")
    with pytest.raises(ServiceError) as caught:
        dvc.pull("data/x.csv")
    assert caught.value.retryable and "\n" not in str(caught.value)
    assert str(caught.value).startswith(f"dvc remote web (http://127.0.0.1:{port}/dvc): not reachable: ")


def test_a_local_remote_folder_that_is_gone_is_a_service_error(repo):
    shutil.rmtree(repo.remote)
    repo.forget_local_copies("data/x.csv")
    with pytest.raises(ServiceError) as caught:
        dvc.pull("data/x.csv")
    assert caught.value.retryable and f"folder {repo.remote} does not exist" in str(caught.value)


def test_an_untracked_path_runs_nothing(repo, monkeypatch):
    (repo.root / "data" / "plain.csv").write_bytes(V1)
    monkeypatch.setattr(subprocess, "run", lambda *args, **kwargs: pytest.fail(f"ran {args}"))
    with pytest.raises(DataError) as caught:
        dvc.pull("data/plain.csv")
    assert str(caught.value).startswith("data/plain.csv: not tracked by DVC")


def test_outside_git_the_revision_is_empty(tmp_path, dvc_venv, monkeypatch):
    root = tmp_path / "plain"
    root.mkdir()
    run = [str(dvc_venv / "bin" / "dvc")]
    subprocess.run([*run, "init", "-q", "--no-scm"], cwd=root, check=True, capture_output=True, timeout=120)
    (root / "x.csv").write_bytes(V1)
    subprocess.run([*run, "add", "-q", "x.csv"], cwd=root, check=True, capture_output=True, timeout=120)
    origin = dvc.pull(str(root / "x.csv"))
    assert origin.rev == "" and origin.md5 == hashlib.md5(V1).hexdigest() and origin.remote == ""


def test_dvc_that_cannot_be_installed_names_the_package_index(tmp_path, monkeypatch, repo):
    lock = tmp_path / "dvc.lock"
    lock.write_text("aicd-no-such-package==0.0.1 \\\n    --hash=sha256:" + "0" * 64 + "\n")
    monkeypatch.setattr(dvc, "_DVC_LOCK", lock)
    monkeypatch.setenv("AICD_CACHE_DIR", str(tmp_path / "cache"))
    with pytest.raises(ServiceError) as caught:
        dvc.pull("data/x.csv")
    assert caught.value.service == "package index" and caught.value.retryable and "\n" not in str(caught.value)


def test_the_data_gate_reads_a_dvc_path_at_the_checkouts_version_and_train_records_its_lineage(repo, mlflow_server):
    """Through the CLI as a workflow runs it: the workspace copy gone, the older commit checked out."""
    import json

    from tests.conftest import run_aicd

    repo.run("git", "checkout", "-q", repo.commits[0])
    repo.forget_local_copies("data/x.csv")
    (repo.root / "aicd.yml").write_text("data:\n  max-missing-ratio: 0\n")
    result = run_aicd("validate", "--data", "data/x.csv", "--config", "aicd.yml", "--report", "r.json",
                      cwd=repo.root, env={"RUNNER_TEMP": str(repo.root)})
    assert result.code == 0, result.output
    assert f"md5 {repo.md5('data/x.csv.dvc')}" in result.output
    assert (repo.root / "data" / "x.csv").read_bytes() == V1
    assert json.loads((repo.root / "r.json").read_text())["data_version"] == hashlib.sha256(V1).hexdigest()[:16]

    rows = "a,b,label\n" + "".join(f"{i},{i % 7},{int(i % 7 > 3)}\n" for i in range(300))
    (repo.root / "data" / "train.csv").write_text(rows)
    repo.run(str(repo.dvc), "add", "-q", "data/train.csv")
    repo.run(str(repo.dvc), "push", "-q")
    (repo.root / "aicd.yml").write_text("data:\n  label: label\nmodel:\n  thresholds: {accuracy: 0.5}\n")
    env = {"RUNNER_TEMP": str(repo.root), "MLFLOW_TRACKING_URI": mlflow_server.uri, "GITHUB_SHA": "dvc-lineage"}
    trained = run_aicd("train", "--data", "data/train.csv", "--config", "aicd.yml", "--model-name", "from-dvc",
                       cwd=repo.root, env=env, timeout=300)
    assert trained.code == 0, trained.output
    lineage = run_aicd("lineage", "models:/from-dvc/1", "--json", env=env)
    (data,) = json.loads(lineage.stdout)["data"]
    assert data["kind"] == "dvc" and data["dvc_md5"] == repo.md5("data/train.csv.dvc")
    assert data["dvc_rev"] == repo.commits[0] and data["dvc_remote"] == f"storage ({repo.remote})"
    assert data["source_type"] == "dvc" and data["uri"] == "data/train.csv"
