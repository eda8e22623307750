"""The alert views: every alert the engine reports, filterable and sortable, with
details; and beside it, in tabs of their own, the matcher silences and the history.

``AlertTableWidget`` puts together the filters, the table (``AlertTableModel`` through
``AlertFilterProxy``), the details pane, copy to clipboard, the Silences tab
(``SilencesWidget``) and the History tab (``AlertHistoryWidget``), and asks for
silences, un-silences, acknowledgements, matcher silences and stored transitions
through signals; it never changes an alert or a silence itself.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Sequence
from typing import TypeVar

from PySide6.QtCore import Property, QItemSelection, QObject, Qt, Signal
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from etcdmon_gui.model.alerts import Alert, AlertEvent, AlertState, Severity, Silence
from etcdmon_gui.model.history import AlertQuery, ClusterRecord
from etcdmon_gui.ui.alert_details_widget import AlertDetailsPane
from etcdmon_gui.ui.alert_history_widget import AlertHistoryWidget
from etcdmon_gui.ui.alert_table_model import (
    ALERT_ROLE,
    COL_RULE,
    COL_STATE,
    AlertFilterProxy,
    AlertTableModel,
    Clock,
)
from etcdmon_gui.ui.alert_text import alert_text, has_own_silence
from etcdmon_gui.ui.filter_combo import filter_combo, set_choices
from etcdmon_gui.ui.palette import HEALTHY_COLOUR, SEVERITY_COLOURS, TEXT_ON_COLOUR, severity_icon
from etcdmon_gui.ui.row_table_model import row_table_view
from etcdmon_gui.ui.silences_widget import SilencesWidget

__all__ = ["SILENCE_CHOICES", "AlertTableWidget"]

_W = TypeVar("_W", bound=QObject)

# (label, seconds): what the Silence choice offers; math.inf is "until resolved".
SILENCE_CHOICES: tuple[tuple[str, float], ...] = (
    ("1 h", 3600.0),
    ("4 h", 4 * 3600.0),
    ("24 h", 24 * 3600.0),
    ("until resolved", math.inf),
)


class AlertTableWidget(QWidget):
    """The alert table with filters, details, copy, silence, un-silence and acknowledge,
    and the Silences tab.

    It renders what ``set_alerts`` and ``set_silences`` give it and asks for changes
    through signals; the owner applies them to the engine and sends the updated alerts
    and silences back.

    Signals:
    silenceRequested(str fingerprint, float until, str reason): silence until this UNIX
        time, or ``math.inf`` for until resolved; one emission per selected alert.
    unsilenceRequested(str fingerprint): end the alert's own silence; one emission per
        selected alert that has one.
    acknowledgeRequested(str fingerprint): one emission per selected firing alert.
    silenceCreated(Silence): a new matcher silence (from the Silences tab's dialog).
    silenceExpireRequested(str id): end this matcher silence now.
    firingCountChanged(int): the number of alerts that count as firing changed (badge).
    historyRequested(AlertQuery): the History tab asks for stored transitions; answer
        with ``show_history`` or ``show_history_failed``.
    """

    silenceRequested = Signal(str, float, str)
    unsilenceRequested = Signal(str)
    acknowledgeRequested = Signal(str)
    silenceCreated = Signal(object)
    silenceExpireRequested = Signal(str)
    firingCountChanged = Signal(int)
    historyRequested = Signal(object)

    def __init__(self, parent: QWidget | None = None, *, clock: Clock = time.time) -> None:
        super().__init__(parent)
        self.clock = clock
        self._firing = 0
        self.model = AlertTableModel(self, clock=clock)
        self.proxy = AlertFilterProxy(self)
        self.proxy.setSourceModel(self.model)

        self.state_filter = _named(QComboBox(), "stateFilter")
        for text, states in (
            ("All states", None),
            ("Active (firing + pending)", (AlertState.FIRING, AlertState.PENDING)),
            ("Firing", (AlertState.FIRING,)),
            ("Pending", (AlertState.PENDING,)),
            ("Resolved", (AlertState.RESOLVED,)),
        ):
            self.state_filter.addItem(text, states)
        self.severity_filter = _named(QComboBox(), "severityFilter")
        self.severity_filter.addItem("All severities", None)
        for sev in sorted(Severity, reverse=True):
            self.severity_filter.addItem(severity_icon(sev), sev.name.capitalize(), sev)
        self.cluster_filter = filter_combo("clusterFilter", "All clusters")
        self.text_filter = _named(QLineEdit(), "textFilter")
        self.text_filter.setPlaceholderText("Filter by rule, member, summary, label…")
        self.text_filter.setClearButtonEnabled(True)
        self.badge = _named(QLabel(), "firingBadge")
        self.badge.setAlignment(Qt.AlignmentFlag.AlignCenter)

        self.table = row_table_view("alertTable", self.proxy, sort_column=COL_STATE)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(COL_RULE, QHeaderView.ResizeMode.Stretch)
        header.setHighlightSections(False)
        self.details = AlertDetailsPane()

        self.copy_button = _named(QPushButton("Copy"), "copyButton")
        self.copy_button.setToolTip("Copy the selected alerts as text")
        self.ack_button = _named(QPushButton("Acknowledge"), "ackButton")
        self.ack_button.setToolTip("Mark the selected firing alerts as being looked at")
        self.silence_for = _named(QComboBox(), "silenceFor")
        for text, seconds in SILENCE_CHOICES:
            self.silence_for.addItem(text, seconds)
        self.silence_reason = _named(QLineEdit(), "silenceReason")
        self.silence_reason.setPlaceholderText("Reason for the silence (required)")
        self.silence_button = _named(QPushButton("Silence"), "silenceButton")
        self.unsilence_button = _named(QPushButton("Un-silence"), "unsilenceButton")
        self.silences = _named(
            SilencesWidget(clock=clock, selected_alert=self.current_alert), "silencesView"
        )
        self.history_view = _named(AlertHistoryWidget(clock=clock), "alertHistory")

        filters = QHBoxLayout()
        filters.addWidget(self.state_filter)
        filters.addWidget(self.severity_filter)
        filters.addWidget(self.cluster_filter)
        filters.addWidget(self.text_filter, 1)
        filters.addWidget(self.badge)
        actions = QHBoxLayout()
        actions.addWidget(self.copy_button)
        actions.addWidget(self.ack_button)
        actions.addSpacing(12)
        actions.addWidget(QLabel("Silence for"))
        actions.addWidget(self.silence_for)
        actions.addWidget(self.silence_reason, 1)
        actions.addWidget(self.silence_button)
        actions.addWidget(self.unsilence_button)
        left = QWidget()
        left_lay = QVBoxLayout(left)
        left_lay.setContentsMargins(0, 0, 0, 0)
        left_lay.addWidget(self.table, 1)
        left_lay.addLayout(actions)
        self.splitter = _named(QSplitter(Qt.Orientation.Horizontal), "alertSplitter")
        self.splitter.addWidget(left)
        self.splitter.addWidget(self.details)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setChildrenCollapsible(False)
        alerts_page = QWidget()
        alerts_lay = QVBoxLayout(alerts_page)
        alerts_lay.setContentsMargins(0, 6, 0, 0)
        alerts_lay.addLayout(filters)
        alerts_lay.addWidget(self.splitter, 1)
        self.tabs = _named(QTabWidget(), "alertViews")
        self.tabs.setDocumentMode(True)
        self.alerts_tab = self.tabs.addTab(alerts_page, "Alerts")
        self.silences_tab = self.tabs.addTab(self.silences, "Silences")
        self.history_tab = self.tabs.addTab(self.history_view, "History")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        lay.addWidget(self.tabs, 1)

        copy = QAction("Copy", self.table)
        copy.setShortcut(QKeySequence.StandardKey.Copy)
        copy.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        copy.triggered.connect(self.copy_selected)
        self.table.addAction(copy)
        self.silence_like_action = QAction("New silence like this…", self.table)
        self.silence_like_action.triggered.connect(lambda: self.silences.new_silence())
        self.table.addAction(self.silence_like_action)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)

        self.state_filter.currentIndexChanged.connect(
            lambda _: self.proxy.set_states(self.state_filter.currentData())
        )
        self.severity_filter.currentIndexChanged.connect(
            lambda _: self.proxy.set_severity(self.severity_filter.currentData())
        )
        self.cluster_filter.currentIndexChanged.connect(
            lambda _: self.proxy.set_cluster(self.cluster_filter.currentData())
        )
        self.text_filter.textChanged.connect(self.proxy.set_text)
        selection = self.table.selectionModel()
        selection.selectionChanged.connect(self._on_selection)
        selection.currentRowChanged.connect(lambda *_: self._refresh_details())
        self.copy_button.clicked.connect(self.copy_selected)
        self.ack_button.clicked.connect(self.acknowledge_selected)
        self.silence_button.clicked.connect(self.silence_selected)
        self.unsilence_button.clicked.connect(self.unsilence_selected)
        self.silences.createRequested.connect(self.silenceCreated)
        self.silences.expireRequested.connect(self.silenceExpireRequested)
        self.silences.countChanged.connect(self._update_silences_tab)
        self.history_view.historyRequested.connect(self.historyRequested)
        self.silence_reason.textChanged.connect(lambda _: self._update_buttons())
        self.silence_reason.returnPressed.connect(self.silence_selected)
        self._update_badge()
        self._update_buttons()

    # -- input ---------------------------------------------------------------------------

    def set_alerts(self, alerts: Sequence[Alert]) -> None:
        """Show these alerts; rows, selection and value histories carry over by fingerprint."""
        self.model.set_alerts(alerts)
        self.silences.set_alerts(alerts)
        self._update_clusters()
        self._refresh_details()
        self._update_buttons()
        count = self.model.firing_count()
        if count != self._firing:
            self._firing = count
            self._update_badge()
            self.firingCountChanged.emit(count)

    def set_silences(self, silences: Sequence[Silence]) -> None:
        """Show these matcher silences in the Silences tab."""
        self.silences.set_silences(silences)

    def show_history(
        self,
        query: AlertQuery,
        events: Sequence[AlertEvent],
        clusters: Iterable[ClusterRecord] = (),
    ) -> None:
        """The answer to a ``historyRequested`` (stale ones are dropped)."""
        self.history_view.show_history(query, events, clusters)

    def show_history_failed(self, query: AlertQuery, message: str) -> None:
        self.history_view.show_history_failed(query, message)

    def note_alert_events(self, events: Sequence[AlertEvent]) -> None:
        """New transitions were recorded: the History tab reads them when it shows."""
        self.history_view.note_alert_events(events)

    def firing_count(self) -> int:
        """Alerts that count as firing (the badge); also the Qt property ``firingCount``."""
        return self._firing

    #: Alerts that count as firing (the badge); a Qt property, notified by the signal.
    firingCount = Property(int, firing_count, notify=firingCountChanged)

    # -- selection ---------------------------------------------------------------------

    def selected_alerts(self) -> list[Alert]:
        """The selected alerts in the order the table shows them."""
        rows = sorted(self.table.selectionModel().selectedRows(), key=lambda i: i.row())
        return [i.data(ALERT_ROLE) for i in rows]

    def current_alert(self) -> Alert | None:
        """The alert the details pane shows: the current row, else the first selected."""
        index = self.table.selectionModel().currentIndex()
        if index.isValid() and self.table.selectionModel().isRowSelected(index.row()):
            alert: Alert = index.data(ALERT_ROLE)
            return alert
        selected = self.selected_alerts()
        return selected[0] if selected else None

    def select_fingerprint(self, fingerprint: str) -> bool:
        """Select the row of this alert (if it passes the filters)."""
        row = self.model.find(fingerprint)
        if row is None:
            return False
        index = self.proxy.mapFromSource(self.model.index(row, 0))
        if not index.isValid():
            return False
        self.table.selectRow(index.row())
        self.table.scrollTo(index)
        return True

    def _on_selection(self, _sel: QItemSelection, _desel: QItemSelection) -> None:
        self._refresh_details()
        self._update_buttons()

    def _refresh_details(self) -> None:
        alert = self.current_alert()
        history = self.model.value_history(alert.fingerprint) if alert else []
        self.details.show_alert(alert, history, self.clock())

    # -- actions -------------------------------------------------------------------------

    def copy_selected(self) -> str:
        """Put the selected alerts on the clipboard as text; returns that text."""
        now = self.clock()
        text = "\n\n".join(alert_text(a, now) for a in self.selected_alerts())
        if text:
            clipboard = QGuiApplication.clipboard()
            clipboard.setText(text)
        return text

    def acknowledge_selected(self) -> None:
        for alert in self.selected_alerts():
            if alert.state == AlertState.FIRING and not alert.acknowledged:
                self.acknowledgeRequested.emit(alert.fingerprint)

    def silence_selected(self) -> None:
        """Ask to silence the selected firing or pending alerts for the chosen time."""
        reason = self.silence_reason.text().strip()
        targets = [a for a in self.selected_alerts() if _silenceable(a)]
        if not reason or not targets:
            return
        seconds = float(self.silence_for.currentData())
        until = math.inf if math.isinf(seconds) else self.clock() + seconds
        for alert in targets:
            self.silenceRequested.emit(alert.fingerprint, until, reason)
        self.silence_reason.clear()

    def unsilence_selected(self) -> None:
        """Ask to end the own silence of each selected alert that has one."""
        now = self.clock()
        for alert in self.selected_alerts():
            if has_own_silence(alert, now):
                self.unsilenceRequested.emit(alert.fingerprint)

    # -- upkeep -----------------------------------------------------------------------------

    def _update_silences_tab(self, active: int) -> None:
        title = f"Silences ({active} active)" if active else "Silences"
        self.tabs.setTabText(self.silences_tab, title)

    def _update_buttons(self) -> None:
        selected = self.selected_alerts()
        self.copy_button.setEnabled(bool(selected))
        self.ack_button.setEnabled(
            any(a.state == AlertState.FIRING and not a.acknowledged for a in selected)
        )
        can_silence = any(_silenceable(a) for a in selected)
        has_reason = bool(self.silence_reason.text().strip())
        self.silence_button.setEnabled(can_silence and has_reason)
        self.silence_button.setToolTip(
            "Silence the selected alerts"
            if can_silence and has_reason
            else "Type a reason first"
            if can_silence
            else "Select a firing or pending alert"
        )
        now = self.clock()
        own = any(has_own_silence(a, now) for a in selected)
        self.unsilence_button.setEnabled(own)
        by_matcher = any(a.silenced_by is not None for a in selected)
        self.unsilence_button.setToolTip(
            "End the selected alerts' own silences"
            if own
            else "Silenced by a silence of the Silences tab: expire it there"
            if by_matcher
            else "Select an alert silenced with Silence"
        )

    def _update_badge(self) -> None:
        n = self._firing
        if n:
            self.badge.setText(f"{n} firing")
            self.badge.setStyleSheet(
                f"background: {SEVERITY_COLOURS[Severity.CRITICAL]}; color: {TEXT_ON_COLOUR}; "
                "font-weight: bold; border-radius: 9px; padding: 2px 10px;"
            )
        else:
            self.badge.setText("nothing firing")
            self.badge.setStyleSheet(
                f"color: {HEALTHY_COLOUR}; border: 1px solid {HEALTHY_COLOUR}; "
                "border-radius: 9px; padding: 1px 9px;"
            )

    def _update_clusters(self) -> None:
        """Offer every cluster in the data; keep the chosen one even while it has none."""
        names: dict[str, str] = {}
        for a in self.model.alerts():
            names.setdefault(a.cluster, a.cluster_name)
        set_choices(self.cluster_filter, names)
        self.history_view.note_clusters(names)
        self.history_view.note_rules(a.rule for a in self.model.alerts())


def _named(widget: _W, name: str) -> _W:
    widget.setObjectName(name)
    return widget


def _silenceable(alert: Alert) -> bool:
    return alert.state in (AlertState.FIRING, AlertState.PENDING)
