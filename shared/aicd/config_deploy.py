"""The ``deploy:`` section of aicd.yml: what every target keeps, and how kubernetes rolls out.

    deploy:
      keep-revisions: 5               # how many revisions `rollback` can return to (every target)
      kubernetes:
        namespace: ""                 # empty: aicd-<tenant>, or aicd without a tenant
        replicas: 2
        strategy: rolling             # rolling | canary | blue-green | ab
        progress-deadline-seconds: 120
        canary: {steps: [10, 50, 100], pause-seconds: null}   # null: wait for `promote` / `abort`
        # canary: {gateway: infra/public}  # with the Gateway API: weights on an HTTPRoute attached
        #                                  # to this Gateway ([namespace/]name) instead of replica ratios
        blue-green: {keep-seconds: 600}                        # the old colour stays up this long
        ab: {split: 50, key: x-user-id}                        # % of users on variant b; the header hashed
        resources: {requests: {cpu: 100m, memory: 256Mi}, limits: {memory: 512Mi}}
        labels: {}                    # added to every object and pod
        annotations: {}
        node-selector: {}

Parsed by :func:`parse_deploy` with the reader of :mod:`aicd.config`, so every mistake names its
file and line like the rest of aicd.yml.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["STRATEGIES", "DeployConfig", "KubernetesConfig", "parse_deploy"]

STRATEGIES = ("rolling", "canary", "blue-green", "ab")
DEFAULT_RESOURCES = {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"memory": "512Mi"}}


@dataclass(frozen=True)
class KubernetesConfig:
    namespace: str = ""
    replicas: int = 2
    strategy: str = "rolling"
    progress_deadline_seconds: int = 120
    keep_revisions: int = 5
    canary_steps: tuple[int, ...] = (10, 50, 100)
    canary_pause_seconds: float | None = None
    canary_gateway: str = ""  # [namespace/]name of a Gateway: weights on an HTTPRoute
    keep_seconds: float = 600.0
    ab_split: float = 50.0
    ab_key: str = "x-user-id"
    resources: dict = field(default_factory=lambda: dict(DEFAULT_RESOURCES))
    labels: dict = field(default_factory=dict)
    annotations: dict = field(default_factory=dict)
    node_selector: dict = field(default_factory=dict)


@dataclass(frozen=True)
class DeployConfig:
    kubernetes: KubernetesConfig = field(default_factory=KubernetesConfig)
    keep_revisions: int = 5  # the serving one included: 2 keeps just the standby


def parse_deploy(r, raw: Any) -> DeployConfig:
    m = r.mapping(raw, "deploy", {"kubernetes", "keep-revisions"})
    keep = r.number(m, "deploy", "keep-revisions", 5, low=2, high=50, integer=True)
    return DeployConfig(_kubernetes(r, m.get("kubernetes", {}), keep), keep)


def _kubernetes(r, raw: Any, keep_revisions: int) -> KubernetesConfig:
    path = "deploy.kubernetes"
    keys = {"namespace", "replicas", "strategy", "progress-deadline-seconds", "canary", "blue-green",
            "ab", "resources", "labels", "annotations", "node-selector"}
    if isinstance(raw, dict) and "keep-revisions" in raw:
        raise r.fail(f"{path}.keep-revisions", "moved: it applies to every target now",
                     hint="write it one level up, as deploy.keep-revisions")
    m = r.mapping(raw, path, keys)
    canary = r.mapping(m.get("canary"), f"{path}.canary", {"steps", "pause-seconds", "gateway"})
    steps = tuple(r.sequence(canary, f"{path}.canary", "steps")) or (10, 50, 100)
    if any(isinstance(s, bool) or not isinstance(s, int) or not 0 < s <= 100 for s in steps) \
            or list(steps) != sorted(set(steps)) or steps[-1] != 100:
        raise r.fail(f"{path}.canary.steps", f"must be rising percentages ending at 100, got {list(steps)}",
                     hint="e.g. [10, 50, 100]")
    blue_green = r.mapping(m.get("blue-green"), f"{path}.blue-green", {"keep-seconds"})
    ab = r.mapping(m.get("ab"), f"{path}.ab", {"split", "key"})
    return KubernetesConfig(
        namespace=r.text(m, path, "namespace", ""),
        replicas=r.number(m, path, "replicas", 2, low=1, high=100, integer=True),
        strategy=r.text(m, path, "strategy", "rolling", STRATEGIES),
        progress_deadline_seconds=r.number(m, path, "progress-deadline-seconds", 120, low=5, high=3600, integer=True),
        keep_revisions=keep_revisions,
        canary_steps=steps,
        canary_pause_seconds=r.number(canary, f"{path}.canary", "pause-seconds", None, low=0, high=3600),
        canary_gateway=r.text(canary, f"{path}.canary", "gateway", ""),
        keep_seconds=r.number(blue_green, f"{path}.blue-green", "keep-seconds", 600.0, low=0),
        ab_split=r.number(ab, f"{path}.ab", "split", 50.0, low=0, high=100),
        ab_key=r.text(ab, f"{path}.ab", "key", "x-user-id"),
        resources=_string_tree(r, m, path, "resources") or dict(DEFAULT_RESOURCES),
        labels=_string_map(r, m, path, "labels"),
        annotations=_string_map(r, m, path, "annotations"),
        node_selector=_string_map(r, m, path, "node-selector"),
    )


def _string_map(r, m: dict, path: str, key: str) -> dict[str, str]:
    value = r.mapping(m.get(key), f"{path}.{key}")
    bad = [k for k, v in value.items() if not isinstance(v, (str, int, float)) or isinstance(v, bool)]
    if bad:
        raise r.fail(f"{path}.{key}.{bad[0]}", "must be a string")
    return {str(k): str(v) for k, v in value.items()}


def _string_tree(r, m: dict, path: str, key: str) -> dict:
    value = r.mapping(m.get(key), f"{path}.{key}", {"requests", "limits"})
    return {k: _string_map(r, value, f"{path}.{key}", k) for k in value}
