"""``PgAlertHistory``: the alert history (transitions, each alert's current state with
its acknowledgement and silence, matcher silences) in a PostgreSQL history, for a
server's ``AlertService`` (``alerts.AlertStore``). The same rows and rules as the
SQLite ``AlertHistory``; alerts are kept as ``jsonb``. One connection, one owner thread
(the service's); every call is one transaction and raises ``HistoryError`` on failure.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable, Sequence

from etcdmon_gui.model.alerts import Alert, AlertEvent, AlertState, Silence
from etcdmon_gui.model.history import AlertQuery
from etcdmon_gui.store.history.alerts import (
    _KEPT_STATES,
    _SILENCE_COLUMNS,
    RETENTION_S,
    _alert_from_json,
    _alert_json,
)
from etcdmon_gui.store.history.postgres import reader, schema
from etcdmon_gui.store.history.postgres.connect import (
    CONNECT_TIMEOUT_S,
    STATEMENT_TIMEOUT_S,
    PgTarget,
    connect,
    settings_of,
    translated,
)


class PgAlertHistory:
    def __init__(
        self,
        target: PgTarget,
        password: str | None = None,
        *,
        clock: Callable[[], float] = time.time,
        connect_timeout_s: int = CONNECT_TIMEOUT_S,
        statement_timeout_s: float = STATEMENT_TIMEOUT_S,
    ) -> None:
        self.target = target
        self.settings = settings_of(target)
        self.clock = clock
        self._password = password
        self._conn = connect(
            target,
            password,
            connect_timeout_s=connect_timeout_s,
            statement_timeout_s=statement_timeout_s,
        )
        try:
            with translated(target, password):
                schema.migrate(self._conn, self.settings)
        except BaseException:
            self._conn.close()
            raise

    def _upsert_states(self, alerts: Iterable[tuple[Alert, float]]) -> None:
        rows = [
            (a.fingerprint, a.cluster, a.rule, a.state.value, at, _alert_json(a))
            for a, at in alerts
            if a.state.value in _KEPT_STATES
        ]
        rows.sort(key=lambda r: r[0])  # key order: two services never deadlock
        with self._conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO alert_states (fingerprint, cluster, rule, state, updated_at, alert)"
                " VALUES (%s, %s, %s, %s, %s, %s::jsonb) ON CONFLICT (fingerprint) DO UPDATE SET"
                " cluster = excluded.cluster, rule = excluded.rule, state = excluded.state,"
                " updated_at = excluded.updated_at, alert = excluded.alert",
                rows,
            )

    def save_states(self, alerts: Sequence[Alert]) -> None:
        """Keep these alerts as their fingerprints' current state (pending ones are not
        kept: a restart starts their ``for`` again)."""
        if not alerts:
            return
        now = self.clock()
        with translated(self.settings, self._password), self._conn.transaction():
            self._upsert_states((a, now) for a in alerts)

    def record(self, events: Sequence[AlertEvent]) -> None:
        """Append the transitions, and keep each alert as its current state."""
        if not events:
            return
        with translated(self.settings, self._password), self._conn.transaction():
            self._upsert_states((e.alert, e.at) for e in events)
            with self._conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO alert_events (at, kind, fingerprint, cluster, rule, severity,"
                    " alert) VALUES (%s, %s, %s, %s, %s, %s, %s::jsonb)",
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

    def events(self, query: AlertQuery | None = None) -> list[AlertEvent]:
        """The transitions ``query`` asks for (all by default), the newest first."""
        with translated(self.settings, self._password):
            return reader.alert_events(self._conn, query or AlertQuery())

    def last_states(self, since_s: float = 7 * 86_400) -> list[Alert]:
        """Each fingerprint's current alert, acknowledgement and silence included: every
        firing one, and those resolved within ``since_s``. What a restart resumes."""
        with translated(self.settings, self._password):
            rows = self._conn.execute(
                "SELECT alert::text FROM alert_states WHERE state = %s OR (state = %s AND"
                " updated_at >= %s) ORDER BY updated_at",
                (AlertState.FIRING.value, AlertState.RESOLVED.value, self.clock() - since_s),
            ).fetchall()
        return [_alert_from_json(a) for (a,) in rows]

    def save_silence(self, silence: Silence) -> None:
        """Add a silence, or replace the one with its id (expiring it, say)."""
        columns = _SILENCE_COLUMNS.split(", ")
        updates = ", ".join(f"{c} = excluded.{c}" for c in columns[1:])
        with translated(self.settings, self._password), self._conn.transaction():
            self._conn.execute(
                f"INSERT INTO silences ({_SILENCE_COLUMNS}) VALUES"
                f" ({', '.join(['%s'] * len(columns))}) ON CONFLICT (id) DO UPDATE SET {updates}",
                dataclasses.astuple(silence),
            )

    def silences(self) -> list[Silence]:
        """Every silence kept, active and expired, the newest first."""
        with translated(self.settings, self._password):
            rows = self._conn.execute(
                f'SELECT {_SILENCE_COLUMNS} FROM silences ORDER BY created_at DESC, id COLLATE "C"'
            ).fetchall()
        return [Silence(*row) for row in rows]

    def prune(self, older_than_s: float = RETENTION_S) -> int:
        """Drop events, resolved states and silences older than ``older_than_s``; returns
        the number of events dropped."""
        cutoff = self.clock() - older_than_s
        with translated(self.settings, self._password), self._conn.transaction():
            cur = self._conn.execute("DELETE FROM alert_events WHERE at < %s", (cutoff,))
            self._conn.execute(
                "DELETE FROM alert_states WHERE state != %s AND updated_at < %s",
                (AlertState.FIRING.value, cutoff),
            )
            self._conn.execute("DELETE FROM silences WHERE ends < %s", (cutoff,))
        return cur.rowcount

    def close(self) -> None:
        self._conn.close()
