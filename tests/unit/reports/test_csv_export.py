"""CSV reports of a history filled through the store's own functions: every export's
exact columns and values, RFC 4180 quoting and CRLF, UTC times, cancellation that
leaves no file, and no secret in any report."""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

import pytest

from etcdmon_gui.model.alerts import Severity
from etcdmon_gui.model.errors import ConfigError
from etcdmon_gui.model.history import Aggregate, AlertQuery, MetricsQuery
from etcdmon_gui.reports import (
    ExportCancelled,
    check_output_path,
    export_alerts,
    export_benchmarks,
    export_members,
    export_metrics,
    metric_columns,
    write_export,
)
from etcdmon_gui.reports.csv_export import number, utc
from etcdmon_gui.store.history.reader import HistoryReader
from tests.history_data import KEY, M1, M1_NAME, M2, fill

T0 = datetime(2026, 12, 3, 4, 5, 6, tzinfo=UTC).timestamp()
METRICS_HEADER = [
    "time_utc",
    "cluster",
    "cluster_name",
    "member_id",
    "member_name",
    "up",
    "db_size_bytes",
    "wal_fsync_p99_ms",
    "verdict",
    "members",
]


@pytest.fixture
def reader(tmp_path: Path) -> Iterator[HistoryReader]:
    fill(tmp_path / "history.sqlite3", T0)
    r = HistoryReader(tmp_path / "history.sqlite3", clock=lambda: T0 + 3600)
    yield r
    r.close()


def run(export: Callable[[TextIO], int]) -> tuple[int, str, list[list[str]]]:
    out = io.StringIO(newline="")
    n = export(out)
    text = out.getvalue()
    return n, text, list(csv.reader(io.StringIO(text, newline="")))


def test_cells() -> None:
    assert utc(T0) == "2026-12-03T04:05:06.000Z"
    assert utc(T0 + 1.5) == "2026-12-03T04:05:07.500Z"
    assert utc(0.0009) == "1970-01-01T00:00:00.001Z"
    assert utc(None) == "" and utc(float("inf")) == ""
    assert [number(v) for v in (1048576.0, 2.5, 0, None, float("nan"), 1e-05, True)] == [
        "1048576",
        "2.5",
        "0",
        "",
        "",
        "1e-05",
        "true",
    ]


def test_metrics_raw(reader: HistoryReader) -> None:
    q = MetricsQuery(KEY, T0 - 60, T0 + 60)
    n, text, rows = run(lambda out: export_metrics(reader, q, out))
    assert n == 4 and len(rows) == 5
    assert rows[0] == METRICS_HEADER
    assert rows[1:] == [
        ["2026-12-03T04:05:06.000Z", KEY, "prod", "", "(cluster)", "", "", "", "1", "2"],
        ["2026-12-03T04:05:06.000Z", KEY, "prod", M1, M1_NAME, "1", "1048576", "2.5", "", ""],
        ["2026-12-03T04:05:06.000Z", KEY, "prod", M2, "db-west", "0", "", "", "", ""],
        ["2026-12-03T04:05:07.500Z", KEY, "prod", M1, M1_NAME, "1", "3145728", "", "", ""],
    ]
    # RFC 4180: CRLF after every row, the header included; the name quoted, its quote doubled.
    assert (
        text.count("\r\n") == 5 and text.endswith("\r\n") and "\n" not in text.replace("\r\n", "")
    )
    assert f'{M1},"db, ""east""",1,1048576,2.5,,\r\n' in text


def test_metrics_selected_signals_members_and_step(reader: HistoryReader) -> None:
    q = MetricsQuery(
        KEY,
        T0 - 60,
        T0 + 60,
        signals=("members", "db_size_bytes", "peer_rtt_p99_ms"),  # not in SIGNALS order
        members=(M1,),
        step_s=60,
        aggregate=Aggregate.MAX,
    )
    # The cluster-wide signal is selected, but its member ("") is not; no peer RTT at all.
    assert metric_columns(reader, q) == ("db_size_bytes",)
    n, _, rows = run(lambda out: export_metrics(reader, q, out))
    assert n == 1
    assert rows == [
        ["time_utc", "cluster", "cluster_name", "member_id", "member_name", "db_size_bytes"],
        ["2026-12-03T04:05:00.000Z", KEY, "prod", M1, M1_NAME, "3145728"],
    ]
    for aggregate, value in ((Aggregate.MIN, "1048576"), (Aggregate.AVG, "2097152")):
        q2 = MetricsQuery(KEY, T0 - 60, T0 + 60, ("db_size_bytes",), (M1,), 60, aggregate)
        assert run(lambda out, q2=q2: export_metrics(reader, q2, out))[2][1][-1] == value


def test_metrics_with_nothing_in_range_is_a_header(reader: HistoryReader) -> None:
    q = MetricsQuery(KEY, T0 + 600, T0 + 700)
    n, text, rows = run(lambda out: export_metrics(reader, q, out))
    assert n == 0 and rows == [METRICS_HEADER[:5]] and text.endswith("\r\n")


def test_alerts(reader: HistoryReader) -> None:
    n, text, rows = run(lambda out: export_alerts(reader, AlertQuery(cluster=KEY), out))
    assert n == 3
    assert rows[0] == [
        "time_utc",
        "event",
        "cluster",
        "cluster_name",
        "rule",
        "severity",
        "member",
        "state",
        "value",
        "summary",
        "since_utc",
        "fired_at_utc",
        "resolved_at_utc",
        "acknowledged",
        "silenced",
        "silence_reason",
        "fingerprint",
    ]
    fired, quorum, resolved = rows[1:]
    assert fired == [
        "2026-12-03T04:05:16.000Z",
        "firing",
        KEY,
        "prod",
        "db_size_high",
        "warning",
        M1_NAME,
        "firing",
        "1048576",
        "DB size 1 MiB, over 0.5 MiB",
        "2026-12-03T04:05:16.000Z",
        "2026-12-03T04:05:16.000Z",
        "",
        "true",
        "false",
        "",
        "fp-db",
    ]
    assert quorum[1] == "firing" and quorum[5] == "critical" and quorum[6] == "" and quorum[8] == ""
    assert quorum[9] == "quorum lost, line one\nline two"  # a line break inside quotes
    assert quorum[14:16] == ["true", "maintenance"]
    assert resolved[:2] == ["2026-12-03T04:06:16.000Z", "resolved"]
    assert resolved[8] == "524288" and resolved[12] == "2026-12-03T04:06:16.000Z"
    assert '"quorum lost, line one\nline two"' in text
    # Filters: by time, severity, member.
    later = AlertQuery(since=T0 + 15, until=T0 + 30)
    assert [r[4] for r in run(lambda out: export_alerts(reader, later, out))[2][1:]] == [
        "quorum_lost"
    ]
    critical = AlertQuery(severity=Severity.CRITICAL)
    assert run(lambda out: export_alerts(reader, critical, out))[0] == 1
    only = run(lambda out: export_alerts(reader, AlertQuery(), out, members={M1_NAME}))
    assert [r[-1] for r in only[2][1:]] == ["fp-db", "fp-db"]


def test_members(reader: HistoryReader) -> None:
    n, text, rows = run(lambda out: export_members(reader, out, cluster=KEY))
    assert n == 2
    assert rows == [
        [
            "cluster",
            "cluster_name",
            "member_id",
            "name",
            "peer_urls",
            "client_urls",
            "version",
            "role",
            "db_size_bytes",
            "first_seen_utc",
            "last_seen_utc",
        ],
        [
            KEY,
            "prod",
            M1,
            M1_NAME,
            "https://10.0.0.1:2380",
            "https://10.0.0.1:2379 https://db-east:2379",
            "3.5.17",
            "leader",
            "3145728",
            "2026-12-02T04:05:06.000Z",
            "2026-12-03T04:05:07.500Z",
        ],
        [
            KEY,
            "prod",
            M2,
            "db-west",
            "",
            "",
            "",
            "down",
            "",
            "2026-12-03T03:05:06.000Z",
            "2026-12-03T04:05:06.000Z",
        ],
    ]
    assert '"db, ""east"""' in text
    # Seen within a range: db-west was last seen at T0, before T0 + 1.
    assert run(lambda out: export_members(reader, out, since=T0 + 1))[2][1][2] == M1
    assert run(lambda out: export_members(reader, out, members={M2}))[0] == 1
    assert run(lambda out: export_members(reader, out, cluster="other"))[2] == [rows[0]]


def test_benchmarks(reader: HistoryReader) -> None:
    n, text, rows = run(lambda out: export_benchmarks(reader, out))
    assert n == 2
    assert rows[0] == [
        "started_at_utc",
        "cluster",
        "cluster_name",
        "label",
        "workload",
        "verdict",
        # the union of the summaries' keys, first seen first; label and workload are
        # the fixed columns, the password key is never written
        "clients",
        "endpoints",
        "latency_p99_ms",
        "linearizable",
        "compacted_revision",
        "check_perf_passed",
    ]
    assert rows[1] == [
        "2026-12-03T04:06:46.000Z",
        KEY,
        "prod",
        'baseline, "first"',
        "put",
        "",
        "10",
        "https://10.0.0.1:2379; https://10.0.0.2:2379",  # user information dropped
        "2.5",
        "false",
        "",
        "",
    ]
    assert rows[2] == [
        "2026-12-03T04:08:26.000Z",
        KEY,
        "prod",
        "",
        "check-perf",
        "PASS",
        "50",
        "",
        "12.25",
        "",
        "",
        "true",
    ]
    assert "hunter2" not in text and "root" not in text
    assert run(lambda out: export_benchmarks(reader, out, since=T0 + 150))[0] == 1


def test_no_secret_in_any_report(reader: HistoryReader) -> None:
    exports: list[Callable[[TextIO], int]] = [
        lambda out: export_metrics(reader, MetricsQuery(KEY, T0 - 60, T0 + 60), out),
        lambda out: export_alerts(reader, AlertQuery(), out),
        lambda out: export_members(reader, out),
        lambda out: export_benchmarks(reader, out),
    ]
    for export in exports:
        text = run(export)[1]
        assert "hunter2" not in text and "password" not in text


def test_progress_every_thousand_rows_and_cancel(tmp_path: Path) -> None:
    fill(tmp_path / "h.sqlite3", T0, extra_sweeps=2500)
    reader = HistoryReader(tmp_path / "h.sqlite3", clock=lambda: T0 + 3600)
    q = MetricsQuery(KEY, T0 + 5, T0 + 5000, signals=("verdict",))
    calls: list[tuple[int, int | None]] = []

    def progress(done: int, total: int | None) -> bool:
        calls.append((done, total))
        return True

    n = run(lambda out: export_metrics(reader, q, out, progress=progress))[0]
    assert n == 2500
    assert calls == [(0, 2500), (1000, 2500), (2000, 2500), (2500, 2500)]

    target = tmp_path / "out" / "metrics.csv"
    target.parent.mkdir()
    with pytest.raises(ExportCancelled) as cancelled:
        write_export(
            str(target),
            lambda out: export_metrics(reader, q, out, progress=lambda done, _: done < 2000),
        )
    assert cancelled.value.done == 2000
    assert os.listdir(target.parent) == []  # neither the report nor a temporary file

    # An earlier report of that name stays as it was.
    target.write_bytes(b"old report\r\n")
    with pytest.raises(ExportCancelled):
        write_export(
            str(target), lambda out: export_metrics(reader, q, out, progress=lambda *_: False)
        )
    assert target.read_bytes() == b"old report\r\n"
    assert os.listdir(target.parent) == ["metrics.csv"]
    reader.close()


def test_write_export_writes_utf8_crlf_privately(reader: HistoryReader, tmp_path: Path) -> None:
    target = tmp_path / "members.csv"
    n = write_export(str(target), lambda out: export_members(reader, out))
    assert n == 2
    data = target.read_bytes()
    assert data.startswith(b"cluster,cluster_name,member_id,") and data.count(b"\r\n") == 3
    assert b"\r\r\n" not in data and not data.startswith(b"\xef\xbb\xbf")
    assert target.stat().st_mode & 0o777 == 0o600
    data.decode("utf-8")


def test_write_export_failure_leaves_no_file(tmp_path: Path) -> None:
    def broken(out: TextIO) -> int:
        out.write("half a row")
        raise RuntimeError("the history went away")

    with pytest.raises(RuntimeError):
        write_export(str(tmp_path / "r.csv"), broken)
    assert os.listdir(tmp_path) == []


def test_output_path_checked(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is a directory"):
        check_output_path(str(tmp_path), "--csv")
    with pytest.raises(ConfigError, match="does not exist"):
        check_output_path(str(tmp_path / "missing" / "r.csv"), "--csv")
    with pytest.raises(ConfigError, match="empty"):
        check_output_path(" ", "--csv")
    assert check_output_path(str(tmp_path / "r.csv"), "--csv") == tmp_path / "r.csv"
