"""Human-readable numbers and times, shared by the command line and the views.

Every byte count, latency, rate, percentage, duration and clock time a person reads
goes through here, so the table of ``etcdmon status``, the tree, the details pane, the
charts' readout, the alert table and the benchmark dialog spell them the same way.
``humanize`` does the work where its output is the one wanted (byte sizes, SI rates,
thousands separators, spelled-out durations); the rest are one-line f-strings whose
exact output the CLI, the README or the tests rely on. Unknown values (``None``) are
``-``. No Qt here.
"""

from __future__ import annotations

import math
import time

import humanize

__all__ = [
    "fmt_bytes",
    "fmt_clock",
    "fmt_count",
    "fmt_days",
    "fmt_duration",
    "fmt_elapsed",
    "fmt_eta",
    "fmt_latency_ms",
    "fmt_latency_s",
    "fmt_ms",
    "fmt_percent",
    "fmt_rate",
    "fmt_rate_si",
    "fmt_seconds_as_ms",
    "fmt_stamp",
    "fmt_time",
    "fmt_value",
]

# -- sizes and numbers ---------------------------------------------------------------------


def fmt_bytes(n: float | None) -> str:
    """``20.5 kB``, ``2.1 GB`` (SI, like etcdctl's table); ``-`` for unknown."""
    if n is None:
        return "-"
    if abs(n) < 1000:
        # humanize says "512 Bytes" (and "1 Byte"); the tables and etcdctl say "512 B".
        return f"{n:.0f} B"
    return str(humanize.naturalsize(n, format="%.1f"))


def fmt_count(n: float | None, digits: int = 0) -> str:
    """A count or rate with thousands separators, ``12,345`` (``12,345.7`` with
    ``digits=1``); ``-`` for unknown."""
    if n is None:
        return "-"
    return str(humanize.intcomma(n, digits) if digits else humanize.intcomma(round(n)))


def fmt_value(value: float | None) -> str:
    """A measured value of unknown unit (what an alert rule compared): 4 significant digits."""
    if value is None:
        return "-"
    if math.isinf(value) or math.isnan(value):
        return str(value)
    return f"{value:.4g}"


def fmt_percent(v: float | None, digits: int = 1) -> str:
    """A ratio as a percentage, ``0.123`` -> ``12.3 %``; ``-`` for unknown.

    humanize has no percentage formatter; this is the one spelling of the app.
    """
    return "-" if v is None else f"{v * 100:.{digits}f} %"


# -- latencies and rates -------------------------------------------------------------------
# Fixed units, not humanize's: a column of latencies must be comparable at a glance, and
# etcd's own tools speak milliseconds.


def fmt_ms(v: float | None, digits: int = 1) -> str:
    """Milliseconds, ``12.3 ms`` (the CLI table, the tree); ``-`` for unknown."""
    return "-" if v is None else f"{v:.{digits}f} ms"


def fmt_seconds_as_ms(v: float | None, digits: int = 1) -> str:
    """Seconds shown as milliseconds, ``0.0123`` -> ``12.3 ms``."""
    return "-" if v is None else fmt_ms(v * 1000, digits)


def fmt_latency_ms(ms: float | None) -> str:
    """A latency to three significant digits: ``0.123 ms``, ``1.50 ms``, ``12.3 ms``, ``123 ms``.

    For values a person compares closely (the charts' readout, benchmark results), where
    a sub-millisecond fsync and a 150 ms one both need their digits.
    """
    if ms is None:
        return "-"
    if ms < 1:
        return f"{ms:.3f} ms"
    if ms < 10:
        return f"{ms:.2f} ms"
    return f"{ms:.1f} ms" if ms < 100 else f"{ms:,.0f} ms"


def fmt_latency_s(seconds: float | None) -> str:
    """``fmt_latency_ms`` of a latency given in seconds."""
    return "-" if seconds is None else fmt_latency_ms(seconds * 1000)


def fmt_rate(v: float | None, unit: str = "/s") -> str:
    """A rate with one decimal, ``12.3/s``; ``-`` for unknown."""
    return "-" if v is None else f"{v:.1f}{unit}"


def fmt_rate_si(v: float | None, unit: str = "/s") -> str:
    """A rate over a wide range: ``0.25/s``, ``12.3/s``, then SI prefixes, ``1.23 k/s``."""
    if v is None:
        return "-"
    if abs(v) < 1000:
        return f"{v:.2f}{unit}" if abs(v) < 10 else f"{v:.1f}{unit}"
    return str(humanize.metric(v, unit, precision=3))


# -- durations -----------------------------------------------------------------------------


def fmt_duration(seconds: float) -> str:
    """Compact, ``45 s``, ``12 min``, ``3 h 5 min``, ``2 d 4 h``, for table cells and menus.

    Kept by hand: humanize only spells units out (``3 hours and 5 minutes``), too wide
    for the alert table's tooltips and the tray menu ("Mute notifications for 1 h").
    """
    s = max(0, int(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min"
    if s < 86_400:
        h, m = divmod(s // 60, 60)
        return f"{h} h {m} min" if m else f"{h} h"
    d, h = divmod(s // 3600, 24)
    return f"{d} d {h} h" if h else f"{d} d"


def fmt_days(days: float) -> str:
    """An estimate in days, as precise as an estimate deserves: ``~3.2 days``,
    ``~12 days``, ``~5 hours`` under a day, ``now`` at zero or below."""
    if days <= 0:
        return "now"
    if days < 1:
        hours = max(1, round(days * 24))
        return f"~{hours} hour{'s' if hours != 1 else ''}"
    return f"~{days:.1f} days" if days < 10 else f"~{days:,.0f} days"


def fmt_elapsed(seconds: float) -> str:
    """How long something ran: ``12.3 seconds``, ``2 minutes and 5 seconds``."""
    if seconds < 59.95:
        return str(humanize.precisedelta(max(0.0, seconds), format="%0.1f"))
    return str(humanize.precisedelta(round(seconds), format="%0.0f"))


def fmt_eta(seconds: float) -> str:
    """How long something may still take, rounded as an estimate: ``2 minutes``."""
    return str(humanize.naturaldelta(max(0.0, seconds)))


# -- clock times ---------------------------------------------------------------------------


def fmt_clock(ts: float) -> str:
    """The local time of day, ``14:03:07``."""
    return time.strftime("%H:%M:%S", time.localtime(ts))


def fmt_time(ts: float | None, now: float) -> str:
    """Local time: just the clock today, the date too otherwise; ``-`` for none."""
    if ts is None:
        return "-"
    if math.isinf(ts):
        return "until resolved"
    local, today = time.localtime(ts), time.localtime(now)
    if local[:3] == today[:3]:
        return time.strftime("%H:%M:%S", local)
    if local.tm_year == today.tm_year:
        return time.strftime("%b %d %H:%M", local)
    return time.strftime("%Y-%m-%d %H:%M", local)


def fmt_stamp(ts: float | None) -> str:
    """A full local timestamp, for text that outlives the day (copies, tooltips)."""
    if ts is None:
        return "-"
    if math.isinf(ts):
        return "until resolved"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))
