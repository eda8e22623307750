"""A benchmark result as text (laid out like etcd's ``tools/benchmark``), JSON and CSV.

Pure functions of a ``BenchResult``; the CLI prints them and a GUI can export them.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from etcdmon_gui.model.bench import (
    PERCENTILES,
    BenchResult,
    CheckPerfResult,
    LatencySummary,
)

BAR = "∎"
CSV_HEADER = (
    "UNIX-SECOND",
    "MIN-LATENCY-MS",
    "AVG-LATENCY-MS",
    "MAX-LATENCY-MS",
    "AVG-THROUGHPUT",
    "ERRORS",
)


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 4)


def latency_json(lat: LatencySummary | None) -> dict[str, float | None]:
    """``latency_ms`` of the JSON: mean, min, max, stddev and p10 .. p999."""
    out: dict[str, float | None] = dict.fromkeys(
        ("min", "mean", "stddev", "max", *(_pname(p) for p in PERCENTILES))
    )
    if lat is not None:
        out.update(
            min=_ms(lat.min_s), mean=_ms(lat.mean_s), stddev=_ms(lat.stddev_s), max=_ms(lat.max_s)
        )
        out.update({_pname(p): _ms(v) for p, v in lat.percentiles})
    return out


def _pname(p: float) -> str:
    """99.9 -> ``p999``, 50 -> ``p50``."""
    return "p" + f"{p:g}".replace(".", "")


def result_json(r: BenchResult) -> dict[str, Any]:
    spec = r.spec
    return {
        "workload": spec.workload.value,
        "label": spec.label or None,
        "endpoints": list(r.endpoints),
        "clients": spec.clients,
        "conns": spec.conns,
        "rate": spec.rate or None,
        "total": r.total,
        "successes": r.successes,
        "errors": r.errors,
        "errors_by_code": {
            e.code: {"count": e.count, "message": e.message} for e in r.errors_by_code
        },
        "duration_s": round(r.duration_s, 6),
        "requests_per_s": round(r.requests_per_s, 3),
        "latency_ms": latency_json(r.latency),
        "histogram": [{"upper_ms": _ms(b.upper_s), "count": b.count} for b in r.histogram],
        "by_kind": {
            k.kind: {
                "total": k.total,
                "errors": k.errors,
                "requests_per_s": round(k.requests_per_s, 3),
                "latency_ms": latency_json(k.latency),
            }
            for k in r.by_kind
        },
        "series": [
            {
                "unix_second": p.unix_second,
                "count": p.count,
                "errors": p.errors,
                "min_ms": _ms(p.min_s),
                "avg_ms": _ms(p.avg_s),
                "max_ms": _ms(p.max_s),
            }
            for p in r.series
        ],
        "cancelled": r.cancelled,
        "stop_reason": r.stop_reason,
        "abandoned": r.abandoned,
        "revision_before": r.revision_before,
        "revision_after": r.revision_after,
        "keys_under_prefix": r.keys_under_prefix,
        "prefix": spec.prefix,
        "cleanup": {
            "deleted": r.cleanup.deleted,
            "compacted_revision": r.cleanup.compacted_revision,
            "defragmented": list(r.cleanup.defragmented),
            "error": r.cleanup.error,
        },
        "warnings": list(r.warnings),
        "started_at": r.started_at,
    }


def check_perf_json(c: CheckPerfResult) -> dict[str, Any]:
    return {
        "load": c.preset.name,
        "limit": c.preset.limit,
        "clients": c.preset.clients,
        "passed": c.passed,
        "lines": [line.text for line in c.lines],
        **result_json(c.result),
    }


def csv_text(r: BenchResult) -> str:
    """The per-second series as ``tools/benchmark --sample`` writes it, plus errors."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for p in r.series:
        writer.writerow(
            (
                p.unix_second,
                _fmt(_ms(p.min_s)),
                _fmt(_ms(p.avg_s)),
                _fmt(_ms(p.max_s)),
                p.count,
                p.errors,
            )
        )
    return buf.getvalue()


def _fmt(v: float | None) -> str:
    return "" if v is None else f"{v:.4f}"


def _secs(v: float) -> str:
    return f"{v:4.4f} secs"


def _summary_lines(lat: LatencySummary | None, duration_s: float, rps: float) -> list[str]:
    lines = ["", "Summary:", f"  Total:\t{_secs(duration_s)}."]
    if lat is not None:
        lines += [
            f"  Slowest:\t{_secs(lat.max_s)}.",
            f"  Fastest:\t{_secs(lat.min_s)}.",
            f"  Average:\t{_secs(lat.mean_s)}.",
            f"  Stddev:\t{_secs(lat.stddev_s)}.",
        ]
    lines.append(f"  Requests/sec:\t{rps:4.4f}")
    return lines


def _latency_lines(lat: LatencySummary) -> list[str]:
    lines = ["", "Latency distribution:"]
    lines += [f"  {p:g}% in {v:4.4f} secs." for p, v in lat.percentiles if v > 0]
    return lines


def render_text(r: BenchResult) -> str:
    """Summary, response-time histogram, latency distribution, errors; then our extras."""
    spec = r.spec
    head = (
        f"{spec.label or spec.workload.value}: {r.total} requests, {spec.clients} clients, "
        f"{spec.conns} conns"
        + (f", rate {spec.rate:g}/s" if spec.rate else "")
        + f" -> {', '.join(r.endpoints)}"
    )
    lines = [head, *_summary_lines(r.latency, r.duration_s, r.requests_per_s)]
    if r.latency is not None and r.histogram:
        lines += ["", "Response time histogram:"]
        peak = max(b.count for b in r.histogram) or 1
        lines += [
            f"  {b.upper_s:4.4f} [{b.count}]\t|{BAR * (b.count * 40 // peak)}" for b in r.histogram
        ]
        lines += _latency_lines(r.latency)
    for k in r.by_kind:
        lines += [
            "",
            f"{k.kind}: {k.total} requests, {k.errors} errors, "
            f"{k.requests_per_s:4.4f} requests/sec",
        ]
        if k.latency is not None:
            lat = k.latency
            p99 = lat.percentile(99.0)
            lines.append(
                f"  average {_secs(lat.mean_s)}, p99 "
                f"{_secs(p99) if p99 is not None else '-'}, slowest {_secs(lat.max_s)}"
            )
    if r.errors_by_code:
        lines += ["", "Error distribution:"]
        lines += [f"  [{e.count}]\t{e.code}: {e.message}" for e in r.errors_by_code]
    lines.append("")
    if r.revision_before is not None and r.revision_after is not None:
        lines.append(
            f"Server: revision {r.revision_before} -> {r.revision_after}, "
            f"{r.keys_under_prefix} keys under {spec.prefix!r} before cleanup"
        )
    if spec.workload.writes and spec.cleanup:
        c = r.cleanup
        done = f"deleted {c.deleted} keys"
        if c.compacted_revision is not None:
            done += f", compacted at revision {c.compacted_revision}"
        if c.defragmented:
            done += f", defragmented {len(c.defragmented)} member(s)"
        lines.append(f"Cleanup: {c.error or done}")
    if r.abandoned:
        lines.append(f"Abandoned: {r.abandoned} requests still in flight when the load stopped")
    if r.stop_reason:
        lines.append(f"Stopped: {r.stop_reason}")
    lines += [f"Warning: {w}" for w in r.warnings]
    return "\n".join(lines)


def render_check_perf(c: CheckPerfResult) -> str:
    r = c.result
    head = (
        f"check perf --load {c.preset.name}: {c.preset.limit} writes/s, "
        f"{c.preset.clients} clients, {r.spec.duration_s:g} s -> {', '.join(r.endpoints)}"
    )
    lines = [head, *(line.text for line in c.lines), "PASS" if c.passed else "FAIL"]
    if r.stop_reason and r.cancelled:
        lines.append(f"Stopped: {r.stop_reason}")
    if r.cleanup.error:
        lines.append(f"Cleanup: {r.cleanup.error}")
    return "\n".join(lines)
