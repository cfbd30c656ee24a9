"""The Open Inference Protocol translation (aicd.serve.oip) and its routes in the app, in process."""

import json

import pytest

from aicd.serve import oip
from aicd.serve.app import Limits, create_app
from aicd.serve.checks import BadRequest
from aicd.serve.model import LoadedModel
from tests.unit.test_server import PROFILE, TYPES, post, request

META = {"features": list(TYPES), "feature_types": TYPES, "model_version": "7", "model_name": "acme__churn",
        "classes": [0, 1], "task": "classification"}
SIG = oip.signature(META, "onnx", probabilities=True)


def tensor(name, data, datatype, shape=None):
    return {"name": name, "datatype": datatype, "shape": shape if shape is not None else [len(data)], "data": data}


def per_feature(ages=(41,), roasts=("dark",), members=(True,)):
    return {"inputs": [tensor("age", list(ages), "INT64"), tensor("roast", list(roasts), "BYTES"),
                       tensor("member", list(members), "BOOL")]}


def test_paths_name_the_route_the_model_and_the_version():
    assert oip.parse_path("/v2/models/m") == oip.Route("GET", "metadata", "m", None)
    assert oip.parse_path("/v2/models/m/ready") == oip.Route("GET", "ready", "m", None)
    assert oip.parse_path("/v2/models/m/infer") == oip.Route("POST", "infer", "m", None)
    assert oip.parse_path("/v2/models/m/versions/3") == oip.Route("GET", "metadata", "m", "3")
    assert oip.parse_path("/v2/models/m/versions/3/infer") == oip.Route("POST", "infer", "m", "3")
    for path in ("/v2/models/", "/v2/models/m/", "/v2/models/m/versions", "/v2/models/m/versions//infer",
                 "/v2/models/m/predict", "/v2/models/m/infer/x", "/predict"):
        assert oip.parse_path(path) is None, path
    assert oip.route_label("/v2/models/m/versions/3/infer") == "predict"
    assert oip.route_label("/v2/models/m/ready") == "v2_model_ready"
    assert oip.route_label("/v2/models/<script>") == "v2_model_metadata"  # never the name a client chose


def test_metadata_lists_one_input_per_feature_and_the_outputs_the_model_gives():
    assert oip.model_metadata(SIG) == {
        "name": "acme__churn", "versions": ["7"], "platform": "onnx_onnxv1",
        "inputs": [{"name": "age", "datatype": "INT64", "shape": [-1]},
                   {"name": "roast", "datatype": "BYTES", "shape": [-1]},
                   {"name": "member", "datatype": "BOOL", "shape": [-1]}],
        "outputs": [{"name": "predict", "datatype": "INT64", "shape": [-1]},
                    {"name": "probabilities", "datatype": "FP64", "shape": [-1, 2]}]}
    regressor = oip.signature({**META, "task": "regression", "model_name": ""}, "sklearn", probabilities=False)
    metadata = oip.model_metadata(regressor)
    assert metadata["name"] == "model" and metadata["platform"] == "sklearn_skops"
    assert metadata["outputs"] == [{"name": "predict", "datatype": "FP64", "shape": [-1]}]
    assert oip.server_metadata("0.1.0") == {"name": "aicd", "version": "0.1.0", "extensions": []}


@pytest.mark.parametrize(("classes", "datatype"), [([0, 1], "INT64"), ([True, False], "BOOL"), ([0.5, 1], "FP64"),
                                                   (["no", "yes"], "BYTES"), ([0, "x"], "BYTES"), ([], "BYTES")])
def test_the_labels_datatype_is_what_the_classes_share(classes, datatype):
    assert oip.signature({**META, "classes": classes}, "onnx", bool(classes)).label_datatype == datatype


def test_per_feature_tensors_become_the_columns_predict_would_build():
    inference = oip.parse_infer({"id": "42", **per_feature((41, 30.0), ("dark", None), (True, False))}, SIG, 10)
    assert inference.columns == {"age": [41, 30.0], "roast": ["dark", None], "member": [True, False]}
    assert (inference.rows, inference.outputs, inference.id) == (2, ("predict", "probabilities"), "42")
    column = {"inputs": [tensor("member", [[True], [False]], "BOOL", [2, 1]), tensor("roast", ["a", "b"], "BYTES"),
                         tensor("age", [[1], [2]], "FP32", [2, 1])]}  # any order, [N, 1] in either form
    assert oip.parse_infer(column, SIG, 10).columns == {"age": [1, 2], "roast": ["a", "b"], "member": [True, False]}
    assert oip._common_columns(per_feature()["inputs"], SIG) is not None  # the common request takes the one pass


def test_a_single_input_is_n_rows_of_every_feature_in_the_metadatas_order():
    numeric = oip.signature({"features": ["a", "b", "c"], "feature_types": dict.fromkeys("abc", "float"),
                             "model_version": "1"}, "onnx", False)
    flat = {"inputs": [tensor("input-0", [1, 2, 3, 4, 5, 6], "FP64", [2, 3])]}
    nested = {"inputs": [tensor("input-0", [[1, 2, 3], [4, 5, 6]], "FP64", [2, 3])]}
    assert oip.parse_infer(flat, numeric, 10).columns == {"a": [1, 4], "b": [2, 5], "c": [3, 6]}
    assert oip.parse_infer(nested, numeric, 10).columns == {"a": [1, 4], "b": [2, 5], "c": [3, 6]}
    with pytest.raises(BadRequest, match=r"shape \[N, 3\].*got \[3\]"):
        oip.parse_infer({"inputs": [tensor("input-0", [1, 2, 3], "FP64")]}, numeric, 10)
    with pytest.raises(BadRequest, match=r"`inputs\[0\].datatype` is BYTES, but feature 'age' takes a numeric"):
        oip.parse_infer({"inputs": [tensor("x", ["41", "dark", "true"], "BYTES", [1, 3])]}, SIG, 10)


@pytest.mark.parametrize(("body", "message"), [
    ([], "inference request object"),
    ({"inputs": []}, "`inputs` must be a non-empty list"),
    ({"id": 42, **per_feature()}, "`id` must be a string"),
    ({"inputs": [{"name": "age", "shape": [1], "data": [41]}]}, r"`inputs\[0\]` has no `datatype`"),
    ({"inputs": [tensor("age", [41], "INT128")]}, r"`inputs\[0\].datatype` \"INT128\" is not a tensor datatype"),
    ({"inputs": [tensor("age", [41], "INT64", [-1])]}, "non-negative integers"),
    ({"inputs": [tensor("age", [41, 42], "INT64", [1])]}, r"has shape \[1\] \(1 values\) but its `data` holds 2"),
    ({"inputs": [*per_feature()["inputs"], tensor("age", [1], "INT64")]}, "given twice"),
    ({"inputs": per_feature()["inputs"][:2]}, "input 'member' is missing"),
    ({"inputs": [*per_feature()["inputs"][:2], tensor("membr", [True], "BOOL")]}, "did you mean 'member'"),
    ({"inputs": [*per_feature()["inputs"][:2], tensor("member", ["yes"], "BYTES")]},
     r"`inputs\[2\].datatype` is BYTES, but feature 'member' takes BOOL"),
    ({"inputs": [tensor("age", ["41"], "INT64"), *per_feature()["inputs"][1:]]},
     r"`inputs\[0\].data\[0\]` must be an integer \(INT64\), got \"41\""),
    ({"inputs": [tensor("age", [41.5], "INT64"), *per_feature()["inputs"][1:]]}, "must be an integer"),
    ({"inputs": [tensor("age", [-1], "UINT8"), *per_feature()["inputs"][1:]]}, r"an integer >= 0 \(UINT8\)"),
    ({"inputs": [tensor("age", [1e39], "FP64"), *per_feature()["inputs"][1:]]}, "finite number within"),
    ({"inputs": [tensor("age", [1, 2], "INT64"), *per_feature()["inputs"][1:]]}, "has 1 rows where the inputs"),
    ({"inputs": [tensor("age", [1], "INT64", [1, 2]), *per_feature()["inputs"][1:]]}, r"\[1, 2\]"),
    ({"inputs": [tensor("age", [[1, 2]], "INT64", [1, 2]), *per_feature()["inputs"][1:]]}, r"shape \[N\] or \[N, 1\]"),
    ({"inputs": [tensor("age", [[[41]]], "INT64", [1, 1]), *per_feature()["inputs"][1:]]},
     r"`inputs\[0\].data` nests deeper than its shape's 2 dimensions"),
    ({"inputs": [tensor("age", [[41]], "INT64", [1]), *per_feature()["inputs"][1:]]}, "deeper than its shape's 1"),
    ({**per_feature(), "outputs": [{"name": "scores"}]}, r"`outputs\[0\].name` 'scores' is not an output"),
    ({**per_feature(), "outputs": [{}]}, "must be an object with a `name`"),
    ({"inputs": [{**tensor("age", [], "BYTES"), "parameters": {"binary_data_size": 8}}]}, "binary tensor data"),
    (per_feature(range(11), ["a"] * 11, [True] * 11), "11 rows: at least 1 and at most 10"),
])
def test_a_bad_inference_request_is_a_400_naming_the_field(body, message):
    with pytest.raises(BadRequest, match=message) as caught:
        oip.parse_infer(body, SIG, 10)
    assert caught.value.status == 400


def test_the_response_tensors_carry_labels_and_probabilities_in_the_classes_order():
    inference = oip.parse_infer(per_feature((41, 30), ("dark", "light"), (True, False)), SIG, 10)
    rows = [{"0": 0.25, "1": 0.75}, {"0": 0.9, "1": 0.1}]
    assert oip.infer_response(SIG, inference, [1, 0], rows, "r-1") == {
        "model_name": "acme__churn", "model_version": "7", "id": "r-1", "parameters": {"request_id": "r-1"},
        "outputs": [{"name": "predict", "datatype": "INT64", "shape": [2], "data": [1, 0]},
                    {"name": "probabilities", "datatype": "FP64", "shape": [2, 2], "parameters": {"classes": "[0, 1]"},
                     "data": [0.25, 0.75, 0.9, 0.1]}]}
    only = oip.parse_infer({"id": "mine", **per_feature(), "outputs": [{"name": "predict"}]}, SIG, 10)
    answer = oip.infer_response(SIG, only, [1], None, "r-2")
    assert answer["id"] == "mine" and [o["name"] for o in answer["outputs"]] == ["predict"]
    text = oip.signature({**META, "classes": ["no", True], "model_version": ""}, "onnx", False)
    answer = oip.infer_response(text, oip.parse_infer(per_feature(), text, 10), [True], None, "r")
    assert answer["outputs"][0]["data"] == ["true"] and "model_version" not in answer


# -- the routes, through the ASGI app --------------------------------------------------------------------------
def served(regression=False):
    meta = {**META, **({"task": "regression", "classes": []} if regression else {})}

    def answer(columns, probabilities=False):
        rows = len(columns["age"])
        if regression:
            return [float(a or 0) * 2 for a in columns["age"]], None
        return [1] * rows, [{"0": 0.2, "1": 0.8}] * rows if probabilities else None

    app = create_app(LoadedModel(meta, "onnx", answer, PROFILE), limits=Limits(max_rows=10))
    app.ready = True
    return app


def get(app, path):
    status, headers, body = request(app, "GET", path)
    return status, headers, json.loads(body)


def test_health_and_metadata_routes_answer_as_the_protocol_says():
    app = served()
    assert get(app, "/v2/health/live")[::2] == (200, {"live": True})
    assert get(app, "/v2/health/ready")[::2] == (200, {"ready": True})
    assert get(app, "/v2")[::2] == (200, {"name": "aicd", "version": "0.1.0", "extensions": []})
    assert get(app, "/v2/")[::2] == get(app, "/v2")[::2]  # the OpenAPI document spells it so
    assert get(app, "/v2/models/acme__churn/ready")[::2] == (200, {"name": "acme__churn", "ready": True})
    status, headers, body = get(app, "/v2/models/acme__churn/versions/7")
    assert status == 200 and body == oip.model_metadata(SIG) and headers["x-model-version"] == "7"
    app.ready = False
    assert get(app, "/v2/health/ready")[::2] == (503, {"ready": False})
    assert get(app, "/v2/models/acme__churn/ready")[::2] == (503, {"name": "acme__churn", "ready": False})


@pytest.mark.parametrize(("method", "path", "status", "message"), [
    ("GET", "/v2/models/churn", 404, "model 'churn' is not served here (this server serves 'acme__churn')"),
    ("POST", "/v2/models/other__churn/infer", 404, "is not served here"),
    ("GET", "/v2/models/acme__churn/versions/6/ready", 404, "has no version '6' here (serving version '7')"),
    ("GET", "/v2/models/acme__churn/infer", 405, "use POST"),
    ("POST", "/v2/models/acme__churn", 405, "use GET"),
    ("GET", "/v2/models/acme__churn/explain", 404, "is not served"),
    ("GET", "/v2/repository/index", 404, "is not served"),
])
def test_an_unknown_model_version_or_route_is_a_protocol_error(method, path, status, message):
    got, _, body = request(served(), method, path, json.dumps(per_feature()).encode())
    assert got == status and list(json.loads(body)) == ["error"] and message in json.loads(body)["error"]


def test_infer_scores_counts_like_predict_and_remembers_for_feedback():
    app = served()
    status, headers, body = post(app, "/v2/models/acme__churn/infer", {"id": "order-9", **per_feature()})
    assert status == 200 and body["id"] == "order-9" and headers["x-request-id"] == "order-9"
    assert body["outputs"][1]["data"] == [0.2, 0.8]
    status, _, again = post(app, "/v2/models/acme__churn/versions/7/infer", {"id": "order-9", **per_feature()})
    assert again["id"] == "order-9" and again["parameters"]["request_id"] != "order-9"  # the first keeps its id
    assert "order-9" in app.remembered and app.remembered["order-9"].answer == 1
    bad = post(app, "/v2/models/acme__churn/infer", {"inputs": [tensor("age", ["x"], "BYTES")]})
    assert bad[0] == 400 and list(bad[2]) == ["error"]
    assert app.metrics.requests[("predict", "200")] == 2 and app.metrics.requests[("predict", "400")] == 1
    assert app.metrics.predictions["1"] == 2 and sum(app.metrics.latency_counts) == 2
    assert app.metrics.bins[("roast", "dark")] == 2


def test_a_regressor_answers_fp64_values_and_refuses_probabilities():
    app = served(regression=True)
    status, _, body = post(app, "/v2/models/acme__churn/infer", per_feature((2, 4), ("dark", "light"), (True, True)))
    assert status == 200 and body["outputs"] == [{"name": "predict", "datatype": "FP64", "shape": [2],
                                                  "data": [4.0, 8.0]}]
    asked = {**per_feature(), "outputs": [{"name": "probabilities"}]}
    status, _, body = post(app, "/v2/models/acme__churn/infer", asked)
    assert status == 400 and "not an output" in body["error"]


def test_the_binary_data_extension_is_refused_with_a_clear_400():
    status, _, body = request(served(), "POST", "/v2/models/acme__churn/infer", b"{}\x00\x01",
                              headers=[("inference-header-content-length", "2")])
    assert status == 400 and "binary tensor data extension is not supported" in json.loads(body)["error"]


@pytest.mark.parametrize("body", [
    per_feature((41, 30.5), ("dark", "light"), (True, False)),
    {"inputs": [{**t, "shape": [1, 1]} for t in per_feature()["inputs"]]},
    per_feature((None,), ("dark",), (True,)),  # a missing value: the thorough path's
    {"inputs": [tensor("age", [[41]], "INT64", [1, 1]), *per_feature()["inputs"][1:]]},  # nested data
    {"inputs": [tensor("age", [41], "INT64", [True]), *per_feature()["inputs"][1:]]},  # a bool is no dimension
    {"inputs": [tensor("age", [41], "INT64", [1, True]), *per_feature()["inputs"][1:]]},
    {"inputs": [tensor("age", [True], "INT64"), *per_feature()["inputs"][1:]]},
    {"inputs": [tensor("age", [4.5], "INT64"), *per_feature()["inputs"][1:]]},
    {"inputs": [tensor("age", [4.0], "UINT8"), *per_feature()["inputs"][1:]]},
    {"inputs": [tensor("age", [-4], "UINT8"), *per_feature()["inputs"][1:]]},
    {"inputs": [tensor("age", [1e39], "FP32"), *per_feature()["inputs"][1:]]},
    {"inputs": [*per_feature()["inputs"][:1], tensor("roast", ["\ud800"], "BYTES"), *per_feature()["inputs"][2:]]},
    {"inputs": [*per_feature()["inputs"][:1], tensor("roast", [1], "BYTES"), *per_feature()["inputs"][2:]]},
    {"inputs": [*per_feature()["inputs"], tensor("age", [1], "INT64")]},
    {"inputs": [{**t, "parameters": {"content_type": "np"}} for t in per_feature()["inputs"]]},
    {"inputs": [tensor("age", [1, 2], "INT64"), *per_feature()["inputs"][1:]]},
    {"inputs": [tensor("age", [], "INT64"), tensor("roast", [], "BYTES"), tensor("member", [], "BOOL")]},
])
def test_the_one_pass_check_accepts_exactly_what_the_thorough_one_does(body, monkeypatch):
    """The common request's quick check answers as the thorough one, and leaves it every other request."""
    def parsed():
        try:
            return oip.parse_infer(body, SIG, 10)
        except BadRequest as exc:
            return str(exc)

    quick = parsed()
    monkeypatch.setattr(oip, "_common_columns", lambda inputs, sig: None)
    assert parsed() == quick


def test_infer_reads_only_what_it_bounds_and_a_body_too_deep_to_parse_is_a_400():
    app = served()
    deep = {**per_feature(), "extension": json.loads("[" * 50 + "]" * 50)}  # never read: no walk over it
    assert post(app, "/v2/models/acme__churn/infer", deep)[0] == 200
    status, _, body = request(app, "POST", "/v2/models/acme__churn/infer", b"[" * 100_000 + b"]" * 100_000,
                              headers=[("content-length", "200000")])
    assert status == 400 and list(json.loads(body)) == ["error"]
