"""The alert details pane: rule, summary, timeline, labels, and a sparkline of the values
the alert arrived with."""

from __future__ import annotations

import math
from collections.abc import Sequence

from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent, QPalette, QPen, QPolygonF
from PySide6.QtWidgets import QLabel, QSizePolicy, QTextBrowser, QVBoxLayout, QWidget

from etcdmon_gui.formatting import fmt_value
from etcdmon_gui.model.alerts import Alert, Severity
from etcdmon_gui.ui.alert_text import details_html
from etcdmon_gui.ui.palette import SEVERITY_COLOURS


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
                y = (
                    rect.bottom() - (v - lo) / span * rect.height()
                    if hi > lo
                    else rect.center().y()
                )
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

    def show_alert(
        self, alert: Alert | None, history: Sequence[tuple[float, float]], now: float
    ) -> None:
        if alert is None:
            self._html = self._fingerprint = None
            self.text.setHtml(
                "<p style='color: gray'>Select an alert to see its rule, "
                "timeline and value history.</p>"
            )
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
                f"max {fmt_value(max(values))}, now {fmt_value(values[-1])}"
            )
        else:
            self.history_caption.setText("Value history: no values yet")
        self.sparkline.set_values(values, SEVERITY_COLOURS[alert.severity])
        self.history_caption.show()
        self.sparkline.setVisible(bool(values))
