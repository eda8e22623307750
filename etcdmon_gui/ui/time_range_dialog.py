"""Pick a range of the history for the charts: from and to, in local time.

The range must start before it ends and may not end in the future (a minute of slack
for a "to" typed as the current minute); it may start as far back as the history keeps
anything (a year of hourly roll-ups). OK stays disabled, with the reason under the
fields, until the range is valid. No I/O: the charts load the range.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from PySide6.QtCore import QDateTime, Signal
from PySide6.QtWidgets import (
    QDateTimeEdit,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from etcdmon_gui.ui.palette import ERROR_COLOUR

__all__ = ["EARLIEST_S", "TimeRangeDialog", "validate_range"]

EARLIEST_S = 365 * 86_400  # the history keeps hourly roll-ups a year
FUTURE_SLACK_S = 60.0
_FORMAT = "yyyy-MM-dd HH:mm"


def validate_range(start: float, end: float, now: float) -> str | None:
    """Why ``start``..``end`` is not a range to show at ``now``; ``None`` when it is."""
    if end <= start:
        return "“From” must be before “To”."
    if end > now + FUTURE_SLACK_S:
        return "“To” is in the future: the history ends now."
    if start < now - EARLIEST_S:
        return "“From” is more than a year ago: the history keeps a year."
    return None


def _edit(t: float) -> QDateTimeEdit:
    edit = QDateTimeEdit(QDateTime.fromMSecsSinceEpoch(round(t * 1000)))
    edit.setCalendarPopup(True)
    edit.setDisplayFormat(_FORMAT)
    return edit


def _seconds(edit: QDateTimeEdit) -> float:
    return edit.dateTime().toMSecsSinceEpoch() / 1000


class TimeRangeDialog(QDialog):
    """From and to (``fromEdit``, ``toEdit``), local time; "Now" sets "To" to now.

    Signals:
        rangeChosen(float start, float end): accepted with a valid range (UNIX seconds).
    """

    rangeChosen = Signal(float, float)

    def __init__(
        self,
        start: float,
        end: float,
        parent: QWidget | None = None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Chart range")
        self._clock = clock
        now = clock()
        self.from_edit = _edit(start)
        self.from_edit.setObjectName("fromEdit")
        self.to_edit = _edit(min(end, now))
        self.to_edit.setObjectName("toEdit")
        earliest = QDateTime.fromMSecsSinceEpoch(round((now - EARLIEST_S) * 1000))
        # A day ahead, so a "To" in the future can be typed and is refused with a reason.
        latest = QDateTime.fromMSecsSinceEpoch(round((now + 86_400) * 1000))
        for edit in (self.from_edit, self.to_edit):
            edit.setDateTimeRange(earliest, latest)
            edit.dateTimeChanged.connect(self._check)
        now_button = QPushButton("Now")
        now_button.setObjectName("toNow")
        now_button.setToolTip("End the range now: the charts then follow the newest sample")
        now_button.clicked.connect(self._to_now)
        offset = time.strftime("%z", time.localtime(now))
        zone = f"UTC{offset[:3]}:{offset[3:]}" if len(offset) == 5 else "local time"
        form = QFormLayout()
        form.addRow("From:", self.from_edit)
        form.addRow("To:", self.to_edit)
        form.addRow("", now_button)
        hint = QLabel(f"Local time ({zone}). A range that ends now follows the live data.")
        hint.setWordWrap(True)
        hint.setStyleSheet("color: palette(placeholder-text);")
        self.error = QLabel()
        self.error.setObjectName("rangeError")
        self.error.setWordWrap(True)
        self.error.setStyleSheet(f"color: {ERROR_COLOUR};")
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(hint)
        lay.addWidget(self.error)
        lay.addWidget(self.buttons)
        self._check()

    def values(self) -> tuple[float, float]:
        """(start, end) in UNIX seconds, as shown."""
        return _seconds(self.from_edit), _seconds(self.to_edit)

    def set_values(self, start: float, end: float) -> None:
        self.from_edit.setDateTime(QDateTime.fromMSecsSinceEpoch(round(start * 1000)))
        self.to_edit.setDateTime(QDateTime.fromMSecsSinceEpoch(round(end * 1000)))

    def problem(self) -> str | None:
        """Why OK is disabled; ``None`` when the range is valid."""
        return validate_range(*self.values(), self._clock())

    def _check(self) -> None:
        problem = self.problem()
        self.error.setText(problem or "")
        self.error.setVisible(problem is not None)
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setEnabled(problem is None)

    def _to_now(self) -> None:
        self.to_edit.setDateTime(QDateTime.fromMSecsSinceEpoch(round(self._clock() * 1000)))

    def accept(self) -> None:
        self._check()
        if self.problem() is not None:
            return
        super().accept()
        self.rangeChosen.emit(*self.values())
