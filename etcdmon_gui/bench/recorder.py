"""Every request's latency, recorded for the price of two list appends.

The hot path appends the start time and latency of each success (and the start time
of each error) to ``array('d')`` buffers. ``fold()``, called a few times a second,
moves those buffers into the summaries with numpy: an HdrHistogram (microseconds,
1 µs .. 1 h, 3 significant digits) for percentiles and the histogram, exact running
count/mean/variance/min/max (Chan et al.'s pairwise update), and per-second points
keyed by the second a request *started* in, as ``tools/benchmark --sample`` does.
"""

from __future__ import annotations

import logging
import math
from array import array
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from hdrh.histogram import HdrHistogram

from etcdmon_gui.model.bench import (
    PERCENTILES,
    HistogramBucket,
    LatencySummary,
    SecondPoint,
)

log = logging.getLogger(__name__)

HDR_LOWEST_US = 1
HDR_HIGHEST_US = 3_600_000_000  # one hour
HDR_DIGITS = 3
HISTOGRAM_BUCKETS = 10  # plus the slowest: 11 lines, as tools/benchmark prints


@dataclass(frozen=True, slots=True)
class Interval:
    """What one ``fold`` took in: the successes and errors since the previous one."""

    count: int
    errors: int
    mean_s: float | None
    p99_s: float | None
    max_s: float | None


def new_histogram() -> HdrHistogram:
    return HdrHistogram(HDR_LOWEST_US, HDR_HIGHEST_US, HDR_DIGITS)


def hdr_indexes(hist: HdrHistogram, values_us: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """HdrHistogram's counts-array index of each value, vectorised.

    The same arithmetic as ``HdrHistogram._counts_index_for``: the bucket is the
    power of two that holds the value, the sub-bucket its top bits within it.
    """
    unit = int(hist.unit_magnitude)
    half_mag = int(hist.sub_bucket_half_count_magnitude)
    masked = values_us | int(hist.sub_bucket_mask)
    pow2ceiling = np.frexp(masked.astype(np.float64))[1].astype(np.int64)  # bit length
    bucket = pow2ceiling - unit - (half_mag + 1)
    sub_bucket = values_us >> (bucket + unit)
    result: npt.NDArray[np.int64] = (
        ((bucket + 1) << half_mag) + sub_bucket - int(hist.sub_bucket_half_count)
    )
    return result


def record_many(hist: HdrHistogram, values_us: npt.NDArray[np.int64]) -> None:
    """Record many values at once (equivalent to ``record_value`` for each)."""
    if not len(values_us):
        return
    values_us = np.clip(values_us, HDR_LOWEST_US, HDR_HIGHEST_US)
    counts = np.ctypeslib.as_array(hist.counts)
    if counts.shape != (hist.counts_len,) or counts.dtype != np.uint64:
        for v in values_us.tolist():  # an hdrhistogram we do not know: the slow way
            hist.record_value(v)
        return
    idx = hdr_indexes(hist, values_us)
    counts += np.bincount(idx, minlength=hist.counts_len).astype(np.uint64)
    hist.total_count += len(values_us)
    hist.min_value = min(hist.min_value, int(values_us.min()))
    hist.max_value = max(hist.max_value, int(values_us.max()))


class Recorder:
    """Latencies of one kind of request. Not thread-safe: one event loop owns it.

    ``wall_offset`` turns ``time.perf_counter()`` readings into UNIX time.
    """

    def __init__(self, wall_offset: float) -> None:
        self.wall_offset = wall_offset
        self.starts = array("d")  # hot path: perf_counter at send, successes
        self.latencies = array("d")  # hot path: seconds, successes
        self.error_starts = array("d")  # hot path: perf_counter at send, errors
        self.hist = new_histogram()
        self.count = 0
        self.errors = 0
        self._mean = 0.0
        self._m2 = 0.0
        self.min_s = math.inf
        self.max_s = 0.0
        self._seconds: dict[int, list[float]] = {}  # second -> [count, sum, min, max]
        self._second_errors: dict[int, int] = {}

    def fold(self) -> Interval:
        """Move the buffered samples into the summaries; describe what was moved."""
        lat = (
            np.frombuffer(self.latencies, dtype=np.float64).copy()
            if self.latencies
            else np.empty(0, dtype=np.float64)
        )
        starts = (
            np.frombuffer(self.starts, dtype=np.float64).copy()
            if self.starts
            else np.empty(0, dtype=np.float64)
        )
        err_starts = (
            np.frombuffer(self.error_starts, dtype=np.float64).copy()
            if self.error_starts
            else np.empty(0, dtype=np.float64)
        )
        del self.latencies[:], self.starts[:], self.error_starts[:]
        self._fold_errors(err_starts)
        n = len(lat)
        if not n:
            return Interval(0, len(err_starts), None, None, None)
        record_many(self.hist, np.floor(lat * 1e6).astype(np.int64))  # never above
        mean = float(lat.mean())
        m2 = float(((lat - mean) ** 2).sum())
        total = self.count + n
        delta = mean - self._mean
        self._mean += delta * n / total
        self._m2 += m2 + delta * delta * self.count * n / total
        self.count = total
        lo, hi = float(lat.min()), float(lat.max())
        self.min_s = min(self.min_s, lo)
        self.max_s = max(self.max_s, hi)
        self._fold_seconds(starts, lat)
        return Interval(n, len(err_starts), mean, float(np.percentile(lat, 99)), hi)

    def _fold_errors(self, err_starts: npt.NDArray[np.float64]) -> None:
        self.errors += len(err_starts)
        if len(err_starts):
            secs = np.floor(err_starts + self.wall_offset).astype(np.int64)
            uniq, counts = np.unique(secs, return_counts=True)
            for s, c in zip(uniq.tolist(), counts.tolist(), strict=True):
                self._second_errors[s] = self._second_errors.get(s, 0) + c

    def _fold_seconds(self, starts: npt.NDArray[np.float64], lat: npt.NDArray[np.float64]) -> None:
        secs = np.floor(starts + self.wall_offset).astype(np.int64)
        uniq, inverse = np.unique(secs, return_inverse=True)
        counts = np.bincount(inverse)
        sums = np.bincount(inverse, weights=lat)
        mins = np.full(len(uniq), np.inf)
        maxs = np.zeros(len(uniq))
        np.minimum.at(mins, inverse, lat)
        np.maximum.at(maxs, inverse, lat)
        for s, c, total, lo, hi in zip(
            uniq.tolist(), counts.tolist(), sums.tolist(), mins.tolist(), maxs.tolist(), strict=True
        ):
            point = self._seconds.get(s)
            if point is None:
                self._seconds[s] = [c, total, lo, hi]
            else:
                point[0] += c
                point[1] += total
                point[2] = min(point[2], lo)
                point[3] = max(point[3], hi)

    # -- results ---------------------------------------------------------------------

    def summary(self) -> LatencySummary | None:
        if not self.count:
            return None
        return LatencySummary(
            count=self.count,
            min_s=self.min_s,
            mean_s=self._mean,
            stddev_s=math.sqrt(self._m2 / self.count),
            max_s=self.max_s,
            percentiles=percentiles(self.hist, self.max_s, self.min_s),
        )

    def histogram(self) -> tuple[HistogramBucket, ...]:
        return histogram_buckets(self.hist, self.min_s, self.max_s) if self.count else ()

    def series(self) -> tuple[SecondPoint, ...]:
        return series_points(self._seconds, self._second_errors)

    def merge_into(self, other: Recorder) -> None:
        """Add this recorder's folded data to ``other`` (for an all-kinds summary)."""
        if self.count:
            other.hist.add(self.hist)
            total = other.count + self.count
            delta = self._mean - other._mean
            other._m2 += self._m2 + delta * delta * other.count * self.count / total
            other._mean += delta * self.count / total
            other.count = total
            other.min_s = min(other.min_s, self.min_s)
            other.max_s = max(other.max_s, self.max_s)
        other.errors += self.errors
        for s, (c, total_s, lo, hi) in self._seconds.items():
            point = other._seconds.setdefault(s, [0, 0.0, math.inf, 0.0])
            point[0] += c
            point[1] += total_s
            point[2] = min(point[2], lo)
            point[3] = max(point[3], hi)
        for s, c in self._second_errors.items():
            other._second_errors[s] = other._second_errors.get(s, 0) + c


def percentiles(hist: HdrHistogram, max_s: float, min_s: float) -> tuple[tuple[float, float], ...]:
    """``PERCENTILES`` from the histogram, clamped into the exact [min, max]."""
    values = hist.get_percentile_to_value_dict(list(PERCENTILES))
    return tuple((p, min(max_s, max(min_s, float(values.get(p, 0)) / 1e6))) for p in PERCENTILES)


def histogram_buckets(
    hist: HdrHistogram, fastest: float, slowest: float
) -> tuple[HistogramBucket, ...]:
    """``tools/benchmark``'s histogram: 10 equal steps from fastest, then slowest.

    Each request is counted in the first bucket whose bound is >= its latency, the
    latency being its HdrHistogram bucket's lowest value (within 0.1 %), clamped into
    the exact [fastest, slowest].
    """
    step = (slowest - fastest) / HISTOGRAM_BUCKETS
    bounds = [fastest + step * i for i in range(HISTOGRAM_BUCKETS)] + [slowest]
    counts = [0] * len(bounds)
    raw = np.ctypeslib.as_array(hist.counts)
    for index in np.nonzero(raw)[0].tolist():
        value = min(slowest, max(fastest, hist.get_value_from_index(index) / 1e6))
        slot = 0
        while slot < len(bounds) - 1 and value > bounds[slot]:
            slot += 1
        counts[slot] += int(raw[index])
    return tuple(HistogramBucket(b, c) for b, c in zip(bounds, counts, strict=True))


def series_points(
    seconds: dict[int, list[float]], second_errors: dict[int, int]
) -> tuple[SecondPoint, ...]:
    """One point per second from the first to the last, empty seconds filled in."""
    keys = set(seconds) | set(second_errors)
    if not keys:
        return ()
    points = []
    for s in range(min(keys), max(keys) + 1):
        c, total, lo, hi = seconds.get(s, [0, 0.0, math.inf, 0.0])
        n = int(c)
        points.append(
            SecondPoint(
                unix_second=s,
                count=n,
                errors=second_errors.get(s, 0),
                min_s=lo if n else None,
                avg_s=total / n if n else None,
                max_s=hi if n else None,
            )
        )
    return tuple(points)
