"""What the live charts show: one declarative table, ``CHARTS``, and what derives from it.

Each ``ChartSpec`` says what one chart plots per member: its title, its unit, the
function that reads the value from a ``MemberStatus`` (in plot units: ms, 1/s, bytes)
and the key of the same number in the history (``monitor.history_signals.SIGNALS``,
whose keys carry the same units), optionally several such readings the toolbar picks
from, a dashed reference line (the quota), and its y range with nothing to show.
Adding a chart is adding one entry: the ring-buffer columns (``BUFFER_COLUMNS``,
``member_values``), the history signals a long range loads (``HISTORY_SIGNALS``), the
grid position, which plots label their time axis, the toolbar's pickers and the
crosshair readout all follow.

No Qt here, so the table and the readers can be checked without a display.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable
from dataclasses import dataclass

from etcdmon_gui.formatting import fmt_bytes, fmt_latency_ms, fmt_rate_si
from etcdmon_gui.model.metrics import MemberMetrics, Quantiles
from etcdmon_gui.model.snapshot import MemberStatus

__all__ = [
    "BUFFER_COLUMNS",
    "CHARTS",
    "HISTORY_SIGNALS",
    "NAN_ROW",
    "PLOT_KEYS",
    "READOUT_CELL",
    "ChartSpec",
    "Reading",
    "Unit",
    "chart",
    "grid_cell",
    "member_values",
    "reading_column",
    "reference_column",
    "time_labelled",
]

Reader = Callable[[MemberStatus], float | None]


class Unit(enum.Enum):
    """A chart's unit: its axis label, whether the axis uses SI prefixes, its readout."""

    MS = "ms"
    RATE = "/s"
    BYTES = "B"

    @property
    def si_prefixes(self) -> bool:
        """k/s, MB, GB on the axis; latencies stay in plain milliseconds."""
        return self is not Unit.MS

    def format(self, value: float) -> str:
        """A value under the crosshair; ``—`` for a gap."""
        if not math.isfinite(value):
            return "—"
        if self is Unit.MS:
            return fmt_latency_ms(value)
        if self is Unit.RATE:
            return fmt_rate_si(value)
        return fmt_bytes(value)


@dataclass(frozen=True, slots=True)
class Reading:
    """One value per member and sweep: a label (for pickers and legends), its reader,
    and ``history``, the history signal that keeps the same number over time in the
    same unit (what a range beyond the in-memory buffer is loaded from)."""

    label: str
    read: Reader
    history: str


@dataclass(frozen=True, slots=True)
class ChartSpec:
    """One chart. ``readings[0]`` is drawn unless ``default`` names another reading.

    With several readings the toolbar offers a picker (``picker`` is its caption,
    ``picker_tip`` its tooltip) and the title shows the one picked. A ``reference`` is
    a dashed line per member on the same chart, hidden and shown from the legend.
    ``forecast``: the chart also draws the cluster's quota forecast (a dashed line from
    now along the fitted growth, up to the quota).
    """

    key: str
    title: str
    unit: Unit
    readings: tuple[Reading, ...]
    default: str = ""
    picker: str = ""
    picker_tip: str = ""
    reference: Reading | None = None
    # False: the y axis fits the readings only, and the title says where the reference
    # is (a 2 GB quota would flatten a DB of a few MB into the axis).
    reference_scales: bool = True
    empty_top: float = 1.0  # the y range is [0, empty_top] while there is nothing to show
    forecast: bool = False

    @property
    def default_index(self) -> int:
        labels = [r.label for r in self.readings]
        return labels.index(self.default) if self.default else 0


# -- readers -------------------------------------------------------------------------------


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else seconds * 1e3


def _probe(name: str) -> Reader:
    """A rolling quantile of the client probe's latency, in ms."""

    def read(m: MemberStatus) -> float | None:
        q = m.probe_quantiles
        return None if q is None else _ms(getattr(q, name))

    return read


def _quantile(family: str, name: str = "p99") -> Reader:
    """A quantile of one of etcd's latency histograms (``MemberMetrics`` field), in ms."""

    def read(m: MemberStatus) -> float | None:
        q: Quantiles | None = getattr(m.metrics, family) if m.metrics else None
        return None if q is None else _ms(getattr(q, name))

    return read


def _metric(name: str) -> Reader:
    """A plain ``MemberMetrics`` field (a rate, a size)."""

    def read(m: MemberStatus) -> float | None:
        mm: MemberMetrics | None = m.metrics
        return None if mm is None else getattr(mm, name)

    return read


def _db_size(m: MemberStatus) -> float | None:
    return None if m.db_size is None else float(m.db_size)


# -- the table -----------------------------------------------------------------------------

CHARTS: tuple[ChartSpec, ...] = (
    ChartSpec(
        "probe",
        "Client probe latency",
        Unit.MS,
        (
            Reading("Latest", lambda m: m.probe_ms, "probe_ms"),
            Reading("P50", _probe("p50"), "probe_p50_ms"),
            Reading("P95", _probe("p95"), "probe_p95_ms"),
            Reading("P99", _probe("p99"), "probe_p99_ms"),
        ),
        default="P99",
        picker="Probe latency:",
        picker_tip="Latest: this sweep's linearizable read; P50/P95/P99: over the recent probes",
    ),
    ChartSpec(
        "wal",
        "WAL fsync P99",
        Unit.MS,
        (Reading("P99", _quantile("wal_fsync"), "wal_fsync_p99_ms"),),
    ),
    ChartSpec(
        "backend",
        "Backend commit P99",
        Unit.MS,
        (Reading("P99", _quantile("backend_commit"), "backend_commit_p99_ms"),),
    ),
    ChartSpec(
        "peer",
        "Peer RTT P99",
        Unit.MS,
        (Reading("P99", _quantile("peer_rtt"), "peer_rtt_p99_ms"),),
    ),
    ChartSpec(
        "proposals",
        "Proposals committed",
        Unit.RATE,
        (Reading("committed", _metric("proposals_committed_per_s"), "proposals_committed_per_s"),),
    ),
    ChartSpec(
        "grpc",
        "gRPC requests",
        Unit.RATE,
        (Reading("total", _metric("grpc_requests_total_per_s"), "grpc_requests_per_s"),),
    ),
    ChartSpec(
        "db",
        "DB size",
        Unit.BYTES,
        (Reading("size", _db_size, "db_size_bytes"),),
        reference=Reading("quota", _metric("quota_bytes"), "quota_bytes"),
        reference_scales=False,
        empty_top=1e6,
        forecast=True,
    ),
)

# -- derived from the table ----------------------------------------------------------------

PLOT_KEYS: tuple[str, ...] = tuple(spec.key for spec in CHARTS)
_BY_KEY = {spec.key: spec for spec in CHARTS}
if len(_BY_KEY) != len(CHARTS):
    raise AssertionError("two charts share a key")


def _columns() -> tuple[tuple[Reading, ...], dict[str, int]]:
    columns: list[Reading] = []
    first: dict[str, int] = {}
    for spec in CHARTS:
        first[spec.key] = len(columns)
        columns += spec.readings
        if spec.reference is not None:
            columns.append(spec.reference)
    return tuple(columns), first


#: One ring-buffer column per reading and reference, in table order.
BUFFER_COLUMNS, _FIRST_COLUMN = _columns()
NAN_ROW: tuple[None, ...] = (None,) * len(BUFFER_COLUMNS)
#: The history signals of every column, what a long range loads (all readings, so a
#: picker switches without loading again).
HISTORY_SIGNALS: tuple[str, ...] = tuple(dict.fromkeys(c.history for c in BUFFER_COLUMNS))


def chart(key: str) -> ChartSpec:
    """The chart with this key."""
    return _BY_KEY[key]


def reading_column(key: str, index: int) -> int:
    """The buffer column of reading ``index`` of chart ``key``."""
    return _FIRST_COLUMN[key] + index


def reference_column(key: str) -> int | None:
    """The buffer column of chart ``key``'s reference line, if it has one."""
    spec = _BY_KEY[key]
    return None if spec.reference is None else _FIRST_COLUMN[key] + len(spec.readings)


def member_values(m: MemberStatus) -> tuple[float | None, ...]:
    """One buffer row for ``m``, in ``BUFFER_COLUMNS`` order; ``None`` where unknown.

    An unreachable member gets no values at all, so every chart shows a gap for it.
    """
    if not m.reachable:
        return NAN_ROW
    return tuple(column.read(m) for column in BUFFER_COLUMNS)


# -- layout: ``columns`` columns under the legend strip (row 0), in table order -------------


def grid_cell(index: int, columns: int = 2) -> tuple[int, int]:
    """(row, column) of the chart at ``index``; ``len(CHARTS)`` is the readout's cell."""
    return 1 + index // columns, index % columns


READOUT_CELL = grid_cell(len(CHARTS))


def time_labelled(index: int, columns: int = 2) -> bool:
    """Whether the chart at ``index`` labels its time axis: every chart of a row in which
    some chart has no chart below it (the x axes are linked, so the others would repeat
    the same labels; a whole row, so the plots of a row keep one height)."""
    row = grid_cell(index, columns)[0]
    return any(
        grid_cell(i, columns)[0] == row and i + columns >= len(CHARTS) for i in range(len(CHARTS))
    )
