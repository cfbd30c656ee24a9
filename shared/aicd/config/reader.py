"""Reading aicd.yml: YAML with the line of every key, and sections read from their dataclasses.

A section is a frozen dataclass; each of its fields declares one key. The key is the field's name
in kebab-case (``max_missing_ratio`` is ``max-missing-ratio``) unless :func:`setting` names it,
the field's type says how it is read (``int``, ``float``, ``str``, ``bool``, ``tuple[str, ...]``
or another section; ``X | None`` for optional ones), :func:`setting` adds bounds, choices or a
parser of its own, and the field's default is the default. :func:`read_section` derives the
allowed keys from those fields, so a key is spelled once: in its field. A field declared with
plain ``field()`` is no key; the caller fills it in (a column's name, the file's lines).

Every mistake is a :class:`~aicd.errors.ConfigError` naming the file, the line and the dotted key
path, with a "did you mean" for an unknown key.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import math
import types
import typing
from collections import ChainMap
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from ..errors import ConfigError

__all__ = ["ABSENT", "Entry", "Reader", "Retired", "compose", "key_of", "read_section", "section_keys", "setting"]

ABSENT: Any = type("Absent", (), {"__repr__": lambda self: "ABSENT"})()  # not in the file; None is a null
META = "aicd"


@dataclass(frozen=True)
class Setting:
    """How one field is read: its key (None: from the field name), bounds, choices, parser."""

    key: str | None = None
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()
    parse: Callable[[Entry], Any] | None = None


def setting(default: Any = dataclasses.MISSING, *, factory: Callable[[], Any] | None = None, key: str | None = None,
            low: float | None = None, high: float | None = None, choices: tuple[str, ...] = (),
            parse: Callable[[Entry], Any] | None = None) -> Any:
    """A dataclass field that is a key of its section. ``parse`` reads the key itself from an
    :class:`Entry` (and is called when the key is absent too, to compute a default)."""
    meta = {META: Setting(key, low, high, tuple(choices), parse)}
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


class Reader:
    """The file being read: its name, the line of every dotted key path and, when a section is read
    from a merged view (a tenant's overrides over the defaults), the path under which each merged-in
    key is written in the file, so errors name the key where the user wrote it."""

    def __init__(self, file: str, lines: Mapping[str, int], written: Mapping[str, str] | None = None):
        self.file, self.lines, self.written = file, lines, written or {}

    def fail(self, path: str, message: str, hint: str = "") -> ConfigError:
        return ConfigError(f"`{self.written.get(path, path)}`: {message}", file=self.file, line=self.lines.get(path),
                           hint=hint)

    def mapping(self, value: Any, path: str, allowed: set[str] | None = None) -> dict[str, Any]:
        """``value`` as a mapping (None is an empty one) whose keys are all in ``allowed``."""
        if value is None or value is ABSENT:
            return {}
        if not isinstance(value, dict):
            raise self.fail(path or "(top level)", f"must be a mapping, got {kind_of(value)}")
        for key in value:
            if allowed is not None and key not in allowed:
                guess = difflib.get_close_matches(str(key), sorted(allowed), n=1)
                hint = f"did you mean `{guess[0]}`?" if guess else f"known keys: {', '.join(sorted(allowed))}"
                raise self.fail(join(path, key), "unknown key", hint)
        return value


@dataclass(frozen=True)
class Entry:
    """One key being read: where it is, what the file gives (``ABSENT`` if nothing), the field's
    default, and what was read before it (this section's earlier fields, then the enclosing
    sections'), by field name."""

    reader: Reader
    path: str
    value: Any
    default: Any
    read: Mapping[str, Any]
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()

    @property
    def given(self) -> bool:
        """Whether the file sets this key to something other than null."""
        return self.value is not ABSENT and self.value is not None

    def fail(self, message: str, hint: str = "", path: str = "") -> ConfigError:
        return self.reader.fail(path or self.path, message, hint)

    def line(self, path: str = "") -> int | None:
        return self.reader.lines.get(path or self.path)

    def number(self, integer: bool = False) -> Any:
        if not self.given:
            return self.default
        value = self.value
        ok = isinstance(value, int) if integer else isinstance(value, (int, float))
        if isinstance(value, bool) or not ok:
            raise self.fail(f"must be {'an integer' if integer else 'a number'}, got {kind_of(value)} {value!r}")
        if not math.isfinite(value):  # .nan compares false with everything: it would switch the rule off
            raise self.fail(f"must be a finite number, got {value!r}")
        low, high = self.low, self.high
        if (low is not None and value < low) or (high is not None and value > high):
            bounds = f"between {low} and {high}" if low is not None and high is not None else \
                f"at least {low}" if low is not None else f"at most {high}"
            raise self.fail(f"must be {bounds}, got {value}")
        return value

    def text(self) -> Any:
        if not self.given:
            return self.default
        if not isinstance(self.value, str):
            raise self.fail(f"must be a string, got {kind_of(self.value)} {self.value!r}")
        if self.choices and self.value not in self.choices:
            raise self.fail(f"must be one of {', '.join(self.choices)}, got {self.value!r}")
        return self.value

    def boolean(self) -> Any:
        if not self.given:
            return self.default
        if not isinstance(self.value, bool):
            raise self.fail(f"must be true or false, got {self.value!r}")
        return self.value

    def sequence(self) -> list:
        if not self.given:
            return []
        if not isinstance(self.value, list):
            raise self.fail(f"must be a list, got {kind_of(self.value)}")
        return self.value

    def strings(self) -> tuple[str, ...]:
        if not self.given:
            return tuple(self.default)
        values = self.sequence()
        if not all(isinstance(v, str) for v in values):
            raise self.fail("must be a list of strings")
        return tuple(values)

    def mapping(self) -> dict[str, Any]:
        return self.reader.mapping(self.value, self.path)

    def section(self, cls: type, **given: Any) -> Any:
        """This key's value read as the section ``cls``."""
        return read_section(self.reader, cls, self.value, self.path, given, self.read)

    def section_at(self, cls: type, path: str, raw: Any, **given: Any) -> Any:
        """``raw``, an item inside this key's value (a list entry, a named mapping), read as the
        section ``cls`` at ``path``."""
        return read_section(self.reader, cls, raw, path, given, self.read)

    def raw(self) -> Any:
        return self.default if self.value is ABSENT else self.value


class Retired(typing.NamedTuple):
    """A key that was renamed or moved: reading it is an error that says where it went. A section
    lists its own as ``RETIRED: ClassVar[dict[str, Retired]]``; ``hint`` may be a function of the
    old value."""

    message: str
    hint: Callable[[Any], str] | str = ""


def read_section(reader: Reader, cls: type, raw: Any, path: str, given: Mapping[str, Any] | None = None,
                 outer: Mapping[str, Any] | None = None) -> Any:
    """Read the section ``cls`` from ``raw`` (a mapping, or None/ABSENT for all defaults) at
    ``path``. ``given`` fills the fields that are no key. After construction, a section's
    ``check(reader, path)`` method, if it has one, refuses combinations of keys."""
    given = dict(given or {})
    retired: Mapping[str, Retired] = getattr(cls, "RETIRED", {})
    for key, why in retired.items():
        if isinstance(raw, dict) and key in raw:
            hint = why.hint(raw[key]) if callable(why.hint) else why.hint
            raise reader.fail(join(path, key), why.message, hint)
    m = reader.mapping(raw, path, set(section_keys(cls)))
    values: dict[str, Any] = {}
    scope = ChainMap(values, outer or {})
    for f, spec, kind in _fields(cls):
        if spec is None:
            if f.name in given:
                values[f.name] = given[f.name]
            continue
        key = key_of(f)
        entry = Entry(reader, join(path, key), m.get(key, ABSENT), _default(f), scope, spec.low, spec.high,
                      spec.choices)
        values[f.name] = spec.parse(entry) if spec.parse else _READERS[kind](entry)
    section = cls(**values)
    if hasattr(section, "check"):
        section.check(reader, path)
    return section


def section_keys(cls: type) -> list[str]:
    """The keys of section ``cls``, in field order."""
    return [key_of(f) for f, spec, _ in _fields(cls) if spec is not None]


def key_of(f: dataclasses.Field) -> str:
    spec = f.metadata.get(META)
    return (spec.key if spec and spec.key else None) or f.name.replace("_", "-")


@functools.cache  # resolving the string annotations is most of a read; a section class never changes
def _fields(cls: type) -> tuple[tuple[dataclasses.Field, Setting | None, str], ...]:
    """Each field with its setting (None for a field that is no key) and how it is read."""
    hints = typing.get_type_hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        if f.metadata.get(META) is None and not dataclasses.is_dataclass(_plain(hints[f.name])):
            out.append((f, None, ""))
            continue
        spec = f.metadata.get(META) or Setting()
        kind = "" if spec.parse else _kind_of_type(cls, f.name, hints[f.name])
        out.append((f, spec, kind))
    return tuple(out)


def _kind_of_type(cls: type, name: str, hint: Any) -> str:
    plain = _plain(hint)
    if dataclasses.is_dataclass(plain):
        return "section"
    if plain is tuple and typing.get_args(hint) in ((str, ...),):
        return "strings"
    kinds = {bool: "boolean", int: "integer", float: "number", str: "text"}
    if plain in kinds:
        return kinds[plain]
    raise TypeError(f"{cls.__name__}.{name}: a {hint} field needs setting(parse=...)")  # a bug in aicd


def _plain(hint: Any) -> Any:
    """``X`` for ``X | None``; the origin for a generic such as ``tuple[str, ...]``."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        rest = [a for a in typing.get_args(hint) if a is not type(None)]
        hint = rest[0] if len(rest) == 1 else hint
    return typing.get_origin(hint) or hint


def _default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return None


_READERS: dict[str, Callable[[Entry], Any]] = {
    "integer": lambda e: e.number(integer=True),
    "number": Entry.number,
    "text": Entry.text,
    "boolean": Entry.boolean,
    "strings": Entry.strings,
    "section": lambda e: e.section(type(e.default)),
}


# -- YAML ---------------------------------------------------------------------------------------
def compose(text: str, file: str) -> tuple[Any, dict[str, int]]:
    """Plain data from YAML text and the line of each dotted key path. Only plain values are
    constructed, so a tag such as ``!!python/name`` is a YAML error, and a key set twice is one."""
    lines: dict[str, int] = {}
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        return (_to_python(node, "", lines) if node is not None else {}), lines
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else None
        problem = getattr(exc, "problem", None) or (str(exc) if type(exc) is yaml.YAMLError else "invalid YAML")
        raise ConfigError(f"invalid YAML: {problem}", file=file, line=line) from None


TYPED_KEYS = ("model.params.",)  # under these, keys keep their YAML type: `class_weight: {0: 1}` means class 0


def _to_python(node: yaml.Node, path: str, lines: dict[str, int]) -> Any:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        out = {}
        typed = path.startswith(TYPED_KEYS)
        for key_node, value_node in node.value:
            key = _typed_key(key_node) if typed else str(key_node.value)
            child = join(path, key)
            if key in out:  # YAML would keep the last silently: the first setting would be lost unseen
                again = key_node.start_mark.line + 1
                raise yaml.YAMLError(f"`{child}` is set twice (lines {lines[child]} and {again})")
            lines[child] = key_node.start_mark.line + 1
            out[key] = _to_python(value_node, child, lines)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_to_python(v, f"{path}[{i}]", lines) for i, v in enumerate(node.value)]
    return yaml.constructor.SafeConstructor().construct_object(node, deep=True)


def _typed_key(node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        value = yaml.constructor.SafeConstructor().construct_object(node)
        if isinstance(value, (bool, int, float, str)) or value is None:
            return value
    return str(node.value)


def join(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)


def kind_of(value: Any) -> str:
    names = {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean"}
    return names.get(type(value), type(value).__name__)



def key_paths(cls: type, path: str = "") -> list[str]:
    """Every dotted key path of section ``cls`` and of the sections inside it, for documentation
    and its tests; the entries of a list or mapping of sections are ``<name>``."""
    out = []
    for f, spec, _ in _fields(cls):
        if spec is None:
            continue
        child = join(path, key_of(f))
        out.append(child)
        inner, many = _inner_section(typing.get_type_hints(cls)[f.name])
        if inner is not None:
            out += key_paths(inner, f"{child}.<name>" if many else child)
    return out


def _inner_section(hint: Any) -> tuple[type | None, bool]:
    """The section a field's type holds, and whether it holds many (a tuple or dict of them)."""
    plain = _plain(hint)
    if dataclasses.is_dataclass(plain):
        return plain, False
    items = [a for a in typing.get_args(hint) if dataclasses.is_dataclass(a)]
    return (items[0], True) if items else (None, False)
