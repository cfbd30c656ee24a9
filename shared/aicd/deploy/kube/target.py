"""The ``kubernetes`` target: roll a model image out with one of four strategies, roll it back.

Contracts:
- ``rolling``: one Deployment ``<name>``, maxUnavailable 0 / maxSurge 1, so the old version keeps
  its full ready count until new pods are ready; the rollout is done when the controller has
  observed the change and every replica is updated and available. A rollout that stalls
  (ProgressDeadlineExceeded, or the deadline) is rolled back by aicd itself to the previous
  revision, and the time until that revision fully serves again is reported.
- ``canary``: Deployments ``<name>-stable`` and ``<name>-canary`` behind the one Service
  ``<name>``: traffic follows the replica ratio, which must be exact for every step (10 % of 10
  replicas is 1 pod; 10 % of 2 is refused). ``deploy`` goes to the first step and waits for
  ``promote`` (one step further; the last step makes the stable track the new version and removes
  the canary) or ``abort`` (canary removed, stable back to 100 %) — or walks all steps by itself
  when ``canary.pause-seconds`` is set. A canary that does not get ready is aborted automatically.
- ``blue-green``: Deployments ``<name>-blue`` / ``<name>-green``; the Service selects the active
  colour. The new colour must be fully ready before the selector switches; the old colour stays up
  for ``blue-green.keep-seconds`` (scaled down by the first aicd command after that), so a
  rollback inside that time is an instant switch back.
- ``ab``: variants ``<name>-a`` (current) and ``<name>-b`` (new), each with its own Service and
  per-variant metrics, behind a router (``aicd.serve.router``) that hashes the user key: a sticky,
  exact split without a service mesh. ``promote`` makes b the only version, ``abort`` keeps a.
- History (:mod:`..history`, the rule of every target): the last ``deploy.keep-revisions``
  releases (image, model version, run id, commit) live in the ConfigMap ``aicd-<name>``;
  ``rollback`` restores any of them (default: the previous one) and retires those above it, so
  two rollbacks in a row go back two releases. A revision number is never handed out twice.
- Concurrency: every command holds the Lease ``aicd-<name>-deploy`` (see :mod:`.lease`).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import ClassVar

from ...config import KubernetesConfig
from ...errors import ConfigError, RolloutFailed, ServiceError, UserError
from ..history import History, NothingToRollBackTo
from ..naming import deployment_name
from ..target import Candidate, Release, Result, Settings, Target
from .client import KubeClient, resource_path
from .lease import deploy_lease
from .manifests import (
    PORT,
    KubeRelease,
    deployment,
    feedback_secret,
    http_route,
    object_labels,
    router_deployment,
    service,
    service_url,
)
from .pods import failure as pod_failure

__all__ = ["KubeTarget"]


def _history(state: dict) -> History:
    """The history a state describes. An older state (before histories) may have its current
    revision in the middle of the list: the ones after it are not returnable."""
    numbers = [r["revision"] for r in state["revisions"]]
    if state["current"] in numbers:
        numbers = numbers[:numbers.index(state["current"]) + 1]
    return History(tuple(numbers), max([state.get("last") or 0, *numbers]))


@dataclass(frozen=True)
class Outcome:
    revision: int
    previous: int | None
    image: str
    model_version: str
    state: str  # the strategy-state output: where the rollout stands, in words
    recovered_seconds: float | None = None


def _failed(message: str, outcome: Outcome | None) -> RolloutFailed:
    return RolloutFailed("kubernetes target", message, outcome,
                         hint="see the pods' events: kubectl describe pods -l app.kubernetes.io/name=<name>")


class KubeTarget(Target):
    kind = "kubernetes"
    needs_image = True
    stages_rollouts = True
    verbs = frozenset({"deploy", "rollback", "promote", "abort"})
    instead: ClassVar[dict[str, str]] = {**Target.instead,
                                         "stop": "delete the namespace's aicd objects with kubectl if you mean it"}

    def __init__(self, api: KubeClient, name: str, namespace: str, cfg: KubernetesConfig,
                 progress: Callable[[str], None] = lambda text: None, poll: float = 0.5,
                 lock_timeout: float = 300, feedback_token: str = ""):
        self.api, self.name, self.namespace, self.cfg = api, name, namespace, cfg
        self.progress, self.poll, self.lock_timeout = progress, poll, lock_timeout
        self.feedback_token = feedback_token  # stored in the Secret <name>-feedback by the next deploy
        self.why = ""  # why the last wait ended without every replica ready

    @classmethod
    def open(cls, settings: Settings) -> KubeTarget:
        if not settings.model_name:
            raise ConfigError("input `model-uri` is required on kubernetes: the deployment is found by the model's "
                              "name", hint="pass the model-uri of the deployed model (models:/<name>@champion works)")
        api = KubeClient.from_kubeconfig(settings.kubeconfig)
        return cls(api, deployment_name(settings.model_name.split("__")[-1]), settings.namespace or "aicd",
                   settings.kubernetes, progress=settings.progress, feedback_token=settings.feedback_token)

    @property
    def endpoint(self) -> str:
        return f"http://{self.name}.{self.namespace}.svc.cluster.local:{PORT}"

    @property
    def where(self) -> str:
        return f"{self.namespace}/{self.name}"

    # -- commands ------------------------------------------------------------------------------
    def deploy(self, candidate: Candidate) -> Result:
        """Roll the candidate's image out with the configured strategy (see the module docstring)."""
        if self.feedback_token:
            self.set_feedback_token(self.feedback_token)
        meta = candidate.meta
        return self._public(self._deploy, candidate.image, candidate.model_uri, str(meta.get("model_version", "")),
                            str(meta.get("run_id", "")), candidate.commit)

    def promote(self) -> Result:
        return self._public(self._promote)

    def abort(self) -> Result:
        return self._public(self._abort)

    def rollback(self, to: int | None = None) -> Result:
        return self._public(self._rollback, to)

    def current(self) -> Release | None:
        found = self.current_release()
        return _release(found.record()) if found else None

    def history(self) -> list[Release]:
        return [_release(r) for r in reversed(self._load()["revisions"])]

    def has_feedback_token(self) -> bool:
        return self.api.get("Secret", self.namespace, f"{self.name}-feedback") is not None

    def _public(self, verb, *args) -> Result:
        """A verb's Outcome as the Result every target returns (a failed rollout's too)."""
        try:
            return self._result(verb(*args))
        except RolloutFailed as failed:
            if isinstance(failed.result, Outcome):
                failed.result = self._result(failed.result)
            raise

    def _result(self, outcome: Outcome) -> Result:
        records = {r["revision"]: r for r in self._load()["revisions"]}
        def release(n):
            return (_release(records[n]) if n in records else Release(n) if n else None)
        serving = release(outcome.revision) or Release(outcome.revision)
        return Result(self.endpoint, replace(serving, image=serving.image or outcome.image,
                                             model_version=serving.model_version or outcome.model_version),
                      release(outcome.previous), state=outcome.state, recovered_seconds=outcome.recovered_seconds)

    def _deploy(self, image: str, model_uri: str = "", model_version: str = "", run_id: str = "",
                commit: str = "") -> Outcome:
        with self._locked() as state:
            if state.get("phase"):
                raise UserError(f"{self.name}: a {state['phase']['kind']} rollout is in progress "
                                f"({state.get('state', '')})", hint="promote or abort it first")
            number = _history(state).next_number()
            state["last"] = number  # handed out now: a failed rollout's number is not reused
            self._save(state)
            release = KubeRelease(number, image, model_uri, model_version, run_id, commit)
            strategy = self.cfg.strategy if state["current"] else "rolling-first"
            self.progress(f"deploying revision {number} ({image}) with strategy {self.cfg.strategy}")
            strategies = {"rolling-first": self._deploy_rolling_first, "rolling": self._deploy_rolling,
                          "canary": self._deploy_canary, "blue-green": self._deploy_blue_green, "ab": self._deploy_ab}
            return strategies[strategy](state, release)

    def set_feedback_token(self, token: str) -> None:
        """Store the bearer token /feedback requires in the Secret every model pod reads (pods
        started after this call get it; a deploy calls it before it creates pods)."""
        self.api.apply(feedback_secret(self.name, self.namespace, token, self.cfg))

    def _promote(self) -> Outcome:
        with self._locked() as state:
            phase = state.get("phase") or {}
            if phase.get("kind") == "canary":
                return self._canary_step(state, phase["step"] + 1)
            if phase.get("kind") == "ab":
                return self._ab_finish(state, winner="b")
            raise UserError(f"{self.name}: nothing to promote (no canary or A/B rollout in progress)")

    def _abort(self) -> Outcome:
        with self._locked() as state:
            phase = state.get("phase") or {}
            if phase.get("kind") == "canary":
                return self._canary_abort(state, "aborted")
            if phase.get("kind") == "ab":
                return self._ab_finish(state, winner="a")
            raise UserError(f"{self.name}: nothing to abort (no canary or A/B rollout in progress)")

    def _rollback(self, revision: int | None = None) -> Outcome:
        with self._locked() as state:
            try:
                after, _ = _history(state).rolled_back(revision)
            except NothingToRollBackTo as nothing:
                raise UserError(f"{self.name}: {nothing}", hint=nothing.hint) from None
            record = next(r for r in state["revisions"] if r["revision"] == after.current)
            self.progress(f"rolling back to revision {after.current} ({record['image']})")
            return self._restore(state, KubeRelease(**record), f"rolled back to revision {after.current}")

    # -- rolling -------------------------------------------------------------------------------
    def _deploy_rolling_first(self, state: dict, release: KubeRelease) -> Outcome:
        """The first release of any strategy: nothing to compare with, so it simply rolls out."""
        main = self._main_deployment()
        self._apply_service(self.name, self._main_selector())
        self.api.apply(self._manifest(main, release, self.cfg.replicas))
        if not self._wait(main, self.cfg.replicas):
            self.api.delete("Deployment", self.namespace, main)
            raise _failed(f"revision {release.revision} never became ready ({self.why}); removed it "
                          "(nothing served before)", None)
        if self.cfg.strategy == "blue-green":
            state["colours"] = {"blue": release.revision}
        return self._record(state, release, f"{self.cfg.strategy}: revision {release.revision} serving")

    def _deploy_rolling(self, state: dict, release: KubeRelease) -> Outcome:
        previous = KubeRelease(**self._current_record(state))
        self.api.apply(self._manifest(self.name, release, self.cfg.replicas))
        if self._wait(self.name, self.cfg.replicas):
            return self._record(state, release, f"rolling: revision {release.revision} serving")
        why = self.why
        self.progress(f"revision {release.revision} failed ({why}); rolling back to revision {previous.revision}")
        started = time.monotonic()
        self.api.apply(self._manifest(self.name, previous, self.cfg.replicas))
        self._wait(self.name, self.cfg.replicas, required=True)
        recovered = time.monotonic() - started
        outcome = Outcome(previous.revision, None, previous.image, previous.model_version,
                          f"rolling: revision {release.revision} failed, rolled back", recovered)
        raise _failed(f"revision {release.revision} did not become ready ({why}); rolled back to revision "
                      f"{previous.revision}, fully serving again {recovered:.1f} s later", outcome)

    # -- canary --------------------------------------------------------------------------------
    def _deploy_canary(self, state: dict, release: KubeRelease) -> Outcome:
        weighted = self._weighted()
        if not weighted:
            self._canary_replicas(self.cfg.canary.steps[0])  # refuse an inexact ratio before touching anything
        state["phase"] = {"kind": "canary", "step": 0, "release": release.record(), "weighted": weighted,
                          "replicas": self.cfg.replicas}
        outcome = self._canary_step(state, 0)
        while self.cfg.canary.pause_seconds is not None and state.get("phase"):
            time.sleep(self.cfg.canary.pause_seconds)
            outcome = self._canary_step(state, state["phase"]["step"] + 1)
        return outcome

    def _canary_step(self, state: dict, step: int) -> Outcome:
        phase = state["phase"]
        release, stable = KubeRelease(**phase["release"]), KubeRelease(**self._current_record(state))
        steps = self.cfg.canary.steps
        if steps[step] == 100:
            return self._canary_finish(state, release)
        weighted = phase.get("weighted")
        canary_n = math.ceil(self.cfg.replicas * steps[step] / 100) if weighted else self._canary_replicas(steps[step])
        canary = f"{self.name}-canary"
        self.api.apply(self._manifest(canary, release, canary_n, track="canary", variant="canary"))
        if not self._wait(canary, canary_n):
            why = self.why  # before the abort's own wait
            self._canary_abort(state, "failed")
            raise _failed(f"canary revision {release.revision} did not become ready at {steps[step]} % ({why}); "
                          f"aborted, revision {stable.revision} serves 100 %", self._last_outcome(state))
        if weighted:
            self._route(100 - steps[step], steps[step])
            how = f"of requests (HTTPRoute weights {100 - steps[step]}/{steps[step]})"
        else:
            self.api.apply(self._manifest(f"{self.name}-stable", stable, self.cfg.replicas - canary_n,
                                          track="stable"))
            self._wait(f"{self.name}-stable", self.cfg.replicas - canary_n, required=True)
            how = f"({canary_n} of {self.cfg.replicas} pods)"
        phase["step"] = step
        pause = self.cfg.canary.pause_seconds
        waiting = f"next step in {pause:g} s" if pause is not None else "promote or abort"
        text = (f"canary: revision {release.revision} at {steps[step]} % {how}, "
                f"step {step + 1} of {len(steps)}; {waiting}")
        state["state"] = text
        self._save(state)
        return Outcome(release.revision, stable.revision, release.image, release.model_version, text)

    def _canary_finish(self, state: dict, release: KubeRelease) -> Outcome:
        stable = f"{self.name}-stable"
        self.api.apply(self._manifest(stable, release, self.cfg.replicas, track="stable"))
        self._wait(stable, self.cfg.replicas, required=True)
        if state["phase"].get("weighted"):
            self._route(100, 0)
        self.api.delete("Deployment", self.namespace, f"{self.name}-canary")
        state["phase"] = None
        return self._record(state, release, f"canary: promoted, revision {release.revision} serves 100 %")

    def _canary_abort(self, state: dict, how: str) -> Outcome:
        stable = KubeRelease(**self._current_record(state))
        if state["phase"].get("weighted"):
            self._route(100, 0)
        self.api.delete("Deployment", self.namespace, f"{self.name}-canary")
        # The stable Deployment is only scaled back, never re-applied: an abort often comes from the
        # scheduled monitor, whose aicd.yml may not carry the deploy's placement (node selector,
        # tolerations, pull secrets) or replica count; the template the deploy made keeps serving.
        replicas = state["phase"].get("replicas", self.cfg.replicas)
        self._scale(f"{self.name}-stable", replicas)
        self._wait(f"{self.name}-stable", replicas, required=True)
        state["phase"] = None
        state["state"] = f"canary: {how}, revision {stable.revision} serves 100 %"
        self._save(state)
        return self._last_outcome(state)

    def _weighted(self) -> bool:
        """Weights on an HTTPRoute when a Gateway is configured and the cluster serves the Gateway API."""
        if not self.cfg.canary.gateway:
            return False
        if self.api.has_api("gateway.networking.k8s.io/v1"):
            return True
        self.progress("canary.gateway is set but the cluster has no Gateway API: splitting by replica ratio")
        return False

    def _route(self, stable_weight: int, canary_weight: int) -> None:
        for track in ("stable", "canary"):
            self._apply_service(f"{self.name}-{track}", {"aicd.dev/track": track})
        weights = {f"{self.name}-stable": stable_weight, f"{self.name}-canary": canary_weight}
        self.api.apply(http_route(self.name, self.namespace, self.cfg.canary.gateway, weights, self.cfg))

    def _canary_replicas(self, percent: int) -> int:
        exact = self.cfg.replicas * percent / 100
        if exact != int(exact):
            raise ConfigError(f"`deploy.kubernetes.canary.steps`: {percent} % of {self.cfg.replicas} replicas is "
                              f"not a whole number of pods", hint="raise `replicas` (e.g. 10) or change the steps")
        return int(exact)

    # -- blue-green ----------------------------------------------------------------------------
    def _deploy_blue_green(self, state: dict, release: KubeRelease) -> Outcome:
        state.setdefault("colours", {})
        active = self._active_colour(state)
        idle = "green" if active == "blue" else "blue"
        target = f"{self.name}-{idle}"
        self.api.apply(self._manifest(target, release, self.cfg.replicas, track=idle))
        if not self._wait(target, self.cfg.replicas):
            self.api.apply(self._manifest(target, release, 0, track=idle))
            raise _failed(f"{idle} (revision {release.revision}) did not become ready ({self.why}); the Service "
                          f"still selects {active}", self._last_outcome(state))
        self._switch_colour(state, idle, release.revision)
        return self._record(state, release, f"blue-green: {idle} (revision {release.revision}) active, {active} kept "
                                            f"for {self.cfg.blue_green.keep_seconds:g} s for rollback")

    def _switch_colour(self, state: dict, colour: str, revision: int) -> None:
        old = self._active_colour(state)
        self._apply_service(self.name, {"aicd.dev/track": colour})
        state["colours"][colour] = revision
        state["active"] = colour
        state["retire"] = {"colour": old, "after": time.time() + self.cfg.blue_green.keep_seconds}

    def _active_colour(self, state: dict) -> str:
        return state.get("active") or "blue"

    def _retire_expired(self, state: dict) -> None:
        retire = state.get("retire")
        if self.cfg.strategy != "blue-green" or not retire or time.time() < retire["after"]:
            return
        colour = retire["colour"]
        record = next((r for r in state["revisions"] if r["revision"] == state["colours"].get(colour)), None)
        if record:
            self.progress(f"scaling down {colour} (kept {self.cfg.blue_green.keep_seconds:g} s for rollback)")
            self.api.apply(self._manifest(f"{self.name}-{colour}", KubeRelease(**record), 0, track=colour))
        state["retire"] = None

    # -- A/B -----------------------------------------------------------------------------------
    def _deploy_ab(self, state: dict, release: KubeRelease) -> Outcome:
        current = KubeRelease(**self._current_record(state))
        for variant, rel in (("a", current), ("b", release)):
            self._apply_service(f"{self.name}-{variant}", {"aicd.dev/track": variant})
            self.api.apply(self._manifest(f"{self.name}-{variant}", rel, self.cfg.replicas, track=variant,
                                          variant=variant))
        if not self._wait(f"{self.name}-b", self.cfg.replicas):
            self.api.delete("Deployment", self.namespace, f"{self.name}-b")
            raise _failed(f"variant b (revision {release.revision}) did not become ready ({self.why}); a keeps "
                          "serving", self._last_outcome(state))
        self._wait(f"{self.name}-a", self.cfg.replicas, required=True)
        self._apply_router(release.image, self.cfg.ab.split)
        state["phase"] = {"kind": "ab", "release": release.record()}
        text = (f"ab: a = revision {current.revision}, b = revision {release.revision}, {self.cfg.ab.split:g} % of "
                f"users (by header {self.cfg.ab.key}) on b; promote or abort")
        state["state"] = text
        self._save(state)
        return Outcome(release.revision, current.revision, release.image, release.model_version, text)

    def _apply_router(self, image: str, split: float) -> None:
        upstreams = {v: service_url(f"{self.name}-{v}") for v in ("a", "b")}
        self.api.apply(router_deployment(self.name, self.namespace, image, upstreams, split, self.cfg))
        self._apply_service(self.name, {"aicd.dev/track": "router"})
        self._wait(f"{self.name}-router", self.api_replicas(f"{self.name}-router"), required=True)

    def api_replicas(self, deployment_name: str) -> int:
        found = self.api.get("Deployment", self.namespace, deployment_name) or {}
        return int(found.get("spec", {}).get("replicas", 0))

    def _ab_finish(self, state: dict, winner: str) -> Outcome:
        release = KubeRelease(**state["phase"]["release"])
        if winner == "b":
            self.api.apply(self._manifest(f"{self.name}-a", release, self.cfg.replicas, track="a", variant="a"))
            self._wait(f"{self.name}-a", self.cfg.replicas, required=True)
        self._apply_router(release.image if winner == "b" else self._current_record(state)["image"], 0)
        self.api.delete("Deployment", self.namespace, f"{self.name}-b")
        state["phase"] = None
        if winner == "b":
            return self._record(state, release, f"ab: b (revision {release.revision}) won, serves everyone")
        state["state"] = f"ab: a kept (revision {state['current']}), b removed"
        self._save(state)
        return self._last_outcome(state)

    # -- rollback ------------------------------------------------------------------------------
    def _restore(self, state: dict, release: KubeRelease, text: str) -> Outcome:
        strategy = self.cfg.strategy
        if strategy == "blue-green":
            idle = "green" if self._active_colour(state) == "blue" else "blue"
            target = f"{self.name}-{idle}"
            if state.get("colours", {}).get(idle) != release.revision or \
                    not self._wait(target, self.cfg.replicas, timeout=0):
                self.api.apply(self._manifest(target, release, self.cfg.replicas, track=idle))
                self._wait(target, self.cfg.replicas, required=True)
            self._switch_colour(state, idle, release.revision)
        else:
            main = self._main_deployment()
            variant = "a" if strategy == "ab" else "stable"
            self.api.apply(self._manifest(main, release, self.cfg.replicas, track=self._main_track(),
                                          variant=variant))
            self._wait(main, self.cfg.replicas, required=True)
            for extra in ("canary", "b"):
                self.api.delete("Deployment", self.namespace, f"{self.name}-{extra}")
            if strategy == "ab":
                self._apply_router(release.image, 0)
        state["phase"] = None
        return self._record(state, release, f"{strategy}: {text}", new=False)

    # -- shared --------------------------------------------------------------------------------
    def _main_deployment(self) -> str:
        return {"rolling": self.name, "canary": f"{self.name}-stable", "blue-green": f"{self.name}-blue",
                "ab": f"{self.name}-a"}[self.cfg.strategy]

    def _main_track(self) -> str:
        return {"rolling": "stable", "canary": "stable", "blue-green": "blue", "ab": "a"}[self.cfg.strategy]

    def _main_selector(self) -> dict[str, str]:
        return {"blue-green": {"aicd.dev/track": "blue"}, "ab": {"aicd.dev/track": "a"}}.get(self.cfg.strategy, {})

    def _manifest(self, deployment_name: str, release: KubeRelease, replicas: int, track: str | None = None,
                  variant: str = "stable") -> dict:
        track = track or self._main_track()
        return deployment(self.name, self.namespace, track, release, replicas, self.cfg, variant, deployment_name)

    def _scale(self, deployment_name: str, replicas: int) -> None:
        """Set a Deployment's replicas, leaving its template as it is (a merge patch of spec.replicas: the
        tenant Role's verbs on deployments cover it, where the scale subresource needs its own rule)."""
        self.api.request("PATCH", resource_path("Deployment", self.namespace, deployment_name),
                         {"spec": {"replicas": replicas}}, "application/merge-patch+json")

    def _apply_service(self, service_name: str, selector: dict[str, str]) -> None:
        self.api.apply(service(service_name, self.namespace, self.name, selector, self.cfg))

    def _wait(self, deployment_name: str, replicas: int, required: bool = False, timeout: float | None = None) -> bool:
        """True once the controller observed the spec and every replica is updated and available."""
        limit = self.cfg.progress_deadline_seconds + 30 if timeout is None else timeout
        deadline, first_seen = time.monotonic() + limit, {}
        while True:
            found = self.api.get("Deployment", self.namespace, deployment_name) or {}
            status = found.get("status", {})
            observed = status.get("observedGeneration", 0) >= found.get("metadata", {}).get("generation", 1)
            counts = [status.get(k, 0) for k in ("replicas", "updatedReplicas", "availableReplicas", "readyReplicas")]
            if observed and all(c == replicas for c in counts) and not status.get("unavailableReplicas"):
                self.why = ""
                return True
            stalled = observed and any(c.get("type") == "Progressing" and c.get("reason") == "ProgressDeadlineExceeded"
                                       for c in status.get("conditions", []))
            # A required wait (a restore, the stable track being scaled) never ends early: it waits for
            # a version that served before, whose pods' past says nothing of its future.
            broken = self._broken_pod(found, first_seen) if found and not required else ""
            if broken or stalled or time.monotonic() >= deadline:
                self.why = broken or f"not ready within {self.cfg.progress_deadline_seconds} s"
                if required:
                    raise ServiceError("kubernetes target", f"{self.namespace}/{deployment_name} did not become "
                                       f"ready ({replicas} replicas): {broken or f'not within {limit:g} s'}",
                                       retryable=not broken)
                return False
            time.sleep(self.poll)

    def _broken_pod(self, found: dict, first_seen: dict) -> str:
        """Why a pod of the release the Deployment now rolls out will never get ready ("" if none is
        known): only its pods, by the release's revision label, which no earlier release shares."""
        labels = found["spec"]["template"]["metadata"].get("labels", {})
        selector = {**found["spec"]["selector"].get("matchLabels", {}),
                    "aicd.dev/revision": labels.get("aicd.dev/revision", "")}
        pods = self.api.list("Pod", self.namespace, ",".join(f"{k}={v}" for k, v in selector.items()))
        return pod_failure(pods, first_seen, time.monotonic())

    def _current_record(self, state: dict) -> dict:
        return next(r for r in state["revisions"] if r["revision"] == state["current"])

    def _record(self, state: dict, release: KubeRelease, text: str, new: bool = True) -> Outcome:
        """``release`` serves now: a new one is pushed on the history, a restored one retires the
        revisions above it."""
        history = _history(state)
        after = history.deployed(release.revision, self.cfg.keep_revisions)[0] if new \
            else history.rolled_back(release.revision)[0]
        records = {r["revision"]: r for r in [*state["revisions"], release.record()]}
        state["revisions"] = [records[n] for n in after.kept]
        state["current"], state["previous"], state["last"] = after.current, after.previous, after.last
        state["state"] = text
        self._save(state)
        return Outcome(release.revision, after.previous, release.image, release.model_version, text)

    def _last_outcome(self, state: dict) -> Outcome:
        current = self._current_record(state)
        return Outcome(current["revision"], state.get("previous"), current["image"], current["model_version"],
                       state.get("state", ""))

    def _locked(self):
        return _Locked(self)

    def _load(self) -> dict:
        found = self.api.get("ConfigMap", self.namespace, f"aicd-{self.name}")
        if not found:
            return {"revisions": [], "current": None, "previous": None, "phase": None, "state": ""}
        return json.loads(found["data"]["state.json"])

    def _save(self, state: dict) -> None:
        state["updated"] = datetime.now(UTC).isoformat(timespec="seconds")
        self.api.apply({"apiVersion": "v1", "kind": "ConfigMap",
                        "metadata": {"name": f"aicd-{self.name}", "namespace": self.namespace,
                                     "labels": object_labels(self.name, self.cfg)},
                        "data": {"state.json": json.dumps(state, indent=1)}})

    def status(self) -> dict:
        return self._load()

    def current_release(self) -> KubeRelease | None:
        """What serves now (from the history ConfigMap), or None before the first deploy."""
        state = self._load()
        return KubeRelease(**self._current_record(state)) if state["current"] else None


def _release(record: dict) -> Release:
    return Release(record["revision"], record.get("model_uri", ""), record.get("model_version", ""),
                   record.get("run_id", ""), record.get("image", ""), record.get("commit", ""))


class _Locked:
    """``with target._locked() as state``: the Lease is held and ``state`` is fresh from the cluster."""

    def __init__(self, target: KubeTarget):
        self.target = target

    def __enter__(self) -> dict:
        t = self.target
        self.lease = deploy_lease(t.api, t.namespace, t.name, t.lock_timeout)
        self.lease.__enter__()
        state = t._load()
        t._retire_expired(state)
        return state

    def __exit__(self, *exc) -> None:
        self.lease.__exit__(*exc)
