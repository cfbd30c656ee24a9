"""One deploy at a time per model: a coordination.k8s.io Lease, taken by create, released by delete.

A second deploy finds the Lease held and waits (up to ``timeout``), then fails naming the holder.
A holder that died is recognised by its expired renew time and replaced with an optimistic
``PUT`` on the Lease's resourceVersion, so two waiters can never both take it.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
from datetime import UTC, datetime

from ...errors import KubeError, ServiceError
from .client import KubeClient

__all__ = ["deploy_lease"]

DURATION = 600  # a deploy that has not finished in 10 minutes is presumed dead


@contextlib.contextmanager
def deploy_lease(api: KubeClient, namespace: str, name: str, timeout: float = 300, poll: float = 1.0):
    holder = f"{socket.gethostname()}-{os.getpid()}-{time.time_ns()}"
    lease_name = f"aicd-{name}-deploy"
    deadline = time.monotonic() + timeout
    while not _take(api, namespace, lease_name, holder):
        if time.monotonic() > deadline:
            current = api.get("Lease", namespace, lease_name) or {}
            raise ServiceError("kubernetes target", f"another deploy of {name!r} holds Lease "
                               f"{namespace}/{lease_name} (holder {current.get('spec', {}).get('holderIdentity')})",
                               retryable=True, hint="wait for it to finish, or delete the Lease if its job was killed")
        time.sleep(poll)
    try:
        yield holder
    finally:
        current = api.get("Lease", namespace, lease_name)
        if current and current.get("spec", {}).get("holderIdentity") == holder:
            api.delete("Lease", namespace, lease_name)


def _take(api: KubeClient, namespace: str, lease_name: str, holder: str) -> bool:
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    spec = {"holderIdentity": holder, "leaseDurationSeconds": DURATION, "acquireTime": now, "renewTime": now}
    body = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": lease_name, "namespace": namespace}, "spec": spec}
    try:
        api.create(body)
        return True
    except KubeError as exc:
        if exc.status != 409:
            raise
    current = api.get("Lease", namespace, lease_name)
    if current is None or not _expired(current.get("spec", {})):
        return False
    body["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
    try:
        api.replace(body)
        return True
    except KubeError as exc:
        if exc.status == 409:
            return False
        raise


def _expired(spec: dict) -> bool:
    renewed = spec.get("renewTime") or spec.get("acquireTime")
    if not renewed:
        return True
    at = datetime.fromisoformat(renewed.replace("Z", "+00:00"))
    return (datetime.now(UTC) - at).total_seconds() > spec.get("leaseDurationSeconds", DURATION)
