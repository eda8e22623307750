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

Old events, resolved states and silences that ended long ago are pruned by age; a
firing alert's state is kept until it resolves.
"""

from __future__ import annotations

import dataclasses
import json
import math
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from etcdmon_gui.model.alerts import Alert, AlertEvent, AlertState, EventKind, Severity, Silence
from etcdmon_gui.store.files import data_dir

RETENTION_S = 30 * 86_400
SCHEMA_VERSION = 1
_KEPT_STATES = (AlertState.FIRING.value, AlertState.RESOLVED.value)  # what a restart resumes


def default_path() -> Path:
    return data_dir() / "history.sqlite3"


def _alert_json(alert: Alert) -> str:
    doc = dataclasses.asdict(alert)
    doc["severity"] = alert.severity.name
    doc["state"] = alert.state.value
    if doc["silenced_until"] == math.inf:
        doc["silenced_until"] = "inf"
    return json.dumps(doc)


def _alert_from_json(text: str) -> Alert:
    doc: dict[str, Any] = json.loads(text)
    doc["severity"] = Severity[doc["severity"]]
    doc["state"] = AlertState(doc["state"])
    if doc.get("silenced_until") == "inf":
        doc["silenced_until"] = math.inf
    if doc.get("silenced_by") is not None:
        doc["silenced_by"] = Silence(**doc["silenced_by"])
    return Alert(**doc)


_SILENCE_COLUMNS = "id, rule, cluster, member, starts, ends, reason, created_at, cluster_name"


class AlertHistory:
    def __init__(self, path: Path | None = None, *, clock: Callable[[], float] = time.time) -> None:
        self.path = path or default_path()
        self.clock = clock
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, timeout=5.0)
        self._db.execute("PRAGMA journal_mode=WAL")
        with self._db:
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS alert_events ("
                " id INTEGER PRIMARY KEY, at REAL NOT NULL, kind TEXT NOT NULL,"
                " fingerprint TEXT NOT NULL, cluster TEXT NOT NULL, rule TEXT NOT NULL,"
                " severity TEXT NOT NULL, alert TEXT NOT NULL)"
            )
            self._db.execute(
                "CREATE INDEX IF NOT EXISTS alert_events_fp ON alert_events (fingerprint, at)"
            )
            (version,) = self._db.execute("PRAGMA user_version").fetchone()
            if version < 1:
                self._add_states_and_silences()
            self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _add_states_and_silences(self) -> None:
        """Schema 1: the state table, filled from each fingerprint's newest event, and
        the silences table."""
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS alert_states ("
            " fingerprint TEXT PRIMARY KEY, cluster TEXT NOT NULL, rule TEXT NOT NULL,"
            " state TEXT NOT NULL, updated_at REAL NOT NULL, alert TEXT NOT NULL)"
        )
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS silences ("
            " id TEXT PRIMARY KEY, rule TEXT, cluster TEXT, member TEXT,"
            " starts REAL NOT NULL, ends REAL NOT NULL, reason TEXT NOT NULL,"
            " created_at REAL NOT NULL, cluster_name TEXT)"
        )
        rows = self._db.execute(
            "SELECT at, alert FROM alert_events e WHERE id = ("
            " SELECT MAX(id) FROM alert_events WHERE fingerprint = e.fingerprint)"
        ).fetchall()
        self._upsert_states((_alert_from_json(text), at) for at, text in rows)

    def _upsert_states(self, alerts: Iterable[tuple[Alert, float]]) -> None:
        self._db.executemany(
            "INSERT INTO alert_states (fingerprint, cluster, rule, state, updated_at, alert)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (fingerprint) DO UPDATE SET"
            " cluster = excluded.cluster, rule = excluded.rule, state = excluded.state,"
            " updated_at = excluded.updated_at, alert = excluded.alert",
            [
                (a.fingerprint, a.cluster, a.rule, a.state.value, at, _alert_json(a))
                for a, at in alerts
                if a.state.value in _KEPT_STATES
            ],
        )

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
                [
                    (
                        e.at,
                        e.kind.value,
                        e.alert.fingerprint,
                        e.alert.cluster,
                        e.alert.rule,
                        e.alert.severity.name,
                        _alert_json(e.alert),
                    )
                    for e in events
                ],
            )

    def events(self, limit: int = 1000, cluster: str | None = None) -> list[AlertEvent]:
        """The newest transitions first."""
        sql = "SELECT kind, at, alert FROM alert_events"
        args: tuple[Any, ...] = ()
        if cluster is not None:
            sql += " WHERE cluster = ?"
            args = (cluster,)
        rows = self._db.execute(sql + " ORDER BY at DESC, id DESC LIMIT ?", (*args, limit))
        return [AlertEvent(EventKind(k), _alert_from_json(a), at) for k, at, a in rows]

    def last_states(self, since_s: float = 7 * 86_400) -> list[Alert]:
        """Each fingerprint's current alert, acknowledgement and silence included: every
        firing one, and those resolved within ``since_s``. What a restart resumes."""
        rows = self._db.execute(
            "SELECT alert FROM alert_states WHERE state = ? OR (state = ? AND updated_at >= ?)"
            " ORDER BY updated_at",
            (AlertState.FIRING.value, AlertState.RESOLVED.value, self.clock() - since_s),
        )
        return [_alert_from_json(a) for (a,) in rows]

    # -- silences ---------------------------------------------------------------------

    def save_silence(self, silence: Silence) -> None:
        """Add a silence, or replace the one with its id (expiring it, say)."""
        with self._db:
            self._db.execute(
                f"INSERT OR REPLACE INTO silences ({_SILENCE_COLUMNS})"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                dataclasses.astuple(silence),
            )

    def silences(self) -> list[Silence]:
        """Every silence kept, active and expired, the newest first."""
        rows = self._db.execute(
            f"SELECT {_SILENCE_COLUMNS} FROM silences ORDER BY created_at DESC, id"
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
