"""The layers, read from the source (AST), not from what happens to be imported at run time.

- ``climate_data`` imports nothing from ``models`` or ``service``; ``models`` nothing from
  ``service`` (arrows point one way: service -> models -> climate_data).
- The views (``service/api.py``, the pages of ``service/web/``) reach stored assessments only
  through the application service ``service/assessments.py``: from ``service.store`` they
  import types, errors and constants, never the tables, and they call no assessment method of
  the store and import no SQLAlchemy.
- The web pages import no API view (a function declared with ``@endpoint``); they may use the
  API module's helpers (``state``, ``make_assessment``).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: The views: the API module, and the web package's modules taken together.
VIEWS = ("service/api.py", "service/web")
#: What a view may import from service.store.
STORE_NAMES_FOR_VIEWS = frozenset(
    {
        "ApiKeyRecord",
        "AssessmentRecord",
        "AuditStore",
        "StoreUnavailable",
        "PUBLIC_DETAIL",
        "utcnow",
    }
)
#: Store methods that read or write assessments: only service/assessments.py calls them.
ASSESSMENT_METHODS = frozenset(
    {
        "add_assessment",
        "get_assessment",
        "list_assessments",
        "search_assessments",
        "find_idempotent",
    }
)


def python_files(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def view_files(view: str) -> list[Path]:
    """The source files of a view: one module, or every module of a package."""
    path = ROOT / view
    return python_files(view) if path.is_dir() else [path]


def imports(path: Path) -> Iterator[tuple[str, list[str], int]]:
    """(module, imported names, line) of every import, at any depth (lazy ones too)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, [], node.lineno
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module, [a.name for a in node.names], node.lineno


def top(module: str) -> str:
    return module.split(".", 1)[0]


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [("climate_data", {"models", "service"}), ("models", {"service"})],
)
def test_lower_layers_do_not_import_upper_ones(package: str, forbidden: set[str]) -> None:
    bad = [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for path in python_files(package)
        for module, _, line in imports(path)
        if top(module) in forbidden
    ]
    assert bad == []


@pytest.mark.parametrize("view", VIEWS)
def test_views_reach_assessments_through_the_application_service(view: str) -> None:
    bad = []
    found = []
    for path in view_files(view):
        name = path.relative_to(ROOT)
        for module, names, line in imports(path):
            found.append((module, names))
            if module == "service.store":
                extra = set(names) - STORE_NAMES_FOR_VIEWS
                if extra:
                    bad.append(f"{name}:{line} imports {sorted(extra)} from service.store")
            if top(module) == "sqlalchemy":
                bad.append(f"{name}:{line} imports {module}")
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in ASSESSMENT_METHODS
                and not (
                    isinstance(node.func.value, ast.Name) and node.func.value.id == "assessments"
                )
            ):
                bad.append(f"{name}:{node.lineno} calls .{node.func.attr}() on the store")
    assert bad == []
    assert any(m == "service" and "assessments" in n for m, n in found)


def endpoint_views(path: Path) -> set[str]:
    """Names of the functions declared with ``@endpoint(...)`` in ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            for dec in node.decorator_list:
                func = dec.func if isinstance(dec, ast.Call) else dec
                if isinstance(func, ast.Name) and func.id == "endpoint":
                    out.add(node.name)
    return out


def test_web_imports_no_api_view() -> None:
    views = endpoint_views(ROOT / "service/api.py")
    assert {"create_assessment", "get_assessment", "list_assessments"} <= views
    bad = [
        f"{path.relative_to(ROOT)}:{line} imports view {sorted(set(names) & views)}"
        for path in view_files("service/web")
        for module, names, line in imports(path)
        if module == "service.api" and set(names) & views
    ]
    assert bad == []


def test_the_application_service_does_not_import_flask_or_views() -> None:
    mods = {top(m) for m, _, _ in imports(ROOT / "service/assessments.py")}
    assert "flask" not in mods
    names = {m for m, _, _ in imports(ROOT / "service/assessments.py")}
    assert not {n for n in names if n == "service.api" or n.startswith("service.web")}


def test_the_rules_see_a_violation(tmp_path: Path) -> None:
    """The checks are not vacuous: a view calling the store directly is caught."""
    bad = tmp_path / "view.py"
    bad.write_text("def f(st):\n    return st.store.get_assessment('x')\n")
    tree = ast.parse(bad.read_text())
    calls = [
        n.func.attr
        for n in ast.walk(tree)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
    ]
    assert "get_assessment" in calls and set(calls) & ASSESSMENT_METHODS
