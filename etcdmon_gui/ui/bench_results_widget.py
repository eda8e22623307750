"""The benchmark dialog's results page: summary, percentiles, check perf verdict,
response-time histogram, and every run of this cluster in this session side by side."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFont, QPalette
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from etcdmon_gui.formatting import fmt_clock, fmt_count, fmt_elapsed, fmt_latency_s
from etcdmon_gui.model.bench import PERCENTILES, BenchResult, CheckPerfResult
from etcdmon_gui.ui.bench_widgets import cell_text, fit_height, plot_widget, table, table_item
from etcdmon_gui.ui.palette import (
    FAIL_COLOUR,
    FAIL_MARK,
    MEMBER_COLOURS,
    PASS_COLOUR,
    PASS_MARK,
    TEXT_ON_COLOUR,
)

__all__ = ["BenchResultsWidget", "cleanup_text"]

_SUMMARY_ROWS = (
    "Requests",
    "Errors",
    "Duration",
    "Requests/s",
    "Fastest",
    "Average",
    "Std. deviation",
    "Slowest",
    "Cleanup",
)


def cleanup_text(r: BenchResult) -> str:
    """What happened to the keys the run wrote, in one sentence."""
    spec = r.spec
    if not (spec.workload.writes and spec.cleanup):
        return "Nothing was written, nothing to clean up."
    c = r.cleanup
    if c.error:
        return f"Cleanup failed: {c.error}"
    text = f"Cleanup: deleted {fmt_count(c.deleted)} keys under {spec.prefix}"
    if c.compacted_revision is not None:
        text += f", compacted at revision {c.compacted_revision}"
    if c.defragmented:
        text += f", defragmented {len(c.defragmented)} member(s)"
    return text + "."


def _bold_label(scale: float) -> QLabel:
    label = QLabel()
    f = label.font()
    f.setPointSizeF(f.pointSizeF() * scale)
    f.setBold(True)
    label.setFont(f)
    return label


class BenchResultsWidget(QScrollArea):
    """Shows one result (``show_result``) with the session's earlier runs below it."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        content = QWidget()
        lay = QVBoxLayout(content)
        head = QHBoxLayout()
        self.result_title = _bold_label(1.3)
        self.result_title.setWordWrap(True)
        self.verdict_badge = QLabel()
        self.verdict_badge.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.verdict_badge.setVisible(False)
        head.addWidget(self.result_title, 1)
        head.addWidget(self.verdict_badge)
        lay.addLayout(head)
        self.notice = QLabel()
        self.notice.setWordWrap(True)
        self.notice.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.notice.setFrameShape(QFrame.Shape.StyledPanel)
        self.notice.setMargin(6)
        lay.addWidget(self.notice)

        top = QHBoxLayout()
        summary_box = QGroupBox("Summary")
        summary = QGridLayout(summary_box)
        summary.setHorizontalSpacing(16)
        summary.setColumnStretch(1, 1)
        self.summary_values: dict[str, QLabel] = {}
        for i, name in enumerate(_SUMMARY_ROWS):
            label = QLabel(name)
            label.setForegroundRole(QPalette.ColorRole.PlaceholderText)
            value = QLabel("-")
            value.setWordWrap(True)
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            summary.addWidget(label, i, 0, Qt.AlignmentFlag.AlignTop)
            summary.addWidget(value, i, 1, Qt.AlignmentFlag.AlignTop)
            self.summary_values[name] = value
        summary.setRowStretch(len(_SUMMARY_ROWS), 1)
        top.addWidget(summary_box, 3)
        pct_box = QGroupBox("Latency percentiles")
        pct_lay = QVBoxLayout(pct_box)
        self.percentiles = table(["Percentile", "Latency"])
        self.percentiles.setRowCount(len(PERCENTILES))
        fit_height(self.percentiles, len(PERCENTILES))
        pct_lay.addWidget(self.percentiles)
        pct_lay.addStretch(1)
        top.addWidget(pct_box, 2)
        self.check_box = QGroupBox("Check perf")
        check_lay = QVBoxLayout(self.check_box)
        self.check_lines = QLabel()
        self.check_lines.setTextFormat(Qt.TextFormat.RichText)
        self.check_lines.setWordWrap(True)
        check_lay.addWidget(self.check_lines)
        check_lay.addStretch(1)
        self.check_box.setVisible(False)
        top.addWidget(self.check_box, 3)
        lay.addLayout(top)

        self.histogram_plot = plot_widget("Response time histogram", "")
        self.histogram_plot.getPlotItem().getAxis("left").setLabel("requests")
        self.histogram_plot.getPlotItem().getAxis("bottom").setLabel("latency up to (ms)")
        self.histogram_plot.setFixedHeight(240)
        self._bars: pg.BarGraphItem | None = None
        lay.addWidget(self.histogram_plot)

        cmp_box = QGroupBox("Runs on this cluster in this session")
        cmp_lay = QVBoxLayout(cmp_box)
        self.comparison = table(
            ["Started", "Workload", "Clients / conns", "Requests", "Requests/s", "p99", "Errors"]
        )
        self.comparison.horizontalHeader().setSectionResizeMode(
            0, QHeaderView.ResizeMode.ResizeToContents
        )
        fit_height(self.comparison, 1)
        cmp_lay.addWidget(self.comparison)
        cmp_box.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        lay.addWidget(cmp_box)
        lay.addStretch(1)

        self._layout = lay
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setWidget(content)

    def show_result(
        self, r: BenchResult, verdict: CheckPerfResult | None, runs: Sequence[BenchResult]
    ) -> None:
        """Show ``r`` (the newest of ``runs``, oldest first) and its check perf verdict."""
        spec = r.spec
        what = spec.label or spec.workload.value
        limit = f"{spec.duration_s:g} s" if spec.duration_s else f"{fmt_count(spec.total)} requests"
        rate = f", {spec.rate:g}/s limit" if spec.rate else ""
        self.result_title.setText(
            f"{what} · {limit} · {spec.clients} clients, {spec.conns} conns{rate}"
        )
        notes = []
        if r.cancelled:
            notes.append(
                f"<b>Cancelled</b> after {fmt_count(r.total)} requests "
                f"({fmt_count(r.abandoned)} in flight abandoned)."
            )
        elif r.stop_reason:
            notes.append(f"<b style='color:{FAIL_COLOUR}'>Stopped early:</b> {r.stop_reason}")
        notes.append(cleanup_text(r))
        notes += [f"⚠ {w}" for w in r.warnings]
        self.notice.setText("<br>".join(notes))

        v = self.summary_values
        v["Requests"].setText(f"{fmt_count(r.total)} ({fmt_count(r.successes)} succeeded)")
        if r.errors_by_code:
            v["Errors"].setText(
                "<br>".join(
                    f"<span style='color:{FAIL_COLOUR}'>{fmt_count(e.count)} {e.code}</span>: "
                    f"{e.message}"
                    for e in r.errors_by_code
                )
            )
        else:
            v["Errors"].setText("none")
        v["Duration"].setText(fmt_elapsed(r.duration_s))
        v["Requests/s"].setText(f"<b>{fmt_count(r.requests_per_s, 1)}</b>")
        lat = r.latency
        v["Fastest"].setText(fmt_latency_s(lat.min_s if lat else None))
        v["Average"].setText(fmt_latency_s(lat.mean_s if lat else None))
        v["Std. deviation"].setText(fmt_latency_s(lat.stddev_s if lat else None))
        v["Slowest"].setText(fmt_latency_s(lat.max_s if lat else None))
        c = r.cleanup
        v["Cleanup"].setText(
            "error"
            if c.error
            else f"{fmt_count(c.deleted)} keys deleted"
            if spec.workload.writes
            else "-"
        )

        for i, p in enumerate(PERCENTILES):
            value = lat.percentile(p) if lat else None
            self.percentiles.setItem(i, 0, table_item(f"p{p:g}", align_right=False))
            self.percentiles.setItem(i, 1, table_item(fmt_latency_s(value)))

        self._show_histogram(r)
        self._show_verdict(verdict)
        self._show_comparison(runs)
        self._layout.activate()  # sizes now, not at the next layout request

    def _show_histogram(self, r: BenchResult) -> None:
        plot = self.histogram_plot.getPlotItem()
        if self._bars is not None:
            plot.removeItem(self._bars)
            self._bars = None
        buckets = r.histogram
        if not buckets:
            return
        x = np.arange(len(buckets), dtype=float)
        heights = np.array([b.count for b in buckets], dtype=float)
        color = QColor(MEMBER_COLOURS[0])
        self._bars = pg.BarGraphItem(
            x=x, height=heights, width=0.8, brush=color, pen=pg.mkPen(color.darker(130))
        )
        plot.addItem(self._bars)
        step = max(1, len(buckets) // 10)
        ticks = [
            (float(i), f"{b.upper_s * 1000:.3g}")
            for i, b in enumerate(buckets)
            if i % step == 0 or i == len(buckets) - 1
        ]
        plot.getAxis("bottom").setTicks([ticks])
        plot.setXRange(-0.6, len(buckets) - 0.4, padding=0)
        plot.setYRange(0, max(1.0, float(heights.max())) * 1.08, padding=0)

    def _show_verdict(self, verdict: CheckPerfResult | None) -> None:
        self.check_box.setVisible(verdict is not None)
        self.verdict_badge.setVisible(verdict is not None)
        if verdict is None:
            return
        color = PASS_COLOUR if verdict.passed else FAIL_COLOUR
        self.verdict_badge.setText("PASS" if verdict.passed else "FAIL")
        self.verdict_badge.setStyleSheet(
            f"background: {color}; color: {TEXT_ON_COLOUR}; font-weight: bold; "
            "border-radius: 4px; padding: 4px 14px;"
        )
        self.check_box.setTitle(
            f"Check perf {verdict.preset.name}: "
            f"{verdict.preset.limit} writes/s, "
            f"{verdict.preset.clients} clients"
        )
        self.check_lines.setText(
            "<br>".join(
                f"<span style='color:{PASS_COLOUR if line.passed else FAIL_COLOUR}'>"
                f"{PASS_MARK if line.passed else FAIL_MARK}</span> {line.text}"
                for line in verdict.lines
            )
        )

    def _show_comparison(self, results: Sequence[BenchResult]) -> None:
        t = self.comparison
        runs = list(reversed(results))
        t.setRowCount(len(runs))
        bold = QFont(t.font())
        bold.setBold(True)
        for row, r in enumerate(runs):
            p99 = r.latency.percentile(99.0) if r.latency else None
            started = fmt_clock(r.started_at)
            cells = [
                started + (" (this run)" if row == 0 else ""),
                r.spec.label or r.spec.workload.value,
                f"{r.spec.clients} / {r.spec.conns}",
                fmt_count(r.total),
                fmt_count(r.requests_per_s, 1),
                fmt_latency_s(p99),
                fmt_count(r.errors),
            ]
            for col, text in enumerate(cells):
                item = table_item(text, align_right=col >= 3)
                if row == 0:
                    item.setFont(bold)
                t.setItem(row, col, item)
        fit_height(t, min(max(len(runs), 1), 6))

    def comparison_rows(self) -> list[list[str]]:
        """The comparison table as text, newest first (tests, accessibility)."""
        t = self.comparison
        return [[cell_text(t, r, c) for c in range(t.columnCount())] for r in range(t.rowCount())]

    def percentile_rows(self) -> list[tuple[str, str]]:
        t = self.percentiles
        return [(cell_text(t, r, 0), cell_text(t, r, 1)) for r in range(t.rowCount())]
