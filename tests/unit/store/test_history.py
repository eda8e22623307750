"""Alert history in SQLite: transitions kept across a restart, then used to resume."""

from __future__ import annotations

import math
from pathlib import Path

from etcdmon_gui.model.alerts import Alert, AlertEvent, AlertState, EventKind, Severity
from etcdmon_gui.monitor.alert_engine import AlertEngine
from etcdmon_gui.monitor.alert_rules import Rule
from etcdmon_gui.store.history import AlertHistory
from tests.builders import Clock, member, snap


def alert(state: AlertState, at: float, **kw: object) -> Alert:
    fields: dict[str, object] = {
        "fingerprint": "fp1",
        "rule": "down",
        "severity": Severity.WARNING,
        "cluster": "c1",
        "cluster_name": "prod",
        "member": "m2",
        "state": state,
        "value": 1.0,
        "summary": "m2 down",
        "since": at,
        "labels": {"alertname": "down"},
    }
    fields.update(kw)
    return Alert(**fields)  # type: ignore[arg-type]


def test_events_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite3"
    history = AlertHistory(path)
    history.record(
        [
            AlertEvent(
                EventKind.FIRING, alert(AlertState.FIRING, 100.0, silenced_until=math.inf), 100.0
            )
        ]
    )
    history.record([AlertEvent(EventKind.RESOLVED, alert(AlertState.RESOLVED, 200.0), 200.0)])
    history.close()
    again = AlertHistory(path)
    kinds = [(e.kind, e.at) for e in again.events()]
    assert kinds == [(EventKind.RESOLVED, 200.0), (EventKind.FIRING, 100.0)]
    assert again.events()[1].alert.silenced_until == math.inf
    assert again.prune(older_than_s=0) == 2 and again.events() == []


def test_a_restart_neither_repeats_firing_nor_forgets_resolved(tmp_path: Path) -> None:
    clock = Clock()
    rule = Rule.model_validate(
        {
            "name": "down",
            "scope": "member",
            "signal": "member_down",
            "op": ">",
            "threshold": 0,
            "for": "0s",
            "severity": "warning",
            "summary": "{member} down",
        }
    )
    history = AlertHistory(tmp_path / "h.sqlite3")
    first = AlertEngine([rule], clock=clock)
    events = first.evaluate(snap(clock.t, [member(2, up=False)]))
    history.record(events)
    # The app restarts: a new engine resumes from the history's last states.
    second = AlertEngine([rule], clock=clock)
    second.restore(history.last_states(since_s=1e12))  # the test clock is in 1970
    clock.t += 10
    assert second.evaluate(snap(clock.t, [member(2, up=False)])) == []
    clock.t += 10
    (resolved,) = second.evaluate(snap(clock.t, [member(2)]))
    assert resolved.kind == EventKind.RESOLVED
    assert resolved.alert.fingerprint == events[0].alert.fingerprint
