"""The action.yml files: generated from the stage tables, inputs only through env:, no expressions in run:."""

import re
import subprocess
import sys

import pytest
import yaml

from aicd.cli import STAGES
from aicd.steps import env_name
from aicd.steps.specs import SPECS
from tests.conftest import ROOT


def action(stage: str) -> dict:
    return yaml.safe_load((ROOT / f"action-{stage}" / "action.yml").read_text())


def test_generated_files_are_up_to_date():
    proc = subprocess.run([sys.executable, "scripts/gen_actions.py", "--check"], cwd=ROOT, capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("stage", STAGES)
def test_every_input_reaches_the_entrypoint_through_env_only(stage):
    spec = action(stage)
    (step,) = spec["runs"]["steps"]
    assert spec["runs"]["using"] == "composite"
    assert "${{" not in step["run"]
    assert step["env"] == {env_name(name): f"${{{{ inputs.{name} }}}}" for name in spec["inputs"]}
    assert list(spec["inputs"]) == [i.name for i in SPECS[stage][1]]


@pytest.mark.parametrize("stage", STAGES)
def test_inputs_and_outputs_are_documented_kebab_case(stage):
    spec = action(stage)
    for name, body in {**spec["inputs"], **spec["outputs"]}.items():
        assert re.fullmatch(r"[a-z]+(-[a-z]+)*", name), name
        assert len(body["description"]) > 10
    assert {o.name for o in SPECS[stage][2]} == set(spec["outputs"])


def test_no_workflow_puts_an_expression_inside_run():
    for path in (ROOT / ".github" / "workflows").glob("*.yml"):
        for job in yaml.safe_load(path.read_text())["jobs"].values():
            for step in job.get("steps", []):
                assert "${{" not in step.get("run", ""), f"{path.name}: {step.get('name')}"


def test_every_install_in_the_venv_script_is_hash_checked_and_uv_is_pinned_like_the_lock():
    script = (ROOT / "shared" / "bin" / "aicd-venv").read_text()
    installs = [line for line in script.replace("\\\n", " ").splitlines() if " install " in line]
    assert installs and all("--require-hashes" in line for line in installs), installs

    def uv_entry(lock: str) -> list[str]:
        lines = (ROOT / "requirements" / lock).read_text().splitlines()
        start = next(i for i, line in enumerate(lines) if line.startswith("uv=="))
        entry = [lines[start]]
        while entry[-1].endswith("\\"):
            entry.append(lines[start + len(entry)])
        return [part.strip(" \\") for part in entry]

    assert uv_entry("uv.lock") == uv_entry("aicd.lock") and len(uv_entry("uv.lock")) > 5
