"""Human-readable numbers, shared by the command line and the views."""

from __future__ import annotations


def fmt_bytes(n: float | None) -> str:
    """``20.5 kB``, ``2.1 GB`` (SI, like etcdctl's table); ``-`` for unknown."""
    if n is None:
        return "-"
    value = float(n)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(value) < 1000 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")


def fmt_ms(v: float | None) -> str:
    return "-" if v is None else f"{v:.1f} ms"


def fmt_seconds_as_ms(v: float | None) -> str:
    return "-" if v is None else fmt_ms(v * 1000)


def fmt_rate(v: float | None, unit: str = "/s") -> str:
    return "-" if v is None else f"{v:.1f}{unit}"


def fmt_percent(v: float | None) -> str:
    return "-" if v is None else f"{v * 100:.1f} %"
