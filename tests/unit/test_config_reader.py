"""The schema reader: keys come from dataclass fields, and every key is documented."""

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import pytest

from aicd.config import Config
from aicd.config.reader import Reader, Retired, key_paths, read_section, section_keys, setting
from aicd.errors import ConfigError

README = Path(__file__).resolve().parents[2] / "README.md"


@dataclass(frozen=True)
class Inner:
    depth: int = setting(3, low=1)


@dataclass(frozen=True)
class Sample:
    RETIRED: ClassVar[dict[str, Retired]] = {"old-name": Retired("renamed", lambda old: f"write new-name: {old}")}

    new_name: float = setting(0.5, low=0, high=1)
    label: str | None = setting(None, choices=("a", "b"))
    flag: bool = setting(False)
    inner: Inner = setting(factory=Inner)
    doubled: int = setting(2, key="twice", parse=lambda e: e.number(integer=True) * 2 if e.given else e.default)
    origin: str = field(default="")


def read(raw):
    return read_section(Reader("x.yml", {"s.twise": 7}), Sample, raw, "s", {"origin": "test"})


def test_keys_defaults_and_given_fields_come_from_the_dataclass():
    assert section_keys(Sample) == ["new-name", "label", "flag", "inner", "twice"]
    assert read(None) == Sample(origin="test")
    got = read({"new-name": 1, "label": "b", "flag": True, "inner": {"depth": 9}, "twice": 4})
    assert (got.new_name, got.label, got.flag, got.inner.depth, got.doubled) == (1, "b", True, 9, 8)


@pytest.mark.parametrize("raw,message", [
    ({"twise": 1}, "x.yml:7: `s.twise`: unknown key (did you mean `twice`?)"),
    ({"origin": "x"}, "`s.origin`: unknown key"),  # a field that is no key cannot be set from the file
    ({"old-name": 3}, "`s.old-name`: renamed (write new-name: 3)"),
    ({"new-name": 2}, "`s.new-name`: must be between 0 and 1, got 2"),
    ({"label": "c"}, "`s.label`: must be one of a, b, got 'c'"),
    ({"flag": "yes"}, "`s.flag`: must be true or false, got 'yes'"),
    ({"inner": {"depth": 0}}, "`s.inner.depth`: must be at least 1, got 0"),
    ({"inner": 3}, "`s.inner`: must be a mapping, got int"),
])
def test_each_mistake_is_one_line_naming_the_key(raw, message):
    with pytest.raises(ConfigError) as info:
        read(raw)
    assert message in str(info.value)


def test_a_field_of_a_type_the_reader_does_not_know_needs_its_own_parser():
    @dataclass(frozen=True)
    class Odd:
        things: dict = setting(factory=dict)

    with pytest.raises(TypeError, match="needs setting"):
        section_keys(Odd)


def documented(path: str, readme: str) -> bool:
    """The README names ``path`` in backticks, or a row of its reference table that starts with the
    key's section (or the list the section is an entry of) names the key."""
    parent, _, leaf = path.rpartition(".")
    if f"`{path}`" in readme:
        return True
    parents = {parent, parent.removesuffix(".<name>")}
    rows = [line for line in readme.splitlines() if any(line.startswith(f"| `{p}") for p in parents if p)]
    return any(re.search(rf"`\.?{re.escape(leaf)}\b", row) for row in rows)


def test_every_aicd_yml_key_is_in_the_readme():
    paths = key_paths(Config)
    leaves = [p for p in paths if not any(q.startswith(p + ".") for q in paths)]
    readme = README.read_text(encoding="utf-8")
    assert len(leaves) > 60
    assert [p for p in leaves if not documented(p, readme)] == []
