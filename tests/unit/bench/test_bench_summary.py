"""The summary export: the settings and every figure of a result, as JSON (``--json``'s
content without the per-second series) or as a one-row CSV (RFC 4180, UTF-8, units in
the column names); and the files it goes to, written whole or not at all."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from etcdmon_gui.bench import checkperf, output, report
from etcdmon_gui.model.bench import (
    PERCENTILES,
    BenchResult,
    BenchSpec,
    CleanupReport,
    ErrorCount,
    HistogramBucket,
    KindSummary,
    LatencySummary,
    SecondPoint,
    Workload,
)
from etcdmon_gui.model.errors import ConfigError


def latency(scale: float = 1.0) -> LatencySummary:
    return LatencySummary(
        count=990,
        min_s=0.0004 * scale,
        mean_s=0.0031 * scale,
        stddev_s=0.0012 * scale,
        max_s=0.0425 * scale,
        percentiles=tuple((p, 0.001 * scale * (1 + i)) for i, p in enumerate(PERCENTILES)),
    )


def mixed_result() -> BenchResult:
    spec = BenchSpec(
        Workload.TXN_MIXED,
        clients=10,
        conns=2,
        total=1000,
        rate=500,
        key_space_size=40,
        rw_ratio=3.0,
        limit=100,
        prefix='/bänch, "quoted"/',
        label="nightly, with a comma",
        compact=True,
        seed=5,
    )
    return BenchResult(
        cluster_key="k",
        spec=spec,
        started_at=1_700_000_000.25,
        total=1000,
        errors=10,
        errors_by_code=(ErrorCount("UNAVAILABLE", 10, "leader changed\nretry"),),
        duration_s=2.5,
        requests_per_s=396.0,
        latency=latency(),
        histogram=(HistogramBucket(0.001, 500), HistogramBucket(0.05, 490)),
        series=(SecondPoint(1_700_000_000, 400, 10, 0.0004, 0.003, 0.04),),
        by_kind=(
            KindSummary("read", 740, 5, 294.0, latency(0.5)),
            KindSummary("write", 260, 5, 102.0, latency(2.0)),
        ),
        revision_before=10,
        revision_after=265,
        keys_under_prefix=40,
        cleanup=CleanupReport(40, 266),
        warnings=("one", "two"),
        endpoints=("http://127.0.0.1:2379", "http://127.0.0.1:22379"),
    )


def parse_csv(text: str) -> dict[str, str]:
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert len(rows) == 2 and len(rows[0]) == len(rows[1])
    return dict(zip(rows[0], rows[1], strict=True))


def test_the_json_summary_is_the_json_result_without_the_series() -> None:
    r = mixed_result()
    full = report.result_json(r)
    summary = report.summary_json(r)
    assert "series" in full and "series" not in summary
    assert summary == {k: v for k, v in full.items() if k != "series"}
    settings = summary["settings"]
    assert settings["workload"] == "txn-mixed" and settings["rate_limit_per_s"] == 500
    assert settings["compact"] is True and settings["rw_ratio"] == 3.0
    assert settings["total_requested"] == 1000 and settings["duration_requested_s"] is None
    assert set(summary["latency_ms"]) == {
        "min",
        "mean",
        "stddev",
        "max",
        *(f"p{p:g}".replace(".", "") for p in PERCENTILES),
    }


def test_the_csv_summary_has_one_header_row_and_the_json_figures() -> None:
    r = mixed_result()
    text = report.summary_csv(r)
    lines = text.split("\r\n")
    assert lines[-1] == "" and len(lines) == 3  # RFC 4180: CRLF after each record
    row = parse_csv(text)
    data = report.result_json(r)
    # every percentile, overall and per kind, with its unit
    for name, value in data["latency_ms"].items():
        assert float(row[f"latency_{name}_ms"]) == value
    for kind in ("read", "write"):
        for name, value in data["by_kind"][kind]["latency_ms"].items():
            assert float(row[f"{kind}_latency_{name}_ms"]) == value
        assert float(row[f"{kind}_requests_per_s"]) == data["by_kind"][kind]["requests_per_s"]
    assert float(row["requests_per_s"]) == data["requests_per_s"]
    assert float(row["duration_s"]) == data["duration_s"]
    assert int(row["total_requests"]) == 1000 and int(row["errors"]) == 10
    assert row["errors_by_code"] == "UNAVAILABLE=10"
    # the settings, text that needs quoting comes back intact
    assert row["prefix"] == '/bänch, "quoted"/' and row["label"] == "nightly, with a comma"
    assert float(row["rate_limit_per_s"]) == 500 and row["compact"] == "true"
    assert row["clients"] == "10" and row["key_space_size"] == "40"
    assert row["endpoints"] == "http://127.0.0.1:2379; http://127.0.0.1:22379"
    assert row["compacted_revision"] == "266" and row["cleanup_error"] == ""
    assert set(data["settings"]) <= set(row)


def test_a_check_perf_summary_carries_the_verdict() -> None:
    preset = checkperf.PRESETS["s"]
    spec = checkperf.check_perf_spec(preset, duration_s=5)
    r = BenchResult(
        cluster_key="k",
        spec=spec,
        started_at=0.0,
        total=750,
        errors=0,
        errors_by_code=(),
        duration_s=5.0,
        requests_per_s=150.0,
        latency=latency(),
        histogram=(),
        series=(),
    )
    verdict = checkperf.judge(preset, r)
    row = parse_csv(report.summary_csv(r, verdict))
    assert row["check_perf_load"] == "s" and row["check_perf_passed"] == "true"
    assert row["check_perf_limit_per_s"] == "150"
    assert "PASS: Throughput is 151 writes/s" in row["check_perf_lines"]
    assert row["duration_requested_s"] == "5.0" and row["total_requested"] == ""
    data = report.summary_json(r, verdict)
    assert data["passed"] is True and data["settings"]["label"] == "check perf s"


def test_summary_format_follows_the_file_name(tmp_path: Path) -> None:
    r = mixed_result()
    for name in ("s.json", "S.JSON"):
        assert json.loads(output.summary_text(name, r))["total"] == 1000
    assert output.summary_text("s.csv", r).startswith("workload,")
    assert output.summary_text("summary", r).startswith("workload,")
    target = tmp_path / "ü.csv"
    output.write_text(str(target), output.summary_text(str(target), r), "--summary")
    raw = target.read_bytes()
    assert raw.decode("utf-8") == report.summary_csv(r)  # UTF-8, CRLF kept as written
    assert b"\r\r\n" not in raw
    assert [p.name for p in tmp_path.iterdir()] == ["ü.csv"]  # no temporary file left


def test_writing_to_a_directory_leaves_nothing_behind(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    with pytest.raises(ConfigError, match="is a directory; give a file name in it"):
        output.write_text(str(tmp_path / "out"), "x", "the export")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    assert list((tmp_path / "out").iterdir()) == []
