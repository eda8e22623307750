"""The maintenance audit log: a run's record (``ops.audit.audit_record``) kept in the
history's ``ops_log`` and read back the newest first, and a schema 3 history upgraded
to schema 4 with everything in it kept."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from etcdmon_gui.model.alerts import AlertEvent, AlertState, EventKind, Severity
from etcdmon_gui.model.history import BenchRunRecord, HistoryError, Sample
from etcdmon_gui.model.ops import (
    AuditRecord,
    OpKind,
    OpPlan,
    OpResult,
    PlannedStep,
    StepOutcome,
    StepState,
)
from etcdmon_gui.ops.audit import audit_record
from etcdmon_gui.store.history import SCHEMA_VERSION, AlertHistory, metrics, ops_log
from etcdmon_gui.store.history import db as hdb
from etcdmon_gui.store.history.ops_log import OpsLog
from etcdmon_gui.store.history.reader import HistoryReader
from tests.unit.store.test_history_db import alert, tables

T0 = 1_699_999_200.0


def plan(kind: OpKind = OpKind.DEFRAG, cluster: str = "profile:p1", **kw: object) -> OpPlan:
    fields: dict[str, object] = {
        "kind": kind,
        "cluster": cluster,
        "cluster_name": "prod",
        "summary": "defragment m2, m3, then m1 (leader)",
        "steps": (
            PlannedStep("defragment m2 (follower)", "m2"),
            PlannedStep("defragment m3 (follower)", "m3"),
            PlannedStep("defragment m1 (leader)", "m1"),
        ),
    }
    fields.update(kw)
    return OpPlan(**fields)  # type: ignore[arg-type]


def outcome(i: int, state: StepState, message: str) -> StepOutcome:
    return StepOutcome(i, f"defragment m{i + 1}", state, message, T0 + i, T0 + i + 0.5)


def test_a_run_is_recorded_and_read_back_newest_first(tmp_path: Path) -> None:
    p = plan(warnings=("m1 is the leader: a new election follows",))
    done = OpResult(
        p,
        (
            outcome(0, StepState.DONE, "freed 12.3 MB in 0.8 s"),
            outcome(1, StepState.SKIPPED, "fragmentation 1 kB, under the threshold"),
            outcome(2, StepState.FAILED, "m1 did not catch up within 60 s"),
        ),
        started_at=T0,
        ended_at=T0 + 3,
    )
    failed = audit_record(done, p, user="alice")
    assert failed == AuditRecord(
        at=T0,
        user="alice",
        cluster="profile:p1",
        cluster_name="prod",
        kind=OpKind.DEFRAG,
        summary="defragment m2, m3, then m1 (leader)",
        result="failed",
        detail="1. defragment m1: done: freed 12.3 MB in 0.8 s\n"
        "2. defragment m2: skipped: fragmentation 1 kB, under the threshold\n"
        "3. defragment m3: failed: m1 did not catch up within 60 s\n"
        "warning: m1 is the leader: a new election follows",
        ended_at=T0 + 3,
    )
    check = plan(OpKind.HASHKV, summary="HashKV of m1, m2, m3")
    mismatch = OpResult(
        check,
        (outcome(0, StepState.DONE, "3 hashes"),),
        T0 + 10,
        T0 + 11,
        findings=("m3 disagrees with m1, m2 at revision 42",),
    )
    found = audit_record(mismatch, check, user="bob")
    assert found.result == "ok" and found.detail.endswith(
        "finding: m3 disagrees with m1, m2 at revision 42"
    )
    no = plan(
        OpKind.MEMBER_REMOVE,
        summary="refused: removing m2 would break quorum",
        steps=(),
        refusal="removing m2 would break quorum",
    )
    refused = audit_record(None, no, refused=no.refusal, user="carol", clock=lambda: T0 + 20)
    assert (refused.result, refused.detail, refused.at, refused.ended_at) == (
        "refused",
        "removing m2 would break quorum",
        T0 + 20,
        T0 + 20,
    )
    other = plan(OpKind.COMPACT, cluster="10.0.0.1:2379", summary="compact to revision 7")
    cancelled = audit_record(
        OpResult(other, (outcome(0, StepState.CANCELLED, "not run: cancelled"),), T0 + 5, T0 + 5,
                 cancelled=True),
        other,
        user="dave",
    )  # fmt: skip
    assert cancelled.result == "cancelled"
    assert audit_record(None, other, error="interrupted", clock=lambda: T0).result == "failed"

    path = tmp_path / "h.sqlite3"
    with OpsLog(path) as log:
        for rec in (failed, found, cancelled, refused):
            assert log.record(rec) > 0
        assert log.records() == [refused, found, cancelled, failed]  # the newest first
        assert log.records("profile:p1") == [refused, found, failed]
        assert log.records(limit=1) == [refused]
        assert log.records("nobody") == []

    reader = HistoryReader(path)
    assert reader.ops_log("10.0.0.1:2379") == [cancelled]
    assert reader.ops_log(limit=2) == [refused, found]
    reader.close()


def test_an_operation_of_a_newer_version_is_left_out(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite3"
    rec = audit_record(None, plan(), refused="no", user="u", clock=lambda: T0)
    db = hdb.connect(path)
    with db:
        ops_log.record(db, rec)
        db.execute(
            "INSERT INTO ops_log (at, user, cluster, cluster_name, kind, summary, result,"
            " detail) VALUES (?, 'u', 'c', 'c', 'reshard', 's', 'ok', '')",
            (T0 + 1,),
        )
    assert ops_log.records(db) == [rec]
    db.close()


def test_an_unwritable_history_says_so(tmp_path: Path) -> None:
    folder = tmp_path / "not-a-folder"
    folder.write_text("a file where the history's folder should be")
    with pytest.raises(HistoryError, match="cannot be"):
        OpsLog(folder / "h.sqlite3")


# -- the upgrade from schema 3 -------------------------------------------------------------


def write_v3_file(path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, list[object]]:
    """A schema 3 history (alerts, metrics, members, a benchmark run), written by this
    code held at schema 3; returns every row of every table."""
    with monkeypatch.context() as m:
        m.setattr(hdb, "SCHEMA_VERSION", 3)
        m.setattr(hdb, "_STEPS", hdb._STEPS[:3])
        history = AlertHistory(path, clock=lambda: T0)
        firing = alert("fp1", AlertState.FIRING, T0, severity=Severity.CRITICAL)
        history.record([AlertEvent(EventKind.FIRING, firing, T0)])
        history.close()
        db = hdb.connect(path)
        with db:
            ids = metrics.SeriesIds()
            for i in range(5):
                metrics.write_samples(db, ids, "c1", T0 + i, [Sample("m1", "db_size_bytes", 1e6)])
            metrics.save_bench_run(
                db, BenchRunRecord(0, "c1", "prod", T0, "nightly", "put", 1000.0, 1.0, 2.0, 0, None)
            )
        assert db.execute("PRAGMA user_version").fetchone() == (3,)
        assert "ops_log" not in tables(db)
        rows: dict[str, list[object]] = {
            t: db.execute(f"SELECT * FROM {t}").fetchall() for t in sorted(tables(db))
        }
        db.close()
    return rows


def test_a_history_of_schema_3_is_upgraded_with_everything_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "history.sqlite3"
    before = write_v3_file(path, monkeypatch)
    assert before["alert_events"] and (before["samples"] or before["recent"])
    assert before["bench_runs"]

    rec = audit_record(None, plan(), refused="no quorum", user="u", clock=lambda: T0)
    with OpsLog(path) as log:  # opening it upgrades it
        log.record(rec)
        assert log.records() == [rec]

    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,) == (4,)
    assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    for table, rows in before.items():  # every row as it was
        assert db.execute(f"SELECT * FROM {table}").fetchall() == rows, table
    assert "ops_log" in tables(db)
    db.close()

    reader = HistoryReader(path)  # and opening it again upgrades nothing twice
    assert reader.ops_log() == [rec]
    assert [r.label for r in reader.bench_runs()] == ["nightly"]
    reader.close()
