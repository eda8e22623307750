"""Connection options every command that talks to a cluster shares, CLI and GUI alike:
etcdctl-style flags, ``ETCDCTL_*`` variables, or a saved profile."""

from __future__ import annotations

import argparse
import dataclasses
import getpass
import sys

from etcdmon_gui.etcd.endpoints import (
    DEFAULT_TIMEOUT_S,
    ConnectionConfig,
    TLSConfig,
    from_environment,
    parse_endpoints,
    read_file,
    split_user,
)
from etcdmon_gui.profile_cli import add_store_options, profile_store, secret_store
from etcdmon_gui.store.profiles import connection_config as profile_connection_config
from etcdmon_gui.store.secrets import SecretStore


class UsageError(Exception):
    pass


# -- connection options shared by every command that talks to a cluster -------------


def add_connection_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("connection (etcdctl-compatible; ETCDCTL_* variables also work)")
    g.add_argument("--endpoints", help="comma-separated host:port or http(s)://host:port "
                   "(default: $ETCDCTL_ENDPOINTS or 127.0.0.1:2379)")
    g.add_argument("--cacert", help="CA bundle that signed the servers' certificates")
    g.add_argument("--cert", help="client certificate (PEM)")
    g.add_argument("--key", help="client private key (PEM)")
    g.add_argument("--server-name", help="expected server name in the certificate (override)")
    g.add_argument("--insecure-skip-tls-verify", action="store_true",
                   help="accept any server certificate (INSECURE; flagged in every result)")
    g.add_argument("--user", help="user name, or user:password")
    g.add_argument("--password-stdin", action="store_true",
                   help="read the password from the first line of standard input")
    g.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S,
                   help="deadline for every call, seconds (default %(default)s)")
    g.add_argument("--profile", help="connect with a saved profile (see `etcdmon profile`)")
    add_store_options(p)


def connection_config(args: argparse.Namespace) -> ConnectionConfig:
    """Build the connection from a profile, or from flags falling back to etcdctl's
    environment variables."""
    if args.profile:
        return _profile_config(args)
    env = from_environment()

    def pick(name: str) -> str | None:
        value: str | None = getattr(args, name, None) or env.get(name)
        return value
    cacert, cert, key = pick("cacert"), pick("cert"), pick("key")
    tls = None
    insecure = bool(getattr(args, "insecure_skip_tls_verify", False))
    if cacert or cert or key or args.server_name or insecure:
        tls = TLSConfig(
            ca=read_file(cacert, "CA certificate (--cacert)") if cacert else None,
            cert=read_file(cert, "client certificate (--cert)") if cert else None,
            key=read_file(key, "client key (--key)") if key else None,
            server_name=args.server_name,
            insecure_skip_verify=insecure,
        )
    endpoints_text = pick("endpoints") or "127.0.0.1:2379"
    if tls is not None:  # like etcdctl: TLS flags make bare host:port endpoints https
        endpoints_text = ",".join(
            e if "://" in e else f"https://{e.strip()}" for e in endpoints_text.split(",")
        )
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
    return ConnectionConfig(
        endpoints=parse_endpoints(endpoints_text), tls=tls, user=user, password=password,
        timeout_s=args.timeout,
    )


def _profile_config(args: argparse.Namespace) -> ConnectionConfig:
    explicit = [f"--{n}" for n in ("endpoints", "cacert", "cert", "key", "user")
                if getattr(args, n, None)]
    if explicit:
        raise UsageError(f"--profile cannot be combined with {', '.join(explicit)}")
    profile = profile_store(args).get(args.profile)
    secrets = secret_store(args)
    if args.password_stdin:  # a one-off password instead of the stored one
        if not profile.username:
            raise UsageError(f"profile {profile.name!r} has no user for --password-stdin")
        secrets = SecretStore.memory()
        secrets.set(profile.id, "password", sys.stdin.readline().rstrip("\r\n"))
    config = profile_connection_config(profile, secrets)
    return dataclasses.replace(config, timeout_s=args.timeout) if (
        args.timeout != DEFAULT_TIMEOUT_S) else config
