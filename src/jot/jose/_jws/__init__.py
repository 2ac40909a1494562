"""The internals of :mod:`jot.jose.jws` (RFC 7515, RFC 7797): ``header``, the rules of a
protected header and the key it selects."""

__all__: list[str] = []
