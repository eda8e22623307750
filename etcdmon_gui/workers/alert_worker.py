"""Alert evaluation, history and delivery for every watched cluster, in one thread.

Snapshots from all monitor workers arrive here (queued); each cluster has its own
``AlertEngine`` (its profile may override rules). Transitions are written to the
history, handed to the notification sinks and emitted to the views. Silences and
acknowledgements from the alert table come back the same way.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal, Slot

from etcdmon_gui.model.alerts import Alert, AlertEvent
from etcdmon_gui.model.snapshot import ClusterSnapshot
from etcdmon_gui.monitor.alert_engine import AlertEngine
from etcdmon_gui.monitor.alert_rules import RulesError, RulesFile
from etcdmon_gui.store.history import AlertHistory
from etcdmon_gui.workers.thread_owner import ThreadOwner

log = logging.getLogger(__name__)

# Called with each transition and the channel ids its cluster sends to (None: all).
Sink = Callable[[AlertEvent, list[str] | None], object]


class AlertWorker(QObject):
    """Signals:
    alertsChanged(list[Alert]): every known alert of every cluster, after each change.
    alertEvents(list[AlertEvent]): the transitions of one evaluation (for popups).
    rulesProblem(str): a rules file or override could not be used; the previous rules
        stay in force.
    """

    alertsChanged = Signal(list)
    alertEvents = Signal(list)
    rulesProblem = Signal(str)

    def __init__(
        self,
        history_factory: Callable[[], AlertHistory | None],
        sinks: Sequence[Sink] = (),
        rules_path: Path | None = None,
    ) -> None:
        super().__init__()
        self._history_factory = history_factory
        self._history: AlertHistory | None = None
        self._sinks = list(sinks)
        self._rules_path = rules_path  # the user's rules.yaml (None: defaults only)
        self._rules: dict[str, RulesFile] = {}
        self._engines: dict[str, AlertEngine] = {}
        self._names: dict[str, str] = {}
        self._overrides: dict[str, Mapping[str, Mapping[str, Any]]] = {}
        self._channels: dict[str, list[str] | None] = {}
        self._restored: list[Alert] = []  # last states from the history, until evaluated

    @Slot()
    def start(self) -> None:
        try:
            self._history = self._history_factory()
        except Exception as exc:  # history is a comfort, never a reason to stop alerting
            log.error("alert history unavailable: %s", exc)
            self.rulesProblem.emit(f"alert history unavailable: {exc}")
        if self._history is not None:
            self._history.prune()
            self._restored = self._history.last_states()
            self.alertsChanged.emit(self._restored)

    @Slot(str, str, object, object)
    def set_cluster(self, key: str, name: str, overrides: object, channels: object) -> None:
        """What a cluster is called, its rule overrides, and the channel ids its alerts
        go to (``None``: every channel), as its profile says."""
        self._names[key] = name
        self._overrides[key] = overrides if isinstance(overrides, Mapping) else {}
        self._channels[key] = list(channels) if isinstance(channels, list | tuple) else None

    def _engine(self, key: str) -> AlertEngine | None:
        """The cluster's engine, its rules refreshed when the user's file changed."""
        engine = self._engines.get(key)
        try:
            if engine is None:
                source = RulesFile(
                    self._rules_path, self._overrides.get(key, {}), self._names.get(key, key)
                )
                self._rules[key] = source
                engine = self._engines[key] = AlertEngine(source.rules)
                engine.restore([a for a in self._restored if a.cluster == key])
            elif (changed := self._rules[key].reload_if_changed()) is not None:
                engine.set_rules(changed)
        except RulesError as exc:
            self.rulesProblem.emit(
                f"{exc}\nThe previous rules stay in force." if engine is not None else str(exc)
            )
        return engine

    @Slot(object)
    def on_snapshot(self, snap: ClusterSnapshot) -> None:
        engine = self._engine(snap.key)
        if engine is None:
            return
        try:
            events = engine.evaluate(snap, self._names.get(snap.key, snap.key))
        except Exception:  # a worker never dies silently
            log.exception("alert evaluation failed for %s", snap.key)
            return
        if events:
            if self._history is not None:
                try:
                    self._history.record(events)
                except Exception as exc:
                    log.error("could not record alert history: %s", exc)
            for sink in self._sinks:
                for event in events:
                    try:
                        sink(event, self._channels.get(snap.key))
                    except Exception:
                        log.exception("alert sink failed")
            self.alertEvents.emit(events)
        self.alertsChanged.emit(self.alerts())

    def alerts(self) -> list[Alert]:
        return [a for engine in self._engines.values() for a in engine.alerts]

    @Slot(str, float, str)
    def silence(self, fingerprint: str, until: float, reason: str) -> None:
        for engine in self._engines.values():
            if any(a.fingerprint == fingerprint for a in engine.alerts):
                engine.silence(fingerprint, until, reason)
        self.alertsChanged.emit(self.alerts())

    @Slot(str)
    def acknowledge(self, fingerprint: str) -> None:
        for engine in self._engines.values():
            if any(a.fingerprint == fingerprint for a in engine.alerts):
                engine.acknowledge(fingerprint)
        self.alertsChanged.emit(self.alerts())

    @Slot()
    def stop(self) -> None:
        if self._history is not None:
            self._history.close()
            self._history = None
        thread = self.thread()
        if thread is not None:
            thread.quit()


class AlertHandle(ThreadOwner):
    """GUI-side owner of the alert worker and its thread.

    Signals: alertsChanged, alertEvents, rulesProblem (relayed into the GUI thread);
    requestSnapshot, requestCluster, requestSilence, requestAcknowledge, requestStop
    (queued into the worker).
    """

    alertsChanged = Signal(list)
    alertEvents = Signal(list)
    rulesProblem = Signal(str)
    requestSnapshot = Signal(object)
    requestCluster = Signal(str, str, object, object)
    requestSilence = Signal(str, float, str)
    requestAcknowledge = Signal(str)
    requestStop = Signal()

    def __init__(self, worker: AlertWorker, parent: QObject | None = None) -> None:
        super().__init__(worker, "alerts", parent)
        self.qthread.started.connect(worker.start)
        self.relay("alertsChanged", "alertEvents", "rulesProblem")
        self.requestSnapshot.connect(worker.on_snapshot)
        self.requestCluster.connect(worker.set_cluster)
        self.requestSilence.connect(worker.silence)
        self.requestAcknowledge.connect(worker.acknowledge)
        self.requestStop.connect(worker.stop)

    def _end_thread(self) -> None:
        self.requestStop.emit()  # the worker closes the history, then quits its thread
