"""What a ``ServeConfig`` names, read: the clusters to watch (profiles with their
secrets, clusters given by endpoints with their TLS files), the channels with their
secrets copied into the run's own store, the rules checked, the bearer token.

``resolve`` does all the reading, so start-up and every reload (SIGHUP) read the files
again, and a reload that cannot read something keeps the configuration in force.
Raises ``ServeConfigError`` saying what and how to fix it; never puts a secret in it.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from etcdmon_gui.model.connection import ConnectionConfig, TLSConfig, parse_endpoints
from etcdmon_gui.model.errors import ConfigError, EtcdError
from etcdmon_gui.model.safety import needs_confirmation
from etcdmon_gui.monitor.alert_rules import RulesError, load_rules
from etcdmon_gui.notify.base import ChannelBase
from etcdmon_gui.scrub import remember_secret
from etcdmon_gui.server.config import EndpointsCluster, ServeConfig, ServeConfigError
from etcdmon_gui.services.watching import copy_secrets
from etcdmon_gui.store.channels import ChannelStore, ChannelStoreError
from etcdmon_gui.store.files import read_file
from etcdmon_gui.store.profiles import ProfileStore, ProfileStoreError, user_rules_path
from etcdmon_gui.store.profiles import connection_config as profile_connection_config
from etcdmon_gui.store.secrets import SecretStore, SecretStoreError

log = logging.getLogger(__name__)

MAX_TOKEN_BYTES = 4096


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
    """The bearer token in ``path``: one line, refused if others may read it (a token
    anyone on the machine can read guards nothing; ``chmod 600`` it)."""
    try:
        info = path.stat()
        if info.st_mode & (stat.S_IROTH | stat.S_IWOTH):
            raise ServeConfigError(
                f"token file {path}: readable or writable by every user on this machine, so "
                f"it guards nothing; make it private: chmod 600 {path}"
            )
        if info.st_size > MAX_TOKEN_BYTES:
            raise ServeConfigError(f"token file {path}: too large for a token (one line)")
        text = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise ServeConfigError(
            f"token file {path}: no such file; create one, e.g. `head -c 32 /dev/urandom | "
            f"base64 > {path} && chmod 600 {path}`"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise ServeConfigError(f"token file {path}: cannot be read ({reason})") from None
    if not text or "\n" in text or len(text) < 16:
        raise ServeConfigError(
            f"token file {path}: expected one line of at least 16 characters, the token"
        )
    remember_secret(text)  # kept out of every log line from now
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
            password = entry.password_file.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or str(exc)
            raise ConfigError(
                f"cannot read password file {entry.password_file}: {reason}"
            ) from None
        remember_secret(password)
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
    if config.token_file is not None:
        mode = config.token_file.stat().st_mode
        if mode & stat.S_IRGRP:
            notes.append(f"token file {config.token_file}: its group may read it (chmod 600?)")
    if (note := history_note(config)) is not None:
        notes.append(note)
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


def history_note(config: ServeConfig) -> str | None:
    """A PostgreSQL password file others may read is worth a warning."""
    pg = config.history.postgres
    if pg is None or pg.password_file is None:
        return None
    try:
        mode = os.stat(pg.password_file).st_mode
    except OSError:
        return None
    if mode & (stat.S_IROTH | stat.S_IRGRP):
        return f"PostgreSQL password file {pg.password_file}: others may read it (chmod 600)"
    return None
