"""The layout is the architecture: kg -> recsys.{link, cf} -> recsys.people -> recsys.recommender -> pipelines.

Every import statement of the project's modules (at module level or inside a function,
``TYPE_CHECKING`` blocks included) is read with :mod:`ast`; none may point up a layer,
and no chain of imports may come back to where it started.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("kg", "recsys", "pipelines")
MAX_LINES = 400


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """Project modules that ``name`` imports ("from package import submodule" counts the submodule only)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            subs = [f"{module}.{a.name}" for a in node.names if f"{module}.{a.name}" in MODULES]
            targets = subs if len(subs) == len(node.names) else [module, *subs]
        else:
            continue
        for target in targets:
            while target and target not in MODULES:  # "kg.schema.EdgeType" -> "kg.schema"
                target = target.rpartition(".")[0]
            if target and target != name:
                out.add(target)
    return out


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def test_the_walk_sees_the_project():
    assert {"kg.graph", "recsys.link.metapath", "recsys.cf.base", "recsys.recommender.api",
            "pipelines.cli"} <= set(MODULES)
    assert "kg.schema" in GRAPH["kg.graph"]
    assert "recsys.recommender.ranking" in GRAPH["recsys.recommender.api"]


@pytest.mark.parametrize("lower, upper", [
    ("kg", "recsys"), ("kg", "pipelines"), ("recsys", "pipelines"),
    ("recsys.link", "recsys.recommender"), ("recsys.cf", "recsys.recommender"),
    ("recsys.link", "recsys.cf"), ("recsys.cf", "recsys.link"),
    ("recsys.people", "recsys.recommender"), ("recsys.link", "recsys.people"), ("recsys.cf", "recsys.people"),
])
def test_no_import_points_up_a_layer(lower, upper):
    wrong = sorted(f"{m} -> {t}" for m, targets in GRAPH.items() if _within(m, lower)
                   for t in targets if _within(t, upper))
    assert not wrong, f"{lower} must not import {upper}: {wrong}"


SHARED = ("recsys.metrics", "recsys.blend", "recsys.logistic", "recsys.ascent")


def test_shared_recsys_modules_import_no_recsys_package():
    """The top-level recsys modules (metrics, blending) serve every package and use only each other."""
    for shared in SHARED:
        assert not [t for t in GRAPH[shared] if _within(t, "recsys") and t not in SHARED], shared


def test_no_import_circles():
    state: dict[str, int] = {}  # 1: on the current path, 2: finished
    path: list[str] = []
    circles: list[list[str]] = []

    def visit(module: str) -> None:
        state[module] = 1
        path.append(module)
        for target in sorted(GRAPH[module]):
            if state.get(target) == 1:
                circles.append(path[path.index(target):] + [target])
            elif target not in state:
                visit(target)
        path.pop()
        state[module] = 2

    for module in sorted(GRAPH):
        if module not in state:
            visit(module)
    assert not circles, "import circles: " + "; ".join(" -> ".join(c) for c in circles)


def test_modules_stay_small_or_say_why():
    long = [f"{name} ({n} lines)" for name, path in MODULES.items()
            if (n := len(path.read_text().splitlines())) > MAX_LINES
            and f"over {MAX_LINES} lines" not in (ast.get_docstring(ast.parse(path.read_text())) or "")]
    assert not long, f"modules over {MAX_LINES} lines without a reason in their docstring: {long}"


def test_every_package_says_what_it_holds():
    bare = [name for name, path in MODULES.items() if path.name == "__init__.py"
            and len((ast.get_docstring(ast.parse(path.read_text())) or "").splitlines()) < 1]
    assert not bare, f"packages without a docstring: {bare}"
