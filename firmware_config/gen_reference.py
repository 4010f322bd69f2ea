#!/usr/bin/env python3
"""Generate docs/device-config.md, the reference of every device.toml key.

Types, defaults and limits come from the msgspec types (edge_agent/config.py,
DeviceConfig); each key's description is the comment on its line in the
annotated example (firmware_config/examples/device.toml), else the type's
Meta description. So the two sources cannot drift apart unnoticed:
tests/firmware_config/test_reference.py fails when the doc is stale or a key
has no description.

    .venv/bin/python firmware_config/gen_reference.py          # rewrite the doc
    .venv/bin/python firmware_config/gen_reference.py --check  # exit 1 if it is out of date
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "firmware_config" / "examples" / "device.toml"
OUTPUT = ROOT / "docs" / "device-config.md"
# `key = value  # comment` or `# key = value  # comment` (an optional key shown commented out)
_KEY_LINE = re.compile(r"^#?\s*([a-z_]+)\s*=\s*(.*?)\s+#\s+(.+)$")
_SECTION = re.compile(r"^\[([a-z_]+)\]\s*$")

Schema = Any  # a msgspec.inspect type


def example_comments(path: Path = EXAMPLE) -> dict[str, str]:
    """``{"broker.url": "comment", ...}`` from the annotated example."""
    section = ""
    found: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        header = _SECTION.match(line.strip())
        if header:
            section = header.group(1)
            continue
        match = _KEY_LINE.match(line.strip())
        if match:
            key = f"{section}.{match.group(1)}" if section else match.group(1)
            found[key] = match.group(3).strip()
    return found


def _model() -> Schema:
    sys.path.insert(0, str(ROOT))
    import msgspec.inspect

    from edge_agent.config import DeviceConfig

    return msgspec.inspect.type_info(DeviceConfig)


def _unwrap(kind: Schema) -> tuple[Schema, str]:
    """(the type without its Meta, its description)."""
    import msgspec.inspect as mi

    if isinstance(kind, mi.Metadata):
        return kind.type, (kind.extra_json_schema or {}).get("description", "")
    if isinstance(kind, mi.UnionType):
        parts = [_unwrap(k) for k in kind.types if not isinstance(k, mi.NoneType)]
        if len(parts) == 1:
            return parts[0]
    return kind, ""


def _type(kind: Schema) -> str:
    import msgspec.inspect as mi

    kind, _ = _unwrap(kind)
    if isinstance(kind, mi.UnionType):
        return " or ".join(_type(k) for k in kind.types if not isinstance(k, mi.NoneType))
    if isinstance(kind, mi.LiteralType):
        return " or ".join(f"`{json.dumps(v)}`" for v in kind.values)
    if isinstance(kind, mi.CustomType) and kind.cls is Path:
        return "path"
    if isinstance(kind, mi.StrType):
        return f"string `{kind.pattern}`" if kind.pattern else "string"
    if isinstance(kind, mi.IntType | mi.FloatType):
        limits = [
            f"{op} {v}" for op, v in ((">=", kind.ge), (">", kind.gt), ("<=", kind.le), ("<", kind.lt)) if v is not None
        ]
        name = "integer" if isinstance(kind, mi.IntType) else "number"
        return f"{name} ({', '.join(limits)})" if limits else name
    if isinstance(kind, mi.BoolType):
        return "boolean"
    if isinstance(kind, mi.TupleType):
        return "[" + ", ".join(_type(k) for k in kind.item_types) + "]"
    if isinstance(kind, mi.ListType):
        return f"list of {_type(kind.item_type)}"
    return "value"


def _default(field: Schema) -> str:
    import msgspec

    if field.required:
        return "**required**"
    value = field.default if field.default_factory is msgspec.NODEFAULT else field.default_factory()
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    return f"`{json.dumps(str(value) if isinstance(value, Path) else value)}`"


def _sections(model: Schema) -> list[Schema]:
    import msgspec.inspect as mi

    return [f for f in model.fields if isinstance(f.type, mi.StructType)]


def _rows(model: Schema, section: str, comments: dict[str, str]) -> list[str]:
    import msgspec.inspect as mi

    rows = []
    for field in model.fields:
        if isinstance(field.type, mi.StructType):
            continue
        key = f"{section}.{field.name}" if section else field.name
        text = comments.get(key) or _unwrap(field.type)[1]
        text = text.replace("|", "\\|")
        rows.append(f"| `{field.name}` | {_type(field.type)} | {_default(field)} | {text} |")
    return rows


def leaf_keys(model: Schema | None = None) -> list[str]:
    """Every key a device.toml may set, as ``section.key`` (top-level keys bare)."""
    import msgspec.inspect as mi

    model = model or _model()
    keys: list[str] = []
    for field in model.fields:
        if isinstance(field.type, mi.StructType):
            keys += [f"{field.name}.{f.name}" for f in field.type.fields]
        else:
            keys.append(field.name)
    return keys


def render(example: Path = EXAMPLE) -> str:
    model = _model()
    comments = example_comments(example)
    out = [
        "# device.toml reference",
        "",
        "<!-- Generated by firmware_config/gen_reference.py from edge_agent/config.py (DeviceConfig) and",
        "     firmware_config/examples/device.toml. Do not edit: change those and re-run the script. -->",
        "",
        "Every Touchpoint device (kiosk, button panel, or both) reads one TOML file, usually",
        "`/etc/touchpoint/device.toml`. `touchpoint-hub device add` writes it as part of the device bundle;",
        "the annotated example is [firmware_config/examples/device.toml](../firmware_config/examples/device.toml).",
        "",
        "- Check a file with `touchpoint-agent check --config /etc/touchpoint/device.toml` (exit 0 when ready).",
        "- A bad file is refused with one line per bad field, naming the field and what was expected, e.g.",
        "  `broker.keepalive_s: Expected int >= 5 (got 2)`.",
        "- Unknown keys are errors (a misspelt key would otherwise be silently ignored).",
        "- Relative paths are relative to the directory of device.toml.",
        "- Secrets never go in this file: the broker password is in `broker.password_file` (0600), the",
        "  manager PIN only as a hash (`touchpoint-agent pin-hash`).",
        "",
        "## Top level",
        "",
        "| Key | Type | Default | Description |",
        "|---|---|---|---|",
        *_rows(model, "", comments),
    ]
    for field in _sections(model):
        out += ["", f"## [{field.name}]", ""]
        if field.type.cls.__doc__:
            out += [" ".join(field.type.cls.__doc__.split()), ""]
        rows = _rows(field.type, field.name, comments)
        out += ["| Key | Type | Default | Description |", "|---|---|---|---|", *rows]
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate docs/device-config.md from the device config schema.")
    parser.add_argument("--check", action="store_true", help="exit 1 if the file is not up to date")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
        if current != text:
            print(f"{args.output} is out of date: run {Path(__file__).relative_to(ROOT)}", file=sys.stderr)
            return 1
        print(f"{args.output} is up to date")
        return 0
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
