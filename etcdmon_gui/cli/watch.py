"""``etcdmon watch``: the monitoring, rules and channels of the app, without a GUI.

Sweeps on an interval, evaluates the alert rules, prints every alert transition as
one line to standard output and hands it to the notification channels. A rules file
that changes on disk is reloaded; if the new version is malformed, the error is
logged and the previous rules stay in force. SIGINT and SIGTERM stop it cleanly.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from etcdmon_gui.cli.common import EXIT_ERROR, EXIT_OK, add_command
from etcdmon_gui.connection_args import (
    add_connection_options,
    connection_config,
    profile_store,
    secret_store,
)
from etcdmon_gui.etcd.probe import ClusterProbe
from etcdmon_gui.model.alerts import AlertEvent
from etcdmon_gui.model.connection import ConnectionConfig
from etcdmon_gui.model.delivery import DeliveryAttempt, DeliveryRecord, DeliveryStatus
from etcdmon_gui.monitor.alert_engine import AlertEngine
from etcdmon_gui.monitor.alert_rules import RulesError, RulesFile, parse_duration
from etcdmon_gui.monitor.cluster_monitor import ClusterMonitor
from etcdmon_gui.notify.base import ChannelBase
from etcdmon_gui.notify.channels.webhook import adhoc_webhook
from etcdmon_gui.notify.dispatcher import NotificationDispatcher
from etcdmon_gui.store.channels import ChannelStore
from etcdmon_gui.store.profiles import user_rules_path
from etcdmon_gui.store.secrets import SecretStore

log = logging.getLogger(__name__)

Sink = Callable[[AlertEvent], object]


def format_event(event: AlertEvent) -> str:
    a = event.alert
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(event.at))
    where = f"cluster={a.cluster_name}" + (f" member={a.member}" if a.member else "")
    return (
        f"{stamp} {event.kind.value.upper():8} {a.severity.name.lower():8} {a.rule} "
        f"{where} fingerprint={a.fingerprint}: {a.summary}"
    )


def watch(
    config: ConnectionConfig,
    name: str,
    rules: RulesFile,
    interval_s: float,
    sinks: Sequence[Sink],
    stop: threading.Event,
) -> None:
    """Sweep and evaluate until ``stop`` is set; every event goes to every sink."""
    engine = AlertEngine(rules.rules)
    with ClusterProbe(config) as probe:
        monitor = ClusterMonitor(probe, config.key)
        while not stop.is_set():
            started = time.monotonic()
            try:
                changed = rules.reload_if_changed()
            except RulesError as exc:
                log.error("rules not reloaded, the previous rules stay in force:\n%s", exc)
                changed = None
            if changed is not None:
                log.warning("reloaded rules from %s", rules.path)
                engine.set_rules(changed)
            snap = monitor.sweep()
            for event in engine.evaluate(snap, name):
                for sink in sinks:
                    try:
                        sink(event)
                    except Exception:  # one broken channel must not stop the watch
                        log.exception("alert sink failed")
            stop.wait(max(0.0, interval_s - (time.monotonic() - started)))


def install_stop_handlers(stop: threading.Event) -> None:
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())


def print_sink(event: AlertEvent) -> None:
    print(format_event(event), flush=True)


def run_watch(
    args: argparse.Namespace,
    config: ConnectionConfig,
    name: str,
    overrides: dict[str, dict[str, Any]],
    channels: Sequence[ChannelBase] = (),
    secrets: SecretStore | None = None,
) -> int:
    """Watch until stopped; alerts go to stdout, ``channels`` and each ``--webhook``."""
    interval = parse_duration(args.interval)
    if not 1 <= interval <= 3600:
        print(
            f"etcdmon: --interval must be between 1s and 1h, not {args.interval}", file=sys.stderr
        )
        return EXIT_ERROR
    rules = RulesFile(args.rules or user_rules_path(), overrides, name)
    # One store for the run: the configured channels' secrets, read once, and the
    # --webhook URLs, which must not end up in the user's keyring.
    session = SecretStore.memory()
    if secrets is not None:
        for channel in channels:
            for field in channel.secret_names():
                value = secrets.get(channel.id, field)
                if value is not None:
                    session.set(channel.id, field, value)
    targets = [
        *channels,
        *(adhoc_webhook(url, session, i + 1) for i, url in enumerate(args.webhook)),
    ]
    stop = threading.Event()
    install_stop_handlers(stop)
    print(
        f"watching {name} every {interval:g} s with {sum(r.enabled for r in rules.rules)} "
        f"rules and {len(targets)} channel(s); Ctrl-C stops",
        file=sys.stderr,
        flush=True,
    )
    dispatcher = NotificationDispatcher(session, targets) if targets else None
    try:
        sinks: list[Sink] = [print_sink]
        if dispatcher is not None:
            sinks.append(dispatcher.notify)
            dispatcher.subscribe(_log_failures)
        watch(config, name, rules, interval, sinks, stop)
    finally:
        if dispatcher is not None:
            dispatcher.wait_idle(10.0)  # let the last transitions go out
            dispatcher.close()
    return EXIT_OK


def _log_failures(attempt: DeliveryAttempt, record: DeliveryRecord) -> None:
    if record.status == DeliveryStatus.FAILED:
        log.error("delivery to %s failed: %s", record.channel_name, record.error)


def cmd_watch(args: argparse.Namespace) -> int:
    config = connection_config(args)
    name, overrides = config.key, {}
    channels = ChannelStore().load()
    if args.profile:
        profile = profile_store(args).get(args.profile)
        name, overrides = profile.name, profile.alert_overrides
        if profile.channels:  # a profile may name the channels its alerts go to
            channels = [
                c for c in channels if c.id in profile.channels or c.name in profile.channels
            ]
    secrets = secret_store(args) if channels else None
    return run_watch(args, config, name, overrides, channels, secrets)


def register(sub: Any) -> None:
    p = add_command(
        sub,
        "watch",
        help="monitor and alert without a GUI, until Ctrl-C",
        codes="  0  stopped by Ctrl-C or SIGTERM\n"
        "  2  a connection, usage, rules or channels error",
        example="etcdmon watch --endpoints 10.0.0.1:2379 --interval 10s "
        "--webhook http://127.0.0.1:9000/hook",
    )
    add_connection_options(p)
    p.add_argument("--interval", default="5s", help="time between sweeps (default 5s)")
    p.add_argument(
        "--rules",
        type=Path,
        help="rules YAML that changes the default rules "
        "(default: rules.yaml in the user config dir, if present)",
    )
    p.add_argument(
        "--webhook",
        action="append",
        default=[],
        metavar="URL",
        help="also post each alert to this URL (Alertmanager webhook format)",
    )
    p.set_defaults(func=cmd_watch)
