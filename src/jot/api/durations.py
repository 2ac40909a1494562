"""Durations as people read and type them: ``2h``, ``1h30m``, ``7d`` (what every duration flag
of the CLI takes, and how the CLI and the console show a grant's or a request's time)."""

from __future__ import annotations

__all__ = ["spoken"]


def spoken(seconds: float) -> str:
    """Seconds as the flags take them: ``7200`` → ``2h``, ``5400`` → ``1h30m``, ``0`` → ``0s``."""
    left, parts = max(0, round(seconds)), []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if left >= size:
            parts.append(f"{left // size}{unit}")
            left %= size
    return "".join(parts) or "0s"
