"""``etcdmon serve``: one long-running watcher for a team, with a REST API and a
Prometheus exporter (``server/``).

Reads its configuration (``--config`` YAML, flags over it), refuses what cannot be
used before anything starts (exit 2), then runs uvicorn in the main thread. SIGTERM
and SIGINT stop it cleanly (exit 0): uvicorn stops answering, then the runtime stops
its sweeps, sends the last alerts and closes the history. SIGHUP reloads the
configuration: one that is malformed, or names what cannot be read, is logged with
the reason and the one in force stays; a valid one is applied and logged.

The signal handlers only set a flag (SIGTERM, SIGINT: uvicorn's ``should_exit``) or
write a byte to a pipe (SIGHUP); the reload runs on a thread of its own, so a burst of
signals cannot hang the process (see ``etcd.sandbox.SignalStop`` for why).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import ssl
import sys
import threading
from pathlib import Path
from typing import Any

import uvicorn

from etcdmon_gui.cli.common import EXIT_OK, EXIT_USAGE, USAGE_CODE, add_command
from etcdmon_gui.connection_args import UsageError, add_store_options
from etcdmon_gui.server.api import Auth, create_app
from etcdmon_gui.server.clusters import Resolved, postgres_tls_warning, resolve
from etcdmon_gui.server.config import (
    DEFAULT_PORT,
    ServeConfig,
    ServeConfigError,
    is_loopback,
    load_config,
)
from etcdmon_gui.server.exporter import Exporter, ServerMetrics
from etcdmon_gui.server.history import open_history
from etcdmon_gui.server.runtime import ServerRuntime
from etcdmon_gui.store.logs import set_level, setup_logging

log = logging.getLogger("etcdmon_gui.serve")

#: Settings a reload cannot change: they take effect at the next start.
RESTART_ONLY = ("host", "port", "tls_cert", "tls_key", "history", "log_format", "secrets")


def _listen(text: str) -> tuple[str, int | None]:
    """``--listen HOST[:PORT]`` (``[::1]:9479`` for IPv6)."""
    text = text.strip()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest.removeprefix(":") or None
    elif text.count(":") == 1:
        host, port = text.split(":")
    else:
        host, port = text, None
    if not host:
        raise UsageError(f"--listen {text!r}: give HOST[:PORT], e.g. 0.0.0.0:9479")
    try:
        return host, None if port is None else int(port)
    except ValueError:
        raise UsageError(f"--listen {text!r}: the port must be a number, e.g. :9479") from None


def overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The configuration fields the flags set (paths made absolute: a reload later
    reads them from the same place whatever the working folder is then)."""
    out: dict[str, Any] = {}
    if args.listen is not None:
        host, port = _listen(args.listen)
        out["host"] = host
        if port is not None:
            out["port"] = port
    if args.host is not None:
        out["host"] = args.host
    if args.port is not None:
        out["port"] = args.port
    for flag, field in (
        ("token_file", "token_file"),
        ("tls_cert", "tls_cert"),
        ("tls_key", "tls_key"),
        ("profiles_file", "profiles_file"),
    ):
        value = getattr(args, flag)
        if value is not None:
            out[field] = str(Path(value).expanduser().absolute())
    for flag in ("log_format", "log_level", "interval"):
        if getattr(args, flag) is not None:
            out[flag] = getattr(args, flag)
    if args.secrets is not None:
        out["secrets"] = args.secrets
    if args.profile or args.endpoints:
        endpoints = []
        if args.endpoints:
            first = args.endpoints.split(",")[0].strip()
            name = first.split("://")[-1]
            endpoints.append({"name": name, "endpoints": args.endpoints})
        out["clusters"] = {"profiles": list(args.profile), "endpoints": endpoints}
    if args.history is not None:
        out["history"] = {"sqlite": str(Path(args.history).expanduser().absolute())}
    return out


def read_config(args: argparse.Namespace) -> tuple[ServeConfig, Resolved]:
    """The configuration and what it names; ``ServeConfigError`` when unusable."""
    config = load_config(args.config, overrides(args))
    if not config.loopback and config.token_file is None:
        raise ServeConfigError(
            f"listening on {config.host} (beyond this machine) needs a bearer token: "
            "give --token-file FILE (or token_file in the configuration), a file readable "
            "by this user only holding one line, e.g. `head -c 32 /dev/urandom | base64 > "
            "FILE && chmod 600 FILE`"
        )
    return config, resolve(config)


def _check_tls(config: ServeConfig) -> None:
    if config.tls_cert is None or config.tls_key is None:
        return
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(
            config.tls_cert, config.tls_key
        )
    except (OSError, ssl.SSLError) as exc:
        reason = getattr(exc, "strerror", None) or getattr(exc, "reason", None) or str(exc)
        raise ServeConfigError(
            f"--tls-cert {config.tls_cert} / --tls-key {config.tls_key}: cannot be used for "
            f"HTTPS ({reason}); give a PEM certificate (chain) and its private key"
        ) from None


class Reloader:
    """SIGHUP -> a byte in a pipe -> a reload on this thread. ``install`` takes SIGHUP
    (from then on a signal is kept, not fatal); ``run`` starts the thread, once the
    runtime has started, so a SIGHUP before that is applied after it, never alongside."""

    def __init__(
        self,
        args: argparse.Namespace,
        config: ServeConfig,
        runtime: ServerRuntime,
        auth: Auth,
    ) -> None:
        self.args, self.config, self.runtime, self.auth = args, config, runtime, auth
        self.bound_host = config.host  # what uvicorn listens on until the next start
        self._read, self._write = os.pipe()
        os.set_blocking(self._write, False)
        self._thread = threading.Thread(target=self._run, name="serve-reload", daemon=True)

    def install(self) -> Reloader:
        signal.signal(signal.SIGHUP, self._on_signal)
        return self

    def run(self) -> None:
        self._thread.start()

    def _on_signal(self, signum: int, frame: object) -> None:
        with contextlib.suppress(OSError):  # full: a reload is already coming
            os.write(self._write, b"h")

    def _run(self) -> None:
        try:
            while True:
                try:
                    data = os.read(self._read, 64)
                except OSError:
                    return
                if not data or b"\0" in data:
                    return
                self.reload()
        finally:  # closed by the one thread reading it: never a number reused meanwhile
            with contextlib.suppress(OSError):
                os.close(self._read)

    def reload(self) -> None:
        where = self.args.config or "the command line"
        log.info("SIGHUP: reloading the configuration from %s", where)
        try:
            config, resolved = read_config(self.args)
        except (ServeConfigError, UsageError) as exc:
            log.error(
                "the new configuration cannot be used, the one in force stays: %s",
                str(exc).replace("\n", "; "),
            )
            return
        except Exception:
            log.exception("reloading failed; the configuration in force stays")
            return
        for note in resolved.notes:
            log.warning("%s", note)
        if resolved.token is None and not is_loopback(self.bound_host):
            log.error(
                "the new configuration names no token_file, but this server listens on %s "
                "(beyond this machine) until it restarts, and would refuse every request; "
                "the configuration in force stays: give token_file again",
                self.bound_host,
            )
            return
        later = [f for f in RESTART_ONLY if getattr(config, f) != getattr(self.config, f)]
        if later:
            log.warning("changed %s: takes effect at the next start", ", ".join(later))
        summary = self.runtime.reload(resolved)
        if summary is None:  # stopping: the runtime said so
            return
        self.auth.token = resolved.token
        set_level(config.log_level.upper())
        self.config = config
        log.info("configuration reloaded: %s", summary)

    def close(self) -> None:
        with contextlib.suppress(ValueError, OSError):
            signal.signal(signal.SIGHUP, signal.SIG_IGN)
        with contextlib.suppress(OSError):
            os.write(self._write, b"\0")
        if self._thread.is_alive():  # a reload in flight: runtime.stop waits for it
            self._thread.join(2.0)
        if self._thread.is_alive():
            return  # it closes its end when it ends; the write end goes with the process
        ends = (self._write,) if self._thread.ident is not None else (self._read, self._write)
        for fd in ends:
            with contextlib.suppress(OSError):
                os.close(fd)


def cmd_serve(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config, overrides(args))
    except ServeConfigError as exc:
        raise UsageError(str(exc)) from None
    root = logging.getLogger()
    for handler in list(root.handlers):  # cli.main's basicConfig: ours replace it
        root.removeHandler(handler)
    setup_logging(config.log_level.upper(), file=False, log_format=config.log_format)
    try:
        config, resolved = read_config(args)
        _check_tls(config)
    except ServeConfigError as exc:
        raise UsageError(str(exc)) from None
    for note in resolved.notes:
        log.warning("%s", note)
    if (warning := postgres_tls_warning(config.history.postgres)) is not None:
        log.warning("%s", warning)
    if not config.loopback and not config.tls:
        log.warning(
            "listening on %s without TLS: the bearer token and every answer cross the network "
            "in clear text; give --tls-cert and --tls-key (or put a TLS proxy in front)",
            config.host,
        )
    try:
        history = open_history(
            config.history, lambda text: log.error("history off: %s; watching goes on", text)
        )
    except ServeConfigError as exc:
        raise UsageError(str(exc)) from None
    metrics = ServerMetrics()
    runtime = ServerRuntime(resolved, history, metrics)
    exporter = Exporter(runtime, metrics)
    auth = Auth(resolved.token, config.loopback)
    app = create_app(runtime, auth, exporter.render)
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host=config.host,
            port=config.port,
            log_config=None,
            log_level=config.log_level,
            access_log=True,
            ssl_certfile=config.tls_cert,
            ssl_keyfile=config.tls_key,
            loop="asyncio",
            lifespan="off",
            server_header=False,
            timeout_graceful_shutdown=3,
        )
    )

    def stop(signum: int, frame: object) -> None:
        server.should_exit = True  # an attribute: safe in a signal handler

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, stop)  # before uvicorn's, and after: it restores them
    reloader = Reloader(args, config, runtime, auth).install()
    code = EXIT_OK
    try:
        runtime.start()
        reloader.run()  # after start: a SIGHUP before it waited in the pipe
        scheme = "https" if config.tls else "http"
        log.info("serving on %s://%s:%d", scheme, config.host, config.port)
        try:
            server.run()
        except SystemExit as exc:  # uvicorn could not listen; it logged why
            print(
                f"etcdmon: cannot serve on {config.host}:{config.port} (see the log above); "
                "choose another --port or stop what listens there",
                file=sys.stderr,
            )
            code = exc.code if isinstance(exc.code, int) and exc.code else EXIT_USAGE
    finally:
        reloader.close()
        runtime.stop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_IGN)  # stopped: a late signal changes nothing
    return code


def register(sub: Any) -> None:
    p = add_command(
        sub,
        "serve",
        help="watch clusters for a team: REST API, Prometheus /metrics, alerts",
        codes=f"  0  stopped by SIGTERM or Ctrl-C\n{USAGE_CODE}\n"
        "     (also: the address cannot be listened on, a bad token or TLS file)",
        example="etcdmon serve --config /etc/etcdmon/serve.yaml",
    )
    p.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="YAML configuration (see packaging/serve/etcdmon-serve.example.yaml); "
        "the flags below override it; SIGHUP reloads it",
    )
    g = p.add_argument_group("listening")
    g.add_argument("--listen", metavar="HOST[:PORT]", help="address to listen on")
    g.add_argument("--host", help="address to listen on (default 127.0.0.1: this machine only)")
    g.add_argument("--port", type=int, help=f"port (default {DEFAULT_PORT})")
    g.add_argument(
        "--token-file",
        metavar="FILE",
        help="bearer token (one line, chmod 600): needed beyond loopback, and for every "
        "change (ack, silences, benchmarks)",
    )
    g.add_argument("--tls-cert", metavar="PEM", help="serve HTTPS with this certificate chain")
    g.add_argument("--tls-key", metavar="PEM", help="... and this private key")
    g = p.add_argument_group("watching")
    g.add_argument(
        "--profile",
        action="append",
        default=[],
        metavar="NAME",
        help="watch this saved profile (repeatable; default: every profile)",
    )
    g.add_argument("--endpoints", help="watch this cluster too: host:port[,host:port...]")
    g.add_argument("--interval", help="time between sweeps (default 5s)")
    g.add_argument(
        "--history",
        metavar="PATH",
        help="SQLite history file (default: the one the desktop app and watch share)",
    )
    add_store_options(p)
    p.set_defaults(secrets=None)
    g = p.add_argument_group("logging")
    g.add_argument("--log-format", choices=("text", "json"), help="text (default) or JSON lines")
    g.add_argument("--log-level", choices=("debug", "info", "warning", "error"))
    p.set_defaults(func=cmd_serve)
