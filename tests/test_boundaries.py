"""Import boundaries, checked on the source text (AST), not on what happens to be loaded.

* `jot.jose` imports nothing else from jot, and nothing outside the standard library but
  `cryptography`.
* `jot.cli` and `jot.destination` never import `jot.authority`: the authority and its
  verifiers meet only over HTTP, through `jot.api`.
* Nothing imports `jot.cli`: the command line is the top layer.
* The authority makes and signs with its keys in `authority/signing.py` alone; elsewhere it
  only passes `jot.jose.Key` objects along, or verifies an OpenID provider's ID tokens.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(path: Path) -> Iterator[tuple[int, str]]:
    """Every module a source file imports; see :func:`imports_in`."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    return imports_in(path.read_text(encoding="utf-8"), package)


def imports_in(source: str, package: str) -> Iterator[tuple[int, str]]:
    """Every module imported by ``source`` (a module of ``package``), at any depth.

    Relative imports are resolved; ``importlib.import_module("...")`` and
    ``__import__("...")`` with a literal name count too.
    """
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            yield node.lineno, base
            for alias in node.names:  # `from jot import authority` imports jot.authority
                yield node.lineno, f"{base}.{alias.name}"
        elif (
            isinstance(node, ast.Call)
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
            and (
                (isinstance(node.func, ast.Attribute) and node.func.attr == "import_module")
                or (
                    isinstance(node.func, ast.Name)
                    and node.func.id in ("import_module", "__import__")
                )
            )
        ):
            yield node.lineno, node.args[0].value


def _files(package: str) -> list[Path]:
    root = SRC.joinpath(*package.split("."))
    return sorted(root.rglob("*.py"))


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def _violations(package: str, forbidden: str) -> list[str]:
    return [
        f"{path.relative_to(SRC)}:{line} imports {module}"
        for path in _files(package)
        for line, module in imported_modules(path)
        if _within(module, forbidden)
    ]


def test_jose_imports_nothing_else_from_jot() -> None:
    bad = [
        f"{path.relative_to(SRC)}:{line} imports {module}"
        for path in _files("jot.jose")
        for line, module in imported_modules(path)
        if _within(module, "jot") and not _within(module, "jot.jose")
    ]
    assert bad == []


def test_jose_depends_only_on_the_standard_library_and_cryptography() -> None:
    allowed = set(sys.stdlib_module_names) | {"cryptography", "jot", "__future__"}
    bad = [
        f"{path.relative_to(SRC)}:{line} imports {module}"
        for path in _files("jot.jose")
        for line, module in imported_modules(path)
        if module.split(".")[0] not in allowed
    ]
    assert bad == []


#: The authority's modules that may use `jot.jose` for more than the `Key` type (and its
#: errors): its own keys and signing, the OpenID Connect login's ID-token checks, and the
#: OpenID provider's checks of client keys, client assertions and access tokens.
AUTHORITY_JOSE = {
    "jot.authority.signing",
    "jot.authority.oidc.discovery",
    "jot.authority.oidc.idtoken",
    "jot.authority.openid.verify",
}


def test_the_authority_signs_in_one_module() -> None:
    users = {
        _module_name(path)
        for path in _files("jot.authority")
        for _, module in imported_modules(path)
        if _within(module, "jot.jose")
        and module not in ("jot.jose", "jot.jose.Key")
        and not _within(module, "jot.jose.errors")
    }
    assert users == AUTHORITY_JOSE


@pytest.mark.parametrize("package", ["jot.cli", "jot.destination"])
def test_cli_and_destination_never_import_the_authority(package: str) -> None:
    assert _violations(package, "jot.authority") == []


@pytest.mark.parametrize("package", ["jot.api", "jot.authority", "jot.client", "jot.destination"])
def test_nothing_below_the_command_line_imports_it(package: str) -> None:
    assert _violations(package, "jot.cli") == []


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import jot.authority", "jot.authority"),
        ("import jot.authority.app as app", "jot.authority.app"),
        ("from jot.authority import app", "jot.authority.app"),
        ("from jot import authority", "jot.authority"),
        ("from .. import authority", "jot.authority"),
        ("from ..authority.app import x", "jot.authority.app.x"),
        ("def f():\n    from jot.authority import app", "jot.authority.app"),
        (
            "import importlib\nimportlib.import_module('jot.authority.server')",
            "jot.authority.server",
        ),
        ("__import__('jot.authority')", "jot.authority"),
    ],
)
def test_the_scanner_finds_every_form_of_import(source: str, expected: str) -> None:
    # The scanner must see the imports it guards against, or the tests above prove nothing.
    found = [module for _, module in imports_in(source, "jot.cli")]
    assert any(_within(module, "jot.authority") for module in found), found
    assert expected in found
