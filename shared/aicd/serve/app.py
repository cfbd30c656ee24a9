"""The HTTP API of a served model (Starlette).

    POST /predict   {"instances": [{feature: value, ...}, ...]} or one row as a bare object
                    -> {"predictions": [...], "request_id": ..., "model_version": ...}
    POST /feedback  {"request_id": ..., "label": <true label>} -> counts correct / incorrect
    GET  /healthz   process is up            GET /readyz   model loaded and warmed
    GET  /metrics   Prometheus text format (names below are the monitor's contract)

Every response carries ``x-request-id`` and ``x-model-version`` headers. A bad request gets a 400
naming the field. Predictions are remembered (bounded) so delayed feedback can be scored.
"""

from __future__ import annotations

import contextlib
import json
import math
import time
import uuid
from collections import OrderedDict

import pandas as pd
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .model import LoadedModel

__all__ = ["create_app"]

MAX_BODY_BYTES = 1 << 20
MAX_ROWS = 1000
REMEMBERED_PREDICTIONS = 100_000
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class BadRequest(Exception):
    pass


class _Metrics:
    def __init__(self, meta: dict, variant: str):
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("aicd_requests", "Requests by route and status", ["route", "status"], registry=r)
        self.latency = Histogram("aicd_request_latency_seconds", "Predict latency", buckets=LATENCY_BUCKETS,
                                 registry=r)
        self.predictions = Counter("aicd_predictions", "Predictions by class", ["label"], registry=r)
        self.feedback = Counter("aicd_feedback", "Delayed feedback by outcome", ["outcome"], registry=r)
        info = Gauge("aicd_model_info", "The served model", ["name", "version", "run_id", "variant"], registry=r)
        info.labels(str(meta.get("model_name", "")), str(meta.get("model_version", "")),
                    str(meta.get("run_id", "")), variant).set(1)


def _rows(payload: object, features: list[str], types: dict[str, str]) -> pd.DataFrame:
    rows = payload.get("instances") if isinstance(payload, dict) and "instances" in payload else [payload]
    if not isinstance(rows, list) or not rows:
        raise BadRequest("`instances` must be a non-empty list of objects")
    if len(rows) > MAX_ROWS:
        raise BadRequest(f"`instances` has {len(rows)} rows, at most {MAX_ROWS} per request")
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            raise BadRequest(f"`instances[{i}]` must be an object of feature values")
        for name in features:
            if name not in row:
                raise BadRequest(f"`instances[{i}].{name}` is missing")
            if not _fits(row[name], types.get(name, "str")):
                raise BadRequest(f"`instances[{i}].{name}` must be {types.get(name)}, got {row[name]!r}")
    return pd.DataFrame([{name: row[name] for name in features} for row in rows], columns=features)


def _fits(value: object, kind: str) -> bool:
    if value is None:
        return True  # missing values are imputed by the pipeline
    if kind in ("int", "float"):
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if kind == "bool":
        return isinstance(value, bool)
    return isinstance(value, str)


def create_app(model: LoadedModel, variant: str = "stable") -> Starlette:
    """The app for one loaded model. ``variant`` labels its metrics (stable / canary / a / b)."""
    metrics = _Metrics(model.meta, variant)
    remembered: OrderedDict[str, object] = OrderedDict()
    version = str(model.meta.get("model_version", ""))
    state = {"ready": False}
    types = model.meta.get("feature_types", {})

    def reply(body: dict, status: int, request_id: str, route: str) -> JSONResponse:
        metrics.requests.labels(route, str(status)).inc()
        headers = {"x-request-id": request_id, "x-model-version": version}
        return JSONResponse({**body, "request_id": request_id, "model_version": version}, status, headers=headers)

    async def read_json(request: Request) -> object:
        body = await request.body()
        if len(body) > MAX_BODY_BYTES:
            raise BadRequest(f"body is {len(body)} bytes, at most {MAX_BODY_BYTES}")
        try:
            return json.loads(body)
        except ValueError:
            raise BadRequest("body is not valid JSON") from None

    async def predict(request: Request) -> JSONResponse:
        request_id = request.headers.get("x-request-id") or uuid.uuid4().hex
        started = time.perf_counter()
        try:
            frame = _rows(await read_json(request), model.features, types)
        except BadRequest as exc:
            return reply({"error": str(exc)}, 400, request_id, "predict")
        labels = [v.item() if hasattr(v, "item") else v for v in model.estimator.predict(frame)]
        for label in labels:
            metrics.predictions.labels(str(label)).inc()
        remembered[request_id] = labels[0] if len(labels) == 1 else labels
        while len(remembered) > REMEMBERED_PREDICTIONS:
            remembered.popitem(last=False)
        metrics.latency.observe(time.perf_counter() - started)
        return reply({"predictions": labels}, 200, request_id, "predict")

    async def feedback(request: Request) -> JSONResponse:
        request_id = request.headers.get("x-request-id") or uuid.uuid4().hex
        try:
            body = await read_json(request)
            if not isinstance(body, dict) or "request_id" not in body or "label" not in body:
                raise BadRequest("feedback needs `request_id` and `label`")
        except BadRequest as exc:
            return reply({"error": str(exc)}, 400, request_id, "feedback")
        predicted = remembered.get(str(body["request_id"]))
        if predicted is None:
            return reply({"error": f"unknown request_id {body['request_id']!r}"}, 404, request_id, "feedback")
        outcome = "correct" if str(predicted) == str(body["label"]) else "incorrect"
        metrics.feedback.labels(outcome).inc()
        return reply({"outcome": outcome}, 200, request_id, "feedback")

    async def healthz(_: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "model_version": version})

    async def readyz(_: Request) -> JSONResponse:
        return JSONResponse({"ready": state["ready"], "model_version": version}, 200 if state["ready"] else 503)

    async def prometheus(_: Request) -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    def warm_up() -> None:
        example = {name: (0 if types.get(name) in ("int", "float") else "") for name in model.features}
        example.update(model.meta.get("example", {}) or {})
        model.estimator.predict(pd.DataFrame([example], columns=model.features))
        state["ready"] = True

    routes = [Route("/predict", predict, methods=["POST"]), Route("/feedback", feedback, methods=["POST"]),
              Route("/healthz", healthz), Route("/readyz", readyz), Route("/metrics", prometheus)]
    @contextlib.asynccontextmanager
    async def lifespan(_app):
        warm_up()
        yield

    return Starlette(routes=routes, lifespan=lifespan)
