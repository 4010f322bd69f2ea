"""The results: one markdown table (figure, its limit from the same run, the ratio, the target) and JSON."""

from __future__ import annotations

import json
import math
from dataclasses import asdict
from typing import Any

from bench.common import Row, Section


def _num(value: float | None, unit: str = "") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if abs(value) >= 1000:
        text = f"{value:,.0f}"
    elif abs(value) >= 100:
        text = f"{value:.0f}"
    elif abs(value) >= 10:
        text = f"{value:.1f}"
    else:
        text = f"{value:.2f}"
    return f"{text} {unit}".strip()


def _ratio(row: Row) -> str:
    if row.ratio is None:
        return "—"
    if row.ratio_what.startswith("of "):
        return f"{row.ratio * 100:.0f} % {row.ratio_what}"
    return (
        f"{row.ratio:.2f}{row.ratio_what}" if row.ratio_what.startswith("x ") else f"{row.ratio:.2f} {row.ratio_what}"
    )


def _met(row: Row) -> str:
    if row.met is None:
        return "—"
    return "yes" if row.met else "**no**"


def table(sections: list[Section]) -> str:
    lines = [
        "| Section | Measure | Result | Limit, same run | Ratio | Target | Met |",
        "|---|---|---:|---|---:|---|:-:|",
    ]
    notes = []
    for section in sections:
        if section.error:
            lines.append(f"| {section.name} | section failed: {section.error[:120]} | — | — | — | — | **no** |")
            continue
        for row in section.rows:
            limit = f"{_num(row.limit, row.unit)} ({row.limit_what})" if row.limit is not None else row.limit_what
            lines.append(
                f"| {row.section} | {row.what} | {_num(row.value, row.unit)} | {limit or '—'} | {_ratio(row)} | "
                f"{row.target or '—'} | {_met(row)} |"
            )
            if row.note:
                notes.append(f"- {row.section}, {row.what}: {row.note}")
    return "\n".join(lines + (["", *notes] if notes else [])) + "\n"


def markdown(sections: list[Section], meta: dict[str, Any]) -> str:
    head = [
        f"Benchmark run of {meta['finished']} ({meta['mode']} mode, {meta['seconds'] / 60:.1f} min), "
        f"`scripts/bench{' --quick' if meta['mode'] == 'quick' else ''}`.",
        "",
        f"Machine: {meta['cpus']} CPUs ({meta['cpu_model']}), Python {meta['python']}, SQLite {meta['sqlite']}, "
        f"{meta.get('postgresql', 'PostgreSQL')}, {meta['mosquitto']}. "
        f"Load average {meta['load_start']:.2f} at the start, {meta['load_end']:.2f} at the end "
        "(the machine is shared: other processes load it too).",
        "",
    ]
    return "\n".join(head) + table(sections)


def as_json(sections: list[Section], meta: dict[str, Any]) -> str:
    body = {"meta": meta, "sections": [asdict(s) for s in sections]}
    return json.dumps(body, indent=2, default=str) + "\n"
