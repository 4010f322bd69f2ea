"""A small TOML writer for device.toml: tables of strings, numbers, booleans and lists of those.

The standard library reads TOML but cannot write it; device configs need no more than this.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

TomlTable = dict[str, Any]


def _value(value: object, where: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{where}: TOML cannot hold {value}")
        return repr(value)
    if isinstance(value, str | Path):
        return json.dumps(str(value), ensure_ascii=False)  # a JSON string is a valid TOML basic string
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value(v, where) for v in value) + "]"
    raise ValueError(f"{where}: cannot write a {type(value).__name__} to TOML")


def dumps(data: TomlTable, header: str = "") -> str:
    """Top-level keys first, then one ``[section]`` per nested table (one level deep), in insertion order."""
    lines = [f"# {line}".rstrip() for line in header.splitlines()]
    if lines:
        lines.append("")
    tables = {k: v for k, v in data.items() if isinstance(v, dict)}
    lines += [f"{key} = {_value(v, key)}" for key, v in data.items() if key not in tables and v is not None]
    for name, table in tables.items():
        lines += ["", f"[{name}]"]
        for key, v in table.items():
            if isinstance(v, dict):
                raise ValueError(f"{name}.{key}: nested tables deeper than one level are not supported")
            if v is not None:
                lines.append(f"{key} = {_value(v, f'{name}.{key}')}")
    return "\n".join(lines) + "\n"
