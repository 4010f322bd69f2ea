"""msgspec validation whose errors name every bad field, with its path and what was wrong.

msgspec decodes and validates in one fast pass but stops at the first error
("Expected `int` >= 0 - at `$.events[3].seq`"). Installers and device owners
need every bad field named, so once a conversion has failed (the rare, slow
path) :func:`problems` walks the data field by field and lists each one as
``("events.3.seq", "Expected int >= 0")``. The fast path costs nothing extra.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Callable
from typing import Any, TypeVar

import msgspec

T = TypeVar("T")
Problem = tuple[str, str]  # (dotted field path, what is wrong); the path is "" for the whole value
DecHook = Callable[[type, Any], Any]

_AT = re.compile(r"^(.*?) - at `(.*)`$", re.S)
_NAMED = re.compile(r"^([a-z_][a-z0-9_]*): (.*)$", re.S)  # a check of a whole struct naming its field first


Check = Callable[[Any], "str | None"]  # a value's problem, or None


def check_fields(obj: msgspec.Struct) -> None:
    """Run a struct's ``field_checks`` (a ClassVar ``{field: check}``) from its ``__post_init__``.

    Raises one ValueError naming each failing field on a line of its own. :func:`problems` runs the
    same checks field by field, so a bad field is named even when another field fails to convert.
    """
    failed = [
        f"{name}: {message}"
        for name, check in getattr(type(obj), "field_checks", {}).items()
        if (message := check(getattr(obj, name))) is not None
    ]
    if failed:
        raise ValueError("\n".join(failed))


class Invalid(ValueError):
    """Data that does not fit its type. ``problems`` names every bad field; ``str()`` the first three."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(describe(problems))
        self.problems = problems


def describe(problems: list[Problem], limit: int = 3) -> str:
    """``a.b: what; c: what; and 2 more``, the whole value called ``payload``."""
    parts = [f"{path or 'payload'}: {message}" for path, message in problems[:limit]]
    if len(problems) > limit:
        parts.append(f"and {len(problems) - limit} more")
    return "; ".join(parts)


def convert(data: object, type_: type[T], dec_hook: DecHook | None = None) -> T:
    """``data`` (JSON-like Python values) as ``type_``; raise :class:`Invalid` naming every bad field.

    Lax like JSON clients expect: "5" for 5, 5.0 for 5, "true" for true are accepted (``strict=False``).
    """
    try:
        return msgspec.convert(data, type_, strict=False, dec_hook=dec_hook)
    except msgspec.ValidationError:
        raise Invalid(problems(data, type_, dec_hook=dec_hook)) from None


def decode(payload: bytes | str, decoder: msgspec.json.Decoder[T], type_: type[T]) -> T:
    """Decode JSON with ``decoder`` (built for ``type_``); raise :class:`Invalid` naming every bad field.

    msgspec.DecodeError (not JSON), UnicodeDecodeError and RecursionError pass through.
    """
    try:
        return decoder.decode(payload)
    except msgspec.ValidationError:
        data = msgspec.json.decode(payload)
    raise Invalid(problems(data, type_))


def problems(data: object, type_: Any, path: str = "", dec_hook: DecHook | None = None) -> list[Problem]:
    """Every reason ``data`` does not convert to ``type_``, deepest field first; [] when it does."""
    try:
        msgspec.convert(data, type_, strict=False, dec_hook=dec_hook)
        return []
    except msgspec.ValidationError as exc:
        first = _problems(str(exc), path, data)
    base, _ = _unwrap(type_)
    if typing.get_origin(base) is typing.Literal:  # msgspec says only "Invalid enum value 6": name the choices
        choices = [repr(c) for c in typing.get_args(base)]
        wanted = ", ".join(choices[:-1]) + f" or {choices[-1]}" if len(choices) > 1 else choices[0]
        return [(path, f"Expected {wanted}, got {_shown(data)}")]
    return _inside(data, type_, path, dec_hook) or first


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _join(path: str, name: object) -> str:
    return f"{path}.{name}" if path else str(name)


def _problems(text: str, path: str, data: object) -> list[Problem]:
    """msgspec's message, with its ``$.a[0].b`` location folded into our dotted path.

    A struct's own check may name its field first ("value: value 9 is outside the scale 0..3"), one
    field per line. A constraint on a plain value says which value it refused.
    """
    found = _AT.match(text)
    message, where = (found.group(1), found.group(2)) if found else (text, "$")
    if where.startswith("$"):
        for part in re.findall(r"\.([^.\[]+)|\[(\d+|\.\.\.)\]", where[1:]):
            path = _join(path, part[0] or part[1])
    out = []
    for line in message.split("\n"):
        named = _NAMED.match(line)
        where_, line = (_join(path, named.group(1)), named.group(2)) if named else (path, line)
        line = line.replace("`", "")
        if where == "$" and line.startswith("Expected") and ", got " not in line and _scalar(data):
            line += f" (got {_shown(data)})"
        out.append((where_, line))
    return out


def _scalar(value: object) -> bool:
    return isinstance(value, str | int | float) and not isinstance(value, bool)


def _unwrap(type_: Any) -> tuple[Any, tuple[Any, ...]]:
    if typing.get_origin(type_) is typing.Annotated:
        base, *meta = typing.get_args(type_)
        return base, tuple(meta)
    return type_, ()


def _inside(data: object, type_: Any, path: str, dec_hook: DecHook | None) -> list[Problem]:
    """Problems of the parts of a struct, list or dict; [] when the value is wrong as a whole."""
    base, meta = _unwrap(type_)
    if isinstance(base, type) and issubclass(base, msgspec.Struct) and isinstance(data, dict):
        return _struct(data, base, path, dec_hook)
    origin, args = typing.get_origin(base), typing.get_args(base)
    found: list[Problem] = []
    if origin is list and isinstance(data, list):
        if meta:  # the list's own constraints (length), whatever its items
            try:
                msgspec.convert(data, typing.Annotated[(list[Any], *meta)], strict=False)
            except msgspec.ValidationError as exc:
                found += _problems(str(exc), path, data)
        for index, item in enumerate(data):
            found += problems(item, args[0], _join(path, index), dec_hook)
    elif origin is dict and isinstance(data, dict):
        for key, value in data.items():
            found += [(p, f"key {key!r}: {m}") for p, m in problems(key, args[0], _join(path, key), dec_hook)]
            found += problems(value, args[1], _join(path, key), dec_hook)
    elif origin in (typing.Union, types.UnionType) and data is not None:
        choices = [a for a in args if a is not type(None)]
        if len(choices) == 1:  # X | None with a value that is not None: the problems of X
            found += _inside(data, choices[0], path, dec_hook)
    return found


def _struct(data: dict[Any, Any], struct: type[msgspec.Struct], path: str, dec_hook: DecHook | None) -> list[Problem]:
    fields = msgspec.structs.fields(struct)
    found: list[Problem] = []
    checks: dict[str, Check] = getattr(struct, "field_checks", {})
    for field in fields:
        where = _join(path, field.encode_name)
        if field.encode_name not in data:
            if field.required:
                found.append((where, "Field required"))
            continue
        value = data[field.encode_name]
        bad = problems(value, field.type, where, dec_hook)
        if not bad and field.name in checks:  # the struct's own check of this field, as in check_fields
            message = checks[field.name](msgspec.convert(value, field.type, strict=False, dec_hook=dec_hook))
            bad = [] if message is None else [(where, message)]
        found += bad
    if struct.__struct_config__.forbid_unknown_fields:
        known = {field.encode_name for field in fields}
        found += [(_join(path, key), "is not a known field (check the spelling)") for key in data if key not in known]
    return found
