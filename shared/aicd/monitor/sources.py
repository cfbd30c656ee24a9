"""Where production counts come from: one interface, two sources.

    source.read(groups, anchor) -> {group: Snapshot}

``groups`` maps a group name (``stable`` / ``canary``, ``a`` / ``b``, or ``served``) to a label
selector; ``anchor`` names the group whose start opens the window when the window is ``auto``.

* :class:`EndpointSource` — the embedded default: reads ``/metrics`` of one or more model servers
  directly. The counts are the servers' whole lifetimes (a server's counters start with it).
* :class:`PrometheusSource` — Prometheus's HTTP API. A group's count over the window is the counter
  now minus the counter at the window's start, series by series (0 for series that did not exist
  yet), so a canary's counts are exact from its first request, and stable's cover the same stretch
  of time. A series that went down was restarted: its counts before the restart are lost, the rest
  counts; replicas never offset each other.

Both raise :class:`ServiceError` naming the source when it cannot be read, and a
:class:`UserError` when the source answers but holds nothing for a group (a wrong model name,
selector or scrape configuration), so the gate never decides on silence.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Mapping

from ..errors import ServiceError, UserError
from ..http_client import TransportError, reason, session
from . import promql
from .metrics import Snapshot, absorb, matches, samples_of

__all__ = ["EndpointSource", "PrometheusSource", "Source", "parse_selector", "promql_selector"]

Groups = Mapping[str, Mapping[str, str]]
# (metric, labels to keep, extra matchers): one PromQL query each; counters are differenced over the window
COUNTERS = (("aicd_requests_total", ("status", "route"), 'route="predict"'),
            ("aicd_feedback_total", ("outcome",), ""),
            ("aicd_conversions_total", ("outcome",), ""),
            ("aicd_paired_feedback_total", ("outcome", "shadow_version"), ""),
            ("aicd_feedback_confusion_total", ("actual", "predicted"), ""),
            ("aicd_feedback_error_total", ("moment",), ""),
            ("aicd_request_latency_seconds_bucket", ("le",), ""),
            ("aicd_predictions_total", ("label",), ""),
            ("aicd_feature_values_total", ("feature", "bin"), ""))
GAUGES = (("aicd_feature_reference_ratio", ("feature", "bin"), "max"),
          ("aicd_server_start_time_seconds", (), "min"),
          ("aicd_model_info", ("model", "version", "run_id", "variant", "runtime", "task"), "max"))


class Source:
    """``read(groups, anchor)``: one Snapshot per group, over the same window; ``anchor`` names the group
    whose start opens an ``auto`` window. Raises ServiceError (source unreadable) or UserError (nothing
    for a group, or a group served by several versions at once)."""

    description: str
    counted: str = ""  # the window the last read counted over, in words (set by read)
    elapsed: float | None = None  # its length in seconds, when known (set by read)

    def read(self, groups: Groups, anchor: str) -> dict[str, Snapshot]:
        raise NotImplementedError


def side(name: str) -> str:
    """A group's name in a sentence: ``served`` (compare: none) is "the served model"."""
    return "the served model" if name == "served" else name


def one_version(name: str, snap: Snapshot, description: str, named: bool = False) -> Snapshot:
    """A group mixing versions (a rollout in progress, or a server labelled with the wrong variant)
    cannot be judged as one version; ``named``: the group's servers were named one by one."""
    if len(snap.versions) > 1:
        hint = (f"name only servers of one version for {side(name)}" if named else
                "judge it when the rollout has finished; or, if one of them is the candidate, deploy it with "
                "`variant: canary` (or b) so its metrics say so, or name each side's servers with "
                "baseline-endpoint and candidate-endpoint")
        raise UserError(f"{description}: {side(name)} is served by several versions at once "
                        f"({', '.join(sorted(snap.versions))})", hint=hint)
    return snap


def parse_selector(text: str) -> str:
    """Checks the `selector` input's extra PromQL label matchers."""
    return promql.label_matchers(text, "input `selector`")


def promql_selector(labels: Mapping[str, str], extra: str = "", *more: str) -> str:
    """``{a="x",b="y",<extra>}`` with values escaped for PromQL."""
    return promql.selector(labels, extra, *more)


class EndpointSource(Source):
    """Model servers' ``/metrics`` read directly (the embedded default: no Prometheus needed).

    ``endpoints``: every group is matched by its selector among all of them. ``by_group`` instead
    names each group's own servers: a group then counts only what its servers report."""

    def __init__(self, endpoints: list[str], timeout: float = 10, by_group: Mapping[str, list[str]] | None = None):
        self.by_group = {name: [e.rstrip("/") for e in urls] for name, urls in (by_group or {}).items()}
        self.endpoints = [e.rstrip("/") for e in endpoints] or [e for urls in self.by_group.values() for e in urls]
        self.timeout = timeout
        self.http = session(attempts=1)
        servers = "model server at " if len(self.endpoints) == 1 else "model servers at "
        self.description = servers + ", ".join(self.endpoints) if not self.by_group else \
            "model servers " + "; ".join(f"{name} at {', '.join(urls)}" for name, urls in self.by_group.items())
        self.counted = "since each model server started (its own counters)"

    def read(self, groups: Groups, anchor: str) -> dict[str, Snapshot]:
        everyone = [] if self.by_group else [sample for e in self.endpoints for sample in self._samples(e)]
        out = {}
        for name, selector in groups.items():
            samples = [s for e in self.by_group[name] for s in self._samples(e)] if self.by_group else everyone
            out[name] = one_version(name, absorb(Snapshot(), (s for s in samples if matches(s[1], selector))),
                                    self.description, named=bool(self.by_group))
            if not out[name].model:
                wanted = ", ".join(f"{k}={v}" for k, v in selector.items()) or "any"
                raise UserError(f"{self.description}: no model server serves {side(name)} ({wanted})",
                                hint="check `endpoint` (several are comma-separated) and `compare`")
        started = out[anchor].started  # the candidate's server: its counters are what is compared
        self.elapsed = max(0.0, time.time() - started) if started else None
        return out

    def _samples(self, endpoint: str) -> list:
        text = self._metrics(endpoint)
        try:
            return samples_of(text)
        except (ValueError, TypeError, KeyError, IndexError) as exc:
            raise ServiceError(f"model server at {endpoint}", f"/metrics is not Prometheus text ({exc})",
                               retryable=False, hint="point `endpoint` at an aicd model server; nothing was "
                                                     "promoted or rolled back") from None

    def _metrics(self, endpoint: str) -> str:
        """One read of ``/metrics`` (not retried: the gate reads again at its next evaluation)."""
        try:
            answer = self.http.get(endpoint + "/metrics", timeout=self.timeout)
            answer.raise_for_status()
            return answer.content.decode("utf-8")
        except UnicodeDecodeError:
            raise ServiceError(f"model server at {endpoint}", "/metrics is not UTF-8 text", retryable=False,
                               hint="point `endpoint` at an aicd model server") from None
        except TransportError as exc:
            raise ServiceError(f"model server at {endpoint}", f"cannot read /metrics ({reason(exc)})",
                               retryable=True, hint="check the `endpoint` input and that the deployment is running; "
                                                    "nothing was promoted or rolled back") from None


class PrometheusSource(Source):
    """Prometheus's HTTP API (``/api/v1/query``), with bearer or basic auth, timeouts and retries."""

    def __init__(self, url: str, *, extra_selector: str = "", window: int | None = None, token: str = "",
                 username: str = "", password: str = "", timeout: float = 10, attempts: int = 3,
                 backoff: float = 0.5, clock: Callable[[], float] = time.time):
        self.url = url.rstrip("/")
        self.description = f"Prometheus at {self.url}"
        self.extra = parse_selector(extra_selector) if extra_selector else ""
        self.window = window
        self.headers = {"Accept": "application/json", "User-Agent": "aicd"}
        if token:
            self.headers["Authorization"] = f"Bearer {token}"
        elif username:
            pair = base64.b64encode(f"{username}:{password}".encode()).decode()
            self.headers["Authorization"] = f"Basic {pair}"
        self.timeout, self.clock = timeout, clock
        self.http = session(attempts, backoff)  # connection errors and 5xx retried (aicd.http_client)

    def read(self, groups: Groups, anchor: str) -> dict[str, Snapshot]:
        now = self.clock()
        start = self._window_start(groups[anchor], anchor, now)
        self.elapsed = max(0.0, now - start)
        minutes = self.elapsed / 60
        self.counted = (f"over the last {minutes:.0f} min (monitor.window)" if self.window is not None
                        else f"since {side(anchor)} started, {minutes:.1f} min ago (monitor.window: auto)")
        return {name: one_version(name, self._snapshot(name, selector, start, now), self.description)
                for name, selector in groups.items()}

    def _window_start(self, selector: Mapping[str, str], name: str, now: float) -> float:
        if self.window is not None:
            return now - self.window
        query = f"min({'aicd_server_start_time_seconds' + promql_selector(selector, self.extra)})"
        rows = self.query(query, now)
        if not rows:
            raise self._nothing(name, selector, query)
        return float(rows[0][1]) - 1  # a hair before the start, so the first scrape is inside

    def _snapshot(self, name: str, selector: Mapping[str, str], start: float, now: float) -> Snapshot:
        snap = Snapshot()
        for metric, _keep, extra in COUNTERS:
            query = f"{metric}{promql_selector(selector, self.extra, extra)}"  # every series, each replica apart
            absorb(snap, ((metric, labels, value) for labels, value in
                          series_increase(self.query(query, start), self.query(query, now))))
        for metric, keep, how in GAUGES:
            by = f" by ({','.join(keep)})" if keep else ""
            query = f"{how}{by} ({metric}{promql_selector(selector, self.extra)})"
            absorb(snap, ((metric, labels, value) for labels, value in self.query(query, now)))
        if not snap.model:
            raise self._nothing(name, selector, f"aicd_model_info{promql_selector(selector, self.extra)}")
        return snap

    def _nothing(self, name: str, selector: Mapping[str, str], query: str) -> UserError:
        return UserError(f"{self.description} has no series for {side(name)}: {query} returned nothing",
                         hint="check that Prometheus scrapes the model servers and the `model`, `compare` and "
                              "`selector` inputs; nothing was promoted or rolled back")

    # -- HTTP ---------------------------------------------------------------------------------------
    def query(self, promql: str, at: float) -> list[tuple[dict, float]]:
        """An instant vector: [(labels, value)]. Connection errors and 5xx answers are retried."""
        try:
            answer = self.http.post(self.url + "/api/v1/query", data={"query": promql, "time": f"{at:.3f}"},
                                    headers=self.headers, timeout=self.timeout)
        except TransportError as exc:
            raise ServiceError(self.description, f"cannot be reached ({reason(exc)})", retryable=True,
                               hint="check `prometheus-url` and that Prometheus is up; nothing was promoted or "
                                    "rolled back") from None
        if answer.status_code >= 400:
            raise self._http_error(answer.status_code, answer.content, promql)
        return _vector(_json(answer.content, self.description), promql, self.description)

    def _http_error(self, status: int, body: bytes, promql: str) -> ServiceError:
        if status in (401, 403):
            return ServiceError(self.description, f"refused the credentials (HTTP {status})", retryable=False,
                                hint="check `prometheus-token` (bearer) or the basic-auth user and password")
        detail = _error_text(body, status)
        if status in (400, 422):
            return ServiceError(self.description, f"rejected the query {promql!r}: {detail}", retryable=False,
                                hint="check the `selector` input")
        return ServiceError(self.description, f"answered HTTP {status}: {detail}", retryable=status >= 500,
                            hint="nothing was promoted or rolled back")


def series_increase(before: list[tuple[dict, float]], now: list[tuple[dict, float]]) -> list[tuple[dict, float]]:
    """Each series' growth between two instant vectors, series by series (replicas never offset each
    other): a series new since ``before`` counts from 0; one lower than before was restarted, so its
    whole current value is the growth since the restart (what came before the restart is lost)."""
    start = {_identity(labels): value for labels, value in before}
    out = []
    for labels, value in now:
        old = start.get(_identity(labels), 0.0)
        out.append((labels, value - old if value >= old else value))
    return out


def _identity(labels: Mapping[str, str]) -> tuple:
    return tuple(sorted(labels.items()))


def _not_prometheus(description: str, what: str) -> ServiceError:
    return ServiceError(description, f"did not answer like Prometheus ({what})", retryable=False,
                        hint="check that `prometheus-url` is Prometheus's base URL; nothing was promoted or "
                             "rolled back")


def _json(raw: bytes, description: str):
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise _not_prometheus(description, "the answer is not JSON") from None


def _vector(answer, promql: str, description: str) -> list[tuple[dict, float]]:
    if not isinstance(answer, dict):
        raise _not_prometheus(description, "the answer is not a JSON object")
    if answer.get("status") != "success":
        raise ServiceError(description, f"query {promql!r} failed: {answer.get('error', answer)}", retryable=False)
    data = answer.get("data") or {}
    if not isinstance(data, dict) or data.get("resultType") != "vector":
        raise ServiceError(description, f"query {promql!r} gave no instant vector", retryable=False)
    try:
        return [(dict(row.get("metric", {})), float(row["value"][1])) for row in data.get("result", [])]
    except (AttributeError, KeyError, IndexError, TypeError, ValueError):
        raise _not_prometheus(description, "a result row has no metric and value") from None


def _error_text(body: bytes, status: int) -> str:
    try:
        return str(json.loads(body).get("error", ""))[:300] or f"HTTP {status}"
    except (ValueError, AttributeError, UnicodeDecodeError):
        return " ".join(body[:300].decode("utf-8", "replace").split()) or f"HTTP {status}"
