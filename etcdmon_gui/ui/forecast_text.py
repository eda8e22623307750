"""How a quota forecast reads: "full in ~3.2 days", its growth rates, whether to warn.

The header, the details pane and the DB chart say the same thing in the same words.
No widgets here.
"""

from __future__ import annotations

from etcdmon_gui.formatting import fmt_bytes, fmt_days, fmt_duration
from etcdmon_gui.model.forecast import QuotaForecast, WindowFit

__all__ = [
    "NO_FORECAST",
    "WARN_DAYS",
    "forecast_details",
    "forecast_text",
    "forecast_warns",
    "growing_fit",
]

WARN_DAYS = 4.0  # under this the forecast is shown in the warning colour

NO_FORECAST = "no forecast yet"
NO_FORECAST_TIP = (
    "No forecast yet: it needs the DB quota and enough DB size history "
    "(1.5 h of the last 6 h, or 6 h of the last 24 h)."
)


def growing_fit(fc: QuotaForecast | None) -> WindowFit | None:
    """The window the forecast's answer comes from, when the DB grows in it."""
    if fc is None or fc.days_left is None:
        return None
    fit = fc.limiting
    return fit if fit is not None and fit.slope_bytes_per_s > 0 else None


def forecast_text(fc: QuotaForecast | None) -> str:
    """``full in ~3.2 days``, ``full now`` (past the quota by the trend), ``not growing``;
    ``no forecast yet`` without one."""
    if fc is None:
        return NO_FORECAST
    if fc.days_left is None:
        return "not growing"
    return _full_in(fc.days_left)


def _full_in(days: float) -> str:
    return "full now" if days <= 0 else f"full in {fmt_days(days)}"


def forecast_warns(fc: QuotaForecast | None) -> bool:
    """Whether the quota fills within ``WARN_DAYS`` at the current growth."""
    return fc is not None and fc.days_left is not None and fc.days_left < WARN_DAYS


def _rate(fit: WindowFit) -> str:
    sign = "+" if fit.bytes_per_day >= 0 else "-"
    return f"{sign}{fmt_bytes(abs(fit.bytes_per_day))}/day"


def forecast_details(fc: QuotaForecast | None) -> str:
    """Each window's fit, one a line: its growth, the size it gives now, its answer."""
    if fc is None:
        return NO_FORECAST_TIP
    lines = [f"DB quota {fmt_bytes(fc.quota_bytes)}; linear fits of the largest member's size:"]
    for fit in fc.windows:
        answer = "not growing" if fit.days_left is None else _full_in(fit.days_left)
        mark = " (the forecast)" if fit is fc.limiting and fc.days_left is not None else ""
        lines.append(
            f"last {fmt_duration(fit.window_s)}: {_rate(fit)}, {fmt_bytes(fit.size_now)} now, "
            f"{answer}{mark}"
        )
    return "\n".join(lines)
