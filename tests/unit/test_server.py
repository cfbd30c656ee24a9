"""The model server's ASGI app, metrics and ONNX boundary, driven in process (no sockets)."""

import asyncio
import json
import time

import numpy as np
import pandas as pd
import pytest
from prometheus_client.parser import text_string_to_metric_families

from aicd.feeds import feeds
from aicd.model.onnx_export import export_onnx
from aicd.model.train import with_preprocessing
from aicd.serve.app import BadRequest, Limits, create_app, rows_to_columns
from aicd.serve.metrics import ServerMetrics
from aicd.serve.model import LoadedModel

TYPES = {"age": "int", "roast": "str", "member": "bool"}
PROFILE = {"age": {"kind": "numeric", "edges": [30.0, 50.0], "counts": [1, 1, 1], "missing": 0},
           "roast": {"kind": "categorical", "levels": ["dark", "light"], "counts": [2, 1], "missing": 0}}


def labels_only(predict):
    """A model answer from a function of the feature columns giving one label per row."""
    return lambda columns, probabilities=False: (predict(columns), None)


def fake_model(answer=lambda columns: [1] * len(columns["age"])) -> LoadedModel:
    meta = {"features": list(TYPES), "feature_types": TYPES, "model_version": "7", "model_name": "m", "run_id": "r"}
    return LoadedModel(meta, "onnx", labels_only(answer), PROFILE)


def request(app, method, path, body=b"", headers=()):
    """One request through the ASGI app; returns (status, headers, body)."""
    sent = []
    chunks = [body] if isinstance(body, bytes) else body

    async def receive():
        chunk = chunks.pop(0) if chunks else b""
        return {"type": "http.request", "body": chunk, "more_body": bool(chunks)}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": method, "path": path, "headers": [(k.encode(), v.encode()) for k, v in headers]}
    asyncio.run(app(scope, receive, send))
    start, payload = sent[0], b"".join(m.get("body", b"") for m in sent[1:])
    return start["status"], {k.decode(): v.decode() for k, v in start["headers"]}, payload


def post(app, path, obj, **kw):
    status, headers, body = request(app, "POST", path, json.dumps(obj).encode(), **kw)
    return status, headers, json.loads(body)


ROW = {"age": 41, "roast": "dark", "member": True}


def test_predict_answers_with_request_id_and_model_version_in_body_and_headers():
    app = create_app(fake_model())
    status, headers, body = post(app, "/predict", ROW, headers=[("x-request-id", "abc-1")])
    assert (status, body["predictions"], body["request_id"], body["model_version"]) == (200, [1], "abc-1", "7")
    assert headers["x-request-id"] == "abc-1" and headers["x-model-version"] == "7"
    status, _, body = post(app, "/predict", {"instances": [ROW, ROW, ROW]})
    assert status == 200 and body["predictions"] == [1, 1, 1] and len(body["request_id"]) == 32


@pytest.mark.parametrize(("payload", "message"), [
    ({"roast": "dark", "member": True}, "`instances[0].age` is missing"),
    ({**ROW, "age": "old"}, "`instances[0].age` must be a number, got 'old'"),
    ({**ROW, "age": True}, "`instances[0].age` must be a number"),
    ({**ROW, "member": 1}, "`instances[0].member` must be true or false"),
    ({"instances": [ROW, {**ROW, "roast": 3}]}, "`instances[1].roast` must be a string"),
    ({"instances": []}, "`instances` must be a non-empty list"),
    ({"instances": [1]}, "`instances[0]` must be an object"),
])
def test_a_bad_row_gets_a_400_naming_the_field(payload, message):
    status, _, body = post(create_app(fake_model()), "/predict", payload)
    assert status == 400 and message in body["error"]


def test_missing_values_are_accepted_and_passed_on_as_none():
    seen = []
    app = create_app(fake_model(lambda columns: seen.append(columns) or [0]))
    assert post(app, "/predict", {**ROW, "age": None})[0] == 200
    assert seen[0]["age"] == [None]


def test_limits_body_size_rows_and_json():
    app = create_app(fake_model(), limits=Limits(max_body_bytes=200, max_rows=2))
    assert request(app, "POST", "/predict", b"x" * 201)[0] == 413
    assert request(app, "POST", "/predict", [b"{", b"x" * 300])[0] == 413  # streamed, no content-length
    assert request(app, "POST", "/predict", b"x" * 50, headers=[("content-length", "5000")])[0] == 413
    assert post(app, "/predict", {"instances": [ROW] * 3})[2]["error"].startswith("`instances` has 3 rows")
    assert request(app, "POST", "/predict", b"{nope")[0] == 400


def test_a_model_error_is_a_500_and_the_server_keeps_answering():
    app = create_app(fake_model(lambda columns: 1 / 0))
    assert post(app, "/predict", ROW)[0] == 500
    assert request(app, "GET", "/healthz")[0] == 200


def test_routes_methods_and_readiness_follow_the_lifespan():
    app = create_app(fake_model())
    assert request(app, "GET", "/nope")[0] == 404 and request(app, "GET", "/predict")[0] == 405
    assert request(app, "GET", "/readyz")[0] == 503
    messages = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent = []

    async def receive():
        return messages.pop(0)

    async def send(message):
        sent.append(message["type"])
        if message["type"] == "lifespan.startup.complete":
            assert app.ready  # warmed up before the server takes traffic

    asyncio.run(app({"type": "lifespan"}, receive, send))
    assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"] and not app.ready


TOKEN = "feedback-s3cret"
AUTH = [("authorization", f"Bearer {TOKEN}")]


def test_feedback_scores_labels_and_conversions_and_metrics_count_everything():
    app = create_app(fake_model(), feedback_token=TOKEN)
    post(app, "/predict", ROW, headers=[("x-request-id", "r1")])
    post(app, "/predict", {**ROW, "age": 20, "roast": "medium"}, headers=[("x-request-id", "r2")])
    assert post(app, "/feedback", {"request_id": "r1", "label": 1}, headers=AUTH)[2]["outcome"] == "correct"
    answer = post(app, "/feedback", {"request_id": "r2", "label": "0", "converted": False}, headers=AUTH)[2]
    assert (answer["outcome"], answer["conversion"]) == ("incorrect", "not_converted")
    assert post(app, "/feedback", {"request_id": "r2", "converted": True}, headers=AUTH)[0] == 409  # one each
    assert post(app, "/feedback", {"request_id": "r1", "converted": True}, headers=AUTH)[2]["conversion"] == "converted"
    assert post(app, "/feedback", {"request_id": "zz", "label": 1}, headers=AUTH)[0] == 404
    assert post(app, "/feedback", {"request_id": "r1", "converted": "yes"}, headers=AUTH)[0] == 400
    post(app, "/predict", {"age": 1})
    samples = metric_samples(request(app, "GET", "/metrics")[2].decode())
    base = {"model": "m", "version": "7", "variant": "stable"}
    assert samples[("aicd_requests_total", frozenset({"route": "predict", "status": "200", **base}.items()))] == 2
    assert samples[("aicd_requests_total", frozenset({"route": "predict", "status": "400", **base}.items()))] == 1
    assert samples[("aicd_feedback_total", frozenset({"outcome": "correct", **base}.items()))] == 1
    assert samples[("aicd_feedback_total", frozenset({"outcome": "incorrect", **base}.items()))] == 1
    assert samples[("aicd_conversions_total", frozenset({"outcome": "converted", **base}.items()))] == 1
    assert samples[("aicd_conversions_total", frozenset({"outcome": "not_converted", **base}.items()))] == 1
    assert samples[("aicd_predictions_total", frozenset({"label": "1", **base}.items()))] == 2
    assert samples[("aicd_request_latency_seconds_count", frozenset(base.items()))] == 2
    bins = {k[1]: v for k, v in samples.items() if k[0] == "aicd_feature_values_total"}
    assert bins[frozenset({"feature": "age", "bin": "1", **base}.items())] == 1  # 30 <= 41 < 50
    assert bins[frozenset({"feature": "age", "bin": "0", **base}.items())] == 1  # 20 < 30
    assert bins[frozenset({"feature": "roast", "bin": "other", **base}.items())] == 1  # unseen level
    assert not any(dict(k).get("feature") == "member" for k in bins)  # not in the profile
    reference = {dict(k[1])["bin"]: v for k, v in samples.items()
                 if k[0] == "aicd_feature_reference_ratio" and dict(k[1])["feature"] == "roast"}
    assert reference == {"dark": 2 / 3, "light": 1 / 3, "other": 0.0}
    started = next(v for k, v in samples.items() if k[0] == "aicd_server_start_time_seconds")
    assert abs(started - time.time()) < 60
    info = next(k for k in samples if k[0] == "aicd_model_info")
    assert dict(info[1]) == {"model": "m", "version": "7", "run_id": "r", "variant": "stable", "runtime": "onnx",
                             "task": "classification"}


def metric_samples(text):
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_numeric_bins_follow_the_profile_edges_and_count_missing():
    metrics = ServerMetrics({}, "canary", "onnx", PROFILE)
    metrics.features({"age": [29.9, 30.0, 49.99, 50.0, None, float("nan")], "roast": [None, "light"]})
    assert {k: v for k, v in metrics.bins.items() if v} == {
        ("age", "0"): 1, ("age", "1"): 2, ("age", "2"): 1, ("age", "missing"): 2, ("roast", "missing"): 1,
        ("roast", "light"): 1}
    # every reference bin's series exists from the start (at 0): increase() then counts its first values
    assert {k for k, v in metrics.bins.items() if not v} == {("roast", "dark"), ("roast", "other")}


def test_rows_to_columns_is_column_major():
    columns = rows_to_columns({"instances": [ROW, {**ROW, "age": 3}]}, list(TYPES), TYPES, 10)
    assert columns == {"age": [41, 3], "roast": ["dark", "dark"], "member": [True, True]}
    with pytest.raises(BadRequest):
        rows_to_columns([ROW], list(TYPES), TYPES, 10)


def test_feeds_encode_missing_values_for_onnx():
    out = feeds({"age": [1, None, "x"], "roast": ["dark", None, float("nan")]}, TYPES)
    assert out["age"].dtype == np.float32 and out["age"].shape == (3, 1) and np.isnan(out["age"][1:, 0]).all()
    assert out["roast"].ravel().tolist() == ["dark", "", ""]


def test_onnx_export_agrees_with_scikit_learn_including_missing_values():
    from sklearn.ensemble import RandomForestClassifier

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=400), "c": rng.choice(["a", "b", "c"], 400)})
    y = ((frame.x > 0) ^ (frame.c == "b")).astype(int)
    frame.loc[::7, "x"] = np.nan
    frame.loc[::5, "c"] = None
    model = with_preprocessing(RandomForestClassifier(20, random_state=0), frame).fit(frame, y)
    export = export_onnx(model, frame, {"x": "float", "c": "str"}, "classification")
    assert export.blob is not None and export.agreement == 1.0, export.reason


def test_a_model_onnx_cannot_express_is_served_by_scikit_learn_with_the_reason():
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    frame = pd.DataFrame({"x": np.arange(50.0)})
    model = make_pipeline(FunctionTransformer(lambda a: a * 2), LogisticRegression()).fit(frame, frame.x > 20)
    export = export_onnx(model, frame, {"x": "float"}, "classification")
    assert export.blob is None and export.reason


# -- a stranger can neither roll production back nor move its accuracy (hostile-input class 3) -----

MALFORMED = [b"[" * 100_000, b'{"instances": ' + b"[" * 5000 + b"]" * 5000 + b"}",
             b'{"instances": [{"age": ' + b"[" * 40 + b"1" + b"]" * 40 + b"}]}",
             b'{"age": ' + b"9" * 5000 + b"}", b'{"age": 1e400}', b"\xff\xfe{}",
             json.dumps({**ROW, "age": 1e300}).encode(), json.dumps({**ROW, "age": -(2**200)}).encode(),
             json.dumps({"instances": {"a": 1}}).encode(), b"null", b'"text"', b"[]", b"{}", b"[[[[1]]]]"]


@pytest.mark.parametrize("body", MALFORMED)
def test_every_malformed_request_is_a_4xx_and_no_5xx_is_counted(body):
    app = create_app(fake_model())
    status, _, answer = request(app, "POST", "/predict", body)
    assert 400 <= status < 500 and json.loads(answer)["error"]
    text = request(app, "GET", "/metrics")[2].decode()
    assert 'status="5' not in text


def test_a_check_failing_unexpectedly_on_a_request_is_still_the_requests_fault(monkeypatch):
    import aicd.serve.app as served

    monkeypatch.setattr(served, "rows_to_columns", lambda *a: {}.__getitem__("boom"))
    assert post(create_app(fake_model()), "/predict", ROW)[0] == 400


def test_feedback_needs_the_deployments_bearer_token():
    app = create_app(fake_model(), feedback_token=TOKEN)
    post(app, "/predict", ROW, headers=[("x-request-id", "r1")])
    body = {"request_id": "r1", "label": 0}
    for headers in ([], [("authorization", "Bearer wrong")], [("authorization", TOKEN)],
                    [("authorization", f"Basic {TOKEN}")], [("authorization", f"Bearer {TOKEN}x")]):
        assert post(app, "/feedback", body, headers=headers)[0] == 401
    assert post(app, "/feedback", body, headers=[("authorization", f"bearer {TOKEN}")])[0] == 200
    samples = metric_samples(request(app, "GET", "/metrics")[2].decode())
    assert sum(v for k, v in samples.items() if k[0] == "aicd_feedback_total") == 1  # only the authorized one
    closed = create_app(fake_model())  # no token configured: closed to everyone, whatever they send
    post(closed, "/predict", ROW, headers=[("x-request-id", "r1")])
    assert post(closed, "/feedback", body, headers=[("authorization", "Bearer ")])[0] == 403
    assert post(closed, "/predict", ROW)[0] == 200 and request(closed, "GET", "/metrics")[0] == 200


def test_the_server_reads_its_token_from_the_environment_or_a_secret_file(tmp_path):
    from aicd.errors import AicdError
    from aicd.serve.__main__ import feedback_token

    secret = tmp_path / "token"
    secret.write_text("from-a-file\n")
    assert feedback_token({"AICD_FEEDBACK_TOKEN": "t0k"}) == "t0k"
    assert feedback_token({"AICD_FEEDBACK_TOKEN_FILE": str(secret)}) == "from-a-file"
    assert feedback_token({}) == ""
    with pytest.raises(AicdError, match="cannot read the feedback token file"):
        feedback_token({"AICD_FEEDBACK_TOKEN_FILE": str(tmp_path / "missing")})
    with pytest.raises(AicdError, match="printable ASCII"):
        feedback_token({"AICD_FEEDBACK_TOKEN": "two words"})


def test_a_flood_of_bad_requests_neither_fails_nor_dilutes_the_error_rate():
    from aicd.monitor.metrics import parse_snapshot

    app = create_app(fake_model(lambda columns: 1 / 0 if columns["age"][0] == 13 else [1]))
    for _ in range(300):
        request(app, "POST", "/predict", b"[" * 2000)
    for age in [13] * 5 + [40] * 95:
        post(app, "/predict", {**ROW, "age": age})
    snap = parse_snapshot(request(app, "GET", "/metrics")[2].decode())
    assert (snap.requests, snap.errors) == (100, 5)  # 5 % of the requests the server answered for


def test_a_reused_request_id_cannot_replace_a_remembered_prediction():
    app = create_app(fake_model(lambda columns: [int(columns["age"][0] > 30)]), feedback_token=TOKEN)
    first = post(app, "/predict", {**ROW, "age": 41}, headers=[("x-request-id", "order-42")])[2]
    second = post(app, "/predict", {**ROW, "age": 20}, headers=[("x-request-id", "order-42")])[2]
    assert first["request_id"] == "order-42" and second["request_id"] != "order-42"
    assert post(app, "/feedback", {"request_id": "order-42", "label": 1}, headers=AUTH)[2]["outcome"] == "correct"
    assert post(app, "/feedback", {"request_id": second["request_id"], "label": 0},
                headers=AUTH)[2]["outcome"] == "correct"


def test_text_no_runtime_can_encode_is_the_requests_fault():
    status, _, body = request(create_app(fake_model()), "POST", "/predict",
                              b'{"age": 30, "roast": "\\ud800", "member": true}')
    assert status == 400 and "not valid text" in json.loads(body)["error"]


def shadow_model(answer, version="6", features=("age", "roast")) -> LoadedModel:
    types = {name: TYPES.get(name, "int") for name in features}
    return LoadedModel({"features": list(features), "feature_types": types, "model_version": version}, "onnx",
                       labels_only(answer), PROFILE)


def test_a_shadow_model_scores_every_request_unserved_and_labels_count_which_model_was_right():
    seen = []
    shadow = shadow_model(lambda columns: seen.append(sorted(columns)) or [0 if columns["age"][0] < 30 else 1])
    app = create_app(fake_model(lambda columns: [1]), "canary", feedback_token=TOKEN, shadow=shadow)
    for rid, age in (("both", 41), ("served", 20), ("x", 41)):
        status, _, body = post(app, "/predict", {**ROW, "age": age}, headers=[("x-request-id", rid)])
        assert (status, body["predictions"]) == (200, [1])  # the served model answers, never the shadow
    assert seen[0] == ["age", "roast"]  # the shadow gets the features it takes
    post(app, "/feedback", {"request_id": "both", "label": 1}, headers=AUTH)
    post(app, "/feedback", {"request_id": "served", "label": 1}, headers=AUTH)
    post(app, "/feedback", {"request_id": "x", "label": 0}, headers=AUTH)
    post(app, "/feedback", {"request_id": "x", "converted": True}, headers=AUTH)  # no label: not a pair
    samples = metric_samples(request(app, "GET", "/metrics")[2].decode())
    paired = {dict(k[1])["outcome"]: v for k, v in samples.items() if k[0] == "aicd_paired_feedback_total"}
    assert paired == {"both": 1, "served": 1, "shadow": 0, "neither": 1}
    labels = {dict(k[1])["shadow_version"] for k in samples if k[0] == "aicd_paired_feedback_total"}
    assert labels == {"6"}
    from aicd.monitor.metrics import parse_snapshot

    snap = parse_snapshot(request(app, "GET", "/metrics")[2].decode())
    assert (snap.paired, snap.shadow_versions, snap.feedback) == (paired, {"6"}, 3)


def test_a_failing_shadow_never_fails_the_request_and_a_server_without_one_exports_no_pairs():
    def broken(columns):
        raise RuntimeError("shadow broke")

    app = create_app(fake_model(), feedback_token=TOKEN, shadow=shadow_model(broken))
    assert post(app, "/predict", ROW, headers=[("x-request-id", "r")])[0] == 200
    assert post(app, "/feedback", {"request_id": "r", "label": 1}, headers=AUTH)[2]["outcome"] == "correct"
    text = request(app, "GET", "/metrics")[2].decode()
    assert 'status="500"' not in text
    assert sum(v for k, v in metric_samples(text).items() if k[0] == "aicd_paired_feedback_total") == 0
    plain = create_app(fake_model(), feedback_token=TOKEN)
    post(plain, "/predict", ROW, headers=[("x-request-id", "r")])
    post(plain, "/feedback", {"request_id": "r", "label": 1}, headers=AUTH)
    assert "aicd_paired_feedback" not in request(plain, "GET", "/metrics")[2].decode()


def test_a_shadow_needing_a_feature_the_served_model_does_not_take_is_refused():
    with pytest.raises(ValueError, match="shadow model needs features the served model does not take: tenure"):
        create_app(fake_model(), shadow=shadow_model(lambda c: [0], features=("age", "tenure")))



def classifier(classes, task="classification"):
    meta = {"features": list(TYPES), "feature_types": TYPES, "model_version": "7", "model_name": "m",
            "classes": classes, "task": task}
    return LoadedModel(meta, "onnx", labels_only(lambda columns: [classes[-1]] * len(columns["age"])), PROFILE)


def test_a_label_counts_once_and_is_compared_as_a_class_of_the_model():
    app = create_app(classifier([0, 1]), feedback_token=TOKEN)
    for rid in ("a", "b", "c", "d"):
        post(app, "/predict", ROW, headers=[("x-request-id", rid)])
    assert post(app, "/feedback", {"request_id": "a", "label": 1.0}, headers=AUTH)[2]["outcome"] == "correct"
    assert post(app, "/feedback", {"request_id": "b", "label": "1"}, headers=AUTH)[2]["outcome"] == "correct"
    assert post(app, "/feedback", {"request_id": "c", "label": 0}, headers=AUTH)[2]["outcome"] == "incorrect"
    status, _, body = post(app, "/feedback", {"request_id": "a", "label": 1}, headers=AUTH)  # a retried call
    assert status == 409 and "already has its `label`" in body["error"]
    for bad in (2, "yes", None, True, [1]):
        status, _, body = post(app, "/feedback", {"request_id": "d", "label": bad}, headers=AUTH)
        assert status == 400 and "label" in body["error"], bad
    assert post(app, "/feedback", {"request_id": "d", "label": 0.0}, headers=AUTH)[2]["outcome"] == "incorrect"
    samples = metric_samples(request(app, "GET", "/metrics")[2].decode())
    counted = {dict(k[1])["outcome"]: v for k, v in samples.items() if k[0] == "aicd_feedback_total"}
    assert counted == {"correct": 2, "incorrect": 2}  # the refused ones counted nothing
    labels = create_app(classifier(["churn", "stay"]), feedback_token=TOKEN)
    post(labels, "/predict", ROW, headers=[("x-request-id", "s")])
    assert post(labels, "/feedback", {"request_id": "s", "label": "Stay"}, headers=AUTH)[0] == 400
    assert post(labels, "/feedback", {"request_id": "s", "label": "stay"}, headers=AUTH)[2]["outcome"] == "correct"


def test_a_real_category_named_other_keeps_its_bin_and_unseen_values_get_their_own():
    profile = {"purpose": {"kind": "categorical", "levels": ["car", "other"], "counts": [9, 1], "missing": 0}}
    metrics = ServerMetrics({}, "stable", "onnx", profile)
    metrics.features({"purpose": ["other", "car", "yacht"]})
    assert metrics.reference["purpose"] == {"car": 0.9, "other": 0.1, "other (unseen)": 0.0}
    assert {k[1]: v for k, v in metrics.bins.items() if k[0] == "purpose"} == \
        {"car": 1, "other": 1, "other (unseen)": 1, "missing": 0}


def test_a_multi_row_prediction_counts_one_feedback_label_per_row():
    app = create_app(fake_model(lambda columns: [1, 0, 1][: len(columns["age"])]), feedback_token=TOKEN)
    post(app, "/predict", {"instances": [ROW, ROW, ROW]}, headers=[("x-request-id", "batch")])
    answer = post(app, "/feedback", {"request_id": "batch", "label": [1, 1, 1]}, headers=AUTH)[2]
    assert answer["outcomes"] == ["correct", "incorrect", "correct"]
    samples = metric_samples(request(app, "GET", "/metrics")[2].decode())
    base = {"model": "m", "version": "7", "variant": "stable"}
    assert samples[("aicd_feedback_total", frozenset({"outcome": "correct", **base}.items()))] == 2
    assert samples[("aicd_feedback_total", frozenset({"outcome": "incorrect", **base}.items()))] == 1


def test_a_regressors_true_values_feed_the_error_sums_the_monitor_reads():
    meta = {"features": list(TYPES), "feature_types": TYPES, "model_version": "7", "model_name": "m",
            "task": "regression"}
    app = create_app(LoadedModel(meta, "onnx", labels_only(lambda c: [60.0, 10.0][: len(c["age"])]), PROFILE),
                     feedback_token=TOKEN)
    post(app, "/predict", ROW, headers=[("x-request-id", "r")])
    post(app, "/predict", {"instances": [ROW, ROW]}, headers=[("x-request-id", "two")])
    for bad in ("60.4", True, None, [1], float("nan")):
        status, _, body = post(app, "/feedback", {"request_id": "r", "label": bad}, headers=AUTH)
        assert status == 400 and "number" in body["error"], (bad, body)
    assert post(app, "/feedback", {"request_id": "r", "label": 62.0}, headers=AUTH)[2]["error"] == -2.0
    assert post(app, "/feedback", {"request_id": "r", "label": 61.0}, headers=AUTH)[0] == 409  # counted once
    assert post(app, "/feedback", {"request_id": "two", "label": [57.0, 11.0]}, headers=AUTH)[2]["errors"] == \
        [3.0, -1.0]
    from aicd.monitor.metrics import parse_snapshot

    snap = parse_snapshot(request(app, "GET", "/metrics")[2].decode())
    assert snap.regression and snap.labelled == 3 and snap.feedback == 0
    assert snap.absolute_errors.mean == pytest.approx(2.0)  # |−2|, |3|, |−1|
    assert snap.squared_errors.mean == pytest.approx(14 / 3)


def test_a_binary_classifier_counts_its_labels_by_side_of_the_positive_class():
    meta = {"features": list(TYPES), "feature_types": TYPES, "model_version": "7", "model_name": "m",
            "classes": ["ok", "fraud"], "positive": "fraud", "task": "classification"}
    app = create_app(LoadedModel(meta, "onnx", labels_only(lambda c: ["ok", "fraud", "ok"][: len(c["age"])]), PROFILE),
                     feedback_token=TOKEN)
    post(app, "/predict", {"instances": [ROW, ROW, ROW]}, headers=[("x-request-id", "b")])
    post(app, "/feedback", {"request_id": "b", "label": ["fraud", "fraud", "ok"]}, headers=AUTH)
    from aicd.monitor.metrics import parse_snapshot

    snap = parse_snapshot(request(app, "GET", "/metrics")[2].decode())
    assert snap.confusion[("positive", "negative")] == 1 and snap.confusion[("positive", "positive")] == 1
    assert (snap.true_positives, snap.predicted_positives, snap.actual_positives) == (1, 1, 2)


def test_the_confusion_counters_compare_classes_as_the_feedback_route_does():
    """A label "1.0" is the class 1 for the outcome and for the positive side alike."""
    meta = {"features": list(TYPES), "feature_types": TYPES, "model_version": "7", "model_name": "m",
            "classes": [0, 1], "positive": 1, "task": "classification"}
    app = create_app(LoadedModel(meta, "onnx", labels_only(lambda c: [1] * len(c["age"])), PROFILE),
                     feedback_token=TOKEN)
    post(app, "/predict", ROW, headers=[("x-request-id", "one")])
    assert post(app, "/feedback", {"request_id": "one", "label": "1.0"}, headers=AUTH)[2]["outcome"] == "correct"
    from aicd.monitor.metrics import parse_snapshot

    snap = parse_snapshot(request(app, "GET", "/metrics")[2].decode())
    assert snap.true_positives == 1
