"""Parallel tenants and the one pull-request comment, against the strict fake of GitHub: each tenant's
stages keep their sections in a folder (pr-comment-dir) and send nothing; one `aicd comment` after
them writes every section in a single write."""

from __future__ import annotations

import json
from pathlib import Path

from aicd.examples.coffee import generate
from aicd.steps.prcomment.render import MARKER, parse
from tests.integration.test_pr_comment import aicd, ours, pr_env


def tenants_config(coffee, tmp_path) -> Path:
    good, bad = tmp_path / "acme.csv", tmp_path / "initech.csv"
    generate(800, seed=3).to_csv(good, index=False)
    generate(800, seed=4, missing={"avg_spend": 0.10}).to_csv(bad, index=False)
    path = tmp_path / "aicd.yml"
    path.write_text(Path(coffee["config"]).read_text(encoding="utf-8") + f"""
tenants:
  acme: {{data: {{source: {good}}}}}
  initech: {{data: {{source: {bad}}}}}
""", encoding="utf-8")
    return path


def keep(tenant, config, kept, tmp_path, env):
    """One tenant's data gate, keeping its section in the tenant's own folder (as one matrix job would)."""
    return aicd(["validate", "--config", str(config), "--tenant", tenant,
                 "--report", str(tmp_path / tenant / "validate.json"),
                 "--pr-comment-dir", str(kept / f"aicd-tenant-{tenant}")], env)


def test_tenants_keep_their_sections_and_one_job_writes_them_all_at_once(fake_github, coffee, tmp_path):
    env, kept, config = pr_env(fake_github, tmp_path), tmp_path / "kept", tenants_config(coffee, tmp_path)
    assert keep("acme", config, kept, tmp_path, env)[0] == 0
    status, log = keep("initech", config, kept, tmp_path, env)
    assert status == 1 and "avg_spend" in log  # its own data gate fails; its section is kept all the same
    assert fake_github.requests == []  # no tenant job touched the pull request
    files = sorted(p.relative_to(kept).as_posix() for p in kept.rglob("*.section.json"))
    assert files == ["aicd-tenant-acme/validate.acme.section.json", "aicd-tenant-initech/validate.initech.section.json"]

    (kept / "aicd-tenant-acme" / "junk.section.json").write_text("not json")  # skipped with a warning
    env = {**env, "AICD_GITHUB_TOKEN": fake_github.token}
    status, log = aicd(["comment", "--sections", str(kept), "--pr-comment", "true"], env)
    assert status == 0, log
    assert "aicd comment: 2 section(s) kept" in log and "skipped 'aicd-tenant-acme/junk.section.json'" in log
    (comment,) = ours(fake_github)
    assert [r.method for r in fake_github.requests] == ["GET", "POST"]  # one read, one write
    sections = parse(comment["body"])
    assert sorted(sections) == ["validate.acme", "validate.initech"]
    assert "Data gate — passed · tenant `acme`" in sections["validate.acme"][1]
    assert "tenant `initech`" in sections["validate.initech"][1] and "avg\\_spend" in sections["validate.initech"][1]
    summary = Path(env["GITHUB_STEP_SUMMARY"]).read_text(encoding="utf-8")
    assert "## aicd — tenants" in summary and "tenant `acme`" in summary and "tenant `initech`" in summary
    assert fake_github.violations == []
    assert comment["body"].startswith(MARKER)


def test_without_pr_comment_the_last_job_writes_the_summary_only(fake_github, coffee, tmp_path):
    env, kept, config = pr_env(fake_github, tmp_path), tmp_path / "kept", tenants_config(coffee, tmp_path)
    assert keep("acme", config, kept, tmp_path, env)[0] == 0
    status, log = aicd(["comment", "--sections", str(kept)], env)
    assert status == 0, log
    assert fake_github.requests == []
    assert "tenant `acme`" in Path(env["GITHUB_STEP_SUMMARY"]).read_text(encoding="utf-8")


def test_an_undeclared_tenant_is_refused_and_keeps_a_refusal_section(fake_github, coffee, tmp_path):
    env, kept, config = pr_env(fake_github, tmp_path), tmp_path / "kept", tenants_config(coffee, tmp_path)
    status, log = keep("umbrella", config, kept, tmp_path, env)
    assert status == 1
    errors = [line for line in log.splitlines() if line.startswith("::error")]
    assert len(errors) == 1 and "'umbrella' is not declared under `tenants:`" in errors[0], log
    (path,) = kept.rglob("*.section.json")
    section = json.loads(path.read_text(encoding="utf-8"))
    assert section["key"] == "validate.umbrella" and "refused" in section["body"]


def test_comment_without_a_folder_is_one_clear_line(fake_github, tmp_path):
    status, log = aicd(["comment"], pr_env(fake_github, tmp_path))
    assert status == 1 and "input `sections` is required (env AICD_SECTIONS)" in log


def test_a_bad_tenant_id_with_a_folder_is_refused_before_anything_is_kept(fake_github, coffee, tmp_path):
    env, kept, config = pr_env(fake_github, tmp_path), tmp_path / "kept", tenants_config(coffee, tmp_path)
    status, log = keep("../../etc", config, kept, tmp_path, env)
    assert status == 1 and "Traceback" not in log
    errors = [line for line in log.splitlines() if line.startswith("::error")]
    assert len(errors) == 1 and "is not a valid tenant id" in errors[0], log
    assert not kept.exists()
