"""The modules of jot.jose import each other in layers: no cycle, no import hidden in a function.

An import inside a function is how a cycle hides (it runs late, when both modules are loaded);
the layering is checked on the source text, so it holds whatever happens to be loaded first.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

JOSE = Path(__file__).resolve().parents[2] / "src" / "jot" / "jose"


def _name(path: Path) -> str:
    parts = ["jot", "jose", *path.relative_to(JOSE).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_name(path): path for path in sorted(JOSE.rglob("*.py"))}


def _imports(tree: ast.Module) -> set[str]:
    """The jose modules (not packages' own names) that a module imports."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                child = f"{node.module}.{alias.name}"
                found.add(child if child in MODULES else node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name in MODULES}


def _nested_imports(tree: ast.Module) -> list[int]:
    """The lines of imports inside a function or class (a module-level ``try`` is fine)."""
    scopes = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef
    return sorted(
        node.lineno
        for scope in ast.walk(tree)
        if isinstance(scope, scopes)
        for node in ast.walk(scope)
        if isinstance(node, ast.Import | ast.ImportFrom)
    )


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_import_inside_a_function(name: str) -> None:
    tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
    assert _nested_imports(tree) == [], f"{name} imports inside a function or class"


def test_the_modules_import_each_other_without_a_cycle() -> None:
    graph = {
        name: _imports(ast.parse(path.read_text(encoding="utf-8"))) - {name}
        for name, path in MODULES.items()
    }
    done: set[str] = set()

    def visit(name: str, trail: tuple[str, ...]) -> None:
        assert name not in trail, " -> ".join((*trail[trail.index(name) :], name))
        if name in done:
            return
        for imported in sorted(graph[name]):
            visit(imported, (*trail, name))
        done.add(name)

    for name in sorted(graph):
        visit(name, ())


def test_the_cycle_finder_finds_a_cycle() -> None:
    tree = ast.parse("from jot.jose import jwk\nfrom jot.jose._keys import Key\n")
    assert _imports(tree) == {"jot.jose.jwk", "jot.jose._keys"}
    assert _nested_imports(ast.parse("def f():\n    import os\n")) == [2]
    assert _nested_imports(ast.parse("try:\n    import os\nexcept ImportError:\n    pass\n")) == []
