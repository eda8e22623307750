"""Watching a cluster without a GUI: the sweep loop ``etcdmon watch`` and ``etcdmon serve``
share, and the channels' secrets a headless run copies into its own session store.

``sweep_until`` sweeps one cluster on an interval (a ``ClusterProbe`` and a
``ClusterMonitor``, the quota forecast seeded from the stored DB sizes) and hands every
snapshot to its caller, until ``stop`` is set. ``watch`` runs it in the main thread for
its one cluster; ``serve`` runs one per cluster, each on its own thread
(``SweepThread``), and may close the probe to end a sweep in flight at once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence

from etcdmon_gui.bugs import report_bug
from etcdmon_gui.etcd.probe import ClusterProbe
from etcdmon_gui.model.connection import ConnectionConfig
from etcdmon_gui.model.snapshot import ClusterSnapshot
from etcdmon_gui.monitor.cluster_monitor import ClusterMonitor
from etcdmon_gui.notify.base import ChannelBase
from etcdmon_gui.store.secrets import SecretStore, SecretStoreError

log = logging.getLogger(__name__)

DbSizes = Sequence[tuple[float, float, float | None]]


def sweep_until(
    config: ConnectionConfig,
    stop: threading.Event,
    on_snapshot: Callable[[ClusterSnapshot], object],
    interval_s: float | Callable[[], float],
    seed: DbSizes = (),
    on_probe: Callable[[ClusterProbe | None], object] = lambda probe: None,
) -> None:
    """Sweep ``config``'s cluster every ``interval_s`` (a number, or asked before each
    wait, so it may change) until ``stop`` is set; every snapshot goes to
    ``on_snapshot`` in this thread. ``seed`` starts the quota forecast. ``on_probe`` is
    handed the probe while it is open (then None): closing it ends a sweep in flight."""
    interval = interval_s if callable(interval_s) else (lambda: float(interval_s))
    with ClusterProbe(config) as probe:
        on_probe(probe)
        try:
            monitor = ClusterMonitor(probe, config.key)
            monitor.seed_db_sizes(seed)
            while not stop.is_set():
                started = time.monotonic()
                snap = monitor.sweep()
                if stop.is_set():
                    break  # a sweep cut short by the stop says nothing about the cluster
                on_snapshot(snap)
                stop.wait(max(0.0, interval() - (time.monotonic() - started)))
        finally:
            on_probe(None)


class SweepThread:
    """``sweep_until`` on a thread of its own for one cluster, the first sweep
    ``first_after_s`` after the start (a server spreads its clusters' sweeps over the
    interval). A bug in a sweep or in
    ``on_snapshot`` is reported (``bugs.report_bug``) and the loop starts afresh with a
    new probe and monitor after one interval: the thread never dies of it.
    ``stop()`` sets the stop and closes the probe, so a sweep waiting on a hung member
    ends at once; ``join`` then waits for the thread."""

    def __init__(
        self,
        name: str,
        config: ConnectionConfig,
        on_snapshot: Callable[[ClusterSnapshot], object],
        interval_s: Callable[[], float],
        seed: Callable[[], DbSizes] = lambda: (),
        first_after_s: float = 0.0,
    ) -> None:
        self.name = name
        self._first_after_s = first_after_s
        self.config = config
        self._on_snapshot = on_snapshot
        self._interval = interval_s
        self._seed = seed
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._probe: ClusterProbe | None = None
        self._thread = threading.Thread(target=self._run, name=f"sweep-{name}", daemon=True)

    def start(self) -> SweepThread:
        self._thread.start()
        return self

    def _set_probe(self, probe: ClusterProbe | None) -> None:
        with self._lock:
            self._probe = probe
        if probe is not None and self._stop.is_set():
            probe.close()  # stopped while the probe was being made

    def _run(self) -> None:
        seed: DbSizes = ()
        try:
            seed = self._seed()
        except Exception as exc:  # the forecast starts empty; the history says why
            log.warning(
                "%s: stored DB sizes not read (%s); the forecast starts empty", self.name, exc
            )
        self._stop.wait(self._first_after_s)
        while not self._stop.is_set():
            try:
                sweep_until(
                    self.config,
                    self._stop,
                    self._on_snapshot,
                    self._interval,
                    seed,
                    self._set_probe,
                )
            except Exception as exc:
                if self._stop.is_set():
                    return  # the probe was closed under a sweep: nothing to report
                log.exception("%s: the sweep loop failed; it starts afresh", self.name)
                report_bug(exc, f"the sweeps of {self.name}", logged=True)
                self._stop.wait(self._interval())
            seed = ()

    def stop(self) -> None:
        """Stop sweeping (idempotent, any thread); the sweep in flight ends at once."""
        self._stop.set()
        with self._lock:
            probe = self._probe
        if probe is not None:
            probe.close()

    def join(self, timeout: float) -> bool:
        """Wait for the thread; whether it ended."""
        if self._thread.ident is not None:
            self._thread.join(timeout)
        return not self._thread.is_alive()


def copy_secrets(
    channel: ChannelBase, secrets: SecretStore | None, session: SecretStore
) -> str | None:
    """Copy ``channel``'s secrets into ``session``; None if it has every one it sends
    with, else what is missing and how to put it back (the channel is then left out).
    A disabled channel sends nothing, so nothing is read for it."""
    if not channel.enabled:
        return None
    missing = []
    for field in channel.secret_names():
        try:
            value = None if secrets is None else secrets.get(channel.id, field)
        except SecretStoreError as exc:
            return f"its secrets cannot be read, so it is left out: {exc}"
        if value is not None:
            session.set(channel.id, field, value)
        elif field in channel.needed_secrets():
            missing.append(channel.secret_field(field).phrase)
    if not missing:
        return None
    where = secrets.info.name if secrets is not None else "the secret store"
    it, is_ = ("it", "is") if len(missing) == 1 else ("them", "are")
    return (
        f"its {' and '.join(missing)} {is_} not in {where}, so it is left out. Re-enter "
        f"{it} in etcdmon-gui (Notification channels), or choose the secret store that "
        f"has {it} with --secrets"
    )
