"""Reading a rollout's doom from pod status (aicd.deploy.kube.pods): kubelet's own verdicts end the wait."""

import pytest

from aicd.deploy.kube.pods import LASTING_SECONDS, failure


def pod(*containers, uid: str = "u1", init=(), **status):
    return {"metadata": {"name": "churn-7d9-x", "uid": uid},
            "status": {"containerStatuses": list(containers), "initContainerStatuses": list(init), **status}}


def container(waiting: str = "", restarts: int = 0, exit_code: int | None = None, message: str = "",
              name: str = "server", ready: bool = False) -> dict:
    state = {"waiting": {"reason": waiting, **({"message": message} if message else {})}} if waiting else {
        "running": {}}
    out = {"name": name, "state": state, "restartCount": restarts, "ready": ready}
    if exit_code is not None:
        out["lastState"] = {"terminated": {"exitCode": exit_code, "reason": "Error"}}
    return out


def test_a_crash_loop_is_fatal_at_once_with_kubelets_reason_and_the_exit_code():
    text = failure([pod(container("CrashLoopBackOff", 1, 3, "back-off 10s restarting failed container"))], {}, 0)
    assert text.startswith("pod churn-7d9-x, container server: CrashLoopBackOff")
    assert "last exit code 3, Error" in text and "back-off 10s" in text


@pytest.mark.parametrize("reason", ["ImagePullBackOff", "ErrImagePull", "CreateContainerError",
                                    "CreateContainerConfigError", "RunContainerError"])
def test_states_that_can_pass_on_their_own_are_fatal_only_when_they_last(reason):
    seen: dict = {}
    stuck = [pod(container(reason, message="pull access denied"))]
    assert failure(stuck, seen, 100.0) == ""  # a registry's blip, a rate limit, a slow Secret cache
    assert failure(stuck, seen, 100.0 + LASTING_SECONDS - 1) == ""
    assert reason in failure(stuck, seen, 100.0 + LASTING_SECONDS)
    assert failure([pod(container(reason), uid="u2")], seen, 100.0 + LASTING_SECONDS) == ""  # a new pod: anew


def test_an_invalid_image_name_is_fatal_at_once():
    assert "InvalidImageName" in failure([pod(container("InvalidImageName"))], {}, 0)


def test_repeated_restarts_of_a_container_that_is_not_ready_are_a_crash_loop():
    assert "restarted 2 times" in failure([pod(container(restarts=2, exit_code=1))], {}, 0)


def test_a_ready_container_is_never_a_failure_whatever_its_past_restarts():
    assert failure([pod(container(restarts=7, exit_code=137, ready=True))], {}, 0) == ""


@pytest.mark.parametrize("state", [container(), container("ContainerCreating"), container(restarts=1, exit_code=137)])
def test_a_pod_that_may_still_get_ready_is_not_a_failure(state):
    assert failure([pod(state)], {}, 0) == ""  # one restart may be an OOM blip


def test_an_init_container_crash_loop_is_seen():
    text = failure([pod(init=[container("CrashLoopBackOff", 3, 1, name="istio-init")])], {}, 0)
    assert "container istio-init: CrashLoopBackOff" in text


def test_pods_being_deleted_or_finished_are_left_to_their_replicaset():
    crashed = container("CrashLoopBackOff", 5)
    deleting = pod(crashed)
    deleting["metadata"]["deletionTimestamp"] = "2026-12-01T00:00:00Z"
    assert failure([deleting, pod(crashed, phase="Failed", reason="Evicted")], {}, 0) == ""


def test_a_pod_without_status_yet_is_not_a_failure():
    assert failure([{"metadata": {"name": "p"}}], {}, 0) == ""
