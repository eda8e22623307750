"""Endpoint strings and connection settings, as etcdctl understands them.

``parse_endpoints("a:2379,https://b:2379")`` accepts what ``etcdctl --endpoints`` does:
bare ``host:port``, ``http://`` and ``https://`` URLs, comma-separated. ``ConnectionConfig``
bundles endpoints with TLS material (bytes, so it can come from a file or a keyring) and
credentials. Pure: the views validate endpoints with the same parser as the CLI.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from etcdmon_gui.model.errors import BadEndpointError, ConfigError

DEFAULT_TIMEOUT_S = 2.0


@dataclass(frozen=True, slots=True)
class Endpoint:
    scheme: str  # "http" or "https"
    host: str
    port: int

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"

    @property
    def target(self) -> str:
        """The gRPC target ``host:port``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def secure(self) -> bool:
        return self.scheme == "https"

    def __str__(self) -> str:
        return self.url


def parse_endpoint(text: str, *, default_scheme: str = "http") -> Endpoint:
    """Parse one endpoint; raises ``BadEndpointError`` saying what is wrong."""
    raw = text.strip()
    if not raw:
        raise BadEndpointError("empty endpoint: expected host:port, e.g. 127.0.0.1:2379")
    candidate = raw if "://" in raw else f"{default_scheme}://{raw}"
    try:
        parts = urlsplit(candidate)
        port = parts.port
    except ValueError as exc:
        raise BadEndpointError(
            f"bad endpoint {raw!r}: {exc}; expected host:port or http(s)://host:port"
        ) from None
    scheme = parts.scheme.lower()
    if scheme in ("unix", "unixs"):
        raise BadEndpointError(f"bad endpoint {raw!r}: unix sockets are not supported")
    if scheme not in ("http", "https"):
        raise BadEndpointError(
            f"bad endpoint {raw!r}: scheme {parts.scheme!r} is not http or https"
        )
    if not parts.hostname:
        raise BadEndpointError(f"bad endpoint {raw!r}: no host; expected host:port")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise BadEndpointError(f"bad endpoint {raw!r}: an endpoint has no path, e.g. host:2379")
    if parts.username or parts.password:
        raise BadEndpointError(
            f"bad endpoint {parts.hostname}: credentials do not belong in the endpoint; use --user"
        )
    if port is None:
        raise BadEndpointError(f"bad endpoint {raw!r}: no port; etcd's client port is usually 2379")
    if port == 0:
        raise BadEndpointError(f"bad endpoint {raw!r}: port 0 is not a valid port")
    return Endpoint(scheme, parts.hostname, port)


def parse_endpoints(text: str | list[str] | tuple[str, ...]) -> tuple[Endpoint, ...]:
    items = text.split(",") if isinstance(text, str) else [p for t in text for p in t.split(",")]
    items = [i for i in (s.strip() for s in items) if i]
    if not items:
        raise BadEndpointError("no endpoints given: use --endpoints host:2379[,host:2379...]")
    endpoints: list[Endpoint] = []
    for item in items:
        ep = parse_endpoint(item)
        if ep not in endpoints:
            endpoints.append(ep)
    return tuple(endpoints)


@dataclass(frozen=True, slots=True)
class TLSConfig:
    """TLS material as bytes. The server's certificate is verified unless
    ``insecure_skip_verify`` is set explicitly (then each member's certificate is taken
    as presented, and every snapshot carries a warning saying so)."""

    ca: bytes | None = None
    cert: bytes | None = None
    key: bytes | None = field(default=None, repr=False)
    server_name: str | None = None  # override for SNI and the certificate's host name
    insecure_skip_verify: bool = False

    def __post_init__(self) -> None:
        if (self.cert is None) != (self.key is None):
            raise ConfigError(
                "a client certificate needs its key and vice versa: give both --cert and --key"
            )


@dataclass(frozen=True, slots=True)
class ConnectionConfig:
    """Everything needed to talk to one cluster. ``password`` never appears in repr."""

    endpoints: tuple[Endpoint, ...]
    tls: TLSConfig | None = None
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout_s: float = DEFAULT_TIMEOUT_S
    metrics_urls: Mapping[str, str] = field(default_factory=dict)  # client URL -> metrics URL
    probe_key: bytes = b"health"  # what the linearizable probe reads, as etcdctl does
    key: str = ""  # identity stamped on snapshots; defaults to the endpoint list

    def __post_init__(self) -> None:
        if not self.endpoints:
            raise ConfigError("no endpoints given: use --endpoints host:2379")
        if self.timeout_s <= 0:
            raise ConfigError(f"timeout must be positive, got {self.timeout_s}")
        if self.password is not None and not self.user:
            raise ConfigError("a password was given without a user name: use --user NAME")
        if not self.key:
            object.__setattr__(self, "key", ",".join(e.url for e in self.endpoints))

    @property
    def uses_tls(self) -> bool:
        return self.tls is not None or any(e.secure for e in self.endpoints)


def split_user(value: str | None) -> tuple[str | None, str | None]:
    """``user`` or ``user:password`` as etcdctl's ``--user`` accepts it."""
    if not value:
        return None, None
    user, sep, password = value.partition(":")
    return user, (password if sep else None)
