"""The serving image's pure parts: Dockerfile, tags, labels, names; the front's state file; layering."""

import ast
from pathlib import Path

import pytest

import aicd
from aicd.deploy.image import (
    SERVING_CODE,
    SKLEARN_ONLY,
    dockerfile,
    image_labels,
    image_tag,
    repository_name,
    serving_lock,
)
from aicd.deploy.naming import deployment_name
from aicd.errors import ConfigError
from aicd.serve.front import Relay, read_state, write_state

META = {"model_name": "acme__coffee", "model_version": "3", "run_id": "abc", "data_version": "d" * 16,
        "onnx_sha256": "e" * 64}


def test_tags_are_model_version_and_short_sha():
    assert image_tag("3", "0123456789abcdef") == "3-0123456"
    assert image_tag("3", "") == "3-local"


def test_labels_tie_the_image_to_model_run_data_and_commit():
    labels = image_labels(META, "models:/acme__coffee/3", "e" * 64, "https://github.com/acme/shop", "0123abc")
    assert labels["org.opencontainers.image.source"] == "https://github.com/acme/shop"
    assert labels["org.opencontainers.image.revision"] == "0123abc"
    assert labels["org.opencontainers.image.created"].endswith("Z")
    assert {labels[k] for k in ("io.aicd.model.uri", "io.aicd.model.version", "io.aicd.model.run-id",
                                "io.aicd.data.version", "io.aicd.model.sha256", "io.aicd.runtime")} == {
        "models:/acme__coffee/3", "3", "abc", "d" * 16, "e" * 64, "onnx"}


def test_the_dockerfile_runs_non_root_with_a_healthcheck_and_quotes_every_value():
    text = dockerfile("python:3.12-slim", {"AICD_MODEL_SHA256": "e" * 64, "AICD_MODEL_NAME": 'we"ird $name'},
                      {"io.aicd.model.uri": "models:/m/1"})
    lines = text.splitlines()
    assert lines[0] == "FROM python:3.12-slim"
    assert "USER 65532:65532" in lines and any(line.startswith("HEALTHCHECK ") and "/readyz" in line
                                              for line in lines)
    assert 'AICD_MODEL_NAME="we\\"ird $name"' in text  # JSON-quoted: no shell or Dockerfile expansion surprises
    assert '"io.aicd.model.uri"="models:/m/1"' in text
    assert lines.index("USER 65532:65532") > max(i for i, line in enumerate(lines) if line.startswith(("RUN", "COPY")))


def test_onnx_models_get_the_lean_lock_and_others_scikit_learn():
    assert serving_lock(META).name == "serve-onnx.lock"
    assert serving_lock({**META, "onnx_sha256": None}).name == "serve-sklearn.lock"
    assert serving_lock(META, {**META, "onnx_sha256": None}).name == "serve-sklearn.lock"  # a shadow without ONNX
    assert "COPY shadow /shadow" in dockerfile("b", {}, {}, shadow=True) and "shadow" not in dockerfile("b", {}, {})
    lean = serving_lock(META).read_text()
    assert "onnxruntime==" in lean and "scikit-learn==" not in lean and "pandas==" not in lean


def test_image_and_deployment_names_are_docker_safe_and_keep_the_tenant():
    assert repository_name("127.0.0.1:5000/", "acme__Coffee_Model") == "127.0.0.1:5000/acme-coffee-model"
    assert repository_name("", "coffee") == "aicd/coffee"
    with pytest.raises(ConfigError, match="image-name"):
        repository_name("ghcr.io/x", "bad name!")
    assert deployment_name("acme__coffee_model") == "acme--coffee-model"
    assert deployment_name("acme__coffee") != deployment_name("other__coffee")


def test_the_front_follows_the_state_file(tmp_path):
    state = tmp_path / "state.json"
    relay = Relay(state, "aicd-m-r", 8080)
    assert relay.upstreams() == ()
    write_state(state, {"current": 2, "previous": 1})
    assert relay.upstreams() == ("aicd-m-r2", "aicd-m-r1") and read_state(state) == {"current": 2, "previous": 1}
    write_state(state, {"current": 1, "previous": None})
    import os

    os.utime(state, (1, 1))  # a rewrite within the same mtime tick is still noticed
    assert relay.upstreams() == ("aicd-m-r1",)
    write_state(state, {"current": None, "previous": 1})
    assert relay.upstreams() == ()  # a standby alone does not serve


def test_the_front_sends_a_connection_the_current_revision_refuses_to_the_standby(tmp_path):
    """Revision n is the loopback address 127.0.0.<n>: 127.0.0.2 refuses, 127.0.0.1 answers."""
    import asyncio

    async def scenario():
        async def answer(reader, writer):
            await reader.readline()
            writer.write(b"standby")
            await writer.drain()
            writer.close()

        upstream = await asyncio.start_server(answer, "127.0.0.1", 0)
        port = upstream.sockets[0].getsockname()[1]
        state = tmp_path / "state.json"
        write_state(state, {"current": 2, "previous": 1})
        front = await asyncio.start_server(Relay(state, "127.0.0.", port).handle, "127.0.0.1", 0)
        answers = []
        for state_now in ({"current": 2, "previous": 1}, {"current": 2, "previous": None}):
            write_state(state, state_now)
            os.utime(state, (len(answers) + 1, len(answers) + 1))
            reader, writer = await asyncio.open_connection(*front.sockets[0].getsockname()[:2])
            writer.write(b"GET / HTTP/1.0\r\n\r\n")
            await writer.drain()
            answers.append(await asyncio.wait_for(reader.read(), 5))
            writer.close()
            await writer.wait_closed()
        for server in (front, upstream):
            server.close()
            await server.wait_closed()
        return answers

    import os

    got, refused = asyncio.run(scenario())
    assert got == b"standby"
    assert refused.startswith(b"HTTP/1.1 503")  # no standby: the one honest answer left


def test_a_revision_that_refused_is_tried_last_for_a_second_then_first_again(tmp_path):
    state = tmp_path / "state.json"
    write_state(state, {"current": 2, "previous": 1})
    relay = Relay(state, "r", 8080)
    assert relay.ordered(0.0) == ["r2", "r1"]
    relay._down["r2"] = 10.0  # as handle() marks it when r2 refuses at time 9
    assert relay.ordered(9.5) == ["r1", "r2"] and relay.ordered(10.5) == ["r2", "r1"]


def test_the_serving_code_imports_only_what_the_image_holds():
    allowed = {"numpy", "onnxruntime", "orjson", "prometheus_client", "uvicorn", "skops", "pandas", "aicd"}
    package = Path(aicd.__file__).parent
    files = [p for name in SERVING_CODE for p in ([package / name] if name.endswith(".py")
                                                    else sorted((package / name).glob("*.py")))]
    shipped = {str(p.relative_to(package.parent).with_suffix("")).replace("/", ".") for p in files}
    for path in files:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level:
                parts = path.relative_to(package.parent).with_suffix("").parts[: -node.level]
                target = ".".join([*parts, node.module] if node.module else parts)
                assert target in shipped or f"{target}.__init__" in shipped, f"{path.name} imports {target}"
            elif isinstance(node, (ast.Import, ast.ImportFrom)) and not getattr(node, "level", 0):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module]
                for name in names:
                    top = name.split(".")[0]
                    extra = {"sklearn"} if path.name in SKLEARN_ONLY else set()
                    assert top in allowed | extra or top in _stdlib(), f"{path.name} imports {name}"


def _stdlib():
    import sys

    return sys.stdlib_module_names | {"__future__"}


def test_the_commit_comes_from_the_runner_else_the_checkout_else_nothing(tmp_path):
    import subprocess

    from aicd.provenance import commit_of

    assert commit_of({"GITHUB_SHA": "a" * 40}, cwd=str(tmp_path)) == "a" * 40
    assert commit_of({}, cwd=str(tmp_path)) == ""  # no checkout: no commit, the tag says `local`
    git = ["git", "-c", "user.email=t@example.com", "-c", "user.name=t", "-C", str(tmp_path)]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "x"], check=True)
    head = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    assert commit_of({}, cwd=str(tmp_path)) == head and image_tag("3", head) == f"3-{head[:7]}"


def test_the_source_is_the_runners_else_the_origin_remote_as_https_without_credentials(tmp_path):
    import subprocess

    from aicd.provenance import source_of, web_address

    assert source_of({"GITHUB_REPOSITORY": "acme/shop"}) == "https://github.com/acme/shop"
    assert source_of({}, cwd=str(tmp_path)) == ""  # no checkout
    subprocess.run(["git", "-C", str(tmp_path), "init", "-q"], check=True)
    subprocess.run(["git", "-C", str(tmp_path), "remote", "add", "origin", "git@github.com:acme/shop.git"],
                   check=True)
    assert source_of({}, cwd=str(tmp_path)) == "https://github.com/acme/shop"
    assert web_address("https://user:secret@gitlab.example/group/repo.git") == "https://gitlab.example/group/repo"
    assert web_address("ssh://git@host:2222/o/r.git") == "https://host/o/r"
    assert web_address("/srv/git/repo.git") == "" and web_address("") == ""


def test_the_build_key_changes_with_every_part_of_the_image_but_not_with_the_time():
    from aicd.deploy.image import build_key

    labels = {"io.aicd.model.sha256": "a" * 64, "org.opencontainers.image.created": "2026-01-01T00:00:00Z"}
    key = build_key("sha256:base", b"lock", {"AICD_MODEL_VERSION": "1"}, labels)
    assert key == build_key("sha256:base", b"lock", {"AICD_MODEL_VERSION": "1"},
                            {**labels, "org.opencontainers.image.created": "2026-12-01T00:00:00Z"})
    assert len({key, build_key("sha256:other", b"lock", {"AICD_MODEL_VERSION": "1"}, labels),
                build_key("sha256:base", b"lock2", {"AICD_MODEL_VERSION": "1"}, labels),
                build_key("sha256:base", b"lock", {"AICD_MODEL_VERSION": "2"}, labels),
                build_key("sha256:base", b"lock", {"AICD_MODEL_VERSION": "1"},
                          {**labels, "io.aicd.model.sha256": "b" * 64})}) == 5
