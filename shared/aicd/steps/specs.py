"""What each stage declares to the outside: description, inputs and outputs (no imports of the stages).

One table is the source of every action.yml, the README's action reference and the ``aicd`` CLI
flags; it lives apart from the stage code so the CLI can build its parser without importing
pandas, scikit-learn or MLflow."""

from __future__ import annotations

from dataclasses import replace

from ..config import STRATEGIES
from ..deploy.target import TARGETS
from ..monitor.modes import MODES
from . import Input, Output

# the sticky pull-request comment (aicd.steps.prcomment): every stage can fill its section
_GITHUB_TOKEN = Input("github-token", "Token for pr-comment (GITHUB_TOKEN with pull-requests: write)"
                      "{more}; masked.", "")
_PR_COMMENT = Input("pr-comment", "true: on pull_request and pull_request_target events, write this stage's "
                    "section of the one aicd comment on the pull request (needs github-token; a read-only token, as "
                    "a fork's pull request gets, is a notice and never fails the step).", "false",
                    choices=("false", "true"))
_COMMENT_DIR = Input("pr-comment-dir", "A folder: keep this stage's section of the comment there (as "
                     "<stage>.<tenant>.section.json, whatever the event, no token needed) instead of writing the pull "
                     "request, for one job after a matrix of tenants to write them all at once (aicd-tenants.yml "
                     "does: parallel tenants never race on the comment). Empty: pr-comment decides.", "")
_COMMENT_INPUTS = (_PR_COMMENT, replace(_GITHUB_TOKEN, help=_GITHUB_TOKEN.help.format(more="")), _COMMENT_DIR)
_MLFLOW_UI = Input("mlflow-ui-url", "pr-comment: base URL of the MLflow UI the comment links runs and model "
                   "versions to; empty uses an http(s) tracking URI.", "")

# act deletes a job's workspace when the job succeeds (aicd.under_act)
_UNDER_ACT = " Under act a relative path is taken in the act home, which outlives the job (README: act)."

_VALIDATE_DESCRIPTION = ("Data gate: schema, types, missing values, label balance, ranges, uniqueness, freshness "
                         "and drift.")
_VALIDATE_OUTPUTS = (
    Output("passed", "true when every data check passed (the step fails otherwise)."),
    Output("data-version", "Content hash of the data (16 hex digits): pass it to action-train."),
    Output("drift-score", "The drifted columns' share of the features' weight, 0 to 1 (their permutation importance "
           "stored with a models:/ reference, else each compared column weighs alike; 0 without a reference)."),
    Output("drifted-columns", "Feature columns that drifted, as a JSON list (the label is judged apart)."),
    Output("dataset-drifted", "true when drift-score reached data.drift.share (0.2 under method auto, 0.5 under "
           "evidently)."),
    Output("label-drifted", "true when the label column drifted, judged apart from the features at "
           "data.drift.label-threshold; false when it did not or could not be compared."),
    Output("report", "Path of the JSON report."),
    Output("html-report", "Path of the HTML report (reference-vs-current histograms of drifted columns)."),
)
DATA_SOURCES = ("a .csv, .parquet, .jsonl or .arrow file (optionally .gz/.zst) or a glob of partitions; an s3://, "
                "gs:// or az:// object or glob; a DVC-tracked path (pulled first); or a SQL query (a .sql file, or "
                "sql: SELECT ...) run on the database in $AICD_DATABASE_URL (data.sql.url-env).")
_VALIDATE_INPUTS = (
    Input("data", "Dataset to validate: " + DATA_SOURCES + " Empty uses data.source (a tenant's own, with "
          "`tenant`).", ""),
    Input("config", "Path to aicd.yml; empty uses the built-in defaults.", ""),
    Input("reference", "Reference for drift: any source `data` takes, or models:/<name>@<alias> for the profile "
          "stored with a registered model; overrides data.drift.reference.", ""),
    Input("tracking-uri", "MLflow tracking URI, for a models:/ reference; empty uses MLFLOW_TRACKING_URI.", ""),
    Input("report", "Where to write the JSON report (the HTML report goes beside it)." + _UNDER_ACT,
          "aicd-reports/validate.json"),
    Input("tenant", "Tenant id: reads aicd.yml with the tenant's overrides (tenants.<tenant>) merged in.", ""),
    *_COMMENT_INPUTS,
)

_TRAIN_DESCRIPTION = ("Model gate: train the configured scikit-learn model, gate it on holdout metrics and against the "
               "champion, register it in MLflow.")
_TRAIN_OUTPUTS = (
    Output("passed", "true when every threshold and the champion comparison passed (the step fails otherwise, "
           "unless on-failure: register)."),
    Output("run-id", "The MLflow run that recorded this training."),
    Output("model-uri", "models:/<name>/<version> of the registered version (alias candidate, or challenger with "
           "on-failure: register); empty when refused."),
    Output("model-version", "The registered version number; empty when refused."),
    Output("model-name", "The registered model name (tenant-qualified when a tenant is given)."),
    Output("metrics", "Holdout metrics as single-line JSON."),
    Output("reused", "true when this commit, data-version and config were already registered and reused."),
)
# where the cluster is: the deploy target, the monitor's rollback, and model.runner: kubernetes
_KUBERNETES_INPUTS = (
    Input("kubeconfig", "kubernetes (the target, or model.runner): kubeconfig file (exec plugins, OIDC, proxy-url "
          "as kubectl); empty uses KUBECONFIG, ~/.kube/config or, inside a cluster, the pod's service account.", ""),
    Input("namespace", "kubernetes (the target, or model.runner): namespace; empty uses aicd-<tenant>, else "
          "model.kubernetes.namespace (training) or deploy.kubernetes.namespace, else aicd.", ""),
)

_TRAIN_INPUTS = (
    Input("data", "Training dataset: " + DATA_SOURCES + " Empty uses data.source (a tenant's own, with "
          "`tenant`).", ""),
    Input("config", "Path to aicd.yml; empty uses the built-in defaults.", ""),
    Input("data-version", "The data-version output of action-validate; computed from the file when empty.", ""),
    Input("tracking-uri", "MLflow tracking URI (http(s)://... or sqlite:///path/mlflow.db); "
          "empty uses MLFLOW_TRACKING_URI.", ""),
    Input("model-name", "Registered model name; empty uses model.name from aicd.yml.", ""),
    Input("tenant", "Tenant id (lower-case letters, digits, '-'): namespaces the experiment and registered model "
          "as <tenant>__<name>, and reads aicd.yml with the tenant's overrides (tenants.<tenant>) merged in.", ""),
    Input("on-failure", "When the gate refuses the model: fail (nothing is registered, the step fails) or register "
          "(register it anyway with alias `challenger` and tag aicd.gate=failed, for a canary you mean to run: the "
          "step passes with passed=false and a warning per failed check; it never becomes `candidate`, and only "
          "the production gate's promote can make it champion).", "fail", choices=("fail", "register")),
    Input("model-signing-key", "An elliptic-curve private key in PEM (a secret, masked): sign the model's files with "
          "OpenSSF model-signing right before they are logged and registered; the signature (model.sig) travels "
          "with them and the version is tagged aicd.signed_by=<key fingerprint>. A key that does not load fails "
          "the step before training; empty: unsigned. Not with model.runner: kubernetes.", ""),
    Input("model-signing-key-password", "The password of an encrypted model-signing-key (masked).", ""),
    *_KUBERNETES_INPUTS,  # with model.runner: kubernetes, where the training Job runs
    *_COMMENT_INPUTS,
    _MLFLOW_UI,
)

_DEPLOY_DESCRIPTION = ("Release gate: build the model's serving image, push it, and roll it out (target local, "
                       "docker or kubernetes) with automatic rollback; promote or abort a canary; roll back.")
_DEPLOY_OUTPUTS = (
    Output("endpoint", "Stable base URL of the deployment (local: the serving revision's own URL)."),
    Output("revision", "Number of the revision now serving."),
    Output("previous-revision", "The revision a rollback would return to now (the running standby), after a deploy "
           "or a rollback; empty when no earlier revision is kept."),
    Output("model-version", "Registered model version now serving."),
    Output("image", "The serving image, <registry>/<image-name>:<model-version>-<short-sha> (docker target and "
           "command build)."),
    Output("digest", "The pushed image's registry digest (sha256:...); empty when nothing was pushed."),
    Output("sbom", "Path of the image's CycloneDX 1.5 SBOM, attested to it with cosign-key; empty when none was "
           "made."),
    Output("ready-seconds", "local, docker: seconds from starting the new revision (or waking a stopped one on "
           "rollback) to its first ready /readyz; about 0 for a rollback to the running standby."),
    Output("strategy-state", "kubernetes: where the rollout stands, e.g. `canary: revision 4 at 10 % (1 of 10 pods), "
           "step 1 of 3; promote or abort`."),
)
_DEPLOY_INPUTS = (
    Input("model-uri", "Model to deploy: models:/<name>/<version> or models:/<name>@<alias> "
          "(the model-uri output of action-train). Not needed for rollback or stop on local and docker; kubernetes "
          "finds the deployment by the model's name.", ""),
    Input("tracking-uri", "MLflow tracking URI; empty uses MLFLOW_TRACKING_URI.", ""),
    Input("target", "Where to deploy: local (a model-server process on this machine), docker (a container per "
          "revision behind a stable front container, on this machine's Docker engine) or kubernetes.", "local",
          choices=tuple(TARGETS)),
    Input("command", "deploy; build (build and push the image only); rollback (to the previous revision, or "
          "`revision`); stop (local, docker); promote / abort (kubernetes canary and ab).", "deploy",
          choices=("deploy", "build", "rollback", "stop", "promote", "abort")),
    Input("config", "Path to aicd.yml (its deploy section: keep-revisions, kubernetes); empty uses the defaults.",
          ""),
    *_KUBERNETES_INPUTS,
    Input("strategy", "kubernetes: rolling, canary, blue-green or ab; empty uses deploy.kubernetes.strategy. local "
          "and docker have no traffic split: one serving revision with a running standby (to compare two versions "
          "on local, deploy each with its own state-dir and give action-monitor baseline-endpoint and "
          "candidate-endpoint).", "", choices=STRATEGIES),
    Input("image", "docker, kubernetes: an image already built and pushed (e.g. by a command: build step); "
          "empty builds and pushes one.", ""),
    Input("revision", "rollback: the kept revision to return to (deploy.keep-revisions are kept; every revision "
          "above it is retired); empty means the previous one.", "", kind="revision"),
    Input("tenant", "Tenant id: deploys only the tenant's own models, into its own namespace; reads aicd.yml "
          "with the tenant's overrides.", ""),
    Input("state-dir", "Folder holding the local target's revisions, logs and state." + _UNDER_ACT, ".aicd/deploy"),
    Input("variant", "local, docker: the variant label this deployment's metrics carry — stable, or canary / a / "
          "b for a second deployment judged against it (docker: deployment <model>-<variant>, with its own "
          "listen; local: its own state-dir).", "stable", choices=("stable", "canary", "a", "b")),
    Input("model-signing-public-key", "The public half of action-train's model-signing-key, in PEM: verify the "
          "downloaded model's OpenSSF signature before anything is built or started; an unsigned or tampered "
          "model, or one signed by another key, fails the step and the previous revision keeps serving. Empty: "
          "no signature check (the server's checksum check stays either way).", ""),
    Input("shadow-model-uri", "local, docker: a second model that also scores every request, unserved — usually the "
          "stable one (models:/<name>@champion) given to a canary — so action-monitor compares their online "
          "accuracy on the same labelled requests (paired: a fraction of the labels). Costs one more "
          "prediction per request, after the answer is sent (docker: the model is built into the image, "
          "tagged ...-shadow<version>; kubernetes: not offered yet). Empty: none.", ""),
    Input("ready-timeout", "Seconds a new revision has to become ready before it is removed and the current one "
          "keeps serving.", "60", kind="seconds", positive=True),
    Input("observe-seconds", "docker: seconds a new revision is watched after taking traffic; if it fails its "
          "health check meanwhile, traffic switches back at once.", "10", kind="seconds"),
    Input("listen", "docker: host address:port of the stable endpoint (the front container).", "127.0.0.1:8080"),
    Input("base-image", "Python base image of the serving image (any image with python3 3.11-3.13).",
          "python:3.12-slim"),
    Input("registry", "Registry to push to, e.g. ghcr.io/my-org or 127.0.0.1:5000; empty builds a local image "
          "only.", ""),
    Input("image-name", "Image repository under the registry; empty uses the model name.", ""),
    Input("registry-username", "Registry user name (for ghcr.io: github.actor).", ""),
    Input("registry-password", "Registry password or token (for ghcr.io: secrets.GITHUB_TOKEN); masked.", ""),
    Input("cosign-key", "A cosign private key (PEM; a secret, masked): sign the pushed image by digest and attest "
          "its CycloneDX SBOM. Empty: no signing.", ""),
    Input("cosign-password", "Password of cosign-key (a secret, masked).", ""),
    Input("cosign-public-key", "docker, kubernetes: a cosign public key (PEM): the image's digest must carry a "
          "signature by it before anything is deployed. Empty: no verification.", ""),
    Input("cosign", "Path of the cosign binary, for cosign-key and cosign-public-key; empty uses cosign on PATH.", ""),
    Input("sbom", "Where the SBOM is written, with cosign-key." + _UNDER_ACT, "aicd-reports/sbom.cdx.json"),
    Input("feedback-token", "Bearer token the model server requires on POST /feedback (a secret, masked; "
          "printable ASCII). Without one the server refuses all feedback, so online accuracy cannot be measured. "
          "local: kept in state-dir for later revisions; docker: kept in the deployment's state volume (mode 0400, "
          "not in any container's environment) for later revisions; kubernetes: "
          "the Secret <name>-feedback.", ""),
    *_COMMENT_INPUTS,
    _MLFLOW_UI,
)

_MONITOR_DESCRIPTION = ("Production gate: read the model servers (directly or through Prometheus), judge the served "
                        "version, a canary or an A/B test, and decide promote, hold, rollback or retrain.")
_MONITOR_OUTPUTS = (
    Output("decision", "promote, hold, rollback or retrain (hold when production could not be read)."),
    Output("evidence", "Every check with values, difference, interval, threshold and verdict, as single-line JSON."),
    Output("rolled-back", "true when a rollback was carried out (on-failure: rollback on a rollback decision)."),
    Output("promoted", "The model URI made champion by on-success: promote; empty otherwise."),
    Output("retrain-dispatched", "true when on-drift: retrain sent the repository_dispatch event."),
    Output("report", "Path of the JSON evidence."),
)
_MONITOR_INPUTS = (
    Input("endpoint", "Read these model servers' /metrics directly (the endpoint output of action-deploy; several "
          "comma-separated, grouped by the variant label each server reports). Give this, prometheus-url, or "
          "baseline-endpoint with candidate-endpoint.", ""),
    Input("baseline-endpoint", "compare canary / ab: the model server(s) of the baseline side (stable, or a), read "
          "directly; every series they serve counts for that side, whatever variant label it carries. With "
          "candidate-endpoint.", ""),
    Input("candidate-endpoint", "compare canary / ab: the model server(s) of the side judged (canary, or b). With "
          "baseline-endpoint.", ""),
    Input("prometheus-url", "Read production from this Prometheus (HTTP API) instead of the servers.", ""),
    Input("prometheus-token", "Bearer token for Prometheus (masked).", ""),
    Input("prometheus-username", "Basic-auth user for Prometheus.", ""),
    Input("prometheus-password", "Basic-auth password for Prometheus (masked).", ""),
    Input("model", "Registered model name: only its series are read (needed when one Prometheus watches several "
          "models).", ""),
    Input("selector", "Extra PromQL label matchers for every query, e.g. namespace=\"aicd-acme\".", ""),
    Input("compare", "none (judge the served version), canary (canary against stable) or ab (variant b against a).",
          "none", choices=MODES),
    Input("config", "Path to aicd.yml (its monitor: section); empty uses the built-in defaults.", ""),
    Input("on-failure", "What to do on a rollback decision: fail (the step fails, nothing is touched), rollback "
          "(roll the deployment back, then fail the step) or report (report only, the step passes).", "fail",
          choices=("fail", "rollback", "report"),
          retired={"none": "a rollback decision now fails the step: use fail (the default: the step fails, nothing is "
                           "touched), rollback, or report (report only, the step passes)"}),
    Input("on-success", "What to do on a promote decision: none (report only) or promote (move the registry "
          "alias champion to the judged version).", "none", choices=("none", "promote")),
    Input("on-drift", "What to do on a retrain decision: none (report only) or retrain (send a repository_dispatch "
          "event to GitHub).", "none", choices=("none", "retrain")),
    replace(_GITHUB_TOKEN, help=_GITHUB_TOKEN.help.format(more=" and for on-drift: retrain (contents: write)")),
    Input("repository", "owner/name that receives the retrain event; empty uses the current repository.", ""),
    Input("retrain-event", "The repository_dispatch event type of on-drift: retrain.", "aicd-retrain"),
    Input("tracking-uri", "MLflow tracking URI, needed for on-success: promote; empty uses MLFLOW_TRACKING_URI.", ""),
    Input("tenant", "Tenant id: promotion may only touch this tenant's models; reads aicd.yml with the tenant's "
          "overrides.", ""),
    Input("target", "The deploy target to roll back: local, docker or kubernetes (as given to action-deploy).",
          "local", choices=tuple(TARGETS)),
    *_KUBERNETES_INPUTS,
    Input("state-dir", "The deploy state folder, used to roll back the local target." + _UNDER_ACT, ".aicd/deploy"),
    Input("report", "Where to write the JSON evidence." + _UNDER_ACT, "aicd-reports/monitor.json"),
    _PR_COMMENT,
    _COMMENT_DIR,
    _MLFLOW_UI,
)

SPECS = {
    "validate": (_VALIDATE_DESCRIPTION, _VALIDATE_INPUTS, _VALIDATE_OUTPUTS),
    "train": (_TRAIN_DESCRIPTION, _TRAIN_INPUTS, _TRAIN_OUTPUTS),
    "deploy": (_DEPLOY_DESCRIPTION, _DEPLOY_INPUTS, _DEPLOY_OUTPUTS),
    "monitor": (_MONITOR_DESCRIPTION, _MONITOR_INPUTS, _MONITOR_OUTPUTS),
}
