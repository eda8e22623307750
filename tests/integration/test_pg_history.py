"""The PostgreSQL history against a real PostgreSQL (a throwaway cluster, one for the
module): a real etcd's snapshots written by ``PgHistoryWriter`` and read back by
``PgHistoryReader`` with the same answers as the SQLite store's for the same data;
roll-ups and retention by dropping day partitions (time driven by the writers' clock);
two writers in two processes at once; the read-only viewer; the errors people meet
(wrong password, nothing listening, no database, no permission, a newer schema) with
no password in any text; the alert history a server's ``AlertService`` keeps."""

from __future__ import annotations

import itertools
import logging
import math
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import psycopg
import pytest

from etcdmon_gui.etcd.sandbox import Sandbox
from etcdmon_gui.model.alerts import Alert, AlertEvent, AlertState, EventKind, Severity, Silence
from etcdmon_gui.model.history import (
    AlertQuery,
    BenchRunRecord,
    HistoryError,
    MetricsQuery,
    Resolution,
    Series,
)
from etcdmon_gui.model.postgres import PgSettings
from etcdmon_gui.model.snapshot import ClusterSnapshot
from etcdmon_gui.services.alerting import AlertService
from etcdmon_gui.store.history import AlertHistory
from etcdmon_gui.store.history.postgres import (
    PgAlertHistory,
    PgHistoryReader,
    PgHistoryWriter,
    metrics,
    open_server_history,
)
from etcdmon_gui.store.history.postgres.connect import connect as pg_connect
from etcdmon_gui.store.history.reader import HistoryBackend, HistoryReader
from etcdmon_gui.store.history.writer import HistoryWriter
from tests.builders import Clock, chart_member, chart_snapshot
from tests.pg_support import PgServer, postgres_server
from tests.support import find_binary, monitor_for

ROOT = Path(__file__).resolve().parents[2]
DAY = 86_400.0
T0 = 1_704_067_200.0 + 600  # 2024-01-01T00:10:00Z
ROLE_PASSWORD = "s3cret-Pa55-for-etcdmon"
_names = itertools.count()


@pytest.fixture(scope="module")
def pg() -> Iterator[PgServer]:
    yield from postgres_server()


@pytest.fixture(scope="module")
def role(pg: PgServer) -> str:
    pg.create_role("etcdmon", ROLE_PASSWORD)
    return "etcdmon"


def new_db(pg: PgServer, owner: str = "postgres") -> PgSettings:
    return pg.create_database(f"h{next(_names)}", owner)


def until(check: Callable[[], object], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def partitions(pg: PgServer, settings: PgSettings) -> set[str]:
    with pg.admin(settings.dbname) as conn:
        rows = conn.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
        ).fetchall()
    return {r[0] for r in rows}


def watermark(pg: PgServer, settings: PgSettings, step_s: int) -> int:
    with pg.admin(settings.dbname) as conn:
        row = conn.execute(
            "SELECT until_ms FROM rollup_done WHERE step_s = %s", (step_s,)
        ).fetchone()
    return -1 if row is None else int(row[0])  # type: ignore[call-overload]


def sqlite_watermark(path: Path, step_s: int) -> int:
    import sqlite3

    db = sqlite3.connect(path)
    try:
        row = db.execute("SELECT until_ms FROM rollup_done WHERE step_s = ?", (step_s,)).fetchone()
    finally:
        db.close()
    return -1 if row is None else int(row[0])


def same_series(a: list[Series], b: list[Series]) -> None:
    assert [(s.member, s.signal, s.resolution, s.step_s) for s in a] == [
        (s.member, s.signal, s.resolution, s.step_s) for s in b
    ]
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x.ts, y.ts)
        for col in ("min", "avg", "max", "last"):
            np.testing.assert_allclose(getattr(x, col), getattr(y, col), rtol=1e-12)


def close_to(a: object, b: object) -> bool:
    """Equal, floats to 12 digits (SQLite and PostgreSQL sum in their own order)."""
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-12)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(close_to(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def same_answers(pg_reader: HistoryBackend, lite: HistoryBackend, key: str, start: float) -> None:
    """Every question of ``HistoryBackend`` gets the same answer from both stores."""
    end = start + 3600
    assert pg_reader.clusters() == lite.clusters()
    assert pg_reader.members(key) == lite.members(key)
    assert pg_reader.member_events(key) == lite.member_events(key)
    assert pg_reader.bench_runs(key) == lite.bench_runs(key)
    assert pg_reader.alert_events(AlertQuery()) == lite.alert_events(AlertQuery())
    for q, width in (
        (MetricsQuery(key, start, end), None),
        (MetricsQuery(key, start, end, signals=("up", "db_size_bytes")), 10),
        (MetricsQuery(key, start, end, step_s=3600), None),
        (MetricsQuery(key, start, end, members=("",), step_s=120), None),
    ):
        same_series(pg_reader.series(q, width), lite.series(q, width))
        assert pg_reader.count_points(q) == lite.count_points(q)
        assert close_to(list(pg_reader.points(q)), list(lite.points(q)))
    assert close_to(pg_reader.db_size_points(key, start), lite.db_size_points(key, start))


# -- a real cluster -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def etcd_snapshots() -> list[ClusterSnapshot]:
    """Three sweeps of a real one-member etcd 3.5."""
    with Sandbox(1, binary=find_binary("3.5")) as sandbox:
        monitor, probe = monitor_for(sandbox.endpoints)
        try:
            return [monitor.sweep() for _ in range(3)]
        finally:
            probe.close()


def test_a_real_clusters_history_reads_back_as_from_sqlite(
    pg: PgServer, role: str, etcd_snapshots: list[ClusterSnapshot], tmp_path: Path
) -> None:
    settings = new_db(pg, owner=role)
    problems: list[str] = []
    writer = PgHistoryWriter(settings, ROLE_PASSWORD, problems=problems.append, batch_s=0.05)
    lite = HistoryWriter(tmp_path / "h.sqlite3", batch_s=0.05)
    for w in (writer.start(), lite.start()):
        assert w.wait_ready() is None
    key = etcd_snapshots[0].key
    run = BenchRunRecord(0, key, "sandbox", time.time(), "a", "put", 1000.0, 0.5, 2.0, 0, None)
    for snap in etcd_snapshots:
        writer.add_snapshot(snap, "sandbox")
        lite.add_snapshot(snap, "sandbox")
    writer.add_bench_run(replace(run, summary={"clients": 10}))
    lite.add_bench_run(replace(run, summary={"clients": 10}))
    assert writer.flush() and lite.flush()
    writer.close()
    lite.close()
    assert problems == [] and writer.error is None

    reader = PgHistoryReader(settings, ROLE_PASSWORD, read_only=True)
    sqlite = HistoryReader(tmp_path / "h.sqlite3")
    try:
        (cluster,) = reader.clusters()
        assert cluster.key == key and cluster.name == "sandbox"
        (member,) = reader.members(key)
        assert member.version is not None and member.version.startswith("3.5.")
        series = reader.series(MetricsQuery(key, etcd_snapshots[0].taken_at - 1, time.time()))
        by_signal = {s.signal: s for s in series if s.member == member.member}
        assert by_signal["up"].avg.tolist() == [1.0, 1.0, 1.0]
        assert by_signal["db_size_bytes"].resolution is Resolution.RAW
        same_answers(reader, sqlite, key, etcd_snapshots[0].taken_at - 1)
    finally:
        reader.close()
        sqlite.close()


# -- roll-ups and retention -------------------------------------------------------------------


def test_rollups_and_retention_by_dropping_day_partitions(pg: PgServer, tmp_path: Path) -> None:
    settings = new_db(pg)
    clock = Clock()
    clock.t = T0
    kw = {"clock": clock, "batch_s": 0.05, "maintain_every_s": 0.05}
    writer = PgHistoryWriter(settings, pg.password, **kw).start()  # type: ignore[arg-type]
    lite_path = tmp_path / "h.sqlite3"
    lite = HistoryWriter(lite_path, **kw).start()  # type: ignore[arg-type]
    assert writer.wait_ready() is None and lite.wait_ready() is None
    day = "20240101"
    assert {f"samples_p{day}", "samples_p20240102", "rollup_1h_p20240103"} <= partitions(
        pg, settings
    )
    for i in range(240):  # 4 minutes, a sweep a second, one member down for a while
        members = [chart_member(0, 1 + i % 7), chart_member(1, 2, reachable=not 60 <= i < 90)]
        snap = chart_snapshot(T0 + i, members)
        writer.add_snapshot(snap, "a")
        lite.add_snapshot(snap, "a")
    assert writer.flush() and lite.flush()

    clock.t = T0 + 2 * 3600  # minutes and the first hour roll up
    hour_ms = round((T0 + 3000) // 3600 * 3600 * 1000) + 3_600_000
    until(lambda: watermark(pg, settings, 3600) >= hour_ms)
    until(lambda: sqlite_watermark(lite_path, 3600) >= hour_ms)
    pg_reader = PgHistoryReader(settings, pg.password, read_only=True, clock=clock)
    sqlite = HistoryReader(lite_path, clock=clock)
    try:
        minutes = pg_reader.series(MetricsQuery("cluster-a", T0, T0 + 3600, signals=("up",)), 60)
        assert {s.resolution for s in minutes} == {Resolution.MINUTE}
        down = next(s for s in minutes if s.member == f"{chart_member(1).id:x}")
        assert down.min.tolist() == [1.0, 0.0, 1.0, 1.0]  # the minute it was down
        same_answers(pg_reader, sqlite, "cluster-a", T0)

        clock.t = T0 + 3 * DAY  # raw samples past 24 h: their day's partition goes
        until(lambda: f"samples_p{day}" not in partitions(pg, settings))
        until(lambda: sqlite.count_points(MetricsQuery("cluster-a", T0, T0 + 300)) < 600)
        assert f"rollup_1m_p{day}" in partitions(pg, settings)
        got = pg_reader.series(MetricsQuery("cluster-a", T0, T0 + 300, signals=("up",)))
        assert {s.resolution for s in got} == {Resolution.MINUTE}
        same_answers(pg_reader, sqlite, "cluster-a", T0)

        clock.t = T0 + 40 * DAY  # minutes past 30 days go too; hours stay a year
        until(lambda: f"rollup_1m_p{day}" not in partitions(pg, settings))
        assert f"rollup_1h_p{day}" in partitions(pg, settings)
        assert "samples_p20240212" in partitions(pg, settings)  # today's, made ahead
        got = pg_reader.series(MetricsQuery("cluster-a", T0 - 600, T0, signals=("up",)))
        assert {s.resolution for s in got} == {Resolution.HOUR}
        assert [len(s) for s in got] == [1, 1]
        same_answers(pg_reader, sqlite, "cluster-a", T0 - 600)
    finally:
        pg_reader.close()
        sqlite.close()
        writer.close()
        lite.close()
    assert writer.error is None


# -- several writers ---------------------------------------------------------------------------

WRITER = """
import sys
from etcdmon_gui.model.postgres import PgSettings
from etcdmon_gui.store.history.postgres import PgHistoryWriter
from tests.builders import chart_snapshot

settings = PgSettings.model_validate_json(sys.argv[1])
own, t0 = sys.argv[2], float(sys.argv[3])
writer = PgHistoryWriter(settings, sys.stdin.readline().strip(), batch_s=0.02).start()
assert writer.wait_ready(30) is None, writer.error
for i in range(30):
    writer.add_snapshot(chart_snapshot(t0 + i, key=own), own)
    writer.add_snapshot(chart_snapshot(t0 + i, key="shared"), "shared")
    if i % 5 == 0:
        assert writer.flush(30), writer.error
assert writer.flush(30), writer.error
writer.close()
"""


def test_two_writer_processes_share_one_database(pg: PgServer) -> None:
    settings = new_db(pg)  # empty: both migrate it at once
    now = time.time()
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, settings.model_dump_json(), f"c{i}", str(now + i / 2)],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        for i in range(2)
    ]
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write(pg.password + "\n")
        proc.stdin.close()
    for proc in procs:
        assert proc.stderr is not None
        try:
            assert proc.wait(timeout=60) == 0, proc.stderr.read()
        finally:
            proc.kill()
            proc.stderr.close()
    reader = PgHistoryReader(settings, pg.password, read_only=True)
    try:
        assert [c.key for c in reader.clusters()] == ["c0", "c1", "shared"]
        for key, n in (("c0", 30), ("c1", 30), ("shared", 60)):
            got = reader.series(MetricsQuery(key, now - 1, now + 60, signals=("up",)))
            assert [len(s) for s in got] == [n, n, n]
    finally:
        reader.close()


# -- the viewer --------------------------------------------------------------------------------


def test_a_read_only_reader_creates_nothing_and_writes_nothing(pg: PgServer) -> None:
    settings = new_db(pg)
    with pytest.raises(HistoryError, match="holds no etcdmon history yet"):
        PgHistoryReader(settings, pg.password, read_only=True)
    with pg.admin(settings.dbname) as conn:
        assert conn.execute(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
        ).fetchone() == (0,)
    PgHistoryReader(settings, pg.password).close()  # a writable one makes the schema
    reader = PgHistoryReader(settings, pg.password, read_only=True)
    try:
        assert reader.clusters() == []
        with (
            reader._pool.connection() as conn,
            pytest.raises(psycopg.errors.ReadOnlySqlTransaction),
        ):
            conn.execute("INSERT INTO clusters VALUES ('k', 'n', NULL, 0, 0)")
    finally:
        reader.close()


# -- what goes wrong ---------------------------------------------------------------------------


def test_failures_say_what_to_do_and_never_the_password(
    pg: PgServer, role: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    settings = new_db(pg, owner=role)
    wrong = settings.model_copy(update={"user": role})
    with pytest.raises(HistoryError) as bad_password:
        PgHistoryReader(wrong, "not-the-Pa55word")
    assert f"refused user {role!r}: authentication failed" in str(bad_password.value)

    problems: list[str] = []
    writer = PgHistoryWriter(wrong, "not-the-Pa55word", problems=problems.append).start()
    assert writer.wait_ready() is not None
    writer.close()
    assert len(problems) == 1 and "authentication failed" in problems[0]
    assert not writer.flush(timeout=1)

    with socket_nobody_listens() as port:
        nowhere = settings.model_copy(update={"port": port})
        with pytest.raises(HistoryError) as unreachable:
            PgHistoryReader(nowhere, ROLE_PASSWORD, connect_timeout_s=2)
    assert f"cannot reach the PostgreSQL server at 127.0.0.1:{port}" in str(unreachable.value)

    missing = settings.model_copy(update={"dbname": "no_such_db"})
    does_not_exist = r"'no_such_db' does not exist .*createdb -O etcdmon no_such_db"
    with pytest.raises(HistoryError, match=does_not_exist):
        PgHistoryReader(missing, ROLE_PASSWORD)

    # A viewer's role may read the team's history, not write it.
    PgHistoryReader(settings, ROLE_PASSWORD).close()
    pg.create_role("viewer", "viewer-Pa55")
    with pg.admin(settings.dbname) as conn:
        conn.execute("GRANT SELECT ON ALL TABLES IN SCHEMA public TO viewer")
    viewer = settings.model_copy(update={"user": "viewer"})
    PgHistoryReader(viewer, "viewer-Pa55", read_only=True).close()
    denied: list[str] = []
    writer = PgHistoryWriter(viewer, "viewer-Pa55", problems=denied.append).start()
    writer.wait_ready()
    writer.close()
    assert len(denied) == 1 and "user 'viewer' lacks a permission" in denied[0]

    with pg.admin(settings.dbname) as conn:
        conn.execute("UPDATE schema_version SET version = 99")
    for read_only in (True, False):
        with pytest.raises(HistoryError, match="newer etcdmon \\(schema 99"):
            PgHistoryReader(settings, ROLE_PASSWORD, read_only=read_only)

    texts = [str(bad_password.value), problems[0], str(unreachable.value), caplog.text]
    assert not any(pw in t for t in texts for pw in ("not-the-Pa55word", ROLE_PASSWORD))


class socket_nobody_listens:
    """A loopback port that nothing listens on, for as long as the block runs."""

    def __enter__(self) -> int:
        import socket

        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))  # bound, never listening: connections refused
        return int(self._sock.getsockname()[1])

    def __exit__(self, *exc: object) -> None:
        self._sock.close()


def test_a_connection_string_with_a_password_is_refused(pg: PgServer) -> None:
    with pytest.raises(HistoryError, match="holds a password"):
        PgHistoryWriter(f"host=127.0.0.1 port={pg.port} password=oops")
    settings = new_db(pg)
    dsn = f"postgresql://postgres@127.0.0.1:{pg.port}/{settings.dbname}?sslmode=disable"
    opened = open_server_history(dsn, password=pg.password)
    try:
        assert opened.where == f"postgres@127.0.0.1:{pg.port}/{settings.dbname}"
        assert opened.writer.wait_ready() is None and opened.alerts is not None
        assert opened.db_sizes("nothing", 0.0) == []
    finally:
        opened.writer.close()
        if opened.alerts is not None:
            opened.alerts.close()


# -- alerts ------------------------------------------------------------------------------------


def alert(state: AlertState, at: float, **kw: object) -> Alert:
    fields: dict[str, object] = {
        "fingerprint": "fp-db",
        "rule": "db_size_high",
        "severity": Severity.WARNING,
        "cluster": "c1",
        "cluster_name": "prod",
        "member": "m1",
        "state": state,
        "value": 1.0,
        "summary": "DB size high",
        "since": at,
        "labels": {"alertname": "db_size_high"},
    }
    fields.update(kw)
    return Alert(**fields)  # type: ignore[arg-type]


def test_the_alert_history_round_trip_matches_sqlites(pg: PgServer, tmp_path: Path) -> None:
    settings = new_db(pg)
    clock = Clock()
    clock.t = T0 + 100
    stores = [
        PgAlertHistory(settings, pg.password, clock=clock),
        AlertHistory(tmp_path / "h.sqlite3", clock=clock),
    ]
    silence = Silence("s1", "quorum_lost", None, None, T0, T0 + 3600, "maintenance", T0, None)
    for store in stores:
        store.record(
            [
                AlertEvent(EventKind.FIRING, alert(AlertState.FIRING, T0, fired_at=T0), T0),
                AlertEvent(
                    EventKind.FIRING,
                    alert(
                        AlertState.FIRING,
                        T0 + 5,
                        fingerprint="fp-q",
                        rule="quorum_lost",
                        member=None,
                        silenced_until=math.inf,
                        silence_reason="known",
                    ),
                    T0 + 5,
                ),
            ]
        )
        store.save_states([alert(AlertState.FIRING, T0, fired_at=T0, acknowledged=True)])
        store.save_silence(silence)
        store.save_silence(replace(silence, ends=T0 + 50))  # expired early: replaced
        store.record([AlertEvent(EventKind.RESOLVED, alert(AlertState.RESOLVED, T0 + 60), T0 + 60)])
    pg_store, lite = stores
    try:
        assert pg_store.events() == lite.events()
        assert pg_store.events(AlertQuery(rule="quorum_lost")) == lite.events(
            AlertQuery(rule="quorum_lost")
        )
        assert pg_store.last_states() == lite.last_states()
        assert [a.fingerprint for a in pg_store.last_states()] == ["fp-q", "fp-db"]
        assert pg_store.last_states()[0].silenced_until == math.inf
        assert pg_store.silences() == lite.silences() == [replace(silence, ends=T0 + 50)]

        service = AlertService(pg_store, clock=clock)  # a server keeps its alerts here
        assert service.restore()
        assert service.silences == [replace(silence, ends=T0 + 50)]

        clock.t = T0 + 40 * DAY
        assert pg_store.prune() == lite.prune() == 3
        assert pg_store.last_states() == lite.last_states()
        assert [a.fingerprint for a in pg_store.last_states()] == ["fp-q"]  # firing: kept
        assert pg_store.silences() == []
    finally:
        for store in stores:
            store.close()


def test_two_batches_re_rolling_one_late_minute_both_count(pg: PgServer) -> None:
    """Two servers flush late samples of the same minute at once: the second re-roll
    waits for the first batch's commit and counts both (in parallel, its upsert would
    overwrite the first with a count missing the other's sample)."""
    settings = new_db(pg)
    clock = Clock()
    clock.t = T0
    writer = PgHistoryWriter(
        settings, pg.password, clock=clock, batch_s=0.02, maintain_every_s=0.05
    )
    writer.start()
    try:
        for i in range(180):
            writer.add_snapshot(chart_snapshot(T0 + i, [chart_member(0, 1)]), "a")
        assert writer.flush()
        clock.t = T0 + 3600  # the minutes roll up past the late minute
        until(lambda: watermark(pg, settings, 60) > round(T0 * 1000) + 120_000)
    finally:
        writer.close()
    with pg.admin(settings.dbname) as admin:
        series = admin.execute("SELECT min(id) FROM series").fetchone()
    assert series is not None
    late_ms = round(T0 * 1000) + 60_500  # in the second minute, long rolled up
    minute = late_ms // 60_000 * 60_000

    def batch(ts: int) -> psycopg.Connection[tuple[object, ...]]:
        conn = pg_connect(settings, pg.password)
        conn.execute("BEGIN")
        metrics.copy_samples(conn, [(series[0], ts, 7.0)])
        return conn

    first = batch(late_ms)
    metrics.reroll_late(first, [late_ms])  # holds the re-roll turn, not committed
    second = batch(late_ms + 1)
    rolled = threading.Thread(target=metrics.reroll_late, args=(second, [late_ms + 1]))
    rolled.start()
    rolled.join(0.5)
    assert rolled.is_alive()  # waits for the first batch's turn
    first.execute("COMMIT")
    rolled.join(10)
    assert not rolled.is_alive()
    second.execute("COMMIT")
    for conn in (first, second):
        conn.close()
    with pg.admin(settings.dbname) as admin:
        row = admin.execute(
            "SELECT n FROM rollup_1m WHERE series = %s AND ts = %s", (series[0], minute)
        ).fetchone()
    assert row is not None
    n = row[0]
    assert n == 60 + 2  # a sample a second, and both late ones
