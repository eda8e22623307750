"""The alert History tab: the alert transitions the history file keeps (firing,
repeat, resolved), the newest first, filtered by cluster, rule, severity and time.

The view never reads the file. It asks with ``historyRequested(AlertQuery)`` and shows
the answer given to ``show_history`` (or ``show_history_failed``); an answer to any
other question than the last one asked is dropped. It asks when a filter changes
(after ``FILTER_DELAY_MS``, so typing a date asks once), when it is shown, and when new
transitions arrive while it is visible (``note_alert_events``: at most one question per
``EVENTS_DELAY_MS``, and none while one is out; a change noticed meanwhile asks once
the answer came). Hidden, it asks nothing: being shown asks.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence

from PySide6.QtCore import QDateTime, QObject, QSortFilterProxyModel, Qt, QTimer, Signal
from PySide6.QtGui import (
    QAction,
    QBrush,
    QColor,
    QFont,
    QGuiApplication,
    QKeySequence,
    QPalette,
    QShowEvent,
)
from PySide6.QtWidgets import (
    QComboBox,
    QDateTimeEdit,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from etcdmon_gui.formatting import fmt_count, fmt_stamp, fmt_time, fmt_value
from etcdmon_gui.model.alerts import AlertEvent, EventKind, Severity
from etcdmon_gui.model.history import AlertQuery, ClusterRecord
from etcdmon_gui.ui.alert_text import alert_text
from etcdmon_gui.ui.filter_combo import filter_combo, set_choices
from etcdmon_gui.ui.palette import ERROR_COLOUR, alert_state_colour, severity_icon
from etcdmon_gui.ui.row_table_model import ModelIndex, RowTableModel, row_table_view

__all__ = [
    "EMPTY_TEXT",
    "EVENT_ROLE",
    "LOADING_TEXT",
    "TIME_RANGES",
    "AlertEventTableModel",
    "AlertHistoryWidget",
]

Clock = Callable[[], float]

COLUMNS = ("Time", "Event", "Cluster", "Rule", "Severity", "Member", "Value", "Summary")
(COL_TIME, COL_EVENT, COL_CLUSTER, COL_RULE, COL_SEVERITY, COL_MEMBER, COL_VALUE, COL_SUMMARY) = (
    range(len(COLUMNS))
)
SORT_ROLE = Qt.ItemDataRole.UserRole
EVENT_ROLE = Qt.ItemDataRole.UserRole + 1  # the AlertEvent itself

# (label, seconds back from now); None: the custom from/to.
TIME_RANGES: tuple[tuple[str, float | None], ...] = (
    ("Last 1 h", 3600.0),
    ("Last 24 h", 86_400.0),
    ("Last 7 d", 7 * 86_400.0),
    ("Last 30 d", 30 * 86_400.0),
    ("Custom…", None),
)
DEFAULT_RANGE = 1  # last 24 h
FILTER_DELAY_MS = 200
EVENTS_DELAY_MS = 1000
LOADING_TEXT = "Loading…"
EMPTY_TEXT = "No alerts in this range"
_DATE_FORMAT = "yyyy-MM-dd HH:mm"

_KIND_TEXT = {
    EventKind.FIRING: "firing",
    EventKind.REPEAT: "still firing",
    EventKind.RESOLVED: "resolved",
}

_Key = tuple[float, str, str]


def _key(e: AlertEvent) -> _Key:
    return (e.at, e.alert.fingerprint, e.kind.value)


class AlertEventTableModel(RowTableModel[AlertEvent]):
    """One row per transition, in the order given (the store's: newest first)."""

    columns = COLUMNS

    def __init__(self, parent: QObject | None = None, *, clock: Clock = time.time) -> None:
        super().__init__(parent)
        self.clock = clock

    def set_events(self, events: Sequence[AlertEvent], *, keep: bool) -> None:
        """Show exactly ``events``. ``keep``: rows that stay keep their place (and the
        selection), for a refresh of the same question; else the table starts over."""
        if keep and self._rows:
            self._sync({_key(e): e for e in events}, _key)
            return
        self.beginResetModel()
        self._rows = list({_key(e): e for e in events}.values())
        self.endResetModel()

    def events(self) -> list[AlertEvent]:
        return list(self._rows)

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        e = self._row_at(index)
        if e is None:
            return None
        col = index.column()
        a = e.alert
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(e, col)
        if role == SORT_ROLE:
            if col == COL_TIME:
                return e.at
            if col == COL_SEVERITY:
                return float(a.severity)
            if col == COL_VALUE:
                return -float("inf") if a.value is None else a.value
            return self._display(e, col).casefold()
        if role == EVENT_ROLE:
            return e
        if role == Qt.ItemDataRole.DecorationRole and col == COL_SEVERITY:
            return severity_icon(a.severity)
        if role == Qt.ItemDataRole.ForegroundRole and col == COL_EVENT:
            colour = alert_state_colour(a)
            return None if colour is None else QBrush(QColor(colour))
        if role == Qt.ItemDataRole.FontRole and col == COL_EVENT and e.kind == EventKind.FIRING:
            font = QFont()
            font.setBold(True)
            return font
        if role == Qt.ItemDataRole.TextAlignmentRole and col == COL_VALUE:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{_KIND_TEXT[e.kind]} at {fmt_stamp(e.at)}\n\n{alert_text(a, e.at)}"
        return None

    def _display(self, e: AlertEvent, col: int) -> str:
        a = e.alert
        if col == COL_TIME:
            return fmt_time(e.at, self.clock())
        if col == COL_EVENT:
            return _KIND_TEXT[e.kind]
        if col == COL_CLUSTER:
            return a.cluster_name
        if col == COL_RULE:
            return a.rule
        if col == COL_SEVERITY:
            return a.severity.name.lower()
        if col == COL_MEMBER:
            return a.member or "—"
        if col == COL_VALUE:
            return fmt_value(a.value)
        return a.summary


class AlertHistoryWidget(QWidget):
    """Filters over the table of stored transitions, and what the table stands for now
    (loading, empty, an error).

    Signals:
    historyRequested(AlertQuery): list the transitions matching it; answer with
        ``show_history(query, events, clusters)`` or ``show_history_failed(query, text)``.
    """

    historyRequested = Signal(object)

    def __init__(self, parent: QWidget | None = None, *, clock: Clock = time.time) -> None:
        super().__init__(parent)
        self.clock = clock
        self._pending: AlertQuery | None = None  # the question whose answer is awaited
        self._shown: AlertQuery | None = None  # the question the rows answer
        # The filters behind those two: rows of the same filters stay (and their selection).
        self._pending_filters: tuple[object, ...] | None = None
        self._shown_filters: tuple[object, ...] | None = None
        self._again = False  # transitions arrived while a question was out
        self._clusters: dict[str, str] = {}
        self._rules: set[str] = set()

        self.model = AlertEventTableModel(self, clock=clock)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSortRole(SORT_ROLE)
        self.proxy.setSourceModel(self.model)

        self.cluster_filter = filter_combo("historyCluster", "All clusters")
        self.rule_filter = filter_combo("historyRule", "All rules")
        self.severity_filter = filter_combo("historySeverity", "All severities")
        for sev in sorted(Severity, reverse=True):
            self.severity_filter.addItem(severity_icon(sev), sev.name.capitalize(), sev)
        self.range_filter = QComboBox()
        self.range_filter.setObjectName("historyRange")
        for text, seconds in TIME_RANGES:
            self.range_filter.addItem(text, seconds)
        self.range_filter.setCurrentIndex(DEFAULT_RANGE)
        self.from_edit = _date_edit("historyFrom")
        self.to_edit = _date_edit("historyTo")
        self.from_label = QLabel("From")
        self.to_label = QLabel("to")
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.setObjectName("historyRefresh")
        self.refresh_button.setToolTip("Read the history again")
        self.status = QLabel()
        self.status.setObjectName("historyStatus")

        self.table = row_table_view("alertHistoryTable", self.proxy, sort_column=COL_TIME)
        self.table.sortByColumn(COL_TIME, Qt.SortOrder.DescendingOrder)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(COL_SUMMARY, QHeaderView.ResizeMode.Stretch)
        self.message = QLabel()
        self.message.setObjectName("historyMessage")
        self.message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.message.setWordWrap(True)
        self.message.setMargin(24)
        self.message.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.table)
        self.stack.addWidget(self.message)

        filters = QHBoxLayout()
        for combo in (self.cluster_filter, self.rule_filter, self.severity_filter):
            filters.addWidget(combo)
        filters.addWidget(self.range_filter)
        filters.addWidget(self.from_label)
        filters.addWidget(self.from_edit)
        filters.addWidget(self.to_label)
        filters.addWidget(self.to_edit)
        filters.addStretch(1)
        filters.addWidget(self.status)
        filters.addWidget(self.refresh_button)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 6, 0, 0)
        lay.addLayout(filters)
        lay.addWidget(self.stack, 1)

        copy = QAction("Copy", self.table)
        copy.setShortcut(QKeySequence.StandardKey.Copy)
        copy.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        copy.triggered.connect(self.copy_selected)
        self.table.addAction(copy)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)

        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.refresh)
        for combo in (self.cluster_filter, self.rule_filter, self.severity_filter):
            combo.currentIndexChanged.connect(self._filters_changed)
        self.range_filter.currentIndexChanged.connect(self._range_changed)
        self.from_edit.dateTimeChanged.connect(self._filters_changed)
        self.to_edit.dateTimeChanged.connect(self._filters_changed)
        self.refresh_button.clicked.connect(self.refresh)
        self._show_custom(False)
        self._show_message(LOADING_TEXT)

    # -- the question ------------------------------------------------------------------

    def query(self) -> AlertQuery | None:
        """What the filters ask for; ``None`` when the custom range ends before it starts."""
        span = self.range_filter.currentData()
        if span is None:
            since = float(self.from_edit.dateTime().toSecsSinceEpoch())
            # "to" names a minute: all of it is in the range
            end = float(self.to_edit.dateTime().toSecsSinceEpoch()) + 59.999
            if since > end:
                return None
            until: float | None = end
        else:
            since, until = self.clock() - float(span), None
        return AlertQuery(
            cluster=self.cluster_filter.currentData(),
            rule=self.rule_filter.currentData(),
            severity=self.severity_filter.currentData(),
            since=since,
            until=until,
        )

    def refresh(self) -> None:
        """Ask now for what the filters say."""
        self._timer.stop()
        self._again = False
        q = self.query()
        if q is None:
            self._pending = self._shown = None
            self._pending_filters = self._shown_filters = None
            self.model.set_events([], keep=False)
            self.status.clear()
            self._show_message("The range ends before it starts: choose a later “to”.")
            return
        self._pending = q
        self._pending_filters = self._filters()
        self.status.setText(LOADING_TEXT)
        self.status.setStyleSheet("")
        if self._pending_filters != self._shown_filters:
            self.model.set_events([], keep=False)
            self._show_message(LOADING_TEXT)
        self.historyRequested.emit(q)

    def pending_query(self) -> AlertQuery | None:
        """The question asked and not answered yet."""
        return self._pending

    # -- answers ---------------------------------------------------------------------

    def show_history(
        self,
        query: AlertQuery,
        events: Sequence[AlertEvent],
        clusters: Iterable[ClusterRecord] = (),
    ) -> None:
        """The answer to ``query`` (dropped unless it is the last question asked), and
        the clusters the history knows (offered in the cluster filter)."""
        if self._pending is None or query != self._pending:
            return
        self._pending = None
        self.note_clusters({c.key: c.name for c in clusters})
        self.note_clusters({e.alert.cluster: e.alert.cluster_name for e in events})
        self.note_rules(e.alert.rule for e in events)
        self.model.set_events(events, keep=self._pending_filters == self._shown_filters)
        self._shown, self._shown_filters = query, self._pending_filters
        n = len(events)
        if n:
            self.stack.setCurrentWidget(self.table)
            more = " (the newest)" if n >= query.limit else ""
            self.status.setText(f"{fmt_count(n)} event{'s' if n != 1 else ''}{more}")
            self.status.setStyleSheet("")
        else:
            self.status.clear()
            self._show_message(EMPTY_TEXT)
        if self._again:
            self._again = False
            self._timer.start(EVENTS_DELAY_MS)

    def show_history_failed(self, query: AlertQuery, message: str) -> None:
        """The question could not be answered (history off, a locked file...)."""
        if self._pending is None or query != self._pending:
            return
        self._pending = self._shown = None
        self._pending_filters = self._shown_filters = None
        self._again = False
        self.model.set_events([], keep=False)
        self.status.setText("Not available")
        self.status.setStyleSheet(f"color: {ERROR_COLOUR};")
        self._show_message(f"The alert history cannot be read: {message}", error=True)

    def state_text(self) -> str:
        """What stands in for the table ("Loading…", "No alerts in this range", an
        error), or "" while the table shows rows."""
        return "" if self.stack.currentWidget() is self.table else self.message.text()

    # -- what is known -------------------------------------------------------------------

    def note_alert_events(self, events: Sequence[AlertEvent]) -> None:
        """New transitions were recorded: ask again if visible, else when shown."""
        if not events:
            return
        self.note_clusters({e.alert.cluster: e.alert.cluster_name for e in events})
        self.note_rules(e.alert.rule for e in events)
        if not self.isVisible():
            return  # asked when shown
        if self._pending is not None:
            self._again = True
        elif not self._timer.isActive():
            self._timer.start(EVENTS_DELAY_MS)

    def note_clusters(self, names: Mapping[str, str]) -> None:
        """Clusters to offer in the filter (connection key -> name); kept until closed."""
        if all(self._clusters.get(k) == v for k, v in names.items()):
            return
        self._clusters.update(names)
        set_choices(self.cluster_filter, self._clusters)

    def note_rules(self, rules: Iterable[str]) -> None:
        """Rule names to offer in the filter; kept until closed."""
        new = set(rules) - self._rules
        if not new:
            return
        self._rules |= new
        set_choices(self.rule_filter, {r: r for r in self._rules})

    # -- table -----------------------------------------------------------------------

    def selected_events(self) -> list[AlertEvent]:
        rows = sorted(self.table.selectionModel().selectedRows(), key=lambda i: i.row())
        return [i.data(EVENT_ROLE) for i in rows]

    def copy_selected(self) -> str:
        """Put the selected transitions on the clipboard as text; returns that text."""
        text = "\n\n".join(
            f"{fmt_stamp(e.at)} {_KIND_TEXT[e.kind]}\n{alert_text(e.alert, e.at)}"
            for e in self.selected_events()
        )
        if text:
            QGuiApplication.clipboard().setText(text)
        return text

    # -- upkeep --------------------------------------------------------------------------

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self._timer.start(0)  # after the show: one question however it came to be shown

    def _filters(self) -> tuple[object, ...]:
        custom = self.range_filter.currentData() is None
        return (
            self.cluster_filter.currentData(),
            self.rule_filter.currentData(),
            self.severity_filter.currentData(),
            self.range_filter.currentIndex(),
            self.from_edit.dateTime().toSecsSinceEpoch() if custom else None,
            self.to_edit.dateTime().toSecsSinceEpoch() if custom else None,
        )

    def _filters_changed(self) -> None:
        self._timer.start(FILTER_DELAY_MS)

    def _range_changed(self) -> None:
        custom = self.range_filter.currentData() is None
        if custom:  # start from the range shown so far (or the last day)
            now = self.clock()
            shown = self._shown
            since = shown.since if shown is not None and shown.since is not None else now - 86_400
            until = shown.until if shown is not None and shown.until is not None else now
            for edit, t in ((self.from_edit, since), (self.to_edit, until)):
                edit.blockSignals(True)
                edit.setDateTime(QDateTime.fromSecsSinceEpoch(int(t)))
                edit.blockSignals(False)
        self._show_custom(custom)
        self._filters_changed()

    def _show_custom(self, custom: bool) -> None:
        for w in (self.from_label, self.from_edit, self.to_label, self.to_edit):
            w.setVisible(custom)

    def _show_message(self, text: str, *, error: bool = False) -> None:
        self.message.setText(text)
        self.message.setStyleSheet(f"color: {ERROR_COLOUR};" if error else "")
        self.stack.setCurrentWidget(self.message)


def _date_edit(name: str) -> QDateTimeEdit:
    edit = QDateTimeEdit()
    edit.setObjectName(name)
    edit.setCalendarPopup(True)
    edit.setDisplayFormat(_DATE_FORMAT)
    return edit
