"""The dependency direction is kiosk -> edge_agent <- hub; no other arrows between the three."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ALLOWED = {"edge_agent": set(), "hub": {"edge_agent"}, "kiosk": {"edge_agent"}}


def top_level_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def imported_packages(path: Path) -> set[str]:
    return top_level_imports(path) & set(ALLOWED)


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_packages_only_import_what_the_architecture_allows(package: str) -> None:
    files = sorted((ROOT / package).rglob("*.py"))
    if package != "kiosk":
        assert files, f"{package}/ has no modules"
    wrong = {
        str(f.relative_to(ROOT)): sorted(imported_packages(f) - ALLOWED[package] - {package})
        for f in files
        if imported_packages(f) - ALLOWED[package] - {package}
    }
    assert wrong == {}, f"{package} may import only {sorted(ALLOWED[package])}"


def test_the_device_core_does_not_pull_in_the_hub_stack() -> None:
    """A device installs only the base dependencies: no FastAPI or uvicorn in edge_agent."""
    heavy = {"fastapi", "uvicorn", "starlette", "kivy", "amqtt"}
    for f in (ROOT / "edge_agent").rglob("*.py"):
        assert not top_level_imports(f) & heavy, f"{f.name} imports {top_level_imports(f) & heavy}"


def hub_modules_imported(path: Path) -> set[str]:
    """The hub.* modules a file imports (absolute imports), at any depth of the package."""
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names if alias.name.startswith("hub."))
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0 and node.module.startswith("hub."):
            names.add(node.module)
    return names


# Inside the hub, storage sits below the services and the API, and the domain types below storage.
HUB_LAYERS = {
    "domain": ("hub.domain",),
    "storage": ("hub.domain", "hub.storage", "hub.localtime"),
}


@pytest.mark.parametrize("layer", sorted(HUB_LAYERS))
def test_hub_layers_import_only_downwards(layer: str) -> None:
    allowed = HUB_LAYERS[layer]
    wrong = {
        str(f.relative_to(ROOT)): sorted(m for m in hub_modules_imported(f) if not m.startswith(allowed))
        for f in sorted((ROOT / "hub" / layer).rglob("*.py"))
    }
    assert {f: m for f, m in wrong.items() if m} == {}, f"hub/{layer} may import only {allowed}"


def test_the_backends_share_their_sql_instead_of_importing_each_other() -> None:
    for backend, other in (("sqlite", "postgres"), ("postgres", "sqlite")):
        for f in (ROOT / "hub" / "storage" / backend).rglob("*.py"):
            assert not any(m.startswith(f"hub.storage.{other}") for m in hub_modules_imported(f)), f
    for f in (ROOT / "hub" / "storage" / "sql").rglob("*.py"):
        assert not top_level_imports(f) & {"sqlite3", "psycopg", "psycopg_pool"}, f"{f.name} is not dialect-neutral"
