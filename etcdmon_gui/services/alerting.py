"""Alert evaluation, history and delivery for every watched cluster, without Qt.

Each cluster has its own ``AlertEngine`` (its profile may override rules). Transitions
are written to the history and handed to the sinks; every lasting change (transition,
acknowledgement, silence) is kept in the history, so a restart neither repeats a FIRING
nor forgets a RESOLVED, an acknowledgement or a silence. The desktop app runs one
``AlertService`` in its alert worker's thread; ``etcdmon watch`` runs one for its
cluster, on the same history file, so both keep one record.

Alerts restored from the history wait, per cluster, for that cluster to be watched
again; ``let_go_of_unwatched`` (after a grace period) resolves those of clusters still
not watched, as ``forget_cluster`` does when the user stops watching one: their firing
alerts resolve (saying the cluster is no longer watched), to the history and the sinks.
Not thread-safe: one owner thread.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from etcdmon_gui.bugs import report_bug
from etcdmon_gui.model.alerts import Alert, AlertEvent, Silence
from etcdmon_gui.model.snapshot import ClusterSnapshot
from etcdmon_gui.monitor.alert_engine import AlertEngine
from etcdmon_gui.monitor.alert_rules import Rule, RulesError, RulesFile
from etcdmon_gui.store.history.alerts import AlertStore

log = logging.getLogger(__name__)

# Called with each transition and the channel ids its cluster sends to (None: all).
EventSink = Callable[[AlertEvent, list[str] | None], object]


@runtime_checkable
class AlertSink(Protocol):
    """A sink that is also told, after each evaluation of a cluster, which of its alerts
    fire (the dispatcher: receivers such as Alertmanager forget alerts they stop
    hearing of)."""

    def notify(self, event: AlertEvent, channel_ids: list[str] | None = None) -> object: ...

    def firing(
        self, cluster: str, alerts: Sequence[Alert], channel_ids: list[str] | None = None
    ) -> object: ...


Sink = EventSink | AlertSink


@dataclasses.dataclass(frozen=True, slots=True)
class _EventsOnly:
    sink: EventSink

    def notify(self, event: AlertEvent, channel_ids: list[str] | None = None) -> object:
        return self.sink(event, channel_ids)

    def firing(
        self, cluster: str, alerts: Sequence[Alert], channel_ids: list[str] | None = None
    ) -> None:
        pass


RESTORE_GRACE_S = 60.0  # how long restored alerts wait for their cluster to be watched


class AlertService:
    """``problems`` is called with what could not be used (a rules file, the history);
    the previous rules stay in force. ``history`` may be set later, before ``restore``
    (the desktop app opens it in the thread that runs the service)."""

    def __init__(
        self,
        history: AlertStore | None,
        sinks: Sequence[Sink] = (),
        rules_path: Path | None = None,
        *,
        problems: Callable[[str], object] = lambda text: None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.history = history
        self._sinks: list[AlertSink] = [
            sink if isinstance(sink, AlertSink) else _EventsOnly(sink) for sink in sinks
        ]
        self._rules_path = rules_path  # the user's rules.yaml (None: defaults only)
        self._problems = problems
        self._clock = clock
        self._rules: dict[str, RulesFile] = {}
        self._engines: dict[str, AlertEngine] = {}
        self._names: dict[str, str] = {}
        self._overrides: dict[str, Mapping[str, Mapping[str, Any]]] = {}
        self._channels: dict[str, list[str] | None] = {}
        # Alerts from the history, per cluster, held (rule-less) until it is evaluated.
        self._waiting: dict[str, AlertEngine] = {}
        self._forgotten: set[str] = set()  # let go: late snapshots are ignored
        self._silences: list[Silence] = []

    def restore(self, only: str | None = None) -> bool:
        """Take back the history's alerts (of cluster ``only``, or all) and silences;
        whether any alert now waits for its cluster."""
        restored: list[Alert] = []
        if self.history is not None:
            try:
                self.history.prune()
                restored = self.history.last_states()
                self._silences = self.history.silences()
            except Exception as exc:  # history is a comfort, never a reason to stop alerting
                log.error("alert history unavailable: %s", exc)
                self._problems(f"alert history unavailable: {exc}")
        for alert in restored:
            if only is not None and alert.cluster != only:
                continue
            if alert.cluster not in self._waiting:
                self._waiting[alert.cluster] = self._new_engine([])
            self._waiting[alert.cluster].restore([alert])
        return bool(self._waiting)

    @property
    def silences(self) -> list[Silence]:
        return list(self._silences)

    def set_cluster(
        self,
        key: str,
        name: str,
        overrides: Mapping[str, Mapping[str, Any]] | None = None,
        channels: Sequence[str] | None = None,
    ) -> None:
        """What a cluster is called, its rule overrides, and the channel ids its alerts
        go to (``None``: every channel), as its profile says. It is watched from now."""
        self._forgotten.discard(key)
        changed = key in self._engines and (
            self._names.get(key) != name or self._overrides.get(key) != (overrides or {})
        )
        self._names[key] = name
        self._overrides[key] = overrides or {}
        self._channels[key] = list(channels) if channels is not None else None
        if changed:
            self._reread_rules(key)

    def set_rules_path(self, path: Path | None) -> None:
        """Read the rules from another user file from now (``etcdmon serve``'s reload);
        a cluster whose rules it cannot give keeps its previous ones (``problems``)."""
        if path == self._rules_path:
            return
        self._rules_path = path
        for key in list(self._engines):
            self._reread_rules(key)

    def _reread_rules(self, key: str) -> None:
        try:
            source = RulesFile(
                self._rules_path, self._overrides.get(key, {}), self._names.get(key, key)
            )
        except RulesError as exc:
            self._problems(f"{exc}\nThe previous rules stay in force.")
            return
        self._rules[key] = source
        self._engines[key].set_rules(source.rules)

    def forget_cluster(self, key: str) -> list[AlertEvent]:
        """The cluster is no longer watched: resolve its firing alerts (history, sinks),
        drop its pending ones, and ignore its snapshots until it is set again."""
        channels = self._channels.get(key)
        engine = self._engines.pop(key, None) or self._waiting.pop(key, None)
        self._waiting.pop(key, None)
        for known in (self._rules, self._names, self._overrides, self._channels):
            known.pop(key, None)
        self._forgotten.add(key)
        if engine is None:
            return []
        events = engine.forget_cluster(key)
        self._publish(events, engine.take_changes(), channels)
        self._tell_firing(key, (), channels)
        return events

    def let_go_of_unwatched(self) -> list[AlertEvent]:
        """Resolve restored alerts whose cluster was not watched again."""
        events = []
        for key in [k for k in self._waiting if k not in self._names]:
            log.info("alerts of %s resolved: the cluster is no longer watched", key)
            events += self.forget_cluster(key)
        return events

    def _new_engine(self, rules: Sequence[Rule]) -> AlertEngine:
        return AlertEngine(rules, clock=self._clock, silences=self._silences)

    def _engine(self, key: str) -> AlertEngine | None:
        """The cluster's engine, its rules refreshed when the user's file changed."""
        engine = self._engines.get(key)
        try:
            if engine is None:
                source = RulesFile(
                    self._rules_path, self._overrides.get(key, {}), self._names.get(key, key)
                )
                self._rules[key] = source
                engine = self._engines[key] = self._new_engine(source.rules)
                waiting = self._waiting.pop(key, None)
                if waiting is not None:
                    engine.restore(waiting.alerts)
            elif (changed := self._rules[key].reload_if_changed()) is not None:
                log.warning("reloaded rules from %s", self._rules[key].path)
                engine.set_rules(changed)
        except RulesError as exc:
            self._problems(
                f"{exc}\nThe previous rules stay in force." if engine is not None else str(exc)
            )
        return engine

    def evaluate(self, snap: ClusterSnapshot) -> list[AlertEvent]:
        """The transitions this snapshot causes, already kept and sent."""
        if snap.key in self._forgotten:
            return []  # a sweep queued before the cluster was let go
        engine = self._engine(snap.key)
        if engine is None:
            return []
        try:
            events = engine.evaluate(snap, self._names.get(snap.key, snap.key))
        except Exception as exc:  # evaluation never stops the service
            log.exception("alert evaluation failed for %s", snap.key)
            report_bug(exc, f"the alert evaluation of {snap.key}", logged=True)
            return []
        channels = self._channels.get(snap.key)
        self._publish(events, engine.take_changes(), channels)
        self._tell_firing(snap.key, engine.firing(), channels)
        return events

    def _tell_firing(self, key: str, firing: Sequence[Alert], channels: list[str] | None) -> None:
        for sink in self._sinks:
            try:
                sink.firing(key, firing, channels)
            except Exception as exc:
                log.exception("alert sink failed")
                report_bug(exc, "an alert sink", logged=True)

    def _publish(
        self, events: list[AlertEvent], changes: list[Alert], channels: list[str] | None
    ) -> None:
        """Send the transitions out, then keep them and the changed states (a history
        database that is slow to answer never delays a notification)."""
        for sink in self._sinks:
            for event in events:
                try:
                    sink.notify(event, channels)
                except Exception as exc:
                    log.exception("alert sink failed")
                    report_bug(exc, "an alert sink", logged=True)
        if self.history is not None:
            try:
                self.history.record(events)
                self.history.save_states(changes)
            except Exception as exc:
                log.error("could not record alert history: %s", exc)

    def _all_engines(self) -> Iterable[AlertEngine]:
        return [*self._engines.values(), *self._waiting.values()]

    def alerts(self) -> list[Alert]:
        return [a for engine in self._all_engines() for a in engine.alerts]

    # -- silences and acknowledgements -------------------------------------------------

    def _change(self, fingerprint: str, change: Callable[[AlertEngine], object]) -> None:
        for engine in self._all_engines():
            if any(a.fingerprint == fingerprint for a in engine.alerts):
                change(engine)
                self._publish([], engine.take_changes(), None)

    def silence(self, fingerprint: str, until: float, reason: str) -> None:
        self._change(fingerprint, lambda e: e.silence(fingerprint, until, reason))

    def unsilence(self, fingerprint: str) -> None:
        """End an alert's own silence."""
        self._change(fingerprint, lambda e: e.unsilence(fingerprint))

    def acknowledge(self, fingerprint: str) -> None:
        self._change(fingerprint, lambda e: e.acknowledge(fingerprint))

    def add_silence(self, silence: Silence) -> None:
        """Add (or replace, by id) a matcher silence."""
        self._silences = [silence, *(s for s in self._silences if s.id != silence.id)]
        self._silences.sort(key=lambda s: s.created_at, reverse=True)
        if self.history is not None:
            try:
                self.history.save_silence(silence)
            except Exception as exc:
                log.error("could not keep the silence: %s", exc)
        for engine in self._all_engines():
            engine.set_silences(self._silences)

    def expire_silence(self, silence_id: str) -> None:
        """End a silence now; it stays listed as expired."""
        now = self._clock()
        silence = next((s for s in self._silences if s.id == silence_id), None)
        if silence is not None and not silence.is_expired(now):
            self.add_silence(
                dataclasses.replace(silence, starts=min(silence.starts, now), ends=now)
            )

    def close(self) -> None:
        if self.history is not None:
            self.history.close()
            self.history = None
