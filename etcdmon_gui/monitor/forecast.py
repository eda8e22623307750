"""When will the database fill its quota? Linear fits of its size over time.

``predict_linear`` is Prometheus' ``predict_linear(v[range], t)``: a least-squares line
through the points, with its intercept at the evaluation time (``now``, by default the
last point's time), read ``horizon_s`` later. ``quota_forecast`` fits the DB size over
two windows (6 h and 24 h by default) and says, for each, how fast it grows and in how
many days the fitted line reaches the quota; the smaller answer is the forecast (the
more pessimistic one: a fresh burst shows in the short window, a steady climb in both).

A window is fitted once it holds at least ``MIN_POINTS`` points spanning at least
``MIN_SPAN_FRACTION`` of it (1.5 h of 6 h, 6 h of 24 h): a few minutes of a sawtooth
(writes, then a compaction) extrapolated to days says nothing. A line that does not grow
has no answer (``None``), never an infinity.

``DbSizeWindow`` is the feed: per cluster, the largest member DB size of each sweep and
the quota, over 24 h, at most one point a minute, seeded from the stored history at start
so a restart keeps the fit. Pure numpy, no I/O.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Sequence

import numpy as np

from etcdmon_gui.model.forecast import DAY_S, QuotaForecast, WindowFit
from etcdmon_gui.model.snapshot import ClusterSnapshot

__all__ = [
    "DEFAULT_WINDOWS",
    "MIN_POINTS",
    "MIN_SPAN_FRACTION",
    "DbSizeWindow",
    "QuotaForecast",
    "WindowFit",
    "linear_fit",
    "predict_linear",
    "quota_forecast",
]

DEFAULT_WINDOWS: tuple[float, ...] = (6 * 3600.0, 24 * 3600.0)
MIN_POINTS = 3
MIN_SPAN_FRACTION = 0.25


def linear_fit(
    ts: Sequence[float] | np.ndarray, values: Sequence[float] | np.ndarray, at: float
) -> tuple[float, float] | None:
    """Least-squares ``(slope per second, value at time at)``; ``None`` with fewer than
    two points or all at one instant. Times are centred first, so UNIX seconds lose no
    precision."""
    t = np.asarray(ts, dtype=np.float64)
    y = np.asarray(values, dtype=np.float64)
    if t.shape != y.shape or t.ndim != 1:
        raise ValueError("ts and values must be one-dimensional and of the same length")
    if len(t) < 2:
        return None
    t_mean, y_mean = float(t.mean()), float(y.mean())
    dt = t - t_mean
    var = float(np.dot(dt, dt))
    if var <= 0.0:
        return None
    slope = float(np.dot(dt, y - y_mean)) / var
    return slope, y_mean + slope * (at - t_mean)


def predict_linear(
    ts: Sequence[float] | np.ndarray,
    values: Sequence[float] | np.ndarray,
    horizon_s: float,
    now: float | None = None,
) -> float | None:
    """The value ``horizon_s`` after ``now`` (default: the last point's time) on the
    least-squares line through the points, as Prometheus' ``predict_linear``; ``None``
    when there is no line (fewer than two points, or all at one instant)."""
    if len(ts) == 0:
        return None
    at = float(ts[-1]) if now is None else now
    fit = linear_fit(ts, values, at)
    if fit is None:
        return None
    slope, value_at = fit
    return value_at + slope * horizon_s


def quota_forecast(
    ts: Sequence[float] | np.ndarray,
    sizes: Sequence[float] | np.ndarray,
    quota_bytes: float | None,
    now: float,
    windows: Sequence[float] = DEFAULT_WINDOWS,
) -> QuotaForecast | None:
    """Fit the sizes over each window ending at ``now`` (points after ``now`` are left
    out). ``None`` without a quota or when no window has enough points (see the module's
    text); otherwise every fitted window and the smallest of their days left."""
    if quota_bytes is None or not quota_bytes > 0 or not math.isfinite(quota_bytes):
        return None
    t = np.asarray(ts, dtype=np.float64)
    y = np.asarray(sizes, dtype=np.float64)
    if t.shape != y.shape or t.ndim != 1:
        raise ValueError("ts and sizes must be one-dimensional and of the same length")
    finite = np.isfinite(t) & np.isfinite(y)
    t, y = t[finite], y[finite]
    fits: list[WindowFit] = []
    for window in windows:
        inside = (t >= now - window) & (t <= now)
        tw, yw = t[inside], y[inside]
        if len(tw) < MIN_POINTS:
            continue
        span = float(tw.max() - tw.min())
        if span < MIN_SPAN_FRACTION * window:
            continue
        fit = linear_fit(tw, yw, now)
        if fit is None:
            continue
        slope, size_now = fit
        days: float | None = None
        if slope > 0:
            days = max(0.0, (quota_bytes - size_now) / slope / DAY_S)
            if not math.isfinite(days):
                days = None
        fits.append(WindowFit(float(window), len(tw), span, slope, size_now, days))
    if not fits:
        return None
    answers = [f.days_left for f in fits if f.days_left is not None]
    return QuotaForecast(float(quota_bytes), now, tuple(fits), min(answers) if answers else None)


class DbSizeWindow:
    """One cluster's DB size over the last ``keep_s`` (24 h): ``(time, largest member DB
    size, quota or None)`` per sweep, thinned to one point per ``step_s`` (60 s): the
    newest point always stands for the latest sweep (it is replaced by the next sweep
    until it is ``step_s`` after the point before it), so at most ``keep_s / step_s + 2``
    points (~1,442) are kept, and never more than ``max_points``."""

    def __init__(
        self,
        keep_s: float = 24 * 3600.0,
        step_s: float = 60.0,
        max_points: int = 1500,
        windows: Sequence[float] = DEFAULT_WINDOWS,
    ) -> None:
        self.keep_s = keep_s
        self.step_s = step_s
        self.windows = tuple(windows)
        self._points: deque[tuple[float, float, float | None]] = deque(maxlen=max_points)

    def __len__(self) -> int:
        return len(self._points)

    @property
    def points(self) -> list[tuple[float, float, float | None]]:
        return list(self._points)

    @staticmethod
    def reading(snap: ClusterSnapshot) -> tuple[float, float | None] | None:
        """The largest DB size the members that answered report (their Status, as the DB
        chart shows), and the largest quota their metrics give; ``None`` without a size."""
        sizes = [m.db_size for m in snap.members if m.reachable and m.db_size is not None]
        if not sizes:
            return None
        quotas = [
            m.metrics.quota_bytes
            for m in snap.members
            if m.reachable and m.metrics is not None and m.metrics.quota_bytes
        ]
        return float(max(sizes)), (float(max(quotas)) if quotas else None)

    def add(self, snap: ClusterSnapshot) -> bool:
        """Take a snapshot's reading; ``False`` when it has none (nobody answered)."""
        reading = self.reading(snap)
        if reading is None:
            return False
        self._append(snap.taken_at, reading[0], reading[1])
        return True

    def seed(self, points: Iterable[tuple[float, float, float | None]]) -> None:
        """Add stored ``(time, size, quota)`` points, e.g. the history's last day at start;
        they may come in any order and overlap what was added already."""
        merged = sorted([*self._points, *points], key=lambda p: p[0])
        self._points.clear()
        for t, size, quota in merged:
            if math.isfinite(t) and math.isfinite(size):
                self._append(t, float(size), quota)

    def _append(self, t: float, size: float, quota: float | None) -> None:
        pts = self._points
        if pts and t < pts[-1][0]:
            return  # older than what we have: a clock step back; seed() merges in order
        # The newest point is provisional until it is ``step_s`` after the one before:
        # replaced by each later sweep until then, kept (and followed) from then on.
        if pts and (t == pts[-1][0] or (len(pts) >= 2 and pts[-1][0] - pts[-2][0] < self.step_s)):
            pts[-1] = (t, size, quota)
        else:
            pts.append((t, size, quota))
        while pts and pts[0][0] < t - self.keep_s:
            pts.popleft()

    def quota(self) -> float | None:
        """The latest quota known."""
        return next((q for _, _, q in reversed(self._points) if q), None)

    def forecast(self, now: float) -> QuotaForecast | None:
        """``quota_forecast`` of the points kept, against the latest quota known."""
        if not self._points:
            return None
        ts = np.fromiter((p[0] for p in self._points), dtype=np.float64, count=len(self._points))
        ys = np.fromiter((p[1] for p in self._points), dtype=np.float64, count=len(self._points))
        return quota_forecast(ts, ys, self.quota(), now, self.windows)
