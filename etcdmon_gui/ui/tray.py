"""The system tray icon: the clusters' state at a glance, and alert popups.

``AlertTray`` colours its icon by the worse of the worst alert that counts as firing and
the worst verdict of the clusters whose data is live (amber for Degraded even before an
alert fires; green when all is well; grey when no cluster's data is live: every one
paused or stale). The number on it counts firing alerts nobody acknowledged. It pops
up a message for each newly firing or resolved alert. Popups are
throttled so a storm stays readable: more than ``burst_limit`` in ``burst_window_s``
become one summary. Repeats never pop up, and nothing does while muted. Where the
desktop has no tray, the same messages go out through ``inWindowNotification`` for the
main window to show (``NotificationBanner``).
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Sequence

from PySide6.QtCore import QObject, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QColor, QFont, QIcon, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QMenu, QSystemTrayIcon

from etcdmon_gui.formatting import fmt_duration, fmt_time
from etcdmon_gui.model.alerts import Alert, AlertEvent, EventKind, Severity
from etcdmon_gui.ui.alert_text import counts_as_firing, where, worst_firing
from etcdmon_gui.ui.cluster_state import (
    ClusterState,
    badge_count,
    summary_lines,
    verdict_severity,
    worst_live_verdict,
)
from etcdmon_gui.ui.palette import (
    HEALTHY_COLOUR,
    SEVERITY_COLOURS,
    TEXT_ON_COLOUR,
    UNKNOWN_COLOUR,
)

log = logging.getLogger(__name__)

Clock = Callable[[], float]

BURST_LIMIT = 3
BURST_WINDOW_S = 10.0
GATHER_MS = 200
MUTE_S = 3600.0
MESSAGE_MS = 10_000
SUMMARY_LINES = 4

_MESSAGE_ICONS = {
    Severity.CRITICAL: QSystemTrayIcon.MessageIcon.Critical,
    Severity.WARNING: QSystemTrayIcon.MessageIcon.Warning,
    Severity.INFO: QSystemTrayIcon.MessageIcon.Information,
}
_icon_cache: dict[tuple[str, int], QIcon] = {}


def tray_icon(colour: str, firing: int = 0) -> QIcon:
    """A filled disc in ``colour``, with the firing count on it when there is one."""
    key = (colour, min(firing, 10))
    icon = _icon_cache.get(key)
    if icon is None:
        icon = QIcon()
        for size in (16, 22, 32, 64):
            pix = QPixmap(size, size)
            pix.fill(Qt.GlobalColor.transparent)
            painter = QPainter(pix)
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            painter.setBrush(QColor(colour))
            painter.setPen(QPen(QColor(colour).darker(150), max(1.0, size / 16)))
            margin = max(1.0, size / 16)
            painter.drawEllipse(QRectF(margin, margin, size - 2 * margin, size - 2 * margin))
            if firing and size >= 22:
                font = QFont()
                font.setBold(True)
                text = str(firing) if firing < 10 else "9+"
                font.setPixelSize(int(size * (0.55 if len(text) == 1 else 0.4)))
                painter.setFont(font)
                painter.setPen(QColor(TEXT_ON_COLOUR))
                painter.drawText(QRectF(0, 0, size, size), Qt.AlignmentFlag.AlignCenter, text)
            painter.end()
            icon.addPixmap(pix)
        _icon_cache[key] = icon
    return icon


def event_message(event: AlertEvent) -> tuple[str, str, Severity]:
    """Title, text and severity of one alert's popup."""
    a = event.alert
    if event.kind == EventKind.RESOLVED:
        return f"Resolved: {a.rule}", f"{where(a)} — was: {a.summary}", Severity.INFO
    return (
        f"{a.severity.name.capitalize()} alert firing: {a.rule}",
        f"{a.summary}\n{where(a)}",
        a.severity,
    )


def summary_message(events: Sequence[AlertEvent]) -> tuple[str, str, Severity]:
    """One popup for many events: counts in the title, the first few named below."""
    firing = [e for e in events if e.kind == EventKind.FIRING]
    resolved = len(events) - len(firing)
    counts = ", ".join(
        part
        for part in (
            f"{len(firing)} firing" if firing else "",
            f"{resolved} resolved" if resolved else "",
        )
        if part
    )
    title = f"{len(events)} alerts changed: {counts}"
    lines = [
        f"{e.kind.value}: {e.alert.rule} ({where(e.alert)})"
        for e in sorted(events, key=lambda e: (e.kind != EventKind.FIRING, -e.alert.severity))
    ]
    if len(lines) > SUMMARY_LINES:
        lines[SUMMARY_LINES - 1 :] = [f"…and {len(lines) - SUMMARY_LINES + 1} more"]
    severity = max((e.alert.severity for e in firing), default=Severity.INFO)
    return title, "\n".join(lines), severity


class AlertTray(QObject):
    """The tray icon, its menu, and throttled alert popups.

    ``clock`` and ``tray_available`` are injectable so tests need neither a desktop nor
    to wait out the burst window. Availability is asked at every popup: a tray that
    appears later (a panel restarting) is used from then on.

    Signals:
    showRequested(): the user asked for the main window (menu, icon click, popup click).
    quitRequested(): the user chose Quit.
    popupShown(str title, str message): a notification went out, as a tray message or
        through ``inWindowNotification``; one emission per popup (summaries included).
    inWindowNotification(str title, str message, Severity severity): there is no system
        tray, so the window should show this (``NotificationBanner.show_notification``).
    mutedChanged(bool muted): notifications were muted or unmuted (also on expiry).
    iconChanged(QIcon icon): the icon was redrawn (the main window shows it too).
    """

    showRequested = Signal()
    quitRequested = Signal()
    popupShown = Signal(str, str)
    inWindowNotification = Signal(str, str, object)
    mutedChanged = Signal(bool)
    iconChanged = Signal(QIcon)

    def __init__(
        self,
        parent: QObject | None = None,
        *,
        clock: Clock = time.time,
        tray_available: Callable[[], bool] = QSystemTrayIcon.isSystemTrayAvailable,
        burst_limit: int = BURST_LIMIT,
        burst_window_s: float = BURST_WINDOW_S,
        gather_ms: int = GATHER_MS,
        mute_s: float = MUTE_S,
        message_ms: int = MESSAGE_MS,
    ) -> None:
        super().__init__(parent)
        self.clock = clock
        self.tray_available = tray_available
        self.burst_limit = burst_limit
        self.burst_window_s = burst_window_s
        self.gather_ms = gather_ms
        self.mute_s = mute_s
        self.message_ms = message_ms
        self._muted_until: float | None = None
        self._queue: list[AlertEvent] = []
        self._shown: deque[float] = deque()  # when each recent popup went out
        self._held = False  # the queue waited for the burst window: summarise it
        self._worst: Severity | None = None
        self._firing = 0
        self._unacknowledged = 0
        self._clusters: list[ClusterState] = []
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.flush)

        self.menu = QMenu()
        self.show_action = QAction("Show window", self.menu)
        self.mute_action = QAction(self.menu)
        self.quit_action = QAction("Quit", self.menu)
        self.menu.addAction(self.show_action)
        self.menu.addAction(self.mute_action)
        self.menu.addSeparator()
        self.menu.addAction(self.quit_action)
        self.show_action.triggered.connect(self.showRequested)
        self.mute_action.triggered.connect(self.toggle_mute)
        self.quit_action.triggered.connect(self.quitRequested)
        self.menu.aboutToShow.connect(self._update_text)

        self.tray_icon = QSystemTrayIcon(self)
        self.tray_icon.setContextMenu(self.menu)
        self.tray_icon.activated.connect(self._on_activated)
        self.tray_icon.messageClicked.connect(self.showRequested)
        self._update_icon()

    # -- visibility ---------------------------------------------------------------------

    def show(self) -> bool:
        """Show the icon if the desktop has a tray; say whether it does."""
        if not self.tray_available():
            log.info("no system tray: alerts will show in the window")
            return False
        self.tray_icon.show()
        return True

    def hide(self) -> None:
        self.tray_icon.hide()

    # -- alert state ------------------------------------------------------------------------

    def set_alerts(self, alerts: Sequence[Alert]) -> None:
        """Take the alerts' part of the icon: the worst that counts as firing, and the
        number of those nobody acknowledged (the badge)."""
        now = self.clock()
        self._worst = worst_firing(alerts, now)
        self._firing = sum(counts_as_firing(a, now) for a in alerts)
        self._unacknowledged = badge_count(alerts, now)
        self._update_icon()

    def set_clusters(self, states: Sequence[ClusterState]) -> None:
        """Take the clusters' part: their verdicts, and whether their data is live."""
        self._clusters = list(states)
        self._update_icon()

    def worst_severity(self) -> Severity | None:
        """The worst severity among alerts that count as firing (verdicts aside)."""
        return self._worst

    def overall_severity(self) -> Severity | None:
        """The worse of the firing alerts and the live clusters' verdicts."""
        verdict = verdict_severity(worst_live_verdict(self._clusters))
        return max((s for s in (self._worst, verdict) if s is not None), default=None)

    def badge(self) -> int:
        """The number drawn on the icon: firing alerts not acknowledged."""
        return self._unacknowledged

    def icon_colour(self) -> str:
        """The colour the icon is drawn in."""
        worst = self.overall_severity()
        if worst is not None:
            return SEVERITY_COLOURS[worst]
        if self._clusters and not any(s.live for s in self._clusters):
            return UNKNOWN_COLOUR  # nothing live to vouch for: paused, stale, connecting
        return HEALTHY_COLOUR

    # -- muting -------------------------------------------------------------------------------

    @property
    def muted_until(self) -> float | None:
        """When muting ends (UNIX time), or ``None`` when not muted."""
        self.is_muted()
        return self._muted_until

    def is_muted(self) -> bool:
        if self._muted_until is not None and self.clock() >= self._muted_until:
            self._muted_until = None
            self._update_text()
            self.mutedChanged.emit(False)
        return self._muted_until is not None

    def mute(self, seconds: float | None = None) -> None:
        """No popups for ``seconds`` (default ``mute_s``); what is queued is dropped."""
        self._muted_until = self.clock() + (self.mute_s if seconds is None else seconds)
        self._queue.clear()
        self._held = False
        self._timer.stop()
        self._update_text()
        self.mutedChanged.emit(True)

    def unmute(self) -> None:
        if self._muted_until is None:
            return
        self._muted_until = None
        self._update_text()
        self.mutedChanged.emit(False)

    def toggle_mute(self) -> None:
        if self.is_muted():
            self.unmute()
        else:
            self.mute()

    # -- popups -----------------------------------------------------------------------------

    def notify(self, events: Sequence[AlertEvent]) -> None:
        """Queue a popup for each newly firing or resolved event (repeats are ignored).

        Events arriving within ``gather_ms`` of each other are judged together, so a
        burst split over several calls still becomes one summary. ``gather_ms=0``
        decides at once.
        """
        if self.is_muted():
            return
        wanted = [e for e in events if e.kind in (EventKind.FIRING, EventKind.RESOLVED)]
        if not wanted:
            return
        self._queue.extend(wanted)
        if self.gather_ms <= 0 and not self._held:
            self.flush()
        elif not self._timer.isActive():
            self._timer.start(self.gather_ms)

    def pending(self) -> int:
        """Events waiting to be shown (gathering, or held back by the burst window)."""
        return len(self._queue)

    def flush(self) -> None:
        """Show what is queued now, unless the burst window is full (then wait for it).

        What fits the window's remaining budget pops up one by one; more than that is one
        summary. Events that had to wait for the window are summarised when they go out.
        """
        self._timer.stop()
        if not self._queue or self.is_muted():
            self._queue.clear()
            return
        now = self.clock()
        while self._shown and self._shown[0] <= now - self.burst_window_s:
            self._shown.popleft()
        budget = self.burst_limit - len(self._shown)
        if budget <= 0:
            self._held = True
            wait_s = self._shown[0] + self.burst_window_s - now
            self._timer.start(max(1, int(wait_s * 1000)))
            return
        events, self._queue = self._queue, []
        if len(events) > budget or (self._held and len(events) > 1):
            self._popup(*summary_message(events), now)
        else:
            for event in events:
                self._popup(*event_message(event), now)
        self._held = False

    def _popup(self, title: str, message: str, severity: Severity, now: float) -> None:
        self._shown.append(now)
        if self.tray_available():
            self.tray_icon.showMessage(title, message, _MESSAGE_ICONS[severity], self.message_ms)
        else:
            self.inWindowNotification.emit(title, message, severity)
        self.popupShown.emit(title, message)

    # -- upkeep -------------------------------------------------------------------------------

    def _on_activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason in (
            QSystemTrayIcon.ActivationReason.Trigger,
            QSystemTrayIcon.ActivationReason.DoubleClick,
        ):
            self.showRequested.emit()

    def _update_icon(self) -> None:
        icon = tray_icon(self.icon_colour(), self._unacknowledged)
        self.tray_icon.setIcon(icon)
        self._update_text()
        self.iconChanged.emit(icon)

    def _update_text(self) -> None:
        if self._worst is None:
            tip = "etcdmon — no alerts firing"
        else:
            tip = (
                f"etcdmon — {self._firing} alert{'s' if self._firing != 1 else ''} firing "
                f"(worst: {self._worst.name.lower()})"
            )
            acked = self._firing - self._unacknowledged
            if acked > 0:
                tip += f", {acked} acknowledged"
        lines = summary_lines(self._clusters)
        if lines:
            tip += "\n" + "\n".join(lines)
        until = self._muted_until
        if until is not None:
            tip += f"\nnotifications muted until {fmt_time(until, self.clock())}"
            self.mute_action.setText(
                f"Unmute notifications (muted until {fmt_time(until, self.clock())})"
            )
        else:
            self.mute_action.setText(f"Mute notifications for {fmt_duration(self.mute_s)}")
        self.tray_icon.setToolTip(tip)
