"""The benchmark dialog's results page: summary, percentiles, check perf verdict,
response-time histogram, and the runs of this cluster side by side: this session's and
those the history kept from earlier ones (``RunComparison``, also on the idle page)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

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

from etcdmon_gui.formatting import fmt_count, fmt_elapsed, fmt_latency_ms, fmt_latency_s, fmt_time
from etcdmon_gui.model.bench import PERCENTILES, BenchResult, CheckPerfResult
from etcdmon_gui.model.history import BenchRunRecord
from etcdmon_gui.ui.bench_widgets import cell_text, fit_height, plot_widget, table, table_item
from etcdmon_gui.ui.palette import (
    FAIL_COLOUR,
    FAIL_MARK,
    MEMBER_COLOURS,
    PASS_COLOUR,
    PASS_MARK,
    TEXT_ON_COLOUR,
)

__all__ = [
    "COMPARISON_COLUMNS",
    "BenchResultsWidget",
    "ComparedRun",
    "RunComparison",
    "cleanup_text",
    "compared_runs",
]

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


COMPARISON_COLUMNS = (
    "Started",
    "Workload",
    "Clients / conns",
    "Requests",
    "Requests/s",
    "p50",
    "p99",
    "Errors",
    "Verdict",
)
COMPARISON_ROWS_SHOWN = 6  # the table's height; more rows scroll


@dataclass(frozen=True, slots=True)
class ComparedRun:
    """One row of the comparison: a run of this session or one the history kept."""

    started_at: float
    workload: str  # the label, else the workload
    clients: int | None
    conns: int | None
    total: int | None
    requests_per_s: float
    p50_ms: float | None
    p99_ms: float | None
    errors: int
    verdict: str | None  # "PASS" / "FAIL" for check perf
    stored: bool  # from the history (an earlier session, or this one's once written)

    @classmethod
    def of_result(cls, r: BenchResult, verdict: CheckPerfResult | None) -> ComparedRun:
        def ms(p: float) -> float | None:
            v = r.latency.percentile(p) if r.latency else None
            return None if v is None else v * 1000

        return cls(
            started_at=r.started_at,
            workload=r.spec.label or r.spec.workload.value,
            clients=r.spec.clients,
            conns=r.spec.conns,
            total=r.total,
            requests_per_s=r.requests_per_s,
            p50_ms=ms(50.0),
            p99_ms=ms(99.0),
            errors=r.errors,
            verdict=None if verdict is None else ("PASS" if verdict.passed else "FAIL"),
            stored=False,
        )

    @classmethod
    def of_record(cls, run: BenchRunRecord) -> ComparedRun:
        def number(name: str) -> int | None:
            v = run.summary.get(name)
            return v if isinstance(v, int) and not isinstance(v, bool) else None

        return cls(
            started_at=run.started_at,
            workload=run.label or run.workload,
            clients=number("clients"),
            conns=number("conns"),
            total=number("total_requests"),
            requests_per_s=run.requests_per_s,
            p50_ms=run.p50_ms,
            p99_ms=run.p99_ms,
            errors=run.errors,
            verdict=run.verdict,
            stored=True,
        )


def compared_runs(
    session: Sequence[tuple[BenchResult, CheckPerfResult | None]],
    stored: Sequence[BenchRunRecord],
) -> list[ComparedRun]:
    """This session's runs and the stored ones, the newest first; a run that is both
    (written by the history since) is listed once, from this session."""
    runs = {round(r.started_at, 3): ComparedRun.of_result(r, v) for r, v in session}
    for record in stored:
        runs.setdefault(round(record.started_at, 3), ComparedRun.of_record(record))
    return sorted(runs.values(), key=lambda run: run.started_at, reverse=True)


class RunComparison(QGroupBox):
    """The runs of one cluster side by side, the newest first, with a note under them
    (why the earlier runs are missing, say)."""

    def __init__(self, title: str, parent: QWidget | None = None) -> None:
        super().__init__(title, parent)
        lay = QVBoxLayout(self)
        self.table = table(list(COMPARISON_COLUMNS))
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)  # the workload
        fit_height(self.table, 1)
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.note.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.note.setVisible(False)
        lay.addWidget(self.table)
        lay.addWidget(self.note)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)

    def show_runs(
        self, runs: Sequence[ComparedRun], current: float | None = None, note: str = ""
    ) -> None:
        """Show ``runs`` (newest first); the one started at ``current`` is "this run"."""
        t = self.table
        t.setRowCount(len(runs))
        bold = QFont(t.font())
        bold.setBold(True)
        now = time.time()
        for row, run in enumerate(runs):
            this = current is not None and round(run.started_at, 3) == round(current, 3)
            clients = "-" if run.clients is None else f"{run.clients} / {run.conns or '-'}"
            cells = [
                fmt_time(run.started_at, now) + (" (this run)" if this else ""),
                run.workload,
                clients,
                fmt_count(run.total),
                fmt_count(run.requests_per_s, 1),
                fmt_latency_ms(run.p50_ms),
                fmt_latency_ms(run.p99_ms),
                fmt_count(run.errors),
                run.verdict or "",
            ]
            for col, text in enumerate(cells):
                item = table_item(text, align_right=3 <= col < len(cells) - 1)
                if this:
                    item.setFont(bold)
                if col == len(cells) - 1 and run.verdict:
                    item.setForeground(
                        QColor(PASS_COLOUR if run.verdict == "PASS" else FAIL_COLOUR)
                    )
                if run.stored:
                    item.setToolTip("From the history")
                t.setItem(row, col, item)
        fit_height(t, min(max(len(runs), 1), COMPARISON_ROWS_SHOWN))
        self.note.setText(note)
        self.note.setVisible(bool(note))

    def rows(self) -> list[list[str]]:
        """The table as text, newest first (tests, accessibility)."""
        t = self.table
        return [[cell_text(t, r, c) for c in range(t.columnCount())] for r in range(t.rowCount())]


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

        self.comparison_box = RunComparison("Runs on this cluster")
        self.comparison = self.comparison_box.table
        self._current: float | None = None  # the start of the result shown
        lay.addWidget(self.comparison_box)
        lay.addStretch(1)

        self._layout = lay
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setWidget(content)

    def show_result(
        self,
        r: BenchResult,
        verdict: CheckPerfResult | None,
        runs: Sequence[ComparedRun],
        note: str = "",
    ) -> None:
        """Show ``r`` and its check perf verdict over ``runs`` (``compared_runs``)."""
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
        self._current = r.started_at
        self.show_runs(runs, note)
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

    def show_runs(self, runs: Sequence[ComparedRun], note: str = "") -> None:
        """The comparison again (the history's answer came), the result shown kept."""
        self.comparison_box.show_runs(runs, self._current, note)

    def comparison_rows(self) -> list[list[str]]:
        """The comparison table as text, newest first (tests, accessibility)."""
        return self.comparison_box.rows()

    def percentile_rows(self) -> list[tuple[str, str]]:
        t = self.percentiles
        return [(cell_text(t, r, 0), cell_text(t, r, 1)) for r in range(t.rowCount())]
