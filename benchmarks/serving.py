"""aicd's model server against `mlflow models serve`, MLServer and BentoML, on the same model and load.

    python benchmarks/serving.py [--duration 20] [--model forest|churn-hgb|churn-xgb|all] [--no-image]

The competitor benchmark's workload: RandomForestClassifier(n_estimators=100, random_state=0) on
scikit-learn's breast-cancer data; wrk -t2 -c16 --latency, single-row JSON, 5 s warm-up, one
server process each. aicd serves the ONNX export (checked against scikit-learn on the holdout at
export) with validation, feature-bin counters and Prometheus metrics all on; MLflow serves the same
fitted forest (without aicd's imputer step, its best case) from its own saved model with
`--env-manager local`. Prints req/s, p50/p99, start-to-ready and RSS for both and
the ratios the issue asks for (throughput >= 20x, p99 <= 1/20, start to ready < 2 s).

aicd answers the same load over the Open Inference Protocol too (``POST /v2/models/bench/infer``,
labels only, as ``/predict``; the routes interleaved for ``--rounds`` rounds, each V2 route's rate divided by
``/predict``'s of the same round and the median of those ratios reported): one
tensor per feature (the tabular form, both models) and, for the
all-numeric forest, one [1, 30] FP64 tensor — the body a KServe or MLServer client sends. Target:
V2 throughput within 10 % of ``/predict``. On the forest, MLServer 1.7.1 (mlserver-sklearn, one
process: ``parallel_workers`` 0) takes that very [1, 30] body, and BentoML 1.4.40 a service whose
API takes a [1, 30] array; each runs in its own venv built from the package index with the
project's uv (``benchmarks/needs.py``) and serves a forest fitted with the same parameters on the same
data inside that venv (a pickle does not cross scikit-learn versions). One that cannot be installed
is skipped with one line.

With a Docker engine (``--base-image``, default the locally built aicd-base:bookworm-py3.11, see
scripts/build-base-image), it also builds aicd's serving image for the model and, on the same base,
an image holding MLflow's serving stack for it (mlflow plus the requirements.txt MLflow saved with
the model — what `mlflow models build-docker` installs), and compares their sizes; when no engine
answers, one line says the comparison is skipped.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import needs

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "shared"))
NAME = "bench"  # the served model's name, in the V2 paths
COMPETITORS = {"mlserver": ["mlserver==1.7.1", "mlserver-sklearn==1.7.1"],
               "bentoml": ["bentoml==1.4.40", "scikit-learn"]}

# Run in a competitor's venv: the benchmark's forest, fitted with that venv's scikit-learn, saved with joblib.
FIT = """
import sys, joblib
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import RandomForestClassifier
x, y = load_breast_cancer(return_X_y=True)
joblib.dump(RandomForestClassifier(n_estimators=100, random_state=0).fit(x, y), sys.argv[1])
"""

BENTO_SERVICE = """
import bentoml, joblib, numpy as np

@bentoml.service(workers=1)
class Forest:
    def __init__(self):
        self.model = joblib.load(%r)

    @bentoml.api
    def predict(self, input: np.ndarray) -> np.ndarray:
        return self.model.predict(input)
"""

WRK_SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = [==[%s]==]
"""  # a level-2 long string: a JSON body may hold "]]" (nested arrays), which would end [[...]]


def breast_cancer_model(work: Path) -> tuple[Path, Path, dict]:
    """(aicd model dir, mlflow model dir, one row) for the same fitted forest."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.ensemble import RandomForestClassifier

    from aicd.data.drift import profile_frame
    from aicd.model.onnx_export import export_onnx
    from aicd.model.train import with_preprocessing
    from aicd.modelfiles import write_onnx_model_dir

    frame = load_breast_cancer(as_frame=True).frame
    frame.columns = [re.sub(r"\W+", "_", c) for c in frame.columns]
    features = [c for c in frame.columns if c != "target"]
    # The pipeline aicd trains for a bare estimator (median imputation in front of the forest); both
    # servers get this same fitted object.
    model = with_preprocessing(RandomForestClassifier(n_estimators=100, random_state=0), frame[features])
    model.fit(frame[features], frame["target"])
    types = dict.fromkeys(features, "float")
    export = export_onnx(model, frame[features], types, "classification")
    assert export.blob is not None, export.reason
    aicd_dir = work / "aicd-model"
    row = {k: float(v) for k, v in frame[features].iloc[0].items()}
    meta = {"features": features, "feature_types": types, "classes": [0, 1], "task": "classification",
            "model_version": "1", "example": row, "onnx_agreement": export.agreement}
    sha256 = write_onnx_model_dir(aicd_dir, export.blob, meta, profile_frame(frame[features]))
    os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
    import mlflow.sklearn
    import skops.io

    mlflow_dir = work / "mlflow-model"
    forest = model.named_steps["estimator"]  # the very same trees, without the imputer: MLflow's best case
    trusted = skops.io.get_untrusted_types(data=skops.io.dumps(forest))
    mlflow.sklearn.save_model(forest, str(mlflow_dir), input_example=frame[features].head(1),
                              skops_trusted_types=trusted)
    return aicd_dir, mlflow_dir, {"row": row, "sha256": sha256, "agreement": export.agreement}


def churn_hgb_model(work: Path, estimator: str = "sklearn.ensemble.HistGradientBoostingClassifier"
                    ) -> tuple[Path, Path, dict]:
    """(aicd model dir, mlflow model dir, one row) for ``estimator`` (gradient boosting) on the churn
    table (aicd.examples.churn: numbers with missing cells, narrow and wide string categoricals),
    trained through aicd's own pipeline; MLflow serves the very same fitted pipeline."""
    from aicd.config import parse_config
    from aicd.data.drift import profile_frame
    from aicd.examples.churn import churn_frame
    from aicd.model.onnx_export import export_onnx
    from aicd.model.train import build_estimator, train_and_evaluate
    from aicd.modelfiles import write_onnx_model_dir

    frame = churn_frame(20_000, seed=0)
    cfg = parse_config(f"data: {{label: churned}}\nmodel:\n  estimator: {estimator}\n"
                       "  params: {random_state: 0}\n").model
    result = train_and_evaluate(frame, "churned", cfg, build_estimator(cfg))
    export = export_onnx(result.model, result.holdout, result.feature_types, "classification")
    assert export.blob is not None, export.reason
    features = result.features
    row = json.loads(result.holdout[features].dropna().head(1).to_json(orient="records"))[0]
    meta = {"features": features, "feature_types": result.feature_types, "classes": result.classes,
            "task": "classification", "model_version": "1", "example": row, "onnx_agreement": export.agreement}
    aicd_dir = work / "aicd-model"
    sha256 = write_onnx_model_dir(aicd_dir, export.blob, meta, profile_frame(frame[features]))
    os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
    import mlflow.sklearn
    import skops.io

    from aicd.levelcodes import plain

    mlflow_dir = work / "mlflow-model"
    registered = plain(result.model)  # the pipeline as aicd registers it
    trusted = skops.io.get_untrusted_types(data=skops.io.dumps(registered))
    mlflow.sklearn.save_model(registered, str(mlflow_dir), input_example=result.holdout[features].head(1),
                              skops_trusted_types=trusted)
    return aicd_dir, mlflow_dir, {"row": row, "sha256": sha256, "agreement": export.agreement,
                                  "rows": len(result.holdout)}


def churn_xgb_model(work: Path) -> tuple[Path, Path, dict]:
    """The same churn table and pipeline with XGBoost's scikit-learn classifier (exported through
    onnxmltools' converter, as aicd exports it)."""
    return churn_hgb_model(work, "xgboost.XGBClassifier")


MODELS = {"forest": breast_cancer_model, "churn-hgb": churn_hgb_model, "churn-xgb": churn_xgb_model}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    def __init__(self, name: str, cmd: list[str], port: int, ready_path: str, env: dict):
        self.name, self.cmd, self.port, self.ready_path, self.env = name, cmd, port, ready_path, env

    def __enter__(self):
        self.log = tempfile.TemporaryFile()
        started = time.monotonic()
        self.proc = subprocess.Popen(self.cmd, stdout=self.log, stderr=self.log, env=self.env,
                                     start_new_session=True)
        while time.monotonic() - started < 120:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{self.ready_path}", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                if self.proc.poll() is not None:
                    self.log.seek(0)
                    raise RuntimeError(f"{self.name} exited: {self.log.read()[-2000:].decode()}") from None
                time.sleep(0.02)
        self.ready_s = time.monotonic() - started
        return self

    def rss_mb(self) -> float:
        """Resident memory of the server's whole process group."""
        total = 0
        for pid in (p for p in os.listdir("/proc") if p.isdigit()):
            try:
                if os.getpgid(int(pid)) == self.proc.pid:
                    status = Path(f"/proc/{pid}/status").read_text()
                    total += int(re.search(r"VmRSS:\s+(\d+)", status).group(1))
            except (OSError, AttributeError):
                continue
        return total / 1024

    def __exit__(self, *exc):
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


def wrk(url: str, body: dict, seconds: int, work: Path, warm: bool = True) -> dict:
    script = work / "post.lua"
    script.write_text(WRK_SCRIPT % json.dumps(body))
    run = lambda d: subprocess.run(["wrk", "-t2", "-c16", f"-d{d}s", "--latency", "-s", str(script), url],  # noqa: E731
                                   capture_output=True, text=True, check=True).stdout
    if warm:
        run(min(5, seconds))
    out = run(seconds)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
            "p50_ms": _ms(re.search(r"50%\s+([\d.]+\w+)", out).group(1)),
            "p99_ms": _ms(re.search(r"99%\s+([\d.]+\w+)", out).group(1)),
            "errors": int(non_2xx.group(1)) if non_2xx else 0}


def _ms(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(\w+)", text).groups()
    return float(value) * {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}[unit]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=5,
                        help="interleaved rounds of aicd's /predict and V2 routes (each run: duration/2 s)")
    parser.add_argument("--base-image", default="aicd-base:bookworm-py3.11")
    parser.add_argument("--no-image", action="store_true", help="skip the image size comparison")
    parser.add_argument("--no-competitors", action="store_true", help="skip MLServer and BentoML")
    parser.add_argument("--model", choices=[*MODELS, "all"], default="all",
                        help="forest: the competitor benchmark's forest; churn-hgb, churn-xgb: "
                        "HistGradientBoosting and XGBoost on categoricals")
    args = parser.parse_args()
    if args.rounds < 1 or args.duration < 1:
        parser.error("--rounds and --duration must be at least 1")
    needs.program("wrk", "run scripts/install-test-packages (installs wrk from Debian's packages)")
    for name in (MODELS if args.model == "all" else [args.model]):
        print(f"== {name}")
        with tempfile.TemporaryDirectory() as tmp:
            compare(Path(tmp), MODELS[name], args, image=not args.no_image and name == "forest")


def compare(work: Path, make_model, args, image: bool) -> None:
    """Every server on the model ``make_model`` builds, one after the other, under the same load."""
    aicd_dir, mlflow_dir, info = make_model(work)
    python = sys.executable
    env = {**os.environ, "PYTHONPATH": str(ROOT / "shared"), "MLFLOW_DISABLE_TELEMETRY": "true",
           "PATH": f"{Path(python).parent}{os.pathsep}{os.environ.get('PATH', '')}"}  # mlflow runs `uvicorn`
    results = {}
    port = free_port()
    aicd_cmd = [python, "-m", "aicd.serve", "--model-dir", str(aicd_dir), "--sha256", info["sha256"],
                "--port", str(port), "--model-version", "1", "--model-name", NAME]
    infer = f"http://127.0.0.1:{port}/v2/models/{NAME}/infer"
    loads = {"aicd": (f"http://127.0.0.1:{port}/predict", info["row"]), "aicd-v2": (infer, v2_columns(info["row"]))}
    if all(type(v) in (int, float) for v in info["row"].values()):
        loads["aicd-v2-1x30"] = (infer, v2_tensor(info["row"]))
    paired: dict[str, list[float]] = {name: [] for name in loads if name != "aicd"}
    with Server("aicd", aicd_cmd, port, "/readyz", env) as server:
        # The same server's routes, interleaved for several rounds, each round's order rotated: on a
        # shared machine the load drifts between runs more than the routes differ, so each V2 route is
        # compared with /predict in the same round and the median of those paired ratios is reported.
        seconds = max(5, args.duration // 2)
        for round_ in range(args.rounds):
            names = list(loads)[round_ % len(loads):] + list(loads)[:round_ % len(loads)]
            rates = {}
            for name in names:
                url, body = loads[name]
                run = {**wrk(url, body, seconds, work, warm=round_ == 0), "ready_s": server.ready_s,
                       "rss_mb": server.rss_mb()}
                rates[name] = run["rps"]
                if name not in results or run["rps"] > results[name]["rps"]:
                    results[name] = run
            for name in paired:
                if rates["aicd"] > 0:  # wrk reports 0 req/s when every request failed: no ratio that round
                    paired[name].append(rates[name] / rates["aicd"])
    for name, ratios in paired.items():
        results[name]["paired"] = ratios
    port = free_port()
    mlflow_cmd = [str(Path(python).parent / "mlflow"), "models", "serve", "-m", str(mlflow_dir),
                  "--env-manager", "local", "-p", str(port), "-h", "127.0.0.1"]
    with Server("mlflow", mlflow_cmd, port, "/ping", env) as server:
        body = {"dataframe_records": [info["row"]]}
        results["mlflow"] = {**wrk(f"http://127.0.0.1:{port}/invocations", body, args.duration, work),
                             "ready_s": server.ready_s, "rss_mb": server.rss_mb()}
    if "aicd-v2-1x30" in results and not args.no_competitors:
        results |= competitors(work, info["row"], args.duration)
    report(results, info["agreement"], info.get("rows", 569))
    if image:
        client, why_not = needs.docker_engine()
        if client is None:
            print(f"image sizes: skipped, {why_not} (start dockerd, or pass --no-image)")
        else:
            image_sizes(client, args.base_image, aicd_dir, mlflow_dir, info, work)


def v2_columns(row: dict) -> dict:
    """The V2 inference request of one row as one tensor per feature, labels only (as /predict answers)."""
    return {"inputs": [{"name": name, "shape": [1], "datatype": "BYTES" if isinstance(value, str) else "FP64",
                        "data": [value]} for name, value in row.items()], "outputs": [{"name": "predict"}]}


def v2_tensor(row: dict) -> dict:
    """The same row as one [1, F] FP64 tensor in the features' order: a KServe or MLServer client's body."""
    return {"inputs": [{"name": "input-0", "shape": [1, len(row)], "datatype": "FP64", "data": list(row.values())}],
            "outputs": [{"name": "predict"}]}


def competitors(work: Path, row: dict, seconds: int) -> dict:
    """MLServer and BentoML on the forest, each from its own venv; one that cannot be installed is skipped."""
    results = {}
    for name, requirements in COMPETITORS.items():
        try:
            python = needs.venv(name, requirements)
        except subprocess.CalledProcessError:
            print(f"{name}: skipped, {' '.join(requirements)} cannot be installed here")
            continue
        model = work / f"{name}-model" / "model.joblib"
        model.parent.mkdir()
        subprocess.run([str(python), "-c", FIT, str(model)], check=True)
        port = free_port()
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        env["PATH"] = f"{python.parent}{os.pathsep}{env.get('PATH', '')}"
        if name == "mlserver":
            cmd, ready, url, body = mlserver_setup(python, model, port, row)
        else:
            cmd, ready, url, body = bentoml_setup(python, model, port, row)
        try:
            with Server(name, cmd, port, ready, {**env, "BENTOML_DO_NOT_TRACK": "true"}) as server:
                results[name] = {**wrk(url, body, seconds, work), "ready_s": server.ready_s,
                                 "rss_mb": server.rss_mb()}
        except RuntimeError as exc:  # it exited before it was ready: its log's last line says why
            print(f"{name}: skipped, it did not start ({str(exc).strip().splitlines()[-1][:200]})")
    return results


def mlserver_setup(python: Path, model: Path, port: int, row: dict) -> tuple[list[str], str, str, dict]:
    """`mlserver start` on a folder holding the forest: one process, no metrics or gRPC on our ports."""
    folder = model.parent
    (folder / "settings.json").write_text(json.dumps({
        "http_port": port, "grpc_port": free_port(), "metrics_port": free_port(), "parallel_workers": 0,
        "host": "127.0.0.1", "debug": False}))
    (folder / "model-settings.json").write_text(json.dumps({
        "name": NAME, "implementation": "mlserver_sklearn.SKLearnModel",
        "parameters": {"uri": str(model), "version": "1"}}))
    return ([str(python.parent / "mlserver"), "start", str(folder)], "/v2/health/ready",
            f"http://127.0.0.1:{port}/v2/models/{NAME}/infer", v2_tensor(row))


def bentoml_setup(python: Path, model: Path, port: int, row: dict) -> tuple[list[str], str, str, dict]:
    """`bentoml serve` on a one-API service predicting with the forest."""
    (model.parent / "service.py").write_text(BENTO_SERVICE % str(model))
    cmd = [str(python.parent / "bentoml"), "serve", "service:Forest", "--working-dir", str(model.parent),
           "--host", "127.0.0.1", "--port", str(port)]
    return cmd, "/readyz", f"http://127.0.0.1:{port}/predict", {"input": [list(row.values())]}


def image_sizes(client, base: str, aicd_dir: Path, mlflow_dir: Path, info: dict, work: Path) -> None:
    from aicd.deploy.image import ImageBuilder, image_labels

    builder = ImageBuilder(client, Path.home() / ".cache/aicd")
    meta = {**json.loads((aicd_dir / "aicd.json").read_text()), "onnx_sha256": info["sha256"], "model_name": "bc"}
    aicd = builder.build(base=base, repository="aicd-bench/aicd", tag="1", model_dir=aicd_dir, meta=meta,
                         env={"AICD_MODEL_SHA256": info["sha256"]},
                         labels=image_labels(meta, "models:/bc/1", info["sha256"], "", ""))
    python, machine = builder.base_python(base)
    context = work / "mlflow-image"
    requirements = [r for r in (mlflow_dir / "requirements.txt").read_text().split() if not r.startswith("mlflow")]
    subprocess.run([needs.uv(), "pip", "install", "-q", "--target", str(context / "site"),
                    "--python-version", python, "--python-platform", f"{machine}-manylinux_2_28", "--only-binary",
                    ":all:", "mlflow==3.17.2", *requirements], check=True)
    shutil.copytree(mlflow_dir, context / "model")
    (context / "Dockerfile").write_text(f"FROM {base}\nCOPY site /opt/mlflow/site\nCOPY model /model\n"
                                        "ENV PYTHONPATH=/opt/mlflow/site\n")
    image, _ = client.images.build(path=str(context), tag="aicd-bench/mlflow:1", rm=True)
    base_mb = client.images.get(base).attrs["Size"] / 1e6
    mlflow_mb = image.attrs["Size"] / 1e6
    print(f"image sizes on {base} ({base_mb:.0f} MB): aicd {aicd.size_mb:.0f} MB, MLflow serving stack "
          f"{mlflow_mb:.0f} MB ({' '.join(requirements)} + mlflow): ratio {aicd.size_mb / mlflow_mb:.2f} "
          "(target <= 0.33)")
    print(f"installed payload above the base: aicd {aicd.size_mb - base_mb:.0f} MB, MLflow "
          f"{mlflow_mb - base_mb:.0f} MB: ratio {(aicd.size_mb - base_mb) / (mlflow_mb - base_mb):.2f}")


def report(results: dict, agreement: float, rows: int) -> None:
    print(f"ONNX export agrees with scikit-learn on {agreement:.2%} of the {rows:,} rows")
    print(f"{'server':13} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8} {'ready s':>8} {'RSS MB':>8}")
    for name, r in results.items():
        print(f"{name:13} {r['rps']:9.0f} {r['p50_ms']:8.2f} {r['p99_ms']:8.2f} {r['errors']:8d} "
              f"{r['ready_s']:8.2f} {r['rss_mb']:8.0f}")
    a, m = results["aicd"], results["mlflow"]
    print(f"throughput ratio aicd/mlflow: {a['rps'] / m['rps']:.1f}x (target >= 20x)")
    print(f"p99 ratio aicd/mlflow: 1/{m['p99_ms'] / a['p99_ms']:.1f} (target <= 1/20)")
    print(f"aicd start to ready: {a['ready_s']:.2f} s (target < 2 s)")
    for v2 in ("aicd-v2", "aicd-v2-1x30"):
        if v2 in results:
            ratios = results[v2]["paired"]
            if not ratios:
                print(f"throughput ratio {v2}/aicd (/predict): no round answered /predict")
                continue
            print(f"throughput ratio {v2}/aicd (/predict): median {statistics.median(ratios):.2f} of {len(ratios)} "
                  f"paired rounds ({', '.join(f'{r:.2f}' for r in ratios)}); best runs "
                  f"{results[v2]['rps'] / a['rps']:.2f} (target >= 0.90)")
    for other in ("mlserver", "bentoml"):
        if other in results:
            o = results[other]
            print(f"throughput ratio aicd/{other}: {a['rps'] / o['rps']:.1f}x, aicd-v2-1x30/{other}: "
                  f"{results['aicd-v2-1x30']['rps'] / o['rps']:.1f}x; p99 ratio aicd/{other}: "
                  f"1/{o['p99_ms'] / a['p99_ms']:.1f}")


if __name__ == "__main__":
    main()
