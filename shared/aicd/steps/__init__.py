"""The four action entrypoints: read inputs, call the library, write outputs, summary and status.

Each ``run(inputs, gh)`` takes the stage's inputs as a mapping of kebab-case names (what the action
declares) and returns its outputs after writing them through :class:`aicd.gha.Actions`. The stages'
inputs and outputs are declared once, in :data:`aicd.steps.specs.SPECS` — the CLI flags, the ``AICD_*``
environment variables, the action.yml files and the README reference are all generated from (and
tested against) that one table.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from ..errors import ConfigError

__all__ = ["Input", "Inputs", "Output", "env_name", "read_inputs"]


@dataclass(frozen=True)
class Input:
    """One declared input: its default, the values it may take, and how its text is read.

    ``kind``: ``text`` (as given), ``seconds`` (a number of seconds, 0 to 86400; ``positive`` refuses
    0), ``revision`` (a revision number, or None when empty). ``choices``: the values allowed (empty:
    any). ``retired``: values no longer accepted, each with what to use instead."""

    name: str
    help: str
    default: str = ""
    required: bool = False
    choices: tuple[str, ...] = ()
    kind: str = "text"
    positive: bool = False
    retired: Mapping[str, str] = field(default_factory=dict)

    @property
    def attr(self) -> str:
        return self.name.replace("-", "_")

    def read(self, text: str) -> object:
        """The input's value from its text (already stripped, the default applied): ConfigError naming
        the input when it is not one this input takes."""
        if self.required and not text:
            raise ConfigError(f"input `{self.name}` is required",
                              hint=f"pass --{self.name} or set {env_name(self.name)} (action input `{self.name}`)")
        if text in self.retired:
            raise ConfigError(f"input `{self.name}`: {text} is no longer accepted", hint=self.retired[text])
        if self.choices and text and text not in self.choices:
            raise ConfigError(f"input `{self.name}`: {text!r} is not one of {', '.join(self.choices)}")
        return _KINDS[self.kind](self, text)


@dataclass(frozen=True)
class Output:
    name: str
    help: str


class Inputs(Mapping[str, object]):
    """A stage's inputs, read once against its declarations: every declared input present (its
    default when not given), typed by its ``kind``, frozen. ``inputs["state-dir"]`` and
    ``inputs.state_dir`` are the same value."""

    def __init__(self, values: Mapping[str, object]):
        object.__setattr__(self, "_values", dict(values))

    def __getitem__(self, name: str) -> object:
        return self._values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __getattr__(self, attr: str) -> object:
        try:
            return self._values[attr.replace("_", "-")]
        except KeyError:
            raise AttributeError(attr) from None

    def __setattr__(self, attr: str, value: object) -> None:
        raise AttributeError("stage inputs are read-only")

    def with_values(self, **values: object) -> Inputs:
        """A copy with some inputs replaced (``model_uri=...``)."""
        return Inputs({**self._values, **{k.replace("_", "-"): v for k, v in values.items()}})


def read_inputs(declared: tuple[Input, ...], raw: Mapping[str, object]) -> Inputs:
    """The stage's :class:`Inputs` from raw text values (a CLI's flags and ``AICD_*`` variables, or a
    caller's mapping): missing or empty ones take their default. An :class:`Inputs` passes as it is."""
    if isinstance(raw, Inputs):
        return raw
    values = {}
    for spec in declared:
        given = raw.get(spec.name)
        text = given.strip() if isinstance(given, str) else "" if given is None else str(given)
        values[spec.name] = spec.read(text or spec.default)
    return Inputs(values)


def _seconds(spec: Input, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 <= value <= 86_400 or (spec.positive and value == 0):  # NaN fails the comparison too
        low = "above 0" if spec.positive else "from 0"
        raise ConfigError(f"input `{spec.name}`: {text!r} is not a number of seconds {low} up to 86400")
    return value


def _revision(spec: Input, text: str) -> int | None:
    if not text:
        return None
    if not text.isdigit() or int(text) < 1:
        raise ConfigError(f"input `{spec.name}`: {text!r} is not a revision number",
                          hint="e.g. 3, or empty for the previous revision")
    return int(text)


_KINDS = {"text": lambda spec, text: text, "seconds": _seconds, "revision": _revision}


def env_name(input_name: str) -> str:
    """``model-uri`` -> ``AICD_MODEL_URI``: the variable action.yml maps each input to."""
    return "AICD_" + input_name.upper().replace("-", "_")
