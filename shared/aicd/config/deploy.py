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
        tolerations: []               # Kubernetes tolerations, spelled as in a pod spec
        image-pull-secrets: []        # names of dockerconfigjson Secrets in the namespace

Each key is a field below, read by :mod:`aicd.config.reader`, so every mistake names its file and
line like the rest of aicd.yml.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from .reader import Entry, Retired, setting

__all__ = ["STRATEGIES", "AbConfig", "BlueGreenConfig", "CanaryConfig", "DeployConfig", "KubernetesConfig"]

STRATEGIES = ("rolling", "canary", "blue-green", "ab")
DEFAULT_RESOURCES = {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"memory": "512Mi"}}


def _steps(e: Entry) -> tuple[int, ...]:
    steps = tuple(e.sequence()) or e.default
    if any(isinstance(s, bool) or not isinstance(s, int) or not 0 < s <= 100 for s in steps) \
            or list(steps) != sorted(set(steps)) or steps[-1] != 100:
        raise e.fail(f"must be rising percentages ending at 100, got {list(steps)}", "e.g. [10, 50, 100]")
    return steps


@dataclass(frozen=True)
class CanaryConfig:
    steps: tuple[int, ...] = setting((10, 50, 100), parse=_steps)
    pause_seconds: float | None = setting(None, low=0, high=3600)  # None: wait for `promote` / `abort`
    gateway: str = setting("")  # [namespace/]name of a Gateway: weights on an HTTPRoute


@dataclass(frozen=True)
class BlueGreenConfig:
    keep_seconds: float = setting(600.0, low=0)  # the old colour stays up this long


@dataclass(frozen=True)
class AbConfig:
    split: float = setting(50.0, low=0, high=100)  # % of users on variant b
    key: str = setting("x-user-id")  # the request header hashed


def _string_map(e: Entry) -> dict[str, str]:
    value = e.mapping()
    bad = [k for k, v in value.items() if not isinstance(v, (str, int, float)) or isinstance(v, bool)]
    if bad:
        raise e.fail("must be a string", path=f"{e.path}.{bad[0]}")
    return {str(k): str(v) for k, v in value.items()}


TOLERATION_KEYS = {"key", "operator", "value", "effect", "tolerationSeconds"}
EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")


def _tolerations(e: Entry) -> tuple[dict, ...]:
    """Tolerations as a pod spec spells them (a tainted GPU or dedicated node pool needs them)."""
    out = []
    for i, raw in enumerate(e.sequence()):
        path = f"{e.path}[{i}]"
        item = e.reader.mapping(raw, path, TOLERATION_KEYS)
        operator = item.get("operator", "Equal")
        if operator not in ("Equal", "Exists"):
            raise e.fail(f"operator must be Equal or Exists, got {operator!r}", path=f"{path}.operator")
        if item.get("effect", "") not in ("", *EFFECTS):
            raise e.fail(f"effect must be one of {', '.join(EFFECTS)}, got {item['effect']!r}", path=f"{path}.effect")
        if operator == "Exists" and item.get("value"):
            raise e.fail("an Exists toleration has no value", "drop `value`, or use operator: Equal", path=path)
        seconds = item.get("tolerationSeconds")
        if seconds is not None and (isinstance(seconds, bool) or not isinstance(seconds, int) or seconds < 0):
            raise e.fail("must be a whole number of seconds", path=f"{path}.tolerationSeconds")
        bad = [k for k in ("key", "value") if k in item and not isinstance(item[k], str)]
        if bad:
            raise e.fail("must be a string", path=f"{path}.{bad[0]}")
        out.append({**item, "operator": operator})
    return tuple(out)


def _secret_names(e: Entry) -> tuple[str, ...]:
    names = e.strings()
    bad = [n for n in names if not n or len(n) > 253 or not all(c.isalnum() or c in "-." for c in n)
           or n != n.lower()]
    if bad:
        raise e.fail(f"{bad[0]!r} is not a Secret name", "lower-case letters, digits, '-' and '.'")
    return names


def _resources(e: Entry) -> dict:
    value = e.reader.mapping(e.value, e.path, {"requests", "limits"})
    tree = {k: _string_map(Entry(e.reader, f"{e.path}.{k}", v, {}, e.read)) for k, v in value.items()}
    return tree or dict(e.default)


@dataclass(frozen=True)
class KubernetesConfig:
    RETIRED: ClassVar[dict[str, Retired]] = {"keep-revisions": Retired(
        "moved: it applies to every target now", "write it one level up, as deploy.keep-revisions")}

    namespace: str = setting("")  # empty: aicd-<tenant>, or aicd without a tenant
    replicas: int = setting(2, low=1, high=100)
    strategy: str = setting("rolling", choices=STRATEGIES)
    progress_deadline_seconds: int = setting(120, low=5, high=3600)
    canary: CanaryConfig = setting(factory=CanaryConfig)
    blue_green: BlueGreenConfig = setting(factory=BlueGreenConfig)
    ab: AbConfig = setting(factory=AbConfig)
    resources: dict = setting(factory=lambda: dict(DEFAULT_RESOURCES), parse=_resources)
    labels: dict = setting(factory=dict, parse=_string_map)  # added to every object and pod
    annotations: dict = setting(factory=dict, parse=_string_map)
    node_selector: dict = setting(factory=dict, parse=_string_map)
    tolerations: tuple = setting((), parse=_tolerations)  # as a pod spec spells them
    image_pull_secrets: tuple = setting((), parse=_secret_names)  # dockerconfigjson Secrets the node pulls with
    keep_revisions: int = field(default=5)  # deploy.keep-revisions, copied here for the manifests


@dataclass(frozen=True)
class DeployConfig:
    keep_revisions: int = setting(5, low=2, high=50)  # the serving one included: 2 keeps just the standby
    kubernetes: KubernetesConfig = setting(factory=KubernetesConfig,
                                           parse=lambda e: e.section(KubernetesConfig,
                                                                     keep_revisions=e.read["keep_revisions"]))
