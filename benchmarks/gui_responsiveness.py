"""How responsive the desktop app stays: start-up time and event-loop stalls.

Prints:
* start to first window: from process launch to the main window's first paint
  (a fresh interpreter each time; median of ``--starts`` runs);
* the longest GUI event-loop stall while sweeping a 3-member sandbox (under a gentle
  load) every second with one member SIGSTOPped: a 10 ms timer measures its own
  lateness for ``--seconds``.

Targets: start <= 1.5 s, stall <= 50 ms. Runs offscreen.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

_FIRST_PAINT = r"""
import sys, time
from PySide6.QtCore import QEvent, QObject, QSettings
from PySide6.QtWidgets import QApplication
from etcdmon_gui.app import Application
t0 = float(sys.argv[1])
qapp = QApplication([])
app = Application(qapp, QSettings(sys.argv[2], QSettings.Format.IniFormat))
class Spy(QObject):
    def eventFilter(self, obj, ev):
        if ev.type() == QEvent.Type.Paint:
            print(f"{time.time() - t0:.3f}", flush=True)
            qapp.exit(0)
        return False
spy = Spy()
app.window.installEventFilter(spy)
app.window.show()
qapp.exec()
app.shutdown()
"""


def start_to_first_window(runs: int, tmp: str) -> list[float]:
    times = []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", _FIRST_PAINT, repr(time.time()), f"{tmp}/s.ini"],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        times.append(float(out.stdout.strip().splitlines()[-1]))
    return times


def stall_with_hung_member(seconds: float) -> tuple[float, float, int]:
    from PySide6.QtCore import QSettings, QTimer
    from PySide6.QtWidgets import QApplication

    from etcdmon_gui.app import Application
    from etcdmon_gui.etcd.sandbox import GentleLoad, Sandbox
    from etcdmon_gui.model.connection import ConnectionConfig, parse_endpoints

    qapp = QApplication.instance() or QApplication([])
    with Sandbox(3) as sandbox:
        load = GentleLoad(sandbox).start()
        app = Application(
            qapp, QSettings("/tmp/etcdmon-bench.ini", QSettings.Format.IniFormat), interval_s=1
        )
        app.window.show()
        handle = app.watch_config(
            ConnectionConfig(parse_endpoints(sandbox.endpoints_arg), timeout_s=2.0)
        )
        sweeps = []
        handle.worker.snapshotReady.connect(lambda s: sweeps.append(s))
        sandbox.pause_member(2)
        late: list[float] = []
        expected = [time.perf_counter() + 0.010]

        def tick() -> None:
            now = time.perf_counter()
            late.append(max(0.0, now - expected[0]))
            expected[0] = now + 0.010

        timer = QTimer()
        timer.setInterval(10)
        timer.timeout.connect(tick)
        timer.start()
        QTimer.singleShot(int(seconds * 1000), qapp.quit)
        qapp.exec()
        timer.stop()
        sandbox.resume_member(2)
        app.window.close()
        app.shutdown()
        load.stop()
    return max(late) * 1000, statistics.quantiles(late, n=100)[98] * 1000, len(sweeps)


def main() -> None:
    import tempfile

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--starts", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        starts = start_to_first_window(args.starts, tmp)
    print(
        f"start to first window: median {statistics.median(starts):.2f} s, "
        f"max {max(starts):.2f} s over {len(starts)} starts (target <= 1.5 s)"
    )
    worst, p99, sweeps = stall_with_hung_member(args.seconds)
    print(
        f"GUI event-loop stall over {args.seconds:g} s of 1 s sweeps with one member "
        f"SIGSTOPped ({sweeps} sweeps): longest {worst:.1f} ms, p99 {p99:.1f} ms "
        f"(target <= 50 ms)"
    )


if __name__ == "__main__":
    main()
