"""The charts' toolbar: time window (presets, "Custom…"), one picker per chart with
several readings, follow; and ``HistoryStatus``, the history's progress (or why it
failed), which the charts widget floats over a corner of its plots so it never takes
the toolbar's room.

They only report choices through signals and show the state they are told; the charts
widget owns that state. The pickers come from ``chart_definitions.CHARTS``.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QToolButton,
    QWidget,
)

from etcdmon_gui.ui.chart_definitions import CHARTS

__all__ = ["TIME_WINDOWS", "ChartToolbar", "HistoryStatus"]

TIME_WINDOWS: tuple[tuple[str, int], ...] = (
    ("5 m", 5 * 60),
    ("15 m", 15 * 60),
    ("1 h", 3600),
    ("6 h", 6 * 3600),
    ("24 h", 24 * 3600),
    ("7 d", 7 * 86_400),
    ("30 d", 30 * 86_400),
)


class ChartToolbar(QWidget):
    """Window presets, "Custom…", reading pickers (``<key>Statistic``) and the "Follow
    live" button.

    Signals:
        windowChosen(int seconds): a time window button was clicked.
        customRequested(): "Custom…" was clicked (the widget asks for the range).
        readingChosen(str chart_key, int index): a picker changed to reading ``index``.
        followToggled(bool): the user pressed "Follow live" (not ``set_following``).
    """

    windowChosen = Signal(int)
    customRequested = Signal()
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
        self._custom = QToolButton()
        self._custom.setText("Custom…")
        self._custom.setObjectName("customRange")
        self._custom.setCheckable(True)
        self._custom.setToolTip("Show a range of the history: from and to, in local time")
        self._custom.clicked.connect(self._on_custom)
        bar.addWidget(self._custom)

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
        self._custom.setChecked(False)
        self._custom.setToolTip("Show a range of the history: from and to, in local time")
        button = self._window_group.button(seconds)
        if button is not None:
            button.setChecked(True)
            return
        self._uncheck_presets()

    def show_custom(self, description: str) -> None:
        """Check "Custom…" (a fixed range, ``description`` in its tooltip), no preset."""
        self._uncheck_presets()
        self._custom.setChecked(True)
        self._custom.setToolTip(f"Showing {description}. Click to pick another range.")

    def custom_checked(self) -> bool:
        return self._custom.isChecked()

    def _uncheck_presets(self) -> None:
        self._window_group.setExclusive(False)
        for b in self._window_group.buttons():
            b.setChecked(False)
        self._window_group.setExclusive(True)

    def _on_custom(self) -> None:
        # Checked only once a range is chosen (``show_custom``); the click asks for one.
        self._custom.setChecked(not self._custom.isChecked())
        self.customRequested.emit()

    def set_following(self, follow: bool) -> None:
        """Show the follow state without emitting ``followToggled``."""
        self._follow_button.blockSignals(True)
        self._follow_button.setChecked(follow)
        self._follow_button.blockSignals(False)


class HistoryStatus(QFrame):
    """A progress bar, "Loading history… 40 %" (``historyProgress``), while a range
    loads, or "History not loaded: why" (``historyNote``, all of it in its tooltip);
    hidden otherwise. It sizes itself: the charts widget floats it, in no layout."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("historyStatus")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setAutoFillBackground(True)  # readable over the plots' grid lines
        lay = QHBoxLayout(self)
        lay.setContentsMargins(6, 2, 6, 2)
        self.progress = QProgressBar()
        self.progress.setObjectName("historyProgress")
        self.progress.setFixedSize(150, 16)
        self.progress.setFormat("Loading history… %p %")
        self.progress.setToolTip("Loading this range from the history file")
        lay.addWidget(self.progress)
        self.note = QLabel()
        self.note.setObjectName("historyNote")
        lay.addWidget(self.note)
        self.hide()

    def show_loading(self, done: int | None = None, total: int | None = None) -> None:
        """Busy without a ``total``, else ``done`` of ``total``."""
        self.note.hide()
        if total:
            self.progress.setRange(0, total)
            self.progress.setValue(min(done or 0, total))
        else:
            self.progress.setRange(0, 0)  # busy
        self.progress.show()
        self._show(True)

    def hide_loading(self, note: str = "") -> None:
        """Hide the progress; with a ``note`` (why loading failed) say so instead."""
        self.progress.hide()
        self.note.setText(f"⚠ History not loaded: {note}"[:80] if note else "")
        self.note.setToolTip(note)
        self.note.setVisible(bool(note))
        self._show(bool(note))

    def is_loading(self) -> bool:
        return not self.isHidden() and not self.progress.isHidden()

    def _show(self, visible: bool) -> None:
        self.adjustSize()
        self.setVisible(visible)
        if visible:
            self.raise_()
