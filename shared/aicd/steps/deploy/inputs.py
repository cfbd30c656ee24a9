"""The deploy stage's inputs, read and checked once for every target (the local, docker and kubernetes halves)."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path

from ...deploy.naming import model_name_of
from ...errors import ConfigError
from ...gha import Actions
from ...installs import ensure
from ...registry import DOWNLOADER_FILES, MlflowRegistry
from ...signing import PUBLIC_KEY_INPUT, load_public_key, verify_dir
from ..targets import check_owner

__all__ = ["check_owner", "fetch", "fetch_shadow", "require_model_uri", "shadow_uri", "warn_no_feedback"]


def warn_no_feedback(gh: Actions, where: str = "") -> None:
    """A deploy without a feedback token is allowed (predictions work), but the gate goes blind."""
    gh.annotate("warning", f"no `feedback-token`{where}: the model server refuses POST /feedback, so the "
                "production gate cannot measure online accuracy; pass a secret as `feedback-token`",
                title="aicd deploy")


def require_model_uri(inputs: Mapping[str, str]) -> str:
    """The `model-uri` input, of a model the `tenant` input may deploy."""
    if not inputs.get("model-uri"):
        raise ConfigError("input `model-uri` is required to deploy", hint="pass the model-uri output of action-train")
    check_owner(inputs, model_name_of(inputs["model-uri"]))
    return inputs["model-uri"]


def fetch(inputs: Mapping[str, str], env: Mapping[str, str], dest: Path,
          say: Callable[[str], None] = lambda text: None) -> tuple[Path, dict]:
    """The model to serve, downloaded to ``dest`` and checked: its checksums, and with
    `model-signing-public-key` its OpenSSF signature — all before anything is built or started."""
    public_pem = inputs.get(PUBLIC_KEY_INPUT) or ""
    if public_pem.strip() and inputs.get("image"):  # the image serves its own copy, not the one checked here
        raise ConfigError(f"input `{PUBLIC_KEY_INPUT}` verifies the model this step builds into its image; "
                          "`image` was built elsewhere", hint=f"give {PUBLIC_KEY_INPUT} to the step that builds "
                          "the image (command: build), or leave `image` empty here")
    if public_pem.strip():
        load_public_key(public_pem)  # a bad key fails before the download
        ensure("signing", say)
    registry = MlflowRegistry(inputs.get("tracking-uri") or env.get("MLFLOW_TRACKING_URI", ""))
    model_dir, meta = registry.fetch_model(require_model_uri(inputs), dest)
    if public_pem.strip():
        started = time.monotonic()
        signer = verify_dir(model_dir, public_pem, f"models:/{meta['model_name']}/{meta['model_version']}",
                            DOWNLOADER_FILES)
        say(f"signature verified (key {signer}) in {time.monotonic() - started:.2f} s")
    return model_dir, meta


def shadow_uri(inputs: Mapping[str, str]) -> str:
    """The `shadow-model-uri` input ("" without one): a registry URI of a model the tenant owns —
    checked before anything is fetched or started."""
    uri = inputs.get("shadow-model-uri") or ""
    if uri and not uri.startswith("models:/"):
        raise ConfigError(f"input `shadow-model-uri`: {uri!r} is not models:/<name>/<version> or "
                          "models:/<name>@<alias>", hint="give the stable model's registry URI, e.g. "
                          "models:/<name>@champion")
    if uri:
        check_owner(inputs, model_name_of(uri))
    return uri


def fetch_shadow(inputs: Mapping[str, str], env: Mapping[str, str], gh: Actions, dest: Path,
                 served: dict) -> tuple[str, Path, dict] | None:
    """The shadow model fetched to ``dest`` — (uri, directory, metadata), None without one — after
    checking it can score what the served model is sent (ConfigError before anything starts)."""
    uri = shadow_uri(inputs)
    if not uri:
        return None
    gh.info(f"aicd deploy: fetching the shadow model {uri}")
    registry = MlflowRegistry(inputs.get("tracking-uri") or env.get("MLFLOW_TRACKING_URI", ""))
    directory, shadow = registry.fetch_model(uri, dest)
    public_pem = inputs.get(PUBLIC_KEY_INPUT) or ""
    if public_pem.strip():  # the shadow scores every request beside the served model: held to the same key
        verify_dir(directory, public_pem, f"models:/{shadow['model_name']}/{shadow['model_version']}",
                   DOWNLOADER_FILES)
    missing = [f for f in shadow["features"] if f not in served["features"]]
    if missing:
        raise ConfigError(f"input `shadow-model-uri`: {uri} needs features the served model is not sent: "
                          f"{', '.join(missing)}", hint="a shadow scores the served model's requests: give a "
                          "version trained on the same features (usually the stable one)")
    if str(shadow["model_version"]) == str(served["model_version"]) and shadow["model_name"] == served["model_name"]:
        gh.annotate("warning", f"the shadow is the served model itself (version {served['model_version']}): "
                    "every pair agrees, so the paired comparison says nothing", title="aicd deploy")
    if inputs["variant"] == "stable":
        gh.annotate("warning", "a shadow on the stable variant is never compared: action-monitor pairs the "
                    "candidate's labels (variant canary or b) with its shadow", title="aicd deploy")
    return uri, directory, shadow
