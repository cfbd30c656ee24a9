"""``aicd train``: the model gate (train, evaluate, compare with the champion, gate, log and register)."""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import time
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace

from ..config import Config, load_config
from ..config.training import TrainingKubernetesConfig
from ..data.drift import profile_frame
from ..datasets import content_hash, open_source, read_frame
from ..decision import class_key
from ..errors import ConfigError, DataError, GateFailed
from ..gha import Actions, md_code, md_escape
from ..installs import ensure, ensure_boosting
from ..lineage import dataset_record
from ..model.compare import Comparison, compare_models
from ..model.gate import ThresholdResult, check_thresholds
from ..model.importance import ROWS, permutation_importance
from ..model.metrics import confusion, per_class
from ..model.onnx_export import OnnxExport, export_onnx
from ..model.train import TrainResult, build_estimator, evaluate, labelled_rows, load_entrypoint, train_and_evaluate
from ..provenance import commit_of
from ..registry import JOB_TAG, REUSED_BY_JOB_TAG, MlflowRegistry, ModelRecord
from ..signing import PASSWORD_INPUT, PRIVATE_KEY_INPUT, SigningKey, load_private_key, sign_dir
from ..tenancy import check_tenant, qualified_name
from ..warmup import Warmup
from . import read_inputs
from .prcomment import render as pr
from .specs import SPECS
from .summary import ICON, table
from .train_job import JOB_ENV, check_image_lock, submit

DESCRIPTION, INPUTS, OUTPUTS = SPECS["train"]
CREDENTIALS = ("MLFLOW_TRACKING_TOKEN", "MLFLOW_TRACKING_PASSWORD")


def run(inputs: Mapping[str, str], gh: Actions, env: Mapping[str, str] | None = None,
        progress=lambda phase: None) -> dict[str, str]:
    started = time.monotonic()
    env = env if env is not None else os.environ
    for name in CREDENTIALS:
        if env.get(name):
            gh.mask(env[name])
    inputs = read_inputs(INPUTS, inputs)
    on_failure = inputs["on-failure"]
    cfg = load_config(inputs.get("config"), inputs.get("tenant") or "")
    inputs = {**inputs, "data": cfg.data_source(inputs.get("data"))}
    if not cfg.data.label:
        raise ConfigError("`data.label`: training needs a label column", file=cfg.file,
                          hint="add `data: {label: <column>}` to aicd.yml")
    tenant = check_tenant(inputs.get("tenant") or "")
    name = qualified_name(tenant, inputs.get("model-name") or cfg.model.name)
    uri = inputs.get("tracking-uri") or env.get("MLFLOW_TRACKING_URI", "")
    registry = MlflowRegistry(uri, artifact_root=_artifact_root(uri),  # fail fast, before a long fit
                              retry_seconds=_retry_seconds(env))
    job = env.get(JOB_ENV, "")  # set inside the training Job: this process is the Job, and trains here
    signer = _signing_key(inputs, gh, cfg)  # before the fit: a bad key must cost nothing
    if cfg.model.runner == "kubernetes" and not job:
        return submit(inputs, cfg, gh, env, name, tenant, registry, uri)
    # after MLflow's client is imported (it imports parts of SciPy too: two threads must not race on them),
    # while the data is hashed, looked up and read
    fitting = Warmup(_fit_modules(cfg))
    if job:
        check_image_lock(env)
    source = open_source(inputs["data"], cfg.data, env=env, mask=gh.mask,
                         say=lambda text: gh.info(f"aicd train: {text}"))
    data_version = _data_version(inputs) or content_hash(source)
    tags = {**_tags(env, data_version, cfg, tenant, on_failure, signer), "aicd.data_source": _shown_source(source),
            **({JOB_TAG: job} if job else {})}
    existing = registry.find_version(name, tags["aicd.identity"])
    if existing:
        if job:
            registry.tag_run(existing.run_id, REUSED_BY_JOB_TAG, job)
        return _reuse(registry, existing, gh)
    try:
        frame, dropped = labelled_rows(read_frame(source), cfg.data.label, cfg.model)
    except DataError as exc:  # the rows are the data's: name the file they came from
        exc.file = exc.file or inputs["data"]
        raise
    cfg = _checked_against_data(frame, cfg)
    fitting.wait()
    estimator = _model_source(cfg, env)  # the estimator or entrypoint, checked before anything is said to fit
    gh.info(f"aicd train: {len(frame):,} labelled rows of {inputs['data']}"
            + (f" ({dropped:,} rows without a label dropped, as model.max-missing-label-ratio allows)" if dropped
               else "") + f"; fitting {cfg.model.entrypoint or cfg.model.estimator} on the training split")
    exporting = _Export(cfg.model.task, Warmup(AFTER_FIT), beside=estimator[0] == "estimator")
    profiling = _Profile(frame, cfg)
    result = _fit(frame, cfg, estimator, after_fit=lambda model, holdout, types: (
        exporting.start(model, holdout, types), profiling.start(types)))
    fit_seconds = result.seconds.get("fit", 0.0)  # the estimator's own (a chosen threshold's second fit too)
    gh.info(f"aicd train: fitted on {result.n_train:,} rows in {fit_seconds:.2f} s; holdout of {result.n_test:,} rows "
            f"evaluated in {result.seconds.get('evaluate', 0.0):.2f} s")
    for note in result.notes:
        gh.annotate("notice", note, title="aicd model gate: features")
    gate = check_thresholds(result.metrics, cfg.model.thresholds)
    slice_gate = [(s, check_thresholds(s.metrics, s.thresholds)) for s in result.slices if s.gated]
    comparisons, champion = _compare(registry, name, result, cfg, gh, data_version)
    passed = (all(g.passed for g in gate) and all(g.passed for _, gs in slice_gate for g in gs)
              and all(c.passed for c in comparisons))
    gh.info(f"aicd train: holdout metrics {json.dumps(result.metrics)}; gate {'passed' if passed else 'failed'}")
    register = passed or on_failure == "register"
    export = _export(exporting, gh) if register else OnnxExport(None, None, "not registered")
    logging_started = time.monotonic()
    from ..levelcodes import plain  # imported by the fit already (scikit-learn): registered as scikit-learn's own

    record = registry.record_training(
        name=name, params={**_params(cfg, result), "unlabelled_rows_dropped": dropped}, metrics=result.metrics,
        tags={**tags, "aicd.gate": "passed" if passed else "failed"}, model=plain(result.model),
        meta={**_meta(result, cfg, data_version, export), "data_source": tags["aicd.data_source"],
              **_drift_reference(frame, result, cfg, gh), **({"signed_by": signer.fingerprint} if signer else {})},
        input_example=result.holdout[result.features].head(3),
        profile=profiling.result(), register=register, onnx=export.blob,
        alias="candidate" if passed else "challenger", progress=progress,
        seal=(lambda folder: sign_dir(folder, signer)) if signer else None,
        dataset=dataset_record(inputs["data"], source.origin, data_version,
                               {str(c): str(t) for c, t in frame.dtypes.items()}, len(frame) + dropped))
    gh.info(f"aicd train: logged the run{' and registered ' + record.model_uri if record.version else ''} in "
            f"{time.monotonic() - logging_started:.2f} s")
    outputs = {"passed": str(passed).lower(), "run-id": record.run_id, "model-uri": record.model_uri,
               "model-version": record.version or "", "model-name": name, "metrics": _json(result.metrics),
               "reused": "false"}
    gh.set_outputs(outputs)
    gh.info(f"aicd train: fit {fit_seconds:.2f} s, everything else {time.monotonic() - started - fit_seconds:.2f} s")
    summary = render_summary(name, record, result, gate, slice_gate, comparisons, champion, data_version,
                             export if register else None, dropped, tags["aicd.data_source"])
    if signer and record.version:
        summary += f"\nSigned with OpenSSF model-signing (`model.sig`), key {md_code(signer.fingerprint)}.\n"
    gh.summary(summary)
    gh.comment(lambda links: comment_section(name, record, result, gate, slice_gate, comparisons, champion, links))
    if job:  # the step watching this Job shows it
        registry.log_summary(record.run_id, summary)
    if not passed:
        reasons = _gate_failures(gh, cfg, gate, slice_gate, comparisons, "warning" if register else "error")
        if not register:
            raise GateFailed(f"model gate failed: {'; '.join(reasons)}; nothing was registered", annotated=True)
        gh.annotate("warning", f"registered {record.model_uri} as `challenger` although the gate refused it "
                    "(on-failure: register): deploy it only as a canary", title="aicd model gate")
    return outputs


# imported on a thread while the model fits: the export, the model file and MLflow's flavour need them next
AFTER_FIT = ("onnxruntime", "skl2onnx", "skops.io", "mlflow.sklearn")
# imported on a thread from the step's start: the pipeline's parts (scikit-learn takes ~1 s to import, half
# of a warm step's start), while the data is hashed, the registry asked for a version and the rows read
FOR_FIT = ("sklearn.base", "sklearn.pipeline", "sklearn.compose", "sklearn.impute", "sklearn.preprocessing",
           "sklearn.model_selection", "aicd.dateparts", "aicd.levelcodes")


def _fit_modules(cfg: Config) -> tuple[str, ...]:
    """FOR_FIT, and the configured estimator's module when it is scikit-learn's (another package may not
    be installed yet: the gradient boosting libraries install on demand, before the fit)."""
    module = (cfg.model.estimator or "").rpartition(".")[0]
    return FOR_FIT + ((module,) if module.startswith("sklearn.") else ())


def _checked_against_data(frame, cfg: Config) -> Config:
    """What aicd.yml says about columns and classes, checked against the data before a long fit:
    ``model.drop-columns`` names columns of the data; a binary label has ``data.positive`` among
    its classes (``"true"`` matches a boolean True, ``"1"`` a 1: the config gets the data's own
    value); ``model.decision-threshold`` needs a binary label. Each mistake is a ConfigError at its line."""
    import difflib
    from dataclasses import replace

    columns = [str(c) for c in frame.columns]
    for name in cfg.model.drop_columns:
        if name not in columns:
            guess = difflib.get_close_matches(name, columns, n=1)
            raise ConfigError(f"`model.drop-columns`: `{name}` is not a column of the data",
                              file=cfg.file, line=cfg.line_of("model.drop-columns"),
                              hint=f"did you mean `{guess[0]}`?" if guess else f"columns: {', '.join(columns[:20])}")
    if cfg.model.task != "classification":
        return cfg
    classes = sorted((c.item() if hasattr(c, "item") else c for c in frame[cfg.data.label].dropna().unique()),
                     key=str)
    rule = cfg.model.decision_threshold
    if rule is not None and len(classes) != 2:
        raise ConfigError(f"`model.decision-threshold` needs a binary label; `{cfg.data.label}` has {len(classes)} "
                          "classes", file=cfg.file, line=cfg.line_of("model.decision-threshold"),
                          hint="remove it: a multi-class model answers with its most probable class")
    if len(classes) != 2:
        return cfg
    same = [c for c in classes if _label_text(c) == _label_text(cfg.data.positive)]
    if not same:
        shown = ", ".join(json.dumps(c, default=str) for c in classes)
        given = "1 (the default)" if "data.positive" not in cfg.lines else json.dumps(cfg.data.positive, default=str)
        raise ConfigError(f"`data.positive` is {given}, which is not a class of the label `{cfg.data.label}` "
                          f"(classes: {shown}): precision, recall and the decision threshold would be about "
                          "nothing", file=cfg.file, line=cfg.line_of("data.positive") or cfg.line_of("data.label"),
                          hint="set data.positive to the class that counts as positive (the rare one, usually)")
    return replace(cfg, data=replace(cfg.data, positive=same[0]))


def _label_text(value: object) -> str:
    """A class as text to match a configured one: true/True, 1/1.0/"1" are alike (aicd.decision.class_key,
    the server's comparison, without case)."""
    return class_key(value).strip().lower()


class _Profile:
    """The features' drift profile, computed on a thread from the moment the model is fitted, beside
    the holdout's evaluation and the ONNX export: it reads only the rows (quantiles and level counts,
    in numpy and Arrow, which release the GIL), never the model, so it is safe beside any model's
    prediction — on a million rows it was ~1 s of the step after the fit. Dates move on every run by
    nature, so they have none."""

    def __init__(self, frame, cfg: Config):
        self.frame, self.cfg = frame, cfg
        self._future: Future | None = None

    def start(self, feature_types: dict[str, str]) -> None:
        dates = [name for name, kind in feature_types.items() if kind == "datetime"]
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="aicd-profile")
        self._future = pool.submit(profile_frame, self.frame[list(feature_types)], self.cfg.data.drift.bins,
                                   exclude=dates, max_levels=self.cfg.model.max_levels)
        pool.shutdown(wait=False)

    def result(self) -> dict:
        if self._future is None:
            raise RuntimeError("the profile is taken once the model is fitted")
        return self._future.result()


def _drift_reference(frame, result: TrainResult, cfg: Config, gh: Actions) -> dict:
    """What the data gate needs beside the profile to judge drift against this model: each feature's
    permutation importance (the weight of its drift in the dataset's verdict) and the label's profile
    (label drift, judged apart)."""
    started = time.monotonic()
    importance = permutation_importance(result.model, result.holdout, result.features, cfg.data.label,
                                        cfg.model.task, seed=cfg.model.seed)
    gh.info(f"aicd train: permutation importance on {min(ROWS, result.n_test):,} holdout rows in "
            f"{time.monotonic() - started:.2f} s")
    label = cfg.data.label
    categorical = [label] if cfg.model.task == "classification" else []
    return {"importance": importance,
            "label_profile": profile_frame(frame[[label]], cfg.data.drift.bins, categorical=categorical)[label]}


def _data_version(inputs: Mapping[str, str]) -> str:
    """The given data-version (a content hash, a DVC or lakeFS revision ...): one short token."""
    given = (inputs.get("data-version") or "").strip()
    if given and not re.fullmatch(r"[A-Za-z0-9._:@+/=-]{1,128}", given):
        raise ConfigError(f"input `data-version`: {given[:60]!r} is not a version id",
                          hint="give the data-version output of action-validate (letters, digits and ._:@+/=- only)")
    return given


class _Export:
    """The ONNX export, started on a thread as soon as the model is fitted, so that it runs beside the
    holdout's evaluation: on two cores the export is mostly Python and the trees' prediction is not,
    and a million-row stage saves the seconds of one of them. It is computed for every fitted model
    and used only for one that is registered. The warm-up's imports finish before it starts, so no
    module is imported from two threads at once. A model from the user's ``model.entrypoint`` may not
    be safe to call from two threads: its export runs when it is asked for, after the evaluation."""

    def __init__(self, task: str, warmup: Warmup, beside: bool = True):
        self.task, self.warmup, self.beside = task, warmup, beside
        self._future: Future | None = None
        self._args: tuple = ()
        self.started = 0.0

    def start(self, model, holdout, feature_types: dict[str, str]) -> None:
        self.warmup.wait()
        self._args = (model, holdout, feature_types, self.task)
        if self.beside:
            self.started = time.monotonic()
            pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="aicd-export")
            self._future = pool.submit(export_onnx, *self._args)  # export_onnx never raises
            pool.shutdown(wait=False)

    def result(self) -> OnnxExport:
        if self._future is not None:
            return self._future.result()
        self.started = time.monotonic()
        return export_onnx(*self._args) if self._args else OnnxExport(None, None, "the model was not fitted here")


def _export(exporting: _Export, gh: Actions) -> OnnxExport:
    export = exporting.result()
    if export.blob is None:
        gh.annotate("notice", f"served by scikit-learn, not ONNX: {export.reason}", title="aicd serving runtime")
    else:
        where = ", beside the evaluation" if exporting.beside else ""
        gh.info(f"aicd train: ONNX export agrees on {export.agreement:.2%} of the holdout "
                f"({time.monotonic() - exporting.started:.2f} s{where})")
    return export


def _model_source(cfg: Config, env: Mapping[str, str]):
    """``("entrypoint", function)`` or ``("estimator", unfitted estimator)``, both checked."""
    if cfg.model.entrypoint:
        workdir = env.get("GITHUB_WORKSPACE") or os.getcwd()
        return "entrypoint", load_entrypoint(cfg.model.entrypoint, workdir, cfg.file, cfg.line_of("model.entrypoint"))
    ensure_boosting(cfg.model.estimator.split(".")[0], lambda text: print(f"aicd train: {text}", flush=True))
    return "estimator", build_estimator(cfg.model, cfg.file, cfg.lines)


def _fit(frame, cfg: Config, source, after_fit=None) -> TrainResult:
    kind, thing = source
    declared = tuple(c.name for c in cfg.data.columns if c.dtype == "category")  # never left out as ids
    try:
        if kind == "entrypoint":
            return train_and_evaluate(frame, cfg.data.label, cfg.model, entrypoint=thing, positive=cfg.data.positive,
                                      after_fit=after_fit)
        return train_and_evaluate(frame, cfg.data.label, cfg.model, thing, positive=cfg.data.positive,
                                  declared=declared, after_fit=after_fit)
    except ConfigError as exc:  # the fit refusing model.params: only the step knows where they are written
        exc.file, exc.line = cfg.file, cfg.line_of("model.params")
        raise


def _compare(registry: MlflowRegistry, name: str, result: TrainResult, cfg: Config,
             gh: Actions, data_version: str = "") -> tuple[list[Comparison], str | None]:
    """Paired bootstrap against ``@champion`` on this holdout; ([], None) for the first model."""
    version = registry.alias_version(name, "champion")
    if version is None:
        return [], None
    import tempfile

    from ..serve.model import load_sklearn

    with tempfile.TemporaryDirectory() as tmp:
        model_dir, meta = registry.fetch_model(f"models:/{name}/{version}", tmp)
        champion = load_sklearn(model_dir, meta["sha256"])
    features = list(meta["features"])
    missing = [f for f in features if f not in result.holdout.columns]
    if missing:
        gh.annotate("warning", f"champion version {version} needs columns this data lacks ({', '.join(missing)}); "
                    "gated on thresholds alone", title="aicd model gate")
        return [], version
    gh.info(f"aicd train: comparing with champion version {version} on the same {result.n_test} holdout rows")
    if meta.get("data_version") and meta.get("data_version") != data_version:
        gh.annotate("warning", f"champion version {version} was trained on data-version {meta['data_version']}, "
                    f"this run's is {data_version}: rows it learnt from may be in this holdout, which favours it "
                    "in the comparison", title="aicd model gate")
    label = cfg.data.label
    champion_eval = evaluate(champion, result.holdout[features], result.holdout[label],
                             cfg.model.task, cfg.data.positive, meta.get("decision_threshold"))
    c = cfg.model.compare
    metrics = list(c.metrics or cfg.model.thresholds or ["accuracy" if cfg.model.task == "classification" else "rmse"])
    return compare_models(result.evaluation, champion_eval, metrics, c.margin, c.require_improvement, c.resamples,
                          c.confidence, cfg.model.seed), version


def _reuse(registry: MlflowRegistry, record: ModelRecord, gh: Actions) -> dict[str, str]:
    failed = record.gate == "failed"  # registered anyway (on-failure: register, which is in its identity)
    alias = "challenger" if failed else "candidate"
    registry.set_alias(record.name, alias, record.version)
    metrics = registry.run_metrics(record.run_id)
    outputs = {"passed": "false" if failed else "true", "run-id": record.run_id, "model-uri": record.model_uri,
               "model-version": record.version, "model-name": record.name, "metrics": _json(metrics),
               "reused": "true"}
    gh.set_outputs(outputs)
    gh.info(f"aicd train: {record.model_uri} was trained from this commit, data-version and config; reused it")
    gh.summary(f"## ♻️ aicd model gate — reused\n\n**{record.model_uri}** (run {md_code(record.run_id)}) was already "
               f"trained and registered from this commit, data-version and config; alias `{alias}` points at it"
               + (" (it failed the gate and was registered anyway for a canary)." if failed else "."))
    gh.comment(lambda links: pr.Section("train", (
        f"#### ♻️ Model gate — reused\n\n{links.model_version(record.name, record.version)} "
        f"({links.mlflow_run(record.run_id)}) was already trained from this commit, data-version and config; "
        f"alias {pr.code(alias)} points at it.")))
    return outputs


def _gate_failures(gh: Actions, cfg: Config, gate, slice_gate, comparisons, level: str) -> list[str]:
    """Annotates each failed check where it is configured (at ``level``); returns them in words."""
    reasons = []
    for g in (g for g in gate if not g.passed):
        shown = f"{g.value:.4f}" if g.value == g.value else _unavailable(g.metric)
        gh.annotate(level, f"{g.metric} {shown} does not meet {g.direction} {g.threshold}",
                    file=cfg.file, line=cfg.line_of(f"model.thresholds.{g.metric}"), title="aicd model gate")
        reasons.append(f"{g.metric} {shown} (needs {g.direction} {g.threshold})")
    for s, gs in slice_gate:
        for g in (g for g in gs if not g.passed):
            reasons.append(f"{g.metric} {g.value:.4f} on {s.column}={s.value} (needs {g.direction} {g.threshold})")
            gh.annotate(level, f"slice {s.column}={s.value}: {reasons[-1]}", file=cfg.file,
                        line=cfg.line_of("model.slices"), title="aicd model gate")
    for c in (c for c in comparisons if not c.passed):
        need = "superior (lower bound > 0)" if c.require_improvement else f"lower bound >= -{c.margin}"
        reasons.append(f"{c.metric} vs champion: difference {c.difference:+.4f}, interval "
                       f"[{c.low:+.4f}, {c.high:+.4f}] (needs {need})")
        gh.annotate(level, reasons[-1], file=cfg.file, line=cfg.line_of("model.compare"), title="aicd model gate")
    return reasons


def _unavailable(metric: str) -> str:
    if metric in ("log_loss", "roc_auc"):
        return "not available (it needs class probabilities: the model has no predict_proba, or one class is " \
               "missing from the holdout)"
    return "not available (undefined for this model or holdout)"


def _retry_seconds(env: Mapping[str, str]) -> float:
    """How long transient MLflow errors are retried: AICD_MLFLOW_RETRY_SECONDS, default 60."""
    text = env.get("AICD_MLFLOW_RETRY_SECONDS", "60")
    try:
        value = float(text)
    except ValueError:
        value = -1
    if value < 0:
        raise ConfigError(f"AICD_MLFLOW_RETRY_SECONDS: {text!r} is not a number of seconds")
    return value


def _artifact_root(uri: str) -> str | None:
    """Keep a local sqlite store's artifacts beside its database instead of in ./mlruns."""
    if uri.startswith("sqlite:///"):
        return os.path.join(os.path.dirname(uri[len("sqlite:///"):]) or ".", "artifacts")
    return None


def _git_sha(env: Mapping[str, str]) -> str:
    return commit_of(env) or "unknown"


def _signing_key(inputs: Mapping[str, str], gh: Actions, cfg: Config) -> SigningKey | None:
    """The loaded model-signing-key (masked first), its package set installed; None when not given."""
    pem, password = inputs.get(PRIVATE_KEY_INPUT) or "", inputs.get(PASSWORD_INPUT) or ""
    for secret in (pem, password):
        if secret:
            gh.mask(secret)
    if not pem.strip():
        return None
    if cfg.model.runner == "kubernetes":
        raise ConfigError(f"`{PRIVATE_KEY_INPUT}` with model.runner: kubernetes: the training Job is not given the "
                          "key", file=cfg.file, hint="train with model.runner: local to sign the model")
    key = load_private_key(pem, password)
    ensure("signing", lambda text: gh.info(f"aicd train: {text}"))
    return key


def _tags(env: Mapping[str, str], data_version: str, cfg: Config, tenant: str, on_failure: str,
          signer: SigningKey | None = None) -> dict[str, str]:
    sha = _git_sha(env)
    # where the fit ran is not what was fitted: a Job's run and a local one share their identity
    model = replace(cfg.model, runner="local", kubernetes=TrainingKubernetesConfig())
    config_hash = hashlib.sha256(repr((cfg.data, model)).encode()).hexdigest()[:16]
    # a version registered in spite of the gate is only ever reused by runs that would register it too
    allow = "|register" if on_failure == "register" else ""
    # a signed run never reuses an unsigned version (or one signed by another key), nor the reverse
    signed = f"|{signer.fingerprint}" if signer else ""
    identity = hashlib.sha256(f"{sha}|{data_version}|{config_hash}|{tenant}{allow}{signed}".encode()).hexdigest()[:24]
    tags = {"aicd.data_version": data_version, "aicd.git_sha": sha, "mlflow.source.git.commit": sha,
            "aicd.config_hash": config_hash, "aicd.tenant": tenant, "aicd.identity": identity,
            **({"aicd.signed_by": signer.fingerprint} if signer else {})}
    if env.get("GITHUB_RUN_ID") and env.get("GITHUB_REPOSITORY"):
        server = env.get("GITHUB_SERVER_URL", "https://github.com")
        tags["aicd.workflow_run"] = f"{server}/{env['GITHUB_REPOSITORY']}/actions/runs/{env['GITHUB_RUN_ID']}"
    return tags


def _shown_source(source) -> str:
    """Where the rows came from, in one tag value: the URL or path (a query: its label on its server)."""
    origin = source.origin
    text = f"{origin['query']} on {origin['uri']}" if origin.get("kind") == "sql" else origin.get("uri") or source.spec
    return text[:500]


def _params(cfg: Config, result: TrainResult) -> dict:
    return {"estimator": cfg.model.entrypoint or cfg.model.estimator, **cfg.model.params, "seed": cfg.model.seed,
            "test_size": cfg.model.test_size, "split": cfg.model.split.kind, "n_train": result.n_train,
            "n_test": result.n_test}


def _meta(result: TrainResult, cfg: Config, data_version: str, export: OnnxExport) -> dict:
    example = result.holdout[result.features].dropna().head(1)
    return {"features": result.features, "feature_types": result.feature_types, "classes": result.classes,
            "label": cfg.data.label, "positive": cfg.data.positive, "task": cfg.model.task,
            "data_version": data_version, "metrics": result.metrics,
            "decision_threshold": result.evaluation.threshold,
            "runtime": "onnx" if export.blob else "sklearn", "onnx_agreement": export.agreement,
            "onnx_reason": export.reason,
            "example": json.loads(example.to_json(orient="records"))[0] if len(example) else {}}


def _json(metrics: Mapping[str, float]) -> str:
    clean = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in metrics.items()}
    return json.dumps(clean, sort_keys=True, separators=(",", ":"))


def render_summary(name: str, record: ModelRecord, result: TrainResult, gate: list[ThresholdResult], slice_gate,
                   comparisons: list[Comparison], champion: str | None, data_version: str,
                   export: OnnxExport | None = None, dropped: int = 0, data_source: str = "") -> str:
    passed = _passed(gate, slice_gate, comparisons)
    rows, versus = _gate_rows(result, gate, comparisons), _versus(result, comparisons, champion)
    head = (f"## {ICON[passed]} aicd model gate — {'passed' if passed else 'failed'}\n\n"
            f"model {md_code(name)} · run {md_code(record.run_id)} · data-version {md_code(data_version)}"
            + (f" from {md_code(data_source)}" if data_source else "") + "\n\n"
            + (_registered_line(record, passed) if record.version else "Nothing was registered.")
            + _runtime_line(export)
            + (f"\n\n{dropped:,} rows without a label were left out (allowed by `model.max-missing-label-ratio`)."
               if dropped else ""))
    parts = [head, f"### Gate\n\n{versus}\n\n" + table(GATE_HEADERS, rows)]
    if result.slices:
        parts.append("### Slices\n\n" + table(["slice", "rows", "metric", "value", "threshold", "verdict"],
                                               _slice_rows(result, slice_gate)))
    parts.append("### Holdout metrics\n\n" + table(["metric", "value"], [[k, v] for k, v in result.metrics.items()]))
    if result.evaluation.task == "classification" and result.classes:
        parts.append(_classes_section(result))
    if result.notes:
        parts.append("### Features and decisions\n\n" + "\n".join(f"- {_note_markdown(n)}" for n in result.notes))
    return "\n\n".join(parts)


def _passed(gate: list[ThresholdResult], slice_gate, comparisons: list[Comparison]) -> bool:
    return (all(g.passed for g in gate) and all(g.passed for _, gs in slice_gate for g in gs)
            and all(c.passed for c in comparisons))


def _gate_rows(result: TrainResult, gate: list[ThresholdResult], comparisons: list[Comparison]) -> list[list]:
    """One row per gated metric: the candidate's value, its threshold, the champion's value, the
    difference with its interval, and the verdict."""
    by_metric = {c.metric: c for c in comparisons}
    rows = []
    for metric in dict.fromkeys([*(g.metric for g in gate), *by_metric]):
        g = next((g for g in gate if g.metric == metric), None)
        c = by_metric.get(metric)
        verdicts = [x for x in (g.passed if g else None, c.passed if c else None) if x is not None]
        rows.append([metric, result.metrics.get(metric), f"{g.direction} {g.threshold}" if g else "",
                     c.champion if c else "", f"{c.difference:+.4f}" if c else "",
                     f"[{c.low:+.4f}, {c.high:+.4f}] {c.verdict}" if c else "", ICON[all(verdicts)]])
    return rows


GATE_HEADERS = ["metric", "candidate", "threshold", "champion", "difference", "interval", "verdict"]


def _versus(result: TrainResult, comparisons: list[Comparison], champion: str | None) -> str:
    if champion is None:
        return "No champion yet: gated on thresholds alone."
    if not comparisons:
        return f"Champion version {champion} could not be compared (different features): thresholds alone."
    c0 = comparisons[0]
    return (f"Compared with champion version {champion} on the same {result.n_test} holdout rows: paired "
            f"bootstrap, margin {c0.margin}{', improvement required' if c0.require_improvement else ''}.")


def comment_section(name: str, record: ModelRecord, result: TrainResult, gate: list[ThresholdResult], slice_gate,
                    comparisons: list[Comparison], champion: str | None, links: pr.Links) -> pr.Section:
    """The model gate's part of the pull-request comment: verdict, the MLflow run and registered
    version, metrics against thresholds and the champion (difference and interval), the confusion matrix."""
    passed = _passed(gate, slice_gate, comparisons)
    where = f"model {pr.code(name)} · {links.mlflow_run(record.run_id)}"
    if record.version:
        alias = "candidate" if passed else "challenger (registered although refused: a canary only)"
        where += f" · registered {links.model_version(name, record.version)} as {pr.code(alias)}"
    else:
        where += " · nothing was registered"
    failed_slices = sum(not g.passed for _, gs in slice_gate for g in gs)
    parts = [f"#### {ICON[passed]} Model gate — {'passed' if passed else 'failed'}", where,
             _versus(result, comparisons, champion), pr.table(GATE_HEADERS, _gate_rows(result, gate, comparisons))]
    if failed_slices:
        parts.append(f"{failed_slices} slice threshold(s) failed: the job summary lists them.")
    if result.evaluation.task == "classification" and result.classes:
        parts.append(_confusion(result))
    return pr.Section("train", "\n\n".join(parts))


def _confusion(result: TrainResult) -> str:
    """The holdout's confusion matrix (rows: actual, columns: predicted), at the server's threshold."""
    e, shown = result.evaluation, [str(c) for c in result.classes]
    matrix = confusion(e.y_true, e.y_pred, result.classes)
    at = f" at decision threshold {e.threshold:.4g}" if e.threshold is not None else ""
    return (f"Confusion matrix on the holdout{at} (rows: actual, columns: predicted)\n\n"
            + pr.table(["actual ↓ predicted →", *(pr.text(n) for n in shown)],
                            [[n, *counts] for n, counts in zip(shown, matrix, strict=True)]))


def _note_markdown(note: str) -> str:
    """A note's `column` spans as code spans (built by md_code, whatever the name holds), the rest
    escaped: column names come from the data."""
    parts = re.split(r"`([^`\n]*)`", note)
    return "".join(md_code(part) if i % 2 else md_escape(part) for i, part in enumerate(parts))


def _classes_section(result: TrainResult) -> str:
    """The confusion matrix of the holdout (rows: actual, columns: predicted) and each class's
    precision and recall, at the decision threshold the server applies."""
    e, classes = result.evaluation, result.classes
    shown = [str(c) for c in classes]
    matrix = confusion(e.y_true, e.y_pred, classes)
    rows = [[name, *counts] for name, counts in zip(shown, matrix, strict=True)]
    per = per_class(e.y_true, e.y_pred, classes)
    stats = [[name, round(v["precision"], 4), round(v["recall"], 4), v["support"]]
             for name, v in zip(shown, per.values(), strict=True)]
    at = f" at decision threshold {e.threshold:.4g}" if e.threshold is not None else ""
    return (f"### Classes on the holdout{at}\n\nConfusion matrix (rows: actual, columns: predicted)\n\n"
            + table(["actual ↓ predicted →", *(md_escape(name) for name in shown)], rows) + "\n\n"
            + table(["class", "precision", "recall", "rows"], stats))


def _registered_line(record: ModelRecord, passed: bool) -> str:
    if passed:
        return f"Registered **{record.model_uri}** with alias `candidate`."
    return (f"⚠️ The gate refused it; registered **{record.model_uri}** anyway, with alias `challenger` "
            "(on-failure: register): for a canary only — it is not `candidate`, and only the production gate "
            "can promote it. The failed checks are in the table below.")


def _runtime_line(export: OnnxExport | None) -> str:
    if export is None:
        return ""
    if export.blob is None:
        return f" Served by scikit-learn (no ONNX export: {export.reason})."
    return f" Served by onnxruntime (ONNX export agrees with scikit-learn on {export.agreement:.2%} of the holdout)."


def _slice_rows(result: TrainResult, slice_gate) -> list[list]:
    gated = {(s.column, s.value): gs for s, gs in slice_gate}
    main = "accuracy" if result.evaluation.task == "classification" else "rmse"
    rows = []
    for s in result.slices:
        name = f"{s.column}={s.value}"
        results = gated.get((s.column, s.value), [])
        rows += [[name, s.rows, g.metric, g.value, f"{g.direction} {g.threshold}", ICON[g.passed]] for g in results]
        if not results:
            note = "➖" if s.gated else "➖ fewer than min-rows, not gated"
            rows.append([name, s.rows, main, s.metrics.get(main), "", note])
    return rows
