"""What a ``ServeConfig`` names, read: the clusters to watch (profiles with their
secrets, clusters given by endpoints with their TLS files), the channels with their
secrets copied into the run's own store, the rules checked, the bearer token.

``resolve`` does all the reading, so start-up and every reload (SIGHUP) read the files
again, and a reload that cannot read something keeps the configuration in force.
Raises ``ServeConfigError`` saying what and how to fix it; never puts a secret in it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from etcdmon_gui.model.connection import ConnectionConfig, TLSConfig, parse_endpoints
from etcdmon_gui.model.errors import ConfigError, EtcdError
from etcdmon_gui.model.postgres import SslMode
from etcdmon_gui.model.safety import needs_confirmation
from etcdmon_gui.monitor.alert_rules import RulesError, load_rules
from etcdmon_gui.notify.base import ChannelBase
from etcdmon_gui.server.config import (
    EndpointsCluster,
    Postgres,
    ServeConfig,
    ServeConfigError,
    is_loopback,
)
from etcdmon_gui.services.watching import copy_secrets
from etcdmon_gui.store.channels import ChannelStore, ChannelStoreError
from etcdmon_gui.store.files import read_file
from etcdmon_gui.store.profiles import ProfileStore, ProfileStoreError, user_rules_path
from etcdmon_gui.store.profiles import connection_config as profile_connection_config
from etcdmon_gui.store.secret_file import SecretFileError, group_may_read, read_secret_file
from etcdmon_gui.store.secrets import SecretStore, SecretStoreError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ClusterTarget:
    """One cluster to watch: its name (in URLs and labels), its key (history and
    alerts), how to reach it, its rule overrides and channels, whether it is tagged
    production."""

    name: str
    key: str
    config: ConnectionConfig
    overrides: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    channels: tuple[str, ...] | None = None
    production: bool = False
    tags: tuple[str, ...] = ()


@dataclass
class Resolved:
    """A configuration with everything it names read."""

    config: ServeConfig
    targets: list[ClusterTarget]
    channels: list[ChannelBase]
    session: SecretStore  # the channels' secrets, copied; never written to disk
    rules_path: Path | None
    token: str | None
    notes: list[str] = field(default_factory=list)  # worth a warning, not a refusal


def read_token(path: Path) -> str:
    """The bearer token in ``path``, by ``store.secret_file``'s rule (the first line; a
    file others may read guards nothing: refused, ``chmod 600`` it), at least 16
    characters without spaces."""
    try:
        text = read_secret_file(path, "token file")
    except SecretFileError as exc:
        raise ServeConfigError(
            f"{exc}"
            + (
                f"; e.g. `head -c 32 /dev/urandom | base64 > {path} && chmod 600 {path}`"
                if "no such file" in str(exc)
                else ""
            )
        ) from None
    if len(text) < 16 or any(c.isspace() for c in text):
        raise ServeConfigError(
            f"token file {path}: expected one line of at least 16 characters without "
            "spaces, the token"
        )
    return text


def _open_secrets(kind: str) -> Callable[[], SecretStore]:
    opened: list[SecretStore] = []

    def master_password() -> str:
        raise SecretStoreError(
            "the encrypted secrets file needs its master password: set ETCDMON_MASTER_PASSWORD"
        )

    def get() -> SecretStore:
        if not opened:
            opened.append(SecretStore.open(kind, master_password))
        return opened[0]

    return get


def _endpoints_target(entry: EndpointsCluster) -> ClusterTarget:
    tls = None
    if (
        entry.cacert
        or entry.cert
        or entry.key
        or entry.server_name
        or entry.insecure_skip_tls_verify
    ):
        tls = TLSConfig(
            ca=read_file(entry.cacert, "CA certificate") if entry.cacert else None,
            cert=read_file(entry.cert, "client certificate") if entry.cert else None,
            key=read_file(entry.key, "client key") if entry.key else None,
            server_name=entry.server_name,
            insecure_skip_verify=entry.insecure_skip_tls_verify,
        )
    text = ",".join(e if "://" in e or tls is None else f"https://{e}" for e in entry.endpoints)
    password = None
    if entry.password_file is not None:
        try:
            password = read_secret_file(entry.password_file, "password file")
        except SecretFileError as exc:
            raise ConfigError(str(exc)) from None
    config = ConnectionConfig(
        parse_endpoints(text),
        tls=tls,
        user=entry.user,
        password=password if entry.user else None,
        timeout_s=entry.timeout_s,
    )
    return ClusterTarget(
        name=entry.name,
        key=config.key,
        config=config,
        overrides=entry.alert_overrides,
        channels=tuple(entry.channels) if entry.channels is not None else None,
        production=needs_confirmation(entry.tags),
        tags=tuple(entry.tags),
    )


def resolve(config: ServeConfig) -> Resolved:
    """Read what ``config`` names; ``ServeConfigError`` when something cannot be used."""
    secrets = _open_secrets(config.secrets)
    notes: list[str] = []
    targets: list[ClusterTarget] = []
    problems: list[str] = []
    wanted = config.clusters.profiles
    if wanted == "all" or wanted:
        store = ProfileStore(config.profiles_file, secrets)
        try:
            listing = store.load()
        except (ProfileStoreError, SecretStoreError) as exc:
            raise ServeConfigError(f"profiles: {exc}") from None
        for problem in listing.problems:
            notes.append(f"profiles file {store.path}: {problem}")
        by_name = {p.name: p for p in listing.profiles}
        if wanted == "all":
            chosen = listing.profiles
        else:
            missing = [n for n in wanted if n not in by_name]
            if missing:
                known = ", ".join(sorted(by_name)) or "none"
                raise ServeConfigError(
                    f"profiles {', '.join(map(repr, missing))} are not in {store.path} "
                    f"(known: {known}); add them with `etcdmon profile add`, or fix the names"
                )
            chosen = [by_name[n] for n in wanted]
        for profile in chosen:
            try:
                connection = profile_connection_config(profile, secrets())
            except (ProfileStoreError, SecretStoreError, ConfigError) as exc:
                problems.append(f"profile {profile.name!r}: {exc}")
                continue
            targets.append(
                ClusterTarget(
                    name=profile.name,
                    key=profile.key,
                    config=connection,
                    overrides=profile.alert_overrides,
                    channels=tuple(profile.channels) if profile.channels else None,
                    production=needs_confirmation(profile.tags),
                    tags=tuple(profile.tags),
                )
            )
    for entry in config.clusters.endpoints:
        try:
            targets.append(_endpoints_target(entry))
        except (EtcdError, ConfigError) as exc:
            problems.append(f"cluster {entry.name!r}: {exc}")
    if problems:
        raise ServeConfigError("\n".join(problems))
    seen: dict[str, str] = {}
    for t in targets:
        for what in (f"name {t.name!r}", f"endpoints {t.key}"):
            if what in seen:
                raise ServeConfigError(
                    f"two clusters with the {what} ({seen[what]} and {t.name!r}); each cluster "
                    "is watched once, under a name of its own"
                )
            seen[what] = repr(t.name)
    rules_path = config.rules
    if rules_path is not None and not rules_path.is_file():
        raise ServeConfigError(f"rules: {rules_path}: no such file; give an existing rules YAML")
    rules_path = rules_path or user_rules_path()
    for t in targets:
        try:
            load_rules(rules_path, t.overrides, t.name)
        except RulesError as exc:
            raise ServeConfigError(f"rules for {t.name!r}: {exc}") from None
    channels, session = _channels(config, secrets, notes)
    token = read_token(config.token_file) if config.token_file is not None else None
    pg = config.history.postgres
    if pg is not None and pg.password_file is not None:
        try:  # read again when the history opens (at start): checked here at each reload
            read_secret_file(pg.password_file, "PostgreSQL password file")
        except SecretFileError as exc:
            raise ServeConfigError(f"history.postgres: {exc}") from None
    notes.extend(secret_file_notes(config))
    return Resolved(config, targets, channels, session, rules_path, token, notes)


def _channels(
    config: ServeConfig, secrets: Callable[[], SecretStore], notes: list[str]
) -> tuple[list[ChannelBase], SecretStore]:
    session = SecretStore.memory()
    if config.channels == "none":
        return [], session
    store = ChannelStore(config.channels_file)
    try:
        channels = store.load()
    except ChannelStoreError as exc:
        raise ServeConfigError(f"channels: {exc}") from None
    if config.channels != "all":
        names = {c.name: c for c in channels} | {c.id: c for c in channels}
        missing = [n for n in config.channels if n not in names]
        if missing:
            known = ", ".join(sorted(c.name for c in channels)) or "none"
            raise ServeConfigError(
                f"channels {', '.join(map(repr, missing))} are not in {store.path} (known: {known})"
            )
        channels = list({names[n].id: names[n] for n in config.channels}.values())
    usable = []
    for channel in channels:
        needs = channel.enabled and channel.secret_names()
        try:
            store_ = secrets() if needs else None
        except SecretStoreError as exc:
            notes.append(f"channel {channel.name!r}: left out: {exc}")
            continue
        problem = copy_secrets(channel, store_, session)
        if problem is None:
            usable.append(channel)
        else:
            notes.append(f"channel {channel.name!r}: {problem}")
    return usable, session


def secret_file_notes(config: ServeConfig) -> list[str]:
    """The secret files (token, etcd and PostgreSQL passwords) their group may read:
    worth a warning (others reading them is refused)."""
    files = [("token file", config.token_file)]
    files += [
        (f"cluster {e.name!r}: password file", e.password_file) for e in config.clusters.endpoints
    ]
    pg = config.history.postgres
    files.append(("PostgreSQL password file", None if pg is None else pg.password_file))
    return [
        f"{what} {path}: its group may read it (chmod 600?)"
        for what, path in files
        if path is not None and group_may_read(path)
    ]


def postgres_tls_warning(pg: Postgres | None) -> str | None:
    """A PostgreSQL history reached over the network without ``sslmode: verify-full``:
    nothing checks who answers, which then gets the password. None when loopback, a
    unix socket or verified. A ``dsn`` is read as libpq would (``PGHOST``, ``PGSSLMODE``)."""
    if pg is None:
        return None
    if pg.dsn is not None:
        # Imported here: psycopg is loaded only by a server that uses PostgreSQL.
        from etcdmon_gui.model.history import HistoryError
        from etcdmon_gui.store.history.postgres.connect import settings_of

        try:
            settings = settings_of(pg.dsn)
        except HistoryError:
            return None  # refused with its reason when the history opens
        host, sslmode = settings.host, settings.sslmode
    else:
        host, sslmode = pg.host or "", pg.sslmode
    host = host.split(",")[0].strip()
    if sslmode is SslMode.VERIFY_FULL or not host or host.startswith("/") or is_loopback(host):
        return None
    return (
        f"history.postgres: the database at {host} is reached with sslmode {sslmode.value}, "
        "which does not check who answers: the password may go to whoever does (a spoofed "
        "address, a man in the middle); set sslmode: verify-full and sslrootcert: the CA "
        "file that signed the server's certificate"
    )
