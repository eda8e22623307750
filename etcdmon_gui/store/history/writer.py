"""``HistoryWriter``: the one thread that writes snapshots and benchmark runs into the
history file, in batches, and keeps it rolled up and pruned.

Callers (the GUI thread through a worker, ``etcdmon watch``, the benchmark worker) only
put items on a queue: nothing here blocks them on the disk. The thread takes what
arrived within ``batch_s`` of the first item and writes it in one transaction, so a
``kill -9`` loses at most that batch, and SQLite's WAL keeps the file sound. Between
batches it rolls up and prunes in bounded steps (``metrics.roll_up`` / ``prune``),
so a batch never waits long behind them. Readers use their own connections and never
block it.

When the file cannot be opened or written (locked, read-only, full, corrupt), the
writer says why once through ``problems``, keeps ``error``, and stops: history is off,
the file is left as it is, and monitoring goes on. A read-only file is found when the
writer starts (a write it rolls back), not at its first batch; an unexpected exception
turns the history off the same way, rather than leaving a dead thread.
"""

from __future__ import annotations

import logging
import math
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

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


class HistoryWriter:
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
        self.path = path or default_path()
        self.limits = limits or HistoryLimits()
        self.error: HistoryError | None = None
        self.batches = 0  # committed (tests, benchmarks)
        self._problems = problems
        self._clock = clock
        self._batch_s = batch_s
        self._maintain_every_s = maintain_every_s
        self._queue: queue.SimpleQueue[_Item] = queue.SimpleQueue()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="history-writer", daemon=True)
        self._ids = metrics.SeriesIds()
        self._known: dict[str, dict[str, MemberRecord]] = {}

    # -- any thread ------------------------------------------------------------------------

    def start(self) -> HistoryWriter:
        self._thread.start()
        return self

    def wait_ready(self, timeout: float = 10.0) -> HistoryError | None:
        """Wait until the file is open (or could not be); the error, if any."""
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
            db = connect(self.path)
            try:
                check_writable(db, self.path)
            except BaseException:
                db.close()
                raise
        except HistoryError as exc:
            self._fail(exc)
            self._ready.set()
            return
        self._ready.set()
        try:
            self._loop(db)
        except sqlite3.Error as exc:
            self._fail(describe(exc, self.path))
        except HistoryError as exc:
            self._fail(exc)
        except Exception as exc:  # a bug: history off all the same, not a dead thread
            log.exception("history writer failed")
            report_bug(exc, "the history writer", logged=True)
            where = str(self.path)
            text = f"the history file {where} cannot be used: {exc!r}"
            self._fail(HistoryError(text, path=where))
        finally:
            db.close()

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

    def _loop(self, db: sqlite3.Connection) -> None:
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
            self._write(db, batch)
            for item in batch:
                if isinstance(item, _Flush):
                    item.done.set()
            if _STOP in batch:
                return
            if more or time.monotonic() >= next_maintenance:
                more = self._maintain(db)
                next_maintenance = time.monotonic() + self._maintain_every_s

    def _write(self, db: sqlite3.Connection, batch: list[_Item]) -> None:
        work = [item for item in batch if isinstance(item, _Snapshot | BenchRunRecord)]
        if not work:
            return
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
        self.batches += 1

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
