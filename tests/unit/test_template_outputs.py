"""The reusable templates keep the README's word: every output of the actions they run, under the
description the action gives it, listed in README.md as the template exposes it; and concurrency
groups that keep two runs from deploying, rolling back or promoting the same model at once."""

from __future__ import annotations

import re

import pytest
import yaml

from aicd.cli import STAGES
from tests.conftest import ROOT

WORKFLOWS = ROOT / ".github" / "workflows"
TEMPLATES = {"aicd-pipeline.yml": STAGES, "aicd-monitor.yml": ("monitor",)}
_JOB_OUTPUT = re.compile(r"\$\{\{ jobs\.([a-z-]+)\.outputs\.([a-z-]+) \}\}")
_STEP_OUTPUT = re.compile(r"\$\{\{ steps\.([a-z-]+)\.outputs\.([a-z-]+) \}\}")
_ACTION = re.compile(r"org/aicd/action-([a-z]+)@v1")


def workflow(name: str) -> dict:
    return yaml.safe_load((WORKFLOWS / name).read_text())


def action_outputs(stage: str) -> dict[str, str]:
    spec = yaml.safe_load((ROOT / f"action-{stage}" / "action.yml").read_text())
    return {name: body["description"] for name, body in spec["outputs"].items()}


def exposed(name: str) -> dict[str, tuple[str, str, str]]:
    """Each output of template ``name``: (stage, the action's output name, description), followed
    from the template's value through its job's output to the step and the action it uses."""
    wf = workflow(name)
    found = {}
    for out, body in wf[True]["workflow_call"]["outputs"].items():  # YAML 1.1 reads the key `on` as True
        job_name, job_out = _JOB_OUTPUT.fullmatch(body["value"]).groups()
        job = wf["jobs"][job_name]
        step_id, step_out = _STEP_OUTPUT.fullmatch(job["outputs"][job_out]).groups()
        (step,) = [s for s in job["steps"] if s.get("id") == step_id]
        found[out] = (_ACTION.fullmatch(step["uses"]).group(1), step_out, body["description"])
    return found


def readme_table(marker: str) -> list[list[str]]:
    """The rows (cells stripped, backticks dropped) of the first table after the line ``marker``."""
    lines = (ROOT / "README.md").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(marker))
    rows = []
    for line in lines[start + 1:]:
        if not line.startswith("|"):
            if rows:
                break
            continue
        cells = [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        if not set("".join(cells)) <= set("-"):
            rows.append(cells)
    return rows[1:]  # the header row


@pytest.mark.parametrize("template", TEMPLATES)
def test_every_action_output_is_exposed_once_with_the_actions_own_description(template):
    found = exposed(template)
    wanted = {(stage, out) for stage in TEMPLATES[template] for out in action_outputs(stage)}
    sources = [(stage, out) for stage, out, _ in found.values()]
    assert sorted(sources) == sorted(wanted), "missing: " + ", ".join(f"{s}.{o}" for s, o in wanted - set(sources))
    for name, (stage, out, description) in found.items():
        # the template may add what is true of it alone (e.g. when its gate is skipped), never change the meaning
        assert description.startswith(action_outputs(stage)[out]), name


@pytest.mark.parametrize("template", TEMPLATES)
def test_the_readme_lists_each_template_output_as_the_template_exposes_it(template):
    rows = readme_table(f"<!-- outputs of {template}")
    listed = {name.strip("`"): (source, description) for name, source, description in rows}
    assert len(listed) == len(rows), "an output is listed twice"
    want = {name: (f"`action-{stage}` `{out}`", description) for name, (stage, out, description) in
            exposed(template).items()}
    assert listed == want


@pytest.mark.parametrize("stage", STAGES)
def test_the_readme_action_reference_lists_every_action_output_with_its_description(stage):
    text = (ROOT / "README.md").read_text()
    section = text[text.index(f"### `action-{stage}`"):]
    rows = readme_table_in(section, "| output | description |")
    assert {name.strip("`"): description for name, description in rows} == action_outputs(stage)


def readme_table_in(text: str, header: str) -> list[list[str]]:
    block = text[text.index(header):].split("\n\n", 1)[0].splitlines()[2:]
    return [[c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line)[1:-1]] for line in block]


def test_the_readme_outputs_a_description_promises_are_true():
    pipeline = exposed("aicd-pipeline.yml")
    assert "share of the features' weight" in pipeline["drift-score"][2].lower()  # not a count of columns
    assert "retrain" in pipeline["decision"][2] and "retrain" in exposed("aicd-monitor.yml")["decision"][2]


# The jobs that change a deployment or the registry's champion, and what their group must name:
# the model (tenant-qualified) and the target, so that two runs for one model and target queue.
GUARDED = {
    ("aicd-pipeline.yml", "release"): ("needs.model-gate.outputs.model-name", "inputs.target"),
    ("aicd-monitor.yml", "monitor"): ("inputs.model", "inputs.target"),
    ("aicd-tenants.yml", "tenant"): ("matrix.tenant", "inputs.target"),  # a tenant's whole chain is one job
}


@pytest.mark.parametrize(("template", "job"), GUARDED)
def test_jobs_that_deploy_or_promote_queue_per_model_and_target_and_are_never_cancelled(template, job):
    body = workflow(template)["jobs"][job]
    concurrency = body["concurrency"]
    assert concurrency["cancel-in-progress"] is False
    for part in GUARDED[template, job]:
        assert part in concurrency["group"], part
    steps = {_ACTION.fullmatch(s["uses"]).group(1): s for s in body["steps"] if _ACTION.fullmatch(s.get("uses", ""))}
    targeted = [s for stage, s in steps.items() if stage in ("deploy", "monitor")]
    assert targeted and all(s["with"]["target"] == "${{ inputs.target }}" for s in targeted)  # the group's target


def test_the_release_group_names_the_model_the_release_deploys():
    wf = workflow("aicd-pipeline.yml")
    assert wf["jobs"]["model-gate"]["outputs"]["model-name"] == "${{ steps.train.outputs.model-name }}"
    deploy = next(s for s in wf["jobs"]["release"]["steps"] if s.get("id") == "deploy")
    assert deploy["with"]["model-uri"] == "${{ needs.model-gate.outputs.model-uri }}"


def test_every_job_that_deploys_or_monitors_in_any_workflow_is_guarded():
    for path in WORKFLOWS.glob("*.yml"):
        for name, job in yaml.safe_load(path.read_text())["jobs"].items():
            uses = {_ACTION.fullmatch(s.get("uses", "")) for s in job.get("steps", [])} - {None}
            if {m.group(1) for m in uses} & {"deploy", "monitor"}:
                assert (path.name, name) in GUARDED, f"{path.name}: job {name} deploys or monitors with no group"


def test_the_monitor_and_the_release_never_share_a_group():
    """GitHub cancels an older pending job of a group: a scheduled gate must never cancel a waiting release."""
    release = workflow("aicd-pipeline.yml")["jobs"]["release"]["concurrency"]["group"]
    monitor = workflow("aicd-monitor.yml")["jobs"]["monitor"]["concurrency"]["group"]
    assert release.split("${{")[0] != monitor.split("${{")[0]


def test_the_example_prints_every_pipeline_output_for_the_act_test_to_check():
    env = workflow("coffee-example.yml")["jobs"]["outputs"]["steps"][0]["env"]
    printed = {value.removeprefix("${{ needs.pipeline.outputs.").removesuffix(" }}") for value in env.values()}
    assert printed == set(exposed("aicd-pipeline.yml"))


def test_every_job_of_an_action_act_cannot_run_is_skipped_under_act():
    """act resolves every action of a job it starts; a job using one it cannot fetch offline must test
    ``github.event.act`` in its own ``if:`` (the act tests' event sets it), and nothing else may use one."""
    from tests.act_runner import NOT_RUN_UNDER_ACT

    seen = set()
    for path in WORKFLOWS.glob("*.yml"):
        for name, job in yaml.safe_load(path.read_text())["jobs"].items():
            actions = {s.get("uses", "").split("@")[0] for s in job.get("steps", [])}
            unfetchable = actions & NOT_RUN_UNDER_ACT - {"actions/checkout"}
            seen |= unfetchable
            if unfetchable:
                assert "!github.event.act" in str(job.get("if", "")), f"{path.name}: job {name} runs under act"
    assert seen == NOT_RUN_UNDER_ACT - {"actions/checkout"}  # the list names only actions still in use


def test_the_provenance_job_attests_the_pushed_image_by_digest_only_when_asked():
    job = workflow("aicd-pipeline.yml")["jobs"]["provenance"]
    assert "inputs.attest-provenance" in job["if"] and "needs.release.outputs.digest != ''" in job["if"]
    (attest,) = [s for s in job["steps"] if s.get("uses", "").startswith("actions/attest-build-provenance@")]
    assert re.fullmatch(r"actions/attest-build-provenance@[0-9a-f]{40}", attest["uses"])
    assert attest["with"]["subject-digest"] == "${{ needs.release.outputs.digest }}"


def test_the_provenance_subject_is_the_repository_without_tag_or_digest(tmp_path):
    """The pipeline's subject step, run by bash as the runner runs it: a registry's port is not a tag."""
    import subprocess

    (step,) = [s for s in workflow("aicd-pipeline.yml")["jobs"]["provenance"]["steps"] if s.get("id") == "subject"]
    digest = "sha256:" + "b" * 64
    cases = {"registry.example.com:5000/team/churn:v3": "registry.example.com:5000/team/churn",
             "localhost:5000/churn": "localhost:5000/churn", f"ghcr.io/org/churn@{digest}": "ghcr.io/org/churn",
             f"ghcr.io/org/churn:v1@{digest}": "ghcr.io/org/churn", "churn:1-abc": "churn"}
    for image, name in cases.items():
        output = tmp_path / "out"
        output.write_text("")
        subprocess.run(["bash", "-e", "-c", step["run"]], check=True,
                       env={"IMAGE": image, "GITHUB_OUTPUT": str(output)})
        assert output.read_text() == f"name={name}\n", image
