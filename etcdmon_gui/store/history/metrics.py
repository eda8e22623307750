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

Retention (``HistoryLimits``: raw 24 h, minutes 30 days, hours a year) and the size
limit (the oldest data goes first, whatever its level) are enforced by ``prune`` in
steps of at most ``budget`` rows, so the writer's batches never wait long behind it.

Functions take the connection; the caller owns its thread and transactions.
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

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
_TABLES = {Resolution.RAW: "samples", Resolution.MINUTE: "rollup_1m", Resolution.HOUR: "rollup_1h"}


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
    db.executemany("INSERT OR REPLACE INTO samples (series, ts, value) VALUES (?, ?, ?)", rows)
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


# -- roll-ups ------------------------------------------------------------------------------


def _done(db: sqlite3.Connection, level: Resolution) -> int | None:
    row = db.execute("SELECT until_ms FROM rollup_done WHERE step_s = ?", (level.value,)).fetchone()
    return None if row is None else int(row[0])


def _set_done(db: sqlite3.Connection, level: Resolution, until_ms: int) -> None:
    db.execute("UPDATE rollup_done SET until_ms = ? WHERE step_s = ?", (until_ms, level.value))


def _source(level: Resolution) -> Resolution:
    return Resolution.RAW if level is Resolution.MINUTE else Resolution.MINUTE


def _fetch(
    db: sqlite3.Connection, level: Resolution, series: int, start_ms: int, end_ms: int
) -> np.ndarray:
    """Rows (ts, n, min, avg, max, last) of one series in [start, end), oldest first."""
    if level is Resolution.RAW:
        sql = (
            "SELECT ts, 1, value, value, value, value FROM samples"
            " WHERE series = ? AND ts >= ? AND ts < ? ORDER BY ts"
        )
    else:
        sql = (
            f"SELECT ts, n, min, avg, max, last FROM {_TABLES[level]}"
            " WHERE series = ? AND ts >= ? AND ts < ? ORDER BY ts"
        )
    rows = db.execute(sql, (series, start_ms, end_ms)).fetchall()
    return np.array(rows, dtype=np.float64).reshape(-1, 6)


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
    """(Re)make ``level``'s periods in [start, end) from the level below; rows written."""
    source, step = _source(level), level.value * 1000
    out: list[tuple[float, ...]] = []
    for (series,) in db.execute("SELECT id FROM series").fetchall():
        merged = combine(_fetch(db, source, series, start_ms, end_ms), step)
        out.extend((series, *row) for row in merged.tolist())
    db.executemany(
        f"INSERT OR REPLACE INTO {_TABLES[level]} (series, ts, n, min, avg, max, last)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        [(int(s), int(t), int(n), mn, av, mx, last) for s, t, n, mn, av, mx, last in out],
    )
    return len(out)


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


def _delete_before(db: sqlite3.Connection, table: str, cutoff_ms: int, budget: int) -> int:
    """Delete rows older than ``cutoff_ms``, at most about ``budget`` of them."""
    removed = 0
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
        for table in _TABLES.values()
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
    for level, keep_s in (
        (Resolution.RAW, limits.raw_s),
        (Resolution.MINUTE, limits.minute_s),
        (Resolution.HOUR, limits.hour_s),
    ):
        removed += _delete_before(db, _TABLES[level], now_ms - int(keep_s * 1000), budget - removed)
    db.execute("DELETE FROM member_events WHERE at < ?", (now_ms / 1000 - limits.hour_s,))
    if removed < budget and stored_bytes(db) > limits.max_bytes:
        oldest = _oldest_ms(db)
        if oldest is not None:
            cutoff = _floor(oldest, HOUR_MS) + HOUR_MS
            for table in _TABLES.values():
                removed += _delete_before(db, table, cutoff, max(budget - removed, 1))
    if removed:
        db.execute("PRAGMA incremental_vacuum(1024)")
    return removed >= budget or (removed > 0 and stored_bytes(db) > limits.max_bytes)


# -- reading -------------------------------------------------------------------------------


def pick_resolution(
    start: float, end: float, now: float, limits: HistoryLimits, step_s: float
) -> Resolution:
    """The finest level that still covers ``start`` and is not finer than needed."""
    age = now - start
    if step_s < 60 and age <= limits.raw_s:
        return Resolution.RAW
    if step_s < 3600 and age <= limits.minute_s:
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


def plan(q: MetricsQuery, now: float, limits: HistoryLimits, max_points: int | None) -> Plan:
    span = max(q.end - q.start, 1.0)
    step = q.step_s if q.step_s is not None else (span / max_points if max_points else 0.0)
    level = pick_resolution(q.start, q.end, now, limits, step)
    kept = level.value * 1000
    if kept:  # whole periods of the level, so no point mixes one period with two
        bucket = math.ceil(to_ms(step) / kept) * kept
        return Plan(level, bucket if bucket > kept else 0)
    return Plan(level, to_ms(step))


def read_series(
    db: sqlite3.Connection,
    q: MetricsQuery,
    now: float,
    limits: HistoryLimits,
    max_points: int | None = None,
) -> list[Series]:
    """Every series ``q`` selects over its range, one per (member, signal), at the
    resolution ``plan`` picks; series with no point in the range are left out."""
    p = plan(q, now, limits, max_points)
    out: list[Series] = []
    for series, member, signal in _series_ids(db, q.cluster, q.signals, q.members):
        rows = _fetch(db, p.resolution, series, to_ms(q.start), to_ms(q.end) + 1)
        rows = combine(rows, p.bucket_ms)
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
    p = plan(q, now, limits, None)
    ids = _series_ids(db, q.cluster, q.signals, q.members)
    pick = _PICK[q.aggregate]
    start, end = to_ms(q.start), to_ms(q.end) + 1
    chunk = DAY_MS if p.resolution is Resolution.RAW else 30 * DAY_MS
    for lo in range(start, end, chunk):
        hi = min(lo + chunk, end)
        points: list[tuple[float, str, str, float]] = []
        for series, member, signal in ids:
            rows = combine(_fetch(db, p.resolution, series, lo, hi), p.bucket_ms)
            points.extend((t / 1000, member, signal, v) for t, v in rows[:, [0, pick]].tolist())
        points.sort()
        yield from points


def count_points(db: sqlite3.Connection, q: MetricsQuery, now: float, limits: HistoryLimits) -> int:
    """How many (time, member) rows a metrics export of ``q`` has, at most: the points of
    the member-signal with the most, per member. Cheap: counts, no values."""
    p = plan(q, now, limits, None)
    table = _TABLES[p.resolution]
    per_member: dict[str, int] = {}
    for series, member, _signal in _series_ids(db, q.cluster, q.signals, q.members):
        if p.bucket_ms:
            sql = (
                f"SELECT count(DISTINCT ts / {p.bucket_ms}) FROM {table}"
                " WHERE series = ? AND ts >= ? AND ts < ?"
            )
        else:
            sql = f"SELECT count(*) FROM {table} WHERE series = ? AND ts >= ? AND ts < ?"
        (n,) = db.execute(sql, (series, to_ms(q.start), to_ms(q.end) + 1)).fetchone()
        per_member[member] = max(per_member.get(member, 0), int(n))
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
