"""``HistoryWriter``: snapshots arriving within ``batch_s`` commit as one batch; flush and
close; a failure says so once, turns the history off and writes nothing more."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from etcdmon_gui.model.history import HistoryError
from etcdmon_gui.store.history import db as hdb
from etcdmon_gui.store.history import metrics
from etcdmon_gui.store.history.writer import HistoryWriter
from tests.builders import Clock, member, snap

T0 = 1_699_999_200.0


def sweep_times(path: Path) -> list[float]:
    db = sqlite3.connect(path)
    try:
        rows = db.execute("SELECT DISTINCT ts FROM raw_samples ORDER BY ts").fetchall()
    finally:
        db.close()
    return [ts / 1000 for (ts,) in rows]


def until(check: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def writer_for(path: Path, problems: list[str], **kw: object) -> HistoryWriter:
    clock = Clock()
    clock.t = T0
    options: dict[str, object] = {"batch_s": 0.3, "maintain_every_s": 3600, "clock": clock}
    options.update(kw)
    return HistoryWriter(path, problems=problems.append, **options).start()  # type: ignore[arg-type]


def test_snapshots_within_batch_s_commit_as_one_batch(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite3"
    problems: list[str] = []
    writer = writer_for(path, problems)
    assert writer.wait_ready() is None
    for i in range(5):
        writer.add_snapshot(snap(T0 + i, [member(1), member(2)]), "prod")
    assert until(lambda: writer.batches == 1)  # committed when batch_s ran out, as one
    assert sweep_times(path) == [T0 + i for i in range(5)]
    time.sleep(0.4)
    assert writer.batches == 1  # nothing more to commit
    for i in range(5, 10):
        writer.add_snapshot(snap(T0 + i, [member(1)]), "prod")
    assert writer.flush()  # a flush ends the batch without waiting for batch_s
    assert writer.batches == 2
    assert sweep_times(path) == [T0 + i for i in range(10)]
    writer.close()
    assert problems == [] and writer.error is None


def test_close_writes_what_is_queued(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite3"
    problems: list[str] = []
    writer = writer_for(path, problems, batch_s=30.0)
    for i in range(3):
        writer.add_snapshot(snap(T0 + i, [member(1)]), "prod")
    started = time.monotonic()
    writer.close()
    assert time.monotonic() - started < 10  # the stop ends the batch too
    assert sweep_times(path) == [T0, T0 + 1, T0 + 2]
    assert writer.batches == 1
    assert not writer.flush(timeout=1)  # closed: nothing to wait for
    assert problems == []


def test_a_failure_is_said_once_and_nothing_is_written_after_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hdb, "BUSY_TIMEOUT_S", 0.2)
    path = tmp_path / "h.sqlite3"
    problems: list[str] = []
    writer = writer_for(path, problems)
    writer.add_snapshot(snap(T0, [member(1)]), "prod")
    assert writer.flush()

    locker = sqlite3.connect(path, isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    writer.add_snapshot(snap(T0 + 1, [member(1)]), "prod")
    assert not writer.flush()
    locker.execute("ROLLBACK")
    locker.close()

    assert isinstance(writer.error, HistoryError)
    assert "locked" in str(writer.error) and str(path) in str(writer.error)
    assert problems == [str(writer.error)]
    writer.add_snapshot(snap(T0 + 2, [member(1)]), "prod")  # history is off
    assert not writer.flush()
    writer.close()
    assert problems == [str(writer.error)]
    assert sweep_times(path) == [T0]
    assert writer.batches == 1


def test_a_full_disk_is_said_in_words(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def full(*args: object) -> None:
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(metrics, "write_samples", full)
    path = tmp_path / "h.sqlite3"
    problems: list[str] = []
    writer = writer_for(path, problems)
    writer.add_snapshot(snap(T0, [member(1)]), "prod")
    assert not writer.flush()
    writer.close()
    assert len(problems) == 1 and "full" in problems[0] and "free some space" in problems[0]
    assert sweep_times(path) == []
    assert sqlite3.connect(path).execute("SELECT count(*) FROM clusters").fetchone() == (0,)


def test_an_unexpected_failure_turns_the_history_off_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object) -> None:
        raise ValueError("a bug")

    monkeypatch.setattr(metrics, "write_samples", broken)
    problems: list[str] = []
    writer = writer_for(tmp_path / "h.sqlite3", problems)
    writer.add_snapshot(snap(T0, [member(1)]), "prod")
    started = time.monotonic()
    assert not writer.flush(timeout=30)
    assert time.monotonic() - started < 5  # said at once, not after the flush's timeout
    writer.close()
    assert isinstance(writer.error, HistoryError) and "a bug" in str(writer.error)
    assert problems == [str(writer.error)]
