"""The internals of :mod:`jot.jose.jwe` (RFC 7516, with the algorithms of RFC 7518 §4–5).

* ``content``: the content encryptions (``enc``); ``keys`` and ``ecdh``: the key management
  algorithms (``alg``); ``registry``: the table of them that callers pick from by allow-list.
* ``sealing``: encryption (RFC 7516 §5.1); ``opening``: the serializations and decryption
  (§5.2, §7).
"""

__all__: list[str] = []
