"""The benchmark dialog's live page: phase, progress, running figures and two charts.

Each progress report is appended to preallocated numpy arrays (no list of floats) and
the charts redraw on a 10 Hz timer, however often reports arrive.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Slot
from PySide6.QtWidgets import QLabel, QProgressBar, QVBoxLayout, QWidget

from etcdmon_gui.formatting import fmt_count, fmt_elapsed, fmt_eta, fmt_latency_s, fmt_percent
from etcdmon_gui.model.bench import BenchProgress, Phase
from etcdmon_gui.ui.bench_widgets import plot_widget
from etcdmon_gui.ui.palette import FAIL_COLOUR, MEMBER_COLOURS

__all__ = ["BenchLiveWidget", "LiveSeries"]

REDRAW_MS = 100
_PHASE_TEXT = {
    Phase.PREPARING: "Preparing…",
    Phase.RUNNING: "Running",
    Phase.DRAINING: "Stopping: waiting for requests in flight…",
    Phase.CLEANING: "Cleaning up: deleting the keys…",
    Phase.DONE: "Done",
}


class LiveSeries:
    """Growable numpy arrays of (elapsed s, requests/s, p99 ms): no list of floats."""

    def __init__(self, capacity: int = 512) -> None:
        self.data = np.full((capacity, 3), np.nan)
        self.n = 0

    def clear(self) -> None:
        self.n = 0

    def append(self, t: float, rps: float, p99_ms: float) -> None:
        if self.n == len(self.data):
            grown = np.full((len(self.data) * 2, 3), np.nan)
            grown[: self.n] = self.data
            self.data = grown
        self.data[self.n] = (t, rps, p99_ms)
        self.n += 1

    def column(self, i: int) -> np.ndarray:
        return self.data[: self.n, i]


class BenchLiveWidget(QWidget):
    """What a running benchmark is doing: ``reset()`` at the start, then ``show_progress``."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.series = LiveSeries()
        self._redraw_timer = QTimer(self)
        self._redraw_timer.setSingleShot(True)
        self._redraw_timer.setInterval(REDRAW_MS)
        self._redraw_timer.timeout.connect(self.redraw)

        lay = QVBoxLayout(self)
        self.phase_label = QLabel()
        f = self.phase_label.font()
        f.setPointSizeF(f.pointSizeF() * 1.25)
        f.setBold(True)
        self.phase_label.setFont(f)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(True)
        self.eta_label = QLabel()
        self.numbers = QLabel()
        self.numbers.setTextFormat(Qt.TextFormat.RichText)
        self.rps_plot = plot_widget("Throughput (requests/s)", "")
        self.p99_plot = plot_widget("Latency p99 (ms)", "")
        self.p99_plot.getPlotItem().getAxis("left").enableAutoSIPrefix(False)
        for p in (self.rps_plot, self.p99_plot):
            bottom = p.getPlotItem().getAxis("bottom")
            bottom.setLabel("elapsed (s)")
            bottom.enableAutoSIPrefix(False)
            p.getPlotItem().getViewBox().disableAutoRange()
            p.setXRange(0, 10, padding=0)
            p.setYRange(0, 1, padding=0)
        self.rps_curve = self.rps_plot.plot(pen=pg.mkPen(MEMBER_COLOURS[0], width=2))
        self.p99_curve = self.p99_plot.plot(pen=pg.mkPen(MEMBER_COLOURS[1], width=2))
        lay.addWidget(self.phase_label)
        lay.addWidget(self.progress)
        lay.addWidget(self.eta_label)
        lay.addWidget(self.numbers)
        lay.addWidget(self.rps_plot, 1)
        lay.addWidget(self.p99_plot, 1)

    def reset(self) -> None:
        """Empty charts and figures: a run was just queued."""
        self.series.clear()
        self.redraw()
        self.phase_label.setText("Preparing…")
        self.progress.setValue(0)
        self.progress.setFormat("")
        self.eta_label.setText("")
        self.numbers.setText("")

    def show_progress(self, p: BenchProgress, cancelling: bool) -> None:
        """One progress report; while ``cancelling`` the phase text says so already."""
        if not (cancelling and p.phase is Phase.RUNNING):
            detail = f" ({p.message})" if p.message and p.phase is Phase.DRAINING else ""
            self.phase_label.setText(_PHASE_TEXT[p.phase] + detail)
        fraction = p.fraction
        if fraction is None:
            self.progress.setRange(0, 0)
        else:
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(fraction * 1000))
        of = f" / {fmt_count(p.total)}" if p.total else ""
        share = f" · {fmt_percent(fraction, 0)}" if fraction is not None else ""
        self.progress.setFormat(f"{fmt_count(p.done)}{of} requests{share}")
        bits = [f"{fmt_elapsed(p.elapsed_s)} elapsed"]
        if p.eta_s is not None:
            bits.append(f"about {fmt_eta(p.eta_s)} left")
        self.eta_label.setText(" · ".join(bits))
        err = (
            f" · <span style='color:{FAIL_COLOUR}'>{fmt_count(p.errors)} errors</span>"
            if p.errors
            else ""
        )
        self.numbers.setText(
            f"<b>{fmt_count(p.requests_per_s)}</b> requests/s · p99 "
            f"<b>{fmt_latency_s(p.latency_p99_s)}</b> · mean {fmt_latency_s(p.latency_mean_s)}"
            f" · max {fmt_latency_s(p.latency_max_s)}{err}"
        )
        if p.phase in (Phase.RUNNING, Phase.DRAINING) and p.elapsed_s > 0:
            p99 = p.latency_p99_s * 1000 if p.latency_p99_s is not None else np.nan
            self.series.append(p.elapsed_s, p.requests_per_s, p99)
            if not self._redraw_timer.isActive():
                self._redraw_timer.start()

    @Slot()
    def redraw(self) -> None:
        t = self.series.column(0)
        x_end = max(10.0, float(t[-1]) * 1.05) if len(t) else 10.0
        for plot, curve, col in (
            (self.rps_plot, self.rps_curve, 1),
            (self.p99_plot, self.p99_curve, 2),
        ):
            y = self.series.column(col)
            curve.setData(t, y, connect="finite")
            top = float(np.nanmax(y)) if len(y) and not np.all(np.isnan(y)) else 0.0
            plot.setXRange(0, x_end, padding=0)
            plot.setYRange(0, top * 1.1 if top > 0 else 1.0, padding=0)
