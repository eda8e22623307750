"""Fixed-size time series storage for the live charts, numpy only.

A chart redraws ten times a second from up to 24 h of one-second samples, so the storage
must append in O(1), never grow, and hand out the chronological samples of a time range
without copying them. ``RingBuffer`` does this with a *mirrored* ring: every sample is
written twice, at slot ``i`` and at slot ``i + P`` of a ``2 * P``-long array, so the
latest ``capacity`` samples are always one contiguous slice and a range query is two
binary searches plus a slice.

The ring is ``P = capacity + slack`` slots long although only ``capacity`` samples are
ever exposed. A view handed out therefore stays unchanged for at least ``slack`` further
appends: a plot holding on to the view between two redraws never sees its oldest point
overwritten by a newer one (which would draw a line across the whole chart).

No Qt here: this module is imported by tests that do not start a ``QApplication``.
"""

from __future__ import annotations

import math
import mmap
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

__all__ = ["DEFAULT_CAPACITY", "RingBuffer", "Series"]

DEFAULT_CAPACITY = 86_400
"""24 h at the shortest polling interval of 1 s."""

_DEFAULT_SLACK = 1_024

FloatArray = NDArray[np.float64]


class Series(NamedTuple):
    """Chronological samples: ``t`` has shape ``(n,)``, ``values`` ``(columns, n)``.

    Both are read-only views into the buffer (no copy). ``values[c]`` is contiguous.
    """

    t: FloatArray
    values: FloatArray


def _lazy_zeros(shape: tuple[int, int]) -> FloatArray:
    """A float64 array whose memory the OS provides page by page, in small pages.

    numpy asks Linux for transparent huge pages on large arrays; an append here writes
    one slot in each of ~24 rows spread over megabytes, so the first append would
    fault in (and zero) ~24 huge pages: ~30 ms on the GUI thread per new member, and
    ~50 MB of RSS at once. An anonymous mapping without huge pages costs 4 KiB a touch.
    """
    size = shape[0] * shape[1] * 8
    area = mmap.mmap(-1, size)
    if hasattr(mmap, "MADV_NOHUGEPAGE"):
        area.madvise(mmap.MADV_NOHUGEPAGE)
    return np.frombuffer(area, dtype=np.float64).reshape(shape)


class RingBuffer:
    """Preallocated ring of ``(timestamp, value...)`` float64 rows.

    Promises:

    * capacity is fixed at construction; once full, each append drops the oldest row;
    * ``append`` is O(1) and allocates nothing;
    * timestamps are non-decreasing (an older timestamp is refused with ``ValueError``),
      so range queries are binary searches;
    * a missing value (``None`` or NaN) is stored as NaN, so a plot shows a gap, not 0;
    * ``view``/``range`` return read-only views that stay valid (unchanged) for at least
      ``slack`` further appends, and until ``clear()``.

    ``columns`` lets several series sampled at the same instants share one time column
    (the charts keep one buffer per member with one column per metric).
    """

    __slots__ = ("_capacity", "_columns", "_count", "_data", "_period", "_slack", "_total")

    def __init__(
        self, capacity: int = DEFAULT_CAPACITY, columns: int = 1, *, slack: int | None = None
    ) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1, not {capacity}")
        if columns < 1:
            raise ValueError(f"columns must be at least 1, not {columns}")
        if slack is None:
            slack = min(_DEFAULT_SLACK, capacity)
        if slack < 0:
            raise ValueError(f"slack must not be negative, not {slack}")
        self._capacity = capacity
        self._columns = columns
        self._slack = slack
        self._period = capacity + slack
        # Row 0 holds timestamps, rows 1.. the value columns; each row is contiguous so a
        # series handed to a plot is a plain 1-D slice. No slot is read before it is
        # written, so pages are only touched (and counted in RSS) as samples arrive.
        self._data: FloatArray = _lazy_zeros((columns + 1, 2 * self._period))
        self._count = 0  # rows retained, <= capacity
        self._total = 0  # rows appended since the last clear()

    @property
    def capacity(self) -> int:
        """Rows kept at most."""
        return self._capacity

    @property
    def columns(self) -> int:
        """Value columns per row."""
        return self._columns

    @property
    def slack(self) -> int:
        """Appends a handed-out view survives unchanged."""
        return self._slack

    @property
    def total_appended(self) -> int:
        """Rows appended since construction or the last ``clear()``, including dropped."""
        return self._total

    def __len__(self) -> int:
        return self._count

    @property
    def nbytes(self) -> int:
        """Memory reserved for the samples."""
        return int(self._data.nbytes)

    @property
    def first_time(self) -> float | None:
        """Timestamp of the oldest row kept, or ``None`` when empty."""
        if self._count == 0:
            return None
        return float(self._data[0, self._end() - self._count])

    @property
    def last_time(self) -> float | None:
        """Timestamp of the newest row, or ``None`` when empty."""
        if self._count == 0:
            return None
        return float(self._data[0, self._end() - 1])

    def append(self, t: float, *values: float | None) -> None:
        """Add one row at time ``t``; ``None`` values become NaN.

        Raises ``ValueError`` if ``t`` is not finite, is older than the newest row, or the
        number of values is not ``columns``.
        """
        if len(values) != self._columns:
            raise ValueError(f"expected {self._columns} values, got {len(values)}")
        if not math.isfinite(t):
            raise ValueError(f"timestamp must be finite, not {t}")
        if self._count and t < self._data[0, self._end() - 1]:
            raise ValueError(f"timestamp {t} is older than the newest sample")
        row = [t]
        row.extend(math.nan if v is None else v for v in values)
        slot = self._total % self._period
        data = self._data
        data[:, slot] = row
        data[:, slot + self._period] = row
        self._total += 1
        if self._count < self._capacity:
            self._count += 1

    def clear(self) -> None:
        """Forget every row; the memory stays reserved."""
        self._count = 0
        self._total = 0

    def view(self) -> Series:
        """All rows kept, oldest first, as views (no copy)."""
        end = self._end()
        return self._series(end - self._count, end)

    def range(self, t0: float, t1: float) -> Series:
        """Rows with ``t0 <= t <= t1``, oldest first, as views (no copy)."""
        end = self._end()
        start = end - self._count
        times = self._data[0, start:end]
        lo = int(np.searchsorted(times, t0, side="left"))
        hi = int(np.searchsorted(times, t1, side="right"))
        if hi < lo:
            hi = lo
        return self._series(start + lo, start + hi)

    def nearest(self, t: float) -> int | None:
        """Index into ``view()`` of the row whose timestamp is closest to ``t``."""
        if self._count == 0:
            return None
        times = self.view().t
        i = int(np.searchsorted(times, t))
        if i == 0:
            return 0
        if i >= len(times):
            return len(times) - 1
        return i if times[i] - t < t - times[i - 1] else i - 1

    def _end(self) -> int:
        # One past the newest row, always in [period, 2 * period): the rows before it,
        # back to end - count >= slack >= 0, are the latest count samples in order.
        return self._total % self._period + self._period

    def _series(self, start: int, stop: int) -> Series:
        block = self._data[:, start:stop]
        t = block[0]
        values = block[1:]
        t.flags.writeable = False
        values.flags.writeable = False
        return Series(t, values)
