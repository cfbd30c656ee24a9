"""Kept pull-request comment sections: keyed per tenant, titled with the tenant, gathered as data."""

import io
import json

from aicd.gha import Actions
from aicd.steps.prcomment.kept import Folder, gather, keep, summary_of, tenant_section
from aicd.steps.prcomment.render import Links, Section


def quiet():
    return Actions({}, io.StringIO())


def test_a_tenants_section_is_keyed_and_titled_with_the_tenant():
    section = tenant_section(Section("train", "#### ✅ Model gate — passed\n\n| a |"), "acme")
    assert section.key == "train.acme"
    assert section.body == "#### ✅ Model gate — passed · tenant `acme`\n\n| a |"
    assert tenant_section(Section("train", "plain"), "acme").body == "**tenant `acme`**\n\nplain"
    assert tenant_section(Section("train", "x"), "") == Section("train", "x")


def test_kept_sections_are_gathered_at_any_depth_by_key(tmp_path):
    for tenant in ("globex", "acme"):
        folder = Folder(str(tmp_path / f"aicd-tenant-{tenant}"), tenant, Links())
        assert keep(folder, tenant_section(Section("validate", f"#### {tenant}"), tenant), quiet())
    (tmp_path / "aicd-tenant-acme" / "result.json").write_text("{}")  # results are not sections
    sections = gather(str(tmp_path), quiet())
    assert [s.key for s in sections] == ["validate.acme", "validate.globex"]


def test_anything_else_in_the_folder_is_skipped_with_a_warning(tmp_path):
    bad = {"a.section.json": "not json", "b.section.json": json.dumps([1]),
           "c.section.json": json.dumps({"key": "Bad Key!", "body": "x"}),
           "d.section.json": json.dumps({"key": "train.acme", "body": 5})}
    for name, text in bad.items():
        (tmp_path / name).write_text(text)
    stream = io.StringIO()
    assert gather(str(tmp_path), Actions({"GITHUB_ACTIONS": "true"}, stream)) == []
    assert stream.getvalue().count("::warning") == 4
    assert gather(str(tmp_path / "absent"), quiet()) == []


def test_the_summary_lists_every_section_or_says_there_is_none():
    assert "No section was kept" in summary_of([])
    text = summary_of([Section("train.acme", "A"), Section("train.globex", "B")])
    assert text == "## aicd — tenants\n\nA\n\nB"
