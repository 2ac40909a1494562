"""The ``jot`` executable.

kubectl runs ``jot token --for DEST --format exec-credential`` before every request. When
the token is in the cache, this answers with the standard library alone: importing click
costs more than everything else on that path. Any other command line, or a token that is not
cached, goes to the full CLI (:mod:`jot.cli.main`), which also reports every error.
"""

from __future__ import annotations

import sys

from jot.cli import _credentials as creds

__all__ = ["main"]

#: What a bare ``pip install jot`` (the JOSE library alone) says at every other command.
NEEDS_CLI = (
    "Error: the jot command needs its extra: pipx install 'jot[cli]' (or 'jot[server]' to run "
    "the authority too)"
)

# ``jot token`` options with a value, by the name this module gives them.
_OPTIONS = {"--for": "destination", "--format": "fmt", "--server": "server"}


def main() -> None:
    args = sys.argv[1:]
    answer = cached_answer(args)
    if answer is not None:
        sys.stdout.write(answer + "\n")
        return
    try:
        from jot.cli.main import main as full_cli
    except ModuleNotFoundError as exc:
        if exc.name != "click":
            raise
        sys.exit(_without_click(args))
    full_cli(args)


def _without_click(args: list[str]) -> int:
    """``jot --version`` still answers; anything else says which extra to install."""
    if args == ["--version"]:
        from importlib.metadata import version

        print(f"jot, version {version('jot')}")
        return 0
    print(NEEDS_CLI, file=sys.stderr)
    return 1


def cached_answer(args: list[str]) -> str | None:
    """What ``jot token`` prints for ``args`` when the token is cached, else ``None`` (also
    for anything unusual on the command line: the full CLI then parses it)."""
    if not args or args[0] != "token":
        return None
    given: dict[str, str | None] = {"fmt": "raw", "server": None}
    rest = iter(args[1:])
    for arg in rest:
        name, equals, value = arg.partition("=")
        if name not in _OPTIONS:
            return None
        if not equals:
            value = next(rest, "-")
        if value.startswith("-"):
            return None
        given[_OPTIONS[name]] = value
    destination, fmt = given.get("destination"), given["fmt"]
    if destination is None or fmt not in creds.FORMATS:
        return None
    try:
        found = creds.resolve(given["server"])
    except creds.CredentialsError:
        return None  # The full CLI reports it.
    entry = None if found is None else creds.cached_token(*found, destination)
    return None if entry is None else creds.render_token(entry, str(fmt))
