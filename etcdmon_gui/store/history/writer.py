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

A database that can be lost for a while and come back (a PostgreSQL server restarting or
failing over: the subclass's ``_retryable`` says which failures are such) does not turn
history off: the writer says so once, keeps the batches it could not write in memory
(bounded: the oldest dropped and counted), reconnects with a capped exponential
back-off, writes what it kept, in order, and says once that history is back. Meanwhile
``retrying`` is true and ``flush`` waits for the kept batches too (within its timeout).
The SQLite file has no such failures: its writer never retries.
"""

from __future__ import annotations

import abc
import collections
import contextlib
import itertools
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

from tenacity import RetryCallState, Retrying, wait_exponential, wait_random

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


@dataclass(frozen=True, slots=True)
class Keep:
    """How a writer that retries waits and what it keeps meanwhile: reconnects after
    ``min_s``, doubling to ``max_s`` (plus up to ``min_s`` of jitter, so several
    writers do not come back in step); at most ``batches`` batches and ``samples``
    samples in memory, the oldest dropped beyond them; at most ``merge`` kept batches
    written in one transaction when the database is back. A kept snapshot of a real
    3-member etcd 3.5 costs about 90 bytes a sample: the default is about 45 MB, some
    7 hours of one such cluster swept every 5 s, over 20 minutes of twenty."""

    min_s: float = 1.0
    max_s: float = 60.0
    batches: int = 20_000
    samples: int = 500_000
    merge: int = 50


class QueuedWriter(abc.ABC, Generic[C]):
    """The one writer thread, its queue and batches; a subclass opens the database and
    writes a batch in one transaction (``_open``, ``_write_work``, ``_maintain``).

    State other threads may read (a server's health): ``error`` (history off, why),
    ``retrying`` (the database is lost for now; batches kept in memory), ``kept`` (the
    samples kept), ``dropped`` (samples dropped from memory while retrying, in all)."""

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
        self._conn: C | None = None
        # While the database is lost (a subclass whose _retryable says so):
        self.retrying = False
        self.dropped = 0  # samples dropped from memory, oldest first (in all)
        self.kept = 0  # samples kept in memory now
        self.keep = Keep()
        self._kept: collections.deque[tuple[list[Work], int]] = collections.deque()
        self._waiting: list[_Flush] = []  # flushes that wait for the kept batches
        self._attempts = 0
        self._retry_at = 0.0
        self._lost_at = 0.0
        self._dropped_now = 0  # in this outage

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

    def _retryable(self, exc: HistoryError) -> bool:
        """Whether this failure passes (the database will be back): keep and retry."""
        return False

    def _weight(self, work: list[Work]) -> int:
        """The samples in ``work`` (what ``Keep.samples`` bounds)."""
        return len(work)

    # -- any thread ------------------------------------------------------------------------

    def start(self) -> QueuedWriter[C]:
        self._thread.start()
        return self

    def wait_ready(self, timeout: float = 10.0) -> HistoryError | None:
        """Wait until the database is open (or could not be); the error, if any. A
        database down at start that is retried is no error (``retrying`` says it)."""
        self._ready.wait(timeout)
        return self.error

    def add_snapshot(self, snapshot: ClusterSnapshot, name: str) -> None:
        if self.error is None:
            self._queue.put(_Snapshot(snapshot, name))

    def add_bench_run(self, run: BenchRunRecord) -> None:
        if self.error is None:
            self._queue.put(run)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything added before is committed (kept batches of a lost
        database too); False on timeout or error."""
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
            self._conn = self._open()
        except HistoryError as exc:
            if not self._retryable(exc):
                self._fail(exc)
                self._ready.set()
                return
            self._lost(exc)  # down at start: the same as lost later
        self._ready.set()
        try:
            self._loop()
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
            self._disconnect()

    def _fail(self, exc: HistoryError) -> None:
        self.error = exc
        self.retrying = False
        log.error("history off: %s", exc)
        self._problems(str(exc))
        if self._kept:
            log.error("history off: %d samples kept in memory are lost", self.kept)
            self._kept.clear()
            self.kept = 0
        for waiting in self._waiting:
            waiting.done.set()
        self._waiting.clear()
        while True:  # release whoever waits on a flush
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if isinstance(item, _Flush):
                item.done.set()

    def _loop(self) -> None:
        next_maintenance = 0.0
        more = False
        while True:
            wait = 0 if more else self._maintain_every_s
            if self._conn is None:  # retrying: wake up for the next attempt
                wait = min(wait, max(0.0, self._retry_at - time.monotonic()))
            try:
                first = self._queue.get(timeout=wait)
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
            stop = _STOP in batch
            self._write(batch, last=stop)
            for item in batch:
                if isinstance(item, _Flush):
                    if self._kept:
                        self._waiting.append(item)
                    else:
                        item.done.set()
            if stop:
                if self._kept:
                    log.error(
                        "history %s: %d samples kept in memory are lost: the database did "
                        "not come back before the writer stopped",
                        self._where(),
                        self.kept,
                    )
                return
            if self._conn is None:
                more = False
            elif more or time.monotonic() >= next_maintenance:
                more = self._maintain_or_lose(self._conn)
                next_maintenance = time.monotonic() + self._maintain_every_s

    def _write(self, batch: list[_Item], *, last: bool = False) -> None:
        work = [item for item in batch if isinstance(item, _Snapshot | BenchRunRecord)]
        if self._conn is None:  # retrying
            if work:
                self._keep_batch(work)
            if last or time.monotonic() >= self._retry_at:
                conn = self._reconnect()
                if conn is not None:
                    self._write_kept(conn)
            return
        if not work:
            return
        try:
            self._write_work(self._conn, work)
        except Exception as exc:
            if (lost := self._passing(exc)) is None:
                raise
            self._keep_batch(work)
            self._lost(lost)
            return
        self.batches += 1

    # -- a lost database ---------------------------------------------------------------------

    def _passing(self, exc: Exception) -> HistoryError | None:
        """``exc`` as a failure to retry, or None (history off, or a bug)."""
        translated = exc if isinstance(exc, HistoryError) else self._translate(exc)
        return translated if translated is not None and self._retryable(translated) else None

    def _maintain_or_lose(self, conn: C) -> bool:
        try:
            return self._maintain(conn)
        except Exception as exc:
            if (lost := self._passing(exc)) is None:
                raise
            self._lost(lost)
            return False

    def _disconnect(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):  # a dead connection may fail to close
                self._close_conn(conn)

    def _lost(self, exc: HistoryError) -> None:
        """The database is gone for now: say so once, keep what comes, retry."""
        self._disconnect()
        if not self.retrying:
            self.retrying = True
            self._attempts = 0
            self._dropped_now = 0
            self._lost_at = time.monotonic()
            text = (
                f"{exc}. History is kept in memory meanwhile (up to {self.keep.samples} "
                f"samples) and written when the database is back; reconnecting every "
                f"{self.keep.min_s:g} to {self.keep.max_s:g} s"
            )
            log.warning("history paused: %s", text)
            self._problems(text)
        self._schedule()

    def _schedule(self) -> None:
        self._attempts += 1
        state = RetryCallState(Retrying(), None, (), {})
        state.attempt_number = self._attempts
        doubling = wait_exponential(multiplier=self.keep.min_s, max=self.keep.max_s)
        jitter = wait_random(0, self.keep.min_s)
        self._retry_at = time.monotonic() + (doubling + jitter)(state)

    def _reconnect(self) -> C | None:
        """One attempt; the connection, or None (the next attempt scheduled). A failure
        that does not pass (a password changed meanwhile) raises: history off."""
        try:
            self._conn = self._open()
        except HistoryError as exc:
            if not self._retryable(exc):
                raise
            log.debug("history: reconnecting failed (attempt %d): %s", self._attempts, exc)
            self._schedule()
        return self._conn

    def _keep_batch(self, work: list[Work]) -> None:
        weight = self._weight(work)
        self._kept.append((work, weight))
        self.kept += weight
        while len(self._kept) > self.keep.batches or (
            self.kept > self.keep.samples and len(self._kept) > 1
        ):
            _old, n = self._kept.popleft()
            self.kept -= n
            self.dropped += n
            if self._dropped_now == 0:
                log.warning(
                    "history %s: the memory kept for it is full (%d samples): the oldest "
                    "samples are dropped until the database is back",
                    self._where(),
                    self.keep.samples,
                )
            self._dropped_now += n

    def _write_kept(self, conn: C) -> None:
        """Write the kept batches, the oldest first (``keep.merge`` to a transaction);
        say once that history is back."""
        while self._kept:
            chunk = list(itertools.islice(self._kept, self.keep.merge))
            try:
                self._write_work(conn, [w for work, _n in chunk for w in work])
            except Exception as exc:
                if (lost := self._passing(exc)) is None:
                    raise
                self._lost(lost)
                return
            for _ in chunk:
                _work, n = self._kept.popleft()
                self.kept -= n
            self.batches += len(chunk)
        if self.retrying:
            self.retrying = False
            log.warning(
                "history %s is back after %.0f s: what was kept in memory is written "
                "(%d samples dropped meanwhile)",
                self._where(),
                time.monotonic() - self._lost_at,
                self._dropped_now,
            )
        for waiting in self._waiting:
            waiting.done.set()
        self._waiting.clear()


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
