"""The alert lifecycle: inactive -> pending -> firing -> resolved, one alert per fingerprint.

``AlertEngine.evaluate(snapshot)`` compares every enabled rule with the snapshot's
signals and returns the events worth telling someone about: FIRING once the condition
has held for the rule's ``for``, REPEAT every repeat interval while it keeps firing,
RESOLVED when it stops. A signal that is unknown in a snapshot (``None``) changes
nothing: a cluster that cannot be reached has not healed. Silenced alerts (by their own
silence or by a matcher ``Silence``) change state but produce no events. A cluster that
is no longer watched is forgotten: its firing alerts resolve, saying so. Pure logic and
a clock, no I/O: the worker persists (``take_changes``) and the dispatcher delivers.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import math
import time
from collections.abc import Callable, Sequence

from etcdmon_gui.model.alerts import Alert, AlertEvent, AlertState, EventKind, Silence
from etcdmon_gui.model.snapshot import ClusterSnapshot, MemberStatus
from etcdmon_gui.monitor.alert_rules import Rule
from etcdmon_gui.monitor.rule_inputs import SIGNALS, Reading, SignalHistory

log = logging.getLogger(__name__)

DEFAULT_REPEAT_S = 4 * 3600
KEEP_RESOLVED_S = 3600  # a resolved alert stays in memory (and the live table) this long
UNTIL_RESOLVED = math.inf


def fingerprint(rule: str, cluster: str, member: str | None) -> str:
    return hashlib.sha256(f"{rule}\0{cluster}\0{member or ''}".encode()).hexdigest()[:16]


class _Safe(dict[str, object]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def render(template: str, **values: object) -> str:
    """The summary with its fields filled; a bad template never breaks evaluation."""
    try:
        return template.format_map(_Safe(values))
    except (ValueError, TypeError, KeyError, IndexError):
        return template


class AlertEngine:
    """Alert state for one or more clusters. Not thread-safe: one owner thread."""

    def __init__(
        self,
        rules: Sequence[Rule],
        *,
        repeat_s: float = DEFAULT_REPEAT_S,
        keep_resolved_s: float = KEEP_RESOLVED_S,
        clock: Callable[[], float] = time.time,
        silences: Sequence[Silence] = (),
    ) -> None:
        self.rules = list(rules)
        self.repeat_s = repeat_s
        self.keep_resolved_s = keep_resolved_s
        self.clock = clock
        self._alerts: dict[str, Alert] = {}
        self._history: dict[str, SignalHistory] = {}
        self._silences: list[Silence] = list(silences)
        self._changes: dict[str, Alert] = {}

    def set_rules(self, rules: Sequence[Rule]) -> None:
        """New rules apply from the next evaluation; alerts of removed rules resolve then."""
        self.rules = list(rules)

    @property
    def alerts(self) -> list[Alert]:
        """Every alert not inactive, most severe and oldest first."""
        return sorted(self._alerts.values(), key=lambda a: (-a.severity, a.since))

    def firing(self) -> list[Alert]:
        return [a for a in self.alerts if a.state == AlertState.FIRING]

    def take_changes(self) -> list[Alert]:
        """The alerts whose lasting state changed since the last call: fired, repeated,
        resolved (silenced or not), acknowledged, silenced or un-silenced. What the
        history's state table keeps so a restart resumes them as they were."""
        changes = list(self._changes.values())
        self._changes.clear()
        return changes

    def _note(self, alert: Alert) -> None:
        self._changes[alert.fingerprint] = alert

    # -- evaluation -----------------------------------------------------------------

    def evaluate(self, snap: ClusterSnapshot, cluster_name: str | None = None) -> list[AlertEvent]:
        now = self.clock()
        name = cluster_name or snap.key
        history = self._history.setdefault(snap.key, SignalHistory())
        history.record(snap)
        seen: set[str] = set()
        events: list[AlertEvent] = []
        for rule in self.rules:
            if not rule.enabled:
                continue
            signal = SIGNALS[rule.signal]
            if rule.scope == "cluster":
                assert signal.cluster is not None
                targets: list[tuple[str | None, Reading]] = [(None, signal.cluster(snap, history))]
            elif snap.error:
                # Nothing answered: members' states are unknown, not healed. Keep them.
                seen.update(
                    fp
                    for fp, a in self._alerts.items()
                    if a.cluster == snap.key and a.rule == rule.name
                )
                continue
            else:
                assert signal.member is not None
                targets = [(_member_name(m), signal.member(m, history)) for m in snap.members]
            for member, reading in targets:
                fp = fingerprint(rule.name, snap.key, member)
                seen.add(fp)
                event = self._step(fp, rule, snap.key, name, member, reading, now)
                if event is not None:
                    events.append(event)
        for fp, alert in list(self._alerts.items()):
            if alert.cluster == snap.key and fp not in seen:  # rule or member gone
                event = self._resolve(fp, alert, now)
                if event is not None:
                    events.append(event)
        for fp, alert in self._alerts.items():  # silences start and end with time
            if alert.cluster == snap.key:
                self._alerts[fp] = self._with_silence(alert, now)
        self.forget_resolved(self.keep_resolved_s)
        return events

    def _step(
        self,
        fp: str,
        rule: Rule,
        cluster: str,
        cluster_name: str,
        member: str | None,
        reading: Reading,
        now: float,
    ) -> AlertEvent | None:
        alert = self._alerts.get(fp)
        if reading.value is None:
            return None  # unknown this time (no answer, no such metric): no transition
        summary = render(
            rule.summary,
            cluster=cluster_name,
            member=member or "",
            value=reading.value,
            detail=reading.detail,
            threshold=rule.threshold,
        )
        if not rule.holds(reading.value):
            if alert is not None and alert.state in (AlertState.PENDING, AlertState.FIRING):
                return self._resolve(fp, alert, now)
            return None
        if alert is None or alert.state == AlertState.RESOLVED:
            alert = Alert(
                fp,
                rule.name,
                rule.severity,
                cluster,
                cluster_name,
                member,
                AlertState.PENDING,
                reading.value,
                summary,
                since=now,
                active_at=now,
                labels={
                    "alertname": rule.name,
                    "severity": rule.severity.name.lower(),
                    "cluster": cluster_name,
                    "member": member or "",
                },
            )
        else:
            alert = dataclasses.replace(
                alert, value=reading.value, summary=summary, severity=rule.severity
            )
        event = None
        if alert.state == AlertState.PENDING and now - (alert.active_at or now) >= rule.for_s:
            alert = dataclasses.replace(
                alert,
                state=AlertState.FIRING,
                since=now,
                fires_at=None,
                fired_at=now,
                last_notified=now,
            )
            event = AlertEvent(EventKind.FIRING, alert, now)
        elif alert.state == AlertState.PENDING:  # the rule's ``for`` may have changed
            alert = dataclasses.replace(alert, fires_at=(alert.active_at or now) + rule.for_s)
        elif alert.state == AlertState.FIRING:
            repeat = rule.repeat_s if rule.repeat_s is not None else self.repeat_s
            if repeat > 0 and now - (alert.last_notified or now) >= repeat:
                alert = dataclasses.replace(alert, last_notified=now)
                event = AlertEvent(EventKind.REPEAT, alert, now)
        alert = self._with_silence(alert, now)
        self._alerts[fp] = alert
        if event is not None:
            event = dataclasses.replace(event, alert=alert)
            self._note(alert)
        return self._unless_silenced(event, now)

    def _resolve(self, fp: str, alert: Alert, now: float) -> AlertEvent | None:
        if alert.state == AlertState.PENDING:  # never fired: nobody was told
            del self._alerts[fp]
            return None
        if alert.state != AlertState.FIRING:
            return None
        silenced = self._silenced(alert, now)
        resolved = _resolved(alert, now)
        self._alerts[fp] = resolved
        self._note(resolved)
        return None if silenced else AlertEvent(EventKind.RESOLVED, resolved, now)

    def restore(self, alerts: Sequence[Alert]) -> None:
        """Take back alerts from a previous run (the history's last states) so a restart
        neither repeats a FIRING nor forgets to send the RESOLVED."""
        now = self.clock()
        for alert in alerts:
            if alert.state in (AlertState.FIRING, AlertState.RESOLVED):
                current = self._alerts.setdefault(alert.fingerprint, alert)
                self._alerts[alert.fingerprint] = self._with_silence(current, now)

    def forget_cluster(self, key: str) -> list[AlertEvent]:
        """Stop evaluating a cluster that is no longer watched: its firing alerts resolve
        with a summary saying so (an event unless silenced, so receivers stop showing
        them firing), pending ones vanish, and all of them leave memory."""
        now = self.clock()
        events: list[AlertEvent] = []
        for fp, alert in list(self._alerts.items()):
            if alert.cluster != key:
                continue
            del self._alerts[fp]
            if alert.state != AlertState.FIRING:
                continue
            resolved = _resolved(
                alert,
                now,
                summary=f"{alert.cluster_name} is no longer watched (was: {alert.summary})",
            )
            self._note(resolved)
            if not self._silenced(alert, now):
                events.append(AlertEvent(EventKind.RESOLVED, resolved, now))
        self._history.pop(key, None)
        return events

    # -- silences and acknowledgement -------------------------------------------------

    def silence(self, fp: str, until: float, reason: str = "") -> Alert:
        """Mute an alert until ``until`` (UNIX time) or ``UNTIL_RESOLVED``, saying why."""
        alert = dataclasses.replace(
            self._alerts[fp], silenced_until=until, silence_reason=reason or None
        )
        self._alerts[fp] = alert
        self._note(alert)
        return alert

    def unsilence(self, fp: str) -> Alert:
        """End an alert's own silence (a matcher silence is expired on its own)."""
        alert = dataclasses.replace(self._alerts[fp], silenced_until=None, silence_reason=None)
        self._alerts[fp] = alert
        self._note(alert)
        return alert

    def acknowledge(self, fp: str) -> Alert:
        alert = dataclasses.replace(self._alerts[fp], acknowledged=True)
        self._alerts[fp] = alert
        self._note(alert)
        return alert

    def set_silences(self, silences: Sequence[Silence]) -> None:
        """The matcher silences in force (active, future and expired ones alike: each
        applies between its start and end). Applied to every alert at once."""
        self._silences = list(silences)
        now = self.clock()
        for fp, alert in self._alerts.items():
            self._alerts[fp] = self._with_silence(alert, now)

    def _matching_silence(self, alert: Alert, now: float) -> Silence | None:
        """The active silence that mutes ``alert`` longest, if any."""
        matching = [s for s in self._silences if s.is_active(now) and s.matches(alert)]
        return max(matching, key=lambda s: (s.ends, s.id), default=None)

    def _with_silence(self, alert: Alert, now: float) -> Alert:
        """``alert`` naming the matcher silence that mutes it now (none once resolved)."""
        live = alert.state in (AlertState.PENDING, AlertState.FIRING)
        silence = self._matching_silence(alert, now) if live else None
        if silence == alert.silenced_by:
            return alert
        return dataclasses.replace(alert, silenced_by=silence)

    def _silenced(self, alert: Alert, now: float) -> bool:
        own = alert.silenced_until is not None and now < alert.silenced_until
        return own or self._matching_silence(alert, now) is not None

    def _unless_silenced(self, event: AlertEvent | None, now: float) -> AlertEvent | None:
        if event is not None and self._silenced(event.alert, now):
            log.info("silenced: %s %s", event.kind.value, event.alert.summary)
            return None
        return event

    def forget_resolved(self, older_than_s: float) -> None:
        """Drop resolved alerts from memory (the history store keeps them)."""
        now = self.clock()
        for fp, a in list(self._alerts.items()):
            if a.state == AlertState.RESOLVED and now - a.since > older_than_s:
                del self._alerts[fp]


def _resolved(alert: Alert, now: float, summary: str | None = None) -> Alert:
    """``alert`` resolved now: the acknowledgement and an until-resolved silence end."""
    until_resolved = alert.silenced_until == UNTIL_RESOLVED
    return dataclasses.replace(
        alert,
        state=AlertState.RESOLVED,
        summary=alert.summary if summary is None else summary,
        since=now,
        resolved_at=now,
        acknowledged=False,
        silenced_until=None if until_resolved else alert.silenced_until,
        silence_reason=None if until_resolved else alert.silence_reason,
        silenced_by=None,
    )


def _member_name(m: MemberStatus) -> str:
    return m.name or m.id_hex
