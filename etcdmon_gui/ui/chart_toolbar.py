"""The charts' toolbar: time window, one picker per chart with several readings, follow.

It only reports choices through signals and shows the state it is told; the charts
widget owns that state. The pickers come from ``chart_definitions.CHARTS``.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QButtonGroup, QComboBox, QHBoxLayout, QLabel, QToolButton, QWidget

from etcdmon_gui.ui.chart_definitions import CHARTS

__all__ = ["TIME_WINDOWS", "ChartToolbar"]

TIME_WINDOWS: tuple[tuple[str, int], ...] = (
    ("5 m", 5 * 60),
    ("15 m", 15 * 60),
    ("1 h", 3600),
    ("6 h", 6 * 3600),
    ("24 h", 24 * 3600),
)


class ChartToolbar(QWidget):
    """Window presets, reading pickers (``<key>Statistic``) and the "Follow live" button.

    Signals:
        windowChosen(int seconds): a time window button was clicked.
        readingChosen(str chart_key, int index): a picker changed to reading ``index``.
        followToggled(bool): the user pressed "Follow live" (not ``set_following``).
    """

    windowChosen = Signal(int)
    readingChosen = Signal(str, int)
    followToggled = Signal(bool)

    def __init__(self, window_s: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        bar = QHBoxLayout(self)
        bar.setContentsMargins(6, 4, 6, 0)
        bar.setSpacing(4)
        bar.addWidget(QLabel("Window:"))
        self._window_group = QButtonGroup(self)
        for text, seconds in TIME_WINDOWS:
            button = QToolButton()
            button.setText(text)
            button.setCheckable(True)
            button.setObjectName(f"window{seconds}s")
            button.setToolTip(f"Show the last {text}")
            button.setChecked(seconds == window_s)
            self._window_group.addButton(button, seconds)
            bar.addWidget(button)
        self._window_group.idClicked.connect(self.windowChosen)

        for spec in CHARTS:
            if len(spec.readings) < 2:
                continue
            bar.addSpacing(16)
            bar.addWidget(QLabel(spec.picker))
            combo = QComboBox()
            combo.setObjectName(f"{spec.key}Statistic")
            combo.setToolTip(spec.picker_tip)
            for reading in spec.readings:
                combo.addItem(reading.label)
            combo.setCurrentIndex(spec.default_index)
            combo.currentIndexChanged.connect(
                lambda index, key=spec.key: self.readingChosen.emit(key, index)
            )
            bar.addWidget(combo)

        bar.addStretch(1)
        self._follow_button = QToolButton()
        self._follow_button.setObjectName("followLive")
        self._follow_button.setText("Follow live")
        self._follow_button.setCheckable(True)
        self._follow_button.setChecked(True)
        self._follow_button.setToolTip(
            "Keep the newest sample in view. Zooming or panning a chart pauses this."
        )
        self._follow_button.toggled.connect(self.followToggled)
        bar.addWidget(self._follow_button)

    def show_window(self, seconds: int) -> None:
        """Check the preset of ``seconds``, or none when it is not a preset."""
        button = self._window_group.button(seconds)
        if button is not None:
            button.setChecked(True)
            return
        self._window_group.setExclusive(False)
        for b in self._window_group.buttons():
            b.setChecked(False)
        self._window_group.setExclusive(True)

    def set_following(self, follow: bool) -> None:
        """Show the follow state without emitting ``followToggled``."""
        self._follow_button.blockSignals(True)
        self._follow_button.setChecked(follow)
        self._follow_button.blockSignals(False)
