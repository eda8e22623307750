"""``PgHistoryReader``: ``reader.HistoryBackend`` over a PostgreSQL history, the same
answers as the SQLite ``HistoryReader`` for the same data (``levels`` reads both).

Connections come from a pool (the views' reader thread, an API's several threads);
each question borrows one for its length. ``read_only=True`` (a desktop viewing the
team's history) makes every session read-only and creates or migrates nothing: a
database without the schema is a ``HistoryError`` saying so.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from etcdmon_gui.model.alerts import AlertEvent
from etcdmon_gui.model.history import (
    AlertQuery,
    BenchRunRecord,
    ClusterRecord,
    HistoryLimits,
    MemberEvent,
    MemberRecord,
    MetricsQuery,
    Series,
)
from etcdmon_gui.model.ops import AuditRecord
from etcdmon_gui.store.history import levels, metrics, ops_log
from etcdmon_gui.store.history.alerts import alert_event_from_row, alert_events_query
from etcdmon_gui.store.history.postgres import schema
from etcdmon_gui.store.history.postgres.connect import (
    CONNECT_TIMEOUT_S,
    STATEMENT_TIMEOUT_S,
    PgTarget,
    connect,
    open_pool,
    settings_of,
    translated,
)
from etcdmon_gui.store.history.postgres.metrics import PgLevels

log = logging.getLogger(__name__)

_MEMBER_COLUMNS = (
    "cluster, member, name, peer_urls::text, client_urls::text, version, role, db_size,"
    " first_seen, last_seen"
)


def members(conn: schema.Conn, cluster: str | None = None) -> list[MemberRecord]:
    sql = f"SELECT {_MEMBER_COLUMNS} FROM members"
    args: tuple[str, ...] = ()
    if cluster is not None:
        sql += " WHERE cluster = %s"
        args = (cluster,)
    sql += ' ORDER BY cluster COLLATE "C", name COLLATE "C", member COLLATE "C"'
    return [metrics.member_from_row(row) for row in conn.execute(sql, args).fetchall()]


def known_members(conn: schema.Conn, cluster: str) -> dict[str, MemberRecord]:
    return {m.member: m for m in members(conn, cluster)}


def alert_events(conn: schema.Conn, q: AlertQuery) -> list[AlertEvent]:
    """The transitions matching ``q``, the newest first."""
    where, args = alert_events_query(q, "%s")
    rows = conn.execute(
        f"SELECT kind, at, alert::text FROM alert_events{where} ORDER BY at DESC, id DESC LIMIT %s",
        (*args, q.limit),
    ).fetchall()
    return [alert_event_from_row(row) for row in rows]


class PgHistoryReader:
    """Raises ``HistoryError`` (from the constructor and every query) when the database
    cannot be read; a writable reader makes the schema of an empty database, a
    ``read_only`` one refuses it."""

    def __init__(
        self,
        target: PgTarget,
        password: str | None = None,
        *,
        read_only: bool = False,
        limits: HistoryLimits | None = None,
        clock: Callable[[], float] = time.time,
        pool_size: int = 4,
        connect_timeout_s: int = CONNECT_TIMEOUT_S,
        statement_timeout_s: float = STATEMENT_TIMEOUT_S,
    ) -> None:
        self.target = target
        self.settings = settings_of(target)
        self.read_only = read_only
        self.limits = limits or HistoryLimits()
        self._password = password
        self._clock = clock
        timeouts = {
            "read_only": read_only,
            "connect_timeout_s": connect_timeout_s,
            "statement_timeout_s": statement_timeout_s,
        }
        # One connection first: its failure says why (a pool's says only "timed out").
        first = connect(target, password, **timeouts)  # type: ignore[arg-type]
        try:
            with translated(target, password):
                if read_only:
                    schema.check(first, self.settings)
                else:
                    schema.migrate(first, self.settings)
        finally:
            first.close()
        self._pool = open_pool(target, password, size=pool_size, **timeouts)  # type: ignore[arg-type]

    def _run(self, fn: Callable[[schema.Conn], Any]) -> Any:
        with (
            translated(self.settings, self._password),
            self._pool.connection() as conn,
            conn.transaction(),
        ):
            # One snapshot per question: the watermarks and the rows agree.
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            return fn(conn)

    def _rows(self, sql: str, args: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        """The rows of one query, in a question of its own."""
        rows: list[tuple[Any, ...]] = self._run(lambda c: c.execute(sql, args).fetchall())
        return rows

    def clusters(self) -> list[ClusterRecord]:
        rows = self._rows(
            "SELECT key, name, cluster_id, first_seen, last_seen FROM clusters"
            ' ORDER BY name COLLATE "C", key COLLATE "C"'
        )
        return [ClusterRecord(*row) for row in rows]

    def series(self, q: MetricsQuery, max_points: int | None = None) -> list[Series]:
        now = self._clock()
        result: list[Series] = self._run(
            lambda c: levels.read_series(PgLevels(c), q, now, self.limits, max_points)
        )
        return result

    def points(self, q: MetricsQuery) -> Iterator[tuple[float, str, str, float]]:
        now = self._clock()
        with (
            translated(self.settings, self._password),
            self._pool.connection() as conn,
            conn.transaction(),
        ):
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            yield from levels.iter_points(PgLevels(conn), q, now, self.limits)

    def count_points(self, q: MetricsQuery) -> int:
        now = self._clock()
        n: int = self._run(lambda c: levels.count_points(PgLevels(c), q, now, self.limits))
        return n

    def alert_events(self, q: AlertQuery) -> list[AlertEvent]:
        found: list[AlertEvent] = self._run(lambda c: alert_events(c, q))
        return found

    def members(self, cluster: str | None = None) -> list[MemberRecord]:
        found: list[MemberRecord] = self._run(lambda c: members(c, cluster))
        return found

    def member_events(
        self, cluster: str | None, since: float = -math.inf, until: float = math.inf
    ) -> list[MemberEvent]:
        sql, args = metrics.member_events_query(cluster, since, until, "%s")
        return [metrics.member_event_from_row(row) for row in self._rows(sql, args)]

    def bench_runs(self, cluster: str | None = None, limit: int = 1000) -> list[BenchRunRecord]:
        """Benchmark runs, the newest first."""
        sql, args = metrics.bench_runs_query(cluster, limit, "%s", summary="summary::text")
        return [metrics.bench_run_from_row(row) for row in self._rows(sql, args)]

    def ops_log(self, cluster: str | None = None, limit: int = 1000) -> list[AuditRecord]:
        """Maintenance runs (the audit log), the newest first."""
        sql = (
            "SELECT at, ended_at, who, cluster, cluster_name, kind, summary, result, detail"
            " FROM ops_log"
        )
        args: list[object] = []
        if cluster is not None:
            sql += " WHERE cluster = %s"
            args.append(cluster)
        rows = self._rows(sql + " ORDER BY at DESC, id DESC LIMIT %s", [*args, limit])
        return [rec for row in rows if (rec := ops_log.from_row(row)) is not None]

    def db_size_points(self, cluster: str, since: float) -> list[tuple[float, float, float | None]]:
        found: list[tuple[float, float, float | None]] = self._run(
            lambda c: levels.db_size_points(PgLevels(c), cluster, since)
        )
        return found

    def close(self) -> None:
        self._pool.close(timeout=5.0)
