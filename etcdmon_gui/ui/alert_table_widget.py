"""The alert table: every alert the engine reports, filterable and sortable, with details.

``AlertTableModel`` holds one row per fingerprint and updates rows in place, so the
selection (and the sort position) survives every evaluation. It also keeps the last
``HISTORY_LEN`` values each fingerprint arrived with, for the details pane's sparkline.
``AlertTableWidget`` adds filters, a details pane, copy to clipboard, and asks for
silences and acknowledgements through signals; it never changes an alert itself.

An alert *counts as firing* (the badge, the tray colour) when it is firing and not
silenced: a silence is how a person says "I know, stop telling me".
"""

from __future__ import annotations

import html
import math
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

from PySide6.QtCore import (
    Property,
    QItemSelection,
    QModelIndex,
    QObject,
    QPointF,
    QSortFilterProxyModel,
    Qt,
    Signal,
)
from PySide6.QtGui import (
    QAction,
    QBrush,
    QColor,
    QFont,
    QGuiApplication,
    QIcon,
    QKeySequence,
    QPainter,
    QPaintEvent,
    QPalette,
    QPen,
    QPolygonF,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QSplitter,
    QTableView,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from etcdmon_gui.model.alerts import Alert, AlertState, Severity
from etcdmon_gui.model.snapshot import Verdict
from etcdmon_gui.ui.cluster_tree_widget import VERDICT_COLOURS, dot_icon
from etcdmon_gui.ui.row_table_model import ModelIndex, RowTableModel

Clock = Callable[[], float]
_W = TypeVar("_W", bound=QObject)

COLUMNS = ("State", "Severity", "Rule", "Cluster", "Member", "Value", "Since", "Last notified")
(COL_STATE, COL_SEVERITY, COL_RULE, COL_CLUSTER, COL_MEMBER, COL_VALUE, COL_SINCE,
 COL_NOTIFIED) = range(len(COLUMNS))
HISTORY_LEN = 50

SORT_ROLE = Qt.ItemDataRole.UserRole  # a number or lower-case text that sorts right
FINGERPRINT_ROLE = Qt.ItemDataRole.UserRole + 1
ALERT_ROLE = Qt.ItemDataRole.UserRole + 2  # the Alert itself

SEVERITY_COLOURS = {
    Severity.CRITICAL: VERDICT_COLOURS[Verdict.CRITICAL],
    Severity.WARNING: VERDICT_COLOURS[Verdict.DEGRADED],
    Severity.INFO: "#3b7dd8",
}
HEALTHY_COLOUR = VERDICT_COLOURS[Verdict.HEALTHY]
# Firing is drawn in the alert's severity colour; pending is plain text (not yet news).
STATE_COLOURS = {
    AlertState.RESOLVED: HEALTHY_COLOUR,
    AlertState.INACTIVE: VERDICT_COLOURS[Verdict.UNREACHABLE],
}


def state_colour(alert: Alert) -> str | None:
    if alert.state == AlertState.FIRING:
        return SEVERITY_COLOURS[alert.severity]
    return STATE_COLOURS.get(alert.state)
_STATE_RANK = {AlertState.FIRING: 0, AlertState.PENDING: 1, AlertState.RESOLVED: 2,
               AlertState.INACTIVE: 3}

# (label, seconds): what the Silence choice offers; math.inf is "until resolved".
SILENCE_CHOICES: tuple[tuple[str, float], ...] = (
    ("1 h", 3600.0), ("4 h", 4 * 3600.0), ("24 h", 24 * 3600.0), ("until resolved", math.inf))


_severity_icons: dict[Severity, QIcon] = {}


def severity_icon(severity: Severity) -> QIcon:
    """The severity's coloured dot, unchanged on a selected row (Qt would tint it)."""
    icon = _severity_icons.get(severity)
    if icon is None:
        pix = dot_icon(SEVERITY_COLOURS[severity]).pixmap(14, 14)
        icon = QIcon()
        for mode in (QIcon.Mode.Normal, QIcon.Mode.Selected, QIcon.Mode.Active):
            icon.addPixmap(pix, mode)
        _severity_icons[severity] = icon
    return icon


def is_silenced(alert: Alert, now: float) -> bool:
    return alert.silenced_until is not None and now < alert.silenced_until


def counts_as_firing(alert: Alert, now: float) -> bool:
    """Firing and not silenced: what the badge counts and the tray colour follows."""
    return alert.state == AlertState.FIRING and not is_silenced(alert, now)


def worst_firing(alerts: Iterable[Alert], now: float) -> Severity | None:
    """The worst severity among alerts that count as firing; ``None`` when none do."""
    return max((a.severity for a in alerts if counts_as_firing(a, now)), default=None)


# -- text ---------------------------------------------------------------------------


def fmt_time(ts: float | None, now: float) -> str:
    """Local time: just the clock today, the date too otherwise; ``-`` for none."""
    if ts is None:
        return "-"
    if math.isinf(ts):
        return "until resolved"
    local, today = time.localtime(ts), time.localtime(now)
    if local[:3] == today[:3]:
        return time.strftime("%H:%M:%S", local)
    if local.tm_year == today.tm_year:
        return time.strftime("%b %d %H:%M", local)
    return time.strftime("%Y-%m-%d %H:%M", local)


def fmt_stamp(ts: float | None) -> str:
    """A full local timestamp, for text that outlives the day (copies, tooltips)."""
    if ts is None:
        return "-"
    if math.isinf(ts):
        return "until resolved"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))


def fmt_duration(seconds: float) -> str:
    """``45 s``, ``12 min``, ``3 h 5 min``, ``2 d 4 h``."""
    s = max(0, int(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min"
    if s < 86_400:
        h, m = divmod(s // 60, 60)
        return f"{h} h {m} min" if m else f"{h} h"
    d, h = divmod(s // 3600, 24)
    return f"{d} d {h} h" if h else f"{d} d"


def fmt_value(value: float | None) -> str:
    if value is None:
        return "-"
    if math.isinf(value) or math.isnan(value):
        return str(value)
    return f"{value:.4g}"


def where(alert: Alert) -> str:
    """``prod / etcd-2``, or just the cluster for a cluster-wide alert."""
    return f"{alert.cluster_name} / {alert.member}" if alert.member else alert.cluster_name


def state_text(alert: Alert, now: float) -> str:
    """The state, with silenced / acknowledged appended so they show in the table."""
    parts = [alert.state.value]
    if is_silenced(alert, now):
        parts.append("silenced")
    if alert.acknowledged:
        parts.append("acked")
    return " · ".join(parts)


def silence_text(alert: Alert, now: float) -> str | None:
    if not is_silenced(alert, now):
        return None
    assert alert.silenced_until is not None
    why = f" ({alert.silence_reason})" if alert.silence_reason else ""
    if math.isinf(alert.silenced_until):
        return f"silenced until resolved{why}"
    return f"silenced until {fmt_time(alert.silenced_until, now)}{why}"


def alert_text(alert: Alert, now: float) -> str:
    """A readable block for the clipboard: enough to paste into a chat or a ticket."""
    lines = [f"[{alert.state.value.upper()}] {alert.severity.name.lower()} {alert.rule} — "
             f"{where(alert)}",
             f"  {alert.summary}",
             f"  value: {fmt_value(alert.value)} · since: {fmt_stamp(alert.since)} · "
             f"last notified: {fmt_stamp(alert.last_notified)}"]
    flags = [t for t in (silence_text(alert, now),
                         "acknowledged" if alert.acknowledged else None) if t]
    if flags:
        lines.append("  " + " · ".join(flags))
    if alert.labels:
        lines.append("  labels: " + ", ".join(f"{k}={v}" for k, v in sorted(alert.labels.items())))
    lines.append(f"  fingerprint: {alert.fingerprint}")
    return "\n".join(lines)


# -- model ----------------------------------------------------------------------------


class AlertTableModel(RowTableModel[Alert]):
    """One row per fingerprint, in arrival order; the view sorts through a proxy.

    ``set_alerts`` replaces the contents but keeps rows that stay: a changed alert is a
    ``dataChanged`` on its row, never a reset, so selections and scroll positions hold.
    """

    columns = COLUMNS

    def __init__(self, parent: QObject | None = None, *, clock: Clock = time.time) -> None:
        super().__init__(parent)
        self.clock = clock
        self._history: dict[str, deque[tuple[float, float]]] = {}

    # -- contents ---------------------------------------------------------------------

    def set_alerts(self, alerts: Sequence[Alert]) -> None:
        """Show exactly these alerts (the last one wins for a repeated fingerprint)."""
        now = self.clock()
        new = {a.fingerprint: a for a in alerts}
        for row in reversed(range(len(self._rows))):
            fp = self._rows[row].fingerprint
            if fp not in new:
                self.beginRemoveRows(QModelIndex(), row, row)
                del self._rows[row]
                self.endRemoveRows()
                self._history.pop(fp, None)
        rows = {a.fingerprint: i for i, a in enumerate(self._rows)}
        added: list[Alert] = []
        for fp, alert in new.items():
            if alert.value is not None and not math.isnan(alert.value):
                self._history.setdefault(fp, deque(maxlen=HISTORY_LEN)).append((now, alert.value))
            at = rows.get(fp)
            if at is None:
                added.append(alert)
            elif alert != self._rows[at]:
                self._rows[at] = alert
                self.dataChanged.emit(self.index(at, 0), self.index(at, len(COLUMNS) - 1))
        if added:
            first = len(self._rows)
            self.beginInsertRows(QModelIndex(), first, first + len(added) - 1)
            self._rows.extend(added)
            self.endInsertRows()

    def alerts(self) -> list[Alert]:
        return list(self._rows)

    def alert(self, row: int) -> Alert:
        return self._rows[row]

    def find(self, fingerprint: str) -> int | None:
        """The row of a fingerprint, or ``None``."""
        return next((i for i, a in enumerate(self._rows) if a.fingerprint == fingerprint), None)

    def value_history(self, fingerprint: str) -> list[tuple[float, float]]:
        """(arrival time, value) of the last ``HISTORY_LEN`` updates, oldest first."""
        return list(self._history.get(fingerprint, ()))

    def firing_count(self) -> int:
        now = self.clock()
        return sum(counts_as_firing(a, now) for a in self._rows)

    # -- Qt model interface -------------------------------------------------------------

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        alert = self._row_at(index)
        if alert is None:
            return None
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(alert, col)
        if role == SORT_ROLE:
            return self._sort_key(alert, col)
        if role == ALERT_ROLE:
            return alert
        if role == FINGERPRINT_ROLE:
            return alert.fingerprint
        if role == Qt.ItemDataRole.DecorationRole and col == COL_SEVERITY:
            return severity_icon(alert.severity)
        if role == Qt.ItemDataRole.ForegroundRole and col == COL_STATE:
            colour = state_colour(alert)
            return None if colour is None else QBrush(QColor(colour))
        if role == Qt.ItemDataRole.FontRole:
            return self._font(alert, col)
        if role == Qt.ItemDataRole.TextAlignmentRole and col == COL_VALUE:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(alert)
        return None

    def _display(self, alert: Alert, col: int) -> str:
        now = self.clock()
        if col == COL_STATE:
            return state_text(alert, now)
        if col == COL_SEVERITY:
            return alert.severity.name.lower()
        if col == COL_RULE:
            return alert.rule
        if col == COL_CLUSTER:
            return alert.cluster_name
        if col == COL_MEMBER:
            return alert.member or "—"
        if col == COL_VALUE:
            return fmt_value(alert.value)
        if col == COL_SINCE:
            return fmt_time(alert.since, now)
        return fmt_time(alert.last_notified, now)

    @staticmethod
    def _sort_key(alert: Alert, col: int) -> float | str:
        # State sorts firing first, worst severity first within a state; severity sorts
        # by severity, firing first within one (descending puts critical-firing on top).
        rank = _STATE_RANK[alert.state]
        if col == COL_STATE:
            return float(rank * 10 + (Severity.CRITICAL - alert.severity))
        if col == COL_SEVERITY:
            return float(alert.severity * 10 + (3 - rank))
        if col == COL_VALUE:
            return -math.inf if alert.value is None else alert.value
        if col == COL_SINCE:
            return alert.since
        if col == COL_NOTIFIED:
            return -math.inf if alert.last_notified is None else alert.last_notified
        text = {COL_RULE: alert.rule, COL_CLUSTER: alert.cluster_name,
                COL_MEMBER: alert.member or ""}[col]
        return text.lower()

    def _font(self, alert: Alert, col: int) -> QFont | None:
        silenced = is_silenced(alert, self.clock())
        bold = col == COL_STATE and alert.state == AlertState.FIRING and not silenced
        if not (silenced or bold):
            return None
        font = QFont()
        font.setItalic(silenced)
        font.setBold(bold)
        return font

    def _tooltip(self, alert: Alert) -> str:
        now = self.clock()
        lines = [f"<b>{html.escape(alert.rule)}</b> — {html.escape(where(alert))}",
                 html.escape(alert.summary),
                 f"{alert.state.value} since {fmt_stamp(alert.since)} "
                 f"({fmt_duration(now - alert.since)})"]
        silence = silence_text(alert, now)
        if silence:
            lines.append(silence)
        if alert.acknowledged:
            lines.append("acknowledged")
        return "<br>".join(lines)


class AlertFilterProxy(QSortFilterProxyModel):
    """Sorts on ``SORT_ROLE`` and keeps rows that pass every filter that is set."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.setSortRole(SORT_ROLE)
        self.setDynamicSortFilter(True)
        self._states: frozenset[AlertState] | None = None
        self._severity: Severity | None = None
        self._cluster: str | None = None
        self._text = ""

    def set_states(self, states: Iterable[AlertState] | None) -> None:
        self._refilter("_states", None if states is None else frozenset(states))

    def set_severity(self, severity: Severity | None) -> None:
        self._refilter("_severity", severity)

    def set_cluster(self, cluster: str | None) -> None:
        """Only alerts of this cluster key; ``None`` for all."""
        self._refilter("_cluster", cluster)

    def set_text(self, text: str) -> None:
        """Only alerts whose rule, cluster, member, summary or labels contain ``text``."""
        self._refilter("_text", text.strip().casefold())

    def _refilter(self, name: str, value: object) -> None:
        if getattr(self, name) == value:
            return
        if hasattr(self, "endFilterChange"):  # Qt >= 6.10; invalidate*Filter is deprecated
            self.beginFilterChange()
            setattr(self, name, value)
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        else:
            setattr(self, name, value)
            self.invalidateFilter()

    def filterAcceptsRow(self, source_row: int, source_parent: ModelIndex) -> bool:
        model = self.sourceModel()
        if not isinstance(model, AlertTableModel):
            return True
        a = model.alert(source_row)
        if self._states is not None and a.state not in self._states:
            return False
        if self._severity is not None and a.severity != self._severity:
            return False
        if self._cluster is not None and a.cluster != self._cluster:
            return False
        if self._text:
            haystack = " ".join((a.rule, a.cluster_name, a.member or "", a.summary,
                                 *a.labels.values())).casefold()
            return self._text in haystack
        return True


# -- details ----------------------------------------------------------------------------


class Sparkline(QWidget):
    """A small line chart of recent values: trend at a glance, no axes."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._values: list[float] = []
        self._colour = QColor(SEVERITY_COLOURS[Severity.INFO])
        self.setMinimumHeight(48)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def set_values(self, values: Sequence[float], colour: str) -> None:
        self._values = [v for v in values if math.isfinite(v)]
        self._colour = QColor(colour)
        self.update()

    def values(self) -> list[float]:
        return list(self._values)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        rect = self.rect().adjusted(4, 6, -4, -6)
        base = self.palette().color(QPalette.ColorRole.Base)
        painter.fillRect(self.rect(), base)
        grid = self.palette().color(QPalette.ColorRole.Mid)
        painter.setPen(QPen(grid, 1, Qt.PenStyle.DotLine))
        painter.drawLine(rect.bottomLeft(), rect.bottomRight())
        values = self._values
        if values:
            lo, hi = min(values), max(values)
            span = (hi - lo) or 1.0
            step = rect.width() / max(1, len(values) - 1)

            def point(i: int, v: float) -> QPointF:
                y = rect.bottom() - (v - lo) / span * rect.height() if hi > lo \
                    else rect.center().y()
                x = rect.left() + i * step if len(values) > 1 else rect.center().x()
                return QPointF(x, y)

            points = [point(i, v) for i, v in enumerate(values)]
            painter.setPen(QPen(self._colour, 2))
            if len(points) > 1:
                painter.drawPolyline(QPolygonF(points))
            painter.setBrush(self._colour)
            painter.drawEllipse(points[-1], 3, 3)
        painter.end()


class AlertDetailsPane(QWidget):
    """Rule, summary, state timeline, labels and the value history of one alert."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.text = QTextBrowser()
        self.text.setObjectName("alertDetails")
        self.text.setOpenLinks(False)
        self.text.setFrameShape(QTextBrowser.Shape.NoFrame)
        self.history_caption = QLabel()
        self.history_caption.setStyleSheet("color: palette(placeholder-text);")
        self.sparkline = Sparkline()
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 0, 0, 0)
        lay.addWidget(self.text, 1)
        lay.addWidget(self.history_caption)
        lay.addWidget(self.sparkline)
        self.setMinimumWidth(280)
        self._html: str | None = None
        self._fingerprint: str | None = None
        self.show_alert(None, [], 0.0)

    def show_alert(self, alert: Alert | None, history: Sequence[tuple[float, float]],
                   now: float) -> None:
        if alert is None:
            self._html = self._fingerprint = None
            self.text.setHtml("<p style='color: gray'>Select an alert to see its rule, "
                              "timeline and value history.</p>")
            self.history_caption.hide()
            self.sparkline.hide()
            return
        text = details_html(alert, now)
        if text != self._html:  # unchanged text: leave the reader's scroll position alone
            bar = self.text.verticalScrollBar()
            keep = bar.value() if alert.fingerprint == self._fingerprint else 0
            self.text.setHtml(text)
            bar.setValue(keep)
            self._html, self._fingerprint = text, alert.fingerprint
        values = [v for _, v in history]
        if values:
            self.history_caption.setText(
                f"Value history (last {len(values)}): min {fmt_value(min(values))}, "
                f"max {fmt_value(max(values))}, now {fmt_value(values[-1])}")
        else:
            self.history_caption.setText("Value history: no values yet")
        self.sparkline.set_values(values, SEVERITY_COLOURS[alert.severity])
        self.history_caption.show()
        self.sparkline.setVisible(bool(values))


def details_html(alert: Alert, now: float) -> str:
    """The details pane's text for one alert."""
    e = html.escape
    colour = SEVERITY_COLOURS[alert.severity]
    state_style = f" style='color:{state_colour(alert)}'" if state_colour(alert) else ""
    state = (f"<b{state_style}>{alert.state.value}</b> for {fmt_duration(now - alert.since)}")
    rows = [("State", state),
            ("Severity", f"<span style='color:{colour}'>&#9679;</span> "
                         f"{alert.severity.name.lower()}"),
            ("Cluster", e(alert.cluster_name)),
            ("Member", e(alert.member) if alert.member else "cluster-wide"),
            ("Value", fmt_value(alert.value))]
    silence = silence_text(alert, now)
    if silence:
        rows.append(("Silence", silence))
    if alert.acknowledged:
        rows.append(("Acknowledged", "yes"))
    timeline = [(alert.active_at, "condition true (pending)"), (alert.fired_at, "firing"),
                (alert.resolved_at, "resolved"), (alert.last_notified, "last notified")]
    timeline = sorted((t, what) for t, what in timeline if t is not None)
    if not timeline:
        timeline = [(alert.since, alert.state.value)]
    parts = [
        f"<h3 style='margin-bottom:2px'><span style='color:{colour}'>&#9679;</span> "
        f"{e(alert.rule)}</h3>",
        f"<p style='margin-top:0'>{e(alert.summary)}</p>",
        "<table cellspacing='0' cellpadding='2'>",
        *(f"<tr><td style='color:gray; padding-right:10px'>{k}</td><td>{v}</td></tr>"
          for k, v in rows),
        "</table>",
        "<p style='margin-bottom:2px'><b>Timeline</b></p><table cellspacing='0' "
        "cellpadding='1'>",
        *(f"<tr><td style='padding-right:10px; white-space:nowrap'>{fmt_time(t, now)}</td>"
          f"<td>{what}</td></tr>" for t, what in timeline),
        "</table>",
    ]
    if alert.labels:
        parts.append("<p style='margin-bottom:2px'><b>Labels</b></p><p style='margin-top:0'>"
                     + "<br>".join(f"<code>{e(k)}={e(v)}</code>"
                                   for k, v in sorted(alert.labels.items())) + "</p>")
    parts.append(f"<p style='color:gray'>fingerprint <code>{e(alert.fingerprint)}</code></p>")
    return "".join(parts)


# -- widget -----------------------------------------------------------------------------


class AlertTableWidget(QWidget):
    """The alert table with filters, details, copy, silence and acknowledge.

    It renders what ``set_alerts`` gives it and asks for changes through signals; the
    owner applies them to the engine and sends the updated alerts back.

    Signals:
    silenceRequested(str fingerprint, float until, str reason): silence until this UNIX
        time, or ``math.inf`` for until resolved; one emission per selected alert.
    acknowledgeRequested(str fingerprint): one emission per selected firing alert.
    firingCountChanged(int): the number of alerts that count as firing changed (badge).
    """

    silenceRequested = Signal(str, float, str)
    acknowledgeRequested = Signal(str)
    firingCountChanged = Signal(int)

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
            ("Firing", (AlertState.FIRING,)), ("Pending", (AlertState.PENDING,)),
            ("Resolved", (AlertState.RESOLVED,)),
        ):
            self.state_filter.addItem(text, states)
        self.severity_filter = _named(QComboBox(), "severityFilter")
        self.severity_filter.addItem("All severities", None)
        for sev in sorted(Severity, reverse=True):
            self.severity_filter.addItem(severity_icon(sev), sev.name.capitalize(), sev)
        self.cluster_filter = _named(QComboBox(), "clusterFilter")
        self.cluster_filter.addItem("All clusters", None)
        self.cluster_filter.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.text_filter = _named(QLineEdit(), "textFilter")
        self.text_filter.setPlaceholderText("Filter by rule, member, summary, label…")
        self.text_filter.setClearButtonEnabled(True)
        self.badge = _named(QLabel(), "firingBadge")
        self.badge.setAlignment(Qt.AlignmentFlag.AlignCenter)

        self.table = _named(QTableView(), "alertTable")
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(COL_STATE, Qt.SortOrder.AscendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(
            self.table.fontMetrics().height() + 8)
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
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        lay.addLayout(filters)
        lay.addWidget(self.splitter, 1)

        copy = QAction("Copy", self.table)
        copy.setShortcut(QKeySequence.StandardKey.Copy)
        copy.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        copy.triggered.connect(self.copy_selected)
        self.table.addAction(copy)

        self.state_filter.currentIndexChanged.connect(
            lambda _: self.proxy.set_states(self.state_filter.currentData()))
        self.severity_filter.currentIndexChanged.connect(
            lambda _: self.proxy.set_severity(self.severity_filter.currentData()))
        self.cluster_filter.currentIndexChanged.connect(
            lambda _: self.proxy.set_cluster(self.cluster_filter.currentData()))
        self.text_filter.textChanged.connect(self.proxy.set_text)
        selection = self.table.selectionModel()
        selection.selectionChanged.connect(self._on_selection)
        selection.currentRowChanged.connect(lambda *_: self._refresh_details())
        self.copy_button.clicked.connect(self.copy_selected)
        self.ack_button.clicked.connect(self.acknowledge_selected)
        self.silence_button.clicked.connect(self.silence_selected)
        self.silence_reason.textChanged.connect(lambda _: self._update_buttons())
        self.silence_reason.returnPressed.connect(self.silence_selected)
        self._update_badge()
        self._update_buttons()

    # -- input ---------------------------------------------------------------------------

    def set_alerts(self, alerts: Sequence[Alert]) -> None:
        """Show these alerts; rows, selection and value histories carry over by fingerprint."""
        self.model.set_alerts(alerts)
        self._update_clusters()
        self._refresh_details()
        self._update_buttons()
        count = self.model.firing_count()
        if count != self._firing:
            self._firing = count
            self._update_badge()
            self.firingCountChanged.emit(count)

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

    # -- upkeep -----------------------------------------------------------------------------

    def _update_buttons(self) -> None:
        selected = self.selected_alerts()
        self.copy_button.setEnabled(bool(selected))
        self.ack_button.setEnabled(any(a.state == AlertState.FIRING and not a.acknowledged
                                       for a in selected))
        can_silence = any(_silenceable(a) for a in selected)
        has_reason = bool(self.silence_reason.text().strip())
        self.silence_button.setEnabled(can_silence and has_reason)
        self.silence_button.setToolTip(
            "Silence the selected alerts" if can_silence and has_reason else
            "Type a reason first" if can_silence else "Select a firing or pending alert")

    def _update_badge(self) -> None:
        n = self._firing
        if n:
            self.badge.setText(f"{n} firing")
            self.badge.setStyleSheet(
                f"background: {SEVERITY_COLOURS[Severity.CRITICAL]}; color: white; "
                "font-weight: bold; border-radius: 9px; padding: 2px 10px;")
        else:
            self.badge.setText("nothing firing")
            self.badge.setStyleSheet(
                f"color: {HEALTHY_COLOUR}; border: 1px solid {HEALTHY_COLOUR}; "
                "border-radius: 9px; padding: 1px 9px;")

    def _update_clusters(self) -> None:
        """Offer every cluster in the data; keep the chosen one even while it has none."""
        names: dict[str, str] = {}
        for a in self.model.alerts():
            names.setdefault(a.cluster, a.cluster_name)
        chosen = self.cluster_filter.currentData()
        if chosen is not None and chosen not in names:
            names[chosen] = self.cluster_filter.currentText()
        current = [self.cluster_filter.itemData(i) for i in range(1, self.cluster_filter.count())]
        wanted = sorted(names, key=lambda k: (names[k].casefold(), k))
        if current == wanted:
            return
        duplicate = {n for n in names.values() if list(names.values()).count(n) > 1}
        self.cluster_filter.blockSignals(True)
        try:
            while self.cluster_filter.count() > 1:
                self.cluster_filter.removeItem(1)
            for key in wanted:
                text = f"{names[key]} ({key})" if names[key] in duplicate else names[key]
                self.cluster_filter.addItem(text, key)
            index = self.cluster_filter.findData(chosen) if chosen is not None else 0
            self.cluster_filter.setCurrentIndex(max(0, index))
        finally:
            self.cluster_filter.blockSignals(False)


def _named(widget: _W, name: str) -> _W:
    widget.setObjectName(name)
    return widget


def _silenceable(alert: Alert) -> bool:
    return alert.state in (AlertState.FIRING, AlertState.PENDING)
