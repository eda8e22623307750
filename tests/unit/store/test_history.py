"""Alert history in SQLite: transitions, current states (acknowledgements and silences
included) and matcher silences kept across a restart, then used to resume; and the
notification dispatcher's durable queue in the same file."""

from __future__ import annotations

import dataclasses
import json
import math
import sqlite3
import threading
from pathlib import Path

from etcdmon_gui.model.alerts import Alert, AlertEvent, AlertState, EventKind, Severity, Silence
from etcdmon_gui.model.delivery import QueuedDelivery
from etcdmon_gui.monitor.alert_engine import AlertEngine
from etcdmon_gui.monitor.alert_rules import Rule
from etcdmon_gui.store.history import SCHEMA_VERSION, AlertHistory, DeliveryQueueStore
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


def down_rule() -> Rule:
    return Rule.model_validate(
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


def keep(history: AlertHistory, engine: AlertEngine, events: list[AlertEvent]) -> None:
    """What the alert worker does after each evaluation or user action."""
    history.record(events)
    history.save_states(engine.take_changes())


def test_acknowledged_and_silenced_firing_alerts_stay_so_after_a_restart(tmp_path: Path) -> None:
    clock = Clock()
    path = tmp_path / "h.sqlite3"
    history = AlertHistory(path, clock=clock)
    first = AlertEngine([down_rule()], clock=clock)
    down = [member(2, up=False), member(3, up=False), member(4, up=False)]
    keep(history, first, first.evaluate(snap(clock.t, down)))
    fps = {a.member: a.fingerprint for a in first.alerts}
    first.acknowledge(fps["m2"])
    first.silence(fps["m3"], math.inf, "known issue")
    first.silence(fps["m4"], clock.t + 3600, "for an hour")
    keep(history, first, [])
    history.close()

    # The app restarts.
    again = AlertHistory(path, clock=clock)
    second = AlertEngine([down_rule()], clock=clock)
    second.restore(again.last_states())
    by_member = {a.member: a for a in second.alerts}
    assert by_member["m2"].acknowledged and by_member["m2"].state == AlertState.FIRING
    assert by_member["m3"].silenced_until == math.inf
    assert by_member["m3"].silence_reason == "known issue"
    assert by_member["m4"].silenced_until == clock.t + 3600
    clock.t += 10
    # m3 and m4 resolve silently, m2 out loud; the acknowledgement ends with it.
    events = second.evaluate(snap(clock.t, [member(2), member(3), member(4)]))
    assert [(e.kind, e.alert.member, e.alert.acknowledged) for e in events] == [
        (EventKind.RESOLVED, "m2", False)
    ]
    keep(again, second, events)
    assert {a.member: a.state for a in again.last_states()} == {
        "m2": AlertState.RESOLVED,
        "m3": AlertState.RESOLVED,  # kept although no event was sent
        "m4": AlertState.RESOLVED,
    }


def test_a_silenced_transition_is_kept_without_an_event(tmp_path: Path) -> None:
    clock = Clock()
    history = AlertHistory(tmp_path / "h.sqlite3", clock=clock)
    mute = Silence("s1", "down", None, None, clock.t, clock.t + 600, "deploy", clock.t)
    engine = AlertEngine([down_rule()], clock=clock, silences=[mute])
    events = engine.evaluate(snap(clock.t, [member(2, up=False)]))
    assert events == []
    keep(history, engine, events)
    assert history.events() == []
    (state,) = history.last_states()
    assert state.state == AlertState.FIRING and state.silenced_by == mute


def old_database(path: Path, rows: list[tuple[float, EventKind, Alert]]) -> None:
    """A history file as the first release wrote it: alert_events only, schema 0, and
    alerts without the fields added since."""
    db = sqlite3.connect(path)
    db.execute(
        "CREATE TABLE alert_events ("
        " id INTEGER PRIMARY KEY, at REAL NOT NULL, kind TEXT NOT NULL,"
        " fingerprint TEXT NOT NULL, cluster TEXT NOT NULL, rule TEXT NOT NULL,"
        " severity TEXT NOT NULL, alert TEXT NOT NULL)"
    )
    for at, kind, a in rows:
        doc = dataclasses.asdict(a)
        for added in ("fires_at", "silenced_by"):
            del doc[added]
        doc["severity"], doc["state"] = a.severity.name, a.state.value
        db.execute(
            "INSERT INTO alert_events (at, kind, fingerprint, cluster, rule, severity, alert)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (at, kind.value, a.fingerprint, a.cluster, a.rule, a.severity.name, json.dumps(doc)),
        )
    db.commit()
    db.close()


def test_an_existing_database_gets_its_states_filled_once(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite3"
    old_database(
        path,
        [
            (100.0, EventKind.FIRING, alert(AlertState.FIRING, 100.0, last_notified=100.0)),
            (200.0, EventKind.REPEAT, alert(AlertState.FIRING, 100.0, last_notified=200.0)),
            (100.0, EventKind.FIRING, alert(AlertState.FIRING, 100.0, fingerprint="fp2")),
            (150.0, EventKind.RESOLVED, alert(AlertState.RESOLVED, 150.0, fingerprint="fp2")),
        ],
    )
    clock = Clock()
    clock.t = 1000.0
    history = AlertHistory(path, clock=clock)
    states = {a.fingerprint: a for a in history.last_states()}
    assert states["fp1"].state == AlertState.FIRING and states["fp1"].last_notified == 200.0
    assert states["fp2"].state == AlertState.RESOLVED
    assert len(history.events()) == 4  # the history itself is untouched
    history.save_states([dataclasses.replace(states["fp1"], acknowledged=True)])
    history.close()
    # Opened again: the fill does not run twice (it would undo the acknowledgement).
    again = AlertHistory(path, clock=clock)
    assert {a.fingerprint: a.acknowledged for a in again.last_states()} == {
        "fp1": True,
        "fp2": False,
    }


def test_firing_states_outlive_the_window_resolved_ones_do_not(tmp_path: Path) -> None:
    clock = Clock()
    history = AlertHistory(tmp_path / "h.sqlite3", clock=clock)
    history.save_states(
        [
            alert(AlertState.FIRING, clock.t),
            alert(AlertState.RESOLVED, clock.t, fingerprint="fp2"),
            alert(AlertState.PENDING, clock.t, fingerprint="fp3"),  # not kept
        ]
    )
    assert {a.fingerprint for a in history.last_states()} == {"fp1", "fp2"}
    clock.t += 8 * 86_400
    assert [a.fingerprint for a in history.last_states()] == ["fp1"]
    clock.t += 30 * 86_400
    history.prune()
    assert [a.fingerprint for a in history.last_states(since_s=1e12)] == ["fp1"]


def test_silences_are_kept_replaced_and_pruned(tmp_path: Path) -> None:
    clock = Clock()
    path = tmp_path / "h.sqlite3"
    history = AlertHistory(path, clock=clock)
    one = Silence("s1", "down", "c1", None, clock.t, clock.t + 3600, "deploy", clock.t, "prod")
    two = Silence("s2", None, None, "m2", clock.t, clock.t + 60, "disk swap", clock.t + 1)
    history.save_silence(one)
    history.save_silence(two)
    history.save_silence(dataclasses.replace(one, ends=clock.t + 10))  # expired early
    history.close()
    again = AlertHistory(path, clock=clock)
    assert again.silences() == [two, dataclasses.replace(one, ends=clock.t + 10)]
    clock.t += 30 * 86_400 + 30
    again.prune()
    assert again.silences() == [two]  # ended 30 days + 20 s ago vs 30 days - 30 s ago


# -- the delivery queue ---------------------------------------------------------------


def queued(qid: str, kind: EventKind = EventKind.FIRING, **kw: object) -> QueuedDelivery:
    state = AlertState.RESOLVED if kind is EventKind.RESOLVED else AlertState.FIRING
    fields: dict[str, object] = {
        "queue_id": qid,
        "channel_id": "hook",
        "event": AlertEvent(kind, alert(state, 100.0, silenced_until=math.inf), 110.0),
        "created_at": 120.0,
        "attempts": 0,
        "next_attempt_at": 120.0,
    }
    fields.update(kw)
    return QueuedDelivery(**fields)  # type: ignore[arg-type]


def test_the_delivery_queue_keeps_its_order_and_owner_across_a_reopen(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite3"
    app = DeliveryQueueStore(path, owner="app")
    one, two, three = queued("q1"), queued("q2", EventKind.RESOLVED), queued("q3")
    for item in (one, two, three):
        app.save(item)
    failed = dataclasses.replace(one, attempts=3, next_attempt_at=150.0, error="HTTP 503")
    app.save(failed)  # an update keeps its place
    app.remove("q3")
    # Saved from a notification thread, not the one that opened it.
    other = threading.Thread(target=app.save, args=(queued("q4", channel_id="mail"),))
    other.start()
    other.join()
    watch = DeliveryQueueStore(path, owner="watch:c1")
    watch.save(queued("w1"))
    app.close()
    again = DeliveryQueueStore(path, owner="app")
    assert [q.queue_id for q in again.pending()] == ["q1", "q2", "q4"]
    assert again.pending()[:2] == [failed, two]  # the event and its alert round-trip
    assert [q.queue_id for q in watch.pending()] == ["w1"]
    again.close()
    watch.close()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)


def test_a_version_1_history_gets_the_queue_and_keeps_what_it_had(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite3"
    history = AlertHistory(path)
    history.record([AlertEvent(EventKind.FIRING, alert(AlertState.FIRING, 100.0), 100.0)])
    history.close()
    db = sqlite3.connect(path)  # as the previous release left it
    db.execute("DROP TABLE delivery_queue")
    db.execute("PRAGMA user_version = 1")
    db.commit()
    db.close()
    queue = DeliveryQueueStore(path, owner="app")
    queue.save(queued("q1"))
    assert [q.queue_id for q in queue.pending()] == ["q1"]
    queue.close()
    again = AlertHistory(path)
    assert [e.kind for e in again.events()] == [EventKind.FIRING]
    assert [a.fingerprint for a in again.last_states(since_s=1e12)] == ["fp1"]
