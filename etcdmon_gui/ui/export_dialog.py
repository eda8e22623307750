"""File → Export…: the history as a CSV file (metrics, alert history, the member
inventory, benchmark runs), with a preview of the row count and a progress bar with
Cancel.

The dialog reads no file and writes none: it collects an ``ExportRequest`` and shows
the answers ``app.py`` gives, which runs each question as a job in the history reader's
thread (``reports`` writes the file whole, so a cancelled or failed export leaves no
file). Even the output path is only checked there: nothing here touches the disk.

Signals:
    clustersRequested(): the clusters and members the history knows, asked each time
        the dialog is shown; answer ``show_clusters(clusters, members)`` or
        ``show_clusters_failed(text)``.
    countRequested(ExportRequest): how many rows the export would have (the request's
        ``path`` is ""), asked ``COUNT_DELAY_MS`` after the last change of a choice;
        answer ``show_count(request, rows)`` or ``show_count_failed(request, text)``.
        Answers to an earlier request are dropped.
    exportRequested(ExportRequest): write the file; answer with ``show_progress(done,
        total)`` as it goes, then ``show_exported(path, rows, note)``,
        ``show_export_failed(text)`` or ``show_export_cancelled()``.
    cancelRequested(): stop the export in progress (Cancel, or closing the dialog).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QDateTime, QStandardPaths, Qt, QTimer, Signal
from PySide6.QtGui import QShowEvent, QStandardItemModel
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDateTimeEdit,
    QDialog,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from etcdmon_gui.formatting import fmt_count
from etcdmon_gui.model.history import (
    CLUSTER_WIDE,
    Aggregate,
    ClusterRecord,
    HistoryLimits,
    MemberRecord,
    ReportKind,
    ReportRequest,
    SignalDef,
    SignalScope,
)
from etcdmon_gui.ui.palette import ERROR_COLOUR, WARNING_COLOUR

__all__ = [
    "CANCELLED_TEXT",
    "COUNT_DELAY_MS",
    "ExportDialog",
    "ExportRequest",
    "default_file_name",
]

Clock = Callable[[], float]

DAY = 86_400.0
COUNT_DELAY_MS = 250
CANCELLED_TEXT = "Cancelled; no file written"
_DATE_FORMAT = "yyyy-MM-dd HH:mm"
_ALL_TIME = "all"
_CUSTOM = "custom"

# (label, seconds back from now)
RANGE_PRESETS: tuple[tuple[str, float], ...] = (
    ("Last 1 h", 3600.0),
    ("Last 24 h", DAY),
    ("Last 7 d", 7 * DAY),
    ("Last 30 d", 30 * DAY),
)
DEFAULT_PRESET = 1  # last 24 h
RAW = 0.0
# (label, step in seconds); None: the finest level the history keeps for the range.
STEPS: tuple[tuple[str, float | None], ...] = (
    ("Auto (finest kept)", None),
    ("Raw samples", RAW),
    ("1 min", 60.0),
    ("5 min", 300.0),
    ("1 h", 3600.0),
)


@dataclass(frozen=True, slots=True)
class ExportRequest:
    """One export as chosen. ``cluster`` is the connection key the history is keyed by
    (None: every cluster; metrics are of one). The range is ``last_s`` back from when
    the job runs (a preset), else ``start``..``end`` (UNIX seconds; both None: all
    time). ``step_s``: None for the finest level kept, ``0`` for raw samples only.
    ``members`` (ids in hex, ``CLUSTER_WIDE`` for the cluster-wide row) and ``signals``
    (keys): None for all. ``path`` is "" for a count."""

    kind: ReportKind
    cluster: str | None
    cluster_name: str = ""
    last_s: float | None = None
    start: float | None = None
    end: float | None = None
    step_s: float | None = None
    aggregate: Aggregate = Aggregate.AVG
    members: tuple[str, ...] | None = None
    signals: tuple[str, ...] | None = None
    path: str = ""

    def time_range(self, now: float) -> tuple[float | None, float | None]:
        """(start, end) as of ``now``; None for no bound."""
        if self.last_s is not None:
            return now - self.last_s, now
        return self.start, self.end

    def report(self, now: float) -> ReportRequest:
        """What to write, as of ``now`` (a preset's range ends then)."""
        start, end = self.time_range(now)
        return ReportRequest(
            self.kind,
            self.cluster,
            self.cluster_name,
            start=start,
            end=end,
            step_s=self.step_s,
            aggregate=self.aggregate,
            members=self.members,
            signals=self.signals,
        )


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.") or "cluster"


def default_file_name(kind: ReportKind, cluster_name: str | None, when: float) -> str:
    """``etcdmon-metrics-prod-2026-12-03.csv`` (``all`` for every cluster; local date)."""
    cluster = "all" if cluster_name is None else _slug(cluster_name)
    return f"etcdmon-{kind.value}-{cluster}-{time.strftime('%Y-%m-%d', time.localtime(when))}.csv"


def _span(seconds: float) -> str:
    if seconds >= 2 * DAY and seconds % DAY == 0:
        return f"{seconds / DAY:.0f} d"
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 60:.0f} min"


def _edit(name: str, t: float) -> QDateTimeEdit:
    edit = QDateTimeEdit(QDateTime.fromMSecsSinceEpoch(round(t * 1000)))
    edit.setObjectName(name)
    edit.setCalendarPopup(True)
    edit.setDisplayFormat(_DATE_FORMAT)
    return edit


def _seconds(edit: QDateTimeEdit) -> float:
    return edit.dateTime().toMSecsSinceEpoch() / 1000


def _checkable_list(name: str) -> QListWidget:
    view = QListWidget()
    view.setObjectName(name)
    view.setUniformItemSizes(True)
    view.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    view.setTextElideMode(Qt.TextElideMode.ElideRight)
    return view


def _checked(view: QListWidget) -> tuple[str, ...]:
    return tuple(
        str(view.item(i).data(Qt.ItemDataRole.UserRole))
        for i in range(view.count())
        if view.item(i).checkState() == Qt.CheckState.Checked
    )


def _add_checkable(view: QListWidget, text: str, data: str, tip: str) -> None:
    item = QListWidgetItem(text)
    item.setData(Qt.ItemDataRole.UserRole, data)
    item.setToolTip(tip)
    item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
    item.setCheckState(Qt.CheckState.Checked)
    view.addItem(item)


class ExportDialog(QDialog):
    """What to export, of which cluster and range (and, for metrics, which step,
    figure, members and signals), to which file. See the module for the signals."""

    clustersRequested = Signal()
    countRequested = Signal(object)
    exportRequested = Signal(object)
    cancelRequested = Signal()

    def __init__(
        self,
        signals: Sequence[SignalDef],
        limits: HistoryLimits | None = None,
        parent: QWidget | None = None,
        *,
        clock: Clock = time.time,
        directory: str | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export to CSV")
        self.setObjectName("exportDialog")
        self.clock = clock
        self.limits = limits or HistoryLimits()
        self._signals = tuple(signals)
        self._clusters: list[ClusterRecord] = []
        self._members: dict[str, list[MemberRecord]] = {}
        self._loaded = False  # the clusters arrived
        self._load_problem: str | None = None
        self._counting: ExportRequest | None = None  # the count request awaited
        self.count: int | None = None  # the last count shown
        self.exporting: ExportRequest | None = None
        self._cancelling = False
        self._directory = directory or (
            QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)
            or str(Path.home())
        )
        self._auto_path = ""

        self._build()
        self._kind_changed()
        self._update_path()
        self._changed()

    # -- building ---------------------------------------------------------------------

    def _build(self) -> None:
        self.kind_combo = QComboBox()
        self.kind_combo.setObjectName("exportKind")
        for kind in ReportKind:
            self.kind_combo.addItem(kind.title, kind)
        self.kind_combo.currentIndexChanged.connect(self._kind_changed)

        self.cluster_combo = QComboBox()
        self.cluster_combo.setObjectName("exportCluster")
        self.cluster_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.cluster_combo.setMinimumContentsLength(16)
        self.cluster_combo.addItem("All clusters", None)
        self.cluster_combo.currentIndexChanged.connect(self._cluster_changed)

        self.range_combo = QComboBox()
        self.range_combo.setObjectName("exportRange")
        for label, seconds in RANGE_PRESETS:
            self.range_combo.addItem(label, seconds)
        self.range_combo.addItem("All time", _ALL_TIME)
        self.range_combo.addItem("Custom…", _CUSTOM)
        self.range_combo.setCurrentIndex(DEFAULT_PRESET)
        self._preset: float | str = RANGE_PRESETS[DEFAULT_PRESET][1]  # the last one not custom
        self.range_combo.currentIndexChanged.connect(self._range_changed)
        now = self.clock()
        self.from_edit = _edit("exportFrom", now - DAY)
        self.to_edit = _edit("exportTo", now)
        for edit in (self.from_edit, self.to_edit):
            edit.dateTimeChanged.connect(self._changed)
        offset = time.strftime("%z", time.localtime(now))
        zone = f"UTC{offset[:3]}:{offset[3:]}" if len(offset) == 5 else "local time"
        self.custom_row = QWidget()
        custom = QHBoxLayout(self.custom_row)
        custom.setContentsMargins(0, 0, 0, 0)
        custom.addWidget(self.from_edit)
        custom.addWidget(QLabel("to"))
        custom.addWidget(self.to_edit)
        zone_label = QLabel(f"({zone})")
        zone_label.setToolTip("Times are typed in local time; the file has them in UTC")
        custom.addWidget(zone_label)
        custom.addStretch(1)
        range_row = QWidget()
        range_lay = QHBoxLayout(range_row)
        range_lay.setContentsMargins(0, 0, 0, 0)
        range_lay.addWidget(self.range_combo)
        range_lay.addWidget(self.custom_row)
        range_lay.addStretch(1)
        for combo in (self.kind_combo, self.cluster_combo, self.range_combo):
            combo.setMinimumWidth(170)
        self.custom_row.setVisible(False)

        self.form = form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
        form.addRow("What:", self.kind_combo)
        form.addRow("Cluster:", self.cluster_combo)
        form.addRow("Time range:", range_row)

        self.metrics_box = self._build_metrics()

        self.path_edit = QLineEdit()
        self.path_edit.setObjectName("exportPath")
        self.path_edit.setPlaceholderText("the CSV file to write")
        self.path_edit.setMinimumWidth(440)  # the folder and the whole default name
        self.path_edit.textChanged.connect(self._update_buttons)
        self.choose_button = QPushButton("Choose…")
        self.choose_button.setObjectName("exportChoose")
        self.choose_button.clicked.connect(self._choose_file)
        file_row = QWidget()
        file_lay = QHBoxLayout(file_row)
        file_lay.setContentsMargins(0, 0, 0, 0)
        file_lay.addWidget(self.path_edit, 1)
        file_lay.addWidget(self.choose_button)
        form.addRow(self.metrics_box)  # across both columns; hidden but for metrics
        form.addRow("File:", file_row)

        self.preview = QLabel()
        self.preview.setObjectName("exportPreview")
        self.preview.setWordWrap(True)
        self.progress = QProgressBar()
        self.progress.setObjectName("exportProgress")
        self.progress.setVisible(False)
        self.status = QLabel()
        self.status.setObjectName("exportStatus")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.status.setVisible(False)
        hint = QLabel(
            "RFC 4180 CSV, UTF-8, one header row, units in column names, times in UTC "
            "(ISO 8601). The file is written whole, or not at all."
        )
        hint.setWordWrap(True)
        hint.setStyleSheet("color: palette(placeholder-text);")

        self.export_button = QPushButton("Export")
        self.export_button.setObjectName("exportButton")
        self.export_button.setDefault(True)
        self.export_button.clicked.connect(self._export_clicked)
        self.close_button = QPushButton("Close")
        self.close_button.setObjectName("exportClose")
        self.close_button.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        buttons.addWidget(self.preview, 1)
        buttons.addWidget(self.export_button)
        buttons.addWidget(self.close_button)

        lay = QVBoxLayout(self)
        lay.addLayout(form, 1)
        lay.addWidget(hint)
        lay.addWidget(self.progress)
        lay.addWidget(self.status)
        lay.addLayout(buttons)

        self._count_timer = QTimer(self)
        self._count_timer.setSingleShot(True)
        self._count_timer.setInterval(COUNT_DELAY_MS)
        self._count_timer.timeout.connect(self._ask_count)

    def _build_metrics(self) -> QGroupBox:
        box = QGroupBox("Metrics")
        box.setObjectName("exportMetrics")
        box.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Expanding)
        self.step_combo = QComboBox()
        self.step_combo.setObjectName("exportStep")
        for label, step in STEPS:
            self.step_combo.addItem(label, step)
        lim = self.limits
        self.step_combo.setToolTip(
            f"The history keeps raw samples for {_span(lim.raw_s)}, one point a minute for "
            f"{_span(lim.minute_s)} and one an hour for {_span(lim.hour_s)}. Auto: every "
            "point as finely as the history still keeps the range; a step rolls them up."
        )
        self.step_combo.currentIndexChanged.connect(self._changed)
        self.aggregate_combo = QComboBox()
        self.aggregate_combo.setObjectName("exportAggregate")
        for agg in (Aggregate.AVG, Aggregate.MIN, Aggregate.MAX, Aggregate.LAST):
            self.aggregate_combo.addItem(agg.value, agg)
        self.aggregate_combo.setToolTip(
            "Which figure of a rolled-up point: average, min, max, last"
        )
        self.aggregate_combo.currentIndexChanged.connect(self._changed)
        step_row = QHBoxLayout()
        step_row.addWidget(QLabel("Step:"))
        step_row.addWidget(self.step_combo)
        step_row.addSpacing(12)
        step_row.addWidget(QLabel("Aggregate:"))
        step_row.addWidget(self.aggregate_combo)
        step_row.addStretch(1)

        self.all_members = QCheckBox("All members")
        self.all_members.setObjectName("exportAllMembers")
        self.all_members.setChecked(True)
        self.member_list = _checkable_list("exportMembers")
        self.all_signals = QCheckBox("All signals")
        self.all_signals.setObjectName("exportAllSignals")
        self.all_signals.setChecked(True)
        self.signal_list = _checkable_list("exportSignals")
        for sig in self._signals:
            scope = "cluster-wide" if sig.scope is SignalScope.CLUSTER else "per member"
            text = sig.title + (" (cluster)" if sig.scope is SignalScope.CLUSTER else "")
            tip = f"{sig.title}\n{sig.key}: {sig.unit}, {scope}"
            _add_checkable(self.signal_list, text, sig.key, tip)
        for check, view in (
            (self.all_members, self.member_list),
            (self.all_signals, self.signal_list),
        ):
            view.setEnabled(False)
            check.toggled.connect(lambda on, v=view: v.setEnabled(not on))
            check.toggled.connect(self._changed)
            view.itemChanged.connect(self._changed)
        self.member_list.setMinimumWidth(200)
        self.signal_list.setMinimumWidth(280)
        self.member_list.setMinimumHeight(140)
        lists = QHBoxLayout()
        for check, view, stretch in (
            (self.all_members, self.member_list, 2),
            (self.all_signals, self.signal_list, 3),
        ):
            column = QVBoxLayout()
            column.addWidget(check)
            column.addWidget(view, 1)
            lists.addLayout(column, stretch)

        lay = QVBoxLayout(box)
        lay.addLayout(step_row)
        lay.addLayout(lists, 1)
        return box

    # -- what is chosen ---------------------------------------------------------------

    def kind(self) -> ReportKind:
        kind: ReportKind = self.kind_combo.currentData()
        return kind

    def _cluster(self) -> ClusterRecord | None:
        key = self.cluster_combo.currentData()
        return next((c for c in self._clusters if c.key == key), None)

    def _range(self) -> tuple[float | None, float | None, float | None]:
        """(last_s, start, end) as chosen."""
        data = self.range_combo.currentData()
        if data == _CUSTOM:
            return None, _seconds(self.from_edit), _seconds(self.to_edit)
        if data == _ALL_TIME:
            return None, None, None
        return float(data), None, None

    def request(self, path: str = "") -> ExportRequest:
        """The export as chosen (whether it can run or not: see ``problem``)."""
        kind = self.kind()
        cluster = self._cluster()
        last_s, start, end = self._range()
        metrics = kind is ReportKind.METRICS
        step: float | None = self.step_combo.currentData() if metrics else None
        return ExportRequest(
            kind=kind,
            cluster=None if cluster is None else cluster.key,
            cluster_name="" if cluster is None else cluster.name,
            last_s=last_s,
            start=start,
            end=end,
            step_s=step,
            aggregate=self.aggregate_combo.currentData() if metrics else Aggregate.AVG,
            members=None
            if not metrics or self.all_members.isChecked()
            else _checked(self.member_list),
            signals=None
            if not metrics or self.all_signals.isChecked()
            else _checked(self.signal_list),
            path=path,
        )

    def problem(self) -> str | None:
        """Why the choices make no export; None when they do."""
        if self._load_problem is not None:
            return f"The history cannot be read: {self._load_problem}"
        if not self._loaded:
            return "Loading the clusters…"
        r = self.request()
        if r.start is not None and r.end is not None and r.end <= r.start:
            return "“From” must be before “To”."
        if r.kind is not ReportKind.METRICS:
            return None
        if r.cluster is None:
            return "The history has no cluster yet: it keeps metrics while the app watches one."
        if r.members is not None and not r.members:
            return "Pick at least one member, or All members."
        if r.signals is not None and not r.signals:
            return "Pick at least one signal, or All signals."
        if r.step_s == RAW:
            raw = self.limits.raw_s
            too_old = (
                r.last_s > raw if r.last_s is not None else (r.start or 0) < self.clock() - raw
            )
            if too_old:
                return (
                    f"Raw samples are kept for {_span(raw)}: choose a range within the last "
                    f"{_span(raw)}, or Auto or a step."
                )
        return None

    # -- reacting to choices ------------------------------------------------------------

    def _kind_changed(self) -> None:
        metrics = self.kind() is ReportKind.METRICS
        self.form.setRowVisible(self.metrics_box, metrics)
        # Metrics are of one cluster over a bounded range.
        self._enable_item(self.cluster_combo, 0, not metrics)
        if metrics and self.cluster_combo.currentIndex() == 0 and self.cluster_combo.count() > 1:
            self.cluster_combo.setCurrentIndex(1)
        all_time = self.range_combo.findData(_ALL_TIME)
        self._enable_item(self.range_combo, all_time, not metrics)
        if metrics and self.range_combo.currentIndex() == all_time:
            self.range_combo.setCurrentIndex(DEFAULT_PRESET)
        if self.isVisible():
            self.adjustSize()
        self._update_path()
        self._changed()

    @staticmethod
    def _enable_item(combo: QComboBox, row: int, enabled: bool) -> None:
        model = combo.model()
        if isinstance(model, QStandardItemModel) and (item := model.item(row)) is not None:
            item.setEnabled(enabled)

    def _cluster_changed(self) -> None:
        self._fill_members()
        self._update_path()
        self._changed()

    def _range_changed(self) -> None:
        data = self.range_combo.currentData()
        custom = data == _CUSTOM
        if custom and isinstance(self._preset, float):
            # From the preset chosen before, to now.
            now = self.clock()
            for edit, t in ((self.from_edit, now - self._preset), (self.to_edit, now)):
                edit.blockSignals(True)
                edit.setDateTime(QDateTime.fromMSecsSinceEpoch(round(t * 1000)))
                edit.blockSignals(False)
        if not custom:
            self._preset = data
        self.custom_row.setVisible(custom)
        self._changed()

    def _fill_members(self) -> None:
        cluster = self._cluster()
        self.member_list.blockSignals(True)
        try:
            self.member_list.clear()
            if cluster is None:
                return
            _add_checkable(
                self.member_list,
                "(cluster-wide signals)",
                CLUSTER_WIDE,
                "The row of each time with the cluster-wide signals (member_id empty)",
            )
            for m in sorted(self._members.get(cluster.key, []), key=lambda m: (m.name, m.member)):
                _add_checkable(
                    self.member_list, m.name or m.member, m.member, f"member id {m.member}"
                )
        finally:
            self.member_list.blockSignals(False)

    def _update_path(self) -> None:
        """A default file name for the choices, unless the user named the file."""
        current = self.path_edit.text()
        if current and current != self._auto_path:
            return
        cluster = self._cluster()
        name = default_file_name(
            self.kind(), None if cluster is None else cluster.name, self.clock()
        )
        self._auto_path = str(Path(self._directory) / name)
        self.path_edit.setText(self._auto_path)

    def _changed(self) -> None:
        """A choice changed: the count shown no longer holds; ask again shortly."""
        if self.exporting is not None:
            return
        # A raw sample is its own min, avg, max and last.
        self.aggregate_combo.setEnabled(self.step_combo.currentData() != RAW)
        self.count = None
        self._counting = None
        problem = self.problem()
        if problem is not None:
            self._count_timer.stop()
            self._set_preview(problem, warn=self._loaded)
        else:
            self._set_preview("Counting…")
            self._count_timer.start()
        self._update_buttons()

    def _ask_count(self) -> None:
        if self.problem() is not None or self.exporting is not None:
            return
        self._counting = self.request()
        self.countRequested.emit(self._counting)

    def _set_preview(self, text: str, *, warn: bool = False, error: bool = False) -> None:
        colour = ERROR_COLOUR if error else WARNING_COLOUR if warn else None
        self.preview.setStyleSheet(f"color: {colour};" if colour else "")
        self.preview.setText(text)

    def _set_status(self, text: str, *, error: bool = False) -> None:
        self.status.setStyleSheet(f"color: {ERROR_COLOUR};" if error else "")
        self.status.setText(text)
        self.status.setVisible(bool(text))

    def _update_buttons(self) -> None:
        if self.exporting is not None:
            self.export_button.setText("Cancelling…" if self._cancelling else "Cancel")
            self.export_button.setEnabled(not self._cancelling)
            return
        self.export_button.setText("Export")
        ok = self.problem() is None and bool(self.path_edit.text().strip())
        self.export_button.setEnabled(ok)

    def _set_fields_enabled(self, enabled: bool) -> None:
        for w in (
            self.kind_combo,
            self.cluster_combo,
            self.range_combo,
            self.custom_row,
            self.metrics_box,
            self.path_edit,
            self.choose_button,
        ):
            w.setEnabled(enabled)

    def _choose_file(self) -> None:
        start = self.path_edit.text().strip() or self._auto_path
        path, chosen = QFileDialog.getSaveFileName(
            self, "Export to", start, "CSV files (*.csv);;All files (*)"
        )
        if not path:
            return
        if chosen.startswith("CSV") and not Path(path).suffix:
            path += ".csv"
        self._directory = str(Path(path).parent)
        self.path_edit.setText(path)

    # -- exporting ----------------------------------------------------------------------

    def _export_clicked(self) -> None:
        if self.exporting is not None:
            self.cancel()
            return
        path = self.path_edit.text().strip()
        if self.problem() is not None or not path:
            return
        self.exporting = self.request(path)
        self._cancelling = False
        self._count_timer.stop()
        self._set_fields_enabled(False)
        if self.count is None:
            self._set_preview("")  # no count will come while it writes
        self.progress.setRange(0, 0)  # busy until the total is known
        self.progress.setFormat("")
        self.progress.setVisible(True)
        self._set_status("")
        self._update_buttons()
        self.exportRequested.emit(self.exporting)

    def cancel(self) -> None:
        """Stop the export in progress; its answer (cancelled) ends the exporting state."""
        if self.exporting is None or self._cancelling:
            return
        self._cancelling = True
        self._update_buttons()
        self.cancelRequested.emit()

    def _done_exporting(self) -> None:
        self.exporting = None
        self._cancelling = False
        self.progress.setVisible(False)
        self._set_fields_enabled(True)
        self._update_buttons()
        if self.count is None:
            self._changed()

    def reject(self) -> None:
        """Close (or Escape, or the window's close button): an export in progress is
        cancelled, never left writing unseen."""
        self.cancel()
        super().reject()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.clustersRequested.emit()

    # -- answers ------------------------------------------------------------------------

    def show_clusters(
        self, clusters: Sequence[ClusterRecord], members: Sequence[MemberRecord]
    ) -> None:
        """The clusters and members the history knows; the choice is kept if it still is."""
        self._loaded = True
        self._load_problem = None
        self._clusters = sorted(clusters, key=lambda c: (c.name.casefold(), c.key))
        self._members = {}
        for m in members:
            self._members.setdefault(m.cluster, []).append(m)
        chosen = self.cluster_combo.currentData()
        names = [c.name for c in self._clusters]
        self.cluster_combo.blockSignals(True)
        try:
            while self.cluster_combo.count() > 1:
                self.cluster_combo.removeItem(1)
            for c in self._clusters:
                text = f"{c.name} ({c.key})" if names.count(c.name) > 1 else c.name
                self.cluster_combo.addItem(text, c.key)
                tip = f"{c.key}" + (f", cluster id {c.cluster_id}" if c.cluster_id else "")
                self.cluster_combo.setItemData(
                    self.cluster_combo.count() - 1, tip, Qt.ItemDataRole.ToolTipRole
                )
            index = self.cluster_combo.findData(chosen) if chosen is not None else 0
            self.cluster_combo.setCurrentIndex(max(0, index))
        finally:
            self.cluster_combo.blockSignals(False)
        self._kind_changed()  # metrics pick a cluster
        self._fill_members()
        self._update_path()
        self._changed()

    def show_clusters_failed(self, message: str) -> None:
        self._load_problem = message
        self._changed()
        self._set_preview(self.problem() or message, error=True)

    def show_count(self, request: ExportRequest, rows: int) -> None:
        if request != self._counting or self.exporting is not None:
            return  # an older question
        self._counting = None
        self.count = rows
        self._set_preview(f"≈ {fmt_count(rows)} rows" if rows != 1 else "≈ 1 row")

    def show_count_failed(self, request: ExportRequest, message: str) -> None:
        if request != self._counting:
            return
        self._counting = None
        self._set_preview(f"Cannot count the rows: {message}", error=True)

    def show_progress(self, done: int, total: int | None) -> None:
        if self.exporting is None:
            return
        if total:
            self.progress.setRange(0, total)
            self.progress.setValue(min(done, total))
            self.progress.setFormat(f"{fmt_count(done)} of {fmt_count(total)} rows")
        else:
            self.progress.setRange(0, 0)

    def show_exported(self, path: str, rows: int, note: str = "") -> None:
        self._done_exporting()
        text = f"Wrote {fmt_count(rows)} row{'s' if rows != 1 else ''} to {path}"
        self._set_status(f"{text}\n{note}" if note else text)

    def show_export_failed(self, message: str) -> None:
        self._done_exporting()
        self._set_status(message, error=True)

    def show_export_cancelled(self) -> None:
        self._done_exporting()
        self._set_status(CANCELLED_TEXT)
