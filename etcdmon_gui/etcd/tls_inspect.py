"""Look at the certificates a member presents, and at the configured client certificate.

``inspect_server`` opens a plain TLS connection to a member's client port (no gRPC, no
HTTP request) with the application's own trust settings. If that verifies, the check
says so; if not, it says why and connects once more *without* verification, only to
read what the server presents, so an expired or foreign certificate can be shown rather
than merely refused. Nothing here raises for network or TLS trouble: every failure
becomes the ``error`` of a ``CertCheck``. Key material is never read, logged or returned.
"""

from __future__ import annotations

import dataclasses
import logging
import socket
import ssl
import time
from collections.abc import Callable

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes

from etcdmon_gui.etcd.tls import ssl_context
from etcdmon_gui.model.certs import CertCheck, CertInfo
from etcdmon_gui.model.connection import Endpoint, TLSConfig
from etcdmon_gui.model.errors import ConfigError
from etcdmon_gui.net import first_line, seconds

log = logging.getLogger(__name__)

_PEM_MARKER = b"-----BEGIN"
_MAX_CHAIN = 10  # issuers followed through a CA bundle before giving up (loops, junk)


# -- certificates -> CertInfo -------------------------------------------------------------


def _load(pem_or_der: bytes) -> x509.Certificate:
    try:
        if _PEM_MARKER in pem_or_der:
            return x509.load_pem_x509_certificate(pem_or_der)
        return x509.load_der_x509_certificate(pem_or_der)
    except ValueError as exc:
        raise ValueError(f"not a valid X.509 certificate: {exc}") from None


def _sans(cert: x509.Certificate) -> tuple[str, ...]:
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return ()
    except ValueError:  # duplicate or malformed extensions: show the rest of the certificate
        log.debug("unreadable extensions in certificate %s", cert.subject.rfc4514_string())
        return ()
    names: list[str] = []
    for name in ext.value:
        if isinstance(name, x509.DNSName):
            names.append(name.value)
        elif isinstance(name, x509.IPAddress):
            names.append(str(name.value))
    return tuple(names)


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    """True if ``issuer``'s name and key signed ``cert``."""
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _info(cert: x509.Certificate) -> CertInfo:
    return CertInfo(
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        sans=_sans(cert),
        not_before=cert.not_valid_before_utc.timestamp(),
        not_after=cert.not_valid_after_utc.timestamp(),
        serial=format(cert.serial_number, "x"),
        fingerprint_sha256=cert.fingerprint(hashes.SHA256()).hex(),
        self_signed=cert.subject == cert.issuer and _issued_by(cert, cert),
    )


def cert_info(pem_or_der: bytes) -> CertInfo:
    """Describe one certificate, PEM or DER; of a PEM bundle, the first certificate.

    Other PEM blocks (a private key in a combined file) are skipped, never read.
    Raises ``ValueError`` saying so if the bytes hold no readable certificate.
    """
    return _info(_load(pem_or_der))


def _load_bundle(data: bytes) -> list[x509.Certificate]:
    if _PEM_MARKER not in data:
        return [_load(data)]  # a single DER certificate
    try:
        return x509.load_pem_x509_certificates(data)
    except ValueError as exc:
        raise ValueError(f"not a valid PEM certificate bundle: {exc}") from None


def cert_infos_from_pem_bundle(data: bytes) -> tuple[CertInfo, ...]:
    """Every certificate of a PEM bundle (e.g. a CA file holding several), in file order.

    A single DER certificate is accepted too. Raises ``ValueError`` if there is no
    certificate or one of them is malformed.
    """
    return tuple(_info(cert) for cert in _load_bundle(data))


def chain_from_bundle(leaf: bytes, bundle: bytes | None) -> tuple[CertInfo, ...]:
    """``leaf`` followed by its issuers as found in ``bundle``, as far as they go.

    An issuer is taken only if its name matches and its key verifies the signature, so a
    different CA that happens to share a name is not shown as the issuer. The walk stops
    at a self-signed certificate, at a missing issuer, or after a few links. A bundle
    that cannot be read contributes nothing.
    """
    cert = _load(leaf)
    chain = [cert]
    candidates: list[x509.Certificate] = []
    if bundle:
        try:
            candidates = _load_bundle(bundle)
        except ValueError:
            log.debug("the CA bundle could not be read while completing a chain")
    while len(chain) < _MAX_CHAIN and cert.subject != cert.issuer:
        issuer = next((c for c in candidates if c not in chain and _issued_by(cert, c)), None)
        if issuer is None:
            break
        chain.append(issuer)
        cert = issuer
    return tuple(_info(c) for c in chain)


def client_cert_info(tls: TLSConfig | None) -> CertInfo | None:
    """The configured client certificate (the first of its file), or None if there is none.

    Raises ``ConfigError`` if the configured bytes are not a certificate.
    """
    if tls is None or tls.cert is None:
        return None
    try:
        return cert_info(tls.cert)
    except ValueError as exc:
        raise ConfigError(f"the client certificate cannot be read: {exc}") from None


# -- looking at a server ----------------------------------------------------------------


class _Stage:
    """Where a connection attempt got to, so a timeout can say what it was waiting for."""

    def __init__(self) -> None:
        self.name = "connecting to"


def _describe(exc: BaseException, where: str, timeout: float, stage: _Stage) -> str:
    """A readable sentence for a failed attempt (verification failures excluded)."""
    if isinstance(exc, TimeoutError):
        return f"timed out after {seconds(timeout)} s {stage.name} {where}"
    if isinstance(exc, ConnectionRefusedError):
        return f"connection refused at {where}"
    if isinstance(exc, socket.gaierror):
        return f"cannot resolve host of {where}: {first_line(exc.strerror or str(exc))}"
    if isinstance(exc, ssl.SSLEOFError | ConnectionResetError | BrokenPipeError):
        return (
            f"{where} closed the connection during the TLS handshake (not a TLS endpoint, or "
            "the client certificate was rejected)"
        )
    if isinstance(exc, ssl.SSLError):
        reason = (exc.reason or "").upper()
        if "WRONG_VERSION_NUMBER" in reason or "RECORD_LAYER_FAILURE" in reason:
            return (
                f"TLS handshake failed at {where}: the endpoint does not speak TLS "
                "(use http:// instead of https://)"
            )
        if "CERTIFICATE_REQUIRED" in reason:
            return f"{where} requires a client certificate (use --cert and --key)"
        if "CERTIFICATE_EXPIRED" in reason:
            return f"{where} rejected the client certificate: it has expired"
        if "ALERT_BAD_CERTIFICATE" in reason or "ALERT_UNKNOWN_CA" in reason:
            return (
                f"{where} rejected the client certificate: it is missing, expired, or not "
                "signed by a CA the server trusts"
            )
        text = (exc.reason or "").replace("_", " ").lower() or first_line(str(exc))
        return f"TLS handshake failed at {where}: {text}"
    if isinstance(exc, OSError) and exc.strerror:
        return f"cannot reach {where}: {first_line(exc.strerror)}"
    if isinstance(exc, ValueError):  # e.g. a certificate that cryptography cannot parse
        return f"cannot check the certificate of {where}: {first_line(str(exc))}"
    return f"cannot reach {where}: {first_line(str(exc)) or type(exc).__name__}"


def _verify_error(exc: ssl.SSLCertVerificationError) -> str:
    reason = exc.verify_message or exc.reason or "unknown reason"
    return f"certificate verify failed: {first_line(str(reason))}"


def _peer_chain(sock: ssl.SSLSocket, verified: bool, ca: bytes | None) -> tuple[CertInfo, ...]:
    """The peer's certificates, leaf first, as far as this Python can tell."""
    name = "get_verified_chain" if verified else "get_unverified_chain"
    getter: Callable[[], list[bytes]] | None = getattr(sock, name, None)  # Python 3.13+
    if getter is not None:
        ders = getter()  # DER bytes, leaf first
        if ders:
            return tuple(cert_info(der) for der in ders)
    leaf = sock.getpeercert(binary_form=True)
    if not leaf:
        return ()
    return chain_from_bundle(leaf, ca)


def _handshake(
    endpoint: Endpoint,
    ctx: ssl.SSLContext,
    server_name: str,
    deadline: float,
    ca: bytes | None,
    stage: _Stage,
) -> tuple[CertInfo, ...]:
    """Connect, complete a TLS handshake and read the peer chain, all before ``deadline``."""

    def remaining() -> float:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError
        return left

    stage.name = "connecting to"
    with socket.create_connection((endpoint.host, endpoint.port), timeout=remaining()) as raw:
        stage.name = "waiting for the TLS handshake with"
        raw.settimeout(remaining())
        with ctx.wrap_socket(
            raw, server_hostname=server_name, do_handshake_on_connect=False
        ) as sock:
            sock.do_handshake()
            return _peer_chain(sock, ctx.verify_mode != ssl.CERT_NONE, ca)


def inspect_server(endpoint: Endpoint, tls: TLSConfig | None, timeout: float) -> CertCheck:
    """Check the certificate ``endpoint`` presents, with the application's trust.

    Connects to ``endpoint.host:port`` whatever its scheme, sends ``tls.server_name`` (if
    set) for SNI and checks the certificate against it, else against the host. The
    client certificate, if configured, is presented as the probe would present it.
    The whole check (one or two connections) ends within about ``timeout`` seconds.
    Never raises for network, TLS or configuration problems: they become ``error``
    (only a non-positive ``timeout`` is refused, with ``ValueError``).
    """
    if timeout <= 0:
        raise ValueError(f"timeout must be positive, got {timeout}")
    checked_at = time.time()
    deadline = time.monotonic() + timeout
    where = endpoint.target
    server_name = (tls.server_name if tls is not None else None) or endpoint.host
    ca = tls.ca if tls is not None else None
    stage = _Stage()

    def failed(error: str, chain: tuple[CertInfo, ...] = ()) -> CertCheck:
        log.debug("TLS check of %s: %s", endpoint.url, error)
        return CertCheck(endpoint.url, chain, verified=False, error=error, checked_at=checked_at)

    try:
        # Always try to verify, even for a connection told to skip it: this check is
        # where the user learns what that setting hides.
        verifying = ssl_context(
            dataclasses.replace(tls, insecure_skip_verify=False) if tls is not None else None
        )
    except ConfigError as exc:
        return failed(str(exc))
    try:
        chain = _handshake(endpoint, verifying, server_name, deadline, ca, stage)
        return CertCheck(endpoint.url, chain, verified=True, error=None, checked_at=checked_at)
    except ssl.SSLCertVerificationError as exc:
        error = _verify_error(exc)
    except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
        return failed(_describe(exc, where, timeout, stage))

    # Verification failed: look again without it, only to show what the server presents.
    try:
        reading = ssl_context(tls)
        reading.check_hostname = False
        reading.verify_mode = ssl.CERT_NONE
        chain = _handshake(endpoint, reading, server_name, deadline, ca, stage)
    except (ConfigError, OSError, ValueError) as exc:
        reason = str(exc) if isinstance(exc, ConfigError) else _describe(exc, where, timeout, stage)
        log.debug("could not read the certificate of %s: %s", endpoint.url, reason)
        return failed(f"{error} (the certificate could not be read: {reason})")
    return failed(error, chain)
