"""The Silences view: every matcher silence, active, pending and expired, with what it
matches, why, when it ends and how many current alerts it mutes; "New silence…" and
"Expire now".

It renders what ``set_silences`` / ``set_alerts`` give it and asks for changes through
signals; the alert worker owns the silences. Whether a silence is active depends on the
clock, so every ``set_alerts`` (each evaluation) re-reads the rows.
"""

from __future__ import annotations

import html
import time
from collections.abc import Callable, Sequence

from PySide6.QtCore import QObject, QSortFilterProxyModel, Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from etcdmon_gui.formatting import fmt_duration, fmt_stamp, fmt_time
from etcdmon_gui.model.alerts import Alert, AlertState, Silence
from etcdmon_gui.ui.alert_text import matchers_text
from etcdmon_gui.ui.palette import HEALTHY_COLOUR, UNKNOWN_COLOUR, WARNING_COLOUR
from etcdmon_gui.ui.row_table_model import ModelIndex, RowTableModel, row_table_view
from etcdmon_gui.ui.silence_dialog import SilenceDialog

__all__ = ["SILENCE_ROLE", "SilenceTableModel", "SilencesWidget", "silence_state"]

Clock = Callable[[], float]

COLUMNS = ("State", "Matchers", "Reason", "Mutes", "Starts", "Ends", "Created")
(COL_STATE, COL_MATCHERS, COL_REASON, COL_MUTES, COL_STARTS, COL_ENDS, COL_CREATED) = range(
    len(COLUMNS)
)
SORT_ROLE = Qt.ItemDataRole.UserRole
SILENCE_ROLE = Qt.ItemDataRole.UserRole + 1  # the Silence itself

_STATE_RANK = {"active": 0, "pending": 1, "expired": 2}
_STATE_COLOURS = {"active": HEALTHY_COLOUR, "pending": WARNING_COLOUR, "expired": UNKNOWN_COLOUR}


def silence_state(silence: Silence, now: float) -> str:
    """``active``, ``pending`` (starts later) or ``expired``."""
    if silence.is_expired(now):
        return "expired"
    return "active" if silence.is_active(now) else "pending"


class SilenceTableModel(RowTableModel[Silence]):
    """One row per silence id; updates in place so the selection survives."""

    columns = COLUMNS

    def __init__(self, parent: QObject | None = None, *, clock: Clock = time.time) -> None:
        super().__init__(parent)
        self.clock = clock
        self._alerts: list[Alert] = []

    def set_silences(self, silences: Sequence[Silence]) -> None:
        self._sync({s.id: s for s in silences}, lambda s: s.id)

    def set_alerts(self, alerts: Sequence[Alert]) -> None:
        """The current alerts (for "Mutes"); also the moment to re-read the clock."""
        self._alerts = [a for a in alerts if a.state in (AlertState.FIRING, AlertState.PENDING)]
        if self._rows:
            self.dataChanged.emit(self.index(0, 0), self.index(len(self._rows) - 1, COL_ENDS))

    def silences(self) -> list[Silence]:
        return list(self._rows)

    def find(self, silence_id: str) -> int | None:
        return next((i for i, s in enumerate(self._rows) if s.id == silence_id), None)

    def muted(self, silence: Silence) -> list[Alert]:
        """The current firing or pending alerts this silence mutes now."""
        if not silence.is_active(self.clock()):
            return []
        return [a for a in self._alerts if silence.matches(a)]

    def active_count(self) -> int:
        now = self.clock()
        return sum(s.is_active(now) for s in self._rows)

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        silence = self._row_at(index)
        if silence is None:
            return None
        now = self.clock()
        col = index.column()
        state = silence_state(silence, now)
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(silence, col, state, now)
        if role == SORT_ROLE:
            return self._sort_key(silence, col, state)
        if role == SILENCE_ROLE:
            return silence
        if role == Qt.ItemDataRole.ForegroundRole:
            if col == COL_STATE:
                return QBrush(QColor(_STATE_COLOURS[state]))
            if state == "expired":
                return QBrush(QColor(UNKNOWN_COLOUR))
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(silence, state, now)
        return None

    def _display(self, silence: Silence, col: int, state: str, now: float) -> str:
        if col == COL_STATE:
            return state
        if col == COL_MATCHERS:
            return matchers_text(silence)
        if col == COL_REASON:
            return silence.reason
        if col == COL_MUTES:
            return str(len(self.muted(silence))) if state == "active" else "—"
        if col == COL_STARTS:
            return fmt_time(silence.starts, now)
        if col == COL_ENDS:
            ends = fmt_time(silence.ends, now)
            if state == "expired":
                return ends
            return f"{ends} (in {fmt_duration(silence.ends - now)})"
        return fmt_time(silence.created_at, now)

    def _sort_key(self, silence: Silence, col: int, state: str) -> float | str:
        if col == COL_STATE:  # active first, then the one ending soonest... or latest expired
            rank = _STATE_RANK[state]
            return rank * 1e12 + (silence.ends if rank < 2 else -silence.ends)
        if col == COL_MUTES:
            return float(len(self.muted(silence)))
        if col == COL_STARTS:
            return silence.starts
        if col == COL_ENDS:
            return silence.ends
        if col == COL_CREATED:
            return silence.created_at
        return self._display(silence, col, state, self.clock()).casefold()

    def _tooltip(self, silence: Silence, state: str, now: float) -> str:
        e = html.escape
        lines = [
            f"<b>silence {e(silence.id)}</b> ({state}): {e(matchers_text(silence))}",
            e(silence.reason),
            f"{fmt_stamp(silence.starts)} → {fmt_stamp(silence.ends)}",
        ]
        muted = self.muted(silence)
        if muted:
            lines.append(
                "mutes: "
                + ", ".join(e(f"{a.rule} @ {a.member or a.cluster_name}") for a in muted[:5])
            )
            if len(muted) > 5:
                lines.append(f"…and {len(muted) - 5} more")
        return "<br>".join(lines)


class SilencesWidget(QWidget):
    """The silence list with "New silence…" and "Expire now".

    ``selected_alert`` is asked for the alert to prefill a new silence from (the alert
    table's selection); ``dialog`` is the last "New silence" dialog opened.

    Signals:
    createRequested(Silence): the user confirmed a new silence.
    expireRequested(str id): end this silence now, one emission per selected silence.
    countChanged(int): the number of active silences changed (the tab's title).
    """

    createRequested = Signal(object)
    expireRequested = Signal(str)
    countChanged = Signal(int)

    def __init__(
        self,
        parent: QWidget | None = None,
        *,
        clock: Clock = time.time,
        selected_alert: Callable[[], Alert | None] = lambda: None,
    ) -> None:
        super().__init__(parent)
        self.clock = clock
        self.selected_alert = selected_alert
        self.dialog: SilenceDialog | None = None
        self._active = 0
        self._alerts: list[Alert] = []
        self.model = SilenceTableModel(self, clock=clock)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setSortRole(SORT_ROLE)
        self.proxy.setDynamicSortFilter(True)

        self.table = row_table_view("silenceTable", self.proxy, sort_column=COL_STATE)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(COL_REASON, QHeaderView.ResizeMode.Stretch)
        header.setHighlightSections(False)
        self.empty_hint = QLabel(
            "No silences. A silence mutes every alert matching its rule, cluster and member "
            "until it ends; select an alert and choose New silence… to start from it."
        )
        self.empty_hint.setWordWrap(True)
        self.empty_hint.setStyleSheet("color: palette(placeholder-text);")

        self.new_button = QPushButton("New silence…")
        self.new_button.setObjectName("newSilenceButton")
        self.new_button.setToolTip("Silence alerts by rule, cluster and member until a set time")
        self.expire_button = QPushButton("Expire now")
        self.expire_button.setObjectName("expireSilenceButton")
        actions = QHBoxLayout()
        actions.addWidget(self.new_button)
        actions.addWidget(self.expire_button)
        actions.addStretch(1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.table, 1)
        lay.addWidget(self.empty_hint)
        lay.addLayout(actions)

        self.new_button.clicked.connect(lambda: self.new_silence())
        self.expire_button.clicked.connect(self.expire_selected)
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._update())
        self._update()

    # -- input ---------------------------------------------------------------------------

    def set_silences(self, silences: Sequence[Silence]) -> None:
        self.model.set_silences(silences)
        self._update()

    def set_alerts(self, alerts: Sequence[Alert]) -> None:
        self._alerts = list(alerts)
        self.model.set_alerts(alerts)
        self._update()

    def active_count(self) -> int:
        return self._active

    # -- actions -------------------------------------------------------------------------

    def selected_silences(self) -> list[Silence]:
        rows = sorted(self.table.selectionModel().selectedRows(), key=lambda i: i.row())
        return [i.data(SILENCE_ROLE) for i in rows]

    def new_silence(self, prefill: Alert | None = None) -> SilenceDialog:
        """Open the dialog, prefilled from ``prefill`` or else the selected alert."""
        if self.dialog is not None:
            self.dialog.deleteLater()
        dialog = SilenceDialog(
            self._alerts, prefill or self.selected_alert(), self, clock=self.clock
        )
        dialog.accepted.connect(lambda: self.createRequested.emit(dialog.silence()))
        self.dialog = dialog
        dialog.open()
        return dialog

    def expire_selected(self) -> None:
        now = self.clock()
        for silence in self.selected_silences():
            if not silence.is_expired(now):
                self.expireRequested.emit(silence.id)

    def _update(self) -> None:
        now = self.clock()
        self.expire_button.setEnabled(any(not s.is_expired(now) for s in self.selected_silences()))
        self.empty_hint.setVisible(self.model.rowCount() == 0)
        active = self.model.active_count()
        if active != self._active:
            self._active = active
            self.countChanged.emit(active)
