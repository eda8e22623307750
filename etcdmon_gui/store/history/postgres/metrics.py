"""Signals over time in PostgreSQL: series ids, samples by COPY, roll-ups in SQL, and the
primitive reads (``PgLevels``) that ``levels`` builds the answers from.

Several writers may share one database: series ids are made with ``INSERT ... ON
CONFLICT DO NOTHING`` and read back (a key made by another writer meanwhile is found),
roll-ups are idempotent upserts behind the ``rollup_done`` watermark, carried forward
by whichever writer holds the maintenance lock. Upserts of shared rows (series,
clusters, members) go in key order, so two writers never deadlock on them.

Functions take the connection (autocommit); the caller opens the transactions.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Sequence

import numpy as np

from etcdmon_gui.model.history import (
    BenchRunRecord,
    MemberEvent,
    MemberRecord,
    Resolution,
)
from etcdmon_gui.store.history import levels
from etcdmon_gui.store.history.levels import (
    EMPTY,
    HOUR_MS,
    MINUTE_MS,
    SeriesKey,
    as_array,
    floor_ms,
    raw_rows,
    source_level,
)
from etcdmon_gui.store.history.metrics import (
    bench_run_row,
    member_event_row,
    member_row,
)
from etcdmon_gui.store.history.postgres.schema import LOCK_CLASS, LOCK_REROLL, Conn

TABLES = {Resolution.RAW: "samples", Resolution.MINUTE: "rollup_1m", Resolution.HOUR: "rollup_1h"}

# What a level's rows merge into (n, min, avg, max, last), as in the SQLite store.
_ROLLED = "sum(n), min(min), sum(avg * n) / sum(n), max(max), (array_agg(last ORDER BY ts DESC))[1]"
_FIGURES = {
    Resolution.RAW: "count(*), min(value), avg(value), max(value),"
    " (array_agg(value ORDER BY ts DESC))[1]",
    Resolution.MINUTE: _ROLLED,
    Resolution.HOUR: _ROLLED,
}

Key = tuple[str, str, str]  # (cluster, member, signal)


class SeriesIds:
    """(cluster, member, signal) -> series id, made on first use (by any writer), cached."""

    def __init__(self) -> None:
        self._ids: dict[Key, int] = {}

    def __getitem__(self, key: Key) -> int:
        return self._ids[key]

    def ensure(self, conn: Conn, keys: Iterable[Key]) -> None:
        """Find or make the ids of ``keys``, in a transaction of their own (an id made
        stays made, whatever becomes of the batch)."""
        missing = sorted(set(keys) - self._ids.keys())
        if not missing:
            return
        cols = [list(c) for c in zip(*missing, strict=True)]
        with conn.transaction():
            conn.execute(
                "INSERT INTO series (cluster, member, signal) SELECT * FROM"
                " unnest(%s::text[], %s::text[], %s::text[]) ON CONFLICT DO NOTHING",
                cols,
            )
            rows = conn.execute(
                "SELECT s.id, s.cluster, s.member, s.signal FROM series s JOIN"
                " unnest(%s::text[], %s::text[], %s::text[]) AS k(c, m, g)"
                " ON s.cluster = k.c AND s.member = k.m AND s.signal = k.g",
                cols,
            ).fetchall()
        for i, c, m, g in rows:
            self._ids[(c, m, g)] = int(i)


def copy_samples(conn: Conn, rows: Iterable[tuple[int, int, float]]) -> int:
    """COPY (series, ts ms, value) rows into ``samples`` (binary); rows written."""
    n = 0
    with (
        conn.cursor() as cur,
        cur.copy("COPY samples (series, ts, value) FROM STDIN (FORMAT BINARY)") as copy,
    ):
        copy.set_types(["int4", "int8", "float8"])
        for row in rows:
            copy.write_row(row)
            n += 1
    return n


def note_clusters(conn: Conn, seen: Iterable[tuple[str, str, str | None, float]]) -> None:
    """(key, name, cluster id, at) of the clusters a batch saw, in time order: one
    upsert per cluster (its first and last time, its latest name and id), in key order."""
    merged: dict[str, tuple[str, str | None, float, float]] = {}
    for key, name, cluster_id, at in seen:
        before = merged.get(key)
        first = at if before is None else min(before[2], at)
        if cluster_id is None and before is not None:
            cluster_id = before[1]
        merged[key] = (name, cluster_id, first, at)
    if not merged:
        return
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO clusters (key, name, cluster_id, first_seen, last_seen)"
            " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (key) DO UPDATE SET name = excluded.name,"
            " cluster_id = coalesce(excluded.cluster_id, clusters.cluster_id),"
            " last_seen = excluded.last_seen",
            [(key, *merged[key]) for key in sorted(merged)],
        )


def save_members(
    conn: Conn, records: Iterable[MemberRecord], events: Iterable[MemberEvent]
) -> None:
    rows = sorted(records, key=lambda r: (r.cluster, r.member))
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO members (cluster, member, name, peer_urls, client_urls, version, role,"
            " db_size, first_seen, last_seen) VALUES (%s, %s, %s, %s::jsonb, %s::jsonb, %s, %s,"
            " %s, %s, %s) ON CONFLICT (cluster, member) DO UPDATE SET name = excluded.name,"
            " peer_urls = excluded.peer_urls, client_urls = excluded.client_urls,"
            " version = excluded.version, role = excluded.role, db_size = excluded.db_size,"
            " first_seen = least(members.first_seen, excluded.first_seen),"
            " last_seen = excluded.last_seen",
            [member_row(r) for r in rows],
        )
        cur.executemany(
            "INSERT INTO member_events (at, cluster, member, name, change, detail)"
            " VALUES (%s, %s, %s, %s, %s, %s)",
            [member_event_row(e) for e in events],
        )


def save_bench_run(conn: Conn, run: BenchRunRecord) -> int:
    row = conn.execute(
        "INSERT INTO bench_runs (cluster, cluster_name, started_at, label, workload,"
        " requests_per_s, p50_ms, p99_ms, errors, verdict, summary)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb) RETURNING id",
        bench_run_row(run),
    ).fetchone()
    return int(row[0]) if row else 0


# -- roll-ups ------------------------------------------------------------------------------


def done(conn: Conn, level: Resolution) -> int | None:
    row = conn.execute(
        "SELECT until_ms FROM rollup_done WHERE step_s = %s", (level.value,)
    ).fetchone()
    return None if row is None else int(row[0])


def start_rollups(conn: Conn, first_ms: int) -> None:
    """Roll-ups start where the first sample is (on the hour, so both levels line up);
    the first writer's word stands."""
    hour = floor_ms(first_ms, HOUR_MS)
    conn.execute(
        "INSERT INTO rollup_done (step_s, until_ms) VALUES (60, %s), (3600, %s)"
        " ON CONFLICT DO NOTHING",
        (hour, hour),
    )


def roll(conn: Conn, level: Resolution, start_ms: int, end_ms: int) -> int:
    """(Re)make ``level``'s periods in [start, end) from the level below, every series in
    one statement (an upsert: doing it twice is doing it once); rows written."""
    step = level.value * 1000
    below = source_level(level)
    cur = conn.execute(
        f"INSERT INTO {TABLES[level]} (series, ts, n, min, avg, max, last)"
        f" SELECT series, k * {step}, {_FIGURES[below]} FROM"
        f" (SELECT *, ts / {step} AS k FROM {TABLES[below]} WHERE ts >= %s AND ts < %s) r"
        " GROUP BY series, k ON CONFLICT (series, ts) DO UPDATE SET n = excluded.n,"
        " min = excluded.min, avg = excluded.avg, max = excluded.max, last = excluded.last",
        (start_ms, end_ms),
    )
    return cur.rowcount


def reroll_late(conn: Conn, times_ms: Iterable[int]) -> None:
    """Samples older than a roll-up's watermark (a batch that came late): roll their
    minutes, and hours, again. The watermarks are read FOR SHARE: a roll-up by another
    writer (which locks them FOR UPDATE before it reads any sample) either committed
    first, and its new watermark is what this batch compares with, or waits for this
    batch's commit and then sees its samples; either way no late sample is missed.
    Two batches re-rolling take turns (a transaction-scoped advisory lock): each roll's
    statements then see the other's committed samples, where in parallel the second
    upsert would overwrite the first with figures missing its samples."""
    marks: dict[int, int] = dict(
        conn.execute(
            "SELECT step_s, until_ms FROM rollup_done ORDER BY step_s FOR SHARE"
        ).fetchall()
    )
    minutes_done = marks.get(Resolution.MINUTE.value)
    hours_done = marks.get(Resolution.HOUR.value)
    if minutes_done is None:
        return
    late = sorted({floor_ms(t, MINUTE_MS) for t in times_ms if t < minutes_done})
    if late:
        conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", (LOCK_CLASS, LOCK_REROLL))
    for minute in late:
        roll(conn, Resolution.MINUTE, minute, minute + MINUTE_MS)
    if hours_done is not None:
        for hour in sorted({floor_ms(t, HOUR_MS) for t in late if t < hours_done}):
            roll(conn, Resolution.HOUR, hour, hour + HOUR_MS)


def _next_ts(conn: Conn, level: Resolution, from_ms: int) -> int | None:
    """The first time at or after ``from_ms`` that ``level`` holds anything (a probe of
    each series' index, not a scan)."""
    row = conn.execute(
        "SELECT min(x.ts) FROM series s CROSS JOIN LATERAL (SELECT ts FROM"
        f" {TABLES[level]} WHERE series = s.id AND ts >= %s ORDER BY ts LIMIT 1) x",
        (from_ms,),
    ).fetchone()
    return None if row is None or row[0] is None else int(row[0])


def _set_done(conn: Conn, level: Resolution, until_ms: int) -> None:
    conn.execute("UPDATE rollup_done SET until_ms = %s WHERE step_s = %s", (until_ms, level.value))


def roll_up(conn: Conn, now_ms: int, span_ms: int = HOUR_MS) -> bool:
    """``levels.roll_up`` (as the SQLite store's) in this database: both levels carried
    forward by at most ``span_ms`` of data each; whether more is due. The caller holds
    the maintenance lock and the transaction; the watermarks are locked first (see
    ``reroll_late``)."""
    conn.execute("SELECT until_ms FROM rollup_done ORDER BY step_s FOR UPDATE")
    return levels.roll_up(
        now_ms,
        span_ms,
        done=functools.partial(done, conn),
        roll=functools.partial(roll, conn),
        next_ts=functools.partial(_next_ts, conn),
        set_done=functools.partial(_set_done, conn),
    )


# -- reading -------------------------------------------------------------------------------


class PgLevels:
    """``levels.Levels`` asked of a PostgreSQL history (one connection)."""

    def __init__(self, conn: Conn) -> None:
        self.conn = conn

    def series_ids(
        self, cluster: str, signals: Sequence[str] | None, members: Sequence[str] | None
    ) -> list[SeriesKey]:
        sql = "SELECT id, member, signal FROM series WHERE cluster = %s"
        args: list[object] = [cluster]
        for column, values in (("signal", signals), ("member", members)):
            if values is not None:
                sql += f" AND {column} = ANY(%s::text[])"
                args.append(list(values))
        # Bytewise, as SQLite orders them (a locale's order skips underscores).
        sql += ' ORDER BY member COLLATE "C", signal COLLATE "C"'
        return [(int(i), m, s) for i, m, s in self.conn.execute(sql, args).fetchall()]

    def fetch(
        self, level: Resolution, series: int, start_ms: int, end_ms: int, bucket_ms: int = 0
    ) -> np.ndarray:
        if start_ms >= end_ms:
            return EMPTY
        table = TABLES[level]
        where = "series = %s AND ts >= %s AND ts < %s"
        args = (series, start_ms, end_ms)
        with self.conn.cursor(binary=True) as cur:
            if bucket_ms > 0:
                cur.execute(
                    f"SELECT k * {bucket_ms}, {_FIGURES[level]} FROM (SELECT *, ts / {bucket_ms}"
                    f" AS k FROM {table} WHERE {where}) r GROUP BY k ORDER BY k",
                    args,
                )
                return as_array(cur.fetchall(), 6)
            if level is Resolution.RAW:
                cur.execute(f"SELECT ts, value FROM {table} WHERE {where} ORDER BY ts", args)
                return raw_rows(cur.fetchall())
            cur.execute(
                f"SELECT ts, n, min, avg, max, last FROM {table} WHERE {where} ORDER BY ts", args
            )
            return as_array(cur.fetchall(), 6)

    def count(
        self, level: Resolution, series: int, start_ms: int, end_ms: int, bucket_ms: int
    ) -> int:
        what = f"count(DISTINCT ts / {bucket_ms})" if bucket_ms else "count(*)"
        row = self.conn.execute(
            f"SELECT {what} FROM {TABLES[level]} WHERE series = %s AND ts >= %s AND ts < %s",
            (series, start_ms, end_ms),
        ).fetchone()
        return int(row[0]) if row else 0

    def oldest(self, level: Resolution, ids: Sequence[SeriesKey]) -> float:
        if not ids:
            return math.inf
        row = self.conn.execute(
            "SELECT min(x.ts) FROM unnest(%s::int[]) AS s(id) CROSS JOIN LATERAL"
            f" (SELECT ts FROM {TABLES[level]} WHERE series = s.id ORDER BY ts LIMIT 1) x",
            ([i for i, _m, _s in ids],),
        ).fetchone()
        return math.inf if row is None or row[0] is None else int(row[0]) / 1000

    def watermarks(self) -> dict[Resolution, int | None]:
        rows = self.conn.execute("SELECT step_s, until_ms FROM rollup_done").fetchall()
        found: dict[int, int] = {int(step): int(until) for step, until in rows}
        return {level: found.get(level.value) for level in (Resolution.MINUTE, Resolution.HOUR)}
