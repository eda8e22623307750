"""``PgHistoryWriter``: the SQLite ``HistoryWriter``'s twin for a PostgreSQL history, on
the same thread, queue and batches (``writer.QueuedWriter``), its own connection.

A batch is one transaction: the clusters seen, the samples by binary COPY, the member
inventory and its events, benchmark runs; series ids and missing day partitions are
made just before, each in a short transaction of their own (a partition locks its
parent table, an id made by another writer must be seen). Several writers (several
``etcdmon serve``) may write to one database at once.

Maintenance, every ``maintain_every_s``, by the one writer holding the advisory
maintenance lock (the others skip it): partitions made for today and the next two days,
roll-ups carried forward, member events past the hour retention deleted, and retention
by dropping whole day partitions (raw samples never before the minutes hold them,
minutes never before the hours). With TimescaleDB its policies drop chunks instead.

A server lost for a while (down, restarting, failing over, unreachable, busy, out of
disk: ``connect.PgUnavailable``), at start or later, does not turn history off:
``problems(text)`` once, the batches not written kept in memory (bounded by ``keep``:
beyond it the oldest are dropped and counted in ``dropped``), reconnections with a
capped exponential back-off (``keep.min_s`` .. ``keep.max_s``), then what was kept
written in order and a log line that history is back. ``retrying``, ``kept`` and
``dropped`` say where it stands (a server's health). A lost connection may have
committed its last batch unseen: written again, its samples are there twice (rare;
min, avg, max and last are the same, a period's count ``n`` counts them twice).

A database that cannot be used until someone acts (a refused password, no database, no
permission, read-only, a newer schema), at start or at a reconnection:
``problems(text)`` once, history off, monitoring goes on; the server's history is left
as it is.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable

import psycopg
from psycopg import errors as pg_errors

from etcdmon_gui.model.history import (
    BenchRunRecord,
    HistoryError,
    HistoryLimits,
    MemberRecord,
    Resolution,
)
from etcdmon_gui.monitor.history_signals import diff_members, snapshot_samples
from etcdmon_gui.store.history.levels import DAY_MS, to_ms
from etcdmon_gui.store.history.postgres import metrics, schema
from etcdmon_gui.store.history.postgres.connect import (
    CONNECT_TIMEOUT_S,
    STATEMENT_TIMEOUT_S,
    PgTarget,
    PgUnavailable,
    connect,
    describe,
    settings_of,
)
from etcdmon_gui.store.history.postgres.reader import known_members
from etcdmon_gui.store.history.writer import Keep, QueuedWriter, Work, _Snapshot

log = logging.getLogger(__name__)

DAYS_AHEAD = 2


class PgHistoryWriter(QueuedWriter[schema.Conn]):
    """``target`` names the database (settings, or a connection string without a
    password: ``HistoryError`` from here if it is malformed); ``password`` is given
    apart (never stored). ``keep``: how long it waits between reconnections and how
    much it keeps in memory meanwhile."""

    def __init__(
        self,
        target: PgTarget,
        password: str | None = None,
        *,
        limits: HistoryLimits | None = None,
        problems: Callable[[str], object] = lambda text: None,
        clock: Callable[[], float] = time.time,
        batch_s: float = 1.0,
        maintain_every_s: float = 10.0,
        connect_timeout_s: int = CONNECT_TIMEOUT_S,
        statement_timeout_s: float = STATEMENT_TIMEOUT_S,
        keep: Keep | None = None,
    ) -> None:
        super().__init__(
            limits=limits,
            problems=problems,
            clock=clock,
            batch_s=batch_s,
            maintain_every_s=maintain_every_s,
        )
        self.target = target
        self.settings = settings_of(target)
        self.layout = schema.PARTITIONS
        self.samples_written = 0  # (benchmarks)
        self._password = password
        self._connect_timeout_s = connect_timeout_s
        self._statement_timeout_s = statement_timeout_s
        self._ids = metrics.SeriesIds()
        self._partitions = schema.Partitions()
        self._known: dict[str, dict[str, MemberRecord]] = {}
        self._started = False  # rollup_done has its rows
        self.keep = keep or Keep()

    def start(self) -> PgHistoryWriter:
        super().start()
        return self

    # -- QueuedWriter ----------------------------------------------------------------------

    def _open(self) -> schema.Conn:
        # What the last connection learnt may not hold for this one (a failover to a
        # standby that was behind): series ids, partitions, members are asked again.
        self._ids = metrics.SeriesIds()
        self._partitions = schema.Partitions()
        self._known.clear()
        self._started = False
        conn = connect(
            self.target,
            self._password,
            connect_timeout_s=self._connect_timeout_s,
            statement_timeout_s=self._statement_timeout_s,
        )
        try:
            try:
                self.layout = schema.migrate(conn, self.settings)
                schema.check_writable(conn, self.settings)
                if self.layout == schema.TIMESCALEDB:
                    schema.timescale_policies(conn, self.limits)
                else:
                    self._partitions.ensure(conn, self._days_ahead())
            except psycopg.Error as exc:
                raise describe(exc, self.settings, self._password) from None
        except BaseException:
            conn.close()
            raise
        log.info("history in PostgreSQL %s (%s)", self.settings.where, self.layout)
        return conn

    def _translate(self, exc: Exception) -> HistoryError | None:
        if isinstance(exc, psycopg.Error):
            return describe(exc, self.settings, self._password)
        return None

    def _retryable(self, exc: HistoryError) -> bool:
        return isinstance(exc, PgUnavailable)

    def _weight(self, work: list[Work]) -> int:
        return sum(
            sum(1 for s in snapshot_samples(w.snapshot) if math.isfinite(s.value))
            if isinstance(w, _Snapshot)
            else 1
            for w in work
        )

    def _where(self) -> str:
        return f"in PostgreSQL {self.settings.where}"

    def _close_conn(self, conn: schema.Conn) -> None:
        conn.close()

    def _days_ahead(self) -> list[int]:
        today = schema.day_of(to_ms(self._clock()))
        return [today + i * DAY_MS for i in range(DAYS_AHEAD + 1)]

    def _write_work(self, conn: schema.Conn, work: list[Work]) -> None:
        snaps = [w for w in work if isinstance(w, _Snapshot)]
        runs = [w for w in work if isinstance(w, BenchRunRecord)]
        rows: list[tuple[str, str, str, int, float]] = []  # cluster, member, signal, ts, value
        for item in snaps:
            ts = to_ms(item.snapshot.taken_at)
            key = item.snapshot.key
            rows.extend(
                (key, s.member, s.signal, ts, s.value)
                for s in snapshot_samples(item.snapshot)
                if math.isfinite(s.value)
            )
        self._ids.ensure(conn, ((c, m, g) for c, m, g, _t, _v in rows))
        times = sorted({r[3] for r in rows})
        if self.layout == schema.PARTITIONS and times:
            self._partitions.ensure(conn, times)
        try:
            with conn.transaction():
                metrics.note_clusters(
                    conn,
                    (
                        (
                            s.snapshot.key,
                            s.name,
                            None if s.snapshot.cluster_id is None else f"{s.snapshot.cluster_id:x}",
                            s.snapshot.taken_at,
                        )
                        for s in snaps
                    ),
                )
                ids = self._ids
                written = metrics.copy_samples(conn, ((ids[r[:3]], r[3], r[4]) for r in rows))
                if times:
                    if not self._started:
                        metrics.start_rollups(conn, times[0])
                        self._started = True
                    metrics.reroll_late(conn, times)
                for item in snaps:
                    self._write_members(conn, item)
                for run in runs:
                    metrics.save_bench_run(conn, run)
        except BaseException:
            self._known.clear()  # what the rolled-back transaction saved is gone
            raise
        self.samples_written += written

    def _write_members(self, conn: schema.Conn, item: _Snapshot) -> None:
        key = item.snapshot.key
        known = self._known.get(key)
        if known is None:
            known = self._known[key] = known_members(conn, key)
        records, events = diff_members(known, item.snapshot)
        metrics.save_members(conn, records, events)
        known.update((r.member, r) for r in records)

    def _maintain(self, conn: schema.Conn) -> bool:
        now_ms = to_ms(self._clock())
        if self.layout == schema.PARTITIONS:
            try:
                self._partitions.ensure(conn, self._days_ahead())
            except pg_errors.LockNotAvailable:  # a long read holds the table: next time
                log.info("history partitions ahead not made yet: the tables are busy")
        row = conn.execute(
            "SELECT pg_try_advisory_lock(%s, %s)", (schema.LOCK_CLASS, schema.LOCK_MAINTAIN)
        ).fetchone()
        if not (row and row[0]):
            return False  # another writer maintains
        try:
            with conn.transaction():
                more = metrics.roll_up(conn, now_ms)
            with conn.transaction():
                conn.execute(
                    "DELETE FROM member_events WHERE at < %s", (now_ms / 1000 - self.limits.hour_s,)
                )
            if self.layout == schema.PARTITIONS:
                self._retain(conn, now_ms)
        finally:
            conn.execute(
                "SELECT pg_advisory_unlock(%s, %s)", (schema.LOCK_CLASS, schema.LOCK_MAINTAIN)
            )
        return more

    def _retain(self, conn: schema.Conn, now_ms: int) -> None:
        """Drop the days past each level's retention, never a day the level above does
        not hold yet (a roll-up backlog loses nothing)."""
        marks: dict[str, int | None] = {
            "samples": metrics.done(conn, Resolution.MINUTE),
            "rollup_1m": metrics.done(conn, Resolution.HOUR),
            "rollup_1h": None,
        }
        for table, keep_s in zip(
            schema.TIME_TABLES,
            (self.limits.raw_s, self.limits.minute_s, self.limits.hour_s),
            strict=True,
        ):
            cutoff = now_ms - round(keep_s * 1000)
            if marks[table] is not None:
                cutoff = min(cutoff, marks[table] or 0)
            self._partitions.drop_before(conn, table, cutoff)
