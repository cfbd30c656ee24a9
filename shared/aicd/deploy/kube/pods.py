"""Why a rollout's pods will never get ready, read from their status (pure: a pod dict in, text out).

A candidate that crash-loops or whose image cannot be pulled would otherwise hold the rollout until
its progress deadline (120 s by default) before aicd rolls it back. kubelet already knows: these
states end the wait at once, with the reason kubelet gave, so the previous version is restored in
seconds. A pod that runs but never passes its readiness probe is only known at the deadline.
"""

from __future__ import annotations

__all__ = ["FATAL_WAITING", "RESTARTS", "failure"]

# Waiting reasons kubelet only leaves by a change to the pod spec (ErrImagePull is retried first:
# a registry's blip is not fatal; ImagePullBackOff is what follows repeated failures).
FATAL_WAITING = frozenset({"CrashLoopBackOff", "ImagePullBackOff", "InvalidImageName", "CreateContainerConfigError",
                           "CreateContainerError", "RunContainerError"})
RESTARTS = 2  # a container restarted this often is crash-looping, whatever its state this instant


def failure(pod: dict) -> str:
    """One line saying why ``pod`` will not get ready ("" while it still may)."""
    status = pod.get("status") or {}
    if status.get("reason") == "Evicted" or status.get("phase") == "Failed":
        return f"pod {_name(pod)} {status.get('reason') or 'failed'}: {_short(status.get('message', ''))}".rstrip(": ")
    for container in status.get("containerStatuses") or []:
        waiting = (container.get("state") or {}).get("waiting") or {}
        restarts = container.get("restartCount", 0)
        if waiting.get("reason") in FATAL_WAITING or restarts >= RESTARTS:
            what = waiting.get("reason") or f"restarted {restarts} times"
            return f"pod {_name(pod)}, container {container.get('name', '?')}: {what}{_last_exit(container)}" + (
                f" — {_short(waiting['message'])}" if waiting.get("message") else "")
    return ""


def _last_exit(container: dict) -> str:
    ended = ((container.get("lastState") or {}).get("terminated")) or {}
    if not ended:
        return ""
    reason = f", {ended['reason']}" if ended.get("reason") else ""
    return f" (last exit code {ended.get('exitCode', '?')}{reason})"


def _name(pod: dict) -> str:
    return (pod.get("metadata") or {}).get("name", "?")


def _short(text: str, limit: int = 200) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"
