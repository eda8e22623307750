"""A benchmark result as text (laid out like etcd's ``tools/benchmark``), JSON and CSV.

Pure functions of a ``BenchResult``; the CLI prints them and a GUI can export them.
Three machine-readable shapes: ``result_json`` (everything, what ``--json`` prints),
``csv_text`` (the per-second series, as ``tools/benchmark --sample``) and the summary
(``summary_json`` / ``summary_csv``: the settings and the result's figures, every
percentile included, without the per-second series; the CSV is one header row and one
row of values, RFC 4180, with the unit in every column name that has one).
"""

from __future__ import annotations

import csv
import io
from typing import Any

from etcdmon_gui.model.bench import (
    PERCENTILES,
    BenchResult,
    BenchSpec,
    CheckPerfResult,
    LatencySummary,
)
from etcdmon_gui.model.history import BenchRunRecord

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


def _text(value: bytes | None) -> str | None:
    return None if value is None else value.decode("utf-8", "backslashreplace")


def settings_json(spec: BenchSpec) -> dict[str, Any]:
    """What the run was asked to do, every parameter, names with their units."""
    return {
        "workload": spec.workload.value,
        "label": spec.label or None,
        "clients": spec.clients,
        "conns": spec.conns,
        "total_requested": None if spec.duration_s is not None else spec.total,
        "duration_requested_s": spec.duration_s,
        "rate_limit_per_s": spec.rate or None,
        "key_size_bytes": spec.key_size,
        "val_size_bytes": spec.val_size,
        "key_space_size": spec.key_space_size,
        "sequential_keys": spec.sequential_keys,
        "random_keys": spec.random_keys,
        "prefix": spec.prefix,
        "range_key": _text(spec.range_key),
        "range_end": _text(spec.range_end),
        "linearizable": spec.linearizable,
        "range_limit": spec.limit,
        "count_only": spec.count_only,
        "txn_ops": spec.txn_ops,
        "rw_ratio": spec.rw_ratio,
        "put_rate_per_s": spec.put_rate,
        "call_timeout_s": spec.call_timeout_s,
        "cleanup": spec.cleanup,
        "compact": spec.compact,
        "defragment": spec.defragment,
        "seed": spec.seed,
    }


def result_json(r: BenchResult) -> dict[str, Any]:
    spec = r.spec
    return {
        "settings": settings_json(spec),
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


def summary_json(r: BenchResult, verdict: CheckPerfResult | None = None) -> dict[str, Any]:
    """``--json``'s content without the per-second series (``csv_text`` has it)."""
    data = check_perf_json(verdict) if verdict is not None else result_json(r)
    data.pop("series")
    return data


def _cell(value: Any) -> str | int | float:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return "; ".join(str(v) for v in value)
    if isinstance(value, int | float | str):
        return value
    return str(value)


def _latency_columns(prefix: str, lat: dict[str, float | None]) -> dict[str, Any]:
    return {f"{prefix}latency_{name}_ms": value for name, value in lat.items()}


def summary_row(r: BenchResult, verdict: CheckPerfResult | None = None) -> dict[str, Any]:
    """The summary as one flat row: column name (with its unit) -> value."""
    data = summary_json(r, verdict)
    row: dict[str, Any] = {**data["settings"], "endpoints": data["endpoints"]}
    if verdict is not None:
        row.update(
            check_perf_load=data["load"],
            check_perf_limit_per_s=data["limit"],
            check_perf_passed=data["passed"],
            check_perf_lines=data["lines"],
        )
    row.update(
        started_at_unix_s=data["started_at"],
        total_requests=data["total"],
        successes=data["successes"],
        errors=data["errors"],
        errors_by_code=[f"{code}={e['count']}" for code, e in data["errors_by_code"].items()],
        duration_s=data["duration_s"],
        requests_per_s=data["requests_per_s"],
        **_latency_columns("", data["latency_ms"]),
    )
    for kind, k in data["by_kind"].items():
        row.update(
            {
                f"{kind}_total_requests": k["total"],
                f"{kind}_errors": k["errors"],
                f"{kind}_requests_per_s": k["requests_per_s"],
                **_latency_columns(f"{kind}_", k["latency_ms"]),
            }
        )
    row.update(
        cancelled=data["cancelled"],
        stop_reason=data["stop_reason"],
        abandoned_requests=data["abandoned"],
        revision_before=data["revision_before"],
        revision_after=data["revision_after"],
        keys_under_prefix=data["keys_under_prefix"],
        deleted_keys=data["cleanup"]["deleted"],
        compacted_revision=data["cleanup"]["compacted_revision"],
        defragmented=data["cleanup"]["defragmented"],
        cleanup_error=data["cleanup"]["error"],
        warnings=data["warnings"],
    )
    return row


def summary_csv(r: BenchResult, verdict: CheckPerfResult | None = None) -> str:
    """The summary as CSV (RFC 4180: CRLF line ends, quoted where needed): a header row
    and one row of values, the same figures as ``summary_json``."""
    row = summary_row(r, verdict)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(row.keys())
    writer.writerow(_cell(v) for v in row.values())
    return buf.getvalue()


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


def run_record(
    r: BenchResult, verdict: CheckPerfResult | None = None, cluster_name: str = ""
) -> BenchRunRecord:
    """The run as the history keeps it: the summary row and its headline figures."""
    latency = latency_json(r.latency)
    return BenchRunRecord(
        id=0,
        cluster=r.cluster_key,
        cluster_name=cluster_name or r.cluster_key,
        started_at=r.started_at,
        label=r.spec.label,
        workload=r.spec.workload.value,
        requests_per_s=r.requests_per_s,
        p50_ms=latency["p50"],
        p99_ms=latency["p99"],
        errors=r.errors,
        verdict=None if verdict is None else ("PASS" if verdict.passed else "FAIL"),
        summary=summary_row(r, verdict),
    )
