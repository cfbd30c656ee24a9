"""``python -m aicd.serve``: run one model server in the foreground.

Every option has an environment default (``AICD_MODEL_DIR``, ``AICD_MODEL_SHA256``, ``AICD_PORT``
...), which is how the serving image passes what it was built with. Exit status 1 with a one-line
JSON error when the model fails its checksum or cannot be loaded: the server never starts on a
model it cannot vouch for. SIGTERM lets in-flight requests finish (up to ``--grace`` seconds).

The feedback token is never a flag (flags show in ``ps``): it comes from ``AICD_FEEDBACK_TOKEN``
or from the file named by ``AICD_FEEDBACK_TOKEN_FILE`` (a Docker or Kubernetes secret mount).
Without one the server starts, logs a warning, and refuses all feedback.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from ..errors import AicdError


def parse_args(argv: list[str] | None, env) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m aicd.serve", description=__doc__.splitlines()[0])
    option = _with_env(parser, env)
    option("--model-dir", "AICD_MODEL_DIR", "/model", "the model directory (aicd.json, model.onnx or model.skops)")
    option("--sha256", "AICD_MODEL_SHA256", None, "the checksum recorded in the registry for the served file")
    option("--runtime", "AICD_RUNTIME", "auto", "onnx, sklearn, or auto (ONNX when the model has an export)")
    option("--host", "AICD_HOST", "127.0.0.1", "address to listen on")
    option("--port", "AICD_PORT", "8080", "port to listen on")
    option("--variant", "AICD_VARIANT", "stable", "stable / canary / a / b: labels every metric")
    option("--model-name", "AICD_MODEL_NAME", "", "shown in the aicd_model_info metric")
    option("--model-version", "AICD_MODEL_VERSION", "", "shown in every response and metric")
    option("--run-id", "AICD_RUN_ID", "", "shown in the aicd_model_info metric")
    option("--grace", "AICD_GRACE_SECONDS", "10", "seconds in-flight requests get on SIGTERM")
    option("--shadow-model-dir", "AICD_SHADOW_MODEL_DIR", "", "a second model that scores every request unserved "
           "(usually the stable version, given to a canary), so labels compare both on the same requests")
    option("--shadow-sha256", "AICD_SHADOW_SHA256", "", "the checksum recorded in the registry for the shadow's file")
    option("--shadow-model-version", "AICD_SHADOW_MODEL_VERSION", "", "the shadow's version, as its metrics name it")
    parser.add_argument("--access-log", action="store_true", default=env.get("AICD_ACCESS_LOG") == "1",
                        help="log every request (errors are always logged)")
    parser.add_argument("--check", action="store_true",
                        help="verify and load the model, import everything serving needs, predict once, exit "
                             "(the image build runs this: a broken image fails to build, and it leaves "
                             "bytecode for exactly the modules the server imports)")
    args = parser.parse_args(argv)
    if not args.sha256:
        parser.error("--sha256 (or AICD_MODEL_SHA256) is required: the server only serves a verified model")
    if args.shadow_model_dir and not args.shadow_sha256:
        parser.error("--shadow-sha256 (or AICD_SHADOW_SHA256) is required with a shadow model: it is verified too")
    return args


def _with_env(parser: argparse.ArgumentParser, env):
    def option(flag: str, var: str, default: str | None, text: str) -> None:
        parser.add_argument(flag, default=env.get(var, default), help=f"{text} (env {var})")

    return option


def main(argv: list[str] | None = None, env=None) -> int:
    from .logs import JsonFormatter, log
    from .model import load_model_dir

    args = parse_args(argv, os.environ if env is None else env)
    try:
        model = load_model_dir(args.model_dir, args.sha256, args.runtime)
        shadow = load_model_dir(args.shadow_model_dir, args.shadow_sha256, args.runtime) if args.shadow_model_dir \
            else None
    except AicdError as exc:
        log("error", "refusing to start", error=str(exc))
        return 1
    model.meta.update(model_name=args.model_name or model.meta.get("model_name", ""),
                      model_version=args.model_version or model.meta.get("model_version", ""),
                      run_id=args.run_id or model.meta.get("run_id", ""))
    if shadow is not None:
        shadow.meta.update(model_version=args.shadow_model_version or shadow.meta.get("model_version", ""))
    import uvicorn

    from .app import create_app

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    logging.basicConfig(level=logging.WARNING, handlers=[handler], force=True)
    try:
        token = feedback_token(os.environ if env is None else env)
    except AicdError as exc:
        log("error", "refusing to start", error=str(exc))
        return 1
    if not token:
        log("warning", "no feedback token: POST /feedback is refused, so online accuracy cannot be measured",
            hint="set AICD_FEEDBACK_TOKEN or AICD_FEEDBACK_TOKEN_FILE")
    try:
        app = create_app(model, args.variant, access_log=args.access_log, feedback_token=token, shadow=shadow)
    except ValueError as exc:
        log("error", "refusing to start", error=str(exc))
        return 1
    config = uvicorn.Config(app, host=args.host, port=int(args.port), log_config=None, access_log=False,
                            lifespan="on", loop=_installed("uvloop", "asyncio"), http=_installed("httptools", "h11"),
                            timeout_graceful_shutdown=float(args.grace), server_header=False, date_header=False)
    if args.check:
        config.load()
        app.warm_up()
        log("info", "check passed", runtime=model.runtime, model_version=model.meta["model_version"])
        return 0
    log("info", "starting", host=args.host, port=int(args.port), runtime=model.runtime,
        model_version=model.meta["model_version"], variant=args.variant)
    uvicorn.Server(config).run()
    return 0


def feedback_token(env) -> str:
    """The bearer token /feedback requires: ``AICD_FEEDBACK_TOKEN``, else the contents of the file
    ``AICD_FEEDBACK_TOKEN_FILE`` names; empty when neither is set. Printable ASCII, no spaces."""
    token, path = env.get("AICD_FEEDBACK_TOKEN", ""), env.get("AICD_FEEDBACK_TOKEN_FILE", "")
    if not token and path:
        try:
            with open(path, encoding="utf-8") as fh:
                token = fh.read().strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise AicdError(f"cannot read the feedback token file: {exc}", file=path) from None
    token = token.strip()
    if token and not (token.isascii() and token.isprintable() and " " not in token):
        raise AicdError("the feedback token must be printable ASCII without spaces")
    return token


def _installed(module: str, fallback: str) -> str:
    import importlib.util

    return module if importlib.util.find_spec(module) else fallback


if __name__ == "__main__":
    sys.exit(main())
