"""The alert table's Qt item model and its filter/sort proxy.

``AlertTableModel`` holds one row per fingerprint and updates rows in place, so the
selection (and the sort position) survives every evaluation. It also keeps the last
``HISTORY_LEN`` values each fingerprint arrived with, for the details pane's sparkline.
``AlertFilterProxy`` sorts on ``SORT_ROLE`` and filters by state, severity, cluster and
text.
"""

from __future__ import annotations

import html
import math
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence

from PySide6.QtCore import QObject, QSortFilterProxyModel, Qt
from PySide6.QtGui import QBrush, QColor, QFont

from etcdmon_gui.formatting import fmt_duration, fmt_stamp, fmt_time, fmt_value
from etcdmon_gui.model.alerts import Alert, AlertState, Severity
from etcdmon_gui.ui.alert_text import counts_as_firing, is_silenced, silence_text, state_text, where
from etcdmon_gui.ui.palette import alert_state_colour, severity_icon
from etcdmon_gui.ui.row_table_model import ModelIndex, RowTableModel

Clock = Callable[[], float]

COLUMNS = ("State", "Severity", "Rule", "Cluster", "Member", "Value", "Since", "Last notified")
(COL_STATE, COL_SEVERITY, COL_RULE, COL_CLUSTER, COL_MEMBER, COL_VALUE, COL_SINCE, COL_NOTIFIED) = (
    range(len(COLUMNS))
)
HISTORY_LEN = 50

SORT_ROLE = Qt.ItemDataRole.UserRole  # a number or lower-case text that sorts right
FINGERPRINT_ROLE = Qt.ItemDataRole.UserRole + 1
ALERT_ROLE = Qt.ItemDataRole.UserRole + 2  # the Alert itself

_STATE_RANK = {
    AlertState.FIRING: 0,
    AlertState.PENDING: 1,
    AlertState.RESOLVED: 2,
    AlertState.INACTIVE: 3,
}


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
        for fp in self._sync(new, lambda a: a.fingerprint):
            self._history.pop(fp, None)
        for fp, alert in new.items():
            if alert.value is not None and not math.isnan(alert.value):
                self._history.setdefault(fp, deque(maxlen=HISTORY_LEN)).append((now, alert.value))

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
            colour = alert_state_colour(alert)
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
        text = {
            COL_RULE: alert.rule,
            COL_CLUSTER: alert.cluster_name,
            COL_MEMBER: alert.member or "",
        }[col]
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
        lines = [
            f"<b>{html.escape(alert.rule)}</b> — {html.escape(where(alert))}",
            html.escape(alert.summary),
            f"{alert.state.value} since {fmt_stamp(alert.since)} "
            f"({fmt_duration(now - alert.since)})",
        ]
        silence = silence_text(alert, now)
        if silence:
            lines.append(html.escape(silence))
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
            haystack = " ".join(
                (a.rule, a.cluster_name, a.member or "", a.summary, *a.labels.values())
            ).casefold()
            return self._text in haystack
        return True
