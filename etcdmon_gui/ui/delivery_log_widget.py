"""The delivery log: every attempt to send a notification, newest first, and above it
the deliveries still waiting for their next try.

``DeliveryLogModel`` keeps at most ``max_rows`` attempts (the oldest go first) and
never shows one twice, so the log prefilled from the dispatcher (``set_history``) and
the live entries (``add_attempt``, fed by the channel service's relayed signal) may
overlap. A failed delivery is never hidden: its last attempt is highlighted, and so
is every try that failed before it (outcome "retrying").

``DeliveryQueueModel`` lists the deliveries that wait (the dispatcher's PENDING
records: those that failed and wait for a retry, and those a restart took back from the
durable queue), with their tries so far and their next attempt; ``set_queue`` fills
it, and each record that comes with an attempt updates it. A delivery leaves it when
it is delivered, given up or superseded.

Nothing here holds a secret: attempts name channels by name, and their errors come
from the dispatcher already scrubbed.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from PySide6.QtCore import (
    QModelIndex,
    QSortFilterProxyModel,
    Qt,
)
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QVBoxLayout,
    QWidget,
)

from etcdmon_gui.model.delivery import (
    AttemptOutcome,
    DeliveryAttempt,
    DeliveryRecord,
    DeliveryStatus,
)
from etcdmon_gui.ui.palette import (
    FAILED_BACKGROUND,
    FAILED_TEXT,
    OUTCOME_COLOURS,
    RETRY_BACKGROUND,
    RETRY_TEXT,
)
from etcdmon_gui.ui.row_table_model import ModelIndex, RowTableModel, row_table_view

COLUMNS = ("Time", "Channel", "Alert", "Kind", "Attempt", "Outcome", "Error")
(COL_TIME, COL_CHANNEL, COL_ALERT, COL_KIND, COL_ATTEMPT, COL_OUTCOME, COL_ERROR) = range(
    len(COLUMNS)
)
MAX_ROWS = 1000

OUTCOME_ROLE = Qt.ItemDataRole.UserRole  # the AttemptOutcome of the row

QUEUE_COLUMNS = ("Channel", "Alert", "Kind", "Tries", "Next attempt", "Waiting since", "Error")
(Q_CHANNEL, Q_ALERT, Q_KIND, Q_TRIES, Q_NEXT, Q_SINCE, Q_ERROR) = range(len(QUEUE_COLUMNS))


@dataclass(frozen=True, slots=True)
class _Row:
    attempt: DeliveryAttempt
    record: DeliveryRecord | None  # None when the dispatcher has forgotten the delivery

    @property
    def key(self) -> tuple[int, int, str]:
        # A superseded delivery's entry repeats the number of its last try.
        return (self.attempt.delivery_id, self.attempt.attempt, self.attempt.outcome.value)

    @property
    def order(self) -> tuple[float, int, int]:
        a = self.attempt
        return (a.at, a.delivery_id, a.attempt)


def _when(ts: float, now: float) -> str:
    same_day = time.localtime(ts)[:3] == time.localtime(now)[:3]
    return time.strftime("%H:%M:%S" if same_day else "%Y-%m-%d %H:%M:%S", time.localtime(ts))


def record_alert_text(r: DeliveryRecord) -> str:
    """The alert rule and where (member, else cluster)."""
    if r.test:
        return "Test notification"
    return f"{r.rule} · {r.member or r.cluster_name}"


def alert_text(row: _Row) -> str:
    """The alert rule and where (member, else cluster); the fingerprint if forgotten."""
    return row.attempt.fingerprint if row.record is None else record_alert_text(row.record)


def kind_text(a: DeliveryAttempt) -> str:
    kind = str(a.event_kind.value)
    return f"{kind} (test)" if a.test else kind


def outcome_text(a: DeliveryAttempt, now: float) -> str:
    if a.outcome is AttemptOutcome.RETRYING:
        if a.next_attempt_at is not None and a.next_attempt_at > now:
            return f"retrying at {_when(a.next_attempt_at, now)}"
        return "failed, retried"
    return str(a.outcome.value)


class DeliveryLogModel(RowTableModel[_Row]):
    """The attempts, newest first; bounded, without duplicates."""

    columns = COLUMNS

    def __init__(self, max_rows: int = MAX_ROWS, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.max_rows = max_rows
        self._keys: set[tuple[int, int, str]] = set()
        self._bold = QFont()
        self._bold.setBold(True)

    # -- feeding ------------------------------------------------------------------------

    def add_attempt(self, attempt: DeliveryAttempt, record: DeliveryRecord | None) -> None:
        row = _Row(attempt, record)
        if row.key in self._keys:
            return
        position = 0
        while position < len(self._rows) and self._rows[position].order > row.order:
            position += 1
        if position >= self.max_rows:
            return  # older than everything kept
        self.beginInsertRows(QModelIndex(), position, position)
        self._rows.insert(position, row)
        self._keys.add(row.key)
        self.endInsertRows()
        self._trim()

    def set_history(self, entries: Iterable[tuple[DeliveryAttempt, DeliveryRecord | None]]) -> None:
        """Merge the log as the dispatcher had it (any order) with what is shown."""
        rows = {r.key: r for r in (_Row(a, rec) for a, rec in entries)}
        rows.update({r.key: r for r in self._rows})  # live entries carry fresher records
        merged = sorted(rows.values(), key=lambda r: r.order, reverse=True)[: self.max_rows]
        self.beginResetModel()
        self._rows = merged
        self._keys = {r.key for r in merged}
        self.endResetModel()

    def clear(self) -> None:
        self.beginResetModel()
        self._rows, self._keys = [], set()
        self.endResetModel()

    def _trim(self) -> None:
        extra = len(self._rows) - self.max_rows
        if extra > 0:
            first = len(self._rows) - extra
            self.beginRemoveRows(QModelIndex(), first, len(self._rows) - 1)
            for row in self._rows[first:]:
                self._keys.discard(row.key)
            del self._rows[first:]
            self.endRemoveRows()

    # -- reading ------------------------------------------------------------------------

    def attempt(self, row: int) -> DeliveryAttempt:
        return self._rows[row].attempt

    def attempts(self) -> list[DeliveryAttempt]:
        """What is shown, newest first."""
        return [r.attempt for r in self._rows]

    def failed_count(self) -> int:
        return sum(r.attempt.outcome is AttemptOutcome.FAILED for r in self._rows)

    # -- QAbstractTableModel ------------------------------------------------------------

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        row = self._row_at(index)
        if row is None:
            return None
        a = row.attempt
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._text(row, col, time.time())
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(row, col)
        if role == OUTCOME_ROLE:
            return a.outcome
        if role == Qt.ItemDataRole.BackgroundRole:
            if a.outcome is AttemptOutcome.FAILED:
                return QBrush(QColor(FAILED_BACKGROUND))
            if a.outcome is AttemptOutcome.RETRYING:
                return QBrush(QColor(RETRY_BACKGROUND))
            return None
        if role == Qt.ItemDataRole.ForegroundRole:
            if col == COL_OUTCOME:
                colour = OUTCOME_COLOURS.get(a.outcome)
                return QBrush(QColor(colour)) if colour else None
            if a.outcome is AttemptOutcome.FAILED:
                return QBrush(QColor(FAILED_TEXT))
            if a.outcome is AttemptOutcome.RETRYING:
                return QBrush(QColor(RETRY_TEXT))
            return None
        if (
            role == Qt.ItemDataRole.FontRole
            and col == COL_OUTCOME
            and (a.outcome is AttemptOutcome.FAILED)
        ):
            return self._bold
        if role == Qt.ItemDataRole.TextAlignmentRole and col == COL_ATTEMPT:
            return int(Qt.AlignmentFlag.AlignCenter)
        return None

    def _text(self, row: _Row, col: int, now: float) -> str:
        a = row.attempt
        if col == COL_TIME:
            return _when(a.at, now)
        if col == COL_CHANNEL:
            return a.channel_name
        if col == COL_ALERT:
            return alert_text(row)
        if col == COL_KIND:
            return kind_text(a)
        if col == COL_ATTEMPT:
            # An alert's delivery is bounded by time, not by a number of tries.
            return str(a.attempt) if a.max_attempts is None else f"{a.attempt}/{a.max_attempts}"
        if col == COL_OUTCOME:
            return outcome_text(a, now)
        return a.error or ""

    def _tooltip(self, row: _Row, col: int) -> str:
        a, r = row.attempt, row.record
        if col == COL_TIME:
            return (
                f"{time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(a.at))}, "
                f"took {a.duration_s * 1000:.0f} ms"
            )
        if col == COL_CHANNEL:
            return f"{a.channel_type} channel {a.channel_id}"
        if col == COL_ALERT:
            where = (
                f"{r.cluster_name}" + (f" / {r.member}" if r and r.member else "")
                if r
                else "forgotten by now"
            )
            return f"fingerprint {a.fingerprint}\n{where}"
        if col == COL_ERROR:
            return a.error or ""
        return ""


class DeliveryQueueModel(RowTableModel[DeliveryRecord]):
    """The deliveries waiting for their next try, the soonest first."""

    columns = QUEUE_COLUMNS

    def set_records(self, records: Iterable[DeliveryRecord]) -> None:
        """Show these (the dispatcher's PENDING records) and nothing else."""
        self.beginResetModel()
        self._rows = sorted((r for r in records if self._waits(r)), key=self._order)
        self.endResetModel()

    def update(self, record: DeliveryRecord) -> None:
        """A delivery's latest record: shown while it waits, gone once it ended."""
        row = next(
            (i for i, r in enumerate(self._rows) if r.delivery_id == record.delivery_id), None
        )
        if row is not None:
            self.beginRemoveRows(QModelIndex(), row, row)
            del self._rows[row]
            self.endRemoveRows()
        if not self._waits(record):
            return
        position = 0
        while position < len(self._rows) and self._order(self._rows[position]) <= self._order(
            record
        ):
            position += 1
        self.beginInsertRows(QModelIndex(), position, position)
        self._rows.insert(position, record)
        self.endInsertRows()

    def records(self) -> list[DeliveryRecord]:
        return list(self._rows)

    @staticmethod
    def _waits(r: DeliveryRecord) -> bool:
        return r.status is DeliveryStatus.PENDING and r.next_attempt_at is not None

    @staticmethod
    def _order(r: DeliveryRecord) -> tuple[float, int]:
        return (r.next_attempt_at or 0.0, r.delivery_id)

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        r = self._row_at(index)
        if r is None:
            return None
        col = index.column()
        now = time.time()
        if role == Qt.ItemDataRole.DisplayRole:
            if col == Q_CHANNEL:
                return r.channel_name
            if col == Q_ALERT:
                return record_alert_text(r)
            if col == Q_KIND:
                return str(r.event_kind.value)
            if col == Q_TRIES:
                return str(r.attempts)
            if col == Q_NEXT:
                due = r.next_attempt_at or now
                return "now" if due <= now else _when(due, now)
            if col == Q_SINCE:
                return _when(r.created_at, now)
            return r.error or ""
        if role == Qt.ItemDataRole.ToolTipRole:
            if col == Q_CHANNEL:
                return f"{r.channel_type} channel {r.channel_id}"
            if col == Q_ALERT:
                return f"fingerprint {r.fingerprint}"
            if col == Q_ERROR:
                return r.error or ""
            return None
        if role == Qt.ItemDataRole.ForegroundRole:
            return QBrush(QColor(RETRY_TEXT))
        if role == Qt.ItemDataRole.TextAlignmentRole and col == Q_TRIES:
            return int(Qt.AlignmentFlag.AlignCenter)
        return None


class _ProblemsOnly(QSortFilterProxyModel):
    """Only the attempts that did not deliver, when switched on."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.only_problems = False

    def set_only_problems(self, on: bool) -> None:
        if hasattr(self, "endFilterChange"):  # Qt >= 6.10; invalidateFilter is deprecated
            self.beginFilterChange()
            self.only_problems = on
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        else:  # pragma: no cover - older Qt
            self.only_problems = on
            self.invalidateFilter()

    def filterAcceptsRow(self, source_row: int, source_parent: ModelIndex) -> bool:
        if not self.only_problems:
            return True
        model = self.sourceModel()
        outcome = model.data(model.index(source_row, 0, source_parent), OUTCOME_ROLE)
        return outcome is not AttemptOutcome.DELIVERED


class DeliveryLogWidget(QWidget):
    """A table of delivery attempts with a one-line summary and a problems filter.

    Slots for the composition root: ``add_attempt(DeliveryAttempt, DeliveryRecord)``
    (the relayed ``delivery``), ``set_history(list)`` (its ``history``) and
    ``set_queue(list[DeliveryRecord])`` (its ``queue``: the deliveries that wait).
    """

    def __init__(self, max_rows: int = MAX_ROWS, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = DeliveryLogModel(max_rows, self)
        self.proxy = _ProblemsOnly(self)
        self.proxy.setSourceModel(self.model)
        self.table = row_table_view("deliveryTable", self.proxy)
        header = self.table.horizontalHeader()
        for col in (COL_TIME, COL_KIND, COL_ATTEMPT, COL_OUTCOME):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(COL_CHANNEL, QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(COL_ALERT, QHeaderView.ResizeMode.Interactive)
        header.resizeSection(COL_CHANNEL, 140)
        header.resizeSection(COL_ALERT, 200)
        header.setStretchLastSection(True)

        self.queue_model = DeliveryQueueModel(self)
        self.queue_table = row_table_view("deliveryQueue", self.queue_model)
        self.queue_table.setMaximumHeight(self.queue_table.fontMetrics().height() * 5 + 40)
        queue_header = self.queue_table.horizontalHeader()
        for col in (Q_KIND, Q_TRIES, Q_NEXT, Q_SINCE):
            queue_header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        queue_header.resizeSection(Q_CHANNEL, 140)
        queue_header.resizeSection(Q_ALERT, 200)
        queue_header.setStretchLastSection(True)
        self.queue_label = QLabel()
        self.queue_label.setObjectName("deliveryQueueSummary")
        self.queue_label.setTextFormat(Qt.TextFormat.PlainText)

        self.summary = QLabel()
        self.summary.setObjectName("deliverySummary")
        self.summary.setTextFormat(Qt.TextFormat.PlainText)
        self.problems_only = QCheckBox("Only problems")
        self.problems_only.setToolTip("Hide the attempts that delivered")
        self.problems_only.toggled.connect(self.proxy.set_only_problems)
        top = QHBoxLayout()
        top.setContentsMargins(4, 2, 4, 0)
        top.addWidget(self.summary, 1)
        top.addWidget(self.problems_only)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        lay.addLayout(top)
        lay.addWidget(self.queue_label)
        lay.addWidget(self.queue_table)
        lay.addWidget(self.table, 1)
        for signal in (self.model.rowsInserted, self.model.rowsRemoved, self.model.modelReset):
            signal.connect(self._update_summary)
        queue = self.queue_model
        for signal in (queue.rowsInserted, queue.rowsRemoved, queue.modelReset):
            signal.connect(self._update_queue)
        self._update_summary()
        self._update_queue()

    def add_attempt(self, attempt: DeliveryAttempt, record: DeliveryRecord | None) -> None:
        self.model.add_attempt(attempt, record)
        if record is not None:
            self.queue_model.update(record)

    def set_history(self, entries: Sequence[tuple[DeliveryAttempt, DeliveryRecord | None]]) -> None:
        self.model.set_history(entries)

    def set_queue(self, records: Sequence[DeliveryRecord]) -> None:
        self.queue_model.set_records(records)

    def _update_queue(self, *_: object) -> None:
        waiting = self.queue_model.rowCount()
        self.queue_label.setVisible(waiting > 0)
        self.queue_table.setVisible(waiting > 0)
        if waiting:
            self.queue_label.setText(
                f"{waiting} notification{'s' if waiting != 1 else ''} waiting for "
                f"{'their' if waiting != 1 else 'its'} next attempt"
            )

    def _update_summary(self, *_: object) -> None:
        shown = self.model.rowCount()
        if not shown:
            self.summary.setText(
                "No notification has been sent yet. Channels: File → Notification channels…"
            )
            return
        failed = self.model.failed_count()
        text = f"{shown} attempt{'s' if shown != 1 else ''}, newest first"
        if shown >= self.model.max_rows:
            text += f" (the latest {self.model.max_rows})"
        if failed:
            text += f" · {failed} deliver{'ies' if failed != 1 else 'y'} failed"
        self.summary.setText(text)
