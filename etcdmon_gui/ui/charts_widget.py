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

History: the buffers hold the last 24 h since the app started. A range they do not
cover (7 d, 30 d, a custom range, the last hour after a restart) is asked of the history
with ``historyRequested(request_id, start, end, max_points)`` once history is available
(``set_history_available``); the toolbar shows a progress bar and empty plots say
"loading…" until ``show_history`` hands the answer back (``Series`` of the history
signals named by ``chart_definitions``, members by id in hex). Only the answer to the
latest request is taken: a newer one supersedes it. ``max_points`` is the plot's width
in pixels, so drawing the answer costs about as much as a redraw of the live data. Each
member's average is drawn like its live line, before the buffer's first sample; the
live data keeps appending at the right edge. Zooming or panning over a range the loaded
one does not cover, or covers more coarsely than the pixels want, asks again for the
visible range (with half a view's margin each side) after ``HISTORY_DEBOUNCE_MS``; the
store picks the resolution (raw, minutes, hours) from the span and ``max_points``.

Quota forecast: the DB chart draws the snapshot's ``quota_forecast`` as a dashed line
from now along the fitted growth of its limiting window, up to the quota or the view's
right edge. While following, a view of an hour or more (or a forecast under
``forecast_text.WARN_DAYS``) keeps a tenth of its width ahead of now for it.

Roles: ``chart_definitions`` says what is charted, ``chart_grid`` holds the pyqtgraph
items, ``chart_toolbar`` the controls; this module keeps the members, their buffers and
the view state. No I/O, no threads, no network here.
"""

from __future__ import annotations

import html
import logging
import math
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QPointF, QTimer, Signal, Slot
from PySide6.QtGui import QColor, QResizeEvent, QShowEvent
from PySide6.QtWidgets import QVBoxLayout, QWidget

from etcdmon_gui.formatting import fmt_percent, fmt_stamp
from etcdmon_gui.model.forecast import QuotaForecast
from etcdmon_gui.model.history import CLUSTER_WIDE, Series
from etcdmon_gui.model.snapshot import ClusterSnapshot
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
from etcdmon_gui.ui.chart_grid import LOADING_TEXT, NO_DATA_TEXT, ChartGrid, LiveCurveItem
from etcdmon_gui.ui.chart_members import (
    ChartMember,
    free_colour,
    readout,
    visible_max,
    with_gaps,
)
from etcdmon_gui.ui.chart_toolbar import TIME_WINDOWS, ChartToolbar, HistoryStatus
from etcdmon_gui.ui.forecast_text import forecast_text, forecast_warns, growing_fit
from etcdmon_gui.ui.palette import WARNING_COLOUR
from etcdmon_gui.ui.series_buffer import DEFAULT_CAPACITY, RingBuffer
from etcdmon_gui.ui.time_range_dialog import TimeRangeDialog

__all__ = [
    "DEFAULT_WINDOW_S",
    "PLOT_KEYS",
    "TIME_WINDOWS",
    "ChartsWidget",
    "HistoryRange",
    "member_values",
]

log = logging.getLogger(__name__)

DEFAULT_WINDOW_S = 5 * 60  # a fresh start has data to show at once
REDRAW_INTERVAL_MS = 100  # at most 10 redraws a second
HISTORY_DEBOUNCE_MS = 300  # after a zoom or pan, before the visible range is asked for
ENDS_NOW_S = 60.0  # a custom range ending this close to now follows the live data
FORECAST_AHEAD = 0.1  # of the window, kept ahead of now for the forecast while following
_MIN_POINTS, _MAX_POINTS = 200, 4000
_LEGEND_KEY = PLOT_KEYS[0]  # a member's legend entry is its curve on the first chart


@dataclass(frozen=True, slots=True)
class HistoryRange:
    """One question to the history: its id, its range, how many points it wants."""

    id: int
    start: float
    end: float
    points: int

    @property
    def step(self) -> float:
        """Seconds per point asked for."""
        return (self.end - self.start) / max(self.points, 1)


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
        historyRequested(int request_id, float start, float end, int max_points): load
            this range of the history and hand it to ``show_history(request_id, ...)``.
    """

    redrawn = Signal()
    follow_changed = Signal(bool)
    historyRequested = Signal(int, float, float, int)

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
        self._history_on = False  # set_history_available
        self._request_id = 0
        self._pending: HistoryRange | None = None  # the request waited for
        self._loaded: HistoryRange | None = None  # the range the history curves hold
        self._history_dirty: set[str] = set()  # plots whose history curves need new data
        self._custom: tuple[float, float] | None = None  # a fixed range, not a window
        self._forecast: QuotaForecast | None = None
        self._range_dialog: TimeRangeDialog | None = None
        self._range_timer = QTimer(self)  # a zoom or pan settles before history is asked
        self._range_timer.setSingleShot(True)
        self._range_timer.setInterval(HISTORY_DEBOUNCE_MS)
        self._range_timer.timeout.connect(self._request_for_view)

        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(REDRAW_INTERVAL_MS)
        self._timer.timeout.connect(self._on_timer)

        self._toolbar = ChartToolbar(self._window_s)
        self._toolbar.windowChosen.connect(self.set_time_window)
        self._toolbar.customRequested.connect(self.ask_time_range)
        self._toolbar.readingChosen.connect(self._on_reading)
        self._toolbar.followToggled.connect(self.set_follow)
        self._grid = ChartGrid()
        self._reference_visible = dict.fromkeys(self._grid.reference_samples, True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self._toolbar)
        layout.addWidget(self._grid, 1)
        self._status = HistoryStatus(self)  # floats over the plots, in no layout
        for key in PLOT_KEYS:
            self._grid.set_title(key, self._title(key))

        self._grid.legendClicked.connect(self._on_legend_clicked)
        self._grid.manualRange.connect(self._on_manual_range)
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
        The first snapshot asks the history for the part of the window before it.
        """
        first = self._key is None
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
                self._add_member(m.id, m.name or m.id_hex)
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
        self._forecast = snap.quota_forecast
        self._mark_dirty(PLOT_KEYS)
        if first:
            self._request_for_view()

    @Slot(int)
    def set_time_window(self, seconds: int) -> None:
        """Show the last ``seconds`` of data and resume following the newest sample;
        what the buffers do not hold of it is asked of the history."""
        if seconds <= 0:
            raise ValueError(f"time window must be positive, not {seconds}")
        self._window_s = int(seconds)
        self._custom = None
        self._toolbar.show_window(self._window_s)
        self._y_tops.clear()
        if self._following:
            self._mark_dirty(PLOT_KEYS)
            self._request_for_view()
        else:
            self.set_follow(True)

    def time_window(self) -> int:
        """The time window in seconds."""
        return self._window_s

    @Slot(float, float)
    def set_time_range(self, start: float, end: float) -> None:
        """Show ``start``..``end`` (UNIX seconds), loading it from the history.

        A range that ends now (within ``ENDS_NOW_S``) is a window of its length that
        follows the live data; any other is fixed (following pauses) until a preset,
        "Follow live", or another range is chosen.
        """
        if not end > start:
            raise ValueError(f"the range must end after it starts: {start} .. {end}")
        if end >= time.time() - ENDS_NOW_S:
            self.set_time_window(max(10, round(end - start)))
            return
        self._custom = (start, end)
        self._toolbar.show_custom(f"{fmt_stamp(start)} to {fmt_stamp(end)}")
        self._y_tops.clear()
        self.set_follow(False)
        self._set_x_range(start, end)
        self._mark_dirty(PLOT_KEYS)
        self._request_for_view(margin=False)

    def custom_range(self) -> tuple[float, float] | None:
        """The fixed range chosen with ``set_time_range``, if one is shown."""
        return self._custom

    @Slot()
    def ask_time_range(self) -> TimeRangeDialog:
        """Open the "Custom…" dialog (window-modal, not blocking) on the visible range."""
        if self._range_dialog is None:
            self._range_dialog = TimeRangeDialog(*self._current_x_range(), parent=self)
            self._range_dialog.setObjectName("timeRangeDialog")
            self._range_dialog.rangeChosen.connect(self.set_time_range)
        else:
            self._range_dialog.set_values(*self._current_x_range())
        self._range_dialog.open()
        return self._range_dialog

    # ---------------------------------------------------------------- history

    @Slot(bool)
    def set_history_available(self, available: bool) -> None:
        """Whether ranges the buffers do not cover may be asked of the history
        (``historyRequested``); off, the charts show what the buffers hold."""
        self._history_on = available
        if available:
            self._request_for_view()
        elif self._pending is not None:
            self._pending = None
            self._show_loading(False)

    def loaded_range(self) -> HistoryRange | None:
        """The range the history curves hold, if any."""
        return self._loaded

    def is_loading(self) -> bool:
        """Whether an answer from the history is awaited (the progress bar shows)."""
        return self._pending is not None

    def history_status(self) -> HistoryStatus:
        """The history's progress bar and failure note (floating over the plots)."""
        return self._status

    @Slot(int, int, object)
    def show_history_progress(self, request_id: int, done: int, total: int | None) -> None:
        """The pending request's progress (``done`` of ``total`` steps)."""
        if self._pending is not None and request_id == self._pending.id:
            self._status.show_loading(done, total)

    @Slot(int, str)
    def history_failed(self, request_id: int, message: str) -> None:
        """The pending request failed: say why in the toolbar; the charts keep what
        they have."""
        if self._pending is None or request_id != self._pending.id:
            return
        self._pending = None
        self._show_loading(False, message)
        self._mark_dirty(PLOT_KEYS)

    def show_history(
        self,
        request_id: int,
        series: Sequence[Series],
        names: Mapping[str, str] | None = None,
    ) -> bool:
        """The answer to request ``request_id``: whether it was taken (an answer to an
        older request is dropped). ``series`` are history signals of members (id in
        hex; cluster-wide ones are ignored); ``names`` names members the charts have
        not seen live (by id in hex), which get a colour and a legend entry."""
        if self._pending is None or request_id != self._pending.id:
            log.debug("dropping history answer %d: waiting for %s", request_id, self._pending)
            return False
        self._loaded, self._pending = self._pending, None
        self._show_loading(False)
        loaded: dict[int, dict[str, tuple[np.ndarray, np.ndarray]]] = {}
        steps: list[float] = []
        for s in series:
            if s.member == CLUSTER_WIDE or not len(s):
                continue
            try:
                member_id = int(s.member, 16)
            except ValueError:
                continue
            x = s.ts + s.step_s / 2  # a rolled-up point stands for its period's middle
            loaded.setdefault(member_id, {})[s.signal] = with_gaps(x, s.avg, s.step_s)
            steps.append(max(s.step_s, float(np.median(np.diff(x))) if len(x) > 1 else 0.0))
        names = names or {}
        new = [i for i in loaded if i not in self._members]
        for member_id in sorted(new, key=lambda i: (names.get(f"{i:x}") or f"{i:x}", i)):
            self._add_member(member_id, names.get(f"{member_id:x}") or f"{member_id:x}")
        step = max(steps, default=0.0)
        for member_id, member in self._members.items():
            member.history = loaded.get(member_id, {})
            member.history_step = step
            member.history_cut = None
            if member.history and not member.history_curves:
                self._add_history_curves(member)
        self._history_dirty.update(PLOT_KEYS)
        self._y_tops.clear()
        self._mark_dirty(PLOT_KEYS)
        return True

    def history_curve(self, member_id: int, key: str) -> pg.PlotDataItem | None:
        """A member's curve of the loaded history on plot ``key`` (``"quota"``: its
        quota line); ``None`` before its first history."""
        member = self._members[member_id]
        if key in _REFERENCE_CHART:
            return member.history_references.get(_REFERENCE_CHART[key])
        return member.history_curves.get(key)

    def member_ids(self) -> list[int]:
        """The charted members' ids, in the order they were added."""
        return list(self._members)

    def forecast_line(self, key: str = "db") -> pg.PlotDataItem:
        """The dashed quota forecast line of plot ``key``."""
        return self._grid.forecast_lines[key]

    def shows_forecast(self, key: str = "db") -> bool:
        """Whether plot ``key`` draws a forecast line (with some length in view)."""
        line = self._grid.forecast_lines[key]
        x = line.getData()[0]
        return bool(line.isVisible() and x is not None and len(x) == 2 and x[1] > x[0])

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
        self._forecast = None
        self._loaded = None
        if self._pending is not None:
            self._pending = None
            self._show_loading(False)
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
        """Resume (True) or pause (False) keeping the newest sample in view. Resuming
        leaves a custom range for the time window."""
        if follow == self._following:
            return
        self._following = follow
        self._toolbar.set_following(follow)
        if follow and self._custom is not None:
            self._custom = None
            self._toolbar.show_window(self._window_s)
        self._mark_dirty(PLOT_KEYS)
        self.follow_changed.emit(follow)
        if follow:
            self._request_for_view()

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
        limits = [(key, _shown_max(line)) for key, line in references]
        self._draw_history(keys, x0, x1, tops, has_data, limits)
        for key in keys:
            top = tops[key]
            if key in self._grid.forecast_lines:
                # The y range takes the forecast in: where the trend leads is the point.
                top = float(np.fmax(top, self._draw_forecast(key, x1)))
            self._set_y_top(key, top)
            self._grid.show_no_data(key, not has_data[key])
        for key in keys:
            spec = chart(key)
            if spec.reference is not None and not spec.reference_scales:
                values = [v for k, v in limits if k == key and not math.isnan(v)]
                limit = max(values, default=math.nan)
                title = self._title(key, tops[key], limit)
                if title != self._limit_titles.get(key):
                    self._limit_titles[key] = title
                    self._grid.set_title(key, title)
        if self._hover_pos is not None:
            self._on_mouse_moved(self._hover_pos)
        self.redrawn.emit()
        return True

    def _draw_history(
        self,
        keys: set[str],
        x0: float,
        x1: float,
        tops: dict[str, float],
        has_data: dict[str, bool],
        limits: list[tuple[str, float]],
    ) -> None:
        """Each member's loaded history before its buffer's first sample, on the plots
        ``keys``; its largest values in ``x0``..``x1`` join ``tops`` (the y range) and
        ``has_data``, its quota's ``limits`` (the title's share of the quota). Data is
        handed to a curve only when the history, the pick or the cut moved."""
        for member in self._members.values():
            if not member.history_curves:
                continue
            first = member.buffer.first_time
            cut = math.inf if first is None else first
            # Once the buffer is full its start moves every sweep: the curves are given
            # new data when it has moved by a point's width (or was never applied).
            last = member.history_cut
            if last is None or (cut != last and not abs(cut - last) < member.history_step):
                member.history_cut = last = cut
                self._history_dirty.update(PLOT_KEYS)
            cut = last
            for key in keys:
                spec = chart(key)
                fresh = key in self._history_dirty
                x, y = member.history_before(spec.readings[self._picked[key]].history, cut)
                if fresh:
                    member.history_curves[key].setData(x, y)
                top = visible_max(x, y, x0, x1)
                if member.visible:
                    tops[key] = float(np.fmax(tops[key], top))
                if not math.isnan(top):
                    has_data[key] = True
                line = member.history_references.get(key)
                if line is None or spec.reference is None:
                    continue
                x, y = member.history_before(spec.reference.history, cut)
                if fresh:
                    line.setData(x, y)
                if member.visible and self._reference_visible[key]:
                    limit = visible_max(x, y, x0, x1)
                    if spec.reference_scales:
                        tops[key] = float(np.fmax(tops[key], limit))
                    else:
                        limits.append((key, limit))
        self._history_dirty -= keys

    def _draw_forecast(self, key: str, x1: float) -> float:
        """The quota forecast from now along the limiting window's slope, up to the
        quota or ``x1`` (the view's right edge), and its legend entry ("full in ~3.2
        days" by a dashed sample); neither when the DB does not grow. Hidden from the
        legend, the line goes but the entry stays. Returns the line's end value (NaN:
        no line)."""
        fc, fit = self._forecast, growing_fit(self._forecast)
        muted = QColor(self._grid.muted_hex)
        if fc is None or fit is None:
            self._grid.show_forecast(key, [], [], muted)
            self._grid.set_forecast_legend("", muted)
            return math.nan
        colour = QColor(WARNING_COLOUR) if forecast_warns(fc) else muted
        self._grid.set_forecast_legend(forecast_text(fc), colour)
        full_at = fc.now + max(0.0, fc.quota_bytes - fit.size_now) / fit.slope_bytes_per_s
        end = min(full_at, x1)
        if end <= fc.now or not self._grid.forecast_sample.isVisible():
            self._grid.show_forecast(key, [], [], colour)
            return math.nan
        y = [fit.size_now, fit.size_now + fit.slope_bytes_per_s * (end - fc.now)]
        self._grid.show_forecast(key, [fc.now, end], y, colour)
        return y[1]

    # ---------------------------------------------------------------- Qt events

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._dirty:
            # Now, before the first paint: while hidden the buffers may have moved on
            # by more than their slack, so the curves' old views must not be painted.
            self.redraw()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._place_status()

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

    def _now(self) -> float:
        """The newest sample's time (the charts' now), or the clock's before any."""
        return self._last_t if self._last_t is not None else time.time()

    def _forecast_ahead(self) -> float:
        """Seconds kept ahead of now for the forecast line while following: a tenth of
        the window when the DB grows and the window is long enough (an hour) for the
        line to mean something, or the quota is near."""
        if growing_fit(self._forecast) is None:
            return 0.0
        if self._window_s >= 3600 or forecast_warns(self._forecast):
            return self._window_s * FORECAST_AHEAD
        return 0.0

    def _target_x_range(self) -> tuple[float, float]:
        end = self._now()
        return end - self._window_s, end + self._forecast_ahead()

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

    def _add_member(self, member_id: int, name: str) -> ChartMember:
        color = free_colour(member.color for member in self._members.values())
        member = ChartMember(
            id=member_id,
            name=name,
            color=color,
            buffer=RingBuffer(self._capacity, len(BUFFER_COLUMNS)),
        )
        member.curves, member.references = self._grid.add_member_curves(color)
        self._members[member_id] = member
        self._grid.add_legend_member(member.curves[_LEGEND_KEY], html.escape(member.name))
        log.debug("charting member %s (%x)", member.name, member.id)
        return member

    def _rename(self, member: ChartMember, name: str) -> None:
        member.name = name
        label = self._grid.legend.getLabel(member.curves[_LEGEND_KEY])
        if label is not None:
            label.setText(html.escape(name))
            self._grid.legend.updateSize()

    def _on_legend_clicked(self, item: pg.PlotDataItem) -> None:
        # LegendItem has already toggled ``item``; carry that to every plot.
        if item is self._grid.forecast_sample:
            self._y_tops.clear()
            self._mark_dirty(self._grid.forecast_lines)
            return
        for key, sample in self._grid.reference_samples.items():
            if item is sample:
                self._reference_visible[key] = item.isVisible()
                for member in self._members.values():
                    member.references[key].setVisible(item.isVisible() and member.visible)
                    if key in member.history_references:
                        member.history_references[key].setVisible(
                            item.isVisible() and member.visible
                        )
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
        self._history_dirty.add(key)
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

    def _on_manual_range(self) -> None:
        """The user zoomed or panned: stop following; once it settles, load what the
        view shows if the buffers and the loaded history do not cover it."""
        self.set_follow(False)
        if self._history_on:
            self._range_timer.start()

    # ---------------------------------------------------------------- history internals

    def _plot_width(self) -> int:
        """The plots' width in pixels: the most points a range is worth loading."""
        width = self._grid.plots[PLOT_KEYS[0]].getViewBox().width()
        return int(min(_MAX_POINTS, max(_MIN_POINTS, width)))

    def _live_since(self) -> float | None:
        """The oldest sample the buffers hold (any member); ``None`` when empty."""
        firsts = [t for m in self._members.values() if (t := m.buffer.first_time) is not None]
        return min(firsts) if firsts else None

    def _covers(self, r: HistoryRange, x0: float, x1: float, step: float) -> bool:
        """Whether ``r`` (with the buffers after it) holds ``x0``..``x1`` at ``step``
        seconds a point or finer (twice as coarse passes: no reload for a small zoom)."""
        since = self._live_since()
        slack = max(step, ENDS_NOW_S)
        ends = x1 <= r.end + slack or (since is not None and since <= r.end + slack)
        return r.start <= x0 + step and ends and r.step <= 2 * step

    @Slot()
    def _request_for_view(self, *, margin: bool = True) -> None:
        """Ask the history for the shown range, unless the buffers, the loaded range or
        the pending request cover it. Following: the window up to now; otherwise the
        view (with ``margin``, half a view each side, so a pan has data at once)."""
        self._range_timer.stop()
        if not self._history_on or self._key is None:
            return
        now = self._now()
        if self._following:
            x0, x1 = now - self._window_s, now
        else:
            x0, x1 = self._current_x_range()
        since = self._live_since()
        if since is not None and x0 >= since:
            return  # the buffers hold all of it
        if x0 >= now:
            return  # nothing but the future
        points = self._plot_width()
        step = (x1 - x0) / points
        if self._pending is not None and self._covers(self._pending, x0, x1, step):
            return
        if self._loaded is not None and self._covers(self._loaded, x0, x1, step):
            if self._pending is not None:  # back to what is loaded: the answer is stale
                self._pending = None
                self._show_loading(False)
            return
        if margin and not self._following:
            pad = (x1 - x0) / 2
            x0, x1 = x0 - pad, x1 + pad
        x1 = min(x1, now)
        points = max(_MIN_POINTS, min(2 * _MAX_POINTS, round((x1 - x0) / step)))
        self._request_id += 1
        self._pending = HistoryRange(self._request_id, x0, x1, points)
        self._show_loading(True)
        self.historyRequested.emit(self._request_id, x0, x1, points)

    def _show_loading(self, loading: bool, note: str = "") -> None:
        if loading:
            self._status.show_loading()
        else:
            self._status.hide_loading(note)
        self._place_status()
        self._grid.set_no_data_text(LOADING_TEXT if loading else NO_DATA_TEXT)

    def _place_status(self) -> None:
        """The history's status floats in the plots' bottom right corner: the readout's
        cell or an empty one in every column count, so it hides no curve."""
        grid = self._grid.geometry()
        status = self._status
        status.move(
            max(0, grid.right() - status.width() - 12),
            max(0, grid.bottom() - status.height() - 12),
        )

    def _add_history_curves(self, member: ChartMember) -> None:
        curves, references = self._grid.add_history_curves(member.color)
        for curve in curves.values():
            curve.setVisible(member.visible)
        for key, line in references.items():
            line.setVisible(member.visible and self._reference_visible[key])
        member.history_curves, member.history_references = curves, references

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
