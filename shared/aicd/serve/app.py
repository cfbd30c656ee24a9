"""The HTTP API of a served model: a small ASGI app, lean enough for thousands of requests a second.

    POST /predict   {"instances": [{feature: value, ...}, ...]} or one row as a bare object; add
                    "probabilities": true beside "instances" for each row's class probabilities
                    -> {"predictions": [...], "probabilities": [{class: p}, ...], "request_id": ...,
                        "model_version": ...}
    POST /feedback  {"request_id": ..., "label": <true label>} and/or {"request_id": ..., "converted": bool}
                    (needs ``Authorization: Bearer <feedback token>``; see below)
    GET  /healthz   the process is up          GET /readyz   the model is loaded and warmed
    GET  /metrics   Prometheus text format (see :mod:`aicd.serve.metrics`)
    /v2/...         the Open Inference Protocol (KServe V2) REST API: health, server and model metadata,
                    model readiness and ``POST /v2/models/<name>[/versions/<v>]/infer`` (see :mod:`aicd.serve.oip`)

Every response carries ``x-request-id`` and ``x-model-version`` headers (and the same fields in a
JSON body). Feedback refers to the ``request_id`` a prediction's answer carried: the caller's own
``x-request-id`` when it sent one that is not already remembered, else a fresh one — so nobody can
replace a remembered prediction by reusing its id. Rows are checked against the model's
signature (the features and types recorded at training): a bad request gets a 400 naming the
field, e.g. ``instances[0].age``. Bodies over ``max_body_bytes`` get a 413, bodies that take
longer than ``read_timeout`` a 408, JSON nested deeper than ``max_depth`` a 400. The last
100,000 predictions are remembered (in this server process: a stopped or replaced revision's are
gone) so delayed feedback can be scored. Each prediction takes one label and one conversion: a
repeated one gets a 409 and counts nothing (a client retrying a timed-out call cannot inflate
accuracy). A label is compared with the prediction as a value of the model's classes — ``1``,
``1.0`` and ``"1"`` are the same class — and a label that is none of them is a 400, never counted
as "incorrect". An inference request over the V2 protocol is checked by the same rules, scored,
counted (as route ``predict``) and remembered for feedback the same way. No framework: routing a
handful of paths by hand costs nothing and keeps the serving image to onnxruntime, numpy, uvicorn
and prometheus-client.

Whose fault a failure is decides its status, because the production gate's error rate counts
5xx answers and must never move because of what a client sent: anything that goes wrong while a
request is read and checked is the request's (4xx); only the model failing on a valid request is
the server's (500).

A *shadow* model (optional; usually the stable version, given to a canary) scores every valid
request too, after the answer is sent and outside the latency measured; it never answers. A label
fed back for such a request then counts which of the two models was right
(``aicd_paired_feedback_total``), so the production gate can compare them on the same requests.
A shadow that fails on a request is logged and skipped: it never turns an answer into an error.

Feedback changes the online accuracy the gate judges, so ``/feedback`` (and any later route
that changes a decision) needs the bearer token the deployment was given; without a configured
token it answers 403 to everyone. The comparison is constant-time. Predictions, health and
metrics stay open.
"""

from __future__ import annotations

import asyncio
import difflib
import hmac
import json
import math
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass

import orjson
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from .. import __version__
from ..decision import class_key
from . import oip
from .checks import KIND_NAMES, BadRequest, encodable, finite, fits
from .logs import log
from .metrics import ServerMetrics
from .model import LoadedModel

__all__ = ["BadRequest", "Limits", "ModelServer", "create_app", "rows_to_columns"]

REMEMBERED_PREDICTIONS = 100_000


@dataclass(frozen=True)
class Limits:
    max_body_bytes: int = 1 << 20
    max_rows: int = 1000
    read_timeout: float = 10.0
    max_depth: int = 32  # a predict body needs 3 levels ({"instances": [{...}]})


def rows_to_columns(payload: object, features: list[str], types: dict[str, str], max_rows: int) -> dict[str, list]:
    """Feature columns from a predict body; BadRequest naming the first bad field."""
    rows = payload.get("instances") if isinstance(payload, dict) and "instances" in payload else [payload]
    if not isinstance(rows, list) or not rows:
        raise BadRequest("`instances` must be a non-empty list of objects")
    if len(rows) > max_rows:
        raise BadRequest(f"`instances` has {len(rows)} rows, at most {max_rows} per request")
    columns: dict[str, list] = {name: [] for name in features}
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            raise BadRequest(f"`instances[{i}]` must be an object of feature values")
        for name in features:
            value = row.get(name, _ABSENT)
            if value is _ABSENT:
                raise BadRequest(f"`instances[{i}].{name}` is missing")
            kind = types.get(name, "str")
            if isinstance(value, str) and not encodable(value):
                raise BadRequest(f"`instances[{i}].{name}` is not valid text (an unpaired UTF-16 surrogate)")
            if kind in ("int", "float") and type(value) in (int, float) and not finite(value):
                raise BadRequest(f"`instances[{i}].{name}` must be a finite number within ±3.4e38, got {value!r:.40}")
            if not fits(value, kind):
                raise BadRequest(f"`instances[{i}].{name}` must be {KIND_NAMES.get(kind, kind)}, got {value!r:.40}")
            columns[name].append(value)
    return columns


_ABSENT = object()


def _wants_probabilities(payload: object, available: bool) -> bool:
    """``"probabilities": true`` beside ``instances`` asks for them (in a bare one-row object the key
    would be a feature); a model without them says so (400)."""
    if isinstance(payload, dict) and "instances" in payload:
        unknown = sorted(set(payload) - {"instances", "probabilities"})
        if unknown:
            near = difflib.get_close_matches(unknown[0], ["instances", "probabilities"], n=1)
            raise BadRequest(f"unknown field `{unknown[0]:.40}` beside `instances`"
                             + (f" (did you mean `{near[0]}`?)" if near else " (known: instances, probabilities)"))
    asked = payload.get("probabilities", False) if isinstance(payload, dict) and "instances" in payload else False
    if not isinstance(asked, bool):
        raise BadRequest(f"`probabilities` must be true or false, got {asked!r:.40}")
    if asked and not available:
        raise BadRequest("`probabilities`: this model gives none (a regressor, or a classifier without them)")
    return asked


def nesting_depth(value: object, limit: int) -> int:
    """How deep ``value`` nests (a scalar is 0), counted without recursion and up to ``limit + 1``.
    Every request body passes here, so only containers are stacked: a V2 body of 30 tensors is ~200
    nodes, and a generator per node cost more than scoring the model."""
    if not isinstance(value, (dict, list)):
        return 0
    deepest, level = 1, [(value, 1)]
    while level:
        item, depth = level.pop()
        if depth > deepest:
            deepest = depth
            if deepest > limit:
                return deepest
        for child in item.values() if isinstance(item, dict) else item:
            if isinstance(child, (dict, list)):
                level.append((child, depth + 1))
    return deepest


class ModelServer:
    """An ASGI app serving one loaded model as ``variant``."""

    def __init__(self, model: LoadedModel, variant: str = "stable", limits: Limits = Limits(),
                 access_log: bool = False, feedback_token: str = "", shadow: LoadedModel | None = None):
        self.model, self.limits, self.access_log = model, limits, access_log
        self.shadow = shadow
        self._feedback_token = feedback_token.encode()
        self.version = str(model.meta.get("model_version", ""))
        shadow_version = str(shadow.meta.get("model_version", "")) if shadow else None
        self.metrics = ServerMetrics(model.meta, variant, model.runtime, model.profile, shadow_version)
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(self.metrics)
        self.remembered: OrderedDict[str, _Remembered] = OrderedDict()
        classes = model.meta.get("classes") or []
        self.regression = model.meta.get("task", "classification") == "regression"
        self.classes = {class_key(c): c for c in classes} if not self.regression else {}
        self.ready = False
        self.signature = oip.signature(model.meta, model.runtime, model.has_probabilities)
        self.routes = {("POST", "/predict"): self.predict, ("POST", "/feedback"): self.feedback,
                       ("GET", "/healthz"): self.healthz, ("GET", "/readyz"): self.readyz,
                       ("GET", "/metrics"): self.prometheus, ("GET", "/v2"): self.v2_server,
                       ("GET", "/v2/"): self.v2_server,
                       ("GET", "/v2/health/live"): self.v2_live, ("GET", "/v2/health/ready"): self.v2_ready}

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            return await self._lifespan(receive, send)
        if scope["type"] != "http":
            return None
        request_id = _request_id(scope)
        handler = self.routes.get((scope["method"], scope["path"]))
        if handler is None and scope["path"].startswith("/v2/models/"):
            handler = self.v2_model
        if handler is None:
            known = any(path == scope["path"] for _, path in self.routes)
            status = 405 if known else 404
            return await self._send_json(send, {"error": f"{scope['method']} {scope['path']} is not served"},
                                         status, request_id, scope)
        try:
            await handler(scope, receive, send, request_id)
        except BadRequest as exc:
            await self._send_json(send, {"error": str(exc)}, exc.status, request_id, scope)
        except Exception as exc:  # one bad request must never take the server down
            log("error", "request failed", path=scope["path"], request_id=request_id, error=repr(exc))
            await self._send_json(send, {"error": "internal error"}, 500, request_id, scope)
        return None

    # -- routes ----------------------------------------------------------------------------------
    async def predict(self, scope, receive, send, request_id: str) -> None:
        started = time.perf_counter()
        payload = await self._read_json(scope, receive)
        columns = _the_clients(rows_to_columns, payload, self.model.features, self.model.feature_types,
                               self.limits.max_rows)
        wanted = _wants_probabilities(payload, self.model.has_probabilities)
        labels, probabilities = await self._answer(columns, wanted)
        request_id = self._unremembered(request_id)
        body = {"predictions": labels, **({"probabilities": probabilities} if wanted else {})}
        await self._send_json(send, body, 200, request_id, scope)
        self.metrics.latency(time.perf_counter() - started)
        self._remember(request_id, _one(labels), _one(self._shadow_predict(columns, request_id)))

    async def _answer(self, columns: dict[str, list], probabilities: bool) -> tuple[list, list | None]:
        """The model's answer to checked columns, counted in the prediction and feature metrics."""
        if self.model.runtime == "onnx":  # microseconds: a thread hop would cost more than it saves
            labels, probabilities = self.model.answer(columns, probabilities)
        else:  # scikit-learn takes milliseconds: off the event loop, so other requests go on
            labels, probabilities = await asyncio.to_thread(self.model.answer, columns, probabilities)
        self.metrics.predicted(labels)
        self.metrics.features(columns)
        return labels, probabilities

    def _unremembered(self, request_id: str) -> str:
        """An id is scored once: a later request cannot replace a remembered prediction (it gets a fresh id)."""
        return uuid.uuid4().hex if request_id in self.remembered else request_id

    # -- the Open Inference Protocol (KServe V2), see aicd.serve.oip ------------------------------
    async def v2_server(self, scope, receive, send, request_id: str) -> None:
        await self._send_json(send, oip.server_metadata(__version__), 200, request_id, scope)

    async def v2_live(self, scope, receive, send, request_id: str) -> None:
        await self._send_json(send, {"live": True}, 200, request_id, scope)

    async def v2_ready(self, scope, receive, send, request_id: str) -> None:
        await self._send_json(send, {"ready": self.ready}, 200 if self.ready else 503, request_id, scope)

    async def v2_model(self, scope, receive, send, request_id: str) -> None:
        """``/v2/models/<name>[/versions/<version>][/ready|/infer]``: the served model's name (tenant
        prefix included) and version, exactly, else a 404."""
        route = oip.parse_path(scope["path"])
        if route is None:
            raise BadRequest(f"{scope['method']} {scope['path']:.120} is not served", 404)
        sig = self.signature
        if route.name != sig.name:
            raise BadRequest(f"model {route.name!r:.80} is not served here (this server serves {sig.name!r})", 404)
        if route.version is not None and route.version != sig.version:
            raise BadRequest(f"model {sig.name!r} has no version {route.version!r:.40} here "
                             f"(serving version {sig.version!r})", 404)
        if scope["method"] != route.method:
            raise BadRequest(f"{scope['method']} {scope['path']:.120} is not served (use {route.method})", 405)
        if route.action == "infer":
            return await self.v2_infer(scope, receive, send, request_id)
        if route.action == "ready":
            body = {"name": sig.name, "ready": self.ready}
            return await self._send_json(send, body, 200 if self.ready else 503, request_id, scope)
        return await self._send_json(send, oip.model_metadata(sig), 200, request_id, scope)

    async def v2_infer(self, scope, receive, send, request_id: str) -> None:
        """An inference request, scored, counted and remembered for feedback as ``/predict`` does; the
        request's ``id``, when it is a usable one, is the id feedback takes."""
        started = time.perf_counter()
        if _header(scope, b"inference-header-content-length") is not None:
            raise BadRequest("the binary tensor data extension is not supported: send the tensors as JSON `data`")
        payload = await self._read_json(scope, receive, bounded_by_reader=True)
        inference = _the_clients(oip.parse_infer, payload, self.signature, self.limits.max_rows)
        labels, probabilities = await self._answer(inference.columns, "probabilities" in inference.outputs)
        request_id = self._unremembered(inference.id if _usable_id(inference.id) else request_id)
        body = oip.infer_response(self.signature, inference, labels, probabilities, request_id)
        await self._send_json(send, body, 200, request_id, scope)
        self.metrics.latency(time.perf_counter() - started)
        self._remember(request_id, _one(labels), _one(self._shadow_predict(inference.columns, request_id)))

    def _shadow_predict(self, columns: dict[str, list], request_id: str) -> list | object:
        """The shadow model's answer to a request already answered (``_ABSENT`` without one, or if it fails)."""
        if self.shadow is None:
            return _ABSENT
        try:
            return self.shadow.predict({name: columns[name] for name in self.shadow.features})
        except Exception as exc:  # the shadow is an observer: its failure is logged, never the request's
            log("warning", "shadow prediction failed", request_id=request_id, error=repr(exc))
            return _ABSENT

    async def feedback(self, scope, receive, send, request_id: str) -> None:
        self._authorize(scope)
        body = await self._read_json(scope, receive)
        if not isinstance(body, dict) or "request_id" not in body or not ({"label", "converted"} & body.keys()):
            raise BadRequest("feedback needs `request_id` and `label` (the true label) or `converted` (true/false)")
        if "converted" in body and not isinstance(body["converted"], bool):
            raise BadRequest(f"`converted` must be true or false, got {body['converted']!r:.40}")
        seen = self.remembered.get(str(body["request_id"]))
        if seen is None:
            raise BadRequest(f"unknown `request_id` {body['request_id']!r:.80} (too old, or not served here; this "
                             f"server remembers its last {REMEMBERED_PREDICTIONS:,} predictions)", 404)
        label = self._label(body["label"], seen.answer) if "label" in body else _ABSENT
        for given, done in (("label", seen.labelled), ("converted", seen.converted)):
            if given in body and done:
                raise BadRequest(f"`request_id` {body['request_id']!r:.80} already has its `{given}`: each "
                                 "prediction counts one (nothing was counted now)", 409)
        answer = {}
        if label is not _ABSENT:
            answer.update(self._scored_regression(seen, label) if self.regression else self._scored(seen, label))
            seen.labelled = True
        if "converted" in body:
            seen.converted = True
            answer["conversion"] = "converted" if body["converted"] else "not_converted"
            self.metrics.conversions[answer["conversion"]] += 1
        await self._send_json(send, answer, 200, request_id, scope)

    async def healthz(self, scope, receive, send, request_id: str) -> None:
        await self._send_json(send, {"status": "ok"}, 200, request_id, scope)

    async def readyz(self, scope, receive, send, request_id: str) -> None:
        await self._send_json(send, {"ready": self.ready}, 200 if self.ready else 503, request_id, scope)

    async def prometheus(self, scope, receive, send, request_id: str) -> None:
        body = generate_latest(self.registry)
        self.metrics.request("metrics", 200)
        await _send(send, 200, body, CONTENT_TYPE_LATEST.encode(), request_id, self.version)

    # -- plumbing --------------------------------------------------------------------------------
    async def _lifespan(self, receive, send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    self.warm_up()
                except Exception as exc:
                    log("error", "warm-up failed", error=repr(exc))
                    await send({"type": "lifespan.startup.failed", "message": repr(exc)})
                    return
                self.ready = True
                log("info", "ready", model_version=self.version, runtime=self.model.runtime)
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self.ready = False
                log("info", "stopped", model_version=self.version)
                await send({"type": "lifespan.shutdown.complete"})
                return

    def warm_up(self) -> None:
        """One prediction on the training example, so the first real request pays no lazy set-up
        (the shadow's too: a shadow that cannot score the example stops the start)."""
        types = self.model.feature_types
        example = {n: (0 if types.get(n) in ("int", "float") else "") for n in self.model.features}
        example.update(self.model.meta.get("example") or {})
        columns = {n: [example[n]] for n in self.model.features}
        self.model.predict(columns)
        if self.shadow is not None:
            self.shadow.predict({n: columns[n] for n in self.shadow.features})

    def _authorize(self, scope) -> None:
        """The feedback token, as ``Authorization: Bearer <token>``: 401 when absent or wrong, 403 when
        this server was given none (feedback is then closed to everyone)."""
        if not self._feedback_token:
            raise BadRequest("feedback is disabled: this deployment was given no feedback token", 403)
        scheme, _, given = (_header(scope, b"authorization") or "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode("latin-1"),
                                                                 self._feedback_token):
            raise BadRequest("feedback needs `Authorization: Bearer <feedback token>`", 401)

    def _scored(self, seen: _Remembered, label: object) -> dict:
        """Count a classifier's label (one outcome per row: a 500-row prediction is 500 labels)."""
        rights = _rights(seen.answer, label)
        outcomes = ["correct" if right else "incorrect" for right in rights]
        answers, labels = (seen.answer, label) if isinstance(seen.answer, list) else ([seen.answer], [label])
        for predicted, actual in zip(answers, labels, strict=True):
            self.metrics.labelled(predicted, actual)
        for outcome in outcomes:
            self.metrics.feedback[outcome] += 1
        if seen.shadowed is not _ABSENT:
            for served_right, shadow_right in zip(rights, _rights(seen.shadowed, label), strict=True):
                self.metrics.paired_label(served_right, shadow_right)
        return {"outcomes": outcomes} if isinstance(seen.answer, list) else {"outcome": outcomes[0]}

    def _scored_regression(self, seen: _Remembered, label: object) -> dict:
        """Count a regressor's true values: each row's error (prediction − truth) joins the error sums."""
        answers, labels = (seen.answer, label) if isinstance(seen.answer, list) else ([seen.answer], [label])
        errors = [float(p) - float(t) for p, t in zip(answers, labels, strict=True)]
        for error in errors:
            self.metrics.regression_error(error)
        return {"errors": errors} if isinstance(seen.answer, list) else {"error": errors[0]}

    def _label(self, label: object, predicted: object) -> object:
        """The fed-back label, checked against the model's classes (BadRequest when it is none of them)
        or, for a regressor, to be a finite number; a multi-row prediction takes a list of as many
        labels, a one-row prediction one label."""
        rows = len(predicted) if isinstance(predicted, list) else None
        what = "true values" if self.regression else "labels"
        if (len(label) if isinstance(label, list) else None) != rows:
            raise BadRequest(f"`label` must be a list of {rows} {what}, one per row predicted" if rows else
                             f"`label` must be one {'number' if self.regression else 'class of the model'}, "
                             f"got {json.dumps(label)[:40]}")
        values = label if isinstance(label, list) else [label]
        if self.regression:
            for value in values:
                if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                    raise BadRequest(f"`label` must be a finite number (the true value), got {json.dumps(value)[:40]}")
            return label
        for value in values:
            if value is None or isinstance(value, (dict, list)):
                raise BadRequest(f"`label` must be a class of the model, got {json.dumps(value)[:40]}")
            if self.classes and class_key(value) not in self.classes:
                known = ", ".join(json.dumps(c) for c in list(self.classes.values())[:10])
                raise BadRequest(f"`label` {json.dumps(value)[:40]} is not a class of the model ({known})")
        return label

    def _remember(self, request_id: str, answer: object, shadowed: object) -> None:
        self.remembered[request_id] = _Remembered(answer, shadowed)
        if len(self.remembered) > REMEMBERED_PREDICTIONS:
            self.remembered.popitem(last=False)

    async def _read_json(self, scope, receive, bounded_by_reader: bool = False) -> object:
        """The request's JSON body, within the size, time and depth limits. ``bounded_by_reader``: the
        caller reads only fields whose nesting it bounds itself (V2 inference: a tensor's data no deeper
        than its shape), so the walk over every node, a third of a 30-tensor request's checks, is skipped;
        parse_json still refuses what would exhaust the stack."""
        limit = self.limits.max_body_bytes
        declared = _header(scope, b"content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise BadRequest(f"body is {int(declared)} bytes, at most {limit}", 413)
        try:
            body = await asyncio.wait_for(_read_body(receive, limit), self.limits.read_timeout)
        except TimeoutError:
            raise BadRequest(f"body not received within {self.limits.read_timeout:g} s", 408) from None
        try:
            payload = parse_json(body)
        except RecursionError:
            raise BadRequest(f"body nests deeper than {self.limits.max_depth} levels") from None
        except ValueError:  # UnicodeDecodeError included
            raise BadRequest("body is not valid JSON") from None
        if not bounded_by_reader and nesting_depth(payload, self.limits.max_depth) > self.limits.max_depth:
            raise BadRequest(f"body nests deeper than {self.limits.max_depth} levels")
        return payload

    async def _send_json(self, send, body: dict, status: int, request_id: str, scope) -> None:
        """Send ``body``, counted by route and status; the V2 routes' bodies are exactly the protocol's
        (the request id and model version still go in the headers), the others carry both."""
        path = scope["path"]
        if path.startswith("/v2/models/"):
            route = oip.route_label(path)
        elif (scope["method"], path) in self.routes:
            route = path.strip("/").replace("/", "_")
        else:
            route = "other"
        if not path.startswith("/v2"):
            body = {**body, "request_id": request_id, "model_version": self.version}
        self.metrics.request(route, status)
        if status >= 400 or self.access_log:
            log("warning" if status >= 400 else "info", "request", method=scope["method"], path=scope["path"],
                status=status, request_id=request_id, error=body.get("error"))
        await _send(send, status, json.dumps(body).encode(), b"application/json", request_id, self.version)


class _Remembered:
    """One prediction waiting for its feedback: the answer, the shadow's, and what was fed back."""

    __slots__ = ("answer", "converted", "labelled", "shadowed")

    def __init__(self, answer: object, shadowed: object):
        self.answer, self.shadowed, self.labelled, self.converted = answer, shadowed, False, False


def _rights(predicted: object, label: object) -> list[bool]:
    """Per row, whether the prediction (one class, or a multi-row request's list) is the fed-back
    label (checked to have the prediction's shape)."""
    if isinstance(predicted, list):
        return [class_key(p) == class_key(t) for p, t in zip(predicted, label, strict=True)]
    return [class_key(predicted) == class_key(label)]


def _one(labels: object) -> object:
    """What feedback's label is compared with: the single prediction of a one-row request, else the list."""
    return labels[0] if isinstance(labels, list) and len(labels) == 1 else labels


def _the_clients(check, *args):
    """Run a check of the request; whatever it raises is the request's fault, a 400 — never a 500
    that the production gate would count against the model."""
    try:
        return check(*args)
    except BadRequest:
        raise
    except Exception as exc:
        raise BadRequest(f"request not understood ({type(exc).__name__})") from None


def parse_json(body: bytes) -> object:
    """``json.loads(body)``, the same value and the same errors, 2-4x faster on the bodies clients send.
    orjson reads a strict RFC 8259 UTF-8 body; where it refuses one (``NaN``, a lone surrogate escape,
    UTF-16, nesting past its limit) the json module decides as before, so a refused body gets the
    message it always got (a ``NaN`` still reads as a number to refuse). A body with a run of 19 or
    more digits goes to the json module too: orjson reads an integer beyond 64 bits as a float, the
    json module as that integer. Raises ValueError or RecursionError as ``json.loads`` does."""
    if _LONG_RUN not in body.translate(_DIGITS):
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError:
            pass
    return json.loads(body)


# every digit as "9", every other byte as a space: a run of digits is then one substring search (a regular
# expression took as long as the whole parse)
_DIGITS = bytes(0x39 if 0x30 <= i <= 0x39 else 0x20 for i in range(256))
_LONG_RUN = b"9" * 19


async def _read_body(receive, limit: int) -> bytes:
    chunks, size = [], 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BadRequest(f"body is over {limit} bytes", 413)
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


async def _send(send, status: int, body: bytes, content_type: bytes, request_id: str, version: str) -> None:
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", content_type), (b"content-length", str(len(body)).encode()),
        (b"x-request-id", request_id.encode()), (b"x-model-version", version.encode())]})
    await send({"type": "http.response.body", "body": body})


def _header(scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return None


def _request_id(scope) -> str:
    given = _header(scope, b"x-request-id")
    return given if _usable_id(given) else uuid.uuid4().hex


def _usable_id(given: str | None) -> bool:
    """A caller's request id is taken when it is short printable ASCII (it reaches headers and logs)."""
    return bool(given) and len(given) <= 128 and given.isprintable() and given.isascii()


def create_app(model: LoadedModel, variant: str = "stable", limits: Limits = Limits(),
               access_log: bool = False, feedback_token: str = "", shadow: LoadedModel | None = None) -> ModelServer:
    """The ASGI app for one loaded model; ``variant`` labels its metrics (stable / canary / a / b);
    ``feedback_token`` is the bearer token ``/feedback`` requires (empty: feedback is refused);
    ``shadow`` also scores every request, unserved (see the module docstring). Raises ValueError
    when the shadow needs a feature the served model's requests do not carry."""
    if shadow is not None:
        missing = [name for name in shadow.features if name not in model.features]
        if missing:
            raise ValueError(f"the shadow model needs features the served model does not take: {', '.join(missing)}")
    return ModelServer(model, variant, limits, access_log, feedback_token, shadow)
