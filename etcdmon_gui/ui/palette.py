"""Every colour the views draw with, and the small icons made from them.

One place, so a verdict, a severity or a failed delivery looks the same in the tree, the
header, the alert table, the tray and the dialogs, and a colour is changed once. Colours
are ``#rrggbb`` strings (usable in style sheets, rich text and ``QColor``); icons are
drawn on first use and cached. The views' own palette (window, text, base) still comes
from Qt's ``QPalette``, so light and dark themes keep working: the colours here are
the ones that carry meaning, chosen to read on both.
"""

from __future__ import annotations

from collections.abc import Mapping

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap

from etcdmon_gui.model.alerts import Alert, AlertState, Severity
from etcdmon_gui.model.delivery import AttemptOutcome
from etcdmon_gui.model.snapshot import Verdict

__all__ = [
    "ALERT_STATE_COLOURS",
    "CHANNEL_TYPE_COLOURS",
    "CRITICAL_COLOUR",
    "ERROR_COLOUR",
    "FAILED_BACKGROUND",
    "FAILED_TEXT",
    "FAIL_COLOUR",
    "FAIL_MARK",
    "HEALTHY_COLOUR",
    "INSECURE_COLOUR",
    "MEMBER_COLOURS",
    "MUTED_COLOUR",
    "NOTICE_BACKGROUND",
    "NOTICE_BORDER",
    "NOTICE_TEXT",
    "OUTCOME_COLOURS",
    "PASS_COLOUR",
    "PASS_MARK",
    "PRODUCTION_COLOUR",
    "RETRY_BACKGROUND",
    "RETRY_TEXT",
    "SEVERITY_COLOURS",
    "TEXT_ON_COLOUR",
    "UNKNOWN_COLOUR",
    "VERDICT_COLOURS",
    "WARNING_COLOUR",
    "alert_state_colour",
    "blend",
    "dot_icon",
    "severity_icon",
    "verdict_icon",
]

# -- verdicts and severities ---------------------------------------------------------

VERDICT_COLOURS: Mapping[Verdict, str] = {
    Verdict.HEALTHY: "#2e9d4f",
    Verdict.DEGRADED: "#e0a100",
    Verdict.CRITICAL: "#d93a3a",
    Verdict.UNREACHABLE: "#8a8a8a",
}
HEALTHY_COLOUR = VERDICT_COLOURS[Verdict.HEALTHY]
CRITICAL_COLOUR = VERDICT_COLOURS[Verdict.CRITICAL]  # also the unreachable banner
UNKNOWN_COLOUR = VERDICT_COLOURS[Verdict.UNREACHABLE]  # no verdict yet, disabled rows

SEVERITY_COLOURS: Mapping[Severity, str] = {
    Severity.CRITICAL: CRITICAL_COLOUR,
    Severity.WARNING: VERDICT_COLOURS[Verdict.DEGRADED],
    Severity.INFO: "#3b7dd8",
}
# Firing is drawn in the alert's severity colour; pending is plain text (not yet news).
ALERT_STATE_COLOURS: Mapping[AlertState, str] = {
    AlertState.RESOLVED: HEALTHY_COLOUR,
    AlertState.INACTIVE: UNKNOWN_COLOUR,
}

TEXT_ON_COLOUR = "white"  # text on a verdict chip, a badge or a banner

# -- messages in windows and dialogs ---------------------------------------------------

ERROR_COLOUR = "#c62828"  # a field or a test that failed
WARNING_COLOUR = "#b45f06"  # works, but not as one would want (secrets not kept...)
INSECURE_COLOUR = "#b45309"  # insecure connection settings in force
PRODUCTION_COLOUR = ERROR_COLOUR  # a profile tagged production
# The profile manager's notice about entries of the file that did not load.
NOTICE_BACKGROUND = "#fff4ce"
NOTICE_BORDER = "#e0b400"
NOTICE_TEXT = "#4d3800"

# -- notification deliveries -----------------------------------------------------------

OUTCOME_COLOURS: Mapping[AttemptOutcome, str] = {
    AttemptOutcome.DELIVERED: HEALTHY_COLOUR,
    AttemptOutcome.RETRYING: WARNING_COLOUR,
    AttemptOutcome.FAILED: ERROR_COLOUR,
}
FAILED_BACKGROUND = "#fdecea"
FAILED_TEXT = "#8e1b1b"
RETRY_BACKGROUND = "#fff6e0"
RETRY_TEXT = "#7a4a00"
# Each channel type's badge in the channels dialog (the services' own hues, darkened).
CHANNEL_TYPE_COLOURS: Mapping[str, str] = {
    "email": "#1565c0",
    "slack": "#611f69",
    "pagerduty": "#06ac38",
    "alertmanager": "#00838f",
    "webhook": "#ef6c00",
    "desktop": "#455a64",
    "log": "#6d6d6d",
}

# -- charts and benchmarks ---------------------------------------------------------------

# Qualitative colours whose contrast is >= 2.9:1 both on white and on a dark grey
# (#353535) window, so lines stay readable in light and dark palettes. Assigned to
# members in order of first appearance (name order within one snapshot).
MEMBER_COLOURS: tuple[str, ...] = (
    "#3b82f6",  # blue
    "#d97706",  # amber
    "#16a34a",  # green
    "#e7298a",  # magenta
    "#7b61ff",  # violet
    "#0891b2",  # cyan
    "#e6550d",  # vermilion
    "#65a30d",  # olive
)
MUTED_COLOUR = "#808080"  # axes and hints until the widget's palette is known
PASS_COLOUR = "#16a34a"  # a check perf verdict
FAIL_COLOUR = "#dc2626"  # a failed check, errors during a benchmark
PASS_MARK = "✔"
FAIL_MARK = "✘"


def alert_state_colour(alert: Alert) -> str | None:
    """The colour of an alert's state text; ``None`` for plain text (pending)."""
    if alert.state == AlertState.FIRING:
        return SEVERITY_COLOURS[alert.severity]
    return ALERT_STATE_COLOURS.get(alert.state)


def blend(a: QColor, b: QColor, weight: float) -> QColor:
    """``weight`` of ``a`` over ``1 - weight`` of ``b``, opaque.

    Opaque mixes of text and background stand in for translucent colours: Qt's raster
    engine draws an opaque line far faster than a translucent one.
    """
    return QColor.fromRgbF(
        a.redF() * weight + b.redF() * (1 - weight),
        a.greenF() * weight + b.greenF() * (1 - weight),
        a.blueF() * weight + b.blueF() * (1 - weight),
    )


# -- icons ---------------------------------------------------------------------------------

_dot_icons: dict[str, QIcon] = {}
_severity_icons: dict[Severity, QIcon] = {}


def dot_icon(colour: str) -> QIcon:
    """A filled circle, readable on light and dark palettes."""
    icon = _dot_icons.get(colour)
    if icon is None:
        pix = QPixmap(14, 14)
        pix.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pix)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setBrush(QColor(colour))
        painter.setPen(QColor(colour).darker(140))
        painter.drawEllipse(1, 1, 12, 12)
        painter.end()
        icon = _dot_icons[colour] = QIcon(pix)
    return icon


def verdict_icon(verdict: Verdict) -> QIcon:
    """The verdict's coloured dot (tree rows, profile test results)."""
    return dot_icon(VERDICT_COLOURS[verdict])


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
