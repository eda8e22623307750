"""Building blocks of the benchmark dialog's pages: a palette-following plot and a
read-only table sized to its rows."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem

from etcdmon_gui.ui.palette import blend

__all__ = ["cell_text", "fit_height", "plot_widget", "table", "table_item"]

_ROW_HEIGHT = 22


def plot_widget(title: str, unit: str) -> pg.PlotWidget:
    """A small plot without mouse interaction, in the colours of the palette."""
    w = pg.PlotWidget()
    w.setMenuEnabled(False)
    w.hideButtons()
    w.setMouseEnabled(x=False, y=False)
    w.showGrid(x=True, y=True, alpha=0.25)
    item = w.getPlotItem()
    item.setTitle(title, size="10pt")
    item.setDownsampling(auto=True, mode="peak")
    item.setClipToView(True)
    item.getAxis("left").setLabel(units=unit)
    item.getAxis("left").setWidth(56)
    w.setMinimumHeight(150)
    # Follow the palette (light or dark) as the main window's charts do.
    palette = w.palette()
    background = palette.color(QPalette.ColorRole.Base)
    text = palette.color(QPalette.ColorRole.WindowText)
    muted = blend(text, background, 0.6)
    w.setBackground(background)
    for name in ("left", "bottom"):
        axis = item.getAxis(name)
        axis.setPen(muted)
        axis.setTextPen(text)
    item.titleLabel.setAttr("color", text.name())
    item.setTitle(title, size="10pt")
    return w


def table_item(text: str, align_right: bool = True) -> QTableWidgetItem:
    item = QTableWidgetItem(text)
    item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
    if align_right:
        item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    return item


def table(headers: list[str]) -> QTableWidget:
    """A read-only, unselectable table with stretched columns."""
    t = QTableWidget(0, len(headers))
    t.setHorizontalHeaderLabels(headers)
    t.verticalHeader().setVisible(False)
    t.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    t.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
    t.setFocusPolicy(Qt.FocusPolicy.NoFocus)
    t.setAlternatingRowColors(True)
    t.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
    t.verticalHeader().setDefaultSectionSize(_ROW_HEIGHT)
    return t


def fit_height(t: QTableWidget, rows: int) -> None:
    """Exactly ``rows`` rows high: the tables sit in a scrolled page, not in a scroll of
    their own."""
    h = t.horizontalHeader().height() + _ROW_HEIGHT * rows + 2 * t.frameWidth() + 2
    t.setFixedHeight(h)


def cell_text(t: QTableWidget, row: int, col: int) -> str:
    item = t.item(row, col)
    return item.text() if item is not None else ""
