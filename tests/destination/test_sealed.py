"""Sealed tokens at the destination (issue 19 item 5): opened with the destination's private
key, then checked as any token; signed-only ones refused unless the switch is on; rollover
with two keys."""

from __future__ import annotations

import pytest

from jot.destination import _core
from jot.destination.verifier import AsyncVerifier, Verifier
from jot.jose import KeySet, jwe, jwk, jwt
from jot.jose import errors as jose_errors

from .authority import ACCESS_KEY, Clock, FakeAuthority

pytestmark = pytest.mark.anyio


@pytest.fixture
def authority() -> FakeAuthority:
    found = FakeAuthority()
    found.set_grants([("group:ops", "admin", "web")])
    return found


def _seal(authority: FakeAuthority, to: jwk.Key, now: float) -> str:
    """What the authority hands out for a sealed destination: the jot, encrypted to ``to``."""
    inner = authority.token(now=int(now))
    return jwe.encrypt_compact(inner.encode(), to.public(), headers={"cty": "JWT"})


def _verifier(authority: FakeAuthority, clock: Clock, **kwargs) -> Verifier:
    return Verifier(
        authority.issuer, audience="web", http=authority.client(), clock=clock,
        access_key=ACCESS_KEY, **kwargs,
    )  # fmt: skip


def test_sealed_tokens_open_and_signed_ones_are_refused(authority, monkeypatch) -> None:
    clock, key = Clock(), jwk.generate("X25519")
    verifier = _verifier(authority, clock, decrypt_with=key)
    opened = []
    real = jwe.decrypt_compact
    monkeypatch.setattr(jwe, "decrypt_compact", lambda *a, **k: opened.append(1) or real(*a, **k))
    try:
        sealed = _seal(authority, key, clock.now)
        identity = verifier.verify(sealed)
        assert (identity.name, identity.roles) == ("alice@example.com", {"admin"})
        verifier.verify(sealed)
        assert len(opened) == 1  # The second time, the cache answers: nothing is decrypted.
        with pytest.raises(jose_errors.InvalidTokenError) as caught:
            verifier.verify(authority.token(now=int(clock.now)))
        assert caught.value.error == _core.UNSEALED
        # Sealed to another key, or an inner token that fails its own checks: refused.
        with pytest.raises(jose_errors.InvalidTokenError):
            verifier.verify(_seal(authority, jwk.generate("X25519"), clock.now))
        expired = jwe.encrypt_compact(
            authority.token(now=int(clock.now) - 3600).encode(), key.public(),
            headers={"cty": "JWT"},
        )  # fmt: skip
        with pytest.raises(jose_errors.ExpiredTokenError):
            verifier.verify(expired)
        not_a_jwt = jwe.encrypt_compact(b'{"sub": "x"}', key.public())
        with pytest.raises(jose_errors.MalformedTokenError, match="cty is not JWT"):
            verifier.verify(not_a_jwt)
    finally:
        verifier.close()


def test_the_switch_takes_both_and_a_plain_verifier_takes_no_sealed_token(authority) -> None:
    clock, key = Clock(), jwk.generate("P-256")
    switching = _verifier(authority, clock, decrypt_with=key, accept_unsealed=True)
    plain = _verifier(authority, clock)
    try:
        assert switching.verify(authority.token(now=int(clock.now))).roles == {"admin"}
        assert switching.verify(_seal(authority, key, clock.now)).roles == {"admin"}
        with pytest.raises(jose_errors.InvalidTokenError):
            plain.verify(_seal(authority, key, clock.now))
    finally:
        switching.close()
        plain.close()


def test_rollover_with_two_keys_then_one(authority) -> None:
    clock = Clock()
    old, new = jwk.generate("X25519"), jwk.generate("RSA")
    sealed_old, sealed_new = _seal(authority, old, clock.now), _seal(authority, new, clock.now)
    both = _verifier(authority, clock, decrypt_with=KeySet([old, new]))
    only_new = _verifier(authority, clock, decrypt_with=new)
    try:
        assert both.verify(sealed_old).name == both.verify(sealed_new).name == "alice@example.com"
        assert only_new.verify(sealed_new).roles == {"admin"}
        with pytest.raises(jose_errors.InvalidTokenError):
            only_new.verify(sealed_old)
    finally:
        both.close()
        only_new.close()


async def test_the_async_verifier_opens_them_too(authority) -> None:
    clock, key = Clock(), jwk.generate("X25519")
    verifier = AsyncVerifier(
        authority.issuer, audience="web", jwks={"keys": [authority.signing_key.public().to_dict()]},
        clock=clock, decrypt_with=key,
    )  # fmt: skip
    try:
        assert (await verifier.verify(_seal(authority, key, clock.now))).name == "alice@example.com"
        with pytest.raises(jose_errors.InvalidTokenError):
            await verifier.verify(authority.token(now=int(clock.now)))
    finally:
        await verifier.aclose()


def test_decryption_keys_must_be_private_encryption_keys() -> None:
    for bad, message in (
        (jwk.generate("X25519").public(), "must be the private half"),
        (jwk.generate("oct"), "must be the private half"),
        (jwk.generate("Ed25519"), "not a decryption key"),
    ):
        with pytest.raises(ValueError, match=message):
            _core.decryption_keys(bad)
    bound = _core.decryption_keys(jwk.generate("X25519", kid=None))
    (key,) = bound.keys
    assert (key.alg, key.kid) == ("ECDH-ES", key.thumbprint())
    # A nested JWT made by jot.jose opens the same way.
    signer = jwk.generate("Ed25519")
    token = jwt.encode({"exp": 2**31}, signer, encrypt_to=key.public())
    assert (
        _core.VerifierCore(_core.VerifierSettings("web", decrypt_with=bound), None).unseal(
            token, None
        )[1]
        == signer.kid
    )


def test_forgeries_in_a_sealed_envelope_are_refused(authority) -> None:
    """Anyone may seal to a destination (its key is public): what is inside must still be a
    jot signed by the authority, for this destination. Unsigned claims, another signer,
    ``alg: none``, a second envelope, another audience, or compressed content: refused."""
    import base64
    import json

    clock, key = Clock(), jwk.generate("X25519")
    verifier = _verifier(authority, clock, decrypt_with=key)
    now = int(clock.now)

    def sealed(inner: bytes, **kwargs) -> str:
        return jwe.encrypt_compact(inner, key.public(), headers={"cty": "JWT"}, **kwargs)

    def b64(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    payload = authority.token(now=now).split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    unsigned = f"{b64({'alg': 'none', 'typ': 'jot+jwt'})}.{b64(dict(claims))}."
    forgeries = {
        "bare claims": json.dumps(dict(claims)).encode(),
        "alg none": unsigned.encode(),
        "another signer": authority.token(now=now, key=jwk.generate("Ed25519")).encode(),
        "sealed twice": sealed(authority.token(now=now).encode()).encode(),
        "for another destination": authority.token(now=now, aud="db").encode(),
    }
    try:
        for what, inner in forgeries.items():
            try:
                verifier.verify(sealed(inner))
            except jose_errors.InvalidTokenError:
                continue
            pytest.fail(f"{what}: accepted")
        with pytest.raises(jose_errors.InvalidTokenError):
            verifier.verify(sealed(authority.token(now=now).encode(), zip="DEF"))
        # The genuine one still opens: the refusals above were about what was inside.
        assert verifier.verify(sealed(authority.token(now=now).encode())).roles == {"admin"}
    finally:
        verifier.close()
