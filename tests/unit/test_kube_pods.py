"""Reading a rollout's doom from pod status (aicd.deploy.kube.pods): kubelet's own verdicts end the wait."""

import pytest

from aicd.deploy.kube.pods import failure


def pod(*containers, **status):
    return {"metadata": {"name": "churn-7d9-x"}, "status": {"containerStatuses": list(containers), **status}}


def container(waiting: str = "", restarts: int = 0, exit_code: int | None = None, message: str = "") -> dict:
    state = {"waiting": {"reason": waiting, **({"message": message} if message else {})}} if waiting else {
        "running": {}}
    out = {"name": "server", "state": state, "restartCount": restarts}
    if exit_code is not None:
        out["lastState"] = {"terminated": {"exitCode": exit_code, "reason": "Error"}}
    return out


@pytest.mark.parametrize("reason", ["CrashLoopBackOff", "ImagePullBackOff", "InvalidImageName",
                                    "CreateContainerConfigError"])
def test_states_only_a_new_spec_leaves_are_fatal(reason):
    text = failure(pod(container(reason, 1, 3, "back-off 10s restarting failed container")))
    assert text.startswith(f"pod churn-7d9-x, container server: {reason}")
    assert "last exit code 3, Error" in text and "back-off 10s" in text


def test_repeated_restarts_are_a_crash_loop_even_while_running():
    assert "restarted 2 times" in failure(pod(container(restarts=2, exit_code=1)))


@pytest.mark.parametrize("state", [container(), container("ContainerCreating"), container("ErrImagePull"),
                                   container(restarts=1, exit_code=137)])
def test_a_pod_that_may_still_get_ready_is_not_a_failure(state):
    assert failure(pod(state)) == ""  # ErrImagePull is retried first; one restart may be an OOM blip


def test_an_evicted_pod_says_why_in_one_line():
    text = failure(pod(phase="Failed", reason="Evicted", message="The node was low on\nmemory."))
    assert text == "pod churn-7d9-x Evicted: The node was low on memory."


def test_a_pod_without_status_yet_is_not_a_failure():
    assert failure({"metadata": {"name": "p"}}) == ""
