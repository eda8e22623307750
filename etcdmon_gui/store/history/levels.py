"""How a range of history is read, whatever database holds it: the level picked from the
span and the points wanted (``plan``), the newest periods a roll-up has not reached
made from the level below (``rows``), periods merged with numpy (``combine``), and the
questions built on them (series, points, counts, DB sizes); and how the roll-ups are
carried forward (``roll_up``, on each store's own statements).

A store answers a few primitive questions (``Levels``: its series, a level's rows in a
range, counts, the oldest row, the roll-up watermarks); the SQLite file
(``metrics.SqliteLevels``) and a PostgreSQL database (``postgres.metrics.PgLevels``)
each answer them in their SQL, and everything above is shared, so both give the same
answers for the same data.

Times are UNIX milliseconds (integers) here, as the stores keep them.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any, Protocol

import numpy as np

from etcdmon_gui.model.history import (
    Aggregate,
    FloatArray,
    HistoryLimits,
    MetricsQuery,
    Resolution,
    Series,
)

MINUTE_MS = 60_000
HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
EMPTY = np.empty((0, 6))
#: A minute is rolled up once it is this old (a sweep's samples are stamped with its
#: start and written after it ends).
ROLL_GRACE_MS = 30_000

#: A chart takes a level whose period is up to this many times the step its width asks
#: for: between half and all of its points, from roll-ups SQLite reads many times faster
#: (24 h on a 1500-pixel chart: 1440 minutes rather than 86 400 raw samples per series).
CHART_SLACK = 2.0

SeriesKey = tuple[int, str, str]  # (series id, member, signal)


def to_ms(t: float) -> int:
    return round(t * 1000)


def floor_ms(ms: int, step: int) -> int:
    return ms // step * step


def ceil_ms(ms: int, step: int) -> int:
    return -(-ms // step) * step


def source_level(level: Resolution) -> Resolution:
    """The level ``level`` is rolled up from."""
    return Resolution.RAW if level is Resolution.MINUTE else Resolution.MINUTE


def roll_up(
    now_ms: int,
    span_ms: int,
    *,
    done: Callable[[Resolution], int | None],
    roll: Callable[[Resolution, int, int], int],
    next_ts: Callable[[Resolution, int], int | None],
    set_done: Callable[[Resolution, int], None],
) -> bool:
    """Carry both roll-up levels forward by at most ``span_ms`` of data each; whether
    more is due. A stretch with nothing in it is skipped in one go. The store's part:
    ``done`` (a level's watermark: complete before it), ``roll`` (remake a level's
    periods in [start, end) from the level below; rows written), ``next_ts`` (the first
    time at or after a time that a level holds anything), ``set_done``."""
    more = False
    for level, limit in (
        (Resolution.MINUTE, floor_ms(now_ms - ROLL_GRACE_MS, MINUTE_MS)),
        (Resolution.HOUR, None),
    ):
        start = done(level)
        if start is None:
            continue
        if limit is None:  # hours follow the complete minutes
            limit = floor_ms(done(Resolution.MINUTE) or 0, HOUR_MS)
        if limit <= start:
            continue
        end = min(limit, start + span_ms)
        if roll(level, start, end) == 0:
            following = next_ts(source_level(level), end)
            step = level.value * 1000
            end = limit if following is None else max(end, min(floor_ms(following, step), limit))
        set_done(level, end)
        more = more or end < limit
    return more


def as_array(rows: Sequence[Sequence[Any]], width: int) -> np.ndarray:
    """A database's rows of ``width`` numbers as a float array of that many columns."""
    flat = itertools.chain.from_iterable(rows)
    return np.fromiter(flat, dtype=np.float64, count=len(rows) * width).reshape(-1, width)


def raw_rows(rows: Sequence[Sequence[Any]]) -> np.ndarray:
    """Raw samples' (ts, value) rows as (ts, n, min, avg, max, last) rows: a raw sample
    is its own figures (two columns read, six made)."""
    pairs = as_array(rows, 2)
    out = np.empty((len(pairs), 6))
    out[:, 0] = pairs[:, 0]
    out[:, 1] = 1.0
    out[:, 2:] = pairs[:, 1:2]
    return out


class Levels(Protocol):
    """The primitive questions a history database answers for the reads below."""

    def series_ids(
        self, cluster: str, signals: Sequence[str] | None, members: Sequence[str] | None
    ) -> list[SeriesKey]:
        """The series of ``cluster`` (of these signals and members, ``None``: all), by
        member then signal (bytewise)."""
        ...

    def fetch(
        self, level: Resolution, series: int, start_ms: int, end_ms: int, bucket_ms: int = 0
    ) -> np.ndarray:
        """Rows (ts, n, min, avg, max, last) of one series of ``level`` in [start, end),
        oldest first: as kept, or merged per ``bucket_ms`` by the database."""
        ...

    def count(
        self, level: Resolution, series: int, start_ms: int, end_ms: int, bucket_ms: int
    ) -> int:
        """How many rows ``fetch`` gives (counted, not read)."""
        ...

    def oldest(self, level: Resolution, ids: Sequence[SeriesKey]) -> float:
        """When the oldest row of these series at ``level`` was taken (s; inf: none)."""
        ...

    def watermarks(self) -> dict[Resolution, int | None]:
        """Up to where (ms, exclusive) the minute and hour roll-ups are complete."""
        ...


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


def planned(
    src: Levels,
    q: MetricsQuery,
    now: float,
    limits: HistoryLimits,
    max_points: int | None,
) -> tuple[Plan, list[SeriesKey]]:
    """The series ``q`` selects, and how to read them, knowing what raw samples are kept:
    since when, and whether the minutes reach back further (a history younger than the
    range has nothing coarser to offer)."""
    ids = src.series_ids(q.cluster, q.signals, q.members)
    raw_from = src.oldest(Resolution.RAW, ids)
    if raw_from < math.inf and src.oldest(Resolution.MINUTE, ids) >= raw_from // 60 * 60:
        raw_from = -math.inf
    return plan(q, now, limits, max_points, raw_from), ids


def _split(
    level: Resolution, start_ms: int, end_ms: int, done: dict[Resolution, int | None]
) -> tuple[int, int]:
    """Where [start, end) at ``level`` splits: the rows it keeps are in [start, edge),
    the periods it does not hold yet (from its watermark on) are made from the level
    below in [tail, end), whole periods as the kept rows (none: tail >= end). Raw
    samples are all kept."""
    if level is Resolution.RAW:
        return end_ms, end_ms
    edge = done[level]
    edge = start_ms if edge is None else max(start_ms, min(end_ms, edge))
    return edge, max(edge, ceil_ms(start_ms, level.value * 1000))


def rows(
    src: Levels,
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
    if start_ms >= end_ms:
        return EMPTY
    edge, tail_start = _split(level, start_ms, end_ms, done)
    kept = src.fetch(level, series, start_ms, edge, bucket_ms) if start_ms < edge else EMPTY
    if tail_start >= end_ms:
        return kept
    step = level.value * 1000
    below = rows(src, source_level(level), series, tail_start, end_ms, 0, done)
    if not len(below):
        return kept
    merged = np.concatenate((kept, combine(below, step)))
    return combine(merged, bucket_ms) if bucket_ms else merged


def read_series(
    src: Levels,
    q: MetricsQuery,
    now: float,
    limits: HistoryLimits,
    max_points: int | None = None,
) -> list[Series]:
    """Every series ``q`` selects over its range, one per (member, signal), at the
    resolution ``plan`` picks; series with no point in the range are left out."""
    p, ids = planned(src, q, now, limits, max_points)
    done = src.watermarks()
    out: list[Series] = []
    for series, member, signal in ids:
        got = rows(src, p.resolution, series, to_ms(q.start), to_ms(q.end) + 1, p.bucket_ms, done)
        if not len(got):
            continue
        cols: list[FloatArray] = [np.ascontiguousarray(got[:, i]) for i in range(6)]
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
    src: Levels, q: MetricsQuery, now: float, limits: HistoryLimits
) -> Iterator[tuple[float, str, str, float]]:
    """(time, member, signal, value) of every point ``q`` selects, by time then member
    then signal; ``q.aggregate`` picks the figure of rolled-up points. Streams: one
    series' slice of a day is in memory at a time, never the whole range."""
    p, ids = planned(src, q, now, limits, None)
    done = src.watermarks()
    pick = _PICK[q.aggregate]
    start, end = to_ms(q.start), to_ms(q.end) + 1
    chunk = DAY_MS if p.resolution is Resolution.RAW else 30 * DAY_MS
    # Chunks end on a point's boundary, so no point is split in two (same time twice).
    step = max(p.bucket_ms, p.resolution.value * 1000, 1)
    edges = sorted({start, end, *(floor_ms(t, step) for t in range(start + chunk, end, chunk))})
    edges = [t for t in edges if start <= t <= end]
    for lo, hi in itertools.pairwise(edges):
        points: list[tuple[float, str, str, float]] = []
        for series, member, signal in ids:  # by member, then signal
            got = rows(src, p.resolution, series, lo, hi, p.bucket_ms, done)
            times, values = (got[:, 0] / 1000).tolist(), got[:, pick].tolist()
            points.extend(zip(times, itertools.repeat(member), itertools.repeat(signal), values))
        points.sort(key=itemgetter(0))  # stable: one time's points stay by member, signal
        yield from points


def _count(
    src: Levels,
    level: Resolution,
    series: int,
    start_ms: int,
    end_ms: int,
    bucket_ms: int,
    done: dict[Resolution, int | None],
) -> int:
    """How many rows ``rows`` gives, at most (the kept ones counted, not read)."""
    edge, tail_start = _split(level, start_ms, end_ms, done)
    n = src.count(level, series, start_ms, edge, bucket_ms) if edge > start_ms else 0
    if tail_start < end_ms:
        step = level.value * 1000
        below = rows(src, source_level(level), series, tail_start, end_ms, 0, done)
        n += len(combine(combine(below, step), bucket_ms))
    return int(n)


def count_points(src: Levels, q: MetricsQuery, now: float, limits: HistoryLimits) -> int:
    """How many (time, member) rows a metrics export of ``q`` has, at most: the points of
    the member-signal with the most, per member. Cheap: counts, no values (but for the
    newest periods not rolled up yet)."""
    p, ids = planned(src, q, now, limits, None)
    done = src.watermarks()
    per_member: dict[str, int] = {}
    start, end = to_ms(q.start), to_ms(q.end) + 1
    for series, member, _signal in ids:
        n = _count(src, p.resolution, series, start, end, p.bucket_ms, done)
        per_member[member] = max(per_member.get(member, 0), n)
    return sum(per_member.values())


def db_size_points(
    src: Levels, cluster: str, since: float
) -> list[tuple[float, float, float | None]]:
    """(time, largest member DB size, quota) per minute since ``since``, from the minute
    roll-ups and, after them, the raw samples: what a quota forecast starts from."""
    points: dict[int, list[float]] = {}
    quota: dict[int, float] = {}
    done = src.watermarks()[Resolution.MINUTE] or 0
    for series, _member, signal in src.series_ids(cluster, ("db_size_bytes", "quota_bytes"), None):
        kept = src.fetch(Resolution.MINUTE, series, to_ms(since), 2**62)
        raw = combine(src.fetch(Resolution.RAW, series, max(done, to_ms(since)), 2**62), MINUTE_MS)
        for t, _n, _mn, _av, mx, _last in np.concatenate((kept, raw)).tolist():
            if signal == "quota_bytes":
                quota[int(t)] = mx
            else:
                points.setdefault(int(t), []).append(mx)
    return [(t / 1000, max(v), quota.get(t)) for t, v in sorted(points.items())]
