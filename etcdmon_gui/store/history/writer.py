"""``HistoryWriter``: the one thread that writes snapshots and benchmark runs into the
history file, in batches, and keeps it rolled up and pruned.

Callers (the GUI thread through a worker, ``etcdmon watch``, the benchmark worker) only
put items on a queue: nothing here blocks them on the disk. The thread takes what
arrived within ``batch_s`` of the first item and writes it in one transaction, so a
``kill -9`` loses at most that batch, and SQLite's WAL keeps the file sound. Between
batches it rolls up and prunes in bounded steps (``metrics.roll_up`` / ``prune``),
so a batch never waits long behind them. Readers use their own connections and never
block it.

``QueuedWriter`` is that thread, its queue and its batches, whatever the database:
``HistoryWriter`` writes the SQLite file, ``postgres.writer.PgHistoryWriter`` a
PostgreSQL database.

When the file cannot be opened or written (locked, read-only, full, corrupt), the
writer says why once through ``problems``, keeps ``error``, and stops: history is off,
the file is left as it is, and monitoring goes on. A read-only file is found when the
writer starts (a write it rolls back), not at its first batch; an unexpected exception
turns the history off the same way, rather than leaving a dead thread.
"""

from __future__ import annotations

import abc
import logging
import math
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Generic, TypeVar

from etcdmon_gui.bugs import report_bug
from etcdmon_gui.model.history import BenchRunRecord, HistoryError, HistoryLimits, MemberRecord
from etcdmon_gui.model.snapshot import ClusterSnapshot
from etcdmon_gui.monitor.history_signals import diff_members, snapshot_samples
from etcdmon_gui.store.history import metrics
from etcdmon_gui.store.history.db import check_writable, connect, default_path, describe

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class _Snapshot:
    snapshot: ClusterSnapshot
    name: str


@dataclass(frozen=True, slots=True)
class _Flush:
    done: threading.Event = field(default_factory=threading.Event)


_STOP = object()
_Item = _Snapshot | BenchRunRecord | _Flush | object
Work = _Snapshot | BenchRunRecord  # what a batch writes
C = TypeVar("C")  # the writer thread's connection


class QueuedWriter(abc.ABC, Generic[C]):
    """The one writer thread, its queue and batches; a subclass opens the database and
    writes a batch in one transaction (``_open``, ``_write_work``, ``_maintain``)."""

    thread_name = "history-writer"

    def __init__(
        self,
        *,
        limits: HistoryLimits | None,
        problems: Callable[[str], object],
        clock: Callable[[], float],
        batch_s: float,
        maintain_every_s: float,
    ) -> None:
        self.limits = limits or HistoryLimits()
        self.error: HistoryError | None = None
        self.batches = 0  # committed (tests, benchmarks)
        self._problems = problems
        self._clock = clock
        self._batch_s = batch_s
        self._maintain_every_s = maintain_every_s
        self._queue: queue.SimpleQueue[_Item] = queue.SimpleQueue()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)

    # -- what a database does --------------------------------------------------------------

    @abc.abstractmethod
    def _open(self) -> C:
        """The connection, the schema up to date and writable; raises ``HistoryError``."""

    @abc.abstractmethod
    def _write_work(self, conn: C, work: list[Work]) -> None:
        """Write ``work`` in one transaction (rolled back whole on failure)."""

    @abc.abstractmethod
    def _maintain(self, conn: C) -> bool:
        """Roll up and prune a bounded step; whether more is due."""

    @abc.abstractmethod
    def _translate(self, exc: Exception) -> HistoryError | None:
        """What a failure of the database means (None: not the database's: a bug)."""

    @abc.abstractmethod
    def _where(self) -> str:
        """The database in words, for a bug's message (never a secret)."""

    @abc.abstractmethod
    def _close_conn(self, conn: C) -> None: ...

    # -- any thread ------------------------------------------------------------------------

    def start(self) -> QueuedWriter[C]:
        self._thread.start()
        return self

    def wait_ready(self, timeout: float = 10.0) -> HistoryError | None:
        """Wait until the database is open (or could not be); the error, if any."""
        self._ready.wait(timeout)
        return self.error

    def add_snapshot(self, snapshot: ClusterSnapshot, name: str) -> None:
        if self.error is None:
            self._queue.put(_Snapshot(snapshot, name))

    def add_bench_run(self, run: BenchRunRecord) -> None:
        if self.error is None:
            self._queue.put(run)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything added before is committed; False on timeout or error."""
        if self.error is not None or not self._thread.is_alive():
            return False
        marker = _Flush()
        self._queue.put(marker)
        deadline = time.monotonic() + timeout
        # Not a plain wait: a thread that failed or stopped meanwhile never sets it.
        while not marker.done.wait(min(0.05, max(0.0, deadline - time.monotonic()))):
            if not self._thread.is_alive() or time.monotonic() >= deadline:
                break
        return marker.done.is_set() and self.error is None

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued and stop the thread."""
        if self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join(timeout)

    # -- the writer thread -----------------------------------------------------------------

    def _run(self) -> None:
        try:
            conn = self._open()
        except HistoryError as exc:
            self._fail(exc)
            self._ready.set()
            return
        self._ready.set()
        try:
            self._loop(conn)
        except HistoryError as exc:
            self._fail(exc)
        except Exception as exc:
            translated = self._translate(exc)
            if translated is None:  # a bug: history off all the same, not a dead thread
                log.exception("history writer failed")
                report_bug(exc, "the history writer", logged=True)
                where = self._where()
                text = f"the history {where} cannot be used: {exc!r}"
                translated = HistoryError(text, path=where)
            self._fail(translated)
        finally:
            self._close_conn(conn)

    def _fail(self, exc: HistoryError) -> None:
        self.error = exc
        log.error("history off: %s", exc)
        self._problems(str(exc))
        while True:  # release whoever waits on a flush
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if isinstance(item, _Flush):
                item.done.set()

    def _loop(self, conn: C) -> None:
        next_maintenance = 0.0
        more = False
        while True:
            try:
                first = self._queue.get(timeout=0 if more else self._maintain_every_s)
            except queue.Empty:
                first = None
            batch = [] if first is None else [first]
            if first is not None and first is not _STOP:
                deadline = time.monotonic() + self._batch_s
                while batch[-1] is not _STOP and not isinstance(batch[-1], _Flush):
                    try:
                        batch.append(self._queue.get(timeout=max(0.0, deadline - time.monotonic())))
                    except queue.Empty:
                        break
            self._write(conn, batch)
            for item in batch:
                if isinstance(item, _Flush):
                    item.done.set()
            if _STOP in batch:
                return
            if more or time.monotonic() >= next_maintenance:
                more = self._maintain(conn)
                next_maintenance = time.monotonic() + self._maintain_every_s

    def _write(self, conn: C, batch: list[_Item]) -> None:
        work = [item for item in batch if isinstance(item, _Snapshot | BenchRunRecord)]
        if not work:
            return
        self._write_work(conn, work)
        self.batches += 1


class HistoryWriter(QueuedWriter[sqlite3.Connection]):
    """The SQLite file's writer."""

    def __init__(
        self,
        path: Path | None = None,
        *,
        limits: HistoryLimits | None = None,
        problems: Callable[[str], object] = lambda text: None,
        clock: Callable[[], float] = time.time,
        batch_s: float = 1.0,
        maintain_every_s: float = 10.0,
    ) -> None:
        super().__init__(
            limits=limits,
            problems=problems,
            clock=clock,
            batch_s=batch_s,
            maintain_every_s=maintain_every_s,
        )
        self.path = path or default_path()
        self._ids = metrics.SeriesIds()
        self._known: dict[str, dict[str, MemberRecord]] = {}

    def start(self) -> HistoryWriter:
        super().start()
        return self

    def _open(self) -> sqlite3.Connection:
        db = connect(self.path)
        try:
            check_writable(db, self.path)
        except BaseException:
            db.close()
            raise
        return db

    def _translate(self, exc: Exception) -> HistoryError | None:
        return describe(exc, self.path) if isinstance(exc, sqlite3.Error) else None

    def _where(self) -> str:
        return f"file {self.path}"

    def _close_conn(self, conn: sqlite3.Connection) -> None:
        conn.close()

    def _write_work(self, db: sqlite3.Connection, work: list[Work]) -> None:
        try:
            with db:
                for item in work:
                    if isinstance(item, BenchRunRecord):
                        metrics.save_bench_run(db, item)
                    else:
                        self._write_snapshot(db, item.snapshot, item.name)
        except BaseException:
            self._ids.clear()  # ids created in the rolled-back transaction are gone
            self._known.clear()
            raise

    def _write_snapshot(self, db: sqlite3.Connection, snap: ClusterSnapshot, name: str) -> None:
        at = snap.taken_at
        cluster_id = None if snap.cluster_id is None else f"{snap.cluster_id:x}"
        metrics.note_cluster(db, snap.key, name, cluster_id, at)
        samples = [s for s in snapshot_samples(snap) if math.isfinite(s.value)]
        metrics.write_samples(db, self._ids, snap.key, at, samples)
        known = self._known.get(snap.key)
        if known is None:
            known = self._known[snap.key] = metrics.known_members(db, snap.key)
        records, events = diff_members(known, snap)
        metrics.save_members(db, records, events)
        known.update((r.member, r) for r in records)

    def _maintain(self, db: sqlite3.Connection) -> bool:
        now_ms = metrics.to_ms(self._clock())
        with db:
            metrics.move_recent(db, now_ms)
            more = metrics.roll_up(db, now_ms)
        with db:
            more = metrics.prune(db, now_ms, self.limits) or more
        return more
