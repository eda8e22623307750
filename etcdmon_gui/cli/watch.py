"""``etcdmon watch``: the monitoring, rules and channels of the app, without a GUI.

Sweeps on an interval, evaluates the alert rules, prints every alert transition as
one line to standard output and hands it to the notification channels. It starts by
printing the cluster's state and its active alerts. A rules file that changes on disk
is reloaded; if the new version is malformed, the error is logged and the previous
rules stay in force. SIGINT and SIGTERM stop it cleanly (the last alerts still go out);
a second signal only says it is still stopping, a third exits at once (128 + the
signal's number). No burst of signals can hang it (``etcd.sandbox.SignalStop``).

Every sweep's metrics and member changes, and the alerts, are kept in the same history
as the desktop app's (``--history`` to choose another file); alerts go through the
same ``services.alerting.AlertService``: a restart neither
fires an alert again nor forgets to resolve one that cleared meanwhile, and
acknowledgements and silences made in the app hold here too. A notification a
receiver did not accept waits in that file too (this cluster's watch's own rows) and is
retried for ``--retry-for`` (24h), across restarts, ``kill -9`` included: the next run
sends it first. A stop waits for the last transitions' first try, not for retries.

The configured channels' secrets are read once, at the start: a channel whose secret
is not in the secret store (no OS keyring after a restart, another backend chosen) is
named once on stderr and left out, rather than failing on every alert.
"""

from __future__ import annotations

import argparse
import logging
import math
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from etcdmon_gui.cli.common import EXIT_OK, EXIT_USAGE, USAGE_CODE, add_command
from etcdmon_gui.connection_args import (
    UsageError,
    add_connection_options,
    add_history_options,
    connection_config,
    history_limits,
    profile_store,
    secret_store,
)
from etcdmon_gui.etcd.sandbox import SignalStop
from etcdmon_gui.model.alerts import Alert, AlertEvent, AlertState
from etcdmon_gui.model.connection import ConnectionConfig
from etcdmon_gui.model.snapshot import ClusterSnapshot
from etcdmon_gui.monitor.alert_rules import RulesFile, parse_duration
from etcdmon_gui.notify.base import ChannelBase
from etcdmon_gui.notify.channels.webhook import adhoc_webhook
from etcdmon_gui.notify.dispatcher import NotificationDispatcher
from etcdmon_gui.notify.retry import DAY_S, RetryPolicy
from etcdmon_gui.services.alerting import AlertService
from etcdmon_gui.services.watching import copy_secrets, sweep_until
from etcdmon_gui.store.channels import ChannelStore
from etcdmon_gui.store.history import AlertHistory, DeliveryQueueStore
from etcdmon_gui.store.history.reader import recent_db_sizes
from etcdmon_gui.store.history.writer import HistoryWriter
from etcdmon_gui.store.profiles import user_rules_path
from etcdmon_gui.store.secrets import SecretStore

log = logging.getLogger(__name__)


def _stamp(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def _where(a: Alert) -> str:
    return f"cluster={a.cluster_name}" + (f" member={a.member}" if a.member else "")


def format_event(event: AlertEvent) -> str:
    a = event.alert
    return (
        f"{_stamp(event.at)} {event.kind.value.upper():8} {a.severity.name.lower():8} {a.rule} "
        f"{_where(a)} fingerprint={a.fingerprint}: {a.summary}"
    )


def format_state(snap: ClusterSnapshot, name: str, alerts: Sequence[Alert]) -> list[str]:
    """The cluster's verdict and every active alert, for the start of a watch."""
    reasons = "; ".join(snap.reasons) or "all members healthy"
    lines = [f"{_stamp(snap.taken_at)} STATE    cluster={name} {snap.verdict.name}: {reasons}"]
    for a in alerts:
        if a.state not in (AlertState.FIRING, AlertState.PENDING):
            continue
        marks = "".join(
            f" ({mark})"
            for mark, on in (("acknowledged", a.acknowledged), ("silenced", a.silenced_until))
            if on
        )
        lines.append(
            f"{_stamp(snap.taken_at)} ACTIVE   {a.severity.name.lower():8} {a.rule} "
            f"{_where(a)} fingerprint={a.fingerprint}: {a.state.value} since "
            f"{_stamp(a.since)}{marks}: {a.summary}"
        )
    return lines


def watch(
    config: ConnectionConfig,
    name: str,
    alerting: AlertService,
    interval_s: float,
    stop: threading.Event,
    show: Callable[[str], object],
    record: Callable[[ClusterSnapshot], object] = lambda snap: None,
    seed: Sequence[tuple[float, float, float | None]] = (),
) -> None:
    """Sweep and evaluate until ``stop`` is set; the first sweep's state is shown and
    every snapshot is ``record``ed; ``seed`` starts the quota forecast (stored DB
    sizes). ``alerting`` knows the cluster (``set_cluster``); its past alerts are taken
    back."""
    alerting.restore(only=config.key)
    first = True

    def handle(snap: ClusterSnapshot) -> None:
        nonlocal first
        record(snap)
        events = alerting.evaluate(snap)
        if first:
            quiet = {e.alert.fingerprint for e in events}  # their own lines follow
            alerts = [a for a in alerting.alerts() if a.fingerprint not in quiet]
            for line in format_state(snap, name, alerts):
                show(line)
            first = False
        for event in events:
            show(format_event(event))

    sweep_until(config, stop, handle, interval_s, seed)


def _print(line: str) -> None:
    print(line, flush=True)


def run_watch(
    args: argparse.Namespace,
    config: ConnectionConfig,
    name: str,
    overrides: dict[str, dict[str, Any]],
    channels: Sequence[ChannelBase] = (),
    secrets: SecretStore | None = None,
) -> int:
    """Watch until stopped; alerts go to stdout, ``channels`` and each ``--webhook``."""
    try:
        interval = parse_duration(args.interval)
    except ValueError:
        interval = math.nan
    if not 1 <= interval <= 3600:
        print(
            f"etcdmon: --interval must be a duration between 1s and 1h (e.g. 10s), "
            f"not {args.interval}",
            file=sys.stderr,
        )
        return EXIT_USAGE
    try:
        retry_for = parse_duration(args.retry_for)
    except ValueError:
        retry_for = math.nan
    if not 0 <= retry_for <= 30 * DAY_S:
        print(
            f"etcdmon: --retry-for must be a duration up to 30 days (720h), not {args.retry_for}",
            file=sys.stderr,
        )
        return EXIT_USAGE
    kept = history_limits(args)  # ConfigError: said before anything starts
    if args.rules is not None and not args.rules.exists():
        raise UsageError(
            f"--rules {args.rules}: no such file; give an existing rules YAML, or leave "
            f"--rules out to use {user_rules_path()} (if present)"
        )
    rules = RulesFile(args.rules or user_rules_path(), overrides, name)
    # One store for the run: the configured channels' secrets, read once, and the
    # --webhook URLs, which must not end up in the user's keyring.
    session = SecretStore.memory()
    try:
        hooks = [adhoc_webhook(url, session, i + 1) for i, url in enumerate(args.webhook)]
    except ValueError as exc:
        raise UsageError(
            f"--webhook: {exc}; give a URL such as https://hooks.example/etcd"
        ) from None
    usable = []
    for channel in channels:
        problem = copy_secrets(channel, secrets, session)
        if problem is None:
            usable.append(channel)
        else:
            print(f"etcdmon: channel {channel.name!r}: {problem}", file=sys.stderr, flush=True)
    targets = [*usable, *hooks]
    signals = SignalStop(
        "etcdmon", first="stopping", stopping="still stopping: sending the last alerts"
    )
    signals.install()
    print(
        f"watching {name} every {interval:g} s with {sum(r.enabled for r in rules.rules)} "
        f"rules and {len(targets)} channel(s); Ctrl-C stops",
        file=sys.stderr,
        flush=True,
    )
    # Deliveries wait in the history file across restarts (kill -9 too), this watch's
    # apart from the app's; each is retried for --retry-for.
    queue = _delivery_queue(args.history, config.key) if targets else None
    dispatcher = (
        NotificationDispatcher(
            session, targets, policy=RetryPolicy(retry_for_s=retry_for), queue=queue
        )
        if targets
        else None
    )
    history = _history(args.history)
    alerting = AlertService(
        history,
        [] if dispatcher is None else [dispatcher],
        rules.path,
        problems=lambda text: log.error("%s", text),
    )
    alerting.set_cluster(config.key, name, overrides)
    # Every sweep goes to the same history as the app's (its own thread, in batches).
    writer = HistoryWriter(
        args.history,
        limits=kept,
        problems=lambda text: print(
            f"etcdmon: history off: {text}; watching goes on", file=sys.stderr, flush=True
        ),
    ).start()
    try:
        if dispatcher is not None:
            dispatcher.resume()  # what an earlier run left waiting; it logs failures itself
        watch(
            config,
            name,
            alerting,
            interval,
            signals.event,
            _print,
            lambda snap: writer.add_snapshot(snap, name),
            recent_db_sizes(args.history, config.key),
        )
    finally:
        writer.close()
        alerting.close()
        if dispatcher is not None:
            # The last transitions get their first try; what fails waits in the queue.
            dispatcher.flush(10.0)
            dispatcher.close()
        if queue is not None:
            queue.close()
        signals.close()
    return EXIT_OK


def _delivery_queue(path: Path | None, key: str) -> DeliveryQueueStore | None:
    """The durable delivery queue in the alert history file, this cluster's watch's rows;
    without one, deliveries are retried in memory only."""
    try:
        return DeliveryQueueStore(path, owner=f"watch:{key}")
    except Exception as exc:  # sqlite3.Error, OSError: said once, never fatal
        print(
            f"etcdmon: the notification queue in {path or 'the alert history'} cannot be "
            f"used ({exc}); notifications still waiting at a restart are lost",
            file=sys.stderr,
            flush=True,
        )
        return None


def _history(path: Path | None) -> AlertHistory | None:
    """The alert history (the app's unless ``--history``); without one, alerts still
    go out, but a restart forgets them."""
    try:
        return AlertHistory(path)
    except Exception as exc:  # sqlite3.Error, OSError: said once, never fatal
        print(
            f"etcdmon: the alert history at {path or 'the default place'} cannot be used "
            f"({exc}); alerts are not kept across restarts",
            file=sys.stderr,
            flush=True,
        )
        return None


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
        codes=f"  0  stopped by Ctrl-C or SIGTERM\n{USAGE_CODE}\n"
        "  130/143  a third Ctrl-C/SIGTERM while stopping: exited at once",
        example="etcdmon watch --endpoints 10.0.0.1:2379 --interval 10s "
        "--webhook http://127.0.0.1:9000/hook",
    )
    add_connection_options(p)
    add_history_options(p)
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
    p.add_argument(
        "--retry-for",
        default="24h",
        metavar="DURATION",
        help="keep retrying a notification a receiver did not accept for this long, "
        "across restarts (default 24h, at most 30 days)",
    )
    p.set_defaults(func=cmd_watch)
