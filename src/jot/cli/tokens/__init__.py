"""The token tools: ``jot decode``, ``jot verify``, ``jot sign`` and ``jot jwk …``.

The commands are in :mod:`._commands` (``jot jwk`` in :mod:`._jwk`); what they share: reading
input and mapping errors (:mod:`._common`), keys and key files (:mod:`._keys`), showing a
token to people (:mod:`._render`) and the JSON serialisation (:mod:`._json`).
"""

from __future__ import annotations

from jot.cli.tokens._commands import decode, sign, verify
from jot.cli.tokens._jwk import jwk

__all__ = ["decode", "jwk", "sign", "verify"]
