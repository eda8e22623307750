"""Metrics in the history file: raw samples, minute and hour roll-ups (exact figures
across gaps, restarts and late samples), retention per level, the size limit, the
plan a range is read with, and the queries over it."""

from __future__ import annotations

import dataclasses
import sqlite3
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pytest

from etcdmon_gui.model.history import (
    CLUSTER_WIDE,
    Aggregate,
    BenchRunRecord,
    HistoryLimits,
    MemberChange,
    MemberEvent,
    MetricsQuery,
    Resolution,
    Sample,
)
from etcdmon_gui.model.snapshot import MemberStatus
from etcdmon_gui.store.history import db as hdb
from etcdmon_gui.store.history import metrics
from etcdmon_gui.store.history.reader import HistoryReader
from etcdmon_gui.store.history.writer import HistoryWriter
from tests.builders import Clock, member, snap

T0 = 1_699_999_200.0  # on the hour
MIN_MS = 60_000
HOUR_MS = 3_600_000
BIG = HistoryLimits(raw_s=1e9, minute_s=1e9, hour_s=1e9, max_bytes=2**62)

Row = tuple[int, int, float, float, float, float]  # ts, n, min, avg, max, last


def ms(t: float) -> int:
    return round(t * 1000)


def write(
    db: sqlite3.Connection,
    ids: metrics.SeriesIds,
    points: Iterable[tuple[float, float]],
    member_: str = "a",
    signal: str = "x",
) -> None:
    with db:
        for t, v in points:
            metrics.write_samples(db, ids, "c1", t, [Sample(member_, signal, v)])


def roll_all(db: sqlite3.Connection, now: float) -> None:
    for _ in range(100_000):
        with db:
            if not metrics.roll_up(db, ms(now)):
                return
    raise AssertionError("roll_up never caught up")


def prune_all(db: sqlite3.Connection, now: float, limits: HistoryLimits, budget: int) -> int:
    for calls in range(1, 100_000):
        with db:
            if not metrics.prune(db, ms(now), limits, budget):
                return calls
    raise AssertionError("prune never finished")


def stored(db: sqlite3.Connection, table: str, member_: str = "a", signal: str = "x") -> list[Row]:
    if table == "samples":
        sql = "SELECT r.ts, 1, value, value, value, value FROM raw_samples r"
    else:
        sql = f"SELECT r.ts, n, min, avg, max, last FROM {table} r"
    return db.execute(
        sql + " JOIN series s ON s.id = r.series WHERE s.member = ? AND s.signal = ? ORDER BY r.ts",
        (member_, signal),
    ).fetchall()


def expected(points: Iterable[tuple[float, float]], step_ms: int) -> list[Row]:
    """Per ``step_ms`` period: start, count, min, mean, max, last (a later point at the
    same millisecond replaces an earlier one, as a rewrite does)."""
    by_ms: dict[int, float] = {}
    for t, v in points:
        by_ms[ms(t)] = v
    groups: dict[int, list[float]] = {}
    for t in sorted(by_ms):
        groups.setdefault(t // step_ms * step_ms, []).append(by_ms[t])
    return [
        (k, len(vs), min(vs), sum(vs) / len(vs), max(vs), vs[-1])
        for k, vs in sorted(groups.items())
    ]


def assert_rows(got: Sequence[Sequence[float]], want: Sequence[Row]) -> None:
    assert [(int(r[0]), int(r[1])) for r in got] == [(r[0], r[1]) for r in want]
    for g, w in zip(got, want, strict=True):
        assert (g[2], g[4], g[5]) == (w[2], w[4], w[5]), (g, w)  # min, max, last: exact
        assert g[3] == pytest.approx(w[3], rel=1e-12, abs=1e-12), (g, w)


# -- roll-ups ------------------------------------------------------------------------------


def test_roll_ups_are_exact_across_a_gap_and_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite3"
    first = [(T0 + 5 + 7 * i, float((i * 37) % 101 - 50)) for i in range(215)]  # to 25 min
    other = [(t, v * 2 + 0.25) for t, v in first]
    # After a gap of 70 minutes (over an hour boundary) the process restarts, and the
    # member's values start again from 0 (a counter reset).
    second = [(T0 + 95 * 60 + 0.25 + 3 * i, (i % 13) * 0.5) for i in range(1100)]

    db = hdb.connect(path)
    ids = metrics.SeriesIds()
    write(db, ids, first)
    write(db, ids, other, member_="b")
    roll_all(db, T0 + 10 * 60)  # part of the way: minutes up to 9:00 are done
    assert_rows(stored(db, "rollup_1m"), expected([p for p in first if p[0] < T0 + 540], MIN_MS))
    assert stored(db, "rollup_1h") == []
    db.close()

    db = hdb.connect(path)
    write(db, metrics.SeriesIds(), second)
    roll_all(db, T0 + 4 * 3600)
    assert_rows(stored(db, "rollup_1m"), expected(first + second, MIN_MS))
    assert_rows(stored(db, "rollup_1h"), expected(first + second, HOUR_MS))
    assert_rows(stored(db, "rollup_1m", "b"), expected(other, MIN_MS))
    assert_rows(stored(db, "rollup_1h", "b"), expected(other, HOUR_MS))
    # The gap stays a gap: no minute between 25:00 and 95:00 was made up.
    minutes = [r[0] for r in stored(db, "rollup_1m")]
    assert not [t for t in minutes if ms(T0 + 26 * 60) <= t < ms(T0 + 95 * 60)]
    assert len(stored(db, "rollup_1h")) == 3  # hours 0, 1 and 2
    done = dict(db.execute("SELECT step_s, until_ms FROM rollup_done").fetchall())
    assert done == {60: ms(T0 + 4 * 3600 - 60), 3600: ms(T0 + 3 * 3600)}
    # Rolling again changes nothing.
    before = stored(db, "rollup_1m")
    roll_all(db, T0 + 4 * 3600)
    assert stored(db, "rollup_1m") == before
    db.close()


def _m(i: int, **kw: object) -> MemberStatus:
    return dataclasses.replace(member(i), **kw)  # type: ignore[arg-type]


def test_writer_restart_continues_the_same_series(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite3"
    clock = Clock()
    clock.t = T0  # maintenance sees nothing old enough to roll or prune
    values: list[tuple[float, float]] = []
    for part in (range(0, 150), range(400, 500)):  # a gap, and a new writer (restart)
        writer = HistoryWriter(path, clock=clock, batch_s=0.05, maintain_every_s=3600).start()
        assert writer.wait_ready() is None
        for i in part:
            t = T0 + 1 + i * 1.5
            value = float(i % 40)  # the raft index restarts every 40 sweeps
            values.append((t, value))
            writer.add_snapshot(snap(t, [_m(1, raft_index=int(value)), member(2)]), "prod")
        assert writer.flush()
        writer.close()
        assert writer.error is None and writer.batches >= 1

    db = hdb.connect(path)
    assert stored(db, "samples", "1", "raft_index") == [(ms(t), 1, v, v, v, v) for t, v in values]
    roll_all(db, T0 + 7200)
    assert_rows(stored(db, "rollup_1m", "1", "raft_index"), expected(values, MIN_MS))
    assert_rows(stored(db, "rollup_1h", "1", "raft_index"), expected(values, HOUR_MS))
    steady = [(t, 10.0) for t, _ in values]
    assert_rows(stored(db, "rollup_1m", "2", "raft_index"), expected(steady, MIN_MS))
    # One series per (cluster, member, signal), whichever writer made it.
    (dupes,) = db.execute(
        "SELECT count(*) FROM (SELECT 1 FROM series GROUP BY cluster, member, signal"
        " HAVING count(*) > 1)"
    ).fetchone()
    assert dupes == 0
    db.close()


def test_a_late_sample_rolls_its_minute_and_hour_again(tmp_path: Path) -> None:
    db = hdb.connect(tmp_path / "h.sqlite3")
    ids = metrics.SeriesIds()
    points = [(T0 + 10 * i + 0.5, float(i)) for i in range(60)]  # 0:00 to 10:00
    write(db, ids, points)
    roll_all(db, T0 + 2 * 3600 + 60)  # minutes and hour 0 are done
    assert_rows(stored(db, "rollup_1h"), expected(points, HOUR_MS))

    late = [
        (T0 + 125.25, 1000.0),  # inside minute 2, not its last
        (T0 + 179.75, -5.0),  # the new last of minute 2
        (T0 + 15 * 60 + 1, -7.0),  # a minute that had nothing
        (points[7][0], 99.0),  # a value rewritten at the same instant
    ]
    write(db, ids, late)
    want = points + late
    assert_rows(stored(db, "rollup_1m"), expected(want, MIN_MS))
    assert_rows(stored(db, "rollup_1h"), expected(want, HOUR_MS))
    minute2 = next(r for r in stored(db, "rollup_1m") if r[0] == ms(T0 + 120))
    mean = (12 + 13 + 14 + 15 + 16 + 17 + 1000 - 5) / 8
    assert minute2[1:] == pytest.approx((8, -5.0, mean, 1000.0, -5.0))
    db.close()


def test_writer_maintenance_rolls_up_and_prunes_by_its_clock(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite3"
    clock = Clock()
    clock.t = T0
    limits = HistoryLimits(raw_s=1800, minute_s=1e9, hour_s=1e9)
    writer = HistoryWriter(
        path, clock=clock, limits=limits, batch_s=0.01, maintain_every_s=0.02
    ).start()
    times = [T0 + 2 * i for i in range(1800)]  # an hour of sweeps, 2 s apart
    for t in times:
        writer.add_snapshot(snap(t, [member(1)]), "prod")
    assert writer.flush()
    clock.t = T0 + 3600 + 120  # two minutes after the last sweep
    reader = sqlite3.connect(path)

    def settled() -> bool:
        (oldest,) = reader.execute("SELECT min(ts) FROM raw_samples").fetchone()
        done = dict(reader.execute("SELECT step_s, until_ms FROM rollup_done").fetchall())
        return oldest >= ms(clock.t - 1800) and done.get(3600) == ms(T0 + 3600)

    deadline = time.monotonic() + 20
    while not settled() and time.monotonic() < deadline:
        time.sleep(0.05)
    writer.close()
    assert settled() and writer.error is None
    (minutes,) = reader.execute("SELECT count(*) FROM rollup_1m").fetchone()
    (series,) = reader.execute("SELECT count(*) FROM series").fetchone()
    assert minutes == 60 * series
    reader.close()


# -- retention and the size limit --------------------------------------------------------


def test_retention_per_level(tmp_path: Path) -> None:
    db = hdb.connect(tmp_path / "h.sqlite3")
    ids = metrics.SeriesIds()
    points = [(T0 + 60 * i + 1, float(i % 17)) for i in range(3 * 1440)]  # 3 days
    write(db, ids, points)
    now = T0 + 3 * 86_400
    roll_all(db, now + 60)
    metrics.save_members(
        db,
        [],
        [
            MemberEvent(now - 3 * 86_400, "c1", "a", "m1", MemberChange.JOINED, ""),
            MemberEvent(now - 86_400, "c1", "b", "m2", MemberChange.JOINED, ""),
        ],
    )
    limits = HistoryLimits(raw_s=6 * 3600, minute_s=86_400, hour_s=2 * 86_400, max_bytes=2**62)
    calls = prune_all(db, now, limits, budget=500)
    assert calls > 1  # in steps

    raw_cut, minute_cut, hour_cut = (ms(now - s) for s in (6 * 3600, 86_400, 2 * 86_400))
    assert stored(db, "samples") == [(ms(t), 1, v, v, v, v) for t, v in points if ms(t) >= raw_cut]
    assert_rows(
        stored(db, "rollup_1m"), [r for r in expected(points, MIN_MS) if r[0] >= minute_cut]
    )
    assert_rows(stored(db, "rollup_1h"), [r for r in expected(points, HOUR_MS) if r[0] >= hour_cut])
    assert [e.member for e in metrics.member_events(db, "c1")] == ["b"]
    db.close()


def test_raw_samples_are_not_dropped_before_they_are_rolled_up(tmp_path: Path) -> None:
    db = hdb.connect(tmp_path / "h.sqlite3")
    points = [(T0 + 30 * i, float(i)) for i in range(2 * 2880)]  # 2 days, not rolled up
    write(db, metrics.SeriesIds(), points)
    now = T0 + 2 * 86_400
    limits = HistoryLimits(raw_s=3600, minute_s=1e9, hour_s=1e9, max_bytes=2**62)
    prune_all(db, now, limits, budget=10_000)
    assert len(stored(db, "samples")) == len(points)  # nothing rolled: nothing dropped
    roll_all(db, now + 60)
    prune_all(db, now, limits, budget=10_000)
    assert min(r[0] for r in stored(db, "samples")) >= ms(now - 3600)
    assert_rows(stored(db, "rollup_1m"), expected(points, MIN_MS))
    db.close()


def test_pruning_goes_in_budgeted_steps(tmp_path: Path) -> None:
    db = hdb.connect(tmp_path / "h.sqlite3")
    ids = metrics.SeriesIds()
    with db:
        for i in range(1000):
            samples = [Sample(f"m{k}", "x", float(i)) for k in range(10)]
            metrics.write_samples(db, ids, "c1", T0 + i, samples)
        metrics.move_recent(db, ms(T0 + 1060))  # as the writer does, once a minute
    now = T0 + 86_400
    roll_all(db, now)
    limits = HistoryLimits(raw_s=3600, minute_s=1e9, hour_s=1e9, max_bytes=2**62)
    counts = []
    while True:
        (before,) = db.execute("SELECT count(*) FROM raw_samples").fetchone()
        with db:
            more = metrics.prune(db, ms(now), limits, budget=700)
        (after,) = db.execute("SELECT count(*) FROM raw_samples").fetchone()
        counts.append(before - after)
        if not more:
            break
    assert all(c <= 700 for c in counts) and sum(counts) == 10_000
    assert len(counts) >= 10_000 // 700
    db.close()


def test_the_size_limit_drops_the_oldest_data_first(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite3"
    db = hdb.connect(path)
    ids = metrics.SeriesIds()
    start, days = T0, 2
    with db:
        for i in range(days * 2880):  # every 30 s
            t = start + 30 * i
            samples = [Sample(f"m{k}", "x", float((i * k) % 97)) for k in range(20)]
            metrics.write_samples(db, ids, "c1", t, samples)
    now = start + days * 86_400
    roll_all(db, now)
    tables = ("samples", "rollup_1m", "rollup_1h")
    before = {(tb, m): stored(db, tb, m) for tb in tables for m in ("m0", "m7", "m19")}
    full = hdb.stored_bytes(db)
    limit = full // 2
    calls = prune_all(db, now, dataclasses.replace(BIG, max_bytes=limit), budget=5000)

    assert calls > 1
    assert hdb.stored_bytes(db) <= limit
    (pages,) = db.execute("PRAGMA page_count").fetchone()
    (page_size,) = db.execute("PRAGMA page_size").fetchone()
    assert pages * page_size < full  # pages given back: the file shrinks
    oldest_kept: list[int] = []
    newest_dropped: list[int] = []
    for (table, m), rows in before.items():
        kept = stored(db, table, m)
        assert kept, (table, m)  # the newest data of every level stays
        assert kept == rows[len(rows) - len(kept) :], (table, m)  # a suffix: oldest went
        oldest_kept.append(kept[0][0])
        if len(kept) < len(rows):
            newest_dropped.append(rows[len(rows) - len(kept) - 1][0])
    assert newest_dropped  # something of each level went
    assert max(newest_dropped) < min(oldest_kept) + HOUR_MS  # oldest first, whatever the level
    assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    db.close()


# -- reading -------------------------------------------------------------------------------

DAY = 86_400.0


@pytest.mark.parametrize(
    ("span", "width", "resolution", "bucket_ms"),
    [
        (3600, 1500, Resolution.RAW, 2_400),
        (DAY, 1500, Resolution.MINUTE, 0),  # 1440 minutes: close enough to 1500
        (DAY, 2000, Resolution.MINUTE, 0),
        (DAY, 3000, Resolution.RAW, 28_800),  # minutes would be under half of it
        (7 * DAY, 1500, Resolution.MINUTE, 7 * MIN_MS),
        (30 * DAY, 1500, Resolution.MINUTE, 29 * MIN_MS),
        (30 * DAY, 1000, Resolution.HOUR, 0),  # 720 hours
        (365 * DAY, 1500, Resolution.HOUR, 6 * HOUR_MS),
    ],
    ids=["1h", "24h", "24h-2000", "24h-3000", "7d", "30d", "30d-1000", "1y"],
)
def test_plan_for_a_chart(span: float, width: int, resolution: Resolution, bucket_ms: int) -> None:
    now = T0 + 400 * DAY
    q = MetricsQuery("c1", now - span, now)
    p = metrics.plan(q, now, HistoryLimits(), max_points=width)
    assert (p.resolution, p.bucket_ms) == (resolution, bucket_ms)
    points = span * 1000 / max(p.bucket_ms, p.resolution.value * 1000)
    assert width / 2 <= points <= width  # between half and all of the width


@pytest.mark.parametrize(
    ("span", "ago", "step_s", "resolution", "bucket_ms"),
    [
        (3600, 0, None, Resolution.RAW, 0),  # an export: everything as kept
        (DAY, 0, None, Resolution.RAW, 0),
        (7 * DAY, 0, None, Resolution.MINUTE, 0),
        (30 * DAY, 0, None, Resolution.MINUTE, 0),
        (365 * DAY, 0, None, Resolution.HOUR, 0),
        (3600, 2 * DAY, None, Resolution.MINUTE, 0),  # raw samples are gone by then
        (3600, 40 * DAY, None, Resolution.HOUR, 0),
        (DAY, 0, 10, Resolution.RAW, 10_000),
        (DAY, 0, 300, Resolution.MINUTE, 5 * MIN_MS),
        (DAY, 0, 90, Resolution.MINUTE, 2 * MIN_MS),  # whole minutes per point
        (30 * DAY, 0, 60, Resolution.MINUTE, 0),
        (30 * DAY, 0, 3600, Resolution.HOUR, 0),
        (DAY, 0, 7200, Resolution.HOUR, 2 * HOUR_MS),
    ],
)
def test_plan_for_an_export(
    span: float, ago: float, step_s: float | None, resolution: Resolution, bucket_ms: int
) -> None:
    now = T0 + 400 * DAY
    q = MetricsQuery("c1", now - ago - span, now - ago, step_s=step_s)
    assert metrics.plan(q, now, HistoryLimits(), None) == metrics.Plan(resolution, bucket_ms)


def _two_members(db: sqlite3.Connection, points: list[tuple[float, float]]) -> None:
    ids = metrics.SeriesIds()
    with db:
        for t, v in points:
            metrics.write_samples(
                db,
                ids,
                "c1",
                t,
                [Sample("b", "x", v * 3), Sample("a", "x", v), Sample("a", "y", -v)],
            )


def test_recent_samples_move_into_samples_once_a_minute_and_read_the_same(
    tmp_path: Path,
) -> None:
    db = hdb.connect(tmp_path / "h.sqlite3")
    _two_members(db, [(T0 + i, float(i)) for i in range(30)])
    q = MetricsQuery("c1", T0, T0 + 30)
    before = metrics.read_series(db, q, T0 + 30, HistoryLimits())
    with db:
        assert metrics.move_recent(db, ms(T0 + 59)) == 0  # the oldest is not a minute old
        assert metrics.move_recent(db, ms(T0 + 60)) == 90
    assert db.execute("SELECT count(*) FROM recent").fetchone() == (0,)
    assert db.execute("SELECT count(*) FROM samples").fetchone() == (90,)
    after = metrics.read_series(db, q, T0 + 30, HistoryLimits())
    assert [(s.member, s.signal, s.ts.tolist(), s.last.tolist()) for s in after] == [
        (s.member, s.signal, s.ts.tolist(), s.last.tolist()) for s in before
    ]
    assert len(after) == 3 and all(len(s) == 30 for s in after)
    db.close()


def test_read_series_full_and_bucketed(tmp_path: Path) -> None:
    db = hdb.connect(tmp_path / "h.sqlite3")
    # An hour at 1 s with a 10-minute gap in the middle.
    points = [(T0 + i, float((i * 7919) % 1000) / 8) for i in range(3600) if not 1500 <= i < 2100]
    _two_members(db, points)
    now = T0 + 3600
    q = MetricsQuery("c1", T0, now, signals=("x",))

    full = metrics.read_series(db, q, now, HistoryLimits())
    assert [(s.member, s.signal, s.resolution, s.step_s) for s in full] == [
        ("a", "x", Resolution.RAW, 0.0),
        ("b", "x", Resolution.RAW, 0.0),
    ]
    a = full[0]
    assert a.ts.tolist() == [t for t, _ in points]
    assert a.avg.tolist() == a.min.tolist() == a.max.tolist() == a.last.tolist()
    assert a.avg.tolist() == [v for _, v in points]

    charted = metrics.read_series(db, q, now, HistoryLimits(), max_points=200)
    a, b = charted
    assert a.step_s == 18.0 and len(a) <= 201
    want = expected(points, 18_000)
    assert_rows(
        np.column_stack([a.ts * 1000, np.zeros(len(a)), a.min, a.avg, a.max, a.last]).tolist(),
        [(w[0], 0, *w[2:]) for w in want],
    )
    assert b.max.tolist() == [w[4] * 3 for w in want]

    # 100 points: minutes serve (60 points); none is rolled up yet, all are made now.
    a, _ = metrics.read_series(db, q, now, HistoryLimits(), max_points=100)
    assert (a.resolution, a.step_s) == (Resolution.MINUTE, 60.0)
    assert_rows(
        np.column_stack([a.ts * 1000, np.zeros(len(a)), a.min, a.avg, a.max, a.last]).tolist(),
        [(w[0], 0, *w[2:]) for w in expected(points, MIN_MS)],
    )

    # An older range reads the minute roll-ups, merged into 5-minute points.
    roll_all(db, now + 60)
    older = HistoryLimits(raw_s=600)
    q5 = MetricsQuery("c1", T0, now, signals=("x",), members=("a",), step_s=300)
    (m,) = metrics.read_series(db, q5, now, older)
    assert (m.resolution, m.step_s) == (Resolution.MINUTE, 300.0)
    want5 = expected(points, 300_000)
    assert m.ts.tolist() == [w[0] / 1000 for w in want5]
    assert m.min.tolist() == [w[2] for w in want5]
    assert m.avg.tolist() == pytest.approx([w[3] for w in want5], rel=1e-12)
    assert m.max.tolist() == [w[4] for w in want5]
    assert m.last.tolist() == [w[5] for w in want5]
    assert metrics.read_series(db, dataclasses.replace(q, cluster="other"), now, BIG) == []
    db.close()


@pytest.mark.parametrize("step_s", [60, 600, 3600, 7200])
def test_roll_ups_are_read_up_to_the_newest_sample(tmp_path: Path, step_s: int) -> None:
    db = hdb.connect(tmp_path / "h.sqlite3")
    points = [(T0 + 10 * i + 3, float((i * 31) % 53)) for i in range(3 * 360)]  # 3 hours
    _two_members(db, points)
    roll_all(db, T0 + 2.5 * 3600)  # minutes up to 2:29, hours up to 2:00
    now = T0 + 3 * 3600
    q = MetricsQuery("c1", T0, now, signals=("x",), members=("a",), step_s=step_s)
    (m,) = metrics.read_series(db, q, now, HistoryLimits())
    assert m.resolution is (Resolution.MINUTE if step_s < 3600 else Resolution.HOUR)
    # The same as if everything had been rolled up.
    want = expected(points, step_s * 1000)
    got = np.column_stack([m.ts * 1000, np.zeros(len(m)), m.min, m.avg, m.max, m.last])
    assert_rows(got.tolist(), [(w[0], 0, *w[2:]) for w in want])
    assert metrics.count_points(db, q, now, HistoryLimits()) >= len(want)
    exported = list(metrics.iter_points(db, q, now, HistoryLimits()))
    want_points = list(zip(m.ts.tolist(), m.avg.tolist(), strict=True))
    assert [(t, v) for t, _, _, v in exported] == want_points
    db.close()


def test_points_stream_in_order_without_duplicates(tmp_path: Path) -> None:
    db = hdb.connect(tmp_path / "h.sqlite3")
    points = [(T0 + 10 * i, float(i % 101)) for i in range(int(1.5 * DAY / 10))]
    _two_members(db, points)
    now = T0 + 1.5 * DAY
    limits = HistoryLimits(raw_s=3 * DAY)
    # 45 s points over a day and a half, from an instant that is not on a point's
    # boundary: the day-long chunks the stream reads in must not split a point.
    q = MetricsQuery("c1", T0 + 7, now, step_s=45, aggregate=Aggregate.MAX)
    got = list(metrics.iter_points(db, q, now, limits))
    keys = [(t, m, s) for t, m, s, _ in got]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)
    series = {(s.member, s.signal): s for s in metrics.read_series(db, q, now, limits)}
    for (m, s), ser in series.items():
        mine = [(t, v) for t, mm, ss, v in got if (mm, ss) == (m, s)]
        assert mine == list(zip(ser.ts.tolist(), ser.max.tolist(), strict=True))
    assert metrics.count_points(db, q, now, limits) == 2 * len(series[("a", "x")])

    raw = MetricsQuery("c1", T0, T0 + 100, members=("a",), aggregate=Aggregate.LAST)
    assert list(metrics.iter_points(db, raw, now, limits)) == [
        (t, "a", sig, v if sig == "x" else -v) for t, v in points[:11] for sig in ("x", "y")
    ]
    assert metrics.count_points(db, raw, now, limits) == 11
    db.close()


def test_round_trip_through_writer_and_reader(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite3"
    clock = Clock()
    clock.t = T0 + 600
    writer = HistoryWriter(path, clock=clock, batch_s=0.05, maintain_every_s=3600).start()
    m1 = _m(1, version="3.5.9", db_size=1000, peer_urls=("http://p1",), client_urls=("http://c1",))
    m2 = _m(2, version="3.5.9", db_size=2000)
    m3 = _m(3, version="3.5.10", db_size=3000)
    sweeps = [
        (T0 + 1, [m1, m2]),
        (T0 + 2, [m1, m2, m3]),  # m3 joins
        (T0 + 3, [dataclasses.replace(m1, version="3.5.10"), m3]),  # m2 leaves, m1 upgrades
    ]
    for t, members in sweeps:
        writer.add_snapshot(snap(t, members), "prod")
    run = BenchRunRecord(0, "c1", "prod", T0 + 5, "nightly", "put", 1234.5, 1.5, 9.0, 0, "PASS")
    writer.add_bench_run(dataclasses.replace(run, summary={"requests_per_s": 1234.5}))
    assert writer.flush()
    writer.close()

    reader = HistoryReader(path, clock=clock)
    try:
        (cluster,) = reader.clusters()
        assert (cluster.key, cluster.name, cluster.cluster_id) == ("c1", "prod", "7")
        assert (cluster.first_seen, cluster.last_seen) == (T0 + 1, T0 + 3)
        inventory = {m.member: m for m in reader.members("c1")}
        assert set(inventory) == {"1", "2", "3"}
        assert inventory["1"].version == "3.5.10" and inventory["1"].first_seen == T0 + 1
        assert inventory["1"].peer_urls == ("http://p1",)
        assert inventory["2"].last_seen == T0 + 2
        changes = [(e.at, e.member, e.change) for e in reader.member_events("c1")]
        assert changes == [
            (T0 + 2, "3", MemberChange.JOINED),
            (T0 + 3, "1", MemberChange.VERSION_CHANGED),
            (T0 + 3, "2", MemberChange.LEFT),
        ]
        (saved,) = reader.bench_runs("c1")
        assert saved.id > 0 and saved.summary == {"requests_per_s": 1234.5}
        assert dataclasses.replace(saved, id=0, summary={}) == run

        q = MetricsQuery("c1", T0, T0 + 10, signals=("db_size_bytes", "members"))
        got = {(s.member, s.signal): s.avg.tolist() for s in reader.series(q)}
        assert got == {
            (CLUSTER_WIDE, "members"): [2.0, 3.0, 2.0],
            ("1", "db_size_bytes"): [1000.0] * 3,
            ("2", "db_size_bytes"): [2000.0] * 2,
            ("3", "db_size_bytes"): [3000.0] * 2,
        }
        assert list(reader.points(dataclasses.replace(q, signals=("members",)))) == [
            (T0 + 1, CLUSTER_WIDE, "members", 2.0),
            (T0 + 2, CLUSTER_WIDE, "members", 3.0),
            (T0 + 3, CLUSTER_WIDE, "members", 2.0),
        ]
        assert reader.count_points(q) == 3 + 3 + 2 + 2
        assert reader.db_size_points("c1", T0) == [(T0, 3000.0, None)]
    finally:
        reader.close()
