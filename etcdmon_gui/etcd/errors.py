"""grpc failures -> the readable errors of ``model.errors``.

Every failure of a call passes through ``from_rpc_error``, so the message says what
went wrong and where in words ("connection refused at 127.0.0.1:2379"), never as a
grpc repr. No message ever contains a secret: only endpoints, user names and
server-provided reasons go in.
"""

from __future__ import annotations

import re

import grpc

from etcdmon_gui.model.errors import (
    AuthenticationError,
    ConnectionRefusedEtcdError,
    DeadlineError,
    EtcdError,
    NoLeaderError,
    PermissionDeniedError,
    ServerError,
    TLSError,
    UnreachableError,
)

_CLIENT_CERT_REJECTED = (
    "the server rejected the client certificate: it is missing, expired, or not signed by a "
    "CA the server trusts (check --cert and --key)"
)
_TLS_HINTS = (
    ("ALERT_CERTIFICATE_EXPIRED", "the server rejected the client certificate: it has expired"),
    ("ALERT_BAD_CERTIFICATE", _CLIENT_CERT_REJECTED),
    (
        "ALERT_CERTIFICATE_REQUIRED",
        "the server requires a client certificate (use --cert and --key)",
    ),
    ("ALERT_UNKNOWN_CA", _CLIENT_CERT_REJECTED),
    # TLS 1.3: the server checks the client certificate after the handshake, so its
    # rejection arrives as an undecryptable record rather than a handshake alert.
    ("TSI_DATA_CORRUPTED", _CLIENT_CERT_REJECTED),
    (
        "CERTIFICATE_VERIFY_FAILED",
        "certificate verify failed: the server's certificate is not "
        "signed by the given CA (check --cacert), or it has expired",
    ),
    ("certificate expired", "certificate verify failed: certificate has expired"),
    (
        "WRONG_VERSION_NUMBER",
        "TLS handshake failed: the endpoint does not speak TLS (use http:// instead of https://)",
    ),
    ("tls: bad certificate", _CLIENT_CERT_REJECTED),
    ("certificate required", "the server requires a client certificate (use --cert and --key)"),
    (
        "Peer name",
        "certificate verify failed: the server's certificate is not valid for this "
        "host name (set a server-name override)",
    ),
)


def _tls_message(details: str) -> str | None:
    for needle, message in _TLS_HINTS:
        if needle.lower() in details.lower():
            return message
    if "ssl" in details.lower() or "handshake" in details.lower():
        return f"TLS handshake failed: {_last_reason(details)}"
    return None


def _last_reason(details: str) -> str:
    """The most specific part of a grpc 'details' string, without the address dump."""
    text = details.strip()
    # grpc: "failed to connect to all addresses; last error: UNKNOWN: ipv4:1.2.3.4:5: X"
    if "last error:" in text:
        text = text.rsplit("last error:", 1)[1]
    text = re.sub(r"^\s*[A-Z_]+:\s*", "", text)
    text = re.sub(r"^(ipv4|ipv6|unix):\S+\s*:?\s*", "", text)
    return text.strip() or details.strip()


def from_rpc_error(
    exc: grpc.RpcError, endpoint: str, *, user: str | None = None, timeout: float | None = None
) -> EtcdError:
    """Translate a grpc error from a call to ``endpoint`` into a readable ``EtcdError``."""
    code = exc.code() if isinstance(exc, grpc.Call) else grpc.StatusCode.UNKNOWN
    details = (exc.details() if isinstance(exc, grpc.Call) else str(exc)) or ""
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        limit = f" within {timeout:g} s" if timeout else " in time"
        return DeadlineError(f"no answer from {endpoint}{limit} (member hung or overloaded)")
    if code == grpc.StatusCode.UNAVAILABLE:
        tls = _tls_message(details)
        if tls:
            return TLSError(f"{tls} at {endpoint}")
        lowered = details.lower()
        if "connection refused" in lowered:
            return ConnectionRefusedEtcdError(f"connection refused at {endpoint}")
        if "dns" in lowered or "name resolution" in lowered or "not known" in lowered:
            return UnreachableError(f"cannot resolve host of {endpoint}: {_last_reason(details)}")
        if "no leader" in lowered:
            return NoLeaderError(f"{endpoint}: the cluster has no leader")
        if details.startswith("etcdserver:"):  # reachable; etcd itself declined, e.g.
            return ServerError(f"{endpoint}: {details}")  # "leader changed"
        if any(x in lowered for x in ("broken pipe", "stream removed", "connection reset by")):
            return UnreachableError(
                f"connection to {endpoint} was lost (the member closed it or went away)"
            )
        if "socket closed" in lowered or "connection reset" in lowered:
            return UnreachableError(
                f"{endpoint} closed the connection (TLS expected? client certificate "
                f"rejected?): {_last_reason(details)}"
            )
        return UnreachableError(f"cannot reach {endpoint}: {_last_reason(details)}")
    if code == grpc.StatusCode.INVALID_ARGUMENT and "authentication failed" in details:
        who = f" for user '{user}'" if user else ""
        return AuthenticationError(
            f"authentication failed{who} at {endpoint}: wrong user name or password"
        )
    if code == grpc.StatusCode.UNAUTHENTICATED or "user name is empty" in details:
        if "user name is empty" in details:
            return AuthenticationError(
                f"{endpoint} requires authentication: give a user name and password"
            )
        return AuthenticationError(f"not authenticated at {endpoint}: {details}")
    if code == grpc.StatusCode.PERMISSION_DENIED:
        who = f"user '{user}'" if user else "this client"
        return PermissionDeniedError(f"permission denied for {who} at {endpoint}: {details}")
    if code == grpc.StatusCode.FAILED_PRECONDITION and "authentication is not enabled" in details:
        return AuthenticationError(
            f"{endpoint} does not have authentication enabled: connect without a user"
        )
    reason = details or code.name.lower().replace("_", " ")
    return ServerError(f"{endpoint}: {reason}")
