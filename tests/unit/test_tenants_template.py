"""aicd-tenants.yml read statically: what act cannot check (fail-fast, concurrency, permissions) and
what the template promises (every stage per tenant, one comment job after the matrix)."""

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / ".github/workflows/aicd-tenants.yml"
COMMENT_ACTION = ROOT / ".github/actions/pr-comment/action.yml"


def workflow() -> dict:
    return yaml.safe_load(TEMPLATE.read_text(encoding="utf-8"))


def stages(job: dict) -> dict[str, dict]:
    return {step["uses"].split("/")[-1].split("@")[0]: step for step in job["steps"]
            if step.get("uses", "").startswith("org/aicd/action-")}


def test_the_matrix_never_fails_fast_is_bounded_and_runs_every_stage_per_tenant():
    job = workflow()["jobs"]["tenant"]
    strategy = job["strategy"]
    assert strategy["fail-fast"] is False and strategy["max-parallel"] == "${{ inputs.max-parallel }}"
    assert strategy["matrix"] == {"tenant": "${{ fromJSON(inputs.tenants) }}"}
    steps = stages(job)
    assert sorted(steps) == ["action-deploy", "action-monitor", "action-train", "action-validate"]
    for name, step in steps.items():
        assert step["with"]["tenant"] == "${{ matrix.tenant }}", name
        assert step["with"]["pr-comment-dir"] == "${{ runner.temp }}/aicd-kept-${{ matrix.tenant }}", name
        assert "github-token" not in step["with"], name  # the tenant jobs never write the comment
    assert "${{ matrix.tenant }}" in job["concurrency"]["group"] and job["concurrency"]["cancel-in-progress"] is False


def test_tenant_jobs_read_only_and_one_job_after_them_comments():
    jobs = workflow()["jobs"]
    assert jobs["tenant"]["permissions"] == {"contents": "read"}
    comment = jobs["comment"]
    assert comment["needs"] == "tenant" and comment["if"] == "${{ !cancelled() }}"
    assert "strategy" not in comment
    uses = [step.get("uses", "") for step in comment["steps"]]
    assert "org/aicd/.github/actions/pr-comment@v1" in uses


def test_actions_are_pinned_and_no_expression_reaches_a_script():
    text = TEMPLATE.read_text(encoding="utf-8")
    for ref in re.findall(r"uses: ([\w.-]+/[\w./-]+@\S+)", text):
        assert ref.startswith("org/aicd/") or re.search(r"@[0-9a-f]{40}$", ref), ref
    for path in (TEMPLATE, COMMENT_ACTION):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        jobs = data.get("jobs", {}).values() if "jobs" in data else [data["runs"]]
        for job in jobs:
            for step in job.get("steps", []):
                assert "${{" not in step.get("run", ""), (path.name, step)


def run_results_step(tmp_path: Path, kept: dict[str, dict]) -> dict[str, str]:
    """The comment job's results script, run as the runner runs it, on tenants' kept result.json files."""
    import json
    import os
    import subprocess
    import sys

    (step,) = [s for s in workflow()["jobs"]["comment"]["steps"] if s.get("id") == "results"]
    for tenant, result in kept.items():
        (tmp_path / f"aicd-tenant-{tenant}").mkdir()
        (tmp_path / f"aicd-tenant-{tenant}" / "result.json").write_text(json.dumps({"tenant": tenant, **result}))
    output = tmp_path / "github_output"
    script = step["run"].split("<<'PY'\n", 1)[1].rsplit("PY", 1)[0]
    subprocess.run([sys.executable, "-c", script], check=True,
                   env={**os.environ, "KEPT": str(tmp_path), "GITHUB_OUTPUT": str(output)})
    return dict(line.split("=", 1) for line in output.read_text().splitlines())


def test_the_provenance_matrix_holds_each_pushed_image_by_repository_and_digest(tmp_path):
    import json

    digest = "sha256:" + "a" * 64
    out = run_results_step(tmp_path, {
        "acme": {"image": "registry.example.com:5000/team/acme__churn:v3", "digest": digest},
        "globex": {"image": "ghcr.io/org/globex@" + digest, "digest": digest},
        "initech": {"image": "", "digest": ""},  # its gate failed: nothing was pushed
        "hooli": {"image": "localhost:5000/hooli", "digest": digest},
    })
    assert json.loads(out["subjects"]) == [
        {"tenant": "acme", "name": "registry.example.com:5000/team/acme__churn", "digest": digest},
        {"tenant": "globex", "name": "ghcr.io/org/globex", "digest": digest},
        {"tenant": "hooli", "name": "localhost:5000/hooli", "digest": digest}]
    assert json.loads(out["results"])["initech"] == {"image": "", "digest": ""}


def test_the_provenance_job_runs_only_when_asked_and_never_under_act():
    jobs = workflow()["jobs"]
    job = jobs["provenance"]
    assert job["needs"] == "comment" and "subjects" in jobs["comment"]["outputs"]
    assert "inputs.attest-provenance" in job["if"] and "!github.event.act" in job["if"]
    assert "needs.comment.outputs.subjects != '[]'" in job["if"]
    # one tenant's failed gate fails the matrix job: a bare if: (success() of every job upstream) would skip
    # the others' attestations
    assert job["if"].startswith("${{ !cancelled() && needs.comment.result == 'success' && ")
    assert job["strategy"]["matrix"] == {"include": "${{ fromJSON(needs.comment.outputs.subjects) }}"}
    (attest,) = job["steps"]
    assert re.fullmatch(r"actions/attest-build-provenance@[0-9a-f]{40}", attest["uses"])
    assert attest["with"] == {"subject-name": "${{ matrix.name }}", "subject-digest": "${{ matrix.digest }}"}
