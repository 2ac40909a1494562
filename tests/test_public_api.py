"""Pin the public API: every package's ``__all__``, and the house rules around it.

Changing a public name is a decision: update the list here in the same commit.
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

import pytest

PUBLIC_API: dict[str, list[str]] = {
    "jot": ["__version__"],
    "jot.api": [
        "TOKEN_TYPE",
        "Claims",
        "ErrorResponse",
        "Grant",
        "GrantList",
        "TokenRequest",
        "TokenResponse",
    ],
    "jot.authority": [],
    "jot.cli": [],
    "jot.destination": [
        "AsyncAuthorityGrants",
        "AsyncRedisStore",
        "AsyncVerifier",
        "AuthorityGrants",
        "FileGrants",
        "ForbiddenError",
        "GrantIndex",
        "Identity",
        "JWKSPolicy",
        "MemoryStore",
        "RedisStore",
        "ReplayedTokenError",
        "RevokedTokenError",
        "UnavailableError",
        "Verifier",
    ],
    "jot.jose": ["Key", "KeySet", "errors", "hazmat", "jwa", "jwe", "jwk", "jws", "jwt"],
    "jot.jose.errors": [
        "BadSignatureError",
        "ClaimError",
        "DecryptionError",
        "ExpiredTokenError",
        "InvalidAudienceError",
        "InvalidIssuerError",
        "InvalidKeyError",
        "InvalidTokenError",
        "InvalidTypeError",
        "JoseError",
        "JotError",
        "KeyNotFoundError",
        "MalformedTokenError",
        "MissingClaimError",
        "NotYetValidError",
        "UnsupportedAlgorithmError",
        "UnsupportedHeaderError",
        "UsageError",
    ],
    "jot.jose.hazmat": [
        "RSA1_5",
        "Unverified",
        "decode_unverified",
        "import_weak_key",
        "weak_secret",
    ],
    "jot.jose.jwa": [
        "SIGNATURE_ALGORITHMS",
        "SignatureAlgorithm",
        "default_algorithm",
        "get_algorithm",
    ],
    "jot.jose.jwe": [
        "DEFAULT_ENC",
        "DEFAULT_P2C",
        "MAX_INFLATED_SIZE",
        "MAX_P2C",
        "MAX_SIZE",
        "DecryptedJWE",
        "Recipient",
        "check_key",
        "decrypt_compact",
        "decrypt_json",
        "default_algorithm",
        "encrypt_compact",
        "encrypt_json",
        "password_key",
    ],
    "jot.jose.jwk": [
        "MIN_RSA_BITS",
        "ECKey",
        "Key",
        "KeySet",
        "OKPKey",
        "OctKey",
        "RSAKey",
        "generate",
        "import_key",
    ],
    "jot.jose.jws": [
        "MAX_SIZE",
        "Signer",
        "VerifiedJWS",
        "allowed_algorithms",
        "sign_compact",
        "sign_json",
        "verify_compact",
        "verify_json",
    ],
    "jot.jose.jwt": [
        "MAX_SIZE",
        "Token",
        "Validator",
        "decode",
        "decode_complete",
        "encode",
        "validate_claims",
    ],
}


@pytest.mark.parametrize("name", sorted(PUBLIC_API))
def test_all_is_pinned(name: str) -> None:
    module = importlib.import_module(name)
    assert sorted(getattr(module, "__all__", [])) == sorted(PUBLIC_API[name])


@pytest.mark.parametrize("name", sorted(PUBLIC_API))
def test_every_public_name_exists(name: str) -> None:
    module = importlib.import_module(name)
    for public in getattr(module, "__all__", []):
        assert hasattr(module, public), f"{name}.{public}"


def _modules(package: ModuleType) -> list[str]:
    return [info.name for info in pkgutil.walk_packages(package.__path__, package.__name__ + ".")]


LIBRARY_MODULES = ["jot.jose", "jot.api", *_modules(importlib.import_module("jot.jose"))]
LIBRARY_MODULES += _modules(importlib.import_module("jot.api"))


@pytest.mark.parametrize("name", sorted(set(LIBRARY_MODULES)))
def test_library_modules_declare_all_and_a_docstring(name: str) -> None:
    module = importlib.import_module(name)
    assert module.__doc__, f"{name} has no docstring"
    assert isinstance(getattr(module, "__all__", None), list), f"{name} has no __all__"


@pytest.mark.parametrize("name", ["jot.jose", "jot.api"])
def test_packages_re_export_only_public_names_of_their_modules(name: str) -> None:
    package = importlib.import_module(name)
    for public in package.__all__:
        value = getattr(package, public)
        if isinstance(value, ModuleType):
            assert value.__name__ == f"{name}.{public}"
            continue
        home = importlib.import_module(value.__module__) if hasattr(value, "__module__") else None
        if home is not None and home.__name__.startswith(name + "."):
            assert public in home.__all__, f"{name}.{public} is not public in {home.__name__}"
