"""``PgAlertHistory``: the alert history (transitions, each alert's current state with
its acknowledgement and silence, matcher silences) in a PostgreSQL history, for a
server's ``AlertService`` (``alerts.AlertStore``). The same rows and rules as the
SQLite ``AlertHistory``; alerts are kept as ``jsonb``. One connection, one owner thread
(the service's); every call is one transaction and raises ``HistoryError`` on failure.

A server that restarts, fails over or is unreachable for a while costs the calls made
meanwhile (``PgUnavailable``: the service logs them and goes on), never the alert
history: each call checks the connection first and makes a new one when it is gone,
and a server down when this opens is connected to at the first call that finds it up.
While it is away, calls fail at once until the next try (1 s, doubling up to 30 s), so
the service's thread waits out a connect timeout once per try, not once per call.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Sequence

import psycopg

from etcdmon_gui.model.alerts import Alert, AlertEvent, AlertState, Silence
from etcdmon_gui.model.history import AlertQuery, HistoryError
from etcdmon_gui.store.history.alerts import (
    RETENTION_S,
    SILENCE_COLUMNS,
    alert_event_row,
    alert_from_json,
    state_rows,
)
from etcdmon_gui.store.history.postgres import reader, schema
from etcdmon_gui.store.history.postgres.connect import (
    CONNECT_TIMEOUT_S,
    STATEMENT_TIMEOUT_S,
    PgTarget,
    PgUnavailable,
    connect,
    settings_of,
    translated,
)

log = logging.getLogger(__name__)

RETRY_FIRST_S = 1.0
RETRY_MAX_S = 30.0


def _alive(conn: schema.Conn) -> bool:
    """Whether the server still answers on ``conn`` (an empty query: a round trip)."""
    if conn.closed or conn.broken:
        return False
    try:
        conn.execute("")
    except psycopg.Error:
        return False
    return True


class PgAlertHistory:
    """``HistoryError`` from the constructor when the database cannot be used until
    someone acts (a refused password, no database, a permission, a newer schema); a
    server that cannot be reached now is connected to later."""

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
        self._connect_timeout_s = connect_timeout_s
        self._statement_timeout_s = statement_timeout_s
        self._conn: schema.Conn | None = None
        self._migrated = False
        # While the server is away, calls fail at once until the next try (monotonic),
        # rather than each waiting out a connect timeout on the service's thread.
        self._next_try = 0.0
        self._wait_s = RETRY_FIRST_S
        try:
            self._connection()
        except PgUnavailable as exc:
            log.warning("alert history: %s; it connects at its next use", exc)
            self._away()

    def _connection(self) -> schema.Conn:
        """The connection, checked: one lost since the last call (a restart) is made
        again (and the schema brought up to date the first time)."""
        conn = self._conn
        if conn is not None and not _alive(conn):
            where = self.settings.where
            log.info("alert history in PostgreSQL %s: connection lost, reconnecting", where)
            self._drop()
            conn = None
        if conn is None:
            conn = connect(
                self.target,
                self._password,
                connect_timeout_s=self._connect_timeout_s,
                statement_timeout_s=self._statement_timeout_s,
            )
            if not self._migrated:
                try:
                    with translated(self.settings, self._password):
                        schema.migrate(conn, self.settings)
                except BaseException:
                    conn.close()
                    raise
                self._migrated = True
            self._conn = conn
        return conn

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(psycopg.Error):
                conn.close()

    @contextlib.contextmanager
    def _session(self, *, transaction: bool = True) -> Iterator[schema.Conn]:
        """A live connection for one call (in a transaction); psycopg's failures as
        ``HistoryError``; a connection lost on the way dropped (the next call makes
        another)."""
        if self._conn is None and time.monotonic() < self._next_try:
            raise PgUnavailable(
                f"the alert history in PostgreSQL {self.settings.where} is unreachable; "
                f"the next try is in {self._next_try - time.monotonic():.0f} s",
                path=self.settings.where,
            )
        try:
            conn = self._connection()
        except PgUnavailable:
            self._away()
            raise
        try:
            with translated(self.settings, self._password):
                if transaction:
                    with conn.transaction():
                        yield conn
                else:
                    yield conn
        except HistoryError as exc:
            if conn.closed or conn.broken:  # the server went: wait before the next try
                self._drop()
                self._away()
            elif isinstance(exc, PgUnavailable):  # busy (a deadlock, a lock timeout)
                self._drop()
            raise
        self._wait_s = RETRY_FIRST_S

    def _away(self) -> None:
        """The server did not answer: calls fail at once until the next try, waits
        doubling up to RETRY_MAX_S."""
        self._next_try = time.monotonic() + self._wait_s
        self._wait_s = min(self._wait_s * 2, RETRY_MAX_S)

    def _upsert_states(self, conn: schema.Conn, alerts: Iterable[tuple[Alert, float]]) -> None:
        rows = state_rows(alerts)
        rows.sort(key=lambda r: r[0])  # key order: two services never deadlock
        with conn.cursor() as cur:
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
        with self._session() as conn:
            self._upsert_states(conn, ((a, now) for a in alerts))

    def record(self, events: Sequence[AlertEvent]) -> None:
        """Append the transitions, and keep each alert as its current state."""
        if not events:
            return
        with self._session() as conn:
            self._upsert_states(conn, ((e.alert, e.at) for e in events))
            with conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO alert_events (at, kind, fingerprint, cluster, rule, severity,"
                    " alert) VALUES (%s, %s, %s, %s, %s, %s, %s::jsonb)",
                    [alert_event_row(e) for e in events],
                )

    def events(self, query: AlertQuery | None = None) -> list[AlertEvent]:
        """The transitions ``query`` asks for (all by default), the newest first."""
        with self._session(transaction=False) as conn:
            return reader.alert_events(conn, query or AlertQuery())

    def last_states(self, since_s: float = 7 * 86_400) -> list[Alert]:
        """Each fingerprint's current alert, acknowledgement and silence included: every
        firing one, and those resolved within ``since_s``. What a restart resumes."""
        with self._session(transaction=False) as conn:
            rows = conn.execute(
                "SELECT alert::text FROM alert_states WHERE state = %s OR (state = %s AND"
                " updated_at >= %s) ORDER BY updated_at",
                (AlertState.FIRING.value, AlertState.RESOLVED.value, self.clock() - since_s),
            ).fetchall()
        return [alert_from_json(a) for (a,) in rows]

    def save_silence(self, silence: Silence) -> None:
        """Add a silence, or replace the one with its id (expiring it, say)."""
        columns = SILENCE_COLUMNS.split(", ")
        updates = ", ".join(f"{c} = excluded.{c}" for c in columns[1:])
        with self._session() as conn:
            conn.execute(
                f"INSERT INTO silences ({SILENCE_COLUMNS}) VALUES"
                f" ({', '.join(['%s'] * len(columns))}) ON CONFLICT (id) DO UPDATE SET {updates}",
                dataclasses.astuple(silence),
            )

    def silences(self) -> list[Silence]:
        """Every silence kept, active and expired, the newest first."""
        with self._session(transaction=False) as conn:
            rows = conn.execute(
                f'SELECT {SILENCE_COLUMNS} FROM silences ORDER BY created_at DESC, id COLLATE "C"'
            ).fetchall()
        return [Silence(*row) for row in rows]

    def prune(self, older_than_s: float = RETENTION_S) -> int:
        """Drop events, resolved states and silences older than ``older_than_s``; returns
        the number of events dropped."""
        cutoff = self.clock() - older_than_s
        with self._session() as conn:
            cur = conn.execute("DELETE FROM alert_events WHERE at < %s", (cutoff,))
            conn.execute(
                "DELETE FROM alert_states WHERE state != %s AND updated_at < %s",
                (AlertState.FIRING.value, cutoff),
            )
            conn.execute("DELETE FROM silences WHERE ends < %s", (cutoff,))
        return cur.rowcount

    def close(self) -> None:
        self._drop()
