"""The Maintenance log: every maintenance run, newest first, with its details.

One row per ``AuditRecord`` (time, user, cluster, operation, summary, result); the
selected row's details (each step's outcome, the warnings, a refusal's reason) below
the table. ``set_records`` takes what the history kept (earlier sessions included),
``add_record`` each run of this session as it ends; a run is listed once either way.
``show_note`` says why earlier runs are missing (the history is off).
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from PySide6.QtCore import QItemSelection, QModelIndex, Qt
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import QHeaderView, QLabel, QPlainTextEdit, QSplitter, QVBoxLayout, QWidget

from etcdmon_gui.model.ops import AuditRecord
from etcdmon_gui.ui.palette import ERROR_COLOUR, HEALTHY_COLOUR, WARNING_COLOUR
from etcdmon_gui.ui.row_table_model import ModelIndex, RowTableModel, row_table_view

COLUMNS = ("Time", "User", "Cluster", "Operation", "Summary", "Result")
COL_TIME, COL_USER, COL_CLUSTER, COL_OP, COL_SUMMARY, COL_RESULT = range(len(COLUMNS))
MAX_ROWS = 1000

RESULT_COLOURS = {
    "ok": HEALTHY_COLOUR,
    "failed": ERROR_COLOUR,
    "cancelled": WARNING_COLOUR,
    "refused": WARNING_COLOUR,
}

RecordKey = tuple[float, str, str, str, str]


def record_key(r: AuditRecord) -> RecordKey:
    """What makes a run the same run, stored or just ended."""
    return (round(r.at, 3), r.cluster, r.kind.value, r.result, r.user)


def when(ts: float, now: float) -> str:
    same_day = time.localtime(ts)[:3] == time.localtime(now)[:3]
    return time.strftime("%H:%M:%S" if same_day else "%Y-%m-%d %H:%M", time.localtime(ts))


def details_text(r: AuditRecord) -> str:
    """The record in words, for the details pane and the clipboard."""
    started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(r.at))
    took = ""
    if r.ended_at is not None and r.ended_at > r.at:
        took = f", took {r.ended_at - r.at:.1f} s"
    head = [
        f"{r.kind.title} on {r.cluster_name or r.cluster}: {r.result}",
        f"by {r.user}, {started}{took}",
        r.summary,
    ]
    return "\n".join([*head, "", r.detail] if r.detail else head)


class MaintenanceLogModel(RowTableModel[AuditRecord]):
    """The runs, newest first; bounded, each once."""

    columns = COLUMNS

    def __init__(self, max_rows: int = MAX_ROWS, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.max_rows = max_rows
        self._keys: set[RecordKey] = set()
        self._bold = QFont()
        self._bold.setBold(True)

    def add_record(self, rec: AuditRecord) -> None:
        key = record_key(rec)
        if key in self._keys:
            return
        position = 0
        while position < len(self._rows) and self._rows[position].at > rec.at:
            position += 1
        if position >= self.max_rows:
            return
        self.beginInsertRows(QModelIndex(), position, position)
        self._rows.insert(position, rec)
        self._keys.add(key)
        self.endInsertRows()
        if len(self._rows) > self.max_rows:
            last = len(self._rows) - 1
            self.beginRemoveRows(QModelIndex(), self.max_rows, last)
            for gone in self._rows[self.max_rows :]:
                self._keys.discard(record_key(gone))
            del self._rows[self.max_rows :]
            self.endRemoveRows()

    def set_records(self, records: Iterable[AuditRecord]) -> None:
        """The history's runs merged with those shown (this session's)."""
        rows = {record_key(r): r for r in records}
        rows.update({record_key(r): r for r in self._rows})
        merged = sorted(rows.values(), key=lambda r: r.at, reverse=True)[: self.max_rows]
        self.beginResetModel()
        self._rows = merged
        self._keys = {record_key(r) for r in merged}
        self.endResetModel()

    def record(self, row: int) -> AuditRecord:
        return self._rows[row]

    def records(self) -> list[AuditRecord]:
        return list(self._rows)

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        r = self._row_at(index)
        if r is None:
            return None
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return (
                when(r.at, time.time()),
                r.user,
                r.cluster_name or r.cluster,
                r.kind.title,
                r.summary,
                r.result,
            )[col]
        if role == Qt.ItemDataRole.ToolTipRole:
            if col == COL_TIME:
                return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(r.at))
            if col == COL_CLUSTER:
                return r.cluster
            if col in (COL_SUMMARY, COL_RESULT):
                return details_text(r)
            return None
        if role == Qt.ItemDataRole.ForegroundRole and col == COL_RESULT:
            colour = RESULT_COLOURS.get(r.result)
            return QBrush(QColor(colour)) if colour else None
        if role == Qt.ItemDataRole.FontRole and col == COL_RESULT and r.result != "ok":
            return self._bold
        return None


class MaintenanceLogWidget(QWidget):
    """The table, a summary line above it and the selected run's details below."""

    def __init__(self, max_rows: int = MAX_ROWS, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = MaintenanceLogModel(max_rows, self)
        self.table = row_table_view("maintenanceLog", self.model)
        header = self.table.horizontalHeader()
        for col in (COL_TIME, COL_USER, COL_RESULT):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        for col, width in ((COL_CLUSTER, 140), (COL_OP, 170)):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.Interactive)
            header.resizeSection(col, width)
        header.setSectionResizeMode(COL_SUMMARY, QHeaderView.ResizeMode.Stretch)
        self.summary = QLabel()
        self.summary.setObjectName("maintenanceLogSummary")
        self.summary.setTextFormat(Qt.TextFormat.PlainText)
        self.note = ""
        self.details = QPlainTextEdit()
        self.details.setObjectName("maintenanceDetails")
        self.details.setReadOnly(True)
        self.details.setPlaceholderText("Select a run to see each step's outcome.")
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.table)
        split.addWidget(self.details)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 1)
        split.setChildrenCollapsible(False)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        lay.addWidget(self.summary)
        lay.addWidget(split, 1)
        self.summary.setContentsMargins(4, 2, 4, 0)
        selection = self.table.selectionModel()
        selection.selectionChanged.connect(self._selected)
        for signal in (self.model.rowsInserted, self.model.rowsRemoved, self.model.modelReset):
            signal.connect(self._update_summary)
        self._update_summary()

    def add_record(self, rec: AuditRecord) -> None:
        self.model.add_record(rec)

    def set_records(self, records: Iterable[AuditRecord]) -> None:
        self.model.set_records(records)
        self.note = ""
        self._update_summary()

    def show_note(self, text: str) -> None:
        """Why runs of earlier sessions are not listed."""
        self.note = text
        self._update_summary()

    def select_row(self, row: int) -> None:
        self.table.selectRow(row)

    def _selected(self, selected: QItemSelection, _deselected: QItemSelection) -> None:
        rows = sorted({i.row() for i in self.table.selectionModel().selectedRows()})
        self.details.setPlainText(
            "\n\n".join(details_text(self.model.record(r)) for r in rows) if rows else ""
        )

    def _update_summary(self, *_: object) -> None:
        n = self.model.rowCount()
        if n:
            problems = sum(r.result != "ok" for r in self.model.records())
            text = f"{n} maintenance run{'s' if n != 1 else ''}, newest first"
            if problems:
                text += f" · {problems} not ok"
        else:
            text = "No maintenance run yet. Maintenance menu, or a member's context menu."
        self.summary.setText(f"{text} · {self.note}" if self.note else text)
