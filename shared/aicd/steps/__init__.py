"""The four action entrypoints: read inputs, call the library, write outputs, summary and status.

Each ``run(inputs, gh)`` takes the stage's inputs as a mapping of kebab-case names (what the action
declares) and returns its outputs after writing them through :class:`aicd.gha.Actions`. The stages'
inputs and outputs are declared once, in :data:`aicd.steps.specs.SPECS` — the CLI flags, the ``AICD_*``
environment variables, the action.yml files and the README reference are all generated from (and
tested against) that one table.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Input", "Output", "env_name"]


@dataclass(frozen=True)
class Input:
    name: str
    help: str
    default: str = ""
    required: bool = False


@dataclass(frozen=True)
class Output:
    name: str
    help: str


def env_name(input_name: str) -> str:
    """``model-uri`` -> ``AICD_MODEL_URI``: the variable action.yml maps each input to."""
    return "AICD_" + input_name.upper().replace("-", "_")
