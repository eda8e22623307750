"""The errors the user can see, as types: ``str(exc)`` is a complete, readable sentence.

They are plain types so that every layer (profile validation, views, CLI) can name
them without importing the etcd client; ``etcd.errors.from_rpc_error`` makes them from
grpc failures. No message ever contains a secret: only endpoints, user names and
server-provided reasons go in.
"""

from __future__ import annotations


class EtcdError(Exception):
    """Base class: ``str(exc)`` is a complete, readable sentence."""


class BadEndpointError(EtcdError, ValueError):
    """An endpoint string that cannot be understood."""


class ConfigError(EtcdError, ValueError):
    """Inconsistent connection settings (e.g. a client key without a certificate)."""


class ConnectionRefusedEtcdError(EtcdError):
    pass


class UnreachableError(EtcdError):
    """Could not reach the endpoint (DNS, routing, reset)."""


class DeadlineError(EtcdError):
    """The endpoint accepted the call but did not answer in time."""


class TLSError(EtcdError):
    pass


class AuthenticationError(EtcdError):
    pass


class PermissionDeniedError(EtcdError):
    pass


class NoLeaderError(EtcdError):
    pass


class ServerError(EtcdError):
    """Any other error etcd reported, with etcd's own reason."""
