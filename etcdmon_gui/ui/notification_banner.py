"""An in-window notification, for desktops without a system tray.

``AlertTray.inWindowNotification`` connects straight to ``show_notification``. The
banner shows the newest message in its severity's colour and hides itself after
``timeout_ms`` or when clicked.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from etcdmon_gui.model.alerts import Severity
from etcdmon_gui.ui.palette import SEVERITY_COLOURS, TEXT_ON_COLOUR

DEFAULT_TIMEOUT_MS = 8000


class NotificationBanner(QFrame):
    """A coloured strip with a title and a message; hidden until there is something.

    A newer message replaces the one shown and restarts the timeout; the count of
    messages replaced meanwhile is shown, so a burst is not mistaken for one message.

    Signals:
    clicked(): the user clicked the banner (it hides itself too); the owner may want to
        bring up the alert table.
    """

    clicked = Signal()

    def __init__(
        self, parent: QWidget | None = None, *, timeout_ms: int = DEFAULT_TIMEOUT_MS
    ) -> None:
        super().__init__(parent)
        self.setObjectName("notificationBanner")
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setToolTip("Click to dismiss")
        self.title = QLabel()
        self.title.setObjectName("notificationTitle")
        self.message = QLabel()
        self.message.setObjectName("notificationMessage")
        self.message.setWordWrap(True)
        self.more = QLabel()
        self.more.setObjectName("notificationMore")
        self.close_hint = QLabel("✕")
        text = QVBoxLayout()
        text.setSpacing(2)
        text.addWidget(self.title)
        text.addWidget(self.message)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(10, 6, 10, 6)
        lay.addLayout(text, 1)
        lay.addWidget(self.more, 0, Qt.AlignmentFlag.AlignTop)
        lay.addWidget(self.close_hint, 0, Qt.AlignmentFlag.AlignTop)
        self._severity = Severity.INFO
        self._replaced = 0
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(timeout_ms)
        self._timer.timeout.connect(self.dismiss)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        self._style(Severity.INFO)
        self.hide()

    def show_notification(self, title: str, message: str, severity: Severity) -> None:
        """Show this message (replacing any shown) until the timeout or a click."""
        showing = not self.isHidden() and self._timer.isActive()
        self._replaced = self._replaced + 1 if showing else 0
        self._severity = severity
        self.title.setText(title)
        self.message.setText(message)
        self.message.setVisible(bool(message))
        self.more.setText(f"+{self._replaced} earlier" if self._replaced else "")
        self.more.setVisible(bool(self._replaced))
        self._style(severity)
        self.show()
        self._timer.start()

    def severity(self) -> Severity:
        return self._severity

    def dismiss(self) -> None:
        self._timer.stop()
        self._replaced = 0
        self.hide()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self.clicked.emit()
            self.dismiss()
            event.accept()
            return
        super().mousePressEvent(event)

    def _style(self, severity: Severity) -> None:
        self.setStyleSheet(
            f"#notificationBanner {{ background: {SEVERITY_COLOURS[severity]}; "
            "border-radius: 4px; }"
            f"#notificationBanner QLabel {{ color: {TEXT_ON_COLOUR}; }}"
            "#notificationTitle { font-weight: bold; }"
        )
