"""One charted member: its colour, samples, curves and visibility; and what the crosshair
reads off the members at one instant.

``ChartsWidget`` keeps one ``ChartMember`` per member id. Colours come from
``palette.MEMBER_COLOURS`` in order of first appearance and stay with the member. A
member's samples are its live ring buffer and, for a range loaded from the history, one
(time, value) pair of arrays per history signal, drawn where the buffer has nothing.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QColor

from etcdmon_gui.model.history import FloatArray
from etcdmon_gui.ui.chart_definitions import BUFFER_COLUMNS, ChartSpec
from etcdmon_gui.ui.chart_grid import LiveCurveItem
from etcdmon_gui.ui.palette import MEMBER_COLOURS
from etcdmon_gui.ui.series_buffer import RingBuffer

__all__ = ["ChartMember", "free_colour", "readout", "visible_max", "with_gaps"]

_EMPTY: FloatArray = np.empty(0)


def visible_max(x: FloatArray, y: FloatArray, x0: float, x1: float) -> float:
    """The largest value of the points with ``x0 <= x <= x1`` (``x`` sorted); NaN: none."""
    shown = y[int(np.searchsorted(x, x0, "left")) : int(np.searchsorted(x, x1, "right"))]
    return float(np.fmax.reduce(shown)) if len(shown) else math.nan


def with_gaps(x: FloatArray, y: FloatArray, step: float) -> tuple[FloatArray, FloatArray]:
    """The points with a NaN after each one followed by a gap (more than 2.5 points'
    width, at least ``step``), so a line does not bridge hours the history has nothing of."""
    if len(x) < 2:
        return x, y
    d = np.diff(x)
    base = max(step, float(np.median(d)))
    jumps = np.flatnonzero(d > 2.5 * base)
    if not len(jumps):
        return x, y
    return np.insert(x, jumps + 1, x[jumps] + base / 2), np.insert(y, jumps + 1, math.nan)


@dataclass(eq=False)
class ChartMember:
    id: int
    name: str
    color: QColor
    buffer: RingBuffer
    curves: dict[str, LiveCurveItem] = field(default_factory=dict)  # chart key -> curve
    references: dict[str, LiveCurveItem] = field(default_factory=dict)  # chart key -> line
    visible: bool = True
    # A range loaded from the history: history signal -> (times, values), gaps as NaN;
    # its curves (made at the first load) and the time up to which they were drawn.
    history: dict[str, tuple[FloatArray, FloatArray]] = field(default_factory=dict)
    history_step: float = 0.0
    history_curves: dict[str, pg.PlotDataItem] = field(default_factory=dict)
    history_references: dict[str, pg.PlotDataItem] = field(default_factory=dict)
    history_cut: float | None = None

    def items(self) -> Iterator[tuple[str, pg.PlotDataItem]]:
        """(chart key, item) of every curve and reference line of this member."""
        yield from self.curves.items()
        yield from self.references.items()
        yield from self.history_curves.items()
        yield from self.history_references.items()

    def show(self, visible: bool, references_shown: Mapping[str, bool]) -> None:
        """Show or hide the member everywhere; its reference lines also follow the legend."""
        self.visible = visible
        for curves in (self.curves, self.history_curves):
            for curve in curves.values():
                curve.setVisible(visible)
        for lines in (self.references, self.history_references):
            for key, line in lines.items():
                line.setVisible(visible and references_shown[key])

    def history_before(self, signal: str, cut: float) -> tuple[FloatArray, FloatArray]:
        """The loaded history of ``signal`` before time ``cut`` (where the buffer starts)."""
        x, y = self.history.get(signal, (_EMPTY, _EMPTY))
        i = int(np.searchsorted(x, cut))
        return x[:i], y[:i]

    def value_near(self, column: int, x: float, tolerance: float) -> float:
        """The sample of ``column`` nearest to time ``x``; NaN if none within ``tolerance``.
        Before the buffer's first sample, the loaded history's nearest point (within
        ``tolerance`` or its points' width)."""
        i = self.buffer.nearest(x)
        if i is not None:
            t, values = self.buffer.view()
            if abs(t[i] - x) <= tolerance:
                return float(values[column, i])
        first = self.buffer.first_time
        if first is not None and x >= first:
            return math.nan
        hx, hy = self.history.get(BUFFER_COLUMNS[column].history, (_EMPTY, _EMPTY))
        if not len(hx):
            return math.nan
        j = int(np.clip(np.searchsorted(hx, x), 1, len(hx) - 1)) if len(hx) > 1 else 0
        if len(hx) > 1 and abs(hx[j - 1] - x) < abs(hx[j] - x):
            j -= 1
        if abs(hx[j] - x) > max(tolerance, self.history_step):
            return math.nan
        return float(hy[j])


def free_colour(used: Iterable[QColor]) -> QColor:
    """The first member colour no member has; cycling once all are taken."""
    names = [c.name() for c in used]
    for name in MEMBER_COLOURS:
        if name not in names:
            return QColor(name)
    return QColor(MEMBER_COLOURS[len(names) % len(MEMBER_COLOURS)])


def readout(
    spec: ChartSpec,
    title: str,
    members: Iterable[ChartMember],
    x: float,
    tolerance: float,
    column: int,
    reference: int | None,
) -> tuple[str, str]:
    """The crosshair readout at time ``x`` as (rich text, plain text): each visible
    member's value of buffer ``column``, and of the ``reference`` column when shown."""
    stamp = datetime.fromtimestamp(x).strftime("%H:%M:%S")
    lines_html = [f"<b>{stamp}</b>&nbsp;&nbsp;{html.escape(title)}"]
    lines_text = [f"{stamp} {title}"]
    for member in members:
        if not member.visible:
            continue
        text = spec.unit.format(member.value_near(column, x, tolerance))
        if spec.reference is not None and reference is not None:
            limit = member.value_near(reference, x, tolerance)
            if math.isfinite(limit):
                text += f" of {spec.unit.format(limit)} {spec.reference.label}"
        name = html.escape(member.name)
        lines_html.append(
            f"<span style='color:{member.color.name()}'>&#9632;&nbsp;{name}</span>"
            f"&nbsp;&nbsp;{html.escape(text)}"
        )
        lines_text.append(f"{member.name} {text}")
    return "<br>".join(lines_html), "\n".join(lines_text)
