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
when that gives it at least half the points it asks for (``CHART_SLACK``).

Retention (``HistoryLimits``: raw 24 h, minutes 30 days, hours a year) and the size
limit (the oldest data goes first, whatever its level) are enforced by ``prune`` in
steps of at most ``budget`` rows, so the writer's batches never wait long behind it.
Retention never drops raw samples or minutes the level above does not hold yet: a
roll-up backlog (a long stop, a clock that jumped) loses nothing.

Functions take the connection; the caller owns its thread and transactions.
"""

from __future__ import annotations

import itertools
import json
import math
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from operator import itemgetter

import numpy as np

from etcdmon_gui.model.history import (
    Aggregate,
    BenchRunRecord,
    ClusterRecord,
    FloatArray,
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
from etcdmon_gui.store.history.db import stored_bytes

MINUTE_MS = 60_000
HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
ROLL_GRACE_MS = 30_000
# What each level is read from (raw samples: the ``recent`` ones too, through a view).
_TABLES = {
    Resolution.RAW: "raw_samples",
    Resolution.MINUTE: "rollup_1m",
    Resolution.HOUR: "rollup_1h",
}
# Where each level's rows are kept (raw samples: ``recent`` too, see move_recent).
_KEPT = {Resolution.RAW: "samples", Resolution.MINUTE: "rollup_1m", Resolution.HOUR: "rollup_1h"}
MOVE_AFTER_MS = 60_000


def to_ms(t: float) -> int:
    return round(t * 1000)


def _floor(ms: int, step: int) -> int:
    return ms // step * step


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


def save_members(
    db: sqlite3.Connection, records: Iterable[MemberRecord], events: Iterable[MemberEvent]
) -> None:
    db.executemany(
        "INSERT OR REPLACE INTO members (cluster, member, name, peer_urls, client_urls,"
        " version, role, db_size, first_seen, last_seen) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
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
            for r in records
        ],
    )
    db.executemany(
        "INSERT INTO member_events (at, cluster, member, name, change, detail)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        [(e.at, e.cluster, e.member, e.name, e.change.value, e.detail) for e in events],
    )


def save_bench_run(db: sqlite3.Connection, run: BenchRunRecord) -> int:
    cur = db.execute(
        "INSERT INTO bench_runs (cluster, cluster_name, started_at, label, workload,"
        " requests_per_s, p50_ms, p99_ms, errors, verdict, summary)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
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
        ),
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


def _source(level: Resolution) -> Resolution:
    return Resolution.RAW if level is Resolution.MINUTE else Resolution.MINUTE


# What a level's rows merge into: n, min, count-weighted avg, max; and the column the
# last value is read from (at the newest time in the period).
_ROLLED = ("sum(r.n)", "min(r.min)", "sum(r.avg * r.n) / sum(r.n)", "max(r.max)", "last")
_FIGURES = {
    Resolution.RAW: ("count(*)", "min(r.value)", "avg(r.value)", "max(r.value)", "value"),
    Resolution.MINUTE: _ROLLED,
    Resolution.HOUR: _ROLLED,
}
_EMPTY = np.empty((0, 6))


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


def _array(rows: list[tuple[float, ...]], width: int) -> np.ndarray:
    flat = itertools.chain.from_iterable(rows)
    return np.fromiter(flat, dtype=np.float64, count=len(rows) * width).reshape(-1, width)


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
        return _EMPTY
    if bucket_ms > 0:
        rows = db.execute(_merged_sql(level, bucket_ms), (series, start_ms, end_ms)).fetchall()
        return _array(rows, 6)
    if level is Resolution.RAW:  # two columns read, six made: a raw sample is its own figures
        sql = (
            "SELECT ts, value FROM raw_samples WHERE series = ? AND ts >= ? AND ts < ? ORDER BY ts"
        )
        pairs = _array(db.execute(sql, (series, start_ms, end_ms)).fetchall(), 2)
        out = np.empty((len(pairs), 6))
        out[:, 0] = pairs[:, 0]
        out[:, 1] = 1.0
        out[:, 2:] = pairs[:, 1:2]
        return out
    sql = (
        f"SELECT ts, n, min, avg, max, last FROM {_TABLES[level]}"
        " WHERE series = ? AND ts >= ? AND ts < ? ORDER BY ts"
    )
    return _array(db.execute(sql, (series, start_ms, end_ms)).fetchall(), 6)


def combine(rows: np.ndarray, step_ms: int) -> np.ndarray:
    """Rows (ts, n, min, avg, max, last), oldest first, merged per ``step_ms`` period:
    the period's start, the total count, min of mins, count-weighted average, max of
    maxes, and the last row's last."""
    if len(rows) == 0 or step_ms <= 0:
        return rows
    bucket = np.floor_divide(rows[:, 0], step_ms) * step_ms
    cuts = np.flatnonzero(np.diff(bucket)) + 1
    starts = np.concatenate(([0], cuts))
    ends = np.concatenate((cuts, [len(rows)])) - 1
    n = np.add.reduceat(rows[:, 1], starts)
    out = np.empty((len(starts), 6))
    out[:, 0] = bucket[starts]
    out[:, 1] = n
    out[:, 2] = np.minimum.reduceat(rows[:, 2], starts)
    out[:, 3] = np.add.reduceat(rows[:, 3] * rows[:, 1], starts) / n
    out[:, 4] = np.maximum.reduceat(rows[:, 4], starts)
    out[:, 5] = rows[ends, 5]
    return out


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
    """Carry both roll-up levels forward by at most ``span_ms`` of data each; whether
    more is due. A stretch with nothing in it is skipped in one go."""
    more = False
    for level, limit in (
        (Resolution.MINUTE, _floor(now_ms - ROLL_GRACE_MS, MINUTE_MS)),
        (Resolution.HOUR, None),
    ):
        done = _done(db, level)
        if done is None:
            continue
        if limit is None:  # hours follow the complete minutes
            limit = _floor(_done(db, Resolution.MINUTE) or 0, HOUR_MS)
        if limit <= done:
            continue
        end = min(limit, done + span_ms)
        if _roll(db, level, done, end) == 0:
            following = _next_ts(db, _source(level), end)
            step = level.value * 1000
            end = limit if following is None else max(end, min(_floor(following, step), limit))
        _set_done(db, level, end)
        more = more or end < limit
    return more


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


#: A chart takes a level whose period is up to this many times the step its width asks
#: for: between half and all of its points, from roll-ups SQLite reads many times faster
#: (24 h on a 1500-pixel chart: 1440 minutes rather than 86 400 raw samples per series).
CHART_SLACK = 2.0


def pick_resolution(
    start: float,
    end: float,
    now: float,
    limits: HistoryLimits,
    step_s: float,
    slack: float = 1.0,
    raw_from: float | None = None,
) -> Resolution:
    """The coarsest level that still covers ``start`` and whose period is at most
    ``slack`` times ``step_s`` (1: not coarser than asked), else the finest that covers
    it. Raw samples cover ``start`` when the oldest kept (``raw_from``, when known) is
    no later than a fiftieth of the range after it: what the writer keeps may differ
    from ``limits`` (``--keep-raw``), and a range of exactly the raw retention ending
    now would otherwise just miss it."""
    age = now - start
    if raw_from is None:
        raw_covers = age <= limits.raw_s
    else:
        raw_covers = raw_from <= start + max(60.0, (end - start) / 50)
    if step_s * slack < 60 and raw_covers:
        return Resolution.RAW
    if step_s * slack < 3600 and age <= limits.minute_s:
        return Resolution.MINUTE
    return Resolution.HOUR


def _series_ids(
    db: sqlite3.Connection,
    cluster: str,
    signals: Sequence[str] | None,
    members: Sequence[str] | None,
) -> list[tuple[int, str, str]]:
    sql = "SELECT id, member, signal FROM series WHERE cluster = ?"
    args: list[object] = [cluster]
    for column, values in (("signal", signals), ("member", members)):
        if values is not None:
            sql += f" AND {column} IN ({', '.join('?' * len(values))})"
            args.extend(values)
    return [(int(i), m, s) for i, m, s in db.execute(sql + " ORDER BY member, signal", args)]


@dataclass(frozen=True, slots=True)
class Plan:
    """How a range is read: which level, and the width of a point (ms; 0: as kept)."""

    resolution: Resolution
    bucket_ms: int


def plan(
    q: MetricsQuery,
    now: float,
    limits: HistoryLimits,
    max_points: int | None,
    raw_from: float | None = None,
) -> Plan:
    """``q.step_s`` when set (an export: never coarser than asked), else a chart's
    ``max_points`` (``CHART_SLACK``), else every point as kept."""
    span = max(q.end - q.start, 1.0)
    step = q.step_s if q.step_s is not None else (span / max_points if max_points else 0.0)
    slack = CHART_SLACK if q.step_s is None and max_points else 1.0
    level = pick_resolution(q.start, q.end, now, limits, step, slack, raw_from)
    kept = level.value * 1000
    if kept:  # whole periods of the level, so no point mixes one period with two
        bucket = math.ceil(to_ms(step) / kept) * kept
        return Plan(level, bucket if bucket > kept else 0)
    return Plan(level, to_ms(step))


def _oldest(
    db: sqlite3.Connection, level: Resolution, ids: Sequence[tuple[int, str, str]]
) -> float:
    """When the oldest row of these series at ``level`` was taken (inf: there is none).
    Asked of the tables, not the raw view: its min() would read every row."""
    found = [
        ts
        for series, _member, _signal in ids
        for (ts,) in [
            db.execute(f"SELECT min(ts) FROM {_KEPT[level]} WHERE series = ?", (series,)).fetchone()
        ]
        if ts is not None
    ]
    if level is Resolution.RAW and not found:  # only the newest, not moved yet
        found = [
            ts
            for series, _member, _signal in ids
            for (ts,) in [
                db.execute("SELECT min(ts) FROM recent WHERE series = ?", (series,)).fetchone()
            ]
            if ts is not None
        ]
    return min(found) / 1000 if found else math.inf


def _planned(
    db: sqlite3.Connection,
    q: MetricsQuery,
    now: float,
    limits: HistoryLimits,
    max_points: int | None,
) -> tuple[Plan, list[tuple[int, str, str]]]:
    """The series ``q`` selects, and how to read them, knowing what raw samples are kept:
    since when, and whether the minutes reach back further (a history younger than the
    range has nothing coarser to offer)."""
    ids = _series_ids(db, q.cluster, q.signals, q.members)
    raw_from = _oldest(db, Resolution.RAW, ids)
    if raw_from < math.inf and _oldest(db, Resolution.MINUTE, ids) >= raw_from // 60 * 60:
        raw_from = -math.inf
    return plan(q, now, limits, max_points, raw_from), ids


def _watermarks(db: sqlite3.Connection) -> dict[Resolution, int | None]:
    return {level: _done(db, level) for level in (Resolution.MINUTE, Resolution.HOUR)}


def _ceil(ms: int, step: int) -> int:
    return -(-ms // step) * step


def _rows(
    db: sqlite3.Connection,
    level: Resolution,
    series: int,
    start_ms: int,
    end_ms: int,
    bucket_ms: int,
    done: dict[Resolution, int | None],
) -> np.ndarray:
    """Rows (ts, n, min, avg, max, last) of one series at ``level`` in [start, end),
    merged per ``bucket_ms`` (0: per period of the level). The periods ``level`` does
    not hold yet (from its roll-up watermark on: the newest minute or hour) are made
    from the level below on the fly, so a range read from roll-ups reaches the newest
    sample too."""
    if level is Resolution.RAW:
        return _fetch(db, level, series, start_ms, end_ms, bucket_ms)
    step = level.value * 1000
    edge = done[level]
    edge = start_ms if edge is None else max(start_ms, min(end_ms, edge))
    rows = _fetch(db, level, series, start_ms, edge, bucket_ms)
    tail_start = max(edge, _ceil(start_ms, step))  # whole periods, as the kept rows
    if tail_start >= end_ms:
        return rows
    below = _rows(db, _source(level), series, tail_start, end_ms, 0, done)
    if not len(below):
        return rows
    merged = np.concatenate((rows, combine(below, step)))
    return combine(merged, bucket_ms) if bucket_ms else merged


def read_series(
    db: sqlite3.Connection,
    q: MetricsQuery,
    now: float,
    limits: HistoryLimits,
    max_points: int | None = None,
) -> list[Series]:
    """Every series ``q`` selects over its range, one per (member, signal), at the
    resolution ``plan`` picks; series with no point in the range are left out."""
    p, ids = _planned(db, q, now, limits, max_points)
    done = _watermarks(db)
    out: list[Series] = []
    for series, member, signal in ids:
        rows = _rows(db, p.resolution, series, to_ms(q.start), to_ms(q.end) + 1, p.bucket_ms, done)
        if not len(rows):
            continue
        cols: list[FloatArray] = [np.ascontiguousarray(rows[:, i]) for i in range(6)]
        out.append(
            Series(
                cluster=q.cluster,
                member=member,
                signal=signal,
                resolution=p.resolution,
                step_s=max(p.bucket_ms, p.resolution.value * 1000) / 1000,
                ts=cols[0] / 1000,
                min=cols[2],
                avg=cols[3],
                max=cols[4],
                last=cols[5],
            )
        )
    return out


_PICK = {Aggregate.MIN: 2, Aggregate.AVG: 3, Aggregate.MAX: 4, Aggregate.LAST: 5}


def iter_points(
    db: sqlite3.Connection, q: MetricsQuery, now: float, limits: HistoryLimits
) -> Iterator[tuple[float, str, str, float]]:
    """(time, member, signal, value) of every point ``q`` selects, by time then member
    then signal; ``q.aggregate`` picks the figure of rolled-up points. Streams: one
    series' slice of a day is in memory at a time, never the whole range."""
    p, ids = _planned(db, q, now, limits, None)
    done = _watermarks(db)
    pick = _PICK[q.aggregate]
    start, end = to_ms(q.start), to_ms(q.end) + 1
    chunk = DAY_MS if p.resolution is Resolution.RAW else 30 * DAY_MS
    # Chunks end on a point's boundary, so no point is split in two (same time twice).
    step = max(p.bucket_ms, p.resolution.value * 1000, 1)
    edges = sorted({start, end, *(_floor(t, step) for t in range(start + chunk, end, chunk))})
    edges = [t for t in edges if start <= t <= end]
    for lo, hi in itertools.pairwise(edges):
        points: list[tuple[float, str, str, float]] = []
        for series, member, signal in ids:  # by member, then signal
            rows = _rows(db, p.resolution, series, lo, hi, p.bucket_ms, done)
            times, values = (rows[:, 0] / 1000).tolist(), rows[:, pick].tolist()
            points.extend(zip(times, itertools.repeat(member), itertools.repeat(signal), values))
        points.sort(key=itemgetter(0))  # stable: one time's points stay by member, signal
        yield from points


def _count(
    db: sqlite3.Connection,
    level: Resolution,
    series: int,
    start_ms: int,
    end_ms: int,
    bucket_ms: int,
    done: dict[Resolution, int | None],
) -> int:
    """How many rows ``_rows`` gives, at most (the kept ones counted, not read)."""
    edge = end_ms if level is Resolution.RAW else done[level]
    edge = start_ms if edge is None else max(start_ms, min(end_ms, edge))
    n = 0
    if edge > start_ms:
        what = f"count(DISTINCT ts / {bucket_ms})" if bucket_ms else "count(*)"
        (n,) = db.execute(
            f"SELECT {what} FROM {_TABLES[level]} WHERE series = ? AND ts >= ? AND ts < ?",
            (series, start_ms, edge),
        ).fetchone()
    if level is not Resolution.RAW:
        step = level.value * 1000
        tail_start = max(edge, _ceil(start_ms, step))
        if tail_start < end_ms:
            below = _rows(db, _source(level), series, tail_start, end_ms, 0, done)
            n += len(combine(combine(below, step), bucket_ms))
    return int(n)


def count_points(db: sqlite3.Connection, q: MetricsQuery, now: float, limits: HistoryLimits) -> int:
    """How many (time, member) rows a metrics export of ``q`` has, at most: the points of
    the member-signal with the most, per member. Cheap: counts, no values (but for the
    newest periods not rolled up yet)."""
    p, ids = _planned(db, q, now, limits, None)
    done = _watermarks(db)
    per_member: dict[str, int] = {}
    start, end = to_ms(q.start), to_ms(q.end) + 1
    for series, member, _signal in ids:
        n = _count(db, p.resolution, series, start, end, p.bucket_ms, done)
        per_member[member] = max(per_member.get(member, 0), n)
    return sum(per_member.values())


def clusters(db: sqlite3.Connection) -> list[ClusterRecord]:
    rows = db.execute(
        "SELECT key, name, cluster_id, first_seen, last_seen FROM clusters ORDER BY name, key"
    )
    return [ClusterRecord(*row) for row in rows]


def _member(row: Sequence[object]) -> MemberRecord:
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
    return [_member(row) for row in db.execute(sql + " ORDER BY cluster, name, member", args)]


def known_members(db: sqlite3.Connection, cluster: str) -> dict[str, MemberRecord]:
    return {m.member: m for m in members(db, cluster)}


def member_events(
    db: sqlite3.Connection, cluster: str | None, since: float = -math.inf, until: float = math.inf
) -> list[MemberEvent]:
    sql = (
        "SELECT at, cluster, member, name, change, detail FROM member_events"
        " WHERE at >= ? AND at <= ?"
    )
    args: list[object] = [since, until]
    if cluster is not None:
        sql += " AND cluster = ?"
        args.append(cluster)
    rows = db.execute(sql + " ORDER BY at, id", args)
    return [
        MemberEvent(at, c, m, name, MemberChange(change), detail)
        for at, c, m, name, change, detail in rows
    ]


def bench_runs(
    db: sqlite3.Connection, cluster: str | None = None, limit: int = 1000
) -> list[BenchRunRecord]:
    """Benchmark runs, the newest first."""
    sql = (
        "SELECT id, cluster, cluster_name, started_at, label, workload, requests_per_s,"
        " p50_ms, p99_ms, errors, verdict, summary FROM bench_runs"
    )
    args: list[object] = []
    if cluster is not None:
        sql += " WHERE cluster = ?"
        args.append(cluster)
    rows = db.execute(sql + " ORDER BY started_at DESC, id DESC LIMIT ?", (*args, limit))
    return [
        BenchRunRecord(
            i, c, name, at, label, workload, rps, p50, p99, errors, verdict, json.loads(doc)
        )
        for i, c, name, at, label, workload, rps, p50, p99, errors, verdict, doc in rows
    ]


def db_size_points(
    db: sqlite3.Connection, cluster: str, since: float
) -> list[tuple[float, float, float | None]]:
    """(time, largest member DB size, quota) per minute since ``since``, from the minute
    roll-ups and, after them, the raw samples: what a quota forecast starts from."""
    points: dict[int, list[float]] = {}
    quota: dict[int, float] = {}
    for series, _member, signal in _series_ids(db, cluster, ("db_size_bytes", "quota_bytes"), None):
        rows = _fetch(db, Resolution.MINUTE, series, to_ms(since), 2**62)
        done = _done(db, Resolution.MINUTE) or 0
        raw = combine(_fetch(db, Resolution.RAW, series, max(done, to_ms(since)), 2**62), MINUTE_MS)
        for t, _n, _mn, _av, mx, _last in np.concatenate((rows, raw)).tolist():
            if signal == "quota_bytes":
                quota[int(t)] = mx
            else:
                points.setdefault(int(t), []).append(mx)
    return [(t / 1000, max(v), quota.get(t)) for t, v in sorted(points.items())]
