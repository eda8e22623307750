"""The benchmark dialog of one cluster: parameters, a live view while it runs, results.

The dialog only collects a ``BenchSpec`` and renders what comes back. It asks for a run
with ``startRequested``, for a stop with ``cancelRequested`` and for a CSV file with
``exportRequested``; the composition root sends those to the bench worker and connects
the worker's answers to the ``show_*`` slots. Answers for another cluster are ignored.

Check perf presets arrive ready-made from the composition root (the dialog does not
import the bench package): ``name -> (CheckPerfPreset, BenchSpec)``.

The live charts append each progress report to preallocated numpy arrays and redraw on
a 10 Hz timer. Results of every run stay in the dialog, so the next run is compared with
the earlier ones of the same cluster in this session.

Signals:
    startRequested(BenchSpec, CheckPerfPreset | None, str typed_confirmation)
    cancelRequested()
    exportRequested(str path, BenchResult)
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Mapping
from datetime import datetime

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtGui import QCloseEvent, QColor, QFont, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSpinBox,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from etcdmon_gui.model.bench import (
    PERCENTILES,
    BenchProgress,
    BenchResult,
    BenchSpec,
    CheckPerfPreset,
    CheckPerfResult,
    Phase,
    Workload,
)
from etcdmon_gui.ui.charts_widget import MEMBER_COLORS

__all__ = ["BenchDialog", "CheckPerfChoices"]

log = logging.getLogger(__name__)

CheckPerfChoices = Mapping[str, tuple[CheckPerfPreset, BenchSpec]]

REDRAW_MS = 100
PASS_COLOR = "#16a34a"
FAIL_COLOR = "#dc2626"
_WORKLOAD_TIPS = {
    Workload.PUT: "puts of random or sequential keys (etcd tools/benchmark put)",
    Workload.RANGE: "range reads over the prefix (tools/benchmark range)",
    Workload.TXN_PUT: "transactions of several puts (tools/benchmark txn-put)",
    Workload.TXN_MIXED: "a mix of txn range reads and txn puts (tools/benchmark txn-mixed)",
    Workload.WATCH_LATENCY: "delay from a put to its watch event (tools/benchmark "
                            "watch-latency)",
}


def _ms(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    ms = seconds * 1000
    return f"{ms:.3f} ms" if ms < 10 else f"{ms:.1f} ms"


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    m, s = divmod(round(seconds), 60)
    return f"{m} min {s:02d} s"


def _num(n: float) -> str:
    return f"{n:,.0f}"


class _Live:
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


def _plot(title: str, unit: str) -> pg.PlotWidget:
    w = pg.PlotWidget()
    w.setMenuEnabled(False)
    w.hideButtons()
    w.setMouseEnabled(x=False, y=False)
    w.showGrid(x=True, y=True, alpha=0.25)
    item = w.getPlotItem()
    item.setTitle(title, size="10pt")
    item.setDownsampling(auto=True, mode="peak")
    item.setClipToView(True)
    item.getAxis("left").setLabel(units=unit)
    item.getAxis("left").setWidth(56)
    w.setMinimumHeight(150)
    # Follow the palette (light or dark) as the main window's charts do.
    palette = w.palette()
    background = palette.color(QPalette.ColorRole.Base)
    text = palette.color(QPalette.ColorRole.WindowText)
    muted = _blend(text, background, 0.6)
    w.setBackground(background)
    for name in ("left", "bottom"):
        axis = item.getAxis(name)
        axis.setPen(muted)
        axis.setTextPen(text)
    item.titleLabel.setAttr("color", text.name())
    item.setTitle(title, size="10pt")
    return w


def _blend(a: QColor, b: QColor, share_a: float) -> QColor:
    def mix(x: float, y: float) -> float:
        return share_a * x + (1 - share_a) * y

    return QColor.fromRgbF(mix(a.redF(), b.redF()), mix(a.greenF(), b.greenF()),
                           mix(a.blueF(), b.blueF()))


def _item(text: str, align_right: bool = True) -> QTableWidgetItem:
    item = QTableWidgetItem(text)
    item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
    if align_right:
        item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    return item


def _table(headers: list[str]) -> QTableWidget:
    t = QTableWidget(0, len(headers))
    t.setHorizontalHeaderLabels(headers)
    t.verticalHeader().setVisible(False)
    t.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    t.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
    t.setFocusPolicy(Qt.FocusPolicy.NoFocus)
    t.setAlternatingRowColors(True)
    t.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
    t.verticalHeader().setDefaultSectionSize(22)
    return t


def _fit_height(t: QTableWidget, rows: int) -> None:
    h = t.horizontalHeader().height() + 22 * rows + 2 * t.frameWidth() + 2
    t.setFixedHeight(h)


class BenchDialog(QDialog):
    startRequested = Signal(object, object, str)
    cancelRequested = Signal()
    exportRequested = Signal(str, object)

    def __init__(self, key: str, title: str, check_perf: CheckPerfChoices,
                 production_name: str | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.key = key
        self.cluster_title = title
        self._check_perf = dict(check_perf)
        self._production_name = production_name
        self.running = False
        self._cancelling = False
        self._preset: CheckPerfPreset | None = None
        self._live = _Live()
        self._dirty = False
        self.results: list[BenchResult] = []  # every run of this cluster, oldest first
        self.verdict: CheckPerfResult | None = None
        self._pending_verdict: CheckPerfResult | None = None
        self.setWindowTitle(f"Benchmark — {title}")
        self.setSizeGripEnabled(True)
        self.resize(1180, 780)

        self._redraw_timer = QTimer(self)
        self._redraw_timer.setSingleShot(True)
        self._redraw_timer.setInterval(REDRAW_MS)
        self._redraw_timer.timeout.connect(self._redraw)

        form_box = self._build_form()
        self.stack = QStackedWidget()
        self.idle_page = QLabel(
            "Choose a workload and its parameters, then press Start.\n\n"
            "Keys are written under a dedicated prefix that must be empty; they are "
            "deleted and the history compacted when the run ends, even after Cancel.",
            alignment=Qt.AlignmentFlag.AlignCenter)
        self.idle_page.setWordWrap(True)
        self.idle_page.setMargin(24)
        self.live_page = self._build_live()
        self.results_page = self._build_results()
        for page in (self.idle_page, self.live_page, self.results_page):
            self.stack.addWidget(page)

        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.export_button = QPushButton("Export CSV…")
        self.export_button.setEnabled(False)
        self.export_button.clicked.connect(self._ask_export)
        self.start_button = QPushButton("Start")
        self.start_button.setDefault(True)
        self.start_button.clicked.connect(self.start)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop the load within a second; the keys written "
                                      "are still deleted")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        self.close_button = QPushButton("Close")
        self.close_button.setAutoDefault(False)
        self.close_button.clicked.connect(self.close)
        buttons = QHBoxLayout()
        buttons.addWidget(self.status, 1)
        for b in (self.export_button, self.start_button, self.cancel_button,
                  self.close_button):
            buttons.addWidget(b)

        body = QHBoxLayout()
        body.addWidget(form_box)
        body.addWidget(self.stack, 1)
        lay = QVBoxLayout(self)
        lay.addLayout(body, 1)
        lay.addLayout(buttons)
        self._apply_choice()

    # ------------------------------------------------------------------ the form

    def _build_form(self) -> QWidget:
        self.preset = QComboBox()
        for w in Workload:
            self.preset.addItem(w.value, ("workload", w))
            self.preset.setItemData(self.preset.count() - 1, _WORKLOAD_TIPS[w],
                                    Qt.ItemDataRole.ToolTipRole)
        self.preset.insertSeparator(self.preset.count())
        for name, (p, _) in self._check_perf.items():
            self.preset.addItem(f"check perf {name} ({p.limit}/s, {p.clients} clients)",
                                ("check", name))
        self.preset.currentIndexChanged.connect(self._apply_choice)

        def spin(lo: int, hi: int, value: int, suffix: str = "") -> QSpinBox:
            s = QSpinBox()
            s.setRange(lo, hi)
            s.setValue(value)
            s.setGroupSeparatorShown(True)
            s.setSuffix(suffix)
            return s

        self.clients = spin(1, 10_000, 50)
        self.clients.setToolTip("requests in flight at once")
        self.conns = spin(1, 1_000, 10)
        self.conns.setToolTip("gRPC connections (TCP) the clients share")
        self.limit_mode = QComboBox()
        self.limit_mode.addItems(["Total requests", "Duration"])
        self.total = spin(1, 100_000_000, 10_000)
        self.duration = QDoubleSpinBox()
        self.duration.setRange(0.5, 24 * 3600)
        self.duration.setValue(10)
        self.duration.setSuffix(" s")
        self.limit_mode.currentIndexChanged.connect(self._sync_fields)
        stop_row = QHBoxLayout()
        stop_row.setContentsMargins(0, 0, 0, 0)
        stop_row.addWidget(self.limit_mode)
        stop_row.addWidget(self.total, 1)
        stop_row.addWidget(self.duration, 1)
        stop_widget = QWidget()
        stop_widget.setLayout(stop_row)
        self.rate = QDoubleSpinBox()
        self.rate.setRange(0, 10_000_000)
        self.rate.setDecimals(0)
        self.rate.setSuffix(" /s")
        self.rate.setSpecialValueText("unlimited")
        self.key_size = spin(1, 65_536, 8, " B")
        self.val_size = spin(0, 1_500_000, 256, " B")
        self.key_space = spin(1, 100_000_000, 10_000)
        self.sequential = QCheckBox("Sequential keys")
        self.consistency = QComboBox()
        self.consistency.addItems(["linearizable", "serializable"])
        self.range_limit = spin(0, 1_000_000, 0)
        self.range_limit.setSpecialValueText("none")
        self.txn_ops = spin(1, 128, 1)
        self.rw_ratio = QDoubleSpinBox()
        self.rw_ratio.setRange(0, 1000)
        self.rw_ratio.setValue(1.0)
        self.rw_ratio.setToolTip("reads per write")
        self.put_rate = QDoubleSpinBox()
        self.put_rate.setRange(1, 100_000)
        self.put_rate.setValue(100)
        self.put_rate.setSuffix(" /s")
        self.confirm = QLineEdit()
        self.confirm.setPlaceholderText(f"type {self._production_name!r} to confirm"
                                        if self._production_name else "")

        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("Preset", self.preset)
        form.addRow("Clients", self.clients)
        form.addRow("Connections", self.conns)
        form.addRow("Stop after", stop_widget)
        form.addRow("Rate limit", self.rate)
        form.addRow("Key size", self.key_size)
        form.addRow("Value size", self.val_size)
        form.addRow("Key space", self.key_space)
        form.addRow("", self.sequential)
        form.addRow("Range reads", self.consistency)
        form.addRow("Range limit", self.range_limit)
        form.addRow("Ops per txn", self.txn_ops)
        form.addRow("Read/write ratio", self.rw_ratio)
        form.addRow("Watch puts", self.put_rate)
        self._form = form
        box = QGroupBox("Workload")
        outer = QVBoxLayout(box)
        outer.addLayout(form)
        if self._production_name:
            warn = QLabel(f"<b>{self._production_name}</b> is tagged <b>production</b>: a "
                          "benchmark loads it and may slow it down for its users. Type the "
                          "profile's name to go ahead.")
            warn.setWordWrap(True)
            warn.setStyleSheet(f"color: {FAIL_COLOR};")
            outer.addWidget(warn)
            outer.addWidget(self.confirm)
        outer.addStretch(1)
        note = QLabel("Keys are written under a dedicated prefix that must be empty. They "
                      "are deleted and the history compacted when the run ends, also after "
                      "Cancel. One benchmark runs at a time.")
        note.setWordWrap(True)
        note.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        outer.addWidget(note)
        box.setFixedWidth(360)
        return box

    def _set_row_visible(self, field: QWidget, visible: bool) -> None:
        self._form.setRowVisible(field, visible)

    @Slot()
    def _apply_choice(self) -> None:
        kind, value = self.preset.currentData() or ("workload", Workload.PUT)
        if kind == "check":
            preset, spec = self._check_perf[str(value)]
            self._preset = preset
        else:
            self._preset = None
            spec = self._default_spec(value)
        self._load_spec(spec)
        self._sync_fields()

    @staticmethod
    def _default_spec(w: Workload) -> BenchSpec:
        spec = BenchSpec(workload=w, clients=50, conns=10, total=10_000, val_size=256,
                         key_space_size=10_000)
        if w is Workload.TXN_PUT:
            spec = dataclasses.replace(spec, txn_ops=4)
        if w is Workload.WATCH_LATENCY:
            spec = dataclasses.replace(spec, clients=10, conns=1, total=1_000)
        return spec

    def _load_spec(self, s: BenchSpec) -> None:
        self.clients.setValue(s.clients)
        self.conns.setValue(s.conns)
        self.limit_mode.setCurrentIndex(1 if s.duration_s else 0)
        self.total.setValue(s.total)
        self.duration.setValue(s.duration_s or 10)
        self.rate.setValue(s.rate)
        self.key_size.setValue(s.key_size)
        self.val_size.setValue(s.val_size)
        self.key_space.setValue(s.key_space_size)
        self.sequential.setChecked(s.sequential_keys)
        self.consistency.setCurrentIndex(0 if s.linearizable else 1)
        self.range_limit.setValue(s.limit)
        self.txn_ops.setValue(s.txn_ops)
        self.rw_ratio.setValue(s.rw_ratio)
        self.put_rate.setValue(s.put_rate)

    @Slot()
    def _sync_fields(self) -> None:
        w = self.workload
        check = self._preset is not None
        by_duration = self.limit_mode.currentIndex() == 1
        self.total.setVisible(not by_duration)
        self.duration.setVisible(by_duration)
        writes_keys = w in (Workload.PUT, Workload.TXN_PUT, Workload.TXN_MIXED)
        self._set_row_visible(self.key_space, not check and writes_keys)
        self._set_row_visible(self.sequential, not check and w is Workload.PUT)
        reads = w in (Workload.RANGE, Workload.TXN_MIXED)
        self._set_row_visible(self.consistency, reads)
        self._set_row_visible(self.range_limit, reads)
        self._set_row_visible(self.txn_ops, w is Workload.TXN_PUT)
        self._set_row_visible(self.rw_ratio, w is Workload.TXN_MIXED)
        self._set_row_visible(self.put_rate, w is Workload.WATCH_LATENCY)
        self._set_row_visible(self.rate, w is not Workload.WATCH_LATENCY)

    @property
    def workload(self) -> Workload:
        if self._preset is not None:
            return Workload.PUT
        _, value = self.preset.currentData() or ("workload", Workload.PUT)
        assert isinstance(value, Workload)
        return value

    def select(self, choice: str) -> None:
        """Choose a preset by name: a workload (``put``) or ``check perf s``..."""
        for i in range(self.preset.count()):
            data = self.preset.itemData(i)
            if data and ((data[0] == "workload" and data[1].value == choice)
                         or (data[0] == "check" and f"check perf {data[1]}" == choice)):
                self.preset.setCurrentIndex(i)
                return
        raise ValueError(f"no preset {choice!r}")

    def spec(self) -> BenchSpec:
        """The run the form describes."""
        if self._preset is not None:
            base = self._check_perf[self._preset.name][1]
        else:
            base = BenchSpec(workload=self.workload)
        by_duration = self.limit_mode.currentIndex() == 1
        return dataclasses.replace(
            base, clients=self.clients.value(), conns=self.conns.value(),
            total=self.total.value(),
            duration_s=self.duration.value() if by_duration else None,
            rate=self.rate.value(), key_size=self.key_size.value(),
            val_size=self.val_size.value(),
            key_space_size=base.key_space_size if self._preset else self.key_space.value(),
            sequential_keys=self.sequential.isChecked() and self._preset is None,
            linearizable=self.consistency.currentIndex() == 0,
            limit=self.range_limit.value(), txn_ops=self.txn_ops.value(),
            rw_ratio=self.rw_ratio.value(), put_rate=self.put_rate.value())

    # ------------------------------------------------------------------ live page

    def _build_live(self) -> QWidget:
        page = QWidget()
        lay = QVBoxLayout(page)
        self.phase_label = QLabel()
        f = self.phase_label.font()
        f.setPointSizeF(f.pointSizeF() * 1.25)
        f.setBold(True)
        self.phase_label.setFont(f)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(True)
        self.eta_label = QLabel()
        self.live_numbers = QLabel()
        self.live_numbers.setTextFormat(Qt.TextFormat.RichText)
        self.rps_plot = _plot("Throughput (requests/s)", "")
        self.p99_plot = _plot("Latency p99 (ms)", "")
        self.p99_plot.getPlotItem().getAxis("left").enableAutoSIPrefix(False)
        for p in (self.rps_plot, self.p99_plot):
            bottom = p.getPlotItem().getAxis("bottom")
            bottom.setLabel("elapsed (s)")
            bottom.enableAutoSIPrefix(False)
            p.getPlotItem().getViewBox().disableAutoRange()
            p.setXRange(0, 10, padding=0)
            p.setYRange(0, 1, padding=0)
        self.rps_curve = self.rps_plot.plot(pen=pg.mkPen(MEMBER_COLORS[0], width=2))
        self.p99_curve = self.p99_plot.plot(pen=pg.mkPen(MEMBER_COLORS[1], width=2))
        lay.addWidget(self.phase_label)
        lay.addWidget(self.progress)
        lay.addWidget(self.eta_label)
        lay.addWidget(self.live_numbers)
        lay.addWidget(self.rps_plot, 1)
        lay.addWidget(self.p99_plot, 1)
        return page

    # ------------------------------------------------------------------ results page

    def _build_results(self) -> QWidget:
        content = QWidget()
        lay = QVBoxLayout(content)
        head = QHBoxLayout()
        self.result_title = QLabel()
        f = self.result_title.font()
        f.setPointSizeF(f.pointSizeF() * 1.3)
        f.setBold(True)
        self.result_title.setFont(f)
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
        self.summary = QGridLayout(summary_box)
        self.summary.setHorizontalSpacing(16)
        self.summary.setColumnStretch(1, 1)
        self.summary_values: dict[str, QLabel] = {}
        rows = ("Requests", "Errors", "Duration", "Requests/s", "Fastest", "Average",
                "Std. deviation", "Slowest", "Cleanup")
        for i, name in enumerate(rows):
            label = QLabel(name)
            label.setForegroundRole(QPalette.ColorRole.PlaceholderText)
            value = QLabel("-")
            value.setWordWrap(True)
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.summary.addWidget(label, i, 0, Qt.AlignmentFlag.AlignTop)
            self.summary.addWidget(value, i, 1, Qt.AlignmentFlag.AlignTop)
            self.summary_values[name] = value
        self.summary.setRowStretch(len(rows), 1)
        top.addWidget(summary_box, 3)
        pct_box = QGroupBox("Latency percentiles")
        pct_lay = QVBoxLayout(pct_box)
        self.percentiles = _table(["Percentile", "Latency"])
        self.percentiles.setRowCount(len(PERCENTILES))
        _fit_height(self.percentiles, len(PERCENTILES))
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

        self.histogram_plot = _plot("Response time histogram", "")
        self.histogram_plot.getPlotItem().getAxis("left").setLabel("requests")
        self.histogram_plot.getPlotItem().getAxis("bottom").setLabel("latency up to (ms)")
        self.histogram_plot.setFixedHeight(240)
        self._bars: pg.BarGraphItem | None = None
        lay.addWidget(self.histogram_plot)

        cmp_box = QGroupBox("Runs on this cluster in this session")
        cmp_lay = QVBoxLayout(cmp_box)
        self.comparison = _table(["Started", "Workload", "Clients / conns", "Requests",
                                  "Requests/s", "p99", "Errors"])
        self.comparison.horizontalHeader().setSectionResizeMode(
            0, QHeaderView.ResizeMode.ResizeToContents)
        _fit_height(self.comparison, 1)
        cmp_lay.addWidget(self.comparison)
        cmp_box.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        lay.addWidget(cmp_box)
        lay.addStretch(1)

        self._results_layout = lay
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(content)
        return scroll

    # ------------------------------------------------------------------ actions

    @Slot()
    def start(self) -> None:
        if self.running:
            return
        self._pending_verdict = None
        self.startRequested.emit(self.spec(), self._preset, self.confirm.text())

    @Slot()
    def cancel(self) -> None:
        if not self.running or self._cancelling:
            return
        self._cancelling = True
        self.cancel_button.setEnabled(False)
        self.phase_label.setText("Cancelling…")
        self._set_status("Cancelling: the load stops within a second; the benchmark's keys "
                         "are then deleted and the history compacted.")
        self.cancelRequested.emit()

    def export_to(self, path: str) -> None:
        if self.results:
            self.exportRequested.emit(path, self.results[-1])
            self._set_status(f"Exporting to {path}…")

    @Slot()
    def _ask_export(self) -> None:
        if not self.results:
            return
        r = self.results[-1]
        stamp = datetime.fromtimestamp(r.started_at).strftime("%Y%m%d-%H%M%S")
        path, _ = QFileDialog.getSaveFileName(
            self, "Export the per-second series", f"bench-{r.spec.workload.value}-{stamp}.csv",
            "CSV files (*.csv);;All files (*)")
        if path:
            self.export_to(path)

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.running:
            self.cancel()  # closing never leaves load running unseen
        super().closeEvent(event)

    def _set_running(self, running: bool) -> None:
        self.running = running
        self.start_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        self.preset.setEnabled(not running)
        for w in self.findChildren(QGroupBox):
            if w.title() == "Workload":
                w.setEnabled(not running)
        self.export_button.setEnabled(not running and bool(self.results))

    def _set_status(self, text: str, error: bool = False) -> None:
        self.status.setStyleSheet(f"color: {FAIL_COLOR};" if error else "")
        self.status.setText(text)

    # ------------------------------------------------------------------ answers

    @Slot(str, str)
    def show_refused(self, message: str) -> None:
        """The run was not queued (another one is in progress, no config...)."""
        self._set_status(message, error=True)

    @Slot(str)
    def show_queued(self, key: str) -> None:
        """The run was handed to the worker: show the live page at once."""
        if key != self.key:
            return
        self._cancelling = False
        self._live.clear()
        self._redraw()
        self._set_running(True)
        self.stack.setCurrentWidget(self.live_page)
        self.phase_label.setText("Preparing…")
        self.progress.setValue(0)
        self.progress.setFormat("")
        self.eta_label.setText("")
        self.live_numbers.setText("")
        self._set_status("Connecting, checking alarms and that the prefix is empty…")

    @Slot(str)
    def show_started(self, key: str) -> None:
        if key == self.key and not self._cancelling:
            self._set_status("Running. Cancel stops the load within a second.")

    @Slot(str, object)
    def show_progress(self, key: str, p: BenchProgress) -> None:
        if key != self.key or not self.running:
            return
        names = {Phase.PREPARING: "Preparing…", Phase.RUNNING: "Running",
                 Phase.DRAINING: "Stopping: waiting for requests in flight…",
                 Phase.CLEANING: "Cleaning up: deleting keys, compacting…",
                 Phase.DONE: "Done"}
        if not (self._cancelling and p.phase is Phase.RUNNING):
            self.phase_label.setText(names[p.phase] + (f" ({p.message})" if p.message and
                                                       p.phase is Phase.DRAINING else ""))
        fraction = p.fraction
        if fraction is None:
            self.progress.setRange(0, 0)
        else:
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(fraction * 1000))
        of = f" / {_num(p.total)}" if p.total else ""
        self.progress.setFormat(f"{_num(p.done)}{of} requests"
                                + (f" · {fraction:.0%}" if fraction is not None else ""))
        eta = p.eta_s
        bits = [f"{_duration(p.elapsed_s)} elapsed"]
        if eta is not None:
            bits.append(f"about {_duration(eta)} left")
        self.eta_label.setText(" · ".join(bits))
        err = (f" · <span style='color:{FAIL_COLOR}'>{_num(p.errors)} errors</span>"
               if p.errors else "")
        self.live_numbers.setText(
            f"<b>{_num(p.requests_per_s)}</b> requests/s · p99 "
            f"<b>{_ms(p.latency_p99_s)}</b> · mean {_ms(p.latency_mean_s)} · "
            f"max {_ms(p.latency_max_s)}{err}")
        if p.phase in (Phase.RUNNING, Phase.DRAINING) and p.elapsed_s > 0:
            p99 = p.latency_p99_s * 1000 if p.latency_p99_s is not None else np.nan
            self._live.append(p.elapsed_s, p.requests_per_s, p99)
            if not self._redraw_timer.isActive():
                self._redraw_timer.start()

    @Slot()
    def _redraw(self) -> None:
        t = self._live.column(0)
        x_end = max(10.0, float(t[-1]) * 1.05) if len(t) else 10.0
        for plot, curve, col in ((self.rps_plot, self.rps_curve, 1),
                                 (self.p99_plot, self.p99_curve, 2)):
            y = self._live.column(col)
            curve.setData(t, y, connect="finite")
            top = float(np.nanmax(y)) if len(y) and not np.all(np.isnan(y)) else 0.0
            plot.setXRange(0, x_end, padding=0)
            plot.setYRange(0, top * 1.1 if top > 0 else 1.0, padding=0)

    @Slot(str, object)
    def show_verdict(self, key: str, verdict: CheckPerfResult) -> None:
        if key == self.key:
            self._pending_verdict = verdict

    @Slot(str, object)
    def show_result(self, key: str, r: BenchResult) -> None:
        if key != self.key:
            return
        self._redraw()
        self.results.append(r)
        self.verdict = self._pending_verdict
        self._pending_verdict = None
        self._set_running(False)
        self._cancelling = False
        self._render_result(r)
        self.stack.setCurrentWidget(self.results_page)
        if r.cancelled:
            self._set_status(f"Cancelled. {self._cleanup_text(r)}")
        elif r.stop_reason:
            self._set_status(f"Stopped early: {r.stop_reason}", error=True)
        else:
            self._set_status(f"Finished in {_duration(r.duration_s)}. "
                             f"{self._cleanup_text(r)}")

    @Slot(str, str)
    def show_failed(self, key: str, message: str) -> None:
        if key != self.key:
            return
        self._set_running(False)
        self._cancelling = False
        if self.stack.currentWidget() is self.live_page:
            self.stack.setCurrentWidget(self.results_page if self.results
                                        else self.idle_page)
        self._set_status(f"The benchmark did not run: {message}", error=True)

    @Slot(str)
    def show_exported(self, path: str) -> None:
        self._set_status(f"Exported the per-second series to {path}")

    @Slot(str)
    def show_export_failed(self, message: str) -> None:
        self._set_status(f"Export failed: {message}", error=True)

    # ------------------------------------------------------------------ rendering

    @staticmethod
    def _cleanup_text(r: BenchResult) -> str:
        spec = r.spec
        if not (spec.workload.writes and spec.cleanup):
            return "Nothing was written, nothing to clean up."
        c = r.cleanup
        if c.error:
            return f"Cleanup failed: {c.error}"
        text = f"Cleanup: deleted {_num(c.deleted)} keys under {spec.prefix}"
        if c.compacted_revision is not None:
            text += f", compacted at revision {c.compacted_revision}"
        if c.defragmented:
            text += f", defragmented {len(c.defragmented)} member(s)"
        return text + "."

    def _render_result(self, r: BenchResult) -> None:
        spec = r.spec
        what = spec.label or spec.workload.value
        limit = (f"{spec.duration_s:g} s" if spec.duration_s
                 else f"{_num(spec.total)} requests")
        rate = f", {spec.rate:g}/s limit" if spec.rate else ""
        self.result_title.setText(f"{what} · {limit} · {spec.clients} clients, "
                                  f"{spec.conns} conns{rate}")
        notes = []
        if r.cancelled:
            notes.append(f"<b>Cancelled</b> after {_num(r.total)} requests "
                         f"({_num(r.abandoned)} in flight abandoned).")
        elif r.stop_reason:
            notes.append(f"<b style='color:{FAIL_COLOR}'>Stopped early:</b> {r.stop_reason}")
        notes.append(self._cleanup_text(r))
        notes += [f"⚠ {w}" for w in r.warnings]
        self.notice.setText("<br>".join(notes))

        v = self.summary_values
        v["Requests"].setText(f"{_num(r.total)} ({_num(r.successes)} succeeded)")
        if r.errors_by_code:
            v["Errors"].setText("<br>".join(
                f"<span style='color:{FAIL_COLOR}'>{e.count:,} {e.code}</span>: {e.message}"
                for e in r.errors_by_code))
        else:
            v["Errors"].setText("none")
        v["Duration"].setText(_duration(r.duration_s))
        v["Requests/s"].setText(f"<b>{r.requests_per_s:,.1f}</b>")
        lat = r.latency
        v["Fastest"].setText(_ms(lat.min_s if lat else None))
        v["Average"].setText(_ms(lat.mean_s if lat else None))
        v["Std. deviation"].setText(_ms(lat.stddev_s if lat else None))
        v["Slowest"].setText(_ms(lat.max_s if lat else None))
        c = r.cleanup
        v["Cleanup"].setText("error" if c.error else
                             f"{_num(c.deleted)} keys deleted" if spec.workload.writes
                             else "-")

        for i, p in enumerate(PERCENTILES):
            value = lat.percentile(p) if lat else None
            self.percentiles.setItem(i, 0, _item(f"p{p:g}", align_right=False))
            self.percentiles.setItem(i, 1, _item(_ms(value)))

        self._render_histogram(r)
        self._render_verdict()
        self._render_comparison()
        self._results_layout.activate()  # sizes now, not at the next layout request

    def _render_histogram(self, r: BenchResult) -> None:
        plot = self.histogram_plot.getPlotItem()
        if self._bars is not None:
            plot.removeItem(self._bars)
            self._bars = None
        buckets = r.histogram
        if not buckets:
            return
        x = np.arange(len(buckets), dtype=float)
        heights = np.array([b.count for b in buckets], dtype=float)
        color = QColor(MEMBER_COLORS[0])
        self._bars = pg.BarGraphItem(x=x, height=heights, width=0.8, brush=color,
                                     pen=pg.mkPen(color.darker(130)))
        plot.addItem(self._bars)
        step = max(1, len(buckets) // 10)
        ticks = [(float(i), f"{b.upper_s * 1000:.3g}") for i, b in enumerate(buckets)
                 if i % step == 0 or i == len(buckets) - 1]
        plot.getAxis("bottom").setTicks([ticks])
        plot.setXRange(-0.6, len(buckets) - 0.4, padding=0)
        plot.setYRange(0, max(1.0, float(heights.max())) * 1.08, padding=0)

    def _render_verdict(self) -> None:
        verdict = self.verdict
        self.check_box.setVisible(verdict is not None)
        self.verdict_badge.setVisible(verdict is not None)
        if verdict is None:
            return
        color = PASS_COLOR if verdict.passed else FAIL_COLOR
        self.verdict_badge.setText("PASS" if verdict.passed else "FAIL")
        self.verdict_badge.setStyleSheet(
            f"background: {color}; color: white; font-weight: bold; border-radius: 4px;"
            "padding: 4px 14px;")
        self.check_box.setTitle(f"Check perf {verdict.preset.name}: "
                                f"{verdict.preset.limit} writes/s, "
                                f"{verdict.preset.clients} clients")
        self.check_lines.setText("<br>".join(
            f"<span style='color:{PASS_COLOR if line.passed else FAIL_COLOR}'>"
            f"{'✔' if line.passed else '✘'}</span> {line.text}" for line in verdict.lines))

    def _render_comparison(self) -> None:
        t = self.comparison
        runs = list(reversed(self.results))
        t.setRowCount(len(runs))
        bold = QFont(t.font())
        bold.setBold(True)
        for row, r in enumerate(runs):
            p99 = r.latency.percentile(99.0) if r.latency else None
            started = time.strftime("%H:%M:%S", time.localtime(r.started_at))
            cells = [started + (" (this run)" if row == 0 else ""),
                     r.spec.label or r.spec.workload.value,
                     f"{r.spec.clients} / {r.spec.conns}", _num(r.total),
                     f"{r.requests_per_s:,.1f}", _ms(p99), _num(r.errors)]
            for col, text in enumerate(cells):
                item = _item(text, align_right=col >= 3)
                if row == 0:
                    item.setFont(bold)
                t.setItem(row, col, item)
        _fit_height(t, min(max(len(runs), 1), 6))

    def comparison_rows(self) -> list[list[str]]:
        """The comparison table as text, newest first (tests, accessibility)."""
        t = self.comparison
        return [[_text(t, r, c) for c in range(t.columnCount())] for r in range(t.rowCount())]

    def percentile_rows(self) -> list[tuple[str, str]]:
        t = self.percentiles
        return [(_text(t, r, 0), _text(t, r, 1)) for r in range(t.rowCount())]


def _text(t: QTableWidget, row: int, col: int) -> str:
    item = t.item(row, col)
    return item.text() if item is not None else ""

