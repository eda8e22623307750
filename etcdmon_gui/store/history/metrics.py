"""Signals over time in the history file: raw samples, roll-ups, retention, the size
limit, member inventory and benchmark runs, and the queries over them.

Layout (``db`` has the tables): a *series* is one signal of one member (or of the
cluster) and has an integer id; ``samples`` holds its raw values keyed by (series,
time in ms), ``rollup_1m`` / ``rollup_1h`` its per-minute and per-hour count, min,
avg, max and last. Only values that exist are stored: a signal a server does not
export, or a member that did not answer, leaves a gap, never a zero.

Roll-ups are made from what is on disk, not from memory, so a restart or a crash loses
none: ``rollup_done`` says up to where each level is complete, and ``roll_up`` carries
it forward a bounded stretch at a time, once the period is ``ROLL_GRACE_MS`` old (a
sweep's samples are stamped with its start and written after it ends). A sample that
arrives later than that re-rolls its minute and hour.

Reads merge rows into points in SQL (only the points reach Python), and make the newest
periods a roll-up has not reached yet from the level below, so a range read from
roll-ups ends at the newest sample. A chart (``max_points``, its width) reads a roll-up
when that gives it at least half the points it asks for (``CHART_SLACK``). How a range
is read is ``levels``' (shared with the PostgreSQL store); ``SqliteLevels`` answers its
questions of this file.

Retention (``HistoryLimits``: raw 24 h, minutes 30 days, hours a year) and the size
limit (the oldest data goes first, whatever its level) are enforced by ``prune`` in
steps of at most ``budget`` rows, so the writer's batches never wait long behind it.
Retention never drops raw samples or minutes the level above does not hold yet: a
roll-up backlog (a long stop, a clock that jumped) loses nothing.

Functions take the connection; the caller owns its thread and transactions.
"""

from __future__ import annotations

import functools
import json
import math
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np

from etcdmon_gui.model.history import (
    BenchRunRecord,
    ClusterRecord,
    HistoryLimits,
    MemberChange,
    MemberEvent,
    MemberRecord,
    MemberRole,
    MetricsQuery,
    Resolution,
    Sample,
    Series,
)
from etcdmon_gui.store.history import levels
from etcdmon_gui.store.history.db import stored_bytes
from etcdmon_gui.store.history.levels import (
    CHART_SLACK,
    DAY_MS,
    EMPTY,
    HOUR_MS,
    MINUTE_MS,
    ROLL_GRACE_MS,
    Plan,
    SeriesKey,
    as_array,
    combine,
    pick_resolution,
    plan,
    raw_rows,
    to_ms,
)
from etcdmon_gui.store.history.levels import floor_ms as _floor
from etcdmon_gui.store.history.levels import source_level as _source

__all__ = [
    "CHART_SLACK",
    "DAY_MS",
    "HOUR_MS",
    "MINUTE_MS",
    "ROLL_GRACE_MS",
    "Plan",
    "combine",
    "pick_resolution",
    "plan",
    "to_ms",
]

# What each level is read from (raw samples: the ``recent`` ones too, through a view).
_TABLES = {
    Resolution.RAW: "raw_samples",
    Resolution.MINUTE: "rollup_1m",
    Resolution.HOUR: "rollup_1h",
}
# Where each level's rows are kept (raw samples: ``recent`` too, see move_recent).
_KEPT = {Resolution.RAW: "samples", Resolution.MINUTE: "rollup_1m", Resolution.HOUR: "rollup_1h"}
MOVE_AFTER_MS = 60_000


# -- writing -------------------------------------------------------------------------------


class SeriesIds:
    """(cluster, member, signal) -> series id, created on first use, cached."""

    def __init__(self) -> None:
        self._ids: dict[tuple[str, str, str], int] = {}

    def get(self, db: sqlite3.Connection, cluster: str, member: str, signal: str) -> int:
        key = (cluster, member, signal)
        found = self._ids.get(key)
        if found is None:
            db.execute(
                "INSERT OR IGNORE INTO series (cluster, member, signal) VALUES (?, ?, ?)", key
            )
            (found,) = db.execute(
                "SELECT id FROM series WHERE cluster = ? AND member = ? AND signal = ?", key
            ).fetchone()
            self._ids[key] = found
        return found

    def clear(self) -> None:
        """Forget the cache (a transaction that created ids was rolled back)."""
        self._ids.clear()


def write_samples(
    db: sqlite3.Connection, ids: SeriesIds, cluster: str, at: float, samples: Iterable[Sample]
) -> None:
    ts = to_ms(at)
    rows = [(ids.get(db, cluster, s.member, s.signal), ts, s.value) for s in samples]
    db.executemany("INSERT OR REPLACE INTO recent (series, ts, value) VALUES (?, ?, ?)", rows)
    # Roll-ups start where the first sample is (on the hour, so both levels line up).
    db.executemany(
        "INSERT OR IGNORE INTO rollup_done (step_s, until_ms) VALUES (?, ?)",
        [(60, _floor(ts, HOUR_MS)), (3600, _floor(ts, HOUR_MS))],
    )
    done = _done(db, Resolution.MINUTE)
    if done is not None and ts < done:  # late: roll its minute (and hour) again
        minute = _floor(ts, MINUTE_MS)
        _roll(db, Resolution.MINUTE, minute, minute + MINUTE_MS)
        hours_done = _done(db, Resolution.HOUR)
        if hours_done is not None and ts < hours_done:
            hour = _floor(ts, HOUR_MS)
            _roll(db, Resolution.HOUR, hour, hour + HOUR_MS)


def note_cluster(
    db: sqlite3.Connection, key: str, name: str, cluster_id: str | None, at: float
) -> None:
    db.execute(
        "INSERT INTO clusters (key, name, cluster_id, first_seen, last_seen)"
        " VALUES (?, ?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET name = excluded.name,"
        " cluster_id = coalesce(excluded.cluster_id, cluster_id), last_seen = excluded.last_seen",
        (key, name, cluster_id, at, at),
    )


# The rows written and read, shared with the PostgreSQL store (``postgres.metrics``,
# ``postgres.reader``): the columns in the order of these tuples.


def member_row(r: MemberRecord) -> tuple[object, ...]:
    """(cluster, member, name, peer_urls, client_urls, version, role, db_size,
    first_seen, last_seen) of ``members``; the URLs as JSON lists."""
    return (
        r.cluster,
        r.member,
        r.name,
        json.dumps(list(r.peer_urls)),
        json.dumps(list(r.client_urls)),
        r.version,
        r.role.value,
        r.db_size,
        r.first_seen,
        r.last_seen,
    )


def member_event_row(e: MemberEvent) -> tuple[object, ...]:
    """(at, cluster, member, name, change, detail) of ``member_events``."""
    return (e.at, e.cluster, e.member, e.name, e.change.value, e.detail)


def bench_run_row(run: BenchRunRecord) -> tuple[object, ...]:
    """(cluster, cluster_name, started_at, label, workload, requests_per_s, p50_ms,
    p99_ms, errors, verdict, summary) of ``bench_runs``; the summary as JSON."""
    return (
        run.cluster,
        run.cluster_name,
        run.started_at,
        run.label,
        run.workload,
        run.requests_per_s,
        run.p50_ms,
        run.p99_ms,
        run.errors,
        run.verdict,
        json.dumps(run.summary),
    )


def save_members(
    db: sqlite3.Connection, records: Iterable[MemberRecord], events: Iterable[MemberEvent]
) -> None:
    db.executemany(
        "INSERT OR REPLACE INTO members (cluster, member, name, peer_urls, client_urls,"
        " version, role, db_size, first_seen, last_seen) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [member_row(r) for r in records],
    )
    db.executemany(
        "INSERT INTO member_events (at, cluster, member, name, change, detail)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        [member_event_row(e) for e in events],
    )


def save_bench_run(db: sqlite3.Connection, run: BenchRunRecord) -> int:
    cur = db.execute(
        "INSERT INTO bench_runs (cluster, cluster_name, started_at, label, workload,"
        " requests_per_s, p50_ms, p99_ms, errors, verdict, summary)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        bench_run_row(run),
    )
    return int(cur.lastrowid or 0)


def move_recent(db: sqlite3.Connection, now_ms: int) -> int:
    """Move the raw samples from ``recent`` into ``samples`` once the oldest is a minute
    old; rows moved.

    Each batch appends to ``recent`` (keyed by time first, so a commit rewrites its last
    page or two); ``samples`` is keyed by series, so writing it directly would rewrite
    the newest page of every series in every commit (~190 pages, 760 KiB of WAL per
    sweep of a 5-member cluster). Moved once a minute, each page is written once then.
    """
    (oldest,) = db.execute("SELECT min(ts) FROM recent").fetchone()
    if oldest is None or oldest > now_ms - MOVE_AFTER_MS:
        return 0
    cur = db.execute(
        "INSERT OR REPLACE INTO samples (series, ts, value)"
        " SELECT series, ts, value FROM recent ORDER BY series, ts"
    )
    db.execute("DELETE FROM recent")
    return cur.rowcount


# -- roll-ups ------------------------------------------------------------------------------


def _done(db: sqlite3.Connection, level: Resolution) -> int | None:
    row = db.execute("SELECT until_ms FROM rollup_done WHERE step_s = ?", (level.value,)).fetchone()
    return None if row is None else int(row[0])


def _set_done(db: sqlite3.Connection, level: Resolution, until_ms: int) -> None:
    db.execute("UPDATE rollup_done SET until_ms = ? WHERE step_s = ?", (until_ms, level.value))


# What a level's rows merge into: n, min, count-weighted avg, max; and the column the
# last value is read from (at the newest time in the period).
_ROLLED = ("sum(r.n)", "min(r.min)", "sum(r.avg * r.n) / sum(r.n)", "max(r.max)", "last")
_FIGURES = {
    Resolution.RAW: ("count(*)", "min(r.value)", "avg(r.value)", "max(r.value)", "value"),
    Resolution.MINUTE: _ROLLED,
    Resolution.HOUR: _ROLLED,
}


def _merged_sql(level: Resolution, bucket_ms: int, *, every_series: bool = False) -> str:
    """A query of ``level``'s rows in [?, ?) merged per ``bucket_ms`` by SQLite itself, so
    only the merged rows reach Python: (ts, n, min, avg, max, last) per period, oldest
    first, of the series given as the first parameter; or, ``every_series``, (series,
    ts, n, min, avg, max, last) of every series."""
    table = _TABLES[level]
    n, lo, avg, hi, last = _FIGURES[level]
    if every_series and level is Resolution.RAW:
        # Not the view: its samples arm would be scanned whole (keyed by series first).
        source = (
            "(SELECT s.id AS series, x.ts AS ts, x.value AS value FROM series s CROSS JOIN"
            " samples x WHERE x.series = s.id UNION ALL SELECT series, ts, value FROM recent) r"
        )
        where, head = "1", "g.series, "
    elif every_series:
        source, where, head = f"series s CROSS JOIN {table} r", "r.series = s.id", "g.series, "
    else:
        source, where, head = f"{table} r", "r.series = ?", ""
    return (
        f"SELECT {head}g.k * {bucket_ms}, g.n, g.lo, g.av, g.hi,"
        f" (SELECT {last} FROM {table} WHERE series = g.series AND ts = g.newest) FROM"
        f" (SELECT r.series AS series, r.ts / {bucket_ms} AS k, {n} AS n, {lo} AS lo,"
        f" {avg} AS av, {hi} AS hi, max(r.ts) AS newest FROM {source}"
        f" WHERE {where} AND r.ts >= ? AND r.ts < ? GROUP BY r.series, k) g"
        " ORDER BY g.series, g.k"
    )


def _fetch(
    db: sqlite3.Connection,
    level: Resolution,
    series: int,
    start_ms: int,
    end_ms: int,
    bucket_ms: int = 0,
) -> np.ndarray:
    """Rows (ts, n, min, avg, max, last) of one series of ``level`` in [start, end),
    oldest first: as kept, or merged per ``bucket_ms`` (by SQLite)."""
    if start_ms >= end_ms:
        return EMPTY
    if bucket_ms > 0:
        rows = db.execute(_merged_sql(level, bucket_ms), (series, start_ms, end_ms)).fetchall()
        return as_array(rows, 6)
    if level is Resolution.RAW:
        sql = (
            "SELECT ts, value FROM raw_samples WHERE series = ? AND ts >= ? AND ts < ? ORDER BY ts"
        )
        return raw_rows(db.execute(sql, (series, start_ms, end_ms)).fetchall())
    sql = (
        f"SELECT ts, n, min, avg, max, last FROM {_TABLES[level]}"
        " WHERE series = ? AND ts >= ? AND ts < ? ORDER BY ts"
    )
    return as_array(db.execute(sql, (series, start_ms, end_ms)).fetchall(), 6)


def _roll(db: sqlite3.Connection, level: Resolution, start_ms: int, end_ms: int) -> int:
    """(Re)make ``level``'s periods in [start, end) from the level below, every series in
    one statement; rows written."""
    cur = db.execute(
        f"INSERT OR REPLACE INTO {_TABLES[level]} (series, ts, n, min, avg, max, last) "
        + _merged_sql(_source(level), level.value * 1000, every_series=True),
        (start_ms, end_ms),
    )
    return cur.rowcount


def _next_ts(db: sqlite3.Connection, level: Resolution, from_ms: int) -> int | None:
    """The first time at or after ``from_ms`` that ``level`` holds anything."""
    found = [
        row[0]
        for (series,) in db.execute("SELECT id FROM series").fetchall()
        if (
            row := db.execute(
                f"SELECT min(ts) FROM {_TABLES[level]} WHERE series = ? AND ts >= ?",
                (series, from_ms),
            ).fetchone()
        )[0]
        is not None
    ]
    return min(found) if found else None


def roll_up(db: sqlite3.Connection, now_ms: int, span_ms: int = HOUR_MS) -> bool:
    """``levels.roll_up`` of the history file: both levels carried forward by at most
    ``span_ms`` of data each; whether more is due."""
    return levels.roll_up(
        now_ms,
        span_ms,
        done=functools.partial(_done, db),
        roll=functools.partial(_roll, db),
        next_ts=functools.partial(_next_ts, db),
        set_done=functools.partial(_set_done, db),
    )


# -- retention and the size limit --------------------------------------------------------


def _delete_before(db: sqlite3.Connection, level: Resolution, cutoff_ms: int, budget: int) -> int:
    """Delete ``level``'s rows older than ``cutoff_ms``, at most about ``budget`` of
    them (``recent`` holds a minute or so: cleared in one go)."""
    table = _KEPT[level]
    removed = 0
    if level is Resolution.RAW:
        removed += db.execute("DELETE FROM recent WHERE ts < ?", (cutoff_ms,)).rowcount
    for (series,) in db.execute("SELECT id FROM series").fetchall():
        if removed >= budget:
            break
        cur = db.execute(
            f"DELETE FROM {table} WHERE series = ? AND ts < min(?, coalesce((SELECT ts FROM"
            f" {table} WHERE series = ? ORDER BY ts LIMIT 1 OFFSET ?), ?))",
            (series, cutoff_ms, series, budget - removed, cutoff_ms),
        )
        removed += cur.rowcount
    return removed


def _oldest_ms(db: sqlite3.Connection) -> int | None:
    found = [
        row[0]
        for table in _KEPT.values()
        for (series,) in db.execute("SELECT id FROM series").fetchall()
        if (
            row := db.execute(f"SELECT min(ts) FROM {table} WHERE series = ?", (series,)).fetchone()
        )[0]
        is not None
    ]
    return min(found) if found else None


def prune(db: sqlite3.Connection, now_ms: int, limits: HistoryLimits, budget: int = 20_000) -> bool:
    """Drop what is past its retention, then, while the file holds more than
    ``limits.max_bytes``, the oldest hour of data of every level; at most about
    ``budget`` rows per call. Whether more is due."""
    removed = 0
    for level, keep_s, rolled_into in (
        (Resolution.RAW, limits.raw_s, Resolution.MINUTE),
        (Resolution.MINUTE, limits.minute_s, Resolution.HOUR),
        (Resolution.HOUR, limits.hour_s, None),
    ):
        cutoff = now_ms - int(keep_s * 1000)
        # Never past what the next level holds: a backlog of roll-ups (a long stop, a
        # clock that jumped) must not lose data that is in no roll-up yet.
        done = None if rolled_into is None else _done(db, rolled_into)
        if done is not None:
            cutoff = min(cutoff, done)
        removed += _delete_before(db, level, cutoff, budget - removed)
    db.execute("DELETE FROM member_events WHERE at < ?", (now_ms / 1000 - limits.hour_s,))
    if removed < budget and stored_bytes(db) > limits.max_bytes:
        oldest = _oldest_ms(db)
        if oldest is not None:
            cutoff = _floor(oldest, HOUR_MS) + HOUR_MS
            for level in _KEPT:
                removed += _delete_before(db, level, cutoff, max(budget - removed, 1))
    if removed:
        db.execute("PRAGMA incremental_vacuum(1024)")
    return removed >= budget or (removed > 0 and stored_bytes(db) > limits.max_bytes)


# -- reading -------------------------------------------------------------------------------


class SqliteLevels:
    """The primitive questions of ``levels.Levels`` asked of the history file."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def series_ids(
        self, cluster: str, signals: Sequence[str] | None, members: Sequence[str] | None
    ) -> list[SeriesKey]:
        sql = "SELECT id, member, signal FROM series WHERE cluster = ?"
        args: list[object] = [cluster]
        for column, values in (("signal", signals), ("member", members)):
            if values is not None:
                sql += f" AND {column} IN ({', '.join('?' * len(values))})"
                args.extend(values)
        rows = self.db.execute(sql + " ORDER BY member, signal", args)
        return [(int(i), m, s) for i, m, s in rows]

    def fetch(
        self, level: Resolution, series: int, start_ms: int, end_ms: int, bucket_ms: int = 0
    ) -> np.ndarray:
        return _fetch(self.db, level, series, start_ms, end_ms, bucket_ms)

    def count(
        self, level: Resolution, series: int, start_ms: int, end_ms: int, bucket_ms: int
    ) -> int:
        what = f"count(DISTINCT ts / {bucket_ms})" if bucket_ms else "count(*)"
        (n,) = self.db.execute(
            f"SELECT {what} FROM {_TABLES[level]} WHERE series = ? AND ts >= ? AND ts < ?",
            (series, start_ms, end_ms),
        ).fetchone()
        return int(n)

    def oldest(self, level: Resolution, ids: Sequence[SeriesKey]) -> float:
        """Asked of the tables, not the raw view: its min() would read every row."""
        found = [
            ts
            for series, _member, _signal in ids
            for (ts,) in [
                self.db.execute(
                    f"SELECT min(ts) FROM {_KEPT[level]} WHERE series = ?", (series,)
                ).fetchone()
            ]
            if ts is not None
        ]
        if level is Resolution.RAW and not found:  # only the newest, not moved yet
            found = [
                ts
                for series, _member, _signal in ids
                for (ts,) in [
                    self.db.execute(
                        "SELECT min(ts) FROM recent WHERE series = ?", (series,)
                    ).fetchone()
                ]
                if ts is not None
            ]
        return min(found) / 1000 if found else math.inf

    def watermarks(self) -> dict[Resolution, int | None]:
        return {level: _done(self.db, level) for level in (Resolution.MINUTE, Resolution.HOUR)}


def read_series(
    db: sqlite3.Connection,
    q: MetricsQuery,
    now: float,
    limits: HistoryLimits,
    max_points: int | None = None,
) -> list[Series]:
    """``levels.read_series`` of the history file."""
    return levels.read_series(SqliteLevels(db), q, now, limits, max_points)


def iter_points(
    db: sqlite3.Connection, q: MetricsQuery, now: float, limits: HistoryLimits
) -> Iterator[tuple[float, str, str, float]]:
    """``levels.iter_points`` of the history file."""
    return levels.iter_points(SqliteLevels(db), q, now, limits)


def count_points(db: sqlite3.Connection, q: MetricsQuery, now: float, limits: HistoryLimits) -> int:
    """``levels.count_points`` of the history file."""
    return levels.count_points(SqliteLevels(db), q, now, limits)


def db_size_points(
    db: sqlite3.Connection, cluster: str, since: float
) -> list[tuple[float, float, float | None]]:
    """``levels.db_size_points`` of the history file."""
    return levels.db_size_points(SqliteLevels(db), cluster, since)


def clusters(db: sqlite3.Connection) -> list[ClusterRecord]:
    rows = db.execute(
        "SELECT key, name, cluster_id, first_seen, last_seen FROM clusters ORDER BY name, key"
    )
    return [ClusterRecord(*row) for row in rows]


def member_from_row(row: Sequence[object]) -> MemberRecord:
    """A ``member_row`` read back (the URLs as JSON text)."""
    cluster, member, name, peers, clients, version, role, db_size, first, last = row
    return MemberRecord(
        cluster=str(cluster),
        member=str(member),
        name=str(name),
        peer_urls=tuple(json.loads(str(peers))),
        client_urls=tuple(json.loads(str(clients))),
        version=None if version is None else str(version),
        role=MemberRole(role),
        db_size=None if db_size is None else int(str(db_size)),
        first_seen=float(str(first)),
        last_seen=float(str(last)),
    )


def members(db: sqlite3.Connection, cluster: str | None = None) -> list[MemberRecord]:
    sql = (
        "SELECT cluster, member, name, peer_urls, client_urls, version, role, db_size,"
        " first_seen, last_seen FROM members"
    )
    args: tuple[str, ...] = ()
    if cluster is not None:
        sql += " WHERE cluster = ?"
        args = (cluster,)
    return [
        member_from_row(row) for row in db.execute(sql + " ORDER BY cluster, name, member", args)
    ]


def known_members(db: sqlite3.Connection, cluster: str) -> dict[str, MemberRecord]:
    return {m.member: m for m in members(db, cluster)}


def member_events_query(
    cluster: str | None, since: float, until: float, mark: str = "?"
) -> tuple[str, list[object]]:
    """The SELECT of the member events of ``cluster`` (of every cluster: None) in
    [since, until], oldest first, and its arguments; ``mark`` is the driver's
    placeholder (``?`` for sqlite3, ``%s`` for psycopg). Rows: ``member_event_from_row``."""
    sql = (
        "SELECT at, cluster, member, name, change, detail FROM member_events"
        f" WHERE at >= {mark} AND at <= {mark}"
    )
    args: list[object] = [since, until]
    if cluster is not None:
        sql += f" AND cluster = {mark}"
        args.append(cluster)
    return sql + " ORDER BY at, id", args


def member_event_from_row(row: Sequence[Any]) -> MemberEvent:
    at, cluster, member, name, change, detail = row
    return MemberEvent(at, cluster, member, name, MemberChange(change), detail)


def member_events(
    db: sqlite3.Connection, cluster: str | None, since: float = -math.inf, until: float = math.inf
) -> list[MemberEvent]:
    sql, args = member_events_query(cluster, since, until)
    return [member_event_from_row(row) for row in db.execute(sql, args)]


def bench_runs_query(
    cluster: str | None, limit: int, mark: str = "?", summary: str = "summary"
) -> tuple[str, list[object]]:
    """The SELECT of the newest ``limit`` benchmark runs (of ``cluster``, of every
    cluster: None), the newest first, and its arguments; ``mark`` is the driver's
    placeholder, ``summary`` how the summary column is read (as JSON text). Rows:
    ``bench_run_from_row``."""
    sql = (
        "SELECT id, cluster, cluster_name, started_at, label, workload, requests_per_s,"
        f" p50_ms, p99_ms, errors, verdict, {summary} FROM bench_runs"
    )
    args: list[object] = []
    if cluster is not None:
        sql += f" WHERE cluster = {mark}"
        args.append(cluster)
    return sql + f" ORDER BY started_at DESC, id DESC LIMIT {mark}", [*args, limit]


def bench_run_from_row(row: Sequence[Any]) -> BenchRunRecord:
    i, cluster, name, at, label, workload, rps, p50, p99, errors, verdict, doc = row
    return BenchRunRecord(
        int(i), cluster, name, at, label, workload, rps, p50, p99, errors, verdict, json.loads(doc)
    )


def bench_runs(
    db: sqlite3.Connection, cluster: str | None = None, limit: int = 1000
) -> list[BenchRunRecord]:
    """Benchmark runs, the newest first."""
    sql, args = bench_runs_query(cluster, limit)
    return [bench_run_from_row(row) for row in db.execute(sql, args)]
