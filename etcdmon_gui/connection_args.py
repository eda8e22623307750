"""Connection arguments both faces share, ``etcdmon`` and ``etcdmon-gui``: etcdctl-style
flags, ``ETCDCTL_*`` variables or a saved profile, and where profiles and secrets live.

It sits beside ``cli/`` rather than in it: the desktop app parses the same flags and
must not import the command line.
"""

from __future__ import annotations

import argparse
import dataclasses
import getpass
import math
import os
import sys
from collections.abc import Mapping
from pathlib import Path

from etcdmon_gui.model.connection import (
    DEFAULT_TIMEOUT_S,
    ConnectionConfig,
    TLSConfig,
    parse_endpoints,
    split_user,
)
from etcdmon_gui.model.history import HistoryLimits
from etcdmon_gui.model.profile import TIMEOUT_MAX_S
from etcdmon_gui.scrub import remember_secret
from etcdmon_gui.store.files import read_file
from etcdmon_gui.store.history.db import limits
from etcdmon_gui.store.profiles import ProfileStore, secret_fields
from etcdmon_gui.store.profiles import connection_config as profile_connection_config
from etcdmon_gui.store.secrets import SecretStore, SecretStoreError

_ENVIRONMENT = {
    "endpoints": "ETCDCTL_ENDPOINTS",
    "cacert": "ETCDCTL_CACERT",
    "cert": "ETCDCTL_CERT",
    "key": "ETCDCTL_KEY",
    "user": "ETCDCTL_USER",
    "password": "ETCDCTL_PASSWORD",
}


class UsageError(Exception):
    """Options that do not fit together; the message says how to fix them."""


def from_environment(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The etcdctl environment variables that are set, by our option name."""
    env = os.environ if env is None else env
    return {opt: env[var] for opt, var in _ENVIRONMENT.items() if env.get(var)}


# -- options ------------------------------------------------------------------------


def call_timeout(text: str) -> float:
    """``--timeout``: seconds above 0 and at most ``TIMEOUT_MAX_S`` (a profile's bounds)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and 0 < value <= TIMEOUT_MAX_S):
        raise argparse.ArgumentTypeError(
            f"a number of seconds above 0 and at most {TIMEOUT_MAX_S:g} (e.g. 2), not {text!r}"
        )
    return value


def add_store_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("profiles and secrets")
    g.add_argument(
        "--profiles-file",
        type=Path,
        default=None,
        help="profiles YAML (default: $ETCDMON_PROFILES or the user config dir)",
    )
    g.add_argument(
        "--secrets",
        choices=("keyring", "encrypted-file", "memory"),
        default=os.environ.get("ETCDMON_SECRETS", "keyring"),
        help="where secrets live (default: the OS keyring)",
    )


def add_connection_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("connection (etcdctl-compatible; ETCDCTL_* variables also work)")
    g.add_argument(
        "--endpoints",
        help="comma-separated host:port or http(s)://host:port "
        "(default: $ETCDCTL_ENDPOINTS or 127.0.0.1:2379)",
    )
    g.add_argument("--cacert", help="CA bundle that signed the servers' certificates")
    g.add_argument("--cert", help="client certificate (PEM)")
    g.add_argument("--key", help="client private key (PEM)")
    g.add_argument("--server-name", help="expected server name in the certificate (override)")
    g.add_argument(
        "--insecure-skip-tls-verify",
        action="store_true",
        help="accept any server certificate (INSECURE; flagged in every result)",
    )
    g.add_argument("--user", help="user name, or user:password")
    g.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from the first line of standard input",
    )
    g.add_argument(
        "--timeout",
        type=call_timeout,
        default=None,
        metavar="SECONDS",
        help=f"deadline for every call, seconds, above 0 and at most {TIMEOUT_MAX_S:g} "
        f"(default {DEFAULT_TIMEOUT_S:g}, or the profile's)",
    )
    g.add_argument("--profile", help="connect with a saved profile (see `etcdmon profile`)")
    add_store_options(p)


# -- what the options name -----------------------------------------------------------


def add_history_options(p: argparse.ArgumentParser) -> None:
    """Where the history is kept and how much of it: the app's and ``etcdmon watch``'s."""
    g = p.add_argument_group("history")
    g.add_argument(
        "--history",
        type=Path,
        metavar="PATH",
        help="history database: metrics, members, alerts, benchmark runs (default: the "
        "one in the user data folder, which the app and etcdmon watch share)",
    )
    g.add_argument(
        "--keep-raw",
        metavar="DURATION",
        help="keep every sample this long; after it, the 1-minute (30 days) and 1-hour "
        "(a year) roll-ups remain (default 24h; 1h to 30d)",
    )
    g.add_argument(
        "--history-size",
        metavar="SIZE",
        help="the most the history may hold; the oldest data goes first (default 2GiB)",
    )


def history_limits(args: argparse.Namespace, default: HistoryLimits | None = None) -> HistoryLimits:
    """The limits the flags give, over ``default`` (the app's settings) for what they
    leave out."""
    return limits(args.keep_raw, args.history_size, default)


def profile_store(args: argparse.Namespace) -> ProfileStore:
    """The profiles file the options name. A password an older version left in it is
    moved into the secret store ``--secrets`` names, opened only if there is one."""

    def secrets() -> SecretStore:
        try:
            return secret_store(args)
        except UsageError as exc:
            raise SecretStoreError(str(exc)) from None

    return ProfileStore(args.profiles_file, secrets)


def secret_store(args: argparse.Namespace, *, need_persistent: bool = False) -> SecretStore:
    """The secret store ``--secrets`` names, opened once per command line (the
    encrypted file's master password comes from ``ETCDMON_MASTER_PASSWORD`` or a
    prompt on a terminal, asked once)."""

    def master_password() -> str:
        if not sys.stdin.isatty():
            raise UsageError(
                "the encrypted secrets file needs its master password: set "
                "ETCDMON_MASTER_PASSWORD or run interactively"
            )
        return getpass.getpass("Master password for etcdmon's secrets file: ")

    store: SecretStore | None = getattr(args, "opened_secret_store", None)
    if store is None:
        store = SecretStore.open(args.secrets, master_password)
        args.opened_secret_store = store
    if need_persistent and not store.info.persistent:
        raise UsageError(
            " ".join(
                x
                for x in (
                    f"secrets would only be kept in {store.info.name}.",
                    store.info.problem,
                    "Choose with --secrets encrypted-file (or ETCDMON_SECRETS=encrypted-file).",
                )
                if x
            )
        )
    return store


def config_from_flags(
    endpoints: str,
    *,
    cacert: str | None = None,
    cert: str | None = None,
    key: str | None = None,
    server_name: str | None = None,
    insecure_skip_verify: bool = False,
    user: str | None = None,
    password: str | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> ConnectionConfig:
    """etcdctl's reading of its flags: TLS files are read, and TLS flags make bare
    ``host:port`` endpoints https. Shared by the CLI and the app's Connect dialog."""
    tls = None
    if cacert or cert or key or server_name or insecure_skip_verify:
        tls = TLSConfig(
            ca=read_file(cacert, "CA certificate") if cacert else None,
            cert=read_file(cert, "client certificate") if cert else None,
            key=read_file(key, "client key") if key else None,
            server_name=server_name,
            insecure_skip_verify=insecure_skip_verify,
        )
        endpoints = ",".join(
            e if "://" in e else f"https://{e.strip()}" for e in endpoints.split(",")
        )
    remember_secret(password)  # typed or piped in: kept out of every log line from now
    return ConnectionConfig(
        endpoints=parse_endpoints(endpoints),
        tls=tls,
        user=user,
        password=password if user else None,
        timeout_s=timeout_s,
    )


def connection_config(args: argparse.Namespace) -> ConnectionConfig:
    """Build the connection from a profile, or from flags falling back to etcdctl's
    environment variables."""
    if args.profile:
        return _profile_config(args)
    env = from_environment()

    def pick(name: str) -> str | None:
        value: str | None = getattr(args, name, None) or env.get(name)
        return value

    user, password = split_user(pick("user"))
    if args.password_stdin:
        if not user:
            raise UsageError("--password-stdin needs --user NAME")
        password = sys.stdin.readline().rstrip("\r\n")
    elif user and password is None:
        password = env.get("password")
        if password is None:
            if not sys.stdin.isatty():
                raise UsageError(
                    f"no password for user '{user}': use --user {user}:PASSWORD, "
                    "--password-stdin or ETCDCTL_PASSWORD"
                )
            password = getpass.getpass(f"Password for {user}: ")
    endpoints = args.endpoints if args.endpoints is not None else env.get("endpoints")
    if endpoints is not None and not endpoints.strip(" ,"):
        raise UsageError(
            "--endpoints is empty: give host:port[,host:port...], e.g. --endpoints "
            "127.0.0.1:2379, or leave it out for 127.0.0.1:2379"
        )
    return config_from_flags(
        endpoints or "127.0.0.1:2379",
        cacert=pick("cacert"),
        cert=pick("cert"),
        key=pick("key"),
        server_name=args.server_name,
        insecure_skip_verify=bool(getattr(args, "insecure_skip_tls_verify", False)),
        user=user,
        password=password,
        timeout_s=DEFAULT_TIMEOUT_S if args.timeout is None else args.timeout,
    )


def _profile_config(args: argparse.Namespace) -> ConnectionConfig:
    explicit = [
        f"--{n.replace('_', '-')}"
        for n in ("endpoints", "cacert", "cert", "key", "user", "server_name")
        if getattr(args, n, None) is not None
    ]
    if getattr(args, "insecure_skip_tls_verify", False):
        explicit.append("--insecure-skip-tls-verify")
    if explicit:
        raise UsageError(f"--profile cannot be combined with {', '.join(explicit)}")
    profile = profile_store(args).get(args.profile)
    if not args.password_stdin:
        config = profile_connection_config(profile, secret_store(args))
    else:  # a one-off password instead of the stored one; everything else as stored
        if not profile.username:
            raise UsageError(f"profile {profile.name!r} has no user for --password-stdin")
        password = sys.stdin.readline().rstrip("\r\n")
        # TLS material imported into the keyring still comes from the secret store,
        # which is opened only if there is some.
        stored = [f for f in secret_fields(profile) if f != "password"]
        secrets = secret_store(args) if stored else SecretStore.memory()
        config = profile_connection_config(profile.model_copy(update={"username": None}), secrets)
        config = dataclasses.replace(config, user=profile.username, password=password)
    if args.timeout is not None:
        config = dataclasses.replace(config, timeout_s=args.timeout)
    return config
