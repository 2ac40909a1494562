"""TLS for the connector: certificate files, or a self-signed certificate for development.

The development certificate is kept in a directory and used again on the next start: kubectl
trusts it through the kubeconfig's ``certificate-authority``, which a new certificate at every
start would break. It is made again only when it cannot serve any more (missing, unreadable,
not matching its key, about to expire, or not naming the address the connector listens on).
"""

from __future__ import annotations

import datetime
import fcntl
import ipaddress
import os
import ssl
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

__all__ = [
    "DEVELOPMENT_RENEW_BEFORE",
    "DEVELOPMENT_VALIDITY_DAYS",
    "DevelopmentCertificate",
    "client_context",
    "development_certificate",
    "self_signed",
    "server_context",
    "write_self_signed",
]

#: How long a development certificate lasts, and how early before its end it is made again.
DEVELOPMENT_VALIDITY_DAYS = 365
DEVELOPMENT_RENEW_BEFORE = datetime.timedelta(days=30)


def _general_name(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def self_signed(
    hosts: Sequence[str], days: int = 30, *, now: datetime.datetime | None = None
) -> tuple[bytes, bytes]:
    """``(certificate PEM, private key PEM)`` for ``hosts`` (names or IP addresses)."""
    key = ec.generate_private_key(ec.SECP256R1())
    names = [_general_name(host) for host in hosts]
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0] if hosts else "jot")])
    now = now or datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def write_self_signed(hosts: Sequence[str], directory: str | os.PathLike[str]) -> tuple[Path, Path]:
    """Write a fresh self-signed pair to ``directory`` (key mode 0600); returns ``(cert path,
    key path)``."""
    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True)
    cert_pem, key_pem = self_signed(hosts)
    cert_path, key_path = target / "tls.crt", target / "tls.key"
    _replace(key_path, key_pem, 0o600)
    _replace(cert_path, cert_pem, 0o644)
    return cert_path, key_path


@dataclass(frozen=True)
class DevelopmentCertificate:
    """The kept pair; ``made`` says why it was made at this start (``None``: used again)."""

    cert: Path
    key: Path
    made: str | None


def development_certificate(
    directory: str | os.PathLike[str],
    name: str,
    hosts: Sequence[str],
    *,
    now: datetime.datetime | None = None,
) -> DevelopmentCertificate:
    """The self-signed pair ``NAME.crt``/``NAME.key`` kept in ``directory`` for ``hosts``:
    the kept one when it still serves, else a new one (valid
    :data:`DEVELOPMENT_VALIDITY_DAYS`). Two processes starting at once agree on one pair."""
    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True, mode=0o700)
    cert_path, key_path = target / f"{name}.crt", target / f"{name}.key"
    now = now or datetime.datetime.now(datetime.UTC)
    with _locked(target / f".{name}.lock"):
        why = _why_not_usable(cert_path, key_path, hosts, now)
        if why is not None:
            cert_pem, key_pem = self_signed(hosts, DEVELOPMENT_VALIDITY_DAYS, now=now)
            _replace(key_path, key_pem, 0o600)
            _replace(cert_path, cert_pem, 0o644)
    return DevelopmentCertificate(cert_path, key_path, why)


def _why_not_usable(
    cert_path: Path, key_path: Path, hosts: Sequence[str], now: datetime.datetime
) -> str | None:
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except FileNotFoundError:
        return "none was kept yet"
    except (OSError, ValueError, TypeError) as exc:
        return f"the kept one cannot be read ({exc})"
    public = serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    if cert.public_key().public_bytes(*public) != key.public_key().public_bytes(*public):
        return "the kept certificate does not match its key"
    if cert.not_valid_after_utc - now < DEVELOPMENT_RENEW_BEFORE:
        return f"the kept one expires on {cert.not_valid_after_utc:%Y-%m-%d}"
    try:
        named = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        named = x509.SubjectAlternativeName([])
    missing = [host for host in hosts if _general_name(host) not in named]
    if missing:
        return f"the kept one does not name {', '.join(missing)}"
    return None


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _replace(path: Path, data: bytes, mode: int) -> None:
    """Write ``data`` to ``path`` atomically, never wider than ``mode`` at any moment."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.chmod(temporary, mode)
    os.replace(temporary, path)


def server_context(
    certfile: str | os.PathLike[str], keyfile: str | os.PathLike[str]
) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(certfile, keyfile)
    context.set_alpn_protocols(["http/1.1"])
    return context


def client_context(
    cafile: str | None = None,
    certfile: str | None = None,
    keyfile: str | None = None,
    *,
    verify: bool = True,
) -> ssl.SSLContext:
    """For the connection to the upstream (an API server, typically)."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=cafile)
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if certfile:
        context.load_cert_chain(certfile, keyfile)
    context.set_alpn_protocols(["http/1.1"])
    return context
