"""The ``aicd`` command: one subcommand per action entrypoint, plus ``demo``.

Every stage flag defaults to its ``AICD_*`` environment variable, which is how action.yml passes
inputs (the runner gives composite actions no ``INPUT_*`` variables).

Exit status: 0 passed; 1 a gate said no or the input is wrong (one line naming the file, key or
service, never a traceback); 2 the command line itself is wrong (argparse's usage line); 70
(``EX_SOFTWARE``) a bug in aicd: the traceback, then one line saying so; 130 interrupted. On the
runner the whole command runs inside :meth:`aicd.gha.Actions.fenced`, so only aicd's own
workflow commands are ever processed.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import traceback
from collections.abc import Sequence
from dataclasses import dataclass

from .errors import AicdError, ConfigError, GateFailed, UserError
from .gha import Actions, inert, md_code, md_escape
from .paths import check_writable, write_text
from .steps import env_name
from .urls import http_url

STAGES = ("validate", "train", "deploy", "monitor")
EXIT_BUG = 70  # EX_SOFTWARE (sysexits.h): an internal error, distinct from every "no" and every user error


def _stage_module(stage: str):
    from importlib import import_module

    return import_module(f"aicd.steps.{stage}")


def _inputs(stage: str):
    from .steps.specs import SPECS

    return SPECS[stage][1]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="aicd", description="CI/CD gates for code, models and data.")
    sub = parser.add_subparsers(dest="aicd_command", required=True)
    from .steps.specs import SPECS

    for stage in STAGES:
        description, inputs, _ = SPECS[stage]
        p = sub.add_parser(stage, help=description)
        for spec in inputs:
            p.add_argument(f"--{spec.name}", dest=spec.name, default=None,
                           help=f"{spec.help} (env {env_name(spec.name)})")
    demo = sub.add_parser("demo", help="run validate → train → deploy → monitor on the embedded coffee example")
    demo.add_argument("--workdir", default="aicd-demo", help="folder for all demo state (default ./aicd-demo)")
    demo.add_argument("--keep-running", action="store_true", help="leave the model server running at the end")
    example = sub.add_parser("example", help="write the coffee example dataset and aicd.yml to a folder")
    example.add_argument("out", help="target folder")
    example.add_argument("--rows", type=int, default=3000)
    example.add_argument("--seed", type=int, default=7)
    example.add_argument("--drift", type=float, default=0.0)
    image = sub.add_parser("image", help="build and push the training image for model.runner: kubernetes")
    image.add_argument("kind", choices=("train",), help="train: aicd with every locked dependency")
    image.add_argument("--registry", default="", help="where to push it (e.g. ghcr.io/acme); empty: a local image")
    image.add_argument("--base", default="python:3.12-slim", help="a Python base image (default python:3.12-slim)")
    image.add_argument("--image-name", default="aicd-train", help="the repository name (default aicd-train)")
    comment = sub.add_parser("comment", help="after a matrix of tenants: write the pull-request comment sections "
                             "its jobs kept (pr-comment-dir) into the one aicd comment, and into the job summary")
    comment.add_argument("--sections", default=None, help="the folder holding them, at any depth (env AICD_SECTIONS)")
    comment.add_argument("--pr-comment", default=None, help="true: write the comment on pull_request events, with "
                         "the token in AICD_GITHUB_TOKEN (env AICD_PR_COMMENT; default false: the summary only)")
    promote = sub.add_parser("promote", help="make a registered model version the champion")
    promote.add_argument("--model-uri", required=True, help="models:/<name>/<version> or models:/<name>@<alias>")
    promote.add_argument("--tracking-uri", default=None, help="MLflow tracking URI (default MLFLOW_TRACKING_URI)")
    promote.add_argument("--tenant", default="", help="the tenant whose model this is")
    lineage = sub.add_parser("lineage", help="which data made a model version, and where it served: "
                             "data → run → model → image → revisions")
    lineage.add_argument("model_uri", metavar="MODEL_URI", help="models:/<name>/<version> or models:/<name>@<alias>")
    lineage.add_argument("--tracking-uri", default=None, help="MLflow tracking URI (default MLFLOW_TRACKING_URI)")
    lineage.add_argument("--json", action="store_true", help="print it as JSON")
    alerts = sub.add_parser("alerts", help="write Prometheus alerting rules from aicd.yml's monitor thresholds")
    alerts.add_argument("--model", required=True, help="the model name (the `model` label of its metrics)")
    alerts.add_argument("--config", default=None, help="aicd.yml with the thresholds (default: built-in defaults)")
    alerts.add_argument("--for", dest="for_", default="5m", help="how long a condition holds before firing (5m)")
    alerts.add_argument("--window", default="", help="the range each rate, accuracy and drift is taken over "
                        "(default: monitor.window when it is a duration, else 5m)")
    alerts.add_argument("--selector", default="", help='extra label matchers, e.g. namespace="aicd-acme"')
    alerts.add_argument("-o", "--output", default=None, help="the rule file to write (default: standard output)")
    simulate = sub.add_parser("simulate", help="send simulated traffic and delayed feedback to an endpoint")
    simulate.add_argument("--endpoint", required=True)
    simulate.add_argument("--data", required=True)
    simulate.add_argument("--label", default="clicked")
    simulate.add_argument("--requests", type=int, default=500)
    simulate.add_argument("--flip-share", type=float, default=0.0, help="share of true labels to corrupt")
    simulate.add_argument("--feedback-token", default=None,
                          help="the deployment's feedback token (default AICD_FEEDBACK_TOKEN)")
    return parser


def stage_inputs(stage: str, args: argparse.Namespace, env: dict[str, str]) -> dict[str, str]:
    """Each declared input's text: the flag, else its ``AICD_*`` variable (defaults, types and
    required inputs are the stage's to apply: :func:`aicd.steps.read_inputs`)."""
    values = {}
    for spec in _inputs(stage):
        value = getattr(args, spec.name)
        values[spec.name] = value if value is not None else env.get(env_name(spec.name), "")
    return values


def main(argv: Sequence[str] | None = None, env: dict[str, str] | None = None) -> int:
    env = dict(os.environ) if env is None else env
    gh = Actions(env)
    with _one_stream(gh.on_runner), gh.fenced(), _terminate_is_interrupt():
        return run(argv, env, gh)


@contextlib.contextmanager
def _terminate_is_interrupt():
    """SIGTERM (a cancelled job, timeout-minutes, docker stop) unwinds like Ctrl-C: every cleanup runs
    — a deploy lock is released, a revision still being watched is switched back — and the exit is 130."""
    def interrupt(signum, frame):
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread (an embedding host): leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def _one_stream(on_runner: bool):
    """On the runner, stderr joins stdout's pipe for the step: the runner reads the two pipes in
    separate threads, so a line on stderr could otherwise be read in the instant the fence is
    open for one of aicd's own commands. In one pipe the log keeps the order of the writes."""
    if not on_runner:
        yield
        return
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(2)
    os.dup2(1, 2)
    try:
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


@dataclass
class _Step:
    """What the pull-request comment needs of a stage's run: where it goes (None: no comment) and the
    error that ended the stage, if one did."""

    target: object = None
    error: BaseException | None = None


def run(argv: Sequence[str] | None, env: dict[str, str], gh: Actions) -> int:
    """One ``aicd`` command with its runner I/O; the exit status as documented above. A stage with
    ``pr-comment: true`` then writes its section of the pull-request comment, which never changes the
    status."""
    args = build_parser().parse_args(argv)
    step = _Step()
    status = _command(args, env, gh, step)
    if step.target is not None and status != 130:  # an interrupted (cancelled) job reports nothing more
        _comment(args.aicd_command, step, gh)
    return status


def _comment(stage: str, step: _Step, gh: Actions) -> None:
    from .steps.prcomment import Folder, failure_section, outputs_section, publish
    from .steps.prcomment.kept import keep, tenant_section

    try:
        render = gh.comment_section
        section = render(step.target.links) if render else \
            failure_section(stage, step.error) if step.error else outputs_section(stage, gh.outputs)
    except Exception as exc:  # a bug in the report must not undo the gate's verdict
        traceback.print_exc()
        gh.annotate("warning", f"internal error rendering the pull-request comment ({type(exc).__name__}: {exc}): "
                    "a bug in aicd; please report it with the traceback above", title="aicd PR comment")
        return
    if isinstance(step.target, Folder):  # one job after the matrix writes every tenant's at once
        keep(step.target, tenant_section(section, step.target.tenant), gh)
    else:
        publish(step.target, [section], gh)


def _command(args: argparse.Namespace, env: dict[str, str], gh: Actions, step: _Step) -> int:
    gh.stage = args.aicd_command
    try:
        if args.aicd_command in STAGES:
            from .steps.prcomment import target_of

            raw = stage_inputs(args.aicd_command, args, env)
            step.target = target_of(raw, env, gh)  # a bad pr-comment input is refused before the stage runs
            outputs = _stage_module(args.aicd_command).run(raw, gh)
            if not env.get("AICD_TRAINING_JOB"):  # a training Job's outputs reach the step through MLflow
                _print_outputs(gh, outputs)
        elif args.aicd_command == "demo":
            from .demo import run_demo

            return run_demo(args.workdir, keep_running=args.keep_running)
        elif args.aicd_command == "example":
            from .demo import write_example

            write_example(args.out, rows=args.rows, seed=args.seed, drift=args.drift)
        elif args.aicd_command == "comment":
            _comment_kept(args, env, gh)
        elif args.aicd_command == "promote":
            from .registry import MlflowRegistry
            from .steps.promote import promote, summarize

            summarize(gh, *promote(MlflowRegistry(args.tracking_uri or env.get("MLFLOW_TRACKING_URI", "")),
                                   args.tenant, args.model_uri, gh))
        elif args.aicd_command == "image":
            _image(args, env, gh)
        elif args.aicd_command == "alerts":
            _alerts(args, env)
        elif args.aicd_command == "lineage":
            _lineage(args, env, gh)
        else:
            _simulate(args, gh)
    except GateFailed as exc:
        step.error = exc
        if exc.annotated:  # each failed check was already annotated where it is configured
            gh.info(f"aicd: {exc.message}")
        else:
            gh.annotate("error", exc.message, title=f"aicd {args.aicd_command}")
        return 1
    except AicdError as exc:
        step.error = exc
        message = f"{exc.message} ({exc.hint})" if exc.hint else exc.message
        gh.annotate("error", message, file=exc.file, line=exc.line, title=f"aicd {args.aicd_command}")
        if exc.summarized:
            pass
        elif isinstance(exc, UserError):  # refused before acting
            gh.summary(f"## ❌ aicd {args.aicd_command} — refused\n\n{md_escape(str(exc))}\n\nNothing was changed.")
        else:  # a service failed: the message says what happened (e.g. an automatic rollback)
            gh.summary(f"## ❌ aicd {args.aicd_command} — failed\n\n{md_escape(str(exc))}")
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # the one place a bug becomes its own exit status
        step.error = exc
        traceback.print_exc()
        gh.annotate("error", f"internal error ({type(exc).__name__}: {exc}): this is a bug in aicd, not in your "
                    "input; please report it with the traceback above", title=f"aicd {args.aicd_command}")
        return EXIT_BUG
    return 0


def _comment_kept(args: argparse.Namespace, env: dict[str, str], gh: Actions) -> None:
    """``aicd comment``: every kept section in one write (parallel tenants never race on the comment)."""
    from .steps.prcomment import publish, target_of
    from .steps.prcomment.kept import gather, summary_of

    folder = args.sections if args.sections is not None else env.get("AICD_SECTIONS", "")
    if not folder.strip():
        raise ConfigError("input `sections` is required (env AICD_SECTIONS)",
                          hint="the folder the tenants' pr-comment-dir sections were downloaded to")
    switch = args.pr_comment if args.pr_comment is not None else env.get("AICD_PR_COMMENT", "")
    target = target_of({"pr-comment": switch, "github-token": env.get("AICD_GITHUB_TOKEN", "")}, env, gh)
    sections = gather(folder, gh)
    gh.info(f"aicd comment: {len(sections)} section(s) kept under {folder}")
    gh.summary(summary_of(sections))
    if target is not None and sections:
        publish(target, sections, gh)


def _print_outputs(gh: Actions, outputs: dict) -> None:
    if gh.on_runner or not outputs:
        return
    print("outputs:")
    for name, value in outputs.items():
        print(inert(f"  {name} = {value}"))


def _lineage(args: argparse.Namespace, env: dict[str, str], gh: Actions) -> None:
    import json

    from .lineage import render
    from .registry import MlflowRegistry

    found = MlflowRegistry(args.tracking_uri or env.get("MLFLOW_TRACKING_URI", "")).lineage(args.model_uri)
    text = json.dumps(found.to_dict(), indent=1) + "\n" if args.json else render(found)
    sys.stdout.write("\n".join(inert(line) for line in text.splitlines()) + "\n")
    rows = "".join(f"- {md_escape(line)}\n" for line in render(found).splitlines())
    gh.summary(f"## aicd lineage of {md_code(found.model_uri)}\n\n{rows}")


def _image(args: argparse.Namespace, env: dict[str, str], gh: Actions) -> None:
    """``aicd image train``: registry credentials from AICD_REGISTRY_USERNAME / AICD_REGISTRY_PASSWORD
    (as action-deploy's inputs); prints the reference (with its digest once pushed) on the last line."""
    from .deploy.docker_target import docker_client
    from .deploy.image import Recipe
    from .deploy.toolkit import build_toolkit
    from .provenance import commit_of, source_of

    password = env.get("AICD_REGISTRY_PASSWORD", "")
    if password:
        gh.mask(password)
    recipe = Recipe(base=args.base, registry=args.registry, image_name=args.image_name,
                    username=env.get("AICD_REGISTRY_USERNAME", ""), password=password, commit=commit_of(env),
                    source=source_of(env))
    built = build_toolkit(docker_client(env.get("DOCKER_HOST", "")), recipe,
                          progress=lambda line: gh.info(f"aicd image: {line}"))
    gh.set_output("image", built.reference)
    print(inert(built.reference + (f"@{built.digest}" if built.digest else "")))


def _alerts(args: argparse.Namespace, env: dict[str, str]) -> None:
    from .config import load_config
    from .data.drift import METHODS
    from .monitor.alerts import alert_rules

    if not args.model or not args.model.isprintable() or len(args.model) > 200:
        raise ConfigError(f"--model: {args.model[:60]!r} is not a model name", hint="the registered model's name")
    monitor = load_config(args.config).monitor
    window = args.window or (monitor.window if monitor.window != "auto" else "5m")
    text = alert_rules(args.model, min_accuracy=monitor.min_accuracy, max_error_rate=monitor.max_error_rate,
                       max_latency_p95_ms=monitor.max_latency_p95_ms, drift_method=monitor.drift.method,
                       drift_threshold=monitor.drift.threshold, drift_min_samples=monitor.drift.min_samples,
                       window=window, for_=args.for_,
                       extra_selector=args.selector)
    if not METHODS[monitor.drift.method].promql:
        print(inert(f"aicd alerts: monitor.drift.method is {monitor.drift.method}, which PromQL cannot compute: the "
                    f"rules have no ModelFeatureDrift alert (use one of "
                    f"{', '.join(n for n, m in METHODS.items() if m.promql)} for one)"), file=sys.stderr)
    if not args.output:
        sys.stdout.write(text)
        return
    inputs = {"config": args.config or ""}
    write_text(check_writable(args.output, what="--output", env=env, inputs=inputs), text, "--output")


def _simulate(args: argparse.Namespace, gh: Actions) -> None:
    from .datasets import open_source, read_frame
    from .simulate import send_traffic

    token = args.feedback_token if args.feedback_token is not None else os.environ.get("AICD_FEEDBACK_TOKEN", "")
    if not 1 <= args.requests <= 1_000_000:
        raise ConfigError(f"--requests: {args.requests} is not between 1 and 1000000")
    if not 0 <= args.flip_share <= 1:  # NaN fails too
        raise ConfigError(f"--flip-share: {args.flip_share} is not a share between 0 and 1")
    frame = read_frame(open_source(args.data, mask=gh.mask))
    if args.label not in frame.columns:
        raise ConfigError(f"--label: column {args.label!r} is not in the data", file=args.data,
                          hint=f"columns: {', '.join(map(str, frame.columns))[:200]}")
    result = send_traffic(http_url(args.endpoint, "--endpoint"), frame, args.label, requests=args.requests,
                          flip_share=args.flip_share, feedback_token=token)
    gh.info(f"aicd simulate: {result.requests} requests ({result.failed} failed), {result.feedback} feedback")


if __name__ == "__main__":
    sys.exit(main())
