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

import re
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
# Kubernetes' own rules: a qualified name ([prefix/]name), a label value, a DNS-1123 subdomain.
QUALIFIED_NAME = re.compile(r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
                            r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$")
SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def _tolerations(e: Entry) -> tuple[dict, ...]:
    """Tolerations as a pod spec spells them (a tainted GPU or dedicated node pool needs them), checked
    by Kubernetes' own rules so that a mistake names its line here, not an API error at deploy time."""
    return tuple(_toleration(e, f"{e.path}[{i}]", raw) for i, raw in enumerate(e.sequence()))


def _toleration(e: Entry, path: str, raw) -> dict:
    item = e.reader.mapping(raw, path, TOLERATION_KEYS)
    bad = [k for k in ("key", "value", "operator", "effect") if k in item and not isinstance(item[k], str)]
    if bad:
        raise e.fail("must be a string", path=f"{path}.{bad[0]}")
    operator, key, value, effect = (item.get("operator", "Equal"), item.get("key", ""), item.get("value", ""),
                                    item.get("effect", ""))
    if operator not in ("Equal", "Exists"):
        raise e.fail(f"operator must be Equal or Exists, got {operator!r}", path=f"{path}.operator")
    if (key and not QUALIFIED_NAME.match(key)) or len(key.rpartition("/")[2]) > 63:
        raise e.fail(f"{key!r} is not a taint key", "a label key: [prefix/]name, letters, digits, '-', '_', '.'",
                     path=f"{path}.key")
    if not key and operator != "Exists":
        raise e.fail("a toleration without a key must have operator: Exists (it then tolerates every taint)",
                     path=path)
    if operator == "Exists" and value:
        raise e.fail("an Exists toleration has no value", "drop `value`, or use operator: Equal", path=path)
    if not LABEL_VALUE.match(value):
        raise e.fail(f"{value!r} is not a taint value", "up to 63 letters, digits, '-', '_' or '.'",
                     path=f"{path}.value")
    if effect not in ("", *EFFECTS):
        raise e.fail(f"effect must be one of {', '.join(EFFECTS)}, got {effect!r}", path=f"{path}.effect")
    seconds = item.get("tolerationSeconds")
    if seconds is not None:
        if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds < 0:
            raise e.fail("must be a whole number of seconds", path=f"{path}.tolerationSeconds")
        if effect != "NoExecute":
            raise e.fail("tolerationSeconds applies to effect: NoExecute only", path=f"{path}.tolerationSeconds")
    return {**item, "operator": operator}


def _secret_names(e: Entry) -> tuple[str, ...]:
    names = e.strings()
    for i, name in enumerate(names):
        if len(name) > 253 or not SUBDOMAIN.match(name):
            raise e.fail(f"{name!r} is not a Secret name", "lower-case letters, digits, '-' and '.', "
                         "starting and ending with a letter or digit", path=f"{e.path}[{i}]")
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
