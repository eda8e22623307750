"""The alert service (``services.alerting``) in its own thread, for the desktop app.

Snapshots from all monitor workers arrive here (queued); silences, un-silences and
acknowledgements from the alert views come back the same way. After each change the
views get every known alert; the transitions also go out as ``alertEvents`` (popups).
Alerts restored from the history wait ``restore_grace_s`` for their cluster to be
watched again before they are let go.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from etcdmon_gui.model.alerts import Alert, AlertEvent, Silence
from etcdmon_gui.model.snapshot import ClusterSnapshot
from etcdmon_gui.services.alerting import RESTORE_GRACE_S, AlertService, Sink
from etcdmon_gui.store.history import AlertHistory
from etcdmon_gui.workers.thread_owner import ThreadOwner

log = logging.getLogger(__name__)

__all__ = ["RESTORE_GRACE_S", "AlertHandle", "AlertWorker", "Sink"]


class AlertWorker(QObject):
    """Signals:
    alertsChanged(list[Alert]): every known alert of every cluster, after each change.
    alertEvents(list[AlertEvent]): the transitions of one evaluation (for popups).
    silencesChanged(list[Silence]): every matcher silence kept, active and expired,
        after each change (and once at start).
    rulesProblem(str): a rules file, an override or the history could not be used; the
        previous rules stay in force.
    """

    alertsChanged = Signal(list)
    alertEvents = Signal(list)
    silencesChanged = Signal(list)
    rulesProblem = Signal(str)

    def __init__(
        self,
        history_factory: Callable[[], AlertHistory | None],
        sinks: Sequence[Sink] = (),
        rules_path: Path | None = None,
        *,
        restore_grace_s: float = RESTORE_GRACE_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__()
        self._history_factory = history_factory
        # The history is opened in the worker's thread (sqlite connections stay there).
        self.service = AlertService(
            None, sinks, rules_path, problems=self.rulesProblem.emit, clock=clock
        )
        self._grace = QTimer(self)  # a child: moves to the worker's thread with it
        self._grace.setSingleShot(True)
        self._grace.setInterval(max(0, int(restore_grace_s * 1000)))
        self._grace.timeout.connect(self._let_go_of_unwatched)

    @Slot()
    def start(self) -> None:
        try:
            self.service.history = self._history_factory()
        except Exception as exc:  # history is a comfort, never a reason to stop alerting
            log.error("alert history unavailable: %s", exc)
            self.rulesProblem.emit(f"alert history unavailable: {exc}")
        waiting = self.service.restore()
        self.silencesChanged.emit(self.service.silences)
        self._changed()
        if waiting:
            self._grace.start()

    def _changed(self, events: Sequence[AlertEvent] = ()) -> None:
        if events:
            self.alertEvents.emit(list(events))
        self.alertsChanged.emit(self.service.alerts())

    @Slot(str, str, object, object)
    def set_cluster(self, key: str, name: str, overrides: object, channels: object) -> None:
        """What a cluster is called, its rule overrides, and the channel ids its alerts
        go to (``None``: every channel), as its profile says. It is watched from now."""
        self.service.set_cluster(
            key,
            name,
            overrides if isinstance(overrides, Mapping) else None,
            list(channels) if isinstance(channels, list | tuple) else None,
        )

    @Slot(str)
    def forget_cluster(self, key: str) -> None:
        """The cluster is no longer watched: its firing alerts resolve."""
        self._changed(self.service.forget_cluster(key))

    def _let_go_of_unwatched(self) -> None:
        self._changed(self.service.let_go_of_unwatched())

    @Slot(object)
    def on_snapshot(self, snap: ClusterSnapshot) -> None:
        self._changed(self.service.evaluate(snap))

    def alerts(self) -> list[Alert]:
        return self.service.alerts()

    @Slot(str, float, str)
    def silence(self, fingerprint: str, until: float, reason: str) -> None:
        self.service.silence(fingerprint, until, reason)
        self._changed()

    @Slot(str)
    def unsilence(self, fingerprint: str) -> None:
        self.service.unsilence(fingerprint)
        self._changed()

    @Slot(str)
    def acknowledge(self, fingerprint: str) -> None:
        self.service.acknowledge(fingerprint)
        self._changed()

    @Slot(object)
    def add_silence(self, silence: object) -> None:
        """Add (or replace, by id) a matcher silence."""
        if isinstance(silence, Silence):
            self.service.add_silence(silence)
            self._silences_changed()

    @Slot(str)
    def expire_silence(self, silence_id: str) -> None:
        """End a silence now; it stays listed as expired."""
        self.service.expire_silence(silence_id)
        self._silences_changed()

    def _silences_changed(self) -> None:
        self.silencesChanged.emit(self.service.silences)
        self._changed()

    @Slot()
    def stop(self) -> None:
        self._grace.stop()
        self.service.close()
        thread = self.thread()
        if thread is not None:
            thread.quit()


class AlertHandle(ThreadOwner):
    """GUI-side owner of the alert worker and its thread.

    Signals: alertsChanged, alertEvents, silencesChanged, rulesProblem (relayed into the
    GUI thread); requestSnapshot, requestCluster, requestForget(str key),
    requestSilence, requestUnsilence(str fingerprint), requestAcknowledge,
    requestAddSilence(Silence), requestExpireSilence(str id), requestStop (queued into
    the worker).
    """

    alertsChanged = Signal(list)
    alertEvents = Signal(list)
    silencesChanged = Signal(list)
    rulesProblem = Signal(str)
    requestSnapshot = Signal(object)
    requestCluster = Signal(str, str, object, object)
    requestForget = Signal(str)
    requestSilence = Signal(str, float, str)
    requestUnsilence = Signal(str)
    requestAcknowledge = Signal(str)
    requestAddSilence = Signal(object)
    requestExpireSilence = Signal(str)
    requestStop = Signal()

    def __init__(self, worker: AlertWorker, parent: QObject | None = None) -> None:
        super().__init__(worker, "alerts", parent)
        self.qthread.started.connect(worker.start)
        self.relay("alertsChanged", "alertEvents", "silencesChanged", "rulesProblem")
        self.requestSnapshot.connect(worker.on_snapshot)
        self.requestCluster.connect(worker.set_cluster)
        self.requestForget.connect(worker.forget_cluster)
        self.requestSilence.connect(worker.silence)
        self.requestUnsilence.connect(worker.unsilence)
        self.requestAcknowledge.connect(worker.acknowledge)
        self.requestAddSilence.connect(worker.add_silence)
        self.requestExpireSilence.connect(worker.expire_silence)
        self.requestStop.connect(worker.stop)

    def _end_thread(self) -> None:
        self.requestStop.emit()  # the worker closes the history, then quits its thread
