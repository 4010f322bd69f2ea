"""docs/threat-model.md names the test that proves each mitigation: every named test must exist."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "threat-model.md"
REF = re.compile(r"`(tests/[\w/]+\.py)?((?:::\w+)*)`")


def references() -> list[tuple[str, list[str]]]:
    """(test file, [class or function names]) for every test reference in the table."""
    found = []
    for line in DOC.read_text(encoding="utf-8").splitlines():
        if not line.startswith("| ") or "tests/" not in line:
            continue
        current: str | None = None
        for match in REF.finditer(line.rsplit(" | ", 1)[-1]):
            path, names = match.group(1), match.group(2)
            if path:
                current = path
            if current is None or not (path or names):
                continue
            found.append((current, [n for n in names.split("::") if n]))
    return found


def test_every_test_the_threat_model_names_exists() -> None:
    refs = references()
    assert len(refs) >= 40, "the table lost its test references"
    missing = []
    for path, names in refs:
        file = ROOT / path
        if not file.exists():
            missing.append(path)
            continue
        text = file.read_text(encoding="utf-8")
        for name in names:
            if not re.search(rf"^\s*(def|class) {name}\b", text, re.M):
                missing.append(f"{path}::{name}")
    assert missing == []


def test_test_references_are_full_paths() -> None:
    bare = re.findall(r"`(?!tests/)[\w/]*test_\w+\.py[^`]*`", DOC.read_text(encoding="utf-8"))
    assert bare == [], "name tests as tests/<dir>/<file>.py::<test>, so they can be checked"


def test_every_row_has_asset_threat_mitigation_and_test() -> None:
    rows = [
        line for line in DOC.read_text(encoding="utf-8").splitlines() if line.startswith("| ") and "---" not in line
    ]
    header, *body = rows
    assert header == "| Asset | Threat | Mitigation | Test that proves it |"
    assert len(body) >= 15
    for row in body:
        cells = [c.strip() for c in row.strip("|").split(" | ")]
        assert len(cells) == 4 and all(cells), row
        assert "tests/" in cells[3], row
