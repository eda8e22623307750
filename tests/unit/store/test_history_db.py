"""The history file itself: a new file's schema, the upgrade of an alert history from
schema 2 with everything in it kept, and what a newer, corrupt, locked or read-only file
does: a clear ``HistoryError``, history off, the file left exactly as it was."""

from __future__ import annotations

import ctypes
import dataclasses
import hashlib
import json
import math
import os
import random
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from etcdmon_gui.model.alerts import Alert, AlertState, EventKind, Severity, Silence
from etcdmon_gui.model.history import HistoryError, MetricsQuery, Sample
from etcdmon_gui.store.history import SCHEMA_VERSION, AlertHistory, DeliveryQueueStore, metrics
from etcdmon_gui.store.history import db as hdb
from etcdmon_gui.store.history.reader import HistoryReader
from etcdmon_gui.store.history.writer import HistoryWriter
from tests.builders import member, snap

ROOT = Path(__file__).resolve().parents[3]
T0 = 1_699_999_200.0


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def tables(db: sqlite3.Connection) -> set[str]:
    return {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def test_a_new_file_has_the_current_schema(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "h.sqlite3"  # its folder is made too
    db = hdb.connect(path)
    assert db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert db.execute("PRAGMA auto_vacuum").fetchone() == (2,)  # incremental
    assert {
        "alert_events",
        "alert_states",
        "silences",
        "delivery_queue",
        "clusters",
        "series",
        "samples",
        "rollup_1m",
        "rollup_1h",
        "rollup_done",
        "members",
        "member_events",
        "bench_runs",
        "ops_log",
    } <= tables(db)
    db.close()
    again = hdb.connect(path)  # opening again changes nothing
    assert again.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    again.close()


# -- the upgrade from schema 2 -------------------------------------------------------------

# The alert history's DDL at schema 2, as etcdmon-gui wrote it before the metrics history
# (etcdmon_gui/store/history.py then): kept here verbatim so the upgrade is tested against
# the files users have, whatever the code becomes.
V2_DDL = (
    "CREATE TABLE IF NOT EXISTS alert_events ("
    " id INTEGER PRIMARY KEY, at REAL NOT NULL, kind TEXT NOT NULL,"
    " fingerprint TEXT NOT NULL, cluster TEXT NOT NULL, rule TEXT NOT NULL,"
    " severity TEXT NOT NULL, alert TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS alert_events_fp ON alert_events (fingerprint, at)",
    "CREATE TABLE IF NOT EXISTS alert_states ("
    " fingerprint TEXT PRIMARY KEY, cluster TEXT NOT NULL, rule TEXT NOT NULL,"
    " state TEXT NOT NULL, updated_at REAL NOT NULL, alert TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS silences ("
    " id TEXT PRIMARY KEY, rule TEXT, cluster TEXT, member TEXT,"
    " starts REAL NOT NULL, ends REAL NOT NULL, reason TEXT NOT NULL,"
    " created_at REAL NOT NULL, cluster_name TEXT)",
    "CREATE TABLE IF NOT EXISTS delivery_queue ("
    " seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, owner TEXT NOT NULL,"
    " channel_id TEXT NOT NULL, fingerprint TEXT NOT NULL, kind TEXT NOT NULL,"
    " at REAL NOT NULL, alert TEXT NOT NULL, created_at REAL NOT NULL,"
    " attempts INTEGER NOT NULL, next_attempt_at REAL NOT NULL, error TEXT)",
    "CREATE INDEX IF NOT EXISTS delivery_queue_owner ON delivery_queue (owner, seq)",
)


def v2_alert_json(alert: Alert) -> str:
    """An alert as schema 2 stored it."""
    doc = dataclasses.asdict(alert)
    doc["severity"] = alert.severity.name
    doc["state"] = alert.state.value
    if doc["silenced_until"] == math.inf:
        doc["silenced_until"] = "inf"
    return json.dumps(doc)


def alert(fp: str, state: AlertState, at: float, **kw: object) -> Alert:
    fields: dict[str, object] = {
        "fingerprint": fp,
        "rule": "down",
        "severity": Severity.WARNING,
        "cluster": "c1",
        "cluster_name": "prod",
        "member": "m2",
        "state": state,
        "value": 1.0,
        "summary": "m2 down",
        "since": at,
        "labels": {"alertname": "down"},
    }
    fields.update(kw)
    return Alert(**fields)  # type: ignore[arg-type]


def write_v2_file(path: Path) -> dict[str, list[tuple[object, ...]]]:
    """A schema 2 alert history with events, states, silences and queued deliveries, in
    WAL mode as schema 2 kept it; returns every row of every table."""
    mute = Silence("s1", "down", "c1", None, T0, T0 + 3600, "maintenance", T0 - 5, "prod")
    fp1_firing = alert("fp1", AlertState.FIRING, T0, silenced_until=math.inf, acknowledged=True)
    fp1_resolved = alert("fp1", AlertState.RESOLVED, T0 + 60, resolved_at=T0 + 60)
    fp2_firing = alert(
        "fp2", AlertState.FIRING, T0 + 30, severity=Severity.CRITICAL, silenced_by=mute
    )
    events = [
        (T0, EventKind.FIRING, fp1_firing),
        (T0 + 30, EventKind.FIRING, fp2_firing),
        (T0 + 60, EventKind.RESOLVED, fp1_resolved),
    ]
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("BEGIN IMMEDIATE")
    for sql in V2_DDL:
        db.execute(sql)
    db.executemany(
        "INSERT INTO alert_events (at, kind, fingerprint, cluster, rule, severity, alert)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            (at, k.value, a.fingerprint, a.cluster, a.rule, a.severity.name, v2_alert_json(a))
            for at, k, a in events
        ],
    )
    db.executemany(
        "INSERT INTO alert_states (fingerprint, cluster, rule, state, updated_at, alert)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        [
            (a.fingerprint, a.cluster, a.rule, a.state.value, at, v2_alert_json(a))
            for at, a in ((T0 + 60, fp1_resolved), (T0 + 30, fp2_firing))
        ],
    )
    db.executemany(
        "INSERT INTO silences (id, rule, cluster, member, starts, ends, reason, created_at,"
        " cluster_name) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            dataclasses.astuple(mute),
            ("s2", None, None, "m3", T0 - 900, T0 - 600, "old", T0 - 1000, None),
        ],
    )
    db.executemany(
        "INSERT INTO delivery_queue (id, owner, channel_id, fingerprint, kind, at, alert,"
        " created_at, attempts, next_attempt_at, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            ("q1", "app", "slack", "fp1", "firing", T0, v2_alert_json(fp1_firing), T0, 2, T0 + 40,
             "HTTP 503"),
            ("q2", "watch:c1", "hook", "fp2", "firing", T0 + 30, v2_alert_json(fp2_firing),
             T0 + 30, 0, T0 + 30, None),
            ("q3", "app", "hook", "fp1", "resolved", T0 + 60, v2_alert_json(fp1_resolved),
             T0 + 60, 0, T0 + 60, None),
        ],
    )  # fmt: skip
    db.execute("PRAGMA user_version = 2")
    db.commit()
    rows = {
        table: db.execute(f"SELECT * FROM {table} ORDER BY rowid").fetchall()
        for table in ("alert_events", "alert_states", "silences", "delivery_queue")
    }
    db.close()
    return rows


def test_an_alert_history_of_schema_2_is_upgraded_with_everything_kept(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    before = write_v2_file(path)
    old = sqlite3.connect(path)
    assert old.execute("PRAGMA auto_vacuum").fetchone() == (0,)
    old.close()

    history = AlertHistory(path, clock=lambda: T0 + 100)
    events = history.events()
    assert [(e.kind, e.at, e.alert.fingerprint) for e in events] == [
        (EventKind.RESOLVED, T0 + 60, "fp1"),
        (EventKind.FIRING, T0 + 30, "fp2"),
        (EventKind.FIRING, T0, "fp1"),
    ]
    assert events[2].alert.silenced_until == math.inf and events[2].alert.acknowledged
    assert events[1].alert.silenced_by is not None and events[1].alert.silenced_by.id == "s1"
    states = {a.fingerprint: a for a in history.last_states(since_s=1e6)}
    assert {fp: a.state for fp, a in states.items()} == {
        "fp1": AlertState.RESOLVED,
        "fp2": AlertState.FIRING,
    }
    assert states["fp2"].severity is Severity.CRITICAL
    assert [s.id for s in history.silences()] == ["s1", "s2"]
    assert history.silences()[0] == Silence(
        "s1", "down", "c1", None, T0, T0 + 3600, "maintenance", T0 - 5, "prod"
    )
    history.close()

    app = DeliveryQueueStore(path, owner="app")
    pending = app.pending()
    assert [(p.queue_id, p.channel_id, p.attempts, p.error) for p in pending] == [
        ("q1", "slack", 2, "HTTP 503"),
        ("q3", "hook", 0, None),
    ]
    assert pending[0].event.kind is EventKind.FIRING and pending[0].next_attempt_at == T0 + 40
    app.close()
    watch = DeliveryQueueStore(path, owner="watch:c1")
    assert [p.queue_id for p in watch.pending()] == ["q2"]
    watch.close()

    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    assert db.execute("PRAGMA auto_vacuum").fetchone() == (2,)  # vacuumed once into it
    assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    for table, rows in before.items():  # every row as it was, byte for byte
        assert db.execute(f"SELECT * FROM {table} ORDER BY rowid").fetchall() == rows, table
    assert {"series", "samples", "rollup_1m", "rollup_1h", "members", "bench_runs"} <= tables(db)
    indexes = {n for (n,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert {"alert_events_fp", "alert_events_at", "delivery_queue_owner"} <= indexes
    db.close()

    # The upgraded file takes metrics, and opening it again upgrades nothing twice.
    conn = hdb.connect(path)
    with conn:
        metrics.write_samples(conn, metrics.SeriesIds(), "c1", T0, [Sample("a", "x", 1.0)])
    assert conn.execute("SELECT count(*) FROM raw_samples").fetchone() == (1,)
    assert conn.execute("SELECT count(*) FROM alert_events").fetchone() == (3,)
    conn.close()


def test_an_empty_alert_history_of_schema_0_is_upgraded(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite3"
    db = sqlite3.connect(path)
    db.execute(V2_DDL[0])
    a = alert("fp1", AlertState.FIRING, T0)
    db.execute(
        "INSERT INTO alert_events (at, kind, fingerprint, cluster, rule, severity, alert)"
        " VALUES (?, 'firing', 'fp1', 'c1', 'down', 'WARNING', ?)",
        (T0, v2_alert_json(a)),
    )
    db.commit()
    db.close()
    history = AlertHistory(path, clock=lambda: T0)
    assert [s.fingerprint for s in history.last_states(since_s=1e6)] == ["fp1"]  # filled
    history.close()
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)


def test_a_file_from_a_newer_version_is_refused_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite3"
    db = hdb.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    before = digest(path)
    with pytest.raises(HistoryError, match="newer etcdmon-gui") as caught:
        hdb.connect(path)
    assert str(path) in str(caught.value) and caught.value.path == str(path)
    assert digest(path) == before


# -- corrupt ---------------------------------------------------------------------------------


def a_real_history(path: Path) -> None:
    db = hdb.connect(path)
    ids = metrics.SeriesIds()
    with db:
        for i in range(3000):
            samples = [Sample(f"m{k}", f"s{j}", float(i)) for k in range(3) for j in range(10)]
            metrics.write_samples(db, ids, "c1", T0 + i, samples)
    db.close()


def corrupt_files(tmp_path: Path) -> list[Path]:
    noise = tmp_path / "noise.sqlite3"
    noise.write_bytes(random.Random(7).randbytes(256 * 1024))
    real = tmp_path / "real.sqlite3"
    a_real_history(real)
    truncated = tmp_path / "truncated.sqlite3"
    data = real.read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    return [noise, truncated]


def assert_damaged(message: str, path: Path) -> None:
    assert str(path) in message
    assert "damaged" in message
    assert "left as it is" in message  # kept, never deleted
    assert "Move it away" in message  # what to do


def test_a_corrupt_file_is_named_damaged_and_kept(tmp_path: Path) -> None:
    for path in corrupt_files(tmp_path):
        before = digest(path)
        with pytest.raises(HistoryError) as caught:
            hdb.connect(path)
        assert_damaged(str(caught.value), path)
        with pytest.raises(HistoryError) as caught:
            HistoryReader(path)
        assert_damaged(str(caught.value), path)

        problems: list[str] = []
        writer = HistoryWriter(path, problems=problems.append).start()
        error = writer.wait_ready()
        assert error is not None
        assert_damaged(str(error), path)
        writer.add_snapshot(snap(T0, [member(1)]), "prod")
        assert not writer.flush(timeout=1)
        writer.close()
        assert problems == [str(error)]
        assert digest(path) == before, path.name  # not a byte changed


def test_a_file_damaged_inside_is_named_when_the_damage_is_reached(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite3"
    a_real_history(path)  # samples from T0 to T0 + 3000, not rolled up yet
    data = bytearray(path.read_bytes())
    page = 4096
    middle = len(data) // page // 2 * page
    data[middle : middle + 8 * page] = random.Random(3).randbytes(8 * page)
    path.write_bytes(bytes(data))
    before = digest(path)

    # The header is sound, so the file opens; the first read of the samples fails.
    reader = HistoryReader(path, clock=lambda: T0 + 3000)
    with pytest.raises(HistoryError) as caught:
        reader.series(MetricsQuery("c1", T0, T0 + 3000))
    reader.close()
    assert_damaged(str(caught.value), path)

    # The writer's roll-up reads them too: history off, said once.
    problems: list[str] = []
    writer = HistoryWriter(
        path, problems=problems.append, clock=lambda: T0 + 7200, maintain_every_s=0.05
    ).start()
    deadline = time.monotonic() + 20
    while writer.error is None and time.monotonic() < deadline:
        time.sleep(0.02)
    writer.add_snapshot(snap(T0 + 3001, [member(1)]), "prod")
    assert not writer.flush(timeout=1)
    writer.close()
    assert writer.error is not None and problems == [str(writer.error)]
    assert_damaged(problems[0], path)
    assert digest(path) == before


# -- locked ----------------------------------------------------------------------------------


def test_a_locked_file_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hdb, "BUSY_TIMEOUT_S", 0.2)
    path = tmp_path / "h.sqlite3"
    hdb.connect(path).close()
    locker = sqlite3.connect(path, isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(HistoryError, match="is locked by another program") as caught:
            hdb.connect(path)
        assert str(path) in str(caught.value)
        problems: list[str] = []
        writer = HistoryWriter(path, problems=problems.append).start()
        error = writer.wait_ready()
        writer.close()
        assert error is not None and "locked" in str(error) and problems == [str(error)]
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    hdb.connect(path).close()  # free again: usable again


# -- read-only -------------------------------------------------------------------------------

# Runs a HistoryWriter on argv[1] in a process of its own and prints what happened.
WRITER = """
import json, sys
from pathlib import Path
from etcdmon_gui.store.history.writer import HistoryWriter
from tests.builders import member, snap

problems = []
writer = HistoryWriter(Path(sys.argv[1]), problems=problems.append).start()
ready = writer.wait_ready()
writer.add_snapshot(snap(1_699_999_200.0, [member(1)]), "prod")
flushed = writer.flush(timeout=10)
writer.close()
print(json.dumps({"ready": None if ready is None else str(ready), "flushed": flushed,
                  "error": None if writer.error is None else str(writer.error),
                  "problems": problems}))
"""

_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH, _CAP_FOWNER, _PR_CAPBSET_DROP = 1, 2, 3, 24


def _without_root_powers() -> None:
    """In the child, before exec: drop the capabilities that let root write whatever
    its mode bits say (root keeps its uid, so it still reads its own files). A process
    that execs without them in its bounding set does not get them back."""
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH, _CAP_FOWNER):
        if libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def run_writer(path: Path) -> dict[str, object]:
    """A HistoryWriter on ``path`` in a subprocess that mode bits bind: as root (CI runs
    tests as root, and chmod does not stop root), one without the capabilities that
    override them."""
    as_root = os.geteuid() == 0
    done = subprocess.run(
        [sys.executable, "-c", WRITER, str(path)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=_without_root_powers if as_root else None,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout.splitlines()[-1])
    return result


def test_mode_bits_bind_the_writer_subprocess(tmp_path: Path) -> None:
    """The premise of the read-only tests: the subprocess cannot write a 0444 file."""
    probe = tmp_path / "probe"
    probe.write_text("x")
    probe.chmod(0o444)
    done = subprocess.run(
        [sys.executable, "-c", "import sys; open(sys.argv[1], 'w')", str(probe)],
        capture_output=True,
        text=True,
        preexec_fn=_without_root_powers if os.geteuid() == 0 else None,
        check=False,
    )
    assert done.returncode != 0 and "PermissionError" in done.stderr
    probe.chmod(0o644)


def assert_read_only(result: dict[str, object], path: Path) -> None:
    assert result["flushed"] is False
    error = result["error"]
    assert isinstance(error, str) and str(path) in error
    assert "read-only" in error and "writable" in error
    assert result["problems"] == [error]  # said once
    assert result["ready"] == error  # said when the file is opened, before any write


def test_a_read_only_file_says_so_and_is_kept(tmp_path: Path) -> None:
    folder = tmp_path / "rw"
    folder.mkdir()
    path = folder / "h.sqlite3"
    a_real_history(path)
    path.chmod(0o444)
    before = digest(path)
    try:
        assert_read_only(run_writer(path), path)
    finally:
        path.chmod(0o644)
    assert digest(path) == before


def test_a_file_in_a_read_only_folder_says_so_and_is_kept(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    path = folder / "h.sqlite3"
    a_real_history(path)
    before = digest(path)
    folder.chmod(0o555)
    try:
        assert_read_only(run_writer(path), path)
        # A new file in a read-only folder cannot even be made.
        fresh = folder / "new.sqlite3"
        result = run_writer(fresh)
        error = result["ready"]
        assert isinstance(error, str) and "cannot be opened" in error and "writable" in error
        assert result["problems"] == [error]
        assert not fresh.exists()
    finally:
        folder.chmod(0o755)
    assert digest(path) == before
