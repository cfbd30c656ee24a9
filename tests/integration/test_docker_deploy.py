"""action-deploy with target docker: real image builds, a real registry with auth, real containers.

The model comes from a real MLflow server; the image is built on the locally made Python base
(scripts/build-base-image) and pushed to a local distribution registry with htpasswd auth.
"""

import io
import json
import tarfile
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from aicd.deploy.docker_target import DockerTarget
from aicd.deploy.target import Candidate
from aicd.errors import ConfigError, GateFailed, ServiceError, UserError
from aicd.gha import Actions
from aicd.steps import deploy, train
from tests.conftest import FEEDBACK_AUTH, FEEDBACK_TOKEN, STEP_ENV


def call(url, body=None, headers=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data, {"content-type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, dict(resp.headers), resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read().decode()


ROW = {"age": 25, "visits_per_week": 3.5, "avg_spend": 5.0, "preferred_roast": "dark", "hour": 8,
       "coffee_roast": "dark", "coffee_price": 3.2, "coffee_sweetness": 0.7}


MODEL = "docker-coffee"  # a model of its own: no champion from other tests gates these versions


def image_only(image: str) -> Candidate:
    """A candidate the docker target runs as it is (it reads the model's details from the image's labels)."""
    return Candidate("", Path("/nonexistent"), {}, image)


@pytest.fixture(scope="module")
def versions(mlflow_server, coffee):
    """Two registered versions of the coffee model (different seeds)."""
    uris = []
    for seed in (0, 1):
        config = coffee["config"].parent / f"aicd-{seed}.yml"
        config.write_text(coffee["config"].read_text().replace("random_state: 0", f"random_state: {seed}"))
        out = train.run({"data": str(coffee["data"]), "config": str(config), "tracking-uri": mlflow_server.uri,
                         "model-name": MODEL}, Actions({}), env=STEP_ENV)
        uris.append(out["model-uri"])
    return uris


@pytest.fixture
def listen():
    from tests.integration.conftest import free_port

    return f"127.0.0.1:{free_port()}"


@pytest.fixture
def docker_deploy(docker_engine, mlflow_server, base_image, listen, tmp_path):
    """Runs action-deploy (target docker); removes the deployment's containers afterwards."""
    used = set()

    def run(model_uri, command="deploy", **extra):
        inputs = {"model-uri": model_uri, "tracking-uri": mlflow_server.uri, "target": "docker",
                  "command": command, "base-image": base_image, "listen": listen, "observe-seconds": "2",
                  "ready-timeout": "20", "feedback-token": FEEDBACK_TOKEN, **extra}
        if model_uri:
            used.add(model_uri.removeprefix("models:/").split("/")[0].split("@")[0])
        summary = tmp_path / f"summary-{len(used)}.md"
        out = deploy.run(inputs, Actions({"GITHUB_STEP_SUMMARY": str(summary)}),
                         env={"GITHUB_SHA": "0123456789abcdef", "GITHUB_REPOSITORY": "acme/shop"})
        return out

    yield run
    from aicd.deploy.naming import deployment_name

    for name in used:
        DockerTarget(docker_engine, deployment_name(name)).stop()


def test_image_is_built_labelled_non_root_and_pushed_with_auth(docker_engine, docker_registry, versions,
                                                                mlflow_server, base_image):
    gh_env = {"GITHUB_SHA": "0123456789abcdef", "GITHUB_REPOSITORY": "acme/shop"}
    out = deploy.run({"model-uri": versions[0], "tracking-uri": mlflow_server.uri, "command": "build",
                      "base-image": base_image, "registry": docker_registry.host,
                      "registry-username": docker_registry.username,
                      "registry-password": docker_registry.password}, Actions({}), env=gh_env)
    assert out["image"] == f"{docker_registry.host}/{MODEL}:1-0123456"
    assert out["digest"].startswith("sha256:")
    assert "1-0123456" in docker_registry.tags(MODEL)
    image = docker_engine.images.get(out["image"])
    labels = image.labels
    assert labels["org.opencontainers.image.revision"] == gh_env["GITHUB_SHA"]
    assert labels["org.opencontainers.image.source"] == "https://github.com/acme/shop"
    assert labels["io.aicd.model.uri"] == versions[0] and labels["io.aicd.runtime"] == "onnx"
    assert len(labels["io.aicd.model.sha256"]) == 64 and labels["org.opencontainers.image.created"]
    assert image.attrs["Config"]["User"] == "65532:65532" and image.attrs["Config"]["Healthcheck"]
    whoami = docker_engine.containers.run(out["image"], entrypoint=["id", "-u"], remove=True)
    assert whoami.decode().strip() == "65532"


def test_a_wrong_registry_password_fails_with_the_registry_named_and_the_password_hidden(
        docker_engine, docker_registry, versions, mlflow_server, base_image):
    with pytest.raises(ServiceError) as err:
        deploy.run({"model-uri": versions[0], "tracking-uri": mlflow_server.uri, "command": "build",
                    "base-image": base_image, "registry": docker_registry.host,
                    "registry-username": docker_registry.username, "registry-password": "wrong-secret-123"},
                   Actions({}), env=STEP_ENV)
    assert docker_registry.host in str(err.value) and "wrong-secret-123" not in str(err.value)


def test_deploy_switches_the_stable_endpoint_and_rollback_switches_back(docker_deploy, versions, listen):
    first = docker_deploy(versions[0])
    assert first["endpoint"] == f"http://{listen}" and first["revision"] == "1"
    status, headers, body = call(f"{first['endpoint']}/predict", ROW)
    assert status == 200 and headers["x-model-version"] == "1", body
    second = docker_deploy(versions[1])
    assert (second["revision"], second["previous-revision"]) == ("2", "1")
    assert call(f"{second['endpoint']}/predict", ROW)[1]["x-model-version"] == "2"
    back = docker_deploy(versions[1], command="rollback")
    assert (back["revision"], back["model-version"]) == ("1", "1")
    assert call(f"{back['endpoint']}/predict", ROW)[1]["x-model-version"] == "1"


def tampered_copy(docker_engine, image: str) -> str:
    """``image`` with bytes appended to its model file (the checksum it carries is unchanged)."""
    container = docker_engine.containers.create(image)
    stream, _ = container.get_archive("/model/model.onnx")
    with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
        member = tar.getmembers()[0]
        data = tar.extractfile(member).read() + b"tampered"
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        member.size = len(data)
        tar.addfile(member, io.BytesIO(data))
    container.put_archive("/model", out.getvalue())
    container.commit("aicd/tampered", "1")
    container.remove()
    return "aicd/tampered:1"


def test_a_tampered_model_never_gets_ready_and_the_previous_revision_keeps_serving(
        docker_engine, docker_deploy, versions, listen):
    good = docker_deploy(versions[0])
    tampered = tampered_copy(docker_engine, good["image"])
    target = DockerTarget(docker_engine, MODEL, listen, ready_timeout=10, observe_seconds=1)
    with pytest.raises(ServiceError, match=r"did not become ready.*revision 1 keeps serving") as err:
        target.deploy(image_only(tampered))
    assert "refusing to start" in str(err.value) and "model.onnx has SHA-256" in str(err.value)
    assert [s.revision for s in target.slots()] == [1]
    assert call(f"http://{listen}/predict", ROW)[0] == 200


def test_a_revision_that_dies_after_taking_traffic_is_rolled_back_automatically(
        docker_engine, docker_deploy, versions, listen):
    first = docker_deploy(versions[0])
    killed = []

    def kill_the_new_one(event):
        if event.startswith("switched the front to "):
            docker_engine.containers.get(event.removeprefix("switched the front to ").split(";")[0]).kill()
            killed.append(event)

    target = DockerTarget(docker_engine, MODEL, listen, ready_timeout=20, observe_seconds=3,
                          progress=kill_the_new_one)
    with pytest.raises(ServiceError, match="rolled back to revision 1"):
        target.deploy(image_only(first["image"]))
    assert killed and target.current().revision == 1
    assert call(f"http://{listen}/predict", ROW)[1]["x-model-version"] == "1"


def test_rollback_without_a_previous_revision_is_a_user_error(docker_deploy, versions):
    docker_deploy(versions[0])
    with pytest.raises(UserError, match="nothing to roll back to") as err:
        docker_deploy(versions[0], command="rollback")
    assert "deploy another revision first" in err.value.hint


def bad_feedback(endpoint, n=150):
    """``n`` predictions, each then told it was wrong: online accuracy 0."""
    for i in range(n):
        _, _, body = call(f"{endpoint}/predict", {**ROW, "hour": i % 24})
        answer = json.loads(body)
        call(f"{endpoint}/feedback", {"request_id": answer["request_id"], "label": 1 - answer["predictions"][0]},
             FEEDBACK_AUTH)


def test_the_production_gate_rolls_the_docker_target_back(docker_deploy, versions, coffee, tmp_path):
    from aicd.steps import monitor

    docker_deploy(versions[0])
    second = docker_deploy(versions[1])
    bad_feedback(second["endpoint"])
    with pytest.raises(GateFailed, match="rolled back revision 2 → revision 1") as refused:
        monitor.run({"endpoint": second["endpoint"], "config": str(coffee["config"]), "target": "docker",
                     "on-failure": "rollback", "report": str(tmp_path / "m.json")}, Actions({}), env=STEP_ENV)
    out = refused.value.outputs
    assert out["decision"] == "rollback" and out["rolled-back"] == "true"
    assert call(f"{second['endpoint']}/predict", ROW)[1]["x-model-version"] == "1"


def test_the_production_gate_never_rolls_back_a_version_it_did_not_judge(docker_deploy, docker_engine, versions,
                                                                        coffee, tmp_path):
    from aicd.steps import monitor

    docker_deploy(versions[0])
    docker_deploy(versions[1])
    old = DockerTarget(docker_engine, MODEL).slots()[0]  # revision 1, the standby
    bad_feedback(old.direct)
    with pytest.raises(UserError, match="now serves model version 2, not the judged version 1"):
        monitor.run({"endpoint": old.direct, "config": str(coffee["config"]), "target": "docker",
                     "on-failure": "rollback", "report": str(tmp_path / "m.json")}, Actions({}), env=STEP_ENV)
    assert DockerTarget(docker_engine, MODEL).current().revision == 2


# -- the endpoint output is true; a failed deploy leaves nothing behind (issue: docker keeps its promises) --

def _containers(docker_engine, deployment="docker-coffee"):
    return sorted(c.name for c in docker_engine.containers.list(
        all=True, filters={"label": f"io.aicd.deployment={deployment}"}))


def test_a_taken_port_fails_in_one_line_leaves_nothing_and_the_next_deploy_starts_clean(
        docker_engine, docker_deploy, versions, listen):
    import socket

    from aicd.deploy.docker_target import DockerTarget

    host, _, port = listen.rpartition(":")
    with socket.socket() as taken:  # someone else's server on the address the front needs
        taken.bind((host, int(port)))
        taken.listen()
        with pytest.raises(ServiceError, match="cannot publish the stable endpoint"):
            docker_deploy(versions[0])
        assert _containers(docker_engine) == []  # no orphan revision
        assert "aicd-docker-coffee-front" not in [c.name for c in docker_engine.containers.list(all=True)]
        with pytest.raises(ServiceError, match="cannot publish the stable endpoint"):
            docker_deploy(versions[0])  # a retry on the same taken port: the same one line, not a traceback
    out = docker_deploy(versions[0])  # the port is free again: a clean deploy
    assert out["revision"] == "1" and call(f"{out['endpoint']}/predict", ROW)[0] == 200
    assert DockerTarget(docker_engine, MODEL, listen).front_listen() == listen


def test_a_listen_change_is_refused_before_anything_starts_and_the_old_endpoint_keeps_serving(
        docker_engine, docker_deploy, versions, listen):
    from tests.integration.conftest import free_port

    docker_deploy(versions[0])
    before = _containers(docker_engine)
    other = f"127.0.0.1:{free_port()}"
    with pytest.raises(UserError, match=f"serves at http://{listen}; `listen` asks for {other}"):
        docker_deploy(versions[1], listen=other)
    assert _containers(docker_engine) == before
    assert call(f"http://{listen}/predict", ROW)[1]["x-model-version"] == "1"


def test_rollback_and_stop_find_the_deployment_by_its_endpoint_without_a_model_uri(
        docker_engine, docker_deploy, versions, listen):
    docker_deploy(versions[0])
    docker_deploy(versions[1])
    back = docker_deploy("", command="rollback")
    assert (back["revision"], back["model-version"]) == ("1", "1")
    docker_deploy("", command="stop")
    assert _containers(docker_engine) == []
    with pytest.raises(ConfigError, match=f"no aicd deployment serves at {listen}"):
        docker_deploy("", command="rollback")


# -- a standby after every rollback; one number, one image (issue: docker keeps its promises) --

def _status(docker_engine, deployment="docker-coffee"):
    """{revision: container status} of the deployment's revisions."""
    found = docker_engine.containers.list(all=True, filters={"label": f"io.aicd.deployment={deployment}"})
    return {int(c.labels["io.aicd.revision"]): c.status for c in found}


def test_two_rollbacks_in_a_row_walk_back_two_releases_each_leaving_a_running_standby(
        docker_engine, docker_deploy, versions, listen, tmp_path):
    for uri in (versions[0], versions[1], versions[0]):
        last = docker_deploy(uri)
    assert (last["revision"], last["previous-revision"]) == ("3", "2")
    images = {n: docker_engine.containers.get(f"aicd-docker-coffee-r{n}").image.id for n in (1, 3)}
    assert images[1] == images[3]  # the same model from the same commit: built once, one image
    assert _status(docker_engine) == {1: "exited", 2: "running", 3: "running"}  # 1 kept cold, 2 the standby
    first = docker_deploy("", command="rollback")
    assert (first["revision"], first["previous-revision"], first["model-version"]) == ("2", "1", "2")
    assert _status(docker_engine) == {1: "running", 2: "running"}  # 3 retired, 1 woken as the new standby
    assert call(f"http://{listen}/predict", ROW)[1]["x-model-version"] == "2"
    second = docker_deploy("", command="rollback")
    assert (second["revision"], second["previous-revision"], second["model-version"]) == ("1", "", "1")
    assert call(f"http://{listen}/predict", ROW)[1]["x-model-version"] == "1"
    with pytest.raises(UserError, match="nothing to roll back to"):
        docker_deploy("", command="rollback")
    again = docker_deploy(versions[1])
    assert (again["revision"], again["previous-revision"]) == ("4", "1")  # 2 and 3 are never handed out again
    assert _status(docker_engine) == {1: "running", 4: "running"}
    summaries = "".join(p.read_text() for p in tmp_path.glob("summary-*.md"))
    assert "| 0123456 |" in summaries  # each release's commit, read back from its image's revision label


def test_rollback_to_a_named_kept_revision_and_only_keep_revisions_are_kept(
        docker_engine, docker_deploy, versions, listen, tmp_path):
    config = tmp_path / "aicd.yml"
    config.write_text("deploy:\n  keep-revisions: 3\n")
    for uri in (versions[0], versions[1], versions[0], versions[1]):
        docker_deploy(uri, config=str(config))
    assert sorted(_status(docker_engine)) == [2, 3, 4]  # revision 1 fell out of the history
    with pytest.raises(UserError, match="cannot roll back to revision 1: it is not kept") as err:
        docker_deploy("", command="rollback", revision="1", config=str(config))
    assert "revisions that can be returned to: 2, 3 (serving: 4)" in err.value.hint
    back = docker_deploy("", command="rollback", revision="2", config=str(config))
    assert (back["revision"], back["previous-revision"], back["model-version"]) == ("2", "", "2")
    assert call(f"http://{listen}/predict", ROW)[1]["x-model-version"] == "2"  # woken from a stopped container
    assert _status(docker_engine) == {2: "running"}


def test_a_revision_killed_mid_traffic_loses_no_answer_the_standby_takes_the_connections(
        docker_engine, docker_deploy, versions, listen):
    import http.client
    import threading
    import time

    docker_deploy(versions[0])
    docker_deploy(versions[1])
    answers, stop = [], threading.Event()

    def probe():
        while not stop.is_set():
            try:
                status, headers, _ = call(f"http://{listen}/predict", ROW)
                answers.append((status, headers.get("x-model-version")))
            except (OSError, http.client.HTTPException) as exc:  # a request in flight at the very moment of the kill
                answers.append(("dropped", type(exc).__name__))

    thread = threading.Thread(target=probe)
    thread.start()
    time.sleep(1)
    docker_engine.containers.get("aicd-docker-coffee-r2").kill()
    time.sleep(2)
    stop.set()
    thread.join(15)
    non_2xx = [a for a in answers if a[0] not in (200, "dropped")]
    assert non_2xx == [], f"{len(non_2xx)} non-2xx answers of {len(answers)}: {non_2xx[:5]}"
    assert sum(a[0] == "dropped" for a in answers) <= 1  # only the one the killed process was answering
    assert len(answers) > 50  # the probe really ran
    # Docker's restart policy may bring the killed revision back; until it does, the standby answers
    restarted = docker_engine.containers.get("aicd-docker-coffee-r2").status == "running"
    assert answers[-1][0] == 200 and answers[-1][1] in (("1", "2") if restarted else ("1",))


# -- what an outside trial of the above found (a tenant, a cancelled job, a stale lock, leftovers) --

def test_a_tenant_touches_only_its_own_deployments(docker_engine, docker_deploy, versions, listen):
    docker_deploy(versions[0])
    for command, uri in (("deploy", versions[1]), ("rollback", ""), ("stop", "")):
        with pytest.raises(ConfigError, match="tenant 'acme' may not touch the deployment of model 'docker-coffee'"):
            docker_deploy(uri, command=command, tenant="acme")
    with pytest.raises(ConfigError, match="input `tenant`"):
        docker_deploy(versions[1], tenant="ACME!")
    assert _status(docker_engine) == {1: "running"}  # nothing was touched
    assert call(f"http://{listen}/predict", ROW)[1]["x-model-version"] == "1"


def test_a_cancelled_deploy_switches_back_releases_the_lock_and_a_killed_ones_lock_is_not_waited_for(
        docker_engine, docker_deploy, versions, mlflow_server, base_image, listen, tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    from tests.conftest import SHARED

    docker_deploy(versions[0])
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AICD_", "GITHUB_", "MLFLOW_"))}
    env.update(PYTHONPATH=str(SHARED), **STEP_ENV)
    cmd = [sys.executable, "-m", "aicd", "deploy", "--model-uri", versions[1], "--tracking-uri", mlflow_server.uri,
           "--target", "docker", "--base-image", base_image, "--listen", listen, "--observe-seconds", "60",
           "--feedback-token", FEEDBACK_TOKEN]
    child = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    lines, deadline = [], time.monotonic() + 120
    while not any("switched the front to" in line for line in lines):
        assert time.monotonic() < deadline and child.poll() is None, "".join(lines)
        lines.append(child.stdout.readline())
    assert call(f"http://{listen}/predict", ROW)[1]["x-model-version"] == "2"  # the new one took traffic
    child.send_signal(signal.SIGTERM)  # a cancelled job, in the middle of the watch
    out, _ = child.communicate(timeout=60)
    assert child.returncode == 130, "".join(lines) + out
    assert call(f"http://{listen}/predict", ROW)[1]["x-model-version"] == "1"  # unwatched: switched back
    assert "aicd-docker-coffee-lock" not in [c.name for c in docker_engine.containers.list(all=True)]
    assert _status(docker_engine) == {1: "running"}

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    import socket
    docker_engine.containers.create(base_image, name="aicd-docker-coffee-lock", command=["true"], labels={
        "io.aicd.lock": "docker-coffee", "io.aicd.lock.host": socket.gethostname(),
        "io.aicd.lock.pid": dead.stdout.strip()})  # what a SIGKILLed deploy leaves
    started = time.monotonic()
    again = docker_deploy(versions[1])
    assert time.monotonic() - started < 120 and again["revision"] == "3"  # 2 was handed out and never reused


def test_a_failed_first_deploy_leaves_no_network_volume_or_front(docker_engine, docker_deploy, versions):
    with pytest.raises(ServiceError, match="did not become ready"):
        docker_deploy(versions[0], **{"ready-timeout": "0.2"})
    names = {"aicd-docker-coffee", "aicd-docker-coffee-state", "aicd-docker-coffee-front"}
    assert not names & {n.name for n in docker_engine.networks.list()}
    assert not names & {v.name for v in docker_engine.volumes.list()}
    assert not names & {c.name for c in docker_engine.containers.list(all=True)}
    with pytest.raises(UserError, match="input `base-image`: 'Bad Image' is not an image reference"):
        docker_deploy(versions[0], **{"base-image": "Bad Image"})


def test_the_feedback_token_is_no_environment_variable_and_outlives_its_deploy(
        docker_engine, docker_deploy, versions, listen):
    docker_deploy(versions[0])
    later = docker_deploy(versions[1], **{"feedback-token": ""})  # not given again: the stored one serves
    for name in ("aicd-docker-coffee-r1", "aicd-docker-coffee-r2"):
        env = docker_engine.containers.get(name).attrs["Config"]["Env"]
        assert not [e for e in env if FEEDBACK_TOKEN in e]  # docker inspect shows no secret
    _, _, body = call(f"{later['endpoint']}/predict", ROW)
    answer = json.loads(body)
    assert call(f"{later['endpoint']}/feedback", {"request_id": answer["request_id"], "label": 1},
                FEEDBACK_AUTH)[0] == 200
    assert call(f"{later['endpoint']}/feedback", {"request_id": answer["request_id"], "label": 1})[0] == 401
    back = docker_deploy("", command="rollback")
    assert float(back["ready-seconds"]) < 0.5  # the standby was running: an instant switch


def test_a_docker_canary_built_with_stables_model_as_its_shadow_is_judged_on_the_same_requests(
        docker_deploy, docker_engine, versions, tmp_path):
    """`shadow-model-uri` on docker: the canary's image carries stable's model at /shadow (its own tag),
    the canary server scores every request with both, and the gate compares them paired."""
    from aicd.deploy.naming import deployment_name
    from aicd.steps import monitor
    from tests.integration.conftest import free_port

    stable = docker_deploy(versions[0])
    canary = docker_deploy(versions[1], variant="canary", listen=f"127.0.0.1:{free_port()}",
                           **{"shadow-model-uri": versions[0]})
    try:
        assert canary["image"].endswith("-shadow1")
        labels = 0
        for i in range(120):
            _, _, body = call(f"{canary['endpoint']}/predict", {**ROW, "hour": i % 24, "age": 18 + i % 50})
            answer = json.loads(body)
            status, _, _ = call(f"{canary['endpoint']}/feedback", {"request_id": answer["request_id"],
                                                                    "label": answer["predictions"][0]}, FEEDBACK_AUTH)
            labels += status == 200
        text = call(f"{canary['endpoint']}/metrics")[2]
        pairs = {s.labels["outcome"]: s.value for f in text_string_to_metric_families(text) for s in f.samples
                 if s.name == "aicd_paired_feedback_total"}
        assert sum(pairs.values()) == labels == 120 and pairs["shadow"] == pairs["neither"] == 0  # served is right
        monitor.run({"compare": "canary", "baseline-endpoint": stable["endpoint"],
                     "candidate-endpoint": canary["endpoint"], "on-failure": "report",
                     "report": str(tmp_path / "m.json")}, Actions({}), env=STEP_ENV)
        checks = json.loads((tmp_path / "m.json").read_text())["checks"]
        paired = next(c for c in checks if c["metric"] == "online-accuracy" and c["test"] != "absolute")
        assert (paired["test"], paired["samples"], paired["candidate"]) == ("vs stable, paired", 120, 1.0)
    finally:
        DockerTarget(docker_engine, deployment_name(MODEL, "canary")).stop()
