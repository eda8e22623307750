"""Alert history on disk: every transition, so alerts survive a restart.

SQLite in the user data directory, in WAL mode. One ``AlertHistory`` per thread (sqlite
connections stay in the thread that opened them); the alert worker owns the writer.
Old rows are pruned by age.
"""

from __future__ import annotations

import dataclasses
import json
import math
import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from etcdmon_gui.model.alerts import Alert, AlertEvent, AlertState, EventKind, Severity
from etcdmon_gui.store.files import data_dir

RETENTION_S = 30 * 86_400


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
    return Alert(**doc)


class AlertHistory:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path or default_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, timeout=5.0)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS alert_events ("
            " id INTEGER PRIMARY KEY, at REAL NOT NULL, kind TEXT NOT NULL,"
            " fingerprint TEXT NOT NULL, cluster TEXT NOT NULL, rule TEXT NOT NULL,"
            " severity TEXT NOT NULL, alert TEXT NOT NULL)"
        )
        self._db.execute(
            "CREATE INDEX IF NOT EXISTS alert_events_fp ON alert_events (fingerprint, at)"
        )
        self._db.commit()

    def record(self, events: Sequence[AlertEvent]) -> None:
        if not events:
            return
        with self._db:
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
        """Each fingerprint's latest known alert: what to show right after a restart."""
        rows = self._db.execute(
            "SELECT alert FROM alert_events e WHERE at >= ? AND id = ("
            " SELECT MAX(id) FROM alert_events WHERE fingerprint = e.fingerprint)",
            (time.time() - since_s,),
        )
        return [_alert_from_json(a) for (a,) in rows]

    def prune(self, older_than_s: float = RETENTION_S) -> int:
        with self._db:
            cur = self._db.execute(
                "DELETE FROM alert_events WHERE at < ?", (time.time() - older_than_s,)
            )
        return cur.rowcount

    def close(self) -> None:
        self._db.close()
