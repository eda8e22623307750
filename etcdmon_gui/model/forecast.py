"""A database's quota forecast: the linear fits of its size over time and when each
reaches the quota (``monitor.forecast`` makes them; a snapshot carries one)."""

from __future__ import annotations

from dataclasses import dataclass

DAY_S = 86_400.0


@dataclass(frozen=True, slots=True)
class WindowFit:
    """One window's line: its slope, its fitted size now, and the days until it reaches
    the quota (``None`` when it does not grow; 0 when the line is already past it)."""

    window_s: float
    points: int
    span_s: float
    slope_bytes_per_s: float
    size_now: float
    days_left: float | None

    @property
    def bytes_per_day(self) -> float:
        return self.slope_bytes_per_s * DAY_S


@dataclass(frozen=True, slots=True)
class QuotaForecast:
    """Each fitted window, and the most pessimistic answer of theirs (``None``: no
    window sees the database grow)."""

    quota_bytes: float
    now: float
    windows: tuple[WindowFit, ...]
    days_left: float | None

    @property
    def limiting(self) -> WindowFit | None:
        """The window whose answer is ``days_left``."""
        return next((w for w in self.windows if w.days_left == self.days_left), None)
