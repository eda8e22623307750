"""Live charts of one cluster: latency, disk, network, throughput and DB size per member.

The widget only draws. Snapshots come in through ``add_snapshot`` (a slot, usually
connected to the monitor worker's signal); each one appends one row per member to that
member's ``RingBuffer`` and marks the plots dirty. A single-shot ``QTimer`` redraws the
dirty plots at most ten times a second, handing each curve views of the buffer for the
visible time range (plus a margin for panning, no copy); pyqtgraph then clips to the view
and peak-downsamples to one min/max pair per pixel, so what is painted depends on the
plot width, not on the time window. Only that pass over the samples grows with the window
(see ``benchmarks/chart_redraw.py``).

Interaction: the x axes (wall-clock time) of all plots are linked and follow the newest
sample ("Follow live") until the user zooms or pans, which pauses following; the button
resumes it. The y axes are not mouse-driven: they always start at zero and fit the
visible data of the visible members. A vertical crosshair follows the mouse across all
plots, with a readout of each visible member's value under it. Clicking a legend entry
hides or shows that member (or the quota lines) everywhere.

No I/O, no threads, no network here.
"""

from __future__ import annotations

import enum
import html
import logging
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QObject, QPointF, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QColor, QPalette, QShowEvent
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from etcdmon_gui.model.metrics import Quantiles
from etcdmon_gui.model.snapshot import ClusterSnapshot, MemberStatus
from etcdmon_gui.ui.series_buffer import DEFAULT_CAPACITY, RingBuffer, Series

__all__ = ["MEMBER_COLORS", "PLOT_KEYS", "TIME_WINDOWS", "ChartsWidget", "member_values"]

log = logging.getLogger(__name__)

TIME_WINDOWS: tuple[tuple[str, int], ...] = (
    ("5 m", 5 * 60),
    ("15 m", 15 * 60),
    ("1 h", 3600),
    ("6 h", 6 * 3600),
    ("24 h", 24 * 3600),
)
DEFAULT_WINDOW_S = 5 * 60  # a fresh start has data to show at once
REDRAW_INTERVAL_MS = 100  # at most 10 redraws a second
_TITLE_HEIGHT = 20
# Qt's raster engine has a fast path for 1 px lines; at 1.5 px a frame of 40 curves
# costs about twice as much.
_LINE_WIDTH = 1.0

# Qualitative colours whose contrast is >= 2.9:1 both on white and on a dark grey
# (#353535) window, so lines stay readable in light and dark palettes. Assigned to
# members in order of first appearance (ascending id within one snapshot).
MEMBER_COLORS: tuple[str, ...] = (
    "#3b82f6",  # blue
    "#d97706",  # amber
    "#16a34a",  # green
    "#e7298a",  # magenta
    "#7b61ff",  # violet
    "#0891b2",  # cyan
    "#e6550d",  # vermilion
    "#65a30d",  # olive
)


class Col(enum.IntEnum):
    """Value columns of a member's buffer, in plot units (ms, 1/s, bytes)."""

    PROBE_LAST = 0
    PROBE_P50 = 1
    PROBE_P95 = 2
    PROBE_P99 = 3
    WAL_P99 = 4
    BACKEND_P99 = 5
    PEER_P99 = 6
    PROPOSALS = 7
    GRPC = 8
    DB_SIZE = 9
    QUOTA = 10


_NAN_ROW: tuple[None, ...] = (None,) * len(Col)

PROBE_STATISTICS: tuple[tuple[str, Col], ...] = (
    ("Latest", Col.PROBE_LAST),
    ("P50", Col.PROBE_P50),
    ("P95", Col.PROBE_P95),
    ("P99", Col.PROBE_P99),
)
DEFAULT_PROBE_STATISTIC = "P99"


class _Unit(enum.Enum):
    MS = "ms"
    RATE = "/s"
    BYTES = "B"


@dataclass(frozen=True, slots=True)
class _PlotSpec:
    key: str
    title: str
    unit: _Unit
    column: Col | None  # None: the probe statistic picked in the toolbar
    row: int
    col: int


_PLOTS: tuple[_PlotSpec, ...] = (
    _PlotSpec("probe", "Client probe latency", _Unit.MS, None, 1, 0),
    _PlotSpec("wal", "WAL fsync P99", _Unit.MS, Col.WAL_P99, 1, 1),
    _PlotSpec("backend", "Backend commit P99", _Unit.MS, Col.BACKEND_P99, 2, 0),
    _PlotSpec("peer", "Peer RTT P99", _Unit.MS, Col.PEER_P99, 2, 1),
    _PlotSpec("proposals", "Proposals committed", _Unit.RATE, Col.PROPOSALS, 3, 0),
    _PlotSpec("grpc", "gRPC requests", _Unit.RATE, Col.GRPC, 3, 1),
    _PlotSpec("db", "DB size vs quota (dashed)", _Unit.BYTES, Col.DB_SIZE, 4, 0),
)
PLOT_KEYS: tuple[str, ...] = tuple(spec.key for spec in _PLOTS)
_TIME_LABELLED = frozenset({"proposals", "grpc", "db"})  # the two bottom rows
_QUOTA = "quota"  # key of the dashed quota curves on the "db" plot
_READOUT_HINT = (
    "Point at a chart to read each member's values.<br>"
    "Scroll or drag to look back;<br>click a legend entry to hide a member."
)


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else seconds * 1e3


def _q(q: Quantiles | None, name: str) -> float | None:
    return None if q is None else _ms(getattr(q, name))


def member_values(m: MemberStatus) -> tuple[float | None, ...]:
    """One buffer row for ``m``, in ``Col`` order and plot units; ``None`` where unknown.

    An unreachable member gets no values at all, so every chart shows a gap for it.
    """
    if not m.reachable:
        return _NAN_ROW
    mm = m.metrics
    pq = m.probe_quantiles
    return (
        m.probe_ms,
        _q(pq, "p50"),
        _q(pq, "p95"),
        _q(pq, "p99"),
        _q(mm.wal_fsync, "p99") if mm else None,
        _q(mm.backend_commit, "p99") if mm else None,
        _q(mm.peer_rtt, "p99") if mm else None,
        mm.proposals_committed_per_s if mm else None,
        mm.grpc_requests_total_per_s if mm else None,
        None if m.db_size is None else float(m.db_size),
        mm.quota_bytes if mm else None,
    )


def _blend(a: QColor, b: QColor, weight: float) -> QColor:
    """``weight`` of ``a`` over ``1 - weight`` of ``b``, opaque."""
    return QColor.fromRgbF(
        a.redF() * weight + b.redF() * (1 - weight),
        a.greenF() * weight + b.greenF() * (1 - weight),
        a.blueF() * weight + b.blueF() * (1 - weight),
    )


def _format(value: float, unit: _Unit) -> str:
    if not math.isfinite(value):
        return "—"
    if unit is _Unit.MS:
        if value < 1:
            return f"{value:.3f} ms"
        return f"{value:.2f} ms" if value < 100 else f"{value:,.0f} ms"
    if unit is _Unit.RATE:
        if value < 1000:
            return f"{value:.2f}/s" if value < 10 else f"{value:.1f}/s"
        return str(pg.siFormat(value, precision=3, suffix="/s"))
    return str(pg.siFormat(value, precision=3, suffix="B"))


class _LiveCurveItem(pg.PlotDataItem):  # type: ignore[misc]
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


@dataclass(eq=False)
class _Curve:
    column: Col | None  # None: follows the probe statistic
    item: _LiveCurveItem


@dataclass(eq=False)
class _Member:
    id: int
    name: str
    color: QColor
    buffer: RingBuffer
    curves: dict[str, list[_Curve]] = field(default_factory=dict)
    visible: bool = True


class _HoverFilter(QObject):
    """Tells the widget when the mouse leaves the plots, to hide the crosshair."""

    def __init__(self, on_leave: Callable[[], None], parent: QObject) -> None:
        super().__init__(parent)
        self._on_leave = on_leave

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Leave:
            self._on_leave()
        return False


class ChartsWidget(QWidget):
    """Live per-member charts of one cluster, fed by ``add_snapshot``.

    Promises: ``add_snapshot`` is cheap (a row per member appended to preallocated
    buffers, no drawing); at most ten redraws a second, only of plots whose data or range
    changed, and none while hidden; memory is bounded by ``capacity`` rows per member.
    The first snapshot fixes the cluster (``snap.key``); snapshots of another key are
    dropped until ``clear()``. A snapshot older than the newest one (the wall clock went
    back) restarts the history rather than freezing the charts.

    Signals:
        redrawn(): after each redraw that actually updated the plots.
        follow_changed(bool): following the newest sample was paused (False) or resumed.
    """

    redrawn = Signal()
    follow_changed = Signal(bool)

    def __init__(self, parent: QWidget | None = None, *, capacity: int = DEFAULT_CAPACITY) -> None:
        super().__init__(parent)
        self._capacity = capacity
        self._window_s = DEFAULT_WINDOW_S
        self._probe_column = dict(PROBE_STATISTICS)[DEFAULT_PROBE_STATISTIC]
        self._following = True
        self._members: dict[int, _Member] = {}
        self._key: str | None = None
        self._last_t: float | None = None
        self._points = 0
        self._dirty: set[str] = set()
        self._quota_visible = True
        self._hover_pos: QPointF | None = None
        self._readout_plain = ""
        self._muted_hex = "#808080"
        self._y_tops: dict[str, float] = {}

        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(REDRAW_INTERVAL_MS)
        self._timer.timeout.connect(self._on_timer)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(self._build_toolbar())

        self._view = pg.GraphicsLayoutWidget()
        self._view.setObjectName("chartsView")
        layout.addWidget(self._view, 1)
        self._plots: dict[str, pg.PlotItem] = {}
        self._crosshairs: dict[str, pg.InfiniteLine] = {}
        self._build_plots()

        self._view.scene().sigMouseMoved.connect(self._on_mouse_moved)
        hover_filter = _HoverFilter(self._hide_crosshair, self)
        self._view.installEventFilter(hover_filter)
        self._view.viewport().installEventFilter(hover_filter)
        self._apply_palette()
        self._set_x_range(*self._target_x_range())

    # ---------------------------------------------------------------- construction

    def _build_toolbar(self) -> QHBoxLayout:
        bar = QHBoxLayout()
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
            button.setChecked(seconds == self._window_s)
            self._window_group.addButton(button, seconds)
            bar.addWidget(button)
        self._window_group.idClicked.connect(self.set_time_window)

        bar.addSpacing(16)
        bar.addWidget(QLabel("Probe latency:"))
        self._probe_combo = QComboBox()
        self._probe_combo.setObjectName("probeStatistic")
        self._probe_combo.setToolTip(
            "Latest: this sweep's linearizable read; P50/P95/P99: over the recent probes"
        )
        for text, column in PROBE_STATISTICS:
            self._probe_combo.addItem(text, int(column))
        self._probe_combo.setCurrentText(DEFAULT_PROBE_STATISTIC)
        self._probe_combo.currentIndexChanged.connect(self._on_probe_statistic)
        bar.addWidget(self._probe_combo)

        bar.addStretch(1)
        self._follow_button = QToolButton()
        self._follow_button.setObjectName("followLive")
        self._follow_button.setText("Follow live")
        self._follow_button.setCheckable(True)
        self._follow_button.setChecked(True)
        self._follow_button.setToolTip(
            "Keep the newest sample in view. Zooming or panning a chart pauses this."
        )
        self._follow_button.toggled.connect(self.set_follow)
        bar.addWidget(self._follow_button)
        return bar

    def _build_plots(self) -> None:
        top = self._view.ci
        top.setContentsMargins(4, 0, 4, 4)
        top.layout.setHorizontalSpacing(18)
        top.layout.setVerticalSpacing(4)
        strip = top.addLayout(row=0, col=0, colspan=2)
        strip.setContentsMargins(0, 0, 0, 0)
        strip.setMaximumHeight(26)
        holder = pg.GraphicsWidget()
        holder.setMinimumHeight(24)
        strip.addItem(holder, row=0, col=0)
        self._legend = pg.LegendItem(offset=None, colCount=9, labelTextSize="9pt")
        self._legend.setParentItem(holder)
        self._legend.anchor(itemPos=(0, 0.5), parentPos=(0, 0.5), offset=(60, 0))
        self._legend.sigSampleClicked.connect(self._on_legend_clicked)
        self._quota_sample = pg.PlotDataItem(pen=self._quota_pen(QColor("#808080")))
        self._legend.addItem(self._quota_sample, "quota")
        # The cell left free by the 7 plots (2 x 4 grid) holds the crosshair readout.
        # It sits on a placeholder, outside the layout, so its text never resizes columns.
        cell = pg.GraphicsWidget()
        top.addItem(cell, row=4, col=1)
        self._readout = pg.LabelItem("", justify="left", size="9pt")
        self._readout.setParentItem(cell)
        self._readout.setPos(16, 24)

        master: pg.PlotItem | None = None
        for spec in _PLOTS:
            plot = pg.PlotItem(axisItems={"bottom": pg.DateAxisItem(orientation="bottom")})
            top.addItem(plot, row=spec.row, col=spec.col)
            plot.setMenuEnabled(False)
            plot.setDownsampling(auto=True, mode="peak")  # inherited by curves added later
            plot.setClipToView(True)
            plot.hideButtons()
            # Grid lines in an opaque pale colour (see _apply_palette), major ticks only:
            # Qt's raster engine draws a translucent line ~20x slower than an opaque one.
            plot.showGrid(x=True, y=True)
            for name in ("left", "bottom"):
                axis = plot.getAxis(name)
                axis.setStyle(tickAlpha=255, maxTickLevel=0)
                # Below the ViewBox (z -100): an opaque grid line must not hide a flat
                # curve lying on it (a quota of exactly 100 MB, a rate of 0).
                axis.setZValue(-200)
            if spec.key not in _TIME_LABELLED:  # shared x axis: label the bottom row only
                plot.getAxis("bottom").setStyle(showValues=False)
            vb = plot.getViewBox()
            vb.setMouseEnabled(x=True, y=False)
            vb.enableAutoRange(x=False, y=False)
            vb.setLimits(minXRange=10)
            vb.sigRangeChangedManually.connect(self._on_manual_range)
            left = plot.getAxis("left")
            left.setWidth(64)
            left.setLabel(units=spec.unit.value)
            if spec.unit is _Unit.MS:
                left.enableAutoSIPrefix(False)
            else:  # k/s, MB, GB; never "m/s" for a rate below one
                left.setSIPrefixEnableRanges(((1e3, math.inf),))
            plot.setYRange(0, 1, padding=0)
            line = pg.InfiniteLine(angle=90, movable=False)
            line.setVisible(False)
            plot.addItem(line, ignoreBounds=True)
            self._crosshairs[spec.key] = line
            if master is None:
                master = plot
                vb.sigXRangeChanged.connect(self._on_x_range_changed)
            else:
                plot.setXLink(master)
            self._plots[spec.key] = plot
        # Equal halves whatever the titles' widths (a linked x axis must span the same
        # number of pixels in both columns for the crosshair and grid to line up).
        grid = top.layout
        for column in (0, 1):
            grid.setColumnStretchFactor(column, 1)
            grid.setColumnMinimumWidth(column, 240)
            grid.setColumnPreferredWidth(column, 4000)
        self._update_probe_title()

    # ---------------------------------------------------------------- public API

    @Slot(object)
    def add_snapshot(self, snap: ClusterSnapshot) -> None:
        """Append one sample per member at ``snap.taken_at``; drawn at the next redraw.

        Values a member did not report, and every value of an unreachable member, are
        stored as NaN (a gap). Members seen before but missing from ``snap`` get a gap
        too. Members with id 0 (an endpoint that never answered) are not charted.
        """
        if self._key is None:
            self._key = snap.key
        elif snap.key != self._key:
            log.debug("dropping a snapshot of %r: charting %r", snap.key, self._key)
            return
        t = snap.taken_at
        if self._last_t is not None and t < self._last_t:
            log.warning(
                "snapshot is %.1f s older than the previous one (clock went back); "
                "restarting the chart history",
                self._last_t - t,
            )
            for member in self._members.values():
                member.buffer.clear()
        # New members in id order, so one cluster gets the same colours every time.
        for m in sorted(snap.members, key=lambda m: m.id):
            if m.id and m.id not in self._members:
                self._add_member(m)
        seen: set[int] = set()
        for m in snap.members:
            if not m.id or m.id in seen:
                continue
            seen.add(m.id)
            member = self._members[m.id]
            if m.name and m.name != member.name:
                self._rename(member, m.name)
            member.buffer.append(t, *member_values(m))
        for member_id, member in self._members.items():
            if member_id not in seen:
                member.buffer.append(t, *_NAN_ROW)
        self._points += len(seen)
        self._last_t = t
        self._mark_dirty(PLOT_KEYS)

    @Slot(int)
    def set_time_window(self, seconds: int) -> None:
        """Show the last ``seconds`` of data and resume following the newest sample."""
        if seconds <= 0:
            raise ValueError(f"time window must be positive, not {seconds}")
        self._window_s = int(seconds)
        button = self._window_group.button(self._window_s)
        if button is not None:
            button.setChecked(True)
        else:  # not a preset: no button checked
            self._window_group.setExclusive(False)
            for b in self._window_group.buttons():
                b.setChecked(False)
            self._window_group.setExclusive(True)
        self._y_tops.clear()
        if self._following:
            self._mark_dirty(PLOT_KEYS)
        else:
            self.set_follow(True)

    def time_window(self) -> int:
        """The time window in seconds."""
        return self._window_s

    @Slot()
    def clear(self) -> None:
        """Forget every member and sample, and the cluster key; follow live again."""
        for member in self._members.values():
            for key, curves in member.curves.items():
                plot = self._plots["db" if key == _QUOTA else key]
                for curve in curves:
                    plot.removeItem(curve.item)
            self._legend.removeItem(member.curves["probe"][0].item)
        self._members.clear()
        self._key = None
        self._last_t = None
        self._points = 0
        self._y_tops.clear()
        self._hide_crosshair()
        self.set_follow(True)
        self._mark_dirty(PLOT_KEYS)

    def point_count(self) -> int:
        """Member samples received since the last ``clear()``: one per member per snapshot.

        Counts every sample received, also those the buffers have since dropped.
        """
        return self._points

    def is_following(self) -> bool:
        """Whether the x range tracks the newest sample."""
        return self._following

    @Slot(bool)
    def set_follow(self, follow: bool) -> None:
        """Resume (True) or pause (False) keeping the newest sample in view."""
        if follow == self._following:
            return
        self._following = follow
        self._follow_button.blockSignals(True)
        self._follow_button.setChecked(follow)
        self._follow_button.blockSignals(False)
        self._mark_dirty(PLOT_KEYS)
        self.follow_changed.emit(follow)

    def plot(self, key: str) -> pg.PlotItem:
        """The plot for ``key`` (one of ``PLOT_KEYS``)."""
        return self._plots[key]

    def curve(self, member_id: int, key: str) -> pg.PlotDataItem:
        """The curve of a member on plot ``key``; ``"quota"`` for its dashed quota line."""
        return self._members[member_id].curves[key][0].item

    def member_color(self, member_id: int) -> QColor:
        """The colour a member is drawn in; it keeps it until ``clear()``."""
        return QColor(self._members[member_id].color)

    def legend_names(self) -> list[str]:
        """The legend's entries (plain text), in order: members, then "quota"."""
        return [html.unescape(label.text) for _, label in self._legend.items]

    def readout_text(self) -> str:
        """The crosshair readout as plain text; empty when the mouse is off the plots."""
        return str(self._readout_plain)

    def redraw(self, *, force: bool = False) -> bool:
        """Redraw the dirty plots now (all of them with ``force``); whether it drew.

        The timer calls this; benchmarks and tests may call it directly.
        """
        self._timer.stop()
        if not force and (not self._dirty or not self.isVisible()):
            return False
        keys = set(PLOT_KEYS) if force else set(self._dirty)
        self._dirty.clear()
        x0, x1 = self._target_x_range() if self._following else self._current_x_range()
        curves = [
            (member, key, plot_key, curve)
            for member in self._members.values()
            for key in keys
            for plot_key in ((key, _QUOTA) if key == "db" else (key,))
            for curve in member.curves[plot_key]
        ]
        for _, _, _, curve in curves:
            curve.item.replacing = True
        try:
            if self._following:
                self._set_x_range(x0, x1)
            # While paused, hand the curves a margin beyond the view so a pan shows data
            # before the next redraw catches up (pyqtgraph clips to the view anyway).
            # When following, the first pan pauses and redraws within 100 ms.
            margin = 0.0 if self._following else (x1 - x0) / 2
            series = {
                member.id: member.buffer.range(x0 - margin, x1 + margin)
                for member in self._members.values()
            }
            tops = dict.fromkeys(keys, math.nan)
            for member, key, plot_key, curve in curves:
                top = self._set_curve(curve, series[member.id])
                if member.visible and (plot_key != _QUOTA or self._quota_visible):
                    tops[key] = float(np.fmax(tops[key], top))
        finally:
            for _, _, _, curve in curves:
                if curve.item.replacing:  # setData never came: catch up with the range
                    curve.item.replacing = False
                    curve.item.viewRangeChanged()
        for key in keys:
            self._set_y_top(key, tops[key])
        if self._hover_pos is not None:
            self._on_mouse_moved(self._hover_pos)
        self.redrawn.emit()
        return True

    # ---------------------------------------------------------------- Qt events

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._dirty:
            # Now, before the first paint: while hidden the buffers may have moved on
            # by more than their slack, so the curves' old views must not be painted.
            self.redraw()

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange):
            self._apply_palette()

    # ---------------------------------------------------------------- internals

    def _mark_dirty(self, keys: Iterable[str]) -> None:
        self._dirty.update(keys)
        if not self._timer.isActive() and self.isVisible():
            self._timer.start()

    @Slot()
    def _on_timer(self) -> None:
        self.redraw()

    def _target_x_range(self) -> tuple[float, float]:
        end = self._last_t if self._last_t is not None else time.time()
        return end - self._window_s, end

    def _current_x_range(self) -> tuple[float, float]:
        x0, x1 = self._plots[PLOT_KEYS[0]].getViewBox().viewRange()[0]
        return float(x0), float(x1)

    def _set_x_range(self, x0: float, x1: float) -> None:
        self._plots[PLOT_KEYS[0]].setXRange(x0, x1, padding=0)

    def _set_curve(self, curve: _Curve, series: Series) -> float:
        """Give ``curve`` its data; the largest value it shows (NaN: none).

        The maximum is taken over what pyqtgraph will draw (clipped to the view and
        peak-downsampled, so every bucket's maximum is kept): a few thousand points
        instead of up to 86,400.
        """
        column = self._probe_column if curve.column is None else curve.column
        curve.item.replacing = False
        curve.item.setData(series.t, series.values[column])
        shown = curve.item.getData()[1]
        if shown is None or len(shown) == 0:
            return math.nan
        return float(np.fmax.reduce(shown))

    def _set_y_top(self, key: str, top: float) -> None:
        """Fit y to [0, top] with headroom, moving only when the data outgrows it or
        shrinks well below, so the axis does not twitch at every sample."""
        if not math.isfinite(top) or top <= 0:
            top = 1.0 if key != "db" else 1e6
        current = self._y_tops.get(key)
        if current is not None and top <= current <= top * 1.6:
            return
        self._y_tops[key] = top * 1.15
        self._plots[key].setYRange(0, top * 1.15, padding=0)

    def _add_member(self, m: MemberStatus) -> None:
        color = self._free_color()
        member = _Member(
            id=m.id,
            name=m.name or m.id_hex,
            color=color,
            buffer=RingBuffer(self._capacity, len(Col)),
        )
        for spec in _PLOTS:
            member.curves[spec.key] = [
                _Curve(spec.column, self._make_item(spec.key, pg.mkPen(color, width=_LINE_WIDTH)))
            ]
        member.curves[_QUOTA] = [_Curve(Col.QUOTA, self._make_item("db", self._quota_pen(color)))]
        self._members[m.id] = member
        # Members first, the "quota" entry last.
        self._legend.removeItem(self._quota_sample)
        self._legend.addItem(member.curves["probe"][0].item, html.escape(member.name))
        self._legend.addItem(self._quota_sample, "quota")
        log.debug("charting member %s (%x)", member.name, member.id)

    def _make_item(self, key: str, pen: object) -> _LiveCurveItem:
        # One min/max pair per pixel column is all a peak-downsampled line can show;
        # pyqtgraph's default (5 per pixel) draws 5x the segments for nothing.
        item = _LiveCurveItem(pen=pen, autoDownsampleFactor=1.0)
        self._plots[key].addItem(item)
        # After addItem: PlotItem.addItem imposes the plot's own modes on the item.
        item.setDownsampling(auto=True, method="peak")
        item.setClipToView(True)
        # The y range always covers the visible data (_set_y_top), so Qt's trouble with
        # far off-screen coordinates cannot arise; the check costs two full passes over
        # the data per curve and redraw.
        item.setDynamicRangeLimit(None)
        return item

    @staticmethod
    def _quota_pen(color: QColor) -> object:
        return pg.mkPen(color, width=_LINE_WIDTH, style=Qt.PenStyle.DashLine)

    def _free_color(self) -> QColor:
        used = [member.color.name() for member in self._members.values()]
        for name in MEMBER_COLORS:
            if name not in used:
                return QColor(name)
        return QColor(MEMBER_COLORS[len(used) % len(MEMBER_COLORS)])

    def _rename(self, member: _Member, name: str) -> None:
        member.name = name
        label = self._legend.getLabel(member.curves["probe"][0].item)
        if label is not None:
            label.setText(html.escape(name))
            self._legend.updateSize()

    def _on_legend_clicked(self, item: pg.PlotDataItem) -> None:
        # LegendItem has already toggled ``item``; carry that to every plot.
        if item is self._quota_sample:
            self._quota_visible = item.isVisible()
            for member in self._members.values():
                member.curves[_QUOTA][0].item.setVisible(self._quota_visible and member.visible)
            self._y_tops.pop("db", None)
            self._mark_dirty(("db",))
            return
        for member in self._members.values():
            if member.curves["probe"][0].item is item:
                member.visible = item.isVisible()
                for key, curves in member.curves.items():
                    shown = member.visible and (key != _QUOTA or self._quota_visible)
                    for curve in curves:
                        curve.item.setVisible(shown)
                self._y_tops.clear()
                self._mark_dirty(PLOT_KEYS)
                return

    @Slot(int)
    def _on_probe_statistic(self, index: int) -> None:
        self._probe_column = Col(self._probe_combo.itemData(index))
        self._update_probe_title()
        self._y_tops.pop("probe", None)
        self._mark_dirty(("probe",))

    def _update_probe_title(self) -> None:
        self._apply_title("probe")

    def _title(self, key: str) -> str:
        spec = next(s for s in _PLOTS if s.key == key)
        if key == "probe":
            return f"{spec.title} ({self._probe_combo.currentText()})"
        return spec.title

    def _apply_title(self, key: str) -> None:
        color = self.palette().color(QPalette.ColorRole.WindowText)
        plot = self._plots[key]
        plot.setTitle(self._title(key), color=color.name(), size="9pt")
        plot.titleLabel.setMaximumHeight(_TITLE_HEIGHT)  # setTitle reserves 30 px
        plot.layout.setRowFixedHeight(0, _TITLE_HEIGHT)

    def _on_manual_range(self, mask: object) -> None:
        self.set_follow(False)

    def _on_x_range_changed(self, *_: object) -> None:
        if not self._following:
            self._mark_dirty(PLOT_KEYS)

    # ---------------------------------------------------------------- crosshair

    def _on_mouse_moved(self, pos: QPointF) -> None:
        hovered = next(
            (
                spec
                for spec in _PLOTS
                if self._plots[spec.key].getViewBox().sceneBoundingRect().contains(pos)
            ),
            None,
        )
        if hovered is None:
            self._hide_crosshair()
            return
        self._hover_pos = QPointF(pos)
        vb = self._plots[hovered.key].getViewBox()
        x = float(vb.mapSceneToView(pos).x())
        for line in self._crosshairs.values():
            line.setPos(x)
            line.setVisible(True)
        seconds_per_pixel = (vb.viewRange()[0][1] - vb.viewRange()[0][0]) / max(vb.width(), 1)
        self._show_readout(hovered, x, tolerance=max(4 * seconds_per_pixel, 2.5))

    def _show_readout(self, spec: _PlotSpec, x: float, tolerance: float) -> None:
        stamp = datetime.fromtimestamp(x).strftime("%H:%M:%S")
        title = self._title(spec.key)
        lines_html = [f"<b>{stamp}</b>&nbsp;&nbsp;{html.escape(title)}"]
        lines_text = [f"{stamp} {title}"]
        column = self._probe_column if spec.column is None else spec.column
        for member in self._members.values():
            if not member.visible:
                continue
            value = self._value_near(member, column, x, tolerance)
            text = _format(value, spec.unit)
            if spec.key == "db" and self._quota_visible:
                quota = self._value_near(member, Col.QUOTA, x, tolerance)
                if math.isfinite(quota):
                    text += f" of {_format(quota, spec.unit)} quota"
            name = html.escape(member.name)
            lines_html.append(
                f"<span style='color:{member.color.name()}'>&#9632;&nbsp;{name}</span>"
                f"&nbsp;&nbsp;{html.escape(text)}"
            )
            lines_text.append(f"{member.name} {text}")
        self._readout.setText("<br>".join(lines_html))
        self._readout_plain = "\n".join(lines_text)

    @staticmethod
    def _value_near(member: _Member, column: Col, x: float, tolerance: float) -> float:
        i = member.buffer.nearest(x)
        if i is None:
            return math.nan
        t, values = member.buffer.view()
        if abs(t[i] - x) > tolerance:
            return math.nan
        return float(values[column, i])

    def _hide_crosshair(self) -> None:
        self._hover_pos = None
        for line in self._crosshairs.values():
            line.setVisible(False)
        self._readout.setText(f"<span style='color:{self._muted_hex}'>{_READOUT_HINT}</span>")
        self._readout_plain = ""

    # ---------------------------------------------------------------- palette

    def _apply_palette(self) -> None:
        """Follow the system palette: background, text, axes, grid, crosshair."""
        palette = self.palette()
        background = palette.window().color()
        text = palette.color(QPalette.ColorRole.WindowText)
        # Opaque mixes of text and background rather than alpha: cheaper to draw.
        muted = _blend(text, background, 0.6)
        grid = _blend(text, background, 0.14)
        self._view.setBackground(background)
        for key, plot in self._plots.items():
            for name in ("left", "bottom"):
                axis = plot.getAxis(name)
                axis.setPen(muted)
                axis.setTickPen(grid)
                axis.setTextPen(text)
            self._apply_title(key)
        for line in self._crosshairs.values():
            line.setPen(pg.mkPen(muted, width=1))
        self._legend.setLabelTextColor(text)
        for _, label in self._legend.items:
            label.setText(label.text)
        self._readout.setAttr("color", text.name())
        self._muted_hex = muted.name()
        self._quota_sample.setPen(self._quota_pen(muted))
        if self._hover_pos is None:
            self._hide_crosshair()
