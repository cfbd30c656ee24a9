"""The Open Inference Protocol (KServe V2 REST) against a real model server process.

The client below is written from the protocol's specification alone (kserve/open-inference-protocol,
specification/protocol/inference_rest.md): plain HTTP with JSON bodies, no aicd code, so what passes
here is what a KServe, Triton or MLServer client sends and reads.
"""

import json
import math
import shutil
import urllib.error
import urllib.parse
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import FEEDBACK_AUTH
from tests.integration.model_server import ROW, coffee_model_dir, coffee_regressor_dir, start_model_server

NAME = "acme__coffee"  # a tenant's model: its V2 name is the registered name, tenant prefix included


class V2Client:
    """The protocol's REST API: GET health and metadata, POST infer; every answer is (status, JSON body)."""

    def __init__(self, url: str):
        self.url = url

    def call(self, method: str, path: str, body: object = None) -> tuple[int, dict]:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data, {"content-type": "application/json"}, method=method)
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read())

    def model_path(self, name: str, version: str | None = None) -> str:
        path = f"/v2/models/{urllib.parse.quote(name, safe='')}"
        return path + (f"/versions/{urllib.parse.quote(version, safe='')}" if version else "")

    def infer(self, name: str, inputs: list[dict], outputs: list[str] | None = None, request_id: str | None = None,
              version: str | None = None) -> tuple[int, dict]:
        body: dict = {"inputs": inputs}
        if outputs is not None:
            body["outputs"] = [{"name": o} for o in outputs]
        if request_id is not None:
            body["id"] = request_id
        return self.call("POST", self.model_path(name, version) + "/infer", body)


def column(name: str, values: list, datatype: str) -> dict:
    return {"name": name, "shape": [len(values)], "datatype": datatype, "data": values}


def coffee_inputs(rows: list[dict]) -> list[dict]:
    """One tensor per feature: BYTES for the roasts (text), FP64 for the numbers."""
    return [column(f, [r[f] for r in rows], "BYTES" if f.endswith("roast") else "FP64") for f in rows[0]]


ROWS = [ROW, {**ROW, "age": 61, "preferred_roast": "light", "hour": 20, "coffee_price": 5.5},
        {**ROW, "visits_per_week": 0.5, "avg_spend": 12.0}]


def with_meta(source: tuple, dest, **meta) -> tuple:
    """A copy of a model dir with extra metadata (aicd.json is not the checksummed file)."""
    shutil.copytree(source[0], dest)
    path = dest / "aicd.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), **meta}))
    return dest, source[1]


@pytest.fixture(scope="module")
def classifier(tmp_path_factory):
    base = tmp_path_factory.mktemp("oip")
    model_dir = with_meta(coffee_model_dir(base / "source"), base / "model", classes=[0, 1], task="classification")
    with start_model_server(*model_dir, base / "server.log", model_name=NAME, model_version="4") as server:
        server.wait_ready()
        yield server


@pytest.fixture
def client(classifier):
    return V2Client(classifier.url)


def post_predict(url: str, body: dict) -> dict:
    req = urllib.request.Request(url + "/predict", json.dumps(body).encode(), {"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


def test_health_and_server_metadata(client):
    assert client.call("GET", "/v2/health/live") == (200, {"live": True})
    assert client.call("GET", "/v2/health/ready") == (200, {"ready": True})
    status, body = client.call("GET", "/v2")
    assert status == 200 and body["name"] == "aicd" and isinstance(body["version"], str)
    assert body["extensions"] == []
    assert client.call("GET", client.model_path(NAME) + "/ready") == (200, {"name": NAME, "ready": True})
    assert client.call("GET", client.model_path(NAME, "4") + "/ready") == (200, {"name": NAME, "ready": True})


def test_model_metadata_names_every_input_with_its_datatype_and_shape(client):
    status, body = client.call("GET", client.model_path(NAME))
    assert status == 200 and client.call("GET", client.model_path(NAME, "4")) == (200, body)
    assert body["name"] == NAME and body["versions"] == ["4"] and body["platform"] == "onnx_onnxv1"
    assert [(t["name"], t["datatype"], t["shape"]) for t in body["inputs"]] == [
        (f, "BYTES" if f.endswith("roast") else "FP64", [-1]) for f in ROW]
    assert body["outputs"] == [{"name": "predict", "datatype": "INT64", "shape": [-1]},
                               {"name": "probabilities", "datatype": "FP64", "shape": [-1, 2]}]


def test_infer_with_one_tensor_per_column_answers_as_predict_does(client, classifier):
    status, body = client.infer(NAME, coffee_inputs(ROWS), request_id="spec-1")
    assert status == 200, body
    assert body["model_name"] == NAME and body["model_version"] == "4" and body["id"] == "spec-1"
    outputs = {o["name"]: o for o in body["outputs"]}
    assert set(outputs) == {"predict", "probabilities"}
    predicted = post_predict(classifier.url, {"instances": ROWS, "probabilities": True})
    assert outputs["predict"]["datatype"] == "INT64" and outputs["predict"]["shape"] == [3]
    assert outputs["predict"]["data"] == predicted["predictions"]
    probabilities = outputs["probabilities"]
    assert probabilities["datatype"] == "FP64" and probabilities["shape"] == [3, 2]
    rows = [probabilities["data"][i:i + 2] for i in range(0, 6, 2)]  # row-major
    assert rows == [[p["0"], p["1"]] for p in predicted["probabilities"]]
    assert all(math.isclose(sum(r), 1.0, abs_tol=1e-5) for r in rows)
    assert json.loads(probabilities["parameters"]["classes"]) == [0, 1]
    # [N, 1] shapes and the versioned path, asking for one output only
    shaped = [{**t, "shape": [3, 1]} for t in coffee_inputs(ROWS)]
    status, body = client.infer(NAME, shaped, outputs=["predict"], version="4")
    assert status == 200 and [o["name"] for o in body["outputs"]] == ["predict"]
    assert body["outputs"][0]["data"] == predicted["predictions"]


def test_an_infer_counts_as_a_prediction_and_its_id_takes_feedback(client, classifier):
    status, body = client.infer(NAME, coffee_inputs(ROWS[:1]), request_id="spec-feedback")
    assert status == 200 and body["parameters"]["request_id"] == "spec-feedback"
    req = urllib.request.Request(classifier.url + "/feedback", json.dumps(
        {"request_id": "spec-feedback", "label": body["outputs"][0]["data"][0]}).encode(),
        {"content-type": "application/json", **FEEDBACK_AUTH})
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert json.loads(resp.read())["outcome"] == "correct"
    with urllib.request.urlopen(classifier.url + "/metrics", timeout=10) as resp:
        families = {f.name: f for f in text_string_to_metric_families(resp.read().decode())}
    requests = {(s.labels["route"], s.labels["status"]): s.value for s in families["aicd_requests"].samples
                if s.name == "aicd_requests_total"}
    assert requests[("predict", "200")] >= 1  # the production gate's error rate reads route="predict"
    latency = [s for s in families["aicd_request_latency_seconds"].samples if s.name.endswith("_count")]
    assert latency[0].value >= 1
    assert all(s.labels["model"] == NAME for s in families["aicd_requests"].samples)
    assert any(s.value >= 1 for s in families["aicd_feedback"].samples if s.labels.get("outcome") == "correct")


@pytest.mark.parametrize(("mutate", "message"), [
    (lambda inputs: [{**inputs[0], "datatype": "BYTES", "data": ["25"]}, *inputs[1:]],
     "`inputs[0].datatype` is BYTES, but feature 'age' takes a numeric datatype"),
    (lambda inputs: [{**inputs[0], "datatype": "FP64", "data": ["25"]}, *inputs[1:]],
     "`inputs[0].data[0]` must be a number (FP64)"),
    (lambda inputs: [{**inputs[0], "shape": [2]}, *inputs[1:]], "has shape [2] (2 values) but its `data` holds 1"),
    (lambda inputs: [{**inputs[0], "shape": [1, 2], "data": [25, 26]}, *inputs[1:]], "shape [N] or [N, 1]"),
    (lambda inputs: inputs[1:], "input 'age' is missing"),
    (lambda inputs: [{**inputs[0], "name": "agee"}, *inputs[1:]], "did you mean 'age'"),
    (lambda inputs: [{k: v for k, v in inputs[0].items() if k != "datatype"}, *inputs[1:]], "has no `datatype`"),
    (lambda inputs: [{**inputs[0], "datatype": "FLOAT"}, *inputs[1:]], "is not a tensor datatype"),
])
def test_a_bad_request_is_a_400_with_the_protocols_error_object(client, mutate, message):
    status, body = client.infer(NAME, mutate(coffee_inputs(ROWS[:1])))
    assert status == 400 and list(body) == ["error"] and message in body["error"]


def test_an_unknown_model_or_version_is_a_404(client):
    for path in ("/v2/models/coffee", "/v2/models/other__coffee/ready", "/v2/models/acme__coffee/versions/3"):
        status, body = client.call("GET", path)
        assert status == 404 and list(body) == ["error"], path
    status, body = client.infer("coffee", coffee_inputs(ROWS[:1]))  # another tenant's, or no tenant's, name
    assert status == 404 and "'coffee' is not served here" in body["error"]
    status, body = client.infer(NAME, coffee_inputs(ROWS[:1]), outputs=["scores"])
    assert status == 400 and "'scores' is not an output" in body["error"]


def test_a_hostile_input_name_stays_inert_in_the_error_and_the_log(client, classifier):
    hostile = "<script>alert(1)</script>\n::error::x"
    status, body = client.infer(NAME, [{**coffee_inputs(ROWS[:1])[0], "name": hostile}])
    assert status == 400 and "\n" not in body["error"] and "'<script>alert(1)</scr" in body["error"]
    assert all(json.loads(line) for line in classifier.log.read_text().splitlines())  # one JSON record a line


def test_a_regressor_answers_fp64_values_and_no_probabilities(tmp_path):
    model_dir = coffee_regressor_dir(tmp_path / "model")
    with start_model_server(*model_dir, tmp_path / "server.log", model_name="spend", model_version="2") as server:
        client = V2Client(server.wait_ready())
        status, metadata = client.call("GET", "/v2/models/spend")
        assert status == 200 and metadata["outputs"] == [{"name": "predict", "datatype": "FP64", "shape": [-1]}]
        rows = [{k: v for k, v in r.items() if k != "avg_spend"} for r in ROWS]
        status, body = client.infer("spend", coffee_inputs(rows))
        assert status == 200 and [o["name"] for o in body["outputs"]] == ["predict"]
        assert body["outputs"][0]["datatype"] == "FP64" and body["outputs"][0]["shape"] == [3]
        expected = post_predict(server.url, {"instances": rows})["predictions"]
        assert body["outputs"][0]["data"] == pytest.approx(expected)
        status, body = client.infer("spend", coffee_inputs(rows), outputs=["probabilities"])
        assert status == 400 and "not an output" in body["error"]
