"""Live charts of one cluster: one plot per ``chart_definitions.CHARTS`` entry, per member.

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
visible data of the visible members. A plot on which no member has a value in the
visible time range says "no data" (a quantile over a window without observations is
unknown, not zero). A vertical crosshair follows the mouse across all
plots, with a readout of each visible member's value under it. Clicking a legend entry
hides or shows that member (or the quota lines) everywhere.

Roles: ``chart_definitions`` says what is charted, ``chart_grid`` holds the pyqtgraph
items, ``chart_toolbar`` the controls; this module keeps the members, their buffers and
the view state. No I/O, no threads, no network here.
"""

from __future__ import annotations

import html
import logging
import math
import time
from collections.abc import Iterable

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QPointF, QTimer, Signal, Slot
from PySide6.QtGui import QColor, QShowEvent
from PySide6.QtWidgets import QVBoxLayout, QWidget

from etcdmon_gui.formatting import fmt_percent
from etcdmon_gui.model.snapshot import ClusterSnapshot, MemberStatus
from etcdmon_gui.ui.chart_definitions import (
    BUFFER_COLUMNS,
    CHARTS,
    NAN_ROW,
    PLOT_KEYS,
    chart,
    member_values,
    reading_column,
    reference_column,
)
from etcdmon_gui.ui.chart_grid import ChartGrid, LiveCurveItem
from etcdmon_gui.ui.chart_members import ChartMember, free_colour, readout
from etcdmon_gui.ui.chart_toolbar import TIME_WINDOWS, ChartToolbar
from etcdmon_gui.ui.series_buffer import DEFAULT_CAPACITY, RingBuffer

__all__ = ["DEFAULT_WINDOW_S", "PLOT_KEYS", "TIME_WINDOWS", "ChartsWidget", "member_values"]

log = logging.getLogger(__name__)

DEFAULT_WINDOW_S = 5 * 60  # a fresh start has data to show at once
REDRAW_INTERVAL_MS = 100  # at most 10 redraws a second
_LEGEND_KEY = PLOT_KEYS[0]  # a member's legend entry is its curve on the first chart


def _shown_max(line: LiveCurveItem) -> float:
    """The largest value a curve holds in view (NaN: none)."""
    y = line.getData()[1]
    return math.nan if y is None or len(y) == 0 else float(np.fmax.reduce(y))


# The label of each reference line ("quota") -> the chart it is drawn on.
_REFERENCE_CHART = {spec.reference.label: spec.key for spec in CHARTS if spec.reference}
_READOUT_HINT = (
    "Point at a chart to read each member's values.<br>"
    "Scroll or drag to look back;<br>click a legend entry to hide a member."
)


class ChartsWidget(QWidget):
    """Live per-member charts of one cluster, fed by ``add_snapshot``.

    Promises: ``add_snapshot`` is cheap (a row per member appended to preallocated
    buffers, no drawing); at most ten redraws a second, only of plots whose data or range
    changed, and none while hidden; memory is bounded by ``capacity`` rows per member.
    After a redraw, a plot says "no data" exactly when none of its curves (hidden members
    included) has a value in the visible time range.
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
        self._picked = {spec.key: spec.default_index for spec in CHARTS}
        self._following = True
        self._members: dict[int, ChartMember] = {}
        self._key: str | None = None
        self._last_t: float | None = None
        self._points = 0
        self._dirty: set[str] = set()
        self._hover_pos: QPointF | None = None
        self._readout_plain = ""
        self._y_tops: dict[str, float] = {}
        self._limit_titles: dict[str, str] = {}  # titles that name a reference's use

        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(REDRAW_INTERVAL_MS)
        self._timer.timeout.connect(self._on_timer)

        self._toolbar = ChartToolbar(self._window_s)
        self._toolbar.windowChosen.connect(self.set_time_window)
        self._toolbar.readingChosen.connect(self._on_reading)
        self._toolbar.followToggled.connect(self.set_follow)
        self._grid = ChartGrid()
        self._reference_visible = dict.fromkeys(self._grid.reference_samples, True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self._toolbar)
        layout.addWidget(self._grid, 1)
        for key in PLOT_KEYS:
            self._grid.set_title(key, self._title(key))

        self._grid.legendClicked.connect(self._on_legend_clicked)
        self._grid.manualRange.connect(lambda: self.set_follow(False))
        self._grid.xRangeChanged.connect(self._on_x_range_changed)
        self._grid.mouseMoved.connect(self._on_mouse_moved)
        self._grid.mouseLeft.connect(self._hide_crosshair)
        self._apply_palette()
        self._set_x_range(*self._target_x_range())

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
        # New members in name order (the legend's order), so one cluster gets the same
        # colours every time.
        for m in sorted(snap.members, key=lambda m: (m.name or m.id_hex, m.id)):
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
                member.buffer.append(t, *NAN_ROW)
        self._points += len(seen)
        self._last_t = t
        self._mark_dirty(PLOT_KEYS)

    @Slot(int)
    def set_time_window(self, seconds: int) -> None:
        """Show the last ``seconds`` of data and resume following the newest sample."""
        if seconds <= 0:
            raise ValueError(f"time window must be positive, not {seconds}")
        self._window_s = int(seconds)
        self._toolbar.show_window(self._window_s)
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
            for key, item in member.items():
                self._grid.plots[key].removeItem(item)
            self._grid.legend.removeItem(member.curves[_LEGEND_KEY])
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
        self._toolbar.set_following(follow)
        self._mark_dirty(PLOT_KEYS)
        self.follow_changed.emit(follow)

    def plot(self, key: str) -> pg.PlotItem:
        """The plot for ``key`` (one of ``PLOT_KEYS``)."""
        return self._grid.plots[key]

    def curve(self, member_id: int, key: str) -> pg.PlotDataItem:
        """The curve of a member on plot ``key``; ``"quota"`` for its dashed quota line."""
        member = self._members[member_id]
        if key in _REFERENCE_CHART:
            return member.references[_REFERENCE_CHART[key]]
        return member.curves[key]

    def member_color(self, member_id: int) -> QColor:
        """The colour a member is drawn in; it keeps it until ``clear()``."""
        return QColor(self._members[member_id].color)

    def legend_names(self) -> list[str]:
        """The legend's entries (plain text), in order: members, then "quota"."""
        return [html.unescape(label.text) for _, label in self._grid.legend.items]

    def shows_no_data(self, key: str) -> bool:
        """Whether plot ``key`` says "no data"."""
        return self._grid.shows_no_data(key)

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
        # (member, chart key, curve, buffer column, counts for the y range)
        curves: list[tuple[ChartMember, str, LiveCurveItem, int, bool]] = []
        # A reference that does not set the y range: its largest value, for the title.
        references: list[tuple[str, LiveCurveItem]] = []
        for member in self._members.values():
            for key in keys:
                column = reading_column(key, self._picked[key])
                curves.append((member, key, member.curves[key], column, member.visible))
                line = member.references.get(key)
                ref_column = reference_column(key)
                if line is not None and ref_column is not None:
                    shown = member.visible and self._reference_visible[key]
                    scales = chart(key).reference_scales
                    curves.append((member, key, line, ref_column, shown and scales))
                    if shown and not scales:
                        references.append((key, line))
        for _, _, item, _, _ in curves:
            item.replacing = True
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
            has_data = dict.fromkeys(keys, False)
            for member, key, item, column, counts in curves:
                data = series[member.id]
                top = item.set_series(data.t, data.values[column])
                if counts:
                    tops[key] = float(np.fmax(tops[key], top))
                if not math.isnan(top):
                    has_data[key] = True
        finally:
            for _, _, item, _, _ in curves:
                if item.replacing:  # setData never came: catch up with the range
                    item.replacing = False
                    item.viewRangeChanged()
        for key in keys:
            self._set_y_top(key, tops[key])
            self._grid.show_no_data(key, not has_data[key])
        for key in keys:
            spec = chart(key)
            if spec.reference is not None and not spec.reference_scales:
                limit = max((_shown_max(ln) for k, ln in references if k == key), default=math.nan)
                title = self._title(key, tops[key], limit)
                if title != self._limit_titles.get(key):
                    self._limit_titles[key] = title
                    self._grid.set_title(key, title)
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
        x0, x1 = self._grid.plots[PLOT_KEYS[0]].getViewBox().viewRange()[0]
        return float(x0), float(x1)

    def _set_x_range(self, x0: float, x1: float) -> None:
        self._grid.plots[PLOT_KEYS[0]].setXRange(x0, x1, padding=0)

    def _set_y_top(self, key: str, top: float) -> None:
        """Fit y to [0, top] with headroom, moving only when the data outgrows it or
        shrinks well below, so the axis does not twitch at every sample."""
        if not math.isfinite(top) or top <= 0:
            top = chart(key).empty_top
        current = self._y_tops.get(key)
        if current is not None and top <= current <= top * 1.6:
            return
        self._y_tops[key] = top * 1.15
        self._grid.plots[key].setYRange(0, top * 1.15, padding=0)

    def _add_member(self, m: MemberStatus) -> None:
        color = free_colour(member.color for member in self._members.values())
        member = ChartMember(
            id=m.id,
            name=m.name or m.id_hex,
            color=color,
            buffer=RingBuffer(self._capacity, len(BUFFER_COLUMNS)),
        )
        member.curves, member.references = self._grid.add_member_curves(color)
        self._members[m.id] = member
        self._grid.add_legend_member(member.curves[_LEGEND_KEY], html.escape(member.name))
        log.debug("charting member %s (%x)", member.name, member.id)

    def _rename(self, member: ChartMember, name: str) -> None:
        member.name = name
        label = self._grid.legend.getLabel(member.curves[_LEGEND_KEY])
        if label is not None:
            label.setText(html.escape(name))
            self._grid.legend.updateSize()

    def _on_legend_clicked(self, item: pg.PlotDataItem) -> None:
        # LegendItem has already toggled ``item``; carry that to every plot.
        for key, sample in self._grid.reference_samples.items():
            if item is sample:
                self._reference_visible[key] = item.isVisible()
                for member in self._members.values():
                    member.references[key].setVisible(item.isVisible() and member.visible)
                self._y_tops.pop(key, None)
                self._mark_dirty((key,))
                return
        for member in self._members.values():
            if member.curves[_LEGEND_KEY] is item:
                member.show(item.isVisible(), self._reference_visible)
                self._y_tops.clear()
                self._mark_dirty(PLOT_KEYS)
                return

    @Slot(str, int)
    def _on_reading(self, key: str, index: int) -> None:
        self._picked[key] = index
        self._grid.set_title(key, self._title(key))
        self._y_tops.pop(key, None)
        self._mark_dirty((key,))

    def _title(self, key: str, top: float = math.nan, limit: float = math.nan) -> str:
        """The chart's title; with a ``limit`` (a reference off the y range, the DB
        quota) it says how much of the limit the largest value shown uses."""
        spec = chart(key)
        title = spec.title
        if len(spec.readings) > 1:
            title = f"{spec.title} ({spec.readings[self._picked[key]].label})"
        if spec.reference is not None and math.isfinite(limit) and limit > 0:
            label = f"{spec.unit.format(limit)} {spec.reference.label}"
            if not math.isfinite(top):
                return f"{title} — {label}"
            dashed = " (dashed)" if limit <= self._y_tops.get(key, 0.0) else ""
            used = top / limit
            # Two significant digits however small: 0.0052 %, not 0.0 %.
            digits = 1 - math.floor(math.log10(used * 100)) if used > 0 else 1
            return f"{title} — {fmt_percent(used, max(1, min(4, digits)))} of {label}{dashed}"
        return title

    def _on_x_range_changed(self) -> None:
        if not self._following:
            self._mark_dirty(PLOT_KEYS)

    # ---------------------------------------------------------------- crosshair

    def _on_mouse_moved(self, pos: QPointF) -> None:
        key = self._grid.plot_at(pos)
        if key is None:
            self._hide_crosshair()
            return
        self._hover_pos = QPointF(pos)
        vb = self._grid.plots[key].getViewBox()
        x = float(vb.mapSceneToView(pos).x())
        self._grid.show_crosshair(x)
        seconds_per_pixel = (vb.viewRange()[0][1] - vb.viewRange()[0][0]) / max(vb.width(), 1)
        self._show_readout(key, x, tolerance=max(4 * seconds_per_pixel, 2.5))

    def _show_readout(self, key: str, x: float, tolerance: float) -> None:
        shown = self._reference_visible.get(key)
        rich, plain = readout(
            chart(key),
            self._title(key),
            self._members.values(),
            x,
            tolerance,
            reading_column(key, self._picked[key]),
            reference_column(key) if shown else None,
        )
        self._grid.readout.setText(rich)
        self._readout_plain = plain

    def _hide_crosshair(self) -> None:
        self._hover_pos = None
        self._grid.hide_crosshair(_READOUT_HINT)
        self._readout_plain = ""

    def _apply_palette(self) -> None:
        self._grid.apply_palette(self.palette())
        if self._hover_pos is None:
            self._hide_crosshair()
