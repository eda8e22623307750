"""The pyqtgraph side of the live charts: the grid of plots, legend, crosshair and readout.

``ChartGrid`` lays out one plot per ``chart_definitions.CHARTS`` entry (x axes linked,
y axes not mouse-driven), a legend strip above them and a readout in the free cell, in
one to four columns chosen from its size (``columns_for``) so a plot keeps a readable
height in a small window and uses the width of a large one,
styles them from the widget's ``QPalette``, and makes the curves (live ones, and those
of a range loaded from the history). Each plot can say "no data" (or "loading…") in its
middle; a chart with a forecast has a dashed forecast line. It knows nothing of members,
buffers or snapshots: ``ChartsWidget`` decides what to draw and when a plot has nothing
to show.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QObject, QPointF, Qt, Signal
from PySide6.QtGui import QColor, QPalette, QResizeEvent

from etcdmon_gui.ui.chart_definitions import CHARTS, READOUT_CELL, grid_cell, time_labelled
from etcdmon_gui.ui.palette import MUTED_COLOUR, blend

__all__ = ["LOADING_TEXT", "NO_DATA_TEXT", "ChartGrid", "LiveCurveItem"]

NO_DATA_TEXT = "no data"
LOADING_TEXT = "loading…"

_TITLE_HEIGHT = 20
MIN_PLOT_WIDTH = 260  # narrower and the time axis labels run into each other
MAX_COLUMNS = 4
_STRIP_HEIGHT = 26
# Qt's raster engine has a fast path for 1 px lines; at 1.5 px a frame of 40 curves
# costs about twice as much.
_LINE_WIDTH = 1.0


class LiveCurveItem(pg.PlotDataItem):  # type: ignore[misc]
    """A ``PlotDataItem`` that can skip re-clipping data about to be replaced.

    A follow-mode redraw moves the x range, then gives every curve new data. Left alone,
    the move makes each curve clip and peak-downsample its *old* data first: a full pass
    over up to 86,400 samples per curve, thrown away a moment later.
    """

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.replacing = False

    def viewRangeChanged(
        self, vb: object = None, ranges: object = None, changed: object = None
    ) -> None:
        if self.replacing:
            return  # setData() follows and reads the new view range itself
        super().viewRangeChanged(vb, ranges, changed)

    def set_series(self, t: np.ndarray, y: np.ndarray) -> float:
        """Show these samples; the largest value shown (NaN: none).

        The maximum is taken over what pyqtgraph will draw (clipped to the view and
        peak-downsampled, so every bucket's maximum is kept): a few thousand points
        instead of up to 86,400.
        """
        self.replacing = False
        # Peak downsampling draws nothing at all when its factor exceeds the points
        # (ten minutes of samples in a 30-day view): a few points are drawn as they are.
        vb = self.getViewBox()
        auto = len(t) > 2 * (vb.width() if vb is not None else 1000)
        if auto != self.opts["autoDownsample"]:
            self.setDownsampling(auto=auto, method="peak")
        self.setData(t, y)
        shown = self.getData()[1]
        if shown is None or len(shown) == 0:
            return math.nan
        return float(np.fmax.reduce(shown))


class _HoverFilter(QObject):
    """Tells the grid when the mouse leaves the plots, to hide the crosshair."""

    def __init__(self, on_leave: Callable[[], None], parent: QObject) -> None:
        super().__init__(parent)
        self._on_leave = on_leave

    def eventFilter(self, _watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Leave:
            self._on_leave()
        return False


def member_pen(color: QColor) -> object:
    return pg.mkPen(color, width=_LINE_WIDTH)


def reference_pen(color: QColor) -> object:
    """Dashed: a limit to compare with (the quota), not a measurement."""
    return pg.mkPen(color, width=_LINE_WIDTH, style=Qt.PenStyle.DashLine)


def forecast_pen(color: QColor) -> object:
    """Dashed and a little heavier than the members' lines: an extrapolation."""
    return pg.mkPen(color, width=2.0, style=Qt.PenStyle.DashLine)


class ChartGrid(pg.GraphicsLayoutWidget):  # type: ignore[misc]
    """The plots of ``CHARTS`` in columns, with a legend strip and a readout.

    Signals:
        legendClicked(object item): a legend entry was clicked; pyqtgraph has already
            toggled ``item``'s visibility.
        manualRange(): the user zoomed or panned a plot.
        xRangeChanged(): the shared x range changed (by the user or the program).
        mouseMoved(QPointF scene_pos), mouseLeft(): for the crosshair.
    """

    legendClicked = Signal(object)
    manualRange = Signal()
    xRangeChanged = Signal()
    mouseMoved = Signal(object)
    mouseLeft = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("chartsView")
        self.plots: dict[str, pg.PlotItem] = {}
        self._crosshairs: dict[str, pg.InfiniteLine] = {}
        self._no_data: dict[str, pg.TextItem] = {}
        self.forecast_lines: dict[str, pg.PlotDataItem] = {}  # chart key -> forecast line
        # The forecast's legend entry ("full in ~3.2 days"), there while a
        # forecast line is; clicking it hides or shows the line.
        self.forecast_sample = pg.PlotDataItem(pen=forecast_pen(QColor(MUTED_COLOUR)))
        self._forecast_text = ""
        self._titles: dict[str, str] = {}
        self._text = self.palette().color(QPalette.ColorRole.WindowText)
        self.muted_hex = MUTED_COLOUR
        self._build()
        self.scene().sigMouseMoved.connect(self.mouseMoved)
        hover_filter = _HoverFilter(self.mouseLeft.emit, self)
        self.installEventFilter(hover_filter)
        self.viewport().installEventFilter(hover_filter)

    def _build(self) -> None:
        top = self.ci
        top.setContentsMargins(4, 0, 4, 4)
        top.layout.setHorizontalSpacing(18)
        top.layout.setVerticalSpacing(4)
        self.columns = 2
        strip = top.addLayout(row=0, col=0, colspan=2)
        strip.setContentsMargins(0, 0, 0, 0)
        strip.setMaximumHeight(_STRIP_HEIGHT)
        self._strip = strip
        holder = pg.GraphicsWidget()
        holder.setMinimumHeight(24)
        strip.addItem(holder, row=0, col=0)
        self.legend = pg.LegendItem(offset=None, colCount=9, labelTextSize="9pt")
        self.legend.setParentItem(holder)
        self.legend.anchor(itemPos=(0, 0.5), parentPos=(0, 0.5), offset=(60, 0))
        self.legend.sigSampleClicked.connect(self.legendClicked)
        # One legend entry per reference line (members go before them).
        self.reference_samples: dict[str, pg.PlotDataItem] = {}
        self._reference_labels: dict[str, str] = {}
        for spec in CHARTS:
            if spec.reference is not None:
                sample = pg.PlotDataItem(pen=reference_pen(QColor(MUTED_COLOUR)))
                self.legend.addItem(sample, spec.reference.label)
                self.reference_samples[spec.key] = sample
                self._reference_labels[spec.key] = spec.reference.label
        # The cell left free by the plots holds the crosshair readout. It sits on a
        # placeholder, outside the layout, so its text never resizes columns.
        cell = pg.GraphicsWidget()
        top.addItem(cell, row=READOUT_CELL[0], col=READOUT_CELL[1])
        self._readout_cell = cell
        self.readout = pg.LabelItem("", justify="left", size="9pt")
        self.readout.setParentItem(cell)
        self.readout.setPos(16, 24)

        master: pg.PlotItem | None = None
        for index, spec in enumerate(CHARTS):
            plot = pg.PlotItem(axisItems={"bottom": pg.DateAxisItem(orientation="bottom")})
            row, col = grid_cell(index)
            top.addItem(plot, row=row, col=col)
            plot.setMenuEnabled(False)
            plot.setDownsampling(auto=True, mode="peak")  # inherited by curves added later
            plot.setClipToView(True)
            plot.hideButtons()
            # Grid lines in an opaque pale colour (see apply_palette), major ticks only:
            # Qt's raster engine draws a translucent line ~20x slower than an opaque one.
            plot.showGrid(x=True, y=True)
            for name in ("left", "bottom"):
                axis = plot.getAxis(name)
                axis.setStyle(tickAlpha=255, maxTickLevel=0)
                # Below the ViewBox (z -100): an opaque grid line must not hide a flat
                # curve lying on it (a quota of exactly 100 MB, a rate of 0).
                axis.setZValue(-200)
            if not time_labelled(index):  # shared x axis: label the bottom rows only
                plot.getAxis("bottom").setStyle(showValues=False)
            vb = plot.getViewBox()
            vb.setMouseEnabled(x=True, y=False)
            vb.enableAutoRange(x=False, y=False)
            vb.setLimits(minXRange=10)
            vb.sigRangeChangedManually.connect(lambda *_: self.manualRange.emit())
            left = plot.getAxis("left")
            left.setWidth(64)
            left.setLabel(units=spec.unit.value)
            if spec.unit.si_prefixes:  # k/s, MB, GB; never "m/s" for a rate below one
                left.setSIPrefixEnableRanges(((1e3, math.inf),))
            else:
                left.enableAutoSIPrefix(False)
            plot.setYRange(0, 1, padding=0)
            line = pg.InfiniteLine(angle=90, movable=False)
            line.setVisible(False)
            plot.addItem(line, ignoreBounds=True)
            self._crosshairs[spec.key] = line
            # In the view box's own pixels, not in data coordinates: it stays in the
            # middle whatever the ranges, and never counts for the auto range.
            empty = pg.TextItem(NO_DATA_TEXT, color=MUTED_COLOUR, anchor=(0.5, 0.5))
            empty.setParentItem(vb)
            empty.setPos(vb.rect().center())
            vb.sigResized.connect(lambda box, item=empty: item.setPos(box.rect().center()))
            self._no_data[spec.key] = empty
            if spec.forecast:
                forecast = pg.PlotDataItem(pen=forecast_pen(QColor(MUTED_COLOUR)))
                forecast.setZValue(10)  # over the members' lines it starts from
                plot.addItem(forecast, ignoreBounds=True)
                self.forecast_lines[spec.key] = forecast
            if master is None:
                master = plot
                vb.sigXRangeChanged.connect(lambda *_: self.xRangeChanged.emit())
            else:
                plot.setXLink(master)
            self.plots[spec.key] = plot
        self._size_columns()

    # -- reflow ----------------------------------------------------------------------------

    @staticmethod
    def columns_for(width: float, height: float) -> int:
        """How many columns suit a view of this size: the count whose plots come
        closest to 5:2 (wide enough for the time labels, tall enough for the values),
        never narrower than ``MIN_PLOT_WIDTH`` unless one column is all there is."""
        cells = len(CHARTS) + 1  # the readout takes a cell
        best, best_score = 1, -1.0
        for columns in range(1, MAX_COLUMNS + 1):
            plot_width = width / columns
            if columns > 1 and plot_width < MIN_PLOT_WIDTH:
                break
            rows = -(-cells // columns)
            plot_height = (height - _STRIP_HEIGHT) / rows
            score = min(plot_width / 2.5, plot_height)
            if score > best_score:
                best, best_score = columns, score
        return best

    def set_columns(self, columns: int) -> None:
        """Lay the plots out in ``columns`` columns (table order, row by row)."""
        columns = max(1, min(MAX_COLUMNS, columns))
        if columns == self.columns:
            return
        self.columns = columns
        top = self.ci
        grid = top.layout
        # Out of the grid and back in at new cells; the items stay in the scene, with
        # their curves, links and signals. pyqtgraph's own cell book-keeping follows.
        while grid.count():
            grid.removeAt(0)
        top.rows = {}
        cells = [(self._strip, (0, 0), columns)]
        cells += [(self.plots[s.key], grid_cell(i, columns), 1) for i, s in enumerate(CHARTS)]
        cells.append((self._readout_cell, grid_cell(len(CHARTS), columns), 1))
        for item, (row, col), span in cells:
            grid.addItem(item, row, col, 1, span)
            top.items[item] = [(row, col + c) for c in range(span)]
            for r, c in top.items[item]:
                top.rows.setdefault(r, {})[c] = item
        for index, spec in enumerate(CHARTS):
            self.plots[spec.key].getAxis("bottom").setStyle(
                showValues=time_labelled(index, columns)
            )
        self._size_columns()
        grid.invalidate()

    def _size_columns(self) -> None:
        # Equal columns whatever the titles' widths (a linked x axis must span the same
        # number of pixels in every column for the crosshair and grid to line up).
        grid = self.ci.layout
        for column in range(MAX_COLUMNS):
            used = column < self.columns
            grid.setColumnStretchFactor(column, 1 if used else 0)
            grid.setColumnMinimumWidth(column, 240 if used and self.columns > 1 else 0)
            grid.setColumnPreferredWidth(column, 4000 if used else 0)
            grid.setColumnMaximumWidth(column, 1e6 if used else 0)

    def resizeEvent(self, event: QResizeEvent | None) -> None:
        if event is not None and self.plots:  # pyqtgraph calls it with None while building
            self.set_columns(self.columns_for(event.size().width(), event.size().height()))
        super().resizeEvent(event)

    # -- curves and legend -------------------------------------------------------------

    def add_curve(self, key: str, pen: object) -> LiveCurveItem:
        """A new curve on plot ``key``, set up for peak-downsampled live data."""
        # One min/max pair per pixel column is all a peak-downsampled line can show;
        # pyqtgraph's default (5 per pixel) draws 5x the segments for nothing.
        item = LiveCurveItem(pen=pen, autoDownsampleFactor=1.0)
        self.plots[key].addItem(item)
        # After addItem: PlotItem.addItem imposes the plot's own modes on the item.
        item.setDownsampling(auto=True, method="peak")
        item.setClipToView(True)
        # The y range always covers the visible data (ChartsWidget._set_y_top), so Qt's
        # trouble with far off-screen coordinates cannot arise; the check costs two full
        # passes over the data per curve and redraw.
        item.setDynamicRangeLimit(None)
        return item

    def add_member_curves(
        self, color: QColor
    ) -> tuple[dict[str, LiveCurveItem], dict[str, LiveCurveItem]]:
        """A member's curve on every chart, and its dashed reference lines, by chart key."""
        curves: dict[str, LiveCurveItem] = {}
        references: dict[str, LiveCurveItem] = {}
        for spec in CHARTS:
            curves[spec.key] = self.add_curve(spec.key, member_pen(color))
            if spec.reference is not None:
                references[spec.key] = self.add_curve(spec.key, reference_pen(color))
        return curves, references

    def add_history_curves(
        self, color: QColor
    ) -> tuple[dict[str, pg.PlotDataItem], dict[str, pg.PlotDataItem]]:
        """A member's curves of a range loaded from the history, and their reference
        lines, by chart key: drawn like the live ones, where the live buffer has nothing.

        They hold at most a few thousand points (what was asked for: the plot's width),
        so they are drawn whole: neither clipped to the view nor downsampled, a change
        of the x range (every second while following) costs them nothing."""
        curves: dict[str, pg.PlotDataItem] = {}
        references: dict[str, pg.PlotDataItem] = {}
        for spec in CHARTS:
            curves[spec.key] = self._add_static_curve(spec.key, member_pen(color))
            if spec.reference is not None:
                references[spec.key] = self._add_static_curve(spec.key, reference_pen(color))
        return curves, references

    def _add_static_curve(self, key: str, pen: object) -> pg.PlotDataItem:
        item = pg.PlotDataItem(pen=pen)
        self.plots[key].addItem(item)
        # After addItem, which imposes the plot's clipping and downsampling.
        item.setDownsampling(auto=False)
        item.setClipToView(False)
        item.setDynamicRangeLimit(None)
        return item

    def add_legend_member(self, item: pg.PlotDataItem, name: str) -> None:
        """A member's legend entry, after the other members and before the references
        (and the forecast)."""
        for sample in self.reference_samples.values():
            self.legend.removeItem(sample)
        self.legend.removeItem(self.forecast_sample)
        self.legend.addItem(item, name)
        for key, sample in self.reference_samples.items():
            self.legend.addItem(sample, self._reference_labels[key])
        if self._forecast_text:
            self.legend.addItem(self.forecast_sample, self._forecast_text)

    def set_forecast_legend(self, text: str, color: QColor) -> None:
        """The forecast's legend entry says ``text`` in a sample of ``color``; no entry
        for an empty ``text``."""
        self.forecast_sample.setPen(forecast_pen(color))
        if text == self._forecast_text:
            return
        if self._forecast_text:
            label = self.legend.getLabel(self.forecast_sample)
            if text and label is not None:
                label.setText(text)
                self.legend.updateSize()
            else:
                self.legend.removeItem(self.forecast_sample)
        elif text:
            self.legend.addItem(self.forecast_sample, text)
        self._forecast_text = text

    def show_no_data(self, key: str, empty: bool) -> None:
        """Say "no data" in the middle of plot ``key`` (``empty``), or stop saying it."""
        self._no_data[key].setVisible(empty)

    def shows_no_data(self, key: str) -> bool:
        """Whether plot ``key`` says "no data" (or "loading…")."""
        return bool(self._no_data[key].isVisible())

    def set_no_data_text(self, text: str) -> None:
        """What an empty plot says: ``NO_DATA_TEXT``, or ``LOADING_TEXT`` while loading."""
        for item in self._no_data.values():
            if item.textItem.toPlainText() != text:
                item.setText(text)

    def show_forecast(
        self, key: str, x: Sequence[float], y: Sequence[float], color: QColor
    ) -> None:
        """Draw plot ``key``'s forecast line through these points (empty: none)."""
        line = self.forecast_lines[key]
        line.setPen(forecast_pen(color))
        line.setData(list(x), list(y))
        line.setVisible(len(x) > 0)

    def no_data_item(self, key: str) -> pg.TextItem:
        """The "no data" text of plot ``key`` (for tests and screenshots)."""
        return self._no_data[key]

    # -- titles, crosshair, readout ------------------------------------------------------

    def set_title(self, key: str, text: str) -> None:
        self._titles[key] = text
        plot = self.plots[key]
        plot.setTitle(text, color=self._text.name(), size="9pt")
        plot.titleLabel.setMaximumHeight(_TITLE_HEIGHT)  # setTitle reserves 30 px
        plot.layout.setRowFixedHeight(0, _TITLE_HEIGHT)

    def plot_at(self, pos: QPointF) -> str | None:
        """The key of the plot whose data area contains scene position ``pos``."""
        return next(
            (
                key
                for key, plot in self.plots.items()
                if plot.getViewBox().sceneBoundingRect().contains(pos)
            ),
            None,
        )

    def show_crosshair(self, x: float) -> None:
        for line in self._crosshairs.values():
            line.setPos(x)
            line.setVisible(True)

    def hide_crosshair(self, hint_html: str) -> None:
        for line in self._crosshairs.values():
            line.setVisible(False)
        self.readout.setText(f"<span style='color:{self.muted_hex}'>{hint_html}</span>")

    # -- palette -------------------------------------------------------------------------

    def apply_palette(self, palette: QPalette) -> None:
        """Follow the system palette: background, text, axes, grid, crosshair."""
        background = palette.window().color()
        text = palette.color(QPalette.ColorRole.WindowText)
        # Opaque mixes of text and background rather than alpha: cheaper to draw.
        muted = blend(text, background, 0.6)
        grid = blend(text, background, 0.14)
        self._text = text
        self.setBackground(background)
        for key, plot in self.plots.items():
            for name in ("left", "bottom"):
                axis = plot.getAxis(name)
                axis.setPen(muted)
                axis.setTickPen(grid)
                axis.setTextPen(text)
            if key in self._titles:
                self.set_title(key, self._titles[key])
        for line in self._crosshairs.values():
            line.setPen(pg.mkPen(muted, width=1))
        for empty in self._no_data.values():
            empty.setColor(muted)
        self.legend.setLabelTextColor(text)
        for _, label in self.legend.items:
            label.setText(label.text)
        self.readout.setAttr("color", text.name())
        self.muted_hex = muted.name()
        for sample in self.reference_samples.values():
            sample.setPen(reference_pen(muted))
