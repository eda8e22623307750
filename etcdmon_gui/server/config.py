"""``etcdmon serve``'s configuration: one YAML file (``--config``), command-line flags
over it, validated into ``ServeConfig``.

Every refusal is a ``ServeConfigError`` whose lines each name where (the file and line,
or the flag), the field and the reason, as the profiles and settings files do. Relative
paths in the file are relative to the file's folder; a flag's to the working folder.
What the file names (profiles, channels, the token) is read later, by ``resolve``
(``server.clusters``), so a reload reads it again.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from etcdmon_gui.model.connection import DEFAULT_TIMEOUT_S, parse_endpoints
from etcdmon_gui.model.errors import BadEndpointError
from etcdmon_gui.model.postgres import PgSettings, SslMode
from etcdmon_gui.model.profile import TIMEOUT_MAX_S
from etcdmon_gui.monitor.alert_rules import parse_duration
from etcdmon_gui.store.yaml_nodes import compose_and_load

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 9479
MAX_FILE_BYTES = 1024 * 1024
DAY_S = 86_400.0

#: The flags that override a field, for messages about a value a flag gave.
FLAGS = {
    "host": "--host/--listen",
    "port": "--port/--listen",
    "token_file": "--token-file",
    "tls_cert": "--tls-cert",
    "tls_key": "--tls-key",
    "log_format": "--log-format",
    "log_level": "--log-level",
    "interval": "--interval",
    "clusters": "--profile/--endpoints",
    "history": "--history",
}


class ServeConfigError(Exception):
    """The configuration cannot be used; the message says where, what and why."""


def _duration(value: Any, low: float, high: float, example: str) -> float:
    try:
        seconds = parse_duration(value)
    except ValueError:
        seconds = math.nan
    if not low <= seconds <= high:
        raise ValueError(
            f"{value!r}: give a duration from {_span(low)} to {_span(high)}, e.g. {example}"
        )
    return seconds


def _span(seconds: float) -> str:
    for unit, size in (("d", DAY_S), ("h", 3600.0), ("m", 60.0)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g}{unit}"
    return f"{seconds:g}s"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EndpointsCluster(_Model):
    """A cluster given by its endpoints rather than a saved profile."""

    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.:@-]+$")
    endpoints: list[str] = Field(min_length=1)
    cacert: Path | None = None
    cert: Path | None = None
    key: Path | None = None
    server_name: str | None = None
    insecure_skip_tls_verify: bool = False
    user: str | None = None
    password_file: Path | None = None
    timeout_s: float = Field(DEFAULT_TIMEOUT_S, gt=0, le=TIMEOUT_MAX_S)
    tags: list[str] = []
    channels: list[str] | None = None  # the channels its alerts go to (None: all)
    alert_overrides: dict[str, dict[str, Any]] = {}

    @field_validator("endpoints", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        return (
            [e.strip() for e in value.split(",") if e.strip()] if isinstance(value, str) else value
        )

    @field_validator("endpoints")
    @classmethod
    def _parse(cls, value: list[str]) -> list[str]:
        try:
            parse_endpoints(",".join(value))
        except BadEndpointError as exc:
            raise ValueError(str(exc)) from None
        return value

    @model_validator(mode="after")
    def _pairs(self) -> EndpointsCluster:
        if (self.cert is None) != (self.key is None):
            raise ValueError("a client certificate needs its key: give both cert and key")
        if self.password_file is not None and not self.user:
            raise ValueError("password_file needs a user")
        return self


class Clusters(_Model):
    """Which clusters to watch: saved profiles (``all``, or a list of names) and
    clusters given by their endpoints."""

    profiles: Literal["all"] | list[str] = "all"
    endpoints: list[EndpointsCluster] = []


class Postgres(_Model):
    """A PostgreSQL history shared with other servers and desktops: a libpq ``dsn``
    (``host=... dbname=... user=...`` or ``postgresql://user@host/db``), or its parts
    (``host``, ``port``, ``dbname``, ``user``, ``sslmode``, ``sslrootcert``). The
    password is never in this file: ``password_file``, or libpq's own ways
    (``~/.pgpass``, ``PGPASSWORD``)."""

    dsn: str | None = Field(None, min_length=1)
    host: str | None = Field(None, min_length=1)
    port: int = Field(5432, ge=1, le=65535)
    dbname: str = Field("etcdmon", min_length=1)
    user: str = Field("etcdmon", min_length=1)
    sslmode: SslMode = SslMode.PREFER
    sslrootcert: str | None = None
    password_file: Path | None = None

    @field_validator("dsn")
    @classmethod
    def _no_password(cls, value: str | None) -> str | None:
        if value is None:
            return value
        in_uri = "://" in value and urlsplit(value).password is not None
        if in_uri or "password=" in value.lower():
            raise ValueError(
                "the DSN holds a password: put it in password_file (readable by this user "
                "only) or ~/.pgpass instead, so it is in no config file or log"
            )
        return value

    @model_validator(mode="after")
    def _one(self) -> Postgres:
        if (self.dsn is None) == (self.host is None):
            raise ValueError("give dsn, or host (with port, dbname, user), one of them")
        return self

    def target(self) -> PgSettings | str:
        """What ``store.history.postgres`` connects to."""
        if self.dsn is not None:
            return self.dsn
        assert self.host is not None
        return PgSettings(
            host=self.host,
            port=self.port,
            dbname=self.dbname,
            user=self.user,
            sslmode=self.sslmode,
            sslrootcert=self.sslrootcert,
        )


class History(_Model):
    """Where the history is kept: the SQLite file (default: the one in the user data
    folder, which the desktop app and ``etcdmon watch`` share) or PostgreSQL."""

    sqlite: Path | None = None
    postgres: Postgres | None = None
    keep_raw: str | None = None
    size: str | None = None

    @model_validator(mode="after")
    def _one(self) -> History:
        if self.sqlite is not None and self.postgres is not None:
            raise ValueError("give sqlite or postgres, not both")
        return self


class ServeConfig(_Model):
    """Everything ``etcdmon serve`` is told; see ``packaging/serve/etcdmon-serve.example.yaml``."""

    host: str = DEFAULT_HOST
    port: int = Field(DEFAULT_PORT, ge=1, le=65535)
    token_file: Path | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None
    log_format: Literal["text", "json"] = "text"
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    interval: float = 5.0  # seconds between sweeps
    clusters: Clusters = Clusters()
    rules: Path | None = None
    channels: Literal["all", "none"] | list[str] = "all"
    channels_file: Path | None = None
    retry_for: float = DAY_S  # seconds a failed notification is retried
    history: History = History()
    allow_production_benchmarks: bool = False
    profiles_file: Path | None = None
    secrets: Literal["keyring", "encrypted-file", "memory"] = "keyring"

    @field_validator("log_level", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value

    @field_validator("interval", mode="before")
    @classmethod
    def _interval(cls, value: Any) -> float:
        return _duration(value, 1.0, 3600.0, "5s")

    @field_validator("retry_for", mode="before")
    @classmethod
    def _retry_for(cls, value: Any) -> float:
        return _duration(value, 0.0, 30 * DAY_S, "24h")

    @field_validator("host")
    @classmethod
    def _host(cls, value: str) -> str:
        if not value or any(c.isspace() for c in value) or "/" in value:
            raise ValueError(f"{value!r} is not a host name or address to listen on")
        return value

    @model_validator(mode="after")
    def _tls_pair(self) -> ServeConfig:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("HTTPS needs both tls_cert and tls_key (--tls-cert, --tls-key)")
        return self

    @property
    def loopback(self) -> bool:
        """Whether the server listens on loopback only."""
        return is_loopback(self.host)

    @property
    def tls(self) -> bool:
        return self.tls_cert is not None


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name: it may resolve to anything


# -- reading ----------------------------------------------------------------------------


def _line(root: yaml.Node | None, loc: Sequence[str | int]) -> int | None:
    """1-based line of the node at ``loc`` (keys and indexes), or of its nearest parent."""
    node, line = root, (None if root is None else root.start_mark.line + 1)
    for step in loc:
        child = None
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                if getattr(k, "value", None) == step:
                    child = v
                    break
        elif (
            isinstance(node, yaml.SequenceNode) and isinstance(step, int) and step < len(node.value)
        ):
            child = node.value[step]
        if child is None:
            break
        node, line = child, child.start_mark.line + 1
    return line


def _reason(err: Mapping[str, Any]) -> str:
    kind = str(err.get("type", ""))
    if kind == "extra_forbidden":
        return "not a setting etcdmon serve knows (misspelt?)"
    if kind == "missing":
        return "required"
    message = str(err.get("msg", "invalid"))
    return message.removeprefix("Value error, ")


def _field(loc: Sequence[str | int]) -> str:
    return ".".join(
        str(x) for x in loc if not str(x).startswith(("function-", "literal[", "list["))
    )


def read_file(path: Path) -> tuple[dict[str, Any], yaml.Node | None]:
    """The file's mapping and node tree; ``ServeConfigError`` when it is no such thing."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ServeConfigError(
                f"{path}: {size} bytes is far too large for a configuration file"
            )
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ServeConfigError(
            f"{path}: no such file; give an existing configuration file"
        ) from None
    except UnicodeDecodeError:
        raise ServeConfigError(f"{path}: not UTF-8 text") from None
    except OSError as exc:
        raise ServeConfigError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    try:
        root, data = compose_and_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f", line {mark.line + 1}" if mark is not None else ""
        reason = getattr(exc, "problem", None) or str(exc)
        raise ServeConfigError(f"{path}{at}: not valid YAML ({reason})") from None
    if data is None:
        return {}, root
    if not isinstance(data, dict):
        raise ServeConfigError(
            f"{path}, line 1: expected a mapping of settings (port: 9479, interval: 5s, ...)"
        )
    return data, root


def _rebase(data: dict[str, Any], base: Path) -> dict[str, Any]:
    """The file's relative paths made relative to ``base`` (its folder)."""
    out = dict(data)

    def fix(mapping: dict[str, Any], keys: Sequence[str]) -> dict[str, Any]:
        fixed = dict(mapping)
        for k in keys:
            v = fixed.get(k)
            if isinstance(v, str) and v and not Path(v).expanduser().is_absolute():
                fixed[k] = str(base / v)
            elif isinstance(v, str) and v:
                fixed[k] = str(Path(v).expanduser())
        return fixed

    out = fix(out, ("token_file", "tls_cert", "tls_key", "rules", "channels_file", "profiles_file"))
    history = out.get("history")
    if isinstance(history, dict):
        history = fix(history, ("sqlite",))
        if isinstance(history.get("postgres"), dict):
            history["postgres"] = fix(history["postgres"], ("password_file",))
        out["history"] = history
    clusters = out.get("clusters")
    if isinstance(clusters, dict) and isinstance(clusters.get("endpoints"), list):
        clusters = dict(clusters)
        clusters["endpoints"] = [
            fix(e, ("cacert", "cert", "key", "password_file")) if isinstance(e, dict) else e
            for e in clusters["endpoints"]
        ]
        out["clusters"] = clusters
    return out


def load_config(path: Path | None, overrides: Mapping[str, Any] | None = None) -> ServeConfig:
    """The configuration from ``path`` (None: defaults only) with ``overrides`` (from
    flags, by field name) over it. Raises ``ServeConfigError``: one line per problem,
    each naming the file and line (or the flag), the field and the reason."""
    data: dict[str, Any] = {}
    root: yaml.Node | None = None
    if path is not None:
        data, root = read_file(path)
        data = {k: v for k, v in data.items() if v is not None}  # "key:" alone: the default
        data = _rebase(data, path.resolve().parent)
    flags = dict(overrides or {})
    merged = {**data, **flags}
    if isinstance(flags.get("history"), dict) and isinstance(data.get("history"), dict):
        # --history names the SQLite file; the file's limits stay, its postgres goes
        kept = {k: v for k, v in data["history"].items() if k not in ("sqlite", "postgres")}
        merged["history"] = {**kept, **flags["history"]}
    try:
        return ServeConfig.model_validate(merged)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            loc = tuple(err.get("loc", ()))
            name = _field(loc)
            reason = _reason(err)
            if loc and loc[0] in flags:
                lines.append(f"{FLAGS.get(str(loc[0]), str(loc[0]))}: {name}: {reason}")
            elif path is not None:
                line = _line(root, loc)
                at = f", line {line}" if line else ""
                lines.append(f"{path}{at}: {name or 'the file'}: {reason}")
            else:
                lines.append(f"{name or 'configuration'}: {reason}")
        raise ServeConfigError("\n".join(dict.fromkeys(lines))) from None
