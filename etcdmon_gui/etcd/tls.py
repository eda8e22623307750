"""TLS material (bytes, possibly from a keyring) turned into gRPC and ssl credentials.

The stdlib can load a CA from memory but a client certificate and key only from files,
so those are written to a private temporary directory for the instant ``load_cert_chain``
reads them, then removed.
"""

from __future__ import annotations

import os
import socket
import ssl
import tempfile
from pathlib import Path

import grpc

from etcdmon_gui.model.connection import TLSConfig
from etcdmon_gui.model.errors import ConfigError


def grpc_credentials(tls: TLSConfig | None) -> grpc.ChannelCredentials:
    """Channel credentials; with no CA the system trust store is used."""
    tls = tls or TLSConfig()
    return grpc.ssl_channel_credentials(
        root_certificates=tls.ca, private_key=tls.key, certificate_chain=tls.cert
    )


def grpc_options(tls: TLSConfig | None) -> list[tuple[str, str | int]]:
    if tls is None or not tls.server_name:
        return []
    return [
        ("grpc.ssl_target_name_override", tls.server_name),
        ("grpc.default_authority", tls.server_name),
    ]


def ssl_context(tls: TLSConfig | None) -> ssl.SSLContext:
    """An ``ssl.SSLContext`` for HTTPS (metrics, health) with the same trust as gRPC."""
    tls = tls or TLSConfig()
    try:
        ctx = ssl.create_default_context(cadata=tls.ca.decode("ascii") if tls.ca else None)
    except (ssl.SSLError, UnicodeDecodeError, ValueError) as exc:
        raise ConfigError(f"the CA certificate is not a valid PEM certificate: {exc}") from None
    if tls.cert is not None and tls.key is not None:
        with tempfile.TemporaryDirectory(prefix="etcdmon-tls-") as tmp:
            cert_path, key_path = Path(tmp, "cert.pem"), Path(tmp, "key.pem")
            for path, data in ((cert_path, tls.cert), (key_path, tls.key)):
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
            try:
                ctx.load_cert_chain(cert_path, key_path)
            except ssl.SSLError as exc:
                reason = exc.reason or str(exc)
                if "KEY_VALUES_MISMATCH" in str(reason).upper():
                    raise ConfigError(
                        "the client key does not match the client certificate"
                    ) from None
                raise ConfigError(f"cannot load the client certificate/key: {reason}") from None
    if tls.insecure_skip_verify:  # chosen explicitly by the user, and flagged
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def fetch_server_certificate(host: str, port: int, tls: TLSConfig, timeout: float) -> bytes:
    """The PEM certificate a server presents, unverified (for insecure-skip-verify).

    The client certificate is presented too, since a server that requires one may
    otherwise refuse the handshake before showing its own.
    """
    ctx = ssl_context(
        TLSConfig(
            ca=tls.ca,
            cert=tls.cert,
            key=tls.key,
            server_name=tls.server_name,
            insecure_skip_verify=True,
        )
    )
    with (
        socket.create_connection((host, port), timeout=timeout) as sock,
        ctx.wrap_socket(sock, server_hostname=tls.server_name or host) as tls_sock,
    ):
        der = tls_sock.getpeercert(binary_form=True)
    if der is None:
        raise ssl.SSLError("the server presented no certificate")
    return ssl.DER_cert_to_PEM_cert(der).encode("ascii")
