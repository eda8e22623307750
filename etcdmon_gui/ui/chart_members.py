"""One charted member: its colour, samples, curves and visibility; and what the crosshair
reads off the members at one instant.

``ChartsWidget`` keeps one ``ChartMember`` per member id. Colours come from
``palette.MEMBER_COLOURS`` in order of first appearance and stay with the member.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from PySide6.QtGui import QColor

from etcdmon_gui.ui.chart_definitions import ChartSpec
from etcdmon_gui.ui.chart_grid import LiveCurveItem
from etcdmon_gui.ui.palette import MEMBER_COLOURS
from etcdmon_gui.ui.series_buffer import RingBuffer

__all__ = ["ChartMember", "free_colour", "readout"]


@dataclass(eq=False)
class ChartMember:
    id: int
    name: str
    color: QColor
    buffer: RingBuffer
    curves: dict[str, LiveCurveItem] = field(default_factory=dict)  # chart key -> curve
    references: dict[str, LiveCurveItem] = field(default_factory=dict)  # chart key -> line
    visible: bool = True

    def items(self) -> Iterator[tuple[str, LiveCurveItem]]:
        """(chart key, item) of every curve and reference line of this member."""
        yield from self.curves.items()
        yield from self.references.items()

    def show(self, visible: bool, references_shown: Mapping[str, bool]) -> None:
        """Show or hide the member everywhere; its reference lines also follow the legend."""
        self.visible = visible
        for curve in self.curves.values():
            curve.setVisible(visible)
        for key, line in self.references.items():
            line.setVisible(visible and references_shown[key])

    def value_near(self, column: int, x: float, tolerance: float) -> float:
        """The sample of ``column`` nearest to time ``x``; NaN if none within ``tolerance``."""
        i = self.buffer.nearest(x)
        if i is None:
            return math.nan
        t, values = self.buffer.view()
        if abs(t[i] - x) > tolerance:
            return math.nan
        return float(values[column, i])


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
