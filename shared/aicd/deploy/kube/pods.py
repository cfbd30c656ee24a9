"""Why a rollout's new pods will never get ready, read from their status (pure: pod dicts in, text out).

A candidate that crash-loops or whose image cannot be pulled would otherwise hold the rollout until
its progress deadline (120 s by default) before aicd rolls it back. kubelet already knows: these
states end the wait, with kubelet's reason and the last exit code, so the previous version is
restored in seconds. A pod that runs but never passes its readiness probe is only known at the deadline.

Contracts:
- Only containers that are not ready count (init containers included): a serving container's past
  restarts never do.
- ``CrashLoopBackOff``, ``InvalidImageName``, or a not-ready container restarted ``RESTARTS`` times
  are fatal at once. States that can pass on their own — an image pull backing off after a registry's
  blip or rate limit, containerd's "failed to reserve container name" under load, a Secret not yet in
  kubelet's cache — are fatal only once the same pod has shown the same reason for ``LASTING_SECONDS``
  (the caller keeps ``first_seen`` between polls).
- Pods being deleted and pods in a terminal phase are left out: their ReplicaSet replaces them.
"""

from __future__ import annotations

__all__ = ["AT_ONCE", "IF_LASTING", "LASTING_SECONDS", "RESTARTS", "failure"]

AT_ONCE = frozenset({"CrashLoopBackOff", "InvalidImageName"})
IF_LASTING = frozenset({"ImagePullBackOff", "ErrImagePull", "CreateContainerError", "CreateContainerConfigError",
                        "RunContainerError"})
LASTING_SECONDS = 30.0
RESTARTS = 2


def failure(pods: list[dict], first_seen: dict, now: float) -> str:
    """One line saying why one of ``pods`` will not get ready ("" while every one still may).
    ``first_seen`` maps (pod uid, container, reason) to when it was first seen; it is updated."""
    for pod in pods:
        status = pod.get("status") or {}
        if (pod.get("metadata") or {}).get("deletionTimestamp") or status.get("phase") in ("Failed", "Succeeded"):
            continue
        containers = [*(status.get("initContainerStatuses") or []), *(status.get("containerStatuses") or [])]
        for container in containers:
            why = _container_failure(pod, container, first_seen, now)
            if why:
                return why
    return ""


def _container_failure(pod: dict, container: dict, first_seen: dict, now: float) -> str:
    if container.get("ready"):  # serving now: restarts in its past (an OOM last week) do not count
        return ""
    waiting = (container.get("state") or {}).get("waiting") or {}
    reason, restarts = waiting.get("reason", ""), container.get("restartCount", 0)
    if reason in IF_LASTING:
        key = ((pod.get("metadata") or {}).get("uid", ""), container.get("name", ""), reason)
        if now - first_seen.setdefault(key, now) < LASTING_SECONDS:
            return ""
    elif reason not in AT_ONCE and restarts < RESTARTS:
        return ""
    what = reason or f"restarted {restarts} times"
    text = f"pod {(pod.get('metadata') or {}).get('name', '?')}, container {container.get('name', '?')}: {what}"
    return text + _last_exit(container) + (f" — {_short(waiting['message'])}" if waiting.get("message") else "")


def _last_exit(container: dict) -> str:
    ended = ((container.get("lastState") or {}).get("terminated")) or {}
    if not ended:
        return ""
    reason = f", {ended['reason']}" if ended.get("reason") else ""
    return f" (last exit code {ended.get('exitCode', '?')}{reason})"


def _short(text: str, limit: int = 200) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"
