"""Alert history on disk: every transition, each alert's current state, and the
silences, so alerts (acknowledged and silenced ones too) survive a restart.

SQLite in the user data directory, in WAL mode. One ``AlertHistory`` per thread (sqlite
connections stay in the thread that opened them); the alert worker owns the writer.

Tables (``PRAGMA user_version`` is the schema version):

- ``alert_events``: one row per transition (firing, repeat, resolved) as sent out.
- ``alert_states``: each fingerprint's current firing or resolved alert, upserted on
  every transition, acknowledgement and silence, silenced transitions included (they
  send no event). ``last_states`` reads it. Version 1 added it, filled once from the
  newest event of each fingerprint, so an older database keeps what it knew.
- ``silences``: matcher silences, active and expired.
- ``delivery_queue`` (version 2): the notification dispatcher's durable queue, one row
  per alert delivery from before its first try until it is delivered, given up or
  superseded (``DeliveryQueueStore``), so a restart, even after ``kill -9``, sends what
  was still waiting. Rows name the channel by id; no secret is ever stored.

Old events, resolved states and silences that ended long ago are pruned by age; a
firing alert's state is kept until it resolves. Queued deliveries are not pruned here:
the dispatcher gives them up after its retry time.
"""

from __future__ import annotations

import dataclasses
import json
import math
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Protocol

from etcdmon_gui.model.alerts import Alert, AlertEvent, AlertState, EventKind, Severity, Silence
from etcdmon_gui.model.delivery import QueuedDelivery
from etcdmon_gui.model.history import AlertQuery
from etcdmon_gui.store.history.db import connect, default_path

RETENTION_S = 30 * 86_400
_KEPT_STATES = (AlertState.FIRING.value, AlertState.RESOLVED.value)  # what a restart resumes


def alert_json(alert: Alert) -> str:
    doc = dataclasses.asdict(alert)
    doc["severity"] = alert.severity.name
    doc["state"] = alert.state.value
    if doc["silenced_until"] == math.inf:
        doc["silenced_until"] = "inf"
    return json.dumps(doc)


def alert_from_json(text: str) -> Alert:
    doc: dict[str, Any] = json.loads(text)
    doc["severity"] = Severity[doc["severity"]]
    doc["state"] = AlertState(doc["state"])
    if doc.get("silenced_until") == "inf":
        doc["silenced_until"] = math.inf
    if doc.get("silenced_by") is not None:
        doc["silenced_by"] = Silence(**doc["silenced_by"])
    return Alert(**doc)


SILENCE_COLUMNS = "id, rule, cluster, member, starts, ends, reason, created_at, cluster_name"


# The rows written and read, shared with the PostgreSQL store (``postgres.alerts``,
# ``postgres.reader``): the columns in the order of these tuples.


def alert_event_row(e: AlertEvent) -> tuple[object, ...]:
    """(at, kind, fingerprint, cluster, rule, severity, alert) of ``alert_events``; the
    alert as JSON."""
    a = e.alert
    return (e.at, e.kind.value, a.fingerprint, a.cluster, a.rule, a.severity.name, alert_json(a))


def alert_event_from_row(row: Sequence[Any]) -> AlertEvent:
    """(kind, at, alert as JSON text) read back as the event."""
    kind, at, alert = row
    return AlertEvent(EventKind(kind), alert_from_json(alert), at)


def state_rows(
    alerts: Iterable[tuple[Alert, float]],
) -> list[tuple[str, str, str, str, float, str]]:
    """(fingerprint, cluster, rule, state, updated_at, alert) of ``alert_states`` for the
    (alert, time) pairs a restart resumes (firing and resolved ones); the alert as JSON."""
    return [
        (a.fingerprint, a.cluster, a.rule, a.state.value, at, alert_json(a))
        for a, at in alerts
        if a.state.value in _KEPT_STATES
    ]


def alert_events_query(q: AlertQuery, mark: str = "?") -> tuple[str, list[Any]]:
    """The WHERE clause (or "") and its arguments selecting the events ``q`` asks for;
    ``mark`` is the driver's placeholder (``?`` for sqlite3, ``%s`` for psycopg)."""
    where: list[str] = []
    args: list[Any] = []
    for column, value in (("cluster", q.cluster), ("rule", q.rule)):
        if value is not None:
            where.append(f"{column} = {mark}")
            args.append(value)
    if q.severity is not None:
        where.append(f"severity = {mark}")
        args.append(q.severity.name)
    if q.since is not None:
        where.append(f"at >= {mark}")
        args.append(q.since)
    if q.until is not None:
        where.append(f"at <= {mark}")
        args.append(q.until)
    return (" WHERE " + " AND ".join(where) if where else ""), args


def alert_events(db: sqlite3.Connection, q: AlertQuery) -> list[AlertEvent]:
    """The transitions matching ``q``, the newest first."""
    where, args = alert_events_query(q)
    sql = "SELECT kind, at, alert FROM alert_events" + where
    rows = db.execute(sql + " ORDER BY at DESC, id DESC LIMIT ?", (*args, q.limit))
    return [alert_event_from_row(row) for row in rows]


def fill_states_from_events(db: sqlite3.Connection) -> None:
    """Schema 1: each fingerprint's state, from its newest event."""
    rows = db.execute(
        "SELECT at, alert FROM alert_events e WHERE id = ("
        " SELECT MAX(id) FROM alert_events WHERE fingerprint = e.fingerprint)"
    ).fetchall()
    _upsert_states(db, ((alert_from_json(text), at) for at, text in rows))


def _upsert_states(db: sqlite3.Connection, alerts: Iterable[tuple[Alert, float]]) -> None:
    db.executemany(
        "INSERT INTO alert_states (fingerprint, cluster, rule, state, updated_at, alert)"
        " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (fingerprint) DO UPDATE SET"
        " cluster = excluded.cluster, rule = excluded.rule, state = excluded.state,"
        " updated_at = excluded.updated_at, alert = excluded.alert",
        state_rows(alerts),
    )


class AlertStore(Protocol):
    """What ``services.alerting.AlertService`` keeps its alerts in: this file's
    ``AlertHistory``, or a PostgreSQL history's ``PgAlertHistory``."""

    def record(self, events: Sequence[AlertEvent]) -> None: ...
    def save_states(self, alerts: Sequence[Alert]) -> None: ...
    def last_states(self, since_s: float = ...) -> list[Alert]: ...
    def save_silence(self, silence: Silence) -> None: ...
    def silences(self) -> list[Silence]: ...
    def events(self, query: AlertQuery | None = None) -> list[AlertEvent]: ...
    def prune(self, older_than_s: float = ...) -> int: ...
    def close(self) -> None: ...


class AlertHistory:
    def __init__(self, path: Path | None = None, *, clock: Callable[[], float] = time.time) -> None:
        self.path = path or default_path()
        self.clock = clock
        self._db = connect(self.path)

    def _upsert_states(self, alerts: Iterable[tuple[Alert, float]]) -> None:
        _upsert_states(self._db, alerts)

    def save_states(self, alerts: Sequence[Alert]) -> None:
        """Keep these alerts as their fingerprints' current state (pending ones are not
        kept: a restart starts their ``for`` again)."""
        if not alerts:
            return
        now = self.clock()
        with self._db:
            self._upsert_states((a, now) for a in alerts)

    def record(self, events: Sequence[AlertEvent]) -> None:
        """Append the transitions, and keep each alert as its current state."""
        if not events:
            return
        with self._db:
            self._upsert_states((e.alert, e.at) for e in events)
            self._db.executemany(
                "INSERT INTO alert_events (at, kind, fingerprint, cluster, rule, severity, alert)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                [alert_event_row(e) for e in events],
            )

    def events(self, query: AlertQuery | None = None) -> list[AlertEvent]:
        """The transitions ``query`` asks for (all by default), the newest first."""
        return alert_events(self._db, query or AlertQuery())

    def last_states(self, since_s: float = 7 * 86_400) -> list[Alert]:
        """Each fingerprint's current alert, acknowledgement and silence included: every
        firing one, and those resolved within ``since_s``. What a restart resumes."""
        rows = self._db.execute(
            "SELECT alert FROM alert_states WHERE state = ? OR (state = ? AND updated_at >= ?)"
            " ORDER BY updated_at",
            (AlertState.FIRING.value, AlertState.RESOLVED.value, self.clock() - since_s),
        )
        return [alert_from_json(a) for (a,) in rows]

    # -- silences ---------------------------------------------------------------------

    def save_silence(self, silence: Silence) -> None:
        """Add a silence, or replace the one with its id (expiring it, say)."""
        with self._db:
            self._db.execute(
                f"INSERT OR REPLACE INTO silences ({SILENCE_COLUMNS})"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                dataclasses.astuple(silence),
            )

    def silences(self) -> list[Silence]:
        """Every silence kept, active and expired, the newest first."""
        rows = self._db.execute(
            f"SELECT {SILENCE_COLUMNS} FROM silences ORDER BY created_at DESC, id"
        )
        return [Silence(*row) for row in rows]

    def prune(self, older_than_s: float = RETENTION_S) -> int:
        """Drop events, resolved states and silences older than ``older_than_s``; returns
        the number of events dropped."""
        cutoff = self.clock() - older_than_s
        with self._db:
            cur = self._db.execute("DELETE FROM alert_events WHERE at < ?", (cutoff,))
            self._db.execute(
                "DELETE FROM alert_states WHERE state != ? AND updated_at < ?",
                (AlertState.FIRING.value, cutoff),
            )
            self._db.execute("DELETE FROM silences WHERE ends < ?", (cutoff,))
        return cur.rowcount

    def close(self) -> None:
        self._db.close()


_QUEUE_COLUMNS = "id, channel_id, kind, at, alert, created_at, attempts, next_attempt_at, error"


class DeliveryQueueStore:
    """The notification dispatcher's durable queue (``notify.base.DeliveryQueue``) in the
    history file's ``delivery_queue`` table.

    Rows belong to an ``owner`` (``"app"``, or ``"watch:<cluster key>"`` for ``etcdmon
    watch``): the app and a watch sharing one file each take back only their own. A row
    holds the channel's id, the event (kind, time, the alert as JSON), the tries made,
    the next try's time and the last error as the dispatcher scrubbed it; a channel's
    URL or key stays in the secret store and is read at send time. Each call is its own
    transaction, committed before it returns, so what was saved survives ``kill -9``.
    Commits are not synced to the disk (WAL with ``synchronous=NORMAL``): a save costs
    a write, not an fsync, in the thread that queues an alert; the file stays sound,
    and only a power cut may lose the latest changes. One connection, shared by the
    notification threads behind a lock.
    """

    def __init__(self, path: Path | None = None, *, owner: str) -> None:
        self.path = path or default_path()
        self.owner = owner
        self._lock = threading.Lock()
        self._db = connect(self.path, shared=True)

    def save(self, item: QueuedDelivery) -> None:
        e = item.event
        row = (
            item.queue_id,
            self.owner,
            item.channel_id,
            e.alert.fingerprint,
            e.kind.value,
            e.at,
            alert_json(e.alert),
            item.created_at,
            item.attempts,
            item.next_attempt_at,
            item.error,
        )
        with self._lock, self._db:
            self._db.execute(
                "INSERT INTO delivery_queue (id, owner, channel_id, fingerprint, kind, at,"
                " alert, created_at, attempts, next_attempt_at, error)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET"
                " channel_id = excluded.channel_id, fingerprint = excluded.fingerprint,"
                " kind = excluded.kind, at = excluded.at, alert = excluded.alert,"
                " attempts = excluded.attempts, next_attempt_at = excluded.next_attempt_at,"
                " error = excluded.error",
                row,
            )

    def remove(self, queue_id: str) -> None:
        with self._lock, self._db:
            self._db.execute("DELETE FROM delivery_queue WHERE id = ?", (queue_id,))

    def pending(self) -> list[QueuedDelivery]:
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_QUEUE_COLUMNS} FROM delivery_queue WHERE owner = ? ORDER BY seq",
                (self.owner,),
            ).fetchall()
        return [
            QueuedDelivery(
                queue_id=qid,
                channel_id=channel_id,
                event=AlertEvent(EventKind(kind), alert_from_json(alert), at),
                created_at=created_at,
                attempts=attempts,
                next_attempt_at=next_at,
                error=error,
            )
            for qid, channel_id, kind, at, alert, created_at, attempts, next_at, error in rows
        ]

    def close(self) -> None:
        with self._lock:
            self._db.close()
