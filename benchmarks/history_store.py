"""What the SQLite history costs: writing snapshots, reading charts, disk, exporting.

Prints a table of:

* insert cost per snapshot of a 5-member cluster on the writer thread: the writer's own
  code path (``HistoryWriter._write``: ``snapshot_samples``, ``write_samples``, the
  member inventory, one commit per batch), one snapshot per batch as with one cluster
  swept every second and ``batch_s`` = 1 s, and ten per batch (ten clusters, or a
  10 s ``batch_s``), the minute's move from ``recent`` into ``samples`` included; and
  what that writes to the WAL (pages per commit, bytes per snapshot and per day);
* roll-up and prune steps as the writer runs them between batches (the longest one:
  how long a batch may wait behind maintenance);
* query time (``HistoryReader.series``, a reader of its own) for 24 h of 1 s samples of
  one signal of 5 members: every sample, and at a chart's width (``max_points`` 3000,
  2000, 1000); 30 days of 1-minute roll-ups and a year of hours (every point, and
  2000 and 1500 wide); target <= 200 ms;
* database size per day of 1 s samples of a 3-member cluster, every signal: 2 h are
  written with lively values and rolled up, the bytes each table holds are measured
  (``dbstat``) and scaled to a day (extrapolated), and the file a full retention
  would come to (24 h raw + 30 days of minutes + a year of hours, also extrapolated);
* export time of 1 M CSV rows (``reports.export_metrics``: one row per time and member,
  a column per signal) to a file.

Synthetic data goes in through ``store.history.metrics`` in big transactions, its
timestamps made up. Usage: ``python benchmarks/history_store.py [--export-rows N]
[--keep DIR]``; about a minute or two.
"""

from __future__ import annotations

import argparse
import functools
import math
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from etcdmon_gui.model.history import HistoryLimits, MetricsQuery, Sample  # noqa: E402
from etcdmon_gui.model.metrics import MemberMetrics, Quantiles  # noqa: E402
from etcdmon_gui.model.snapshot import ClusterSnapshot, MemberStatus, Verdict  # noqa: E402
from etcdmon_gui.monitor.history_signals import snapshot_samples  # noqa: E402
from etcdmon_gui.reports import export_metrics  # noqa: E402
from etcdmon_gui.store.history import metrics  # noqa: E402
from etcdmon_gui.store.history.db import connect, stored_bytes  # noqa: E402
from etcdmon_gui.store.history.reader import HistoryReader  # noqa: E402
from etcdmon_gui.store.history.writer import HistoryWriter, _Snapshot  # noqa: E402

T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z, on the hour
DAY = 86_400
KEY = "profile:bench"
ROWS: list[tuple[str, str, str]] = []  # (what, figure, target / note)


def row(what: str, figure: str, note: str = "") -> None:
    ROWS.append((what, figure, note))
    print(f"  {what}: {figure} {note}".rstrip(), flush=True)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def median_time(fn: Callable[[], object], runs: int = 5) -> tuple[float, object]:
    times, result = [], None
    for _ in range(runs):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


# -- lively snapshots ------------------------------------------------------------------


def _quantiles(rng: random.Random, scale: float) -> Quantiles:
    p50 = rng.uniform(0.5, 1.5) * scale
    return Quantiles(p50, p50 * rng.uniform(1.5, 3), p50 * rng.uniform(3, 8))


def _member(i: int, t: float, rng: random.Random) -> MemberStatus:
    db_size = 50_000_000 + int(t - T0) * 1000 + i * 4096
    mm = MemberMetrics(
        window_s=1.0,
        wal_fsync=_quantiles(rng, 0.002),
        backend_commit=_quantiles(rng, 0.004),
        peer_rtt=_quantiles(rng, 0.0005),
        peer_rtt_by_peer={},
        proposals_committed_per_s=rng.uniform(100, 400),
        proposals_applied_per_s=rng.uniform(100, 400),
        proposals_pending=float(rng.randint(0, 3)),
        proposals_failed_per_s=0.0,
        has_leader=True,
        is_leader=i == 1,
        leader_changes_total=2.0,
        db_total_bytes=float(db_size),
        db_in_use_bytes=db_size * 0.8,
        quota_bytes=2.0 * 1024**3,
        grpc_requests_per_s={"Range": 300.0},
        grpc_requests_total_per_s=rng.uniform(200, 600),
        grpc_failure_ratio=rng.uniform(0, 0.001),
        rss_bytes=float(200_000_000 + rng.randint(0, 10_000_000)),
        peer_sent_failures_per_s=0.0,
        heartbeat_send_failures_per_s=0.0,
    )
    index = 1_000_000 + int((t - T0) * 300)
    return MemberStatus(
        id=0x8E9E05C52164694D + i,
        name=f"etcd-{i}",
        endpoint=f"https://10.0.0.{i}:2379",
        peer_urls=(f"https://10.0.0.{i}:2380",),
        client_urls=(f"https://10.0.0.{i}:2379",),
        cluster_id=0xCDF818194E3A8C32,
        reachable=True,
        version="3.5.17",
        db_size=db_size,
        db_size_in_use=int(db_size * 0.8),
        leader_id=0x8E9E05C52164694D + 1,
        raft_term=7,
        raft_index=index,
        raft_applied_index=index - rng.randint(0, 2),
        rtt_ms=rng.uniform(0.3, 2.0),
        raft_lag=rng.randint(0, 2),
        probe_ms=rng.uniform(0.8, 4.0),
        probe_quantiles=_quantiles(rng, 0.002),
        metrics=mm,
    )


def lively_snapshot(n: int, t: float, rng: random.Random) -> ClusterSnapshot:
    members = tuple(_member(i, t, rng) for i in range(1, n + 1))
    return ClusterSnapshot(
        key=KEY,
        taken_at=t + rng.uniform(0, 0.02),
        duration_s=rng.uniform(0.003, 0.012),
        cluster_id=0xCDF818194E3A8C32,
        cluster_ids=(0xCDF818194E3A8C32,),
        members=members,
        leader_id=members[0].id,
        leader_changes=0,
        leader_changes_seen_total=2.0,
        voters=n,
        reachable_voters=n,
        quorum_size=n // 2 + 1,
        has_quorum=True,
        split_brain=False,
        split_brain_reason=None,
        max_raft_index_lag=2,
        learners=(),
        alarms=(),
        verdict=Verdict.HEALTHY,
        reasons=(),
    )


# -- synthetic data, fast --------------------------------------------------------------


def fill(
    db: sqlite3.Connection,
    times: Iterator[float],
    members: list[str],
    signals: list[str],
    value: Callable[[float, int], float],
    per_tx: int = 20_000,
) -> int:
    """Samples of ``signals`` of ``members`` at ``times`` through ``write_samples``,
    ``per_tx`` instants per transaction; how many samples."""
    ids = metrics.SeriesIds()
    n = 0
    pending = 0
    db.execute("BEGIN")
    for t in times:
        samples = [
            Sample(m, s, value(t, k))
            for k, (m, s) in enumerate((m, s) for m in members for s in signals)
        ]
        metrics.write_samples(db, ids, KEY, t, samples)
        n += len(samples)
        pending += 1
        if pending >= per_tx:
            metrics.move_recent(db, metrics.to_ms(t) + metrics.MOVE_AFTER_MS)
            db.commit()
            db.execute("BEGIN")
            pending = 0
    metrics.move_recent(db, 2**62)
    db.commit()
    return n


def roll_everything(db: sqlite3.Connection, now: float) -> None:
    while True:
        with db:
            if not metrics.roll_up(db, metrics.to_ms(now), span_ms=6 * 3_600_000):
                return


def wave(t: float, k: int) -> float:
    return 2.0 + math.sin((t + 37 * k) / 300.0) + 0.1 * ((int(t) * 7919 + k) % 97) / 97


# -- the figures -----------------------------------------------------------------------


def bench_inserts(folder: Path, snapshots: int) -> None:
    print("insert cost (writer thread code path, 5 members):")
    rng = random.Random(1)
    snaps = [lively_snapshot(5, T0 + i, rng) for i in range(snapshots)]
    per_snapshot = len(snapshot_samples(snaps[0]))
    for per_batch in (1, 10):
        path = folder / f"insert{per_batch}.sqlite3"
        writer = HistoryWriter(path)  # not started: its _write runs here, as on its thread
        db = connect(path)
        writer._write(db, [_Snapshot(snaps[0], "bench")])
        t0 = time.perf_counter()
        cpu0 = time.process_time()
        moved_at = snaps[0].taken_at
        for i in range(1, snapshots, per_batch):
            batch: list[object] = [_Snapshot(s, "bench") for s in snaps[i : i + per_batch]]
            writer._write(db, batch)
            now = snaps[min(i + per_batch, snapshots) - 1].taken_at
            if now - moved_at >= 60:  # as the writer's maintenance does, once a minute
                with db:
                    metrics.move_recent(db, metrics.to_ms(now))
                moved_at = now
        wall = (time.perf_counter() - t0) / (snapshots - 1)
        cpu = (time.process_time() - cpu0) / (snapshots - 1)
        row(
            f"insert, {per_batch} snapshot(s) per batch",
            f"{wall * 1e6:.0f} µs/snapshot wall, {cpu * 1e6:.0f} µs CPU",
            f"({per_snapshot} samples each; {per_snapshot / wall / 1000:.0f} k samples/s)",
        )
        # What the disk sees: each commit appends to ``recent`` (its last pages), and once
        # a minute the writer's maintenance moves those rows into ``samples`` (every
        # series' newest page, once). Both counted, as WAL frames, over 240 s of sweeps.
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        db.execute("PRAGMA wal_autocheckpoint = 0")
        commits = 0
        moved_at = snaps[0].taken_at
        for i in range(1, min(snapshots, 241), per_batch):
            extra: list[object] = [_Snapshot(s, "bench") for s in snaps[i : i + per_batch]]
            writer._write(db, extra)
            commits += 1
            now = snaps[min(i + per_batch, snapshots) - 1].taken_at
            if now - moved_at >= 60:
                with db:
                    metrics.move_recent(db, metrics.to_ms(now))
                moved_at = now
        (_, frames, _) = db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        (page,) = db.execute("PRAGMA page_size").fetchone()
        swept = commits * per_batch
        row(
            f"WAL written, {per_batch} snapshot(s) per batch, moves included",
            f"{frames / commits:.1f} pages per commit",
            f"({frames * page / swept / 1024:.0f} KiB per snapshot, "
            f"{frames * page / swept * 86_400 / 1e9:.1f} GB a day at one sweep a second)",
        )
        db.close()

    # Maintenance between batches: the longest roll-up and prune steps.
    path = folder / "insert1.sqlite3"
    db = connect(path)
    now = metrics.to_ms(T0 + snapshots + 120)
    steps = []
    more = True
    while more:
        t0 = time.perf_counter()
        with db:
            more = metrics.roll_up(db, now)
        steps.append(time.perf_counter() - t0)
    row(
        "roll-up step (1 h of a 5-member cluster per step)",
        f"{ms(max(steps))} longest",
        f"({len(steps)} steps, {snapshots} s of samples)",
    )
    limits = HistoryLimits(raw_s=60, minute_s=1e9, hour_s=1e9)
    steps = []
    more = True
    while more:
        t0 = time.perf_counter()
        with db:
            more = metrics.prune(db, now, limits)
        steps.append(time.perf_counter() - t0)
    row(
        "prune step (budget 20 000 rows)",
        f"{ms(max(steps))} longest",
        f"({len(steps)} steps to drop {snapshots} s of raw samples)",
    )
    db.close()


def time_queries(
    path: Path, now: float, span: float, signal: str, widths: list[int | None]
) -> None:
    """``HistoryReader.series`` of ``signal`` over the ``span`` before ``now``: every
    point, or at a chart's width; median of 5 on a reader of its own."""
    reader = HistoryReader(path, clock=lambda: now)
    q = MetricsQuery(KEY, now - span, now, signals=(signal,))
    name = f"{span / DAY:g} d" if span < 365 * DAY else "1 y"
    for width in widths:
        took, result = median_time(functools.partial(reader.series, q, max_points=width))
        series = result if isinstance(result, list) else []
        points = sum(len(s) for s in series)
        res = series[0].resolution.label if series else "-"
        what = "every point" if width is None else f"{width} px wide"
        row(f"query {name}, {what}", ms(took), f"({points:,} points from {res})")
    reader.close()


def bench_day_queries(folder: Path) -> None:
    print("24 h of 1 s samples, one signal, 5 members (target <= 200 ms):")
    path = folder / "day.sqlite3"
    db = connect(path)
    members = [f"{0x8E9E05C52164694D + i:x}" for i in range(5)]
    t0 = time.perf_counter()
    n = fill(db, (T0 + i for i in range(DAY)), members, ["wal_fsync_p99_ms"], wave)
    roll_everything(db, T0 + DAY + 60)
    db.close()
    print(f"  (wrote {n:,} samples and rolled them up in {time.perf_counter() - t0:.1f} s)")
    time_queries(path, T0 + DAY, DAY, "wal_fsync_p99_ms", [None, 3000, 2000, 1000])


def bench_month_queries(folder: Path) -> None:
    print("30 days of 1-minute roll-ups, a year of hours, one signal, 5 members:")
    members = [f"{0x8E9E05C52164694D + i:x}" for i in range(5)]
    for span, step in ((30 * DAY, 60), (365 * DAY, 3600)):
        path = folder / f"rollups-{span // DAY}d.sqlite3"
        db = connect(path)
        fill(db, (T0 + i * step for i in range(span // step)), members, ["db_size_bytes"], wave)
        roll_everything(db, T0 + span + 3600)
        while True:  # raw samples older than a day are gone, as the writer prunes them
            with db:
                if not metrics.prune(db, metrics.to_ms(T0 + span), HistoryLimits()):
                    break
        db.close()
        time_queries(path, T0 + span, span, "db_size_bytes", [None, 2000, 1500])


def bench_size(folder: Path, hours: int) -> None:
    print(f"size, 3-member cluster, every signal, {hours} h of 1 s samples:")
    path = folder / "size.sqlite3"
    rng = random.Random(2)
    writer = HistoryWriter(path)
    db = connect(path)
    base = stored_bytes(db)
    seconds = hours * 3600
    batch: list[object] = []
    for i in range(seconds):
        batch.append(_Snapshot(lively_snapshot(3, T0 + i, rng), "bench"))
        if len(batch) == 60:  # a minute, then its move into samples, as the writer does
            writer._write(db, batch)
            with db:
                metrics.move_recent(db, metrics.to_ms(T0 + i) + metrics.MOVE_AFTER_MS)
            batch = []
    if batch:
        writer._write(db, batch)
    with db:
        metrics.move_recent(db, 2**62)
    roll_everything(db, T0 + seconds + 60)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    sizes = dict(
        db.execute(
            "SELECT name, sum(pgsize) FROM dbstat WHERE name IN ('samples', 'rollup_1m',"
            " 'rollup_1h') GROUP BY name"
        ).fetchall()
    )
    (raw_rows,) = db.execute("SELECT count(*) FROM raw_samples").fetchone()
    (series,) = db.execute("SELECT count(*) FROM series").fetchone()
    total = stored_bytes(db) - base
    db.close()
    scale = DAY / seconds
    raw_day = sizes["samples"] * scale
    minute_day = sizes["rollup_1m"] * scale
    hour_day = sizes["rollup_1h"] * scale
    row(
        "stored, measured",
        f"{total / 1e6:.1f} MB for {hours} h",
        f"({raw_rows:,} samples of {series} series, {sizes['samples'] / raw_rows:.1f} B each)",
    )
    row(
        "per day of 1 s samples (extrapolated)",
        f"{(raw_day + minute_day + hour_day) / 1e6:.0f} MB",
        f"(raw {raw_day / 1e6:.0f} MB, 1m {minute_day / 1e6:.1f} MB, 1h {hour_day / 1e6:.2f} MB)",
    )
    steady = raw_day + 30 * minute_day + 365 * hour_day
    row(
        "full retention: 24 h raw + 30 d of 1m + 1 y of 1h (extrapolated)",
        f"{steady / 1e6:.0f} MB",
        "(default size limit 2 GiB)",
    )


def bench_export(folder: Path, rows_wanted: int) -> None:
    print(f"export of {rows_wanted:,} CSV rows (5 members + the cluster row per second):")
    path = folder / "export.sqlite3"
    db = connect(path)
    members = [f"{0x8E9E05C52164694D + i:x}" for i in range(5)]
    member_signals = ["db_size_bytes", "wal_fsync_p99_ms", "backend_commit_p99_ms", "probe_ms"]
    seconds = rows_wanted // 6 + 1
    t0 = time.perf_counter()
    fill(db, (T0 + i for i in range(seconds)), members, member_signals, wave)
    fill(db, (T0 + i for i in range(seconds)), [""], ["verdict", "sweep_ms"], wave)
    db.close()
    print(f"  (wrote {seconds:,} s of samples in {time.perf_counter() - t0:.1f} s)")
    now = T0 + seconds
    limits = HistoryLimits(raw_s=seconds + 60)  # all of it as raw samples
    reader = HistoryReader(path, limits=limits, clock=lambda: now)
    q = MetricsQuery(KEY, T0, now)
    t0 = time.perf_counter()
    points = sum(1 for _ in reader.points(q))
    reading = time.perf_counter() - t0
    out_path = folder / "export.csv"
    t0 = time.perf_counter()
    with out_path.open("w", newline="", encoding="utf-8") as out:
        written = export_metrics(reader, q, out, cluster_name="bench")
    took = time.perf_counter() - t0
    reader.close()
    row(
        f"export {written:,} rows x {len(member_signals) + 2} signal columns",
        f"{took:.1f} s",
        f"({written / took / 1000:.0f} k rows/s, {out_path.stat().st_size / 1e6:.0f} MB CSV)",
    )
    row(f"  of which reading its {points:,} points (HistoryReader.points)", f"{reading:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--snapshots", type=int, default=3600, help="for the insert cost")
    parser.add_argument("--size-hours", type=int, default=2, help="of 1 s samples, for size")
    parser.add_argument("--export-rows", type=int, default=1_000_000)
    parser.add_argument("--keep", type=Path, help="leave the files in this folder")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="history-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"SQLite {sqlite3.sqlite_version}, files in {folder}")
    try:
        bench_inserts(folder, args.snapshots)
        bench_day_queries(folder)
        bench_month_queries(folder)
        bench_size(folder, args.size_hours)
        bench_export(folder, args.export_rows)
    finally:
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)
    width = max(len(w) for w, _, _ in ROWS)
    fig = max(len(f) for _, f, _ in ROWS)
    print()
    for what, figure, note in ROWS:
        print(f"{what:<{width}}  {figure:>{fig}}  {note}")


if __name__ == "__main__":
    main()
