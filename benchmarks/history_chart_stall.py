"""GUI event-loop stall while the charts load a long range from the history.

Fills a temporary history file with 30 days of 1-minute roll-ups (and their hours) of
every chart signal of a 5-member cluster, written as rows straight into the roll-up
tables (numpy + executemany: the store's own ``combine`` makes the hours), then shows
a ``ChartsWidget`` (1400x900, offscreen) fed 10 minutes of live snapshots and wired as
``app.py`` wires it: ``historyRequested`` -> ``ChartHistoryLoader`` -> a job in the
``HistoryHandle``'s reader thread -> ``show_history``. For each range (30 d, 7 d, and a
1-day zoom 10 days back), it asks for the range and measures, with a 1 ms timer in the
GUI thread, the longest gap between its ticks from the request until 250 ms after the
redraw that shows the answer, split in three phases: the click's own frame (the new
range drawn with what is there), the wait for the reader thread, and the answer's frame
(``show_history``, the redraw, the repaint). Between two loads another range is loaded,
so none is covered already. An idle second is measured first, as the baseline of the
timer's own jitter, and a window switch drawn from the live buffers alone last, as the
cost of any frame that redraws every plot.

Target: GUI event-loop stall while a 30-day range loads < 50 ms.

Usage: ``python benchmarks/history_chart_stall.py [--runs N] [--keep DIR]``; the fill
takes about half a minute.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
from PySide6.QtCore import QEventLoop, QObject, Qt, QTimer
from PySide6.QtWidgets import QApplication

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from etcdmon_gui.model.history import MemberRecord, MemberRole  # noqa: E402
from etcdmon_gui.model.metrics import MemberMetrics, Quantiles  # noqa: E402
from etcdmon_gui.model.snapshot import ClusterSnapshot, MemberStatus, Verdict  # noqa: E402
from etcdmon_gui.store.history import metrics  # noqa: E402
from etcdmon_gui.store.history.db import connect  # noqa: E402
from etcdmon_gui.ui.chart_definitions import HISTORY_SIGNALS  # noqa: E402
from etcdmon_gui.ui.charts_widget import ChartsWidget  # noqa: E402
from etcdmon_gui.workers.chart_history import ChartHistoryLoader  # noqa: E402
from etcdmon_gui.workers.history_worker import HistoryHandle  # noqa: E402

KEY = "profile:stall"
DAY = 86_400
MEMBER_IDS = (0x8E9E05C52164694D, 0x91BC3C398FB3C146, 0xFD422379FDA50E48, 0x1A2B3C4D, 0x5E6F7A8B)
QUOTA = 2 * 1024**3


def signal_values(signal: str, t: np.ndarray, index: int, rng: np.random.Generator) -> np.ndarray:
    """Plausible per-minute averages of one signal of member ``index`` at times ``t``."""
    day = np.sin(2 * math.pi * (t / DAY) + index)
    noise = rng.random(len(t))
    if signal == "db_size_bytes":  # grows ~15 MB a day to 500 MB, and in 6 h sawteeth
        return db_size(t, index) - (t[-1] - t) * 170.0
    if signal == "quota_bytes":
        return np.full(len(t), float(QUOTA))
    if signal.endswith("_per_s"):
        return 400 + 150 * day + 80 * noise + 30 * index
    scale = {"probe": 1.5, "wal": 3.0, "bac": 1.2, "pee": 0.6}.get(signal[:3], 1.0)
    if signal.startswith("probe_p5"):
        scale *= 0.5
    return scale * (1 + 0.3 * day + 0.5 * noise**4) * (1 + 0.1 * index)


def fill(path: Path, now: float, days: int = 30) -> int:
    """``days`` of minute roll-ups (n = 12 samples each) and their hours, of every
    chart signal of the 5 members, ending at ``now``; the rows written."""
    rng = np.random.default_rng(7)
    db = connect(path)
    ids = metrics.SeriesIds()
    end_ms = metrics.to_ms(now) // metrics.MINUTE_MS * metrics.MINUTE_MS
    start_ms = end_ms - days * metrics.DAY_MS
    ts = np.arange(start_ms, end_ms, metrics.MINUTE_MS, dtype=np.float64)
    rows = 0
    with db:
        metrics.note_cluster(db, KEY, "stall", "cdf818194e3a8c32", now)
        for index, member_id in enumerate(MEMBER_IDS):
            member = f"{member_id:x}"
            for signal in HISTORY_SIGNALS:
                sid = ids.get(db, KEY, member, signal)
                avg = signal_values(signal, ts / 1000, index, rng)
                spread = 0.2 * np.abs(avg) * rng.random(len(ts))
                minute = np.column_stack(
                    (ts, np.full(len(ts), 12.0), avg - spread, avg, avg + spread, avg)
                )
                hour = metrics.combine(minute, metrics.HOUR_MS)
                for table, data in (("rollup_1m", minute), ("rollup_1h", hour)):
                    db.executemany(
                        f"INSERT OR REPLACE INTO {table} (series, ts, n, min, avg, max, last)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?)",
                        [(sid, int(r[0]), int(r[1]), *r[2:]) for r in data.tolist()],
                    )
                    rows += len(data)
        db.execute(
            "INSERT OR REPLACE INTO rollup_done (step_s, until_ms) VALUES (60, ?), (3600, ?)",
            (end_ms, end_ms // metrics.HOUR_MS * metrics.HOUR_MS),
        )
        metrics.save_members(
            db,
            [
                MemberRecord(
                    KEY, f"{i:x}", f"etcd-{n}", (), (), "3.5.17", MemberRole.FOLLOWER, None, 0, now
                )
                for n, i in enumerate(MEMBER_IDS, start=1)
            ],
            [],
        )
    db.close()
    return rows


def db_size(t: np.ndarray | float, index: int) -> np.ndarray | float:
    """500 MB, a member 2 MB more than the one before, and 6-hour sawteeth of 8.6 MB."""
    return 500e6 + (t % (6 * 3600)) * 400 + index * 2e6


def live_member(index: int, t: float) -> MemberStatus:
    s = 0.002 * (1 + 0.3 * math.sin(t / 60 + index))
    mm = MemberMetrics(
        window_s=1.0,
        wal_fsync=Quantiles(s / 3, s / 2, s),
        backend_commit=Quantiles(s / 5, s / 3, s / 2),
        peer_rtt=Quantiles(3e-4, 5e-4, 6e-4),
        peer_rtt_by_peer={},
        proposals_committed_per_s=400.0,
        proposals_applied_per_s=400.0,
        proposals_pending=0.0,
        proposals_failed_per_s=0.0,
        has_leader=True,
        is_leader=index == 0,
        leader_changes_total=1.0,
        db_total_bytes=500e6,
        db_in_use_bytes=400e6,
        quota_bytes=float(QUOTA),
        grpc_requests_per_s={},
        grpc_requests_total_per_s=500.0,
        grpc_failure_ratio=0.0,
        rss_bytes=None,
    )
    return MemberStatus(
        id=MEMBER_IDS[index],
        name=f"etcd-{index + 1}",
        endpoint=f"http://127.0.0.1:{2379 + 10 * index}",
        peer_urls=(),
        client_urls=(),
        cluster_id=1,
        reachable=True,
        db_size=int(db_size(t, index)),
        probe_ms=1.5,
        probe_quantiles=Quantiles(7e-4, 1.2e-3, 1.6e-3),
        metrics=mm,
    )


def live_snapshot(t: float) -> ClusterSnapshot:
    members = tuple(live_member(i, t) for i in range(len(MEMBER_IDS)))
    return ClusterSnapshot(
        key=KEY,
        taken_at=t,
        duration_s=0.01,
        cluster_id=1,
        cluster_ids=(1,),
        members=members,
        leader_id=members[0].id,
        leader_changes=0,
        leader_changes_seen_total=1.0,
        voters=len(members),
        reachable_voters=len(members),
        quorum_size=3,
        has_quorum=True,
        split_brain=False,
        split_brain_reason=None,
        max_raft_index_lag=0,
        learners=(),
        alarms=(),
        verdict=Verdict.HEALTHY,
        reasons=(),
    )


class StallMeter(QObject):
    """A 1 ms timer in the GUI thread: each gap between its ticks (ms), with the time
    the gap ended (``time.perf_counter``)."""

    def __init__(self) -> None:
        super().__init__()
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(1)
        self._timer.timeout.connect(self._tick)
        self._last = 0.0
        self.gaps: list[tuple[float, float]] = []  # (ended at, gap in ms)

    def start(self) -> None:
        self.gaps.clear()
        self._last = time.perf_counter()
        self._timer.start()

    def stop(self) -> float:
        self._timer.stop()
        self._tick()
        return self.longest()

    def longest(self, since: float = 0.0, until: float = math.inf) -> float:
        """The longest gap that ended in ``since``..``until``."""
        return max((g for t, g in self.gaps if since <= t <= until), default=0.0)

    def _tick(self) -> None:
        now = time.perf_counter()
        self.gaps.append((now, (now - self._last) * 1000))
        self._last = now


def run_until(qapp: QApplication, done: Callable[[], bool], timeout_s: float = 60.0) -> None:
    deadline = time.perf_counter() + timeout_s
    while not done():
        if time.perf_counter() > deadline:
            raise TimeoutError("no answer from the history")
        qapp.processEvents(QEventLoop.ProcessEventsFlag.WaitForMoreEvents, 50)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep", type=Path, help="keep the filled history in this directory")
    args = parser.parse_args()
    qapp = QApplication.instance() or QApplication([])
    assert isinstance(qapp, QApplication)
    tmp = Path(tempfile.mkdtemp(prefix="etcdmon-stall-"))
    path = tmp / "history.sqlite3"
    now = time.time()
    t0 = time.perf_counter()
    rows = fill(path, now - 600)
    print(
        f"filled {rows:,} roll-up rows ({len(MEMBER_IDS)} members x {len(HISTORY_SIGNALS)} "
        f"signals, 30 days) in {time.perf_counter() - t0:.1f} s, "
        f"{path.stat().st_size / 1e6:.0f} MB"
    )

    history = HistoryHandle(path)
    history.start()
    loader = ChartHistoryLoader(history, HISTORY_SIGNALS)
    charts = ChartsWidget()
    charts.resize(1400, 900)
    charts.show()
    charts.historyRequested.connect(
        lambda rid, start, end, points: loader.request(KEY, rid, start, end, points)
    )
    loader.loaded.connect(lambda _k, rid, r: timed_show(rid, r))
    shown: list[float] = []

    answers: list[float] = []

    def timed_show(rid: int, result: object) -> None:
        started = time.perf_counter()
        answers.append(started)
        charts.show_history(rid, result.series, result.names)  # type: ignore[attr-defined]
        shown.append((time.perf_counter() - started) * 1000)

    for i in range(600):  # 10 minutes of live data, one sweep a second
        charts.add_snapshot(live_snapshot(now - 600 + i))
    charts.redraw(force=True)
    charts.set_history_available(True)
    run_until(qapp, lambda: not charts.is_loading())  # the first window's own request
    meter = StallMeter()
    meter.start()
    idle_loop = QEventLoop()  # not qapp.quit(): that closes the windows
    QTimer.singleShot(1000, idle_loop.quit)
    idle_loop.exec()
    idle = meter.stop()
    print(f"idle: longest gap between 1 ms ticks {idle:.1f} ms (the timer's own jitter)")

    drawn: list[bool] = []  # set by the first redraw after the answer

    def on_redrawn() -> None:
        if shown:
            drawn.append(True)

    def settle(ms: int) -> None:
        loop = QEventLoop()
        QTimer.singleShot(ms, loop.quit)
        loop.exec()

    def measure(name: str, ask: Callable[[], None], reset: Callable[[], None]) -> None:
        """Phases of one load: the click's own frame (the first 250 ms: the new range
        drawn with what is there, "loading…"), the wait for the reader thread, and the
        answer (``show_history``, the redraw, the repaint after it: 250 ms)."""
        phases: dict[str, list[float]] = {"all": [], "click": [], "wait": [], "answer": []}
        waits, sets = [], []
        for _ in range(args.runs):
            reset()
            run_until(qapp, lambda: not charts.is_loading())
            charts.redraw(force=True)
            settle(300)
            shown.clear()
            drawn.clear()
            charts.redrawn.connect(on_redrawn)
            meter.start()
            started = time.perf_counter()
            ask()
            run_until(qapp, lambda: bool(drawn))
            done = time.perf_counter()
            settle(250)  # the repaint after the redraw
            meter.stop()
            answered = answers[-1]
            click_end = min(started + 0.25, answered)
            phases["all"].append(meter.longest())
            phases["click"].append(meter.longest(until=click_end))
            phases["wait"].append(meter.longest(click_end, answered))
            phases["answer"].append(meter.longest(answered))
            waits.append(done - started)
            sets.append(shown[0])
            charts.redrawn.disconnect(on_redrawn)
        loaded = charts.loaded_range()
        assert loaded is not None
        med = {k: statistics.median(v) for k, v in phases.items()}
        print(
            f"{name} ({loaded.points} points a series asked, answer drawn after "
            f"{statistics.median(waits) * 1000:.0f} ms): GUI stall longest "
            f"{max(phases['all']):.1f} ms, median {med['all']:.1f} ms over {args.runs} loads "
            f"(target < 50 ms); medians by phase: the click's frame {med['click']:.1f} ms, "
            f"waiting for the reader {med['wait']:.1f} ms, the answer's frame "
            f"{med['answer']:.1f} ms (show_history itself {statistics.median(sets):.1f} ms)"
        )

    # Between two loads another range is loaded, so the next one is not covered already.
    def elsewhere() -> None:
        charts.set_time_range(now - 20 * DAY, now - 19 * DAY)

    elsewhere()  # also opens the reader's connection: not part of any figure
    measure("30-day range", lambda: charts.set_time_window(30 * DAY), elsewhere)
    measure("7-day range", lambda: charts.set_time_window(7 * DAY), elsewhere)
    measure(
        "1-day zoom 10 days back",
        lambda: charts.set_time_range(now - 11 * DAY, now - 10 * DAY),
        elsewhere,
    )
    # For comparison: a window switch with the history off, drawn from the buffers.
    charts.set_history_available(False)
    switches = []
    for _ in range(args.runs):
        charts.set_time_window(300)
        settle(400)
        meter.start()
        charts.set_time_window(86_400)
        settle(400)
        switches.append(meter.stop())
    print(
        f"for comparison, 5 m -> 24 h from the live buffers alone (history off): longest "
        f"{max(switches):.1f} ms, median {statistics.median(switches):.1f} ms"
    )
    charts.close()
    history.shutdown()
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, args.keep / path.name)
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
