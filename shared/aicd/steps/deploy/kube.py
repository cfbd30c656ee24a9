"""The kubernetes half of ``aicd deploy``: roll an image out (or promote, abort, roll back)."""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path

from ...deploy.kube.target import KubeTarget, Outcome, RolloutFailed
from ...deploy.naming import model_name_of
from ...gha import Actions, md_code
from ...provenance import commit_of
from ..summary import table
from ..targets import kube_target
from .docker import build_and_push
from .inputs import fetch, require_model_uri, revision_input, warn_no_feedback

__all__ = ["run_kubernetes"]


def run_kubernetes(inputs: Mapping[str, str], gh: Actions, env: Mapping[str, str], command: str) -> dict[str, str]:
    model_uri = require_model_uri(inputs)
    model_name = model_name_of(model_uri)
    target = kube_target(inputs, env, model_name, lambda text: gh.info(f"aicd deploy: {text}"))
    image, digest = inputs.get("image", ""), ""
    try:
        if command == "promote":
            outcome = target.promote()
        elif command == "abort":
            outcome = target.abort()
        elif command == "rollback":
            outcome = target.rollback(revision_input(inputs))
        else:
            with tempfile.TemporaryDirectory(prefix="aicd-deploy-") as tmp:
                model_dir, meta = fetch(inputs, env, Path(tmp) / "model")
                if not image:
                    built = build_and_push(inputs, env, gh, model_uri, model_dir, meta)
                    image, digest = built.reference, built.digest
            if inputs.get("feedback-token"):
                target.set_feedback_token(inputs["feedback-token"])
            else:
                warn_no_feedback(gh, f" (pods use the Secret {target.name}-feedback if an earlier deploy made one)")
            outcome = target.deploy(image, model_uri, str(meta["model_version"]), meta["run_id"],
                                    commit_of(env))
    except RolloutFailed as failed:
        if failed.outcome:
            _finish(gh, command, target, failed.outcome, digest, failed=str(failed))
        raise
    return _finish(gh, command, target, outcome, digest)


def _finish(gh: Actions, command: str, target: KubeTarget, outcome: Outcome, digest: str,
            failed: str = "") -> dict[str, str]:
    outputs = {"endpoint": target.endpoint, "revision": str(outcome.revision),
               "previous-revision": str(outcome.previous or ""), "model-version": outcome.model_version,
               "image": outcome.image, "digest": digest, "strategy-state": outcome.state}
    gh.set_outputs(outputs)
    history = target.status()["revisions"]
    rows = [[("▶ " if r["revision"] == outcome.revision else "") + str(r["revision"]), r["model_version"],
             r["image"], r["run_id"][:8], (r["commit"] or "")[:7]] for r in reversed(history)]
    head = "⏪ aicd release — rolled back" if failed else f"🚀 aicd release — {command} (kubernetes)"
    text = (f"## {head}\n\n{outcome.state}\n\nNamespace {md_code(target.namespace)}, Service **{target.endpoint}**, "
            f"strategy {md_code(target.cfg.strategy)}.")
    if failed:
        text += f"\n\n**Failed:** {failed}"
    if outcome.recovered_seconds is not None:
        text += f"\n\nThe previous revision was fully serving again {outcome.recovered_seconds:.1f} s after the " \
                "failure was detected."
    gh.summary(text + "\n\n### Revisions kept for rollback\n\n" +
               table(["revision", "model version", "image", "run", "commit"], rows))
    return outputs
