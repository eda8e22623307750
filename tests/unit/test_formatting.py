"""The spellings the CLI table, the README and the views rely on."""

from __future__ import annotations

import math
import time

import pytest

from etcdmon_gui.formatting import (
    fmt_bytes,
    fmt_clock,
    fmt_count,
    fmt_days,
    fmt_duration,
    fmt_elapsed,
    fmt_eta,
    fmt_latency_ms,
    fmt_latency_s,
    fmt_ms,
    fmt_percent,
    fmt_rate,
    fmt_rate_si,
    fmt_seconds_as_ms,
    fmt_stamp,
    fmt_time,
    fmt_value,
)


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (None, "-"),
        (0, "0 B"),
        (512, "512 B"),
        (999, "999 B"),
        (1000, "1.0 kB"),
        (20_480, "20.5 kB"),
        (16_384, "16.4 kB"),
        (2.1e9, "2.1 GB"),
        (-20_480, "-20.5 kB"),
    ],
)
def test_bytes_are_si_like_etcdctl(n: float | None, text: str) -> None:
    assert fmt_bytes(n) == text


def test_latencies_and_rates() -> None:
    assert (fmt_ms(None), fmt_ms(1.25), fmt_ms(12.0, 0)) == ("-", "1.2 ms", "12 ms")
    assert fmt_seconds_as_ms(0.0123) == "12.3 ms"
    assert [fmt_latency_ms(v) for v in (0.1234, 1.5, 12.345, 123.4, 1234.0)] == [
        "0.123 ms",
        "1.50 ms",
        "12.3 ms",
        "123 ms",
        "1,234 ms",
    ]
    assert fmt_latency_s(0.0015) == "1.50 ms" and fmt_latency_s(None) == "-"
    assert (fmt_rate(None), fmt_rate(3.14159)) == ("-", "3.1/s")
    assert [fmt_rate_si(v) for v in (0.25, 12.34, 1234.5)] == ["0.25/s", "12.3/s", "1.23 k/s"]


def test_counts_values_and_percentages() -> None:
    assert (fmt_count(None), fmt_count(12_345.6), fmt_count(1234.56, 1)) == (
        "-",
        "12,346",
        "1,234.6",
    )
    assert fmt_count(1234.56, 1) == f"{1234.56:,.1f}"  # as the benchmark tests compare
    assert (fmt_value(None), fmt_value(0.731234), fmt_value(math.inf)) == ("-", "0.7312", "inf")
    assert (fmt_percent(None), fmt_percent(0.1234), fmt_percent(0.5, 0)) == ("-", "12.3 %", "50 %")


def test_durations() -> None:
    assert [fmt_duration(s) for s in (-1, 45, 720, 3600, 11_100, 187_200)] == [
        "0 s",
        "45 s",
        "12 min",
        "1 h",
        "3 h 5 min",
        "2 d 4 h",
    ]
    assert fmt_elapsed(12.34) == "12.3 seconds"
    assert fmt_elapsed(125) == "2 minutes and 5 seconds"
    assert fmt_eta(125) == "2 minutes"
    days = [fmt_days(d) for d in (-1, 0, 0.02, 0.2, 3.24, 12.4, 1500)]
    assert days == ["now", "now", "~1 hour", "~5 hours", "~3.2 days", "~12 days", "~1,500 days"]


def test_clock_times() -> None:
    now = time.mktime((2026, 6, 15, 12, 0, 0, 0, 0, -1))
    assert fmt_clock(now) == fmt_time(now, now) == "12:00:00"
    assert fmt_time(now - 2 * 86_400, now) == "Jun 13 12:00"
    assert fmt_time(None, now) == "-" and fmt_time(math.inf, now) == "until resolved"
    assert fmt_stamp(now) == "2026-06-15 12:00:00"
