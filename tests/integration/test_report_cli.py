"""`etcdmon report` as a script would run it: a real subprocess on a prepared history
file (no etcd needed). Config and data dirs are the test's own (tests/conftest.py)."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from etcdmon_gui import cli
from etcdmon_gui.cli import report
from etcdmon_gui.connection_args import UsageError
from etcdmon_gui.model.history import ClusterRecord, HistoryError
from etcdmon_gui.store.files import data_dir
from tests.history_data import CLUSTER_ID, KEY, M1, M1_NAME, Filled, fill

HEADER = (
    b"time_utc,cluster,cluster_name,member_id,member_name,"
    b"up,db_size_bytes,wal_fsync_p99_ms,verdict,members\r\n"
)


def etcdmon(*args: str) -> tuple[int, bytes, str]:
    """Exit code, standard output as bytes (CRLF kept), standard error as text."""
    done = subprocess.run(
        [sys.executable, "-m", "etcdmon_gui.cli", *args],
        capture_output=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        env=dict(os.environ),
    )
    return done.returncode, done.stdout, done.stderr.decode("utf-8")


def rows(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))


@pytest.fixture
def history(tmp_path: Path) -> Filled:
    # An hour ago, on a whole second: inside the default range (-24h .. now).
    return fill(tmp_path / "history.sqlite3", float(int(time.time()) - 3600))


def test_metrics_to_stdout_by_name_id_or_key(history: Filled) -> None:
    outputs = []
    for cluster in ("prod", CLUSTER_ID, CLUSTER_ID.upper(), KEY):
        code, out, err = etcdmon(
            "report", "metrics", "--cluster", cluster, "--csv", "-", "--history", str(history.path)
        )
        assert code == 0, err
        outputs.append(out)
    out = outputs[0]
    assert all(o == out for o in outputs)
    assert out.startswith(HEADER) and out.count(b"\r\n") == 5
    assert b'"db, ""east""",1,1048576,2.5,,\r\n' in out
    table = rows(out)
    assert [(r[3], r[4]) for r in table[1:]] == [
        ("", "(cluster)"),
        (M1, M1_NAME),
        ("91bc3c398fb3c146", "db-west"),
        (M1, M1_NAME),
    ]
    assert all(r[0].endswith(".000Z") or r[0].endswith(".500Z") for r in table[1:])


def test_metrics_to_a_file_by_profile(history: Filled, tmp_path: Path) -> None:
    # A profile with a user: its password would be in the secret store, which a report
    # never opens (there is none here).
    profiles = tmp_path / "profiles.yaml"
    profiles.write_text(
        yaml.safe_dump(
            {
                "schema_version": 1,
                "profiles": [
                    {
                        "id": KEY.removeprefix("profile:"),
                        "name": "production",
                        "endpoints": ["10.0.0.1:2379"],
                        "username": "root",
                    }
                ],
            }
        )
    )
    target = tmp_path / "out.csv"
    code, out, err = etcdmon(
        "report",
        "metrics",
        "--profile",
        "production",
        "--profiles-file",
        str(profiles),
        "--from",
        "-2h",
        "--to",
        "now",
        "--step",
        "1m",
        "--aggregate",
        "max",
        "--signal",
        "db_size_bytes,up",
        "--member",
        M1_NAME,
        "--csv",
        str(target),
        "--history",
        str(history.path),
    )
    assert code == 0, err
    assert out == b"" and f"wrote 1 rows to {target}" in err
    minute = time.strftime("%Y-%m-%dT%H:%M:00.000Z", time.gmtime(history.t0))
    assert target.read_bytes() == (
        b"time_utc,cluster,cluster_name,member_id,member_name,up,db_size_bytes\r\n"
        + f'{minute},{KEY},prod,{M1},"db, ""east""",1,3145728\r\n'.encode()
    )
    assert target.stat().st_mode & 0o777 == 0o600


def test_other_reports_from_the_default_history(history: Filled, tmp_path: Path) -> None:
    default = data_dir() / "history.sqlite3"
    default.parent.mkdir(parents=True, exist_ok=True)
    default.write_bytes(history.path.read_bytes())
    code, out, err = etcdmon("report", "alerts", "--csv", "-")
    assert code == 0, err
    assert [r[1] for r in rows(out)[1:]] == ["firing", "firing", "resolved"]
    code, out, err = etcdmon("report", "members", "--cluster", "prod", "--csv", "-")
    assert code == 0, err
    assert [r[3] for r in rows(out)[1:]] == [M1_NAME, "db-west"]
    code, out, err = etcdmon("report", "benchmarks", "--csv", str(tmp_path / "b.csv"))
    assert code == 0, err
    table = rows((tmp_path / "b.csv").read_bytes())
    assert [r[5] for r in table[1:]] == ["", "PASS"] and "password" not in table[0]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["metrics", "--cluster", "prod", "--from", "yesterday"], "--from 'yesterday': give an"),
        (["metrics", "--cluster", "prod", "--from", "-1h", "--to", "-2h"], "is not before"),
        (["metrics", "--cluster", "staging"], "no such cluster in the history; known clusters:"),
        (["metrics"], "the metrics report is of one cluster"),
        (["metrics", "--cluster", "prod", "--signal", "db_size"], "did you mean db_size_bytes"),
        (["metrics", "--cluster", "prod", "--member", "db-north"], "known members:"),
        (["metrics", "--cluster", "prod", "--step", "soon"], "--step must be a duration"),
        (["alerts", "--step", "1m"], "--step does not apply to the alerts report"),
    ],
)
def test_usage_errors(history: Filled, args: list[str], says: str) -> None:
    code, out, err = etcdmon("report", *args, "--csv", "-", "--history", str(history.path))
    assert code == 2 and out == b""
    assert err.startswith("etcdmon: ") and says in err and "Traceback" not in err
    if "known clusters" in says:
        assert f"'prod' (key {KEY}, cluster id {CLUSTER_ID})" in err


def test_unusable_history_files(tmp_path: Path) -> None:
    damaged = tmp_path / "history.sqlite3"
    damaged.write_bytes(b"this is not a database, it only has the name of one " * 100)
    target = tmp_path / "r.csv"
    code, _, err = etcdmon("report", "alerts", "--csv", str(target), "--history", str(damaged))
    assert code == 2 and "Traceback" not in err
    assert f"the history file {damaged} is damaged" in err and "Move it away" in err
    assert not target.exists()
    assert damaged.read_bytes().startswith(b"this is not a database")  # left as it was

    code, _, err = etcdmon("report", "alerts", "--csv", "-", "--history", str(tmp_path / "no"))
    assert code == 2 and f"no history file at {tmp_path / 'no'}" in err
    assert not (tmp_path / "no").exists()  # a report creates no history


def test_output_path_checked_first(history: Filled, tmp_path: Path) -> None:
    code, _, err = etcdmon(
        "report",
        "members",
        "--csv",
        str(tmp_path / "nowhere" / "r.csv"),
        "--history",
        str(history.path),
    )
    assert code == 2 and "--csv: the directory" in err and "does not exist" in err


def test_history_error_is_a_usage_error() -> None:
    assert cli.exit_code(HistoryError("the history file h is locked")) == 2


def test_times_and_cluster_names() -> None:
    now = datetime(2026, 12, 3, 12, 0, tzinfo=UTC).timestamp()
    assert report.parse_when("now", now, "--to") == now
    assert report.parse_when("-24h", now, "--from") == now - 86_400
    assert report.parse_when("now-7d", now, "--from") == now - 7 * 86_400
    day = datetime(2026, 12, 1, tzinfo=UTC).timestamp()
    assert report.parse_when("2026-12-01", now, "--from") == day
    assert report.parse_when("2026-12-01T10:00", now, "--from") == day + 36_000
    assert report.parse_when("2026-12-01T10:00:00Z", now, "--from") == day + 36_000
    assert report.parse_when("2026-12-01T12:00+02:00", now, "--from") == day + 36_000
    for bad in ("", "yesterday", "-", "-soon", "2026-13-01"):
        with pytest.raises(UsageError, match="--from"):
            report.parse_when(bad, now, "--from")

    one = ClusterRecord("profile:a", "prod", "cdf818194e3a8c32", 0.0, 1.0)
    same_id = ClusterRecord("http://10.0.0.1:2379", "10.0.0.1", "cdf818194e3a8c32", 0.0, 1.0)
    other = ClusterRecord("profile:b", "staging", None, 0.0, 1.0)
    known = [one, other]
    assert report.resolve_cluster(known, "profile:b") is other
    assert report.resolve_cluster(known, "prod") is one
    assert report.resolve_cluster(known, "0xCDF818194E3A8C32") is one
    with pytest.raises(UsageError, match="matches 2 clusters"):
        report.resolve_cluster([one, same_id], "cdf818194e3a8c32")
    assert report.resolve_cluster([one, same_id], "http://10.0.0.1:2379") is same_id
    with pytest.raises(UsageError, match="no cluster yet"):
        report.resolve_cluster([], "prod")
