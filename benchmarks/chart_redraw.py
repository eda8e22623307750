"""Redraw cost of the live charts with full buffers: 24 h of 1 s samples, 5 members.

Fills a ``ChartsWidget`` (shown offscreen at 1400x900) through ``add_snapshot`` with
86,400 snapshots of 5 members each (every series of every member gets a point per
second: 7 plots, 8 curves per member with the quota line), then, per time window
(5 m, 1 h, 24 h), appends one more snapshot (the view scrolls, as when following live)
and times a forced redraw, bypassing the 10 Hz timer:

* ``update``: ``ChartsWidget.redraw(force=True)``: buffer range queries, ``setData`` on
  every curve (pyqtgraph clips to the view and peak-downsamples), y ranges;
* ``update+paint``: the same plus a synchronous repaint of the plots, i.e. what one
  frame costs the GUI thread.

Prints median and p95 per window, the fill rate, and the process RSS (psutil) before the
widget exists, with the widget empty, and with the buffers full.

Usage: ``python benchmarks/chart_redraw.py [--runs N] [--members N] [--hours H]``.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import random
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import psutil
from PySide6.QtCore import QObject
from PySide6.QtWidgets import QApplication

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from etcdmon_gui.model.metrics import MemberMetrics, Quantiles  # noqa: E402
from etcdmon_gui.model.snapshot import ClusterSnapshot, MemberStatus, Verdict  # noqa: E402
from etcdmon_gui.ui.charts_widget import PLOT_KEYS, ChartsWidget  # noqa: E402

WINDOWS = (("5 m", 300), ("1 h", 3600), ("24 h", 86_400))
POOL = 997  # distinct samples per member, cycled (a prime, so members do not align)


def member_pool(index: int, rng: random.Random) -> list[MemberStatus]:
    """Plausible, varying samples of one healthy member (about 1 in 200 unreachable)."""
    samples = []
    db = 40e6 + index * 1e6
    for i in range(POOL):
        wal = 0.002 * (1 + 0.4 * math.sin(i / 60 + index)) * (1 + 0.3 * rng.random())
        db += rng.uniform(0, 5e3)
        metrics = MemberMetrics(
            window_s=1.0,
            wal_fsync=Quantiles(wal / 3, wal / 1.5, wal),
            backend_commit=Quantiles(wal / 5, wal / 3, wal / 2),
            peer_rtt=Quantiles(3e-4, 6e-4, 8e-4 * (1 + rng.random())),
            peer_rtt_by_peer={},
            proposals_committed_per_s=150 + 50 * math.sin(i / 90) + rng.uniform(-10, 10),
            proposals_applied_per_s=None,
            proposals_pending=0.0,
            proposals_failed_per_s=0.0,
            has_leader=True,
            is_leader=index == 0,
            leader_changes_total=1.0,
            db_total_bytes=db,
            db_in_use_bytes=db,
            quota_bytes=2 * 1024**3,
            grpc_requests_per_s={},
            grpc_requests_total_per_s=(1200 if index == 0 else 600) + rng.uniform(-80, 80),
            grpc_failure_ratio=0.0,
            rss_bytes=None,
        )
        reachable = rng.random() > 0.005
        probe = 0.0015 * (1 + 0.5 * rng.random())
        samples.append(
            MemberStatus(
                id=0x1000 + index,
                name=f"etcd-{index + 1}",
                endpoint=f"https://10.0.0.{index + 1}:2379",
                peer_urls=(),
                client_urls=(),
                cluster_id=1,
                reachable=reachable,
                db_size=int(db) if reachable else None,
                probe_ms=probe * 1e3 if reachable else None,
                probe_quantiles=Quantiles(probe, probe * 1.5, probe * 2) if reachable else None,
                metrics=metrics if reachable else None,
            )
        )
    return samples


def template(members: tuple[MemberStatus, ...]) -> ClusterSnapshot:
    return ClusterSnapshot(
        key="bench",
        taken_at=0.0,
        duration_s=0.02,
        cluster_id=1,
        cluster_ids=(1,),
        members=members,
        leader_id=members[0].id,
        leader_changes=0,
        leader_changes_seen_total=1.0,
        voters=len(members),
        reachable_voters=len(members),
        quorum_size=len(members) // 2 + 1,
        has_quorum=True,
        split_brain=False,
        split_brain_reason=None,
        max_raft_index_lag=0,
        learners=(),
        alarms=(),
        verdict=Verdict.HEALTHY,
        reasons=(),
    )


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def rss_mb() -> float:
    return float(psutil.Process().memory_info().rss) / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=60, help="timed redraws per window")
    parser.add_argument("--members", type=int, default=5)
    parser.add_argument("--hours", type=float, default=24.0, help="history to fill")
    args = parser.parse_args()

    app = QApplication.instance() or QApplication([])
    rng = random.Random(42)
    pools = [member_pool(i, rng) for i in range(args.members)]
    base = template(tuple(pool[0] for pool in pools))
    rss_start = rss_mb()

    widget = ChartsWidget()
    widget.resize(1400, 900)
    widget.show()
    app.processEvents()
    rss_empty = rss_mb()

    samples = int(args.hours * 3600)
    t0 = time.time() - samples
    fill_start = time.perf_counter()
    for i in range(samples):
        members = tuple(pool[(i + k * 7) % POOL] for k, pool in enumerate(pools))
        widget.add_snapshot(dataclasses.replace(base, taken_at=t0 + i, members=members))
    fill_s = time.perf_counter() - fill_start
    rss_full = rss_mb()

    print(
        f"Python {sys.version.split()[0]}, pyqtgraph {__import__('pyqtgraph').__version__}, "
        f"PySide6 {__import__('PySide6').__version__}, QPA {app.platformName()}, "
        f"widget {widget.width()}x{widget.height()}"
    )
    curves = sum(len(widget.plot(key).listDataItems()) for key in PLOT_KEYS)
    print(
        f"{len(PLOT_KEYS)} plots, {curves} curves ({curves // args.members} per member: 7 "
        "metrics + the dashed quota), every curve holding one point per second"
    )
    print(
        f"filled {samples:,} snapshots x {args.members} members in {fill_s:.1f} s "
        f"({fill_s / samples * 1e6:.0f} us per add_snapshot, snapshot building included); "
        f"{widget.point_count():,} member samples"
    )
    print(
        f"RSS: {rss_start:.0f} MB before the widget, {rss_empty:.0f} MB empty, "
        f"{rss_full:.0f} MB with {args.hours:g} h buffered "
        f"(+{rss_full - rss_empty:.0f} MB)"
    )
    print(f"{'window':>6}  {'update med':>10} {'p95':>7}  {'update+paint med':>16} {'p95':>7}  ms")
    viewport = widget.findChild(QObject, "chartsView").viewport()  # type: ignore[union-attr]
    extra = samples
    for label, seconds in WINDOWS:
        widget.set_time_window(seconds)
        widget.redraw(force=True)
        viewport.repaint()
        updates: list[float] = []
        frames: list[float] = []
        for _ in range(args.runs):
            members = tuple(pool[(extra + k * 7) % POOL] for k, pool in enumerate(pools))
            widget.add_snapshot(dataclasses.replace(base, taken_at=t0 + extra, members=members))
            extra += 1
            start = time.perf_counter()
            widget.redraw(force=True)
            updated = time.perf_counter()
            viewport.repaint()
            painted = time.perf_counter()
            updates.append((updated - start) * 1e3)
            frames.append((painted - start) * 1e3)
        print(
            f"{label:>6}  {statistics.median(updates):10.2f} {percentile(updates, 0.95):7.2f}  "
            f"{statistics.median(frames):16.2f} {percentile(frames, 0.95):7.2f}"
        )
    widget.grab().save(str(Path(os.environ.get("TMPDIR", "/tmp")) / "chart_redraw_24h.png"))

    # A shown pyqtgraph widget still alive at interpreter exit crashes PySide6's teardown.
    widget.close()
    widget.deleteLater()
    del widget
    app.processEvents()


if __name__ == "__main__":
    main()
