"""One cluster polled on a timer in its own thread, results delivered as signals.

The worker is the only bridge between the monitoring core and the views: it owns a
``ClusterMonitor`` (and the prober behind it), lives in a ``QThread``, sweeps when its
``QTimer`` fires and emits one ``ClusterSnapshot`` per sweep. Views never call it
directly except through queued signals, and never see the prober.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from typing import Protocol

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from etcdmon_gui.bugs import Reporter, report_bug
from etcdmon_gui.model.errors import EtcdError
from etcdmon_gui.model.history import HistoryError
from etcdmon_gui.model.secrets import SecretStoreError
from etcdmon_gui.model.snapshot import ClusterSnapshot
from etcdmon_gui.scrub import scrub_text
from etcdmon_gui.store.settings import SettingsError
from etcdmon_gui.workers.thread_owner import ThreadOwner

log = logging.getLogger(__name__)

MIN_INTERVAL_S, MAX_INTERVAL_S, DEFAULT_INTERVAL_S = 1, 60, 5


class Sweeper(Protocol):
    def sweep(self) -> ClusterSnapshot: ...


class Closable(Protocol):
    def close(self) -> None: ...


#: Builds the monitor and the resource to close with it; may raise (bad settings).
MonitorFactory = Callable[[], tuple[Sweeper, Closable]]

#: What a sweep may fail with and still be working as meant: the cluster's answers
#: (EtcdError: unreachable, refused, TLS, auth; ConfigError and BadEndpointError for
#: bad settings), a secret the keyring would not give (SecretStoreError), a profile
#: whose secret is missing (ProfileStoreError, a SettingsError) and the history the
#: factory seeds from (HistoryError). Anything else is a bug.
EXPECTED_FAILURES: tuple[type[Exception], ...] = (
    EtcdError,
    SecretStoreError,
    SettingsError,
    HistoryError,
)


class MonitorWorker(QObject):
    """Sweeps one cluster every ``interval`` seconds while running.

    Signals:
        snapshotReady(ClusterSnapshot): one per finished sweep, stamped with the key.
        sweepFailed(str key, str message): the sweep could not even run (bad settings,
            an unexpected error); the worker keeps its timer and tries again. An
            unexpected error (a bug: not one of ``EXPECTED_FAILURES``) is also reported
            (``report_crash``) and the monitor is closed and dropped, so the next sweep
            builds a fresh one: "internal error: <type>: <message>; the monitor was
            restarted".
        stateChanged(str key, bool paused, int interval_s)
        finished(): emitted from the worker thread once ``stop`` has run.
    """

    snapshotReady = Signal(object)
    sweepFailed = Signal(str, str)
    stateChanged = Signal(str, bool, int)
    finished = Signal()

    def __init__(
        self,
        key: str,
        factory: MonitorFactory,
        interval_s: int = DEFAULT_INTERVAL_S,
        report_crash: Reporter | None = None,
    ) -> None:
        """``report_crash(exc, where)`` is told about bugs, from the worker's thread;
        None: the process-wide reporter (``etcdmon_gui.bugs.report_bug``: the crash
        handler once installed, else only the log)."""
        super().__init__()
        self.key = key
        self._factory = factory
        self._report_crash: Reporter = report_crash or report_bug
        self.restarts = 0  # monitors dropped after a bug (read from any thread)
        self._interval_s = interval_s
        self._paused = False
        self._monitor: Sweeper | None = None
        self._resource: Closable | None = None
        self._timer: QTimer | None = None
        self._stopping = False
        self.busy = False  # a sweep is in progress (read from any thread)

    # -- called in the worker thread (queued) -----------------------------------------

    @Slot()
    def start(self) -> None:
        self._timer = QTimer(self)
        self._timer.setInterval(self._interval_s * 1000)
        self._timer.timeout.connect(self.sweep_now)
        if not self._paused:
            self._timer.start()
            self.sweep_now()
        self._emit_state()

    @Slot()
    def sweep_now(self) -> None:
        if self._stopping:
            return
        self.busy = True
        try:
            if self._monitor is None:
                self._monitor, self._resource = self._factory()
                if self._stopping:  # aborted while connecting: it never got to close this
                    self.abort()
                    return
            snap = self._monitor.sweep()
        except EXPECTED_FAILURES as exc:
            log.warning("%s: sweep failed: %s", self.key, exc)
            log.debug("sweep failure detail", exc_info=True)
            if not self._stopping:
                self.sweepFailed.emit(self.key, str(exc) or type(exc).__name__)
            return
        except Exception as exc:  # a bug: reported, and the next sweep starts afresh
            self._restart(exc)
            return
        finally:
            self.busy = False
        if not self._stopping:
            self.snapshotReady.emit(snap)

    def _restart(self, exc: Exception) -> None:
        """Report a bug of a sweep, then drop the monitor (closing its connections) so
        that the next sweep builds a fresh one; nothing here may raise."""
        try:
            self._report_crash(exc, f"the monitor of {self.key}")
        except Exception:
            log.exception("%s: the crash reporter failed", self.key)
        resource, self._resource = self._resource, None
        self._monitor = None
        self.restarts += 1
        if resource is not None:
            try:
                resource.close()
            except Exception:
                log.debug("%s: closing the dropped monitor", self.key, exc_info=True)
        if not self._stopping:
            text = str(exc)
            reason = scrub_text(f"{type(exc).__name__}: {text}" if text else type(exc).__name__)
            self.sweepFailed.emit(self.key, f"internal error: {reason}; the monitor was restarted")

    @Slot(int)
    def set_interval(self, seconds: int) -> None:
        self._interval_s = max(MIN_INTERVAL_S, min(MAX_INTERVAL_S, int(seconds)))
        if self._timer is not None:
            self._timer.setInterval(self._interval_s * 1000)
        self._emit_state()

    @Slot(bool)
    def set_paused(self, paused: bool) -> None:
        self._paused = paused
        if self._timer is not None:
            if paused:
                self._timer.stop()
            elif not self._timer.isActive():
                self._timer.start()
                self.sweep_now()
        self._emit_state()

    @Slot()
    def stop(self) -> None:
        """Stop the timer, release connections, end the thread's event loop."""
        self._stopping = True
        if self._timer is not None:
            self._timer.stop()
        self.abort()
        self.finished.emit()
        thread = self.thread()
        if thread is not None:
            thread.quit()

    def _emit_state(self) -> None:
        self.stateChanged.emit(self.key, self._paused, self._interval_s)

    # -- safe from any thread ---------------------------------------------------------

    def abort(self) -> None:
        """Close the connections now, so a sweep in progress returns at once."""
        self._stopping = True
        resource, self._resource = self._resource, None
        if resource is not None:
            resource.close()


class WorkerHandle(ThreadOwner):
    """A monitor worker with its thread, owned by the GUI thread.

    ``retire()`` ends a cluster's watch while the application goes on (disconnect,
    reconnect with new settings) without waiting in the GUI thread: the connections
    close at once, the thread ends on its own and ``stopped`` says so. Until then the
    owner keeps the handle (a QThread must not be destroyed while it runs);
    ``shutdown()`` still waits for it.

    Signals:
        snapshotReady, sweepFailed, stateChanged: the worker's signals, re-emitted in
            the GUI thread, so anything connected to them runs there. ``retire()``
            disconnects everything from them: a late result reaches nobody.
        stopped(str key): the worker's thread has ended (in the GUI thread).
        requestInterval(int), requestPaused(bool), requestSweep(), requestStop():
            queued into the worker's thread.
    """

    snapshotReady = Signal(object)
    sweepFailed = Signal(str, str)
    stateChanged = Signal(str, bool, int)
    stopped = Signal(str)
    requestInterval = Signal(int)
    requestPaused = Signal(bool)
    requestSweep = Signal()
    requestStop = Signal()

    def __init__(self, worker: MonitorWorker, parent: QObject | None = None) -> None:
        super().__init__(worker, f"monitor {worker.key}", parent)
        self.worker = worker
        self.retired = False
        self.qthread.started.connect(worker.start)
        # A bound slot of this GUI-thread object: queued, so ``stopped`` is emitted here.
        self.qthread.finished.connect(self._on_finished)
        self.relay("snapshotReady", "sweepFailed", "stateChanged")
        self.requestInterval.connect(worker.set_interval)
        self.requestPaused.connect(worker.set_paused)
        self.requestSweep.connect(worker.sweep_now)
        self.requestStop.connect(worker.stop)

    @property
    def key(self) -> str:
        return self.worker.key

    def retire(self) -> None:
        """Stop watching without waiting: results from now on go nowhere, the
        connections close now, the thread ends by itself (then ``stopped``)."""
        if self.retired:
            return
        self.retired = True
        with warnings.catch_warnings():  # PySide warns when a signal had no receiver
            warnings.simplefilter("ignore", RuntimeWarning)
            for name in ("snapshotReady", "sweepFailed", "stateChanged"):
                getattr(self, name).disconnect()
        self._interrupt()
        self._end_thread()

    @Slot()
    def _on_finished(self) -> None:
        self.stopped.emit(self.key)

    def _interrupt(self) -> None:
        self.worker.abort()  # closes the connections: a sweep in progress ends now

    def _end_thread(self) -> None:
        self.requestStop.emit()  # the worker stops its timer, then quits its thread
