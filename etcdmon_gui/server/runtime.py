"""The server's runtime: every configured cluster watched at once, with the sweeps, rules,
channels and history of the desktop app and ``etcdmon watch``.

Threads:

- one ``SweepThread`` per cluster (``services.watching``): sweeps on the interval,
  queues each snapshot to the history writer, tells the exporter how long it took, and
  hands it to the alert thread;
- one alert thread (a one-worker executor) owns the ``AlertService``, which is not
  thread-safe: every evaluation, acknowledgement and silence runs there, in order, and
  publishes the clusters' ``ClusterView`` afterwards;
- the history writer's thread, the notification dispatcher's workers (durable queue
  owner ``serve``), and one history reader thread for the API's questions (one
  connection, opened and closed there);
- a thread per benchmark run.

``clusters()`` (``ServerState``) returns the published views: in memory, never
blocking on the network. ``reload`` applies a new configuration: clusters added start,
removed ones stop and their alerts are let go (``forget_cluster``: firing alerts
resolve, "no longer watched"), changed ones restart; rules, channels, the token and
the interval apply at once. ``stop`` ends everything; the last alerts get their first
try, as ``watch`` does. One lock serialises ``start``, ``reload`` and ``stop``: a
reload before the start or while stopping applies nothing, and stop waits (bounded)
for a reload in flight. ``clusters()`` marks a cluster stale when its sweeps stalled.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from etcdmon_gui import __version__
from etcdmon_gui.model.alerts import Alert, AlertState, Silence
from etcdmon_gui.model.delivery import (
    AttemptOutcome,
    DeliveryAttempt,
    DeliveryRecord,
    DeliveryStatus,
)
from etcdmon_gui.model.snapshot import ClusterSnapshot
from etcdmon_gui.notify.dispatcher import NotificationDispatcher
from etcdmon_gui.notify.retry import RetryPolicy
from etcdmon_gui.server.benchmarks import BenchmarkRuns
from etcdmon_gui.server.clusters import ClusterTarget, Resolved
from etcdmon_gui.server.exporter import ServerMetrics
from etcdmon_gui.server.history import OpenedHistory
from etcdmon_gui.server.state import ClusterView
from etcdmon_gui.services.alerting import AlertService
from etcdmon_gui.services.watching import SweepThread
from etcdmon_gui.store.history.reader import HistoryBackend
from etcdmon_gui.store.secrets import SecretStore

log = logging.getLogger(__name__)

T = TypeVar("T")

ACTIVE = (AlertState.PENDING, AlertState.FIRING)
DAY_S = 86_400.0
JOIN_S = 3.0  # how long stop waits for each sweep thread (its probe is closed first)
FLUSH_S = 5.0  # how long stop waits for the last alerts' first try
RELOAD_WAIT_S = 10.0  # how long stop waits for a reload in flight (it joins within JOIN_S)


@dataclass(eq=False)
class _Watched:
    target: ClusterTarget
    sweeper: SweepThread | None = None
    started: float = field(default_factory=time.monotonic)
    last_done: float | None = None  # monotonic time the latest sweep ended
    sweeps: int = 0
    errors: int = 0


class ServerRuntime:
    """See the module docstring. ``start()`` once, ``stop()`` at the end (safe twice)."""

    def __init__(
        self, resolved: Resolved, history: OpenedHistory, metrics: ServerMetrics | None = None
    ) -> None:
        self._resolved = resolved
        self.history = history
        self.metrics = metrics if metrics is not None else ServerMetrics()
        self.interval_s = resolved.config.interval
        self.started_at = time.time()
        self._started_mono = time.monotonic()
        self._lock = threading.Lock()
        self._watched: dict[str, _Watched] = {}  # by key, in the configuration's order
        self._views: dict[str, ClusterView] = {}
        self._stopped = False
        # start, reload and stop one at a time: stop sets _stopped (under _lock), then
        # waits here for a reload in flight; _watch refuses once _stopped is set.
        self._life = threading.Lock()
        self._started = False
        self._alert_thread = concurrent.futures.ThreadPoolExecutor(1, "serve-alerts")
        self._reader_thread = concurrent.futures.ThreadPoolExecutor(1, "serve-history")
        self._reader: HistoryBackend | None = None
        self._session = SecretStore.memory()  # the channels' secrets, this run's only
        self._copy_secrets(resolved)
        self.dispatcher = NotificationDispatcher(
            self._session,
            resolved.channels,
            policy=RetryPolicy(retry_for_s=resolved.config.retry_for),
            queue=history.queue,
            workers=2,
        )
        self.dispatcher.subscribe(self._delivery_logged)
        self.alerting = AlertService(
            None,  # opened on the alert thread, below: SQLite connections stay in theirs
            [self.dispatcher],
            resolved.rules_path,
            problems=lambda text: log.error("%s", text),
        )
        self.benchmarks = BenchmarkRuns(history.writer, resolved.config.allow_production_benchmarks)

        def open_alerts() -> None:
            self.alerting.history = history.open_alerts()

        self._alert(open_alerts)

    # -- life ------------------------------------------------------------------------

    def start(self) -> ServerRuntime:
        with self._life:
            with self._lock:
                if self._started or self._stopped:
                    return self
                self._started = True
            self.dispatcher.resume()  # what an earlier run left waiting
            # The clusters' first sweeps spread over one interval: sweeps that start
            # together contend for the interpreter while parsing /metrics and run late.
            targets = self._resolved.targets
            for i, target in enumerate(targets):
                self._watch(target, first_after_s=self.interval_s * i / len(targets))
            log.info(
                "watching %d cluster(s) every %g s with %d channel(s); history: %s",
                len(self._resolved.targets),
                self.interval_s,
                len(self._resolved.channels),
                self.history.where,
            )
        return self

    def _watch(
        self, target: ClusterTarget, restore: bool = True, first_after_s: float = 0.0
    ) -> bool:
        """Start watching ``target`` (its past alerts taken back first, on the alert
        thread, so its first evaluation finds them; not when it is only restarted).
        Refused (False) once stopping, or when its key is watched already: one sweep
        thread per cluster, each snapshot written once."""

        def take_back() -> None:
            self.alerting.set_cluster(target.key, target.name, target.overrides, target.channels)
            if restore:
                self.alerting.restore(only=target.key)

        watched = _Watched(target)
        watched.sweeper = SweepThread(
            target.name,
            target.config,
            lambda snap: self._swept(watched, snap),
            lambda: self.interval_s,
            lambda: self.history.db_sizes(target.key, time.time() - DAY_S),
            first_after_s,
        )
        with self._lock:  # stop sets _stopped under it: nothing starts after that
            if self._stopped:
                return False
            if target.key in self._watched:
                log.warning("%s (%s) is watched already", target.name, target.key)
                return False
            self._alert(take_back)  # before its first sweep: the alert thread is up
            self._watched[target.key] = watched
            self._views[target.key] = ClusterView(
                target.name, target.key, None, (), target.production
            )
            watched.sweeper.start()
        return True

    def _unwatch(self, watched: _Watched) -> None:
        """Stop its sweeps; its alerts are let go on the alert thread."""
        key = watched.target.key
        with self._lock:
            if self._watched.get(key) is watched:
                del self._watched[key]
                self._views.pop(key, None)
            if not self._stopped:  # else the alert thread is (being) shut down
                self._alert(lambda: self.alerting.forget_cluster(key))
        if watched.sweeper is not None:
            watched.sweeper.stop()
        self.metrics.forget_cluster(watched.target.name)

    def stop(self) -> None:
        """Stop everything, promptly (safe twice). A reload in flight is waited for (at
        most ``RELOAD_WAIT_S``); a later one applies nothing."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
        held = self._life.acquire(timeout=RELOAD_WAIT_S)
        if not held:
            log.warning("a reload still runs after %g s; stopping all the same", RELOAD_WAIT_S)
        try:
            self._stop_all()
        finally:
            if held:
                self._life.release()

    def _stop_all(self) -> None:
        with self._lock:
            watched = list(self._watched.values())
        for w in watched:
            if w.sweeper is not None:
                w.sweeper.stop()
        for w in watched:
            if w.sweeper is not None and not w.sweeper.join(JOIN_S):
                log.warning("the sweeps of %s did not stop in %g s", w.target.name, JOIN_S)
        self.benchmarks.close()
        self._alert(self.alerting.close)
        self._alert_thread.shutdown(wait=True)
        self.history.writer.close()
        self.dispatcher.flush(FLUSH_S)  # the last transitions' first try
        self.dispatcher.close()
        if self.history.queue is not None:
            self.history.queue.close()
        self._reader_thread.submit(self._close_reader)
        self._reader_thread.shutdown(wait=True)
        log.info("stopped")

    # -- the sweeps' side ------------------------------------------------------------

    def _swept(self, watched: _Watched, snap: ClusterSnapshot) -> None:
        """A sweep thread's snapshot: history, exporter, then the alert thread; the last
        sweep of a thread a reload replaced goes nowhere (its successor's count)."""
        name = watched.target.name
        error = snap.error is not None
        with self._lock:
            current = self._watched.get(watched.target.key) is watched
            if current:
                watched.last_done = time.monotonic()
                watched.sweeps += 1
                watched.errors += error
                view = self._views[watched.target.key]
                self._views[watched.target.key] = ClusterView(
                    view.name, view.key, snap, view.alerts, view.production
                )
        if not current:
            return
        self.history.writer.add_snapshot(snap, name)
        self.metrics.sweep_done(name, snap.duration_s, error)
        self._alert(lambda: self._evaluate(watched, snap))

    def _evaluate(self, watched: _Watched, snap: ClusterSnapshot) -> None:
        """On the alert thread."""
        with self._lock:
            if self._watched.get(watched.target.key) is not watched:
                return  # removed by a reload meanwhile
        self.alerting.evaluate(snap)
        self._publish_alerts()

    def _publish_alerts(self) -> None:
        """On the alert thread: every view's active alerts, as the service has them."""
        by_key: dict[str, list[Alert]] = {}
        for a in self.alerting.alerts():
            if a.state in ACTIVE:
                by_key.setdefault(a.cluster, []).append(a)
        with self._lock:
            for key, view in self._views.items():
                self._views[key] = ClusterView(
                    view.name, view.key, view.snapshot, tuple(by_key.get(key, ())), view.production
                )

    def _delivery_logged(self, attempt: DeliveryAttempt, record: DeliveryRecord) -> None:
        if attempt.outcome is AttemptOutcome.FAILED and record.status is DeliveryStatus.FAILED:
            self.metrics.delivery_failed(record.channel_name)

    # -- the alert thread --------------------------------------------------------------

    def _alert(self, job: Callable[[], T]) -> concurrent.futures.Future[T]:
        """Run ``job`` on the alert thread; a failure is logged there."""

        def run() -> T:
            try:
                return job()
            except Exception:
                log.exception("alert job failed")
                raise

        return self._alert_thread.submit(run)

    def on_alert_thread(self, job: Callable[[], T], timeout: float = 10.0) -> T:
        """Run ``job`` on the alert thread and wait for its result (the API's threadpool)."""
        return self._alert(job).result(timeout)

    def acknowledge(self, key: str, fingerprint: str) -> Alert | None:
        """Acknowledge an active alert of cluster ``key``; the alert, or None."""

        def ack() -> Alert | None:
            alert = self._active(key, fingerprint)
            if alert is None:
                return None
            self.alerting.acknowledge(fingerprint)
            self._publish_alerts()
            return self._active(key, fingerprint)

        return self.on_alert_thread(ack)

    def _active(self, key: str, fingerprint: str) -> Alert | None:
        return next(
            (
                a
                for a in self.alerting.alerts()
                if a.fingerprint == fingerprint and a.cluster == key and a.state in ACTIVE
            ),
            None,
        )

    def add_silence(self, silence: Silence) -> None:
        def add() -> None:
            self.alerting.add_silence(silence)
            self._publish_alerts()

        self.on_alert_thread(add)

    def silences(self, key: str | None) -> list[Silence]:
        return self.on_alert_thread(
            lambda: [s for s in self.alerting.silences if key is None or s.cluster in (None, key)]
        )

    def expire_silence(self, key: str, silence_id: str) -> Silence | None:
        """End cluster ``key``'s silence now; the silence as it ends, or None."""

        def expire() -> Silence | None:
            found = next((s for s in self.alerting.silences if s.id == silence_id), None)
            if found is None or found.cluster != key:
                return None
            self.alerting.expire_silence(silence_id)
            self._publish_alerts()
            return next((s for s in self.alerting.silences if s.id == silence_id), None)

        return self.on_alert_thread(expire)

    # -- the history reader ------------------------------------------------------------

    def read_history(self, job: Callable[[HistoryBackend], T]) -> concurrent.futures.Future[T]:
        """Run ``job(reader)`` on the history reader's thread."""

        def run() -> T:
            if self._reader is None:
                self._reader = self.history.open_reader()
            return job(self._reader)

        return self._reader_thread.submit(run)

    def _close_reader(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    # -- what readers ask ---------------------------------------------------------------

    def clusters(self) -> Sequence[ClusterView]:
        """``ServerState``: the published views, in the configuration's order, each
        stamped now with its last sweep's age and whether its sweeps stalled."""
        now = time.monotonic()
        with self._lock:
            out = []
            for k, w in self._watched.items():
                view = self._views.get(k)
                if view is not None:
                    age, stalled = self._sweep_age(w, now)
                    out.append(dataclasses.replace(view, stale=stalled, last_sweep_age_s=age))
            return out

    def targets(self) -> list[ClusterTarget]:
        with self._lock:
            return [w.target for w in self._watched.values()]

    def target(self, name: str) -> ClusterTarget | None:
        with self._lock:
            return next((w.target for w in self._watched.values() if w.target.name == name), None)

    def view(self, key: str) -> ClusterView | None:
        with self._lock:
            return self._views.get(key)

    def stall_after(self, target: ClusterTarget) -> float:
        """How long without a finished sweep means the sweeps of ``target`` stalled."""
        return 3 * self.interval_s + 2 * target.config.timeout_s + 5.0

    def _sweep_age(self, w: _Watched, now: float) -> tuple[float | None, bool]:
        """Seconds since ``w``'s latest sweep ended (None before one) and whether its
        sweeps stalled (counted from its start before the first); under ``_lock``."""
        age = now - (w.last_done if w.last_done is not None else w.started)
        return (
            None if w.last_done is None else round(age, 3),
            age > self.stall_after(w.target),
        )

    def health(self) -> dict[str, Any]:
        """The server itself. status: "ok" (every cluster sweeps), "degraded" (some
        clusters' sweeps stalled), "stalled" (all of them), "no cluster watched"."""
        now = time.monotonic()
        clusters = []
        with self._lock:
            for w in self._watched.values():
                age, stalled = self._sweep_age(w, now)
                clusters.append(
                    {
                        "name": w.target.name,
                        "last_sweep_age_s": age,
                        "stalled": stalled,
                        "sweeps": w.sweeps,
                        "sweep_errors": w.errors,
                    }
                )
        ages = [c["last_sweep_age_s"] for c in clusters if c["last_sweep_age_s"] is not None]
        n_stalled = sum(1 for c in clusters if c["stalled"])
        if not clusters:
            status = "no cluster watched"
        elif n_stalled == 0:
            status = "ok"
        else:
            status = "stalled" if n_stalled == len(clusters) else "degraded"
        return {
            "status": status,
            "version": __version__,
            "started_at": self.started_at,
            "uptime_s": round(now - self._started_mono, 3),
            "clusters_watched": len(clusters),
            "clusters_stalled": n_stalled,
            "last_sweep_age_s": min(ages) if ages else None,
            "interval_s": self.interval_s,
            "clusters": clusters,
            "history": self._history_health(),
        }

    def _history_health(self) -> dict[str, Any]:
        """Where the history is and whether it is written: ok, retrying (the database
        is away, samples kept in memory) or off (and why)."""
        writer = self.history.writer
        error = writer.error
        return {
            "where": self.history.where,
            "state": "off" if error is not None else "retrying" if writer.retrying else "ok",
            "error": None if error is None else str(error),
            "kept_samples": writer.kept,
            "dropped_samples": writer.dropped,
        }

    # -- reload ------------------------------------------------------------------------

    def _copy_secrets(self, resolved: Resolved) -> None:
        for channel in resolved.channels:
            for name in channel.secret_names():
                value = resolved.session.get(channel.id, name)
                if value is not None:
                    self._session.set(channel.id, name, value)

    def reload(self, resolved: Resolved) -> str | None:
        """Apply a new configuration (already resolved: it is valid); what changed, in
        words. Listening address, TLS and the history need a restart. None (and said in
        the log) before ``start`` or once stopping: nothing is applied."""
        with self._life:
            with self._lock:
                refused = None
                if self._stopped:
                    refused = "the server is stopping"
                elif not self._started:
                    refused = "the server has not started yet"
                old = {k: w for k, w in self._watched.items()}
            if refused is not None:
                log.warning("%s: the new configuration is not applied", refused)
                return None
            return self._reload(resolved, old)

    def _reload(self, resolved: Resolved, old: dict[str, _Watched]) -> str:
        wanted = {t.key: t for t in resolved.targets}
        removed = [w for k, w in old.items() if k not in wanted or wanted[k] != w.target]
        added = [t for k, t in wanted.items() if k not in old or old[k].target != t]
        changed = {w.target.key for w in removed} & {t.key for t in added}
        for w in removed:
            if w.target.key in changed:  # restarted below: its alerts stay
                with self._lock:
                    self._watched.pop(w.target.key, None)
                if w.sweeper is not None:
                    w.sweeper.stop()
            else:
                self._unwatch(w)
        self._copy_secrets(resolved)
        self.dispatcher.set_channels(resolved.channels)
        self.interval_s = resolved.config.interval
        self.benchmarks.allow_production = resolved.config.allow_production_benchmarks
        with self._lock:
            if not self._stopped:  # stop waited RELOAD_WAIT_S in vain: it goes on alone
                self._alert(lambda: self.alerting.set_rules_path(resolved.rules_path))
        for t in added:
            self._watch(t, restore=t.key not in changed)
        with self._lock:  # the configuration's order
            self._watched = {
                t.key: self._watched[t.key] for t in resolved.targets if t.key in self._watched
            }
        self._resolved = resolved
        deadline = time.monotonic() + JOIN_S  # all stopped at once: they end together
        for w in removed:
            if w.sweeper is not None:
                w.sweeper.join(max(0.0, deadline - time.monotonic()))

        def names(items: list[str]) -> str:
            return ", ".join(sorted(items)) or "none"

        gone = [w.target.name for w in removed if w.target.key not in changed]
        new = [t.name for t in added if t.key not in changed]
        again = [t.name for t in added if t.key in changed]
        return (
            f"{len(wanted)} cluster(s); added: {names(new)}; removed: {names(gone)}; "
            f"restarted: {names(again)}; every {self.interval_s:g} s, "
            f"{len(resolved.channels)} channel(s)"
        )
