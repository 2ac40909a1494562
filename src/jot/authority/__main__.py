"""``python -m jot.authority [OPTIONS] [migrate]``: what ``jot server`` runs."""

from __future__ import annotations

from jot.authority.cli import main

__all__: list[str] = []

main()
