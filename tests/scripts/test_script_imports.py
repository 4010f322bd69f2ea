"""Each of scripts/demo, scripts/chaos and scripts/bench installs everything its Python code imports.

A fresh machine has an empty venv: a script that imports a package only the ``dev`` extra brings
fails there (it did: the demo imported httpx). This reads which extras each script installs, walks
every module the script can import (its package under scripts/lib, and the project's own packages it
reaches), and checks each third-party import against the requirements those extras pull in.
"""

from __future__ import annotations

import ast
import re
import sys
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
LIB = ROOT / "scripts" / "lib"
FIRST_PARTY_ROOTS = {name: ROOT / name for name in ("edge_agent", "hub", "kiosk")} | {
    p.stem if p.is_file() else p.name: p for p in LIB.iterdir() if p.suffix == ".py" or (p / "__init__.py").exists()
}


def _module_file(name: str) -> Path | None:
    """The source file of a first-party module (a package: its ``__init__.py``), or None."""
    parts = name.split(".")
    base = FIRST_PARTY_ROOTS.get(parts[0])
    if base is None:
        return None
    target = base.joinpath(*parts[1:]) if base.is_dir() else base
    for file in (target / "__init__.py", target.with_suffix(".py"), target):
        if file.is_file():
            return file
    return None


def _package_of(file: Path) -> list[str]:
    rel = file.relative_to(LIB if LIB in file.parents else ROOT).with_suffix("")
    parts = list(rel.parts)
    return parts[:-1]  # __init__ or a module: the package holding it


def _imports(file: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(file.read_text(), str(file))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            package = _package_of(file)
            base = ".".join(package[: len(package) - node.level + 1] if node.level else [])
            module = ".".join(p for p in (base, node.module or "") if p)
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)  # may be submodules
    return found


def third_party_imports(entry: str) -> dict[str, Path]:
    """Top-level third-party names imported by everything reachable from the module ``entry``."""
    todo = [(entry, ROOT / "scripts" / entry), (f"{entry}.__main__", ROOT / "scripts" / entry)]
    seen: set[Path] = set()
    third: dict[str, Path] = {}
    while todo:
        name, importer = todo.pop()
        top = name.split(".")[0]
        if top in FIRST_PARTY_ROOTS:
            file = _module_file(name)
            parent = name.rpartition(".")[0]
            todo.extend([(parent, importer)] if parent else [])  # importing a.b runs a/__init__.py first
            if file is not None and file not in seen:
                seen.add(file)
                todo.extend((imported, file) for imported in _imports(file))
        elif top not in sys.stdlib_module_names and top not in ("__future__", ""):
            third.setdefault(top, importer)
    return third


def _closure(requirements: list[Requirement], extras: set[str]) -> set[str]:
    """Distributions installed by these requirements, transitively (what pip would bring)."""
    names: set[str] = set()
    todo = [(r, extras) for r in requirements]
    while todo:
        req, with_extras = todo.pop()
        if req.marker and not any(req.marker.evaluate({"extra": e}) for e in (with_extras or {""})):
            continue
        name = canonicalize_name(req.name)
        if name in names:
            continue
        names.add(name)
        try:
            deps = metadata.requires(req.name) or []
        except metadata.PackageNotFoundError:
            continue
        todo.extend((Requirement(d), set(req.extras)) for d in deps)
    return names


def installed_by(script: str) -> set[str]:
    text = (ROOT / "scripts" / script).read_text()
    extras = set(re.search(r'tp_venv "([^"]+)"', text).group(1).split(","))  # type: ignore[union-attr]
    dists = _closure([Requirement(d) for d in metadata.requires("touchpoint") or []], extras)
    for names in re.findall(r"-m pip install ([^|>\n]*)", text):  # a script's own installs (bench: datasette)
        dists |= _closure([Requirement(w) for w in names.split() if w[0].isalpha()], set())
    return dists


SCRIPTS = {"demo": "demo", "chaos": "chaos", "bench": "bench"}


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_script_installs_everything_it_imports(script: str) -> None:
    text = (ROOT / "scripts" / script).read_text()
    assert f"-m {SCRIPTS[script]}" in text, f"scripts/{script} no longer runs python -m {SCRIPTS[script]}"
    providers = metadata.packages_distributions()
    available = installed_by(script)
    missing = {
        top: f"{file.relative_to(ROOT)} (from {', '.join(providers.get(top, ['?']))})"
        for top, file in third_party_imports(SCRIPTS[script]).items()
        if not {canonicalize_name(d) for d in providers.get(top, [])} & available
    }
    assert not missing, f"scripts/{script} does not install what these imports need: {missing}"


def test_the_check_sees_a_dev_only_import() -> None:
    """The check itself can fail: httpx comes only with the dev extra, so the hub extra alone lacks it."""
    providers = metadata.packages_distributions()
    assert not {canonicalize_name(d) for d in providers["httpx"]} & _closure(
        [Requirement(d) for d in metadata.requires("touchpoint") or []], {"hub"}
    )
