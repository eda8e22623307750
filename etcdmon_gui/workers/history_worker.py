"""The history for the desktop app: the writer's thread fed from the GUI thread without
waiting, and a reader thread that answers the views' questions.

``HistoryHandle.add_snapshot`` / ``add_bench_run`` only queue (``HistoryWriter``).
Questions are *jobs*: a callable given the ``HistoryBackend`` and a ``progress(done,
total) -> bool`` (False once the job was cancelled), run one at a time in the reader's
thread; the answer comes back as ``done(tag, result)`` in the GUI thread, a failure as
``failed(tag, message)``. ``tag`` is the asker's: a view drops an answer whose tag it
no longer waits for. When the file cannot be used, ``problem(message)`` says so once
for the writer and once for the reader: history is off, monitoring goes on.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal, Slot

from etcdmon_gui.bugs import report_bug
from etcdmon_gui.model.errors import EtcdError
from etcdmon_gui.model.history import BenchRunRecord, HistoryError, HistoryLimits
from etcdmon_gui.model.ops import AuditRecord
from etcdmon_gui.model.snapshot import ClusterSnapshot
from etcdmon_gui.scrub import scrub_text
from etcdmon_gui.store.history.ops_log import OpsLog
from etcdmon_gui.store.history.reader import HistoryBackend, HistoryReader
from etcdmon_gui.store.history.writer import HistoryWriter
from etcdmon_gui.workers.thread_owner import ThreadOwner

log = logging.getLogger(__name__)

Progress = Callable[[int, int | None], bool]
Job = Callable[[HistoryBackend, Progress], Any]


class JobCancelled(Exception):
    """Raised by a job whose ``progress`` said stop."""


class HistoryReaderWorker(QObject):
    """Signals: done(object tag, object result), failed(object tag, str),
    progress(object tag, int done, object total), problem(str)."""

    done = Signal(object, object)
    failed = Signal(object, str)
    progress = Signal(object, int, object)
    problem = Signal(str)

    def __init__(self, open_reader: Callable[[], HistoryBackend]) -> None:
        super().__init__()
        self._open_reader = open_reader
        self._reader: HistoryBackend | None = None
        self._error: str | None = None
        self.cancelled: set[object] = set()
        self._lock = threading.Lock()

    def cancel(self, tag: object) -> None:
        """Any thread: make the job ``tag`` stop at its next progress report."""
        with self._lock:
            self.cancelled.add(tag)

    def _is_cancelled(self, tag: object) -> bool:
        with self._lock:
            return tag in self.cancelled

    def _backend(self) -> HistoryBackend:
        if self._reader is None:
            if self._error is not None:
                raise HistoryError(self._error)
            try:
                self._reader = self._open_reader()
            except HistoryError as exc:
                self._error = str(exc)
                self.problem.emit(self._error)
                raise
        return self._reader

    @Slot(object, object)
    def run(self, tag: object, job: Job) -> None:
        def report(done: int, total: int | None) -> bool:
            self.progress.emit(tag, done, total)
            return not self._is_cancelled(tag)

        try:
            if self._is_cancelled(tag):
                raise JobCancelled()
            result = job(self._backend(), report)
        except JobCancelled:
            self.failed.emit(tag, "cancelled")
        except HistoryError as exc:
            self.failed.emit(tag, str(exc))
        except Exception as exc:  # a view's question must not take the thread down
            if isinstance(exc, EtcdError | OSError):  # a file the user named, say
                log.warning("history job %r failed: %s", tag, exc)
            else:  # a bug
                report_bug(exc, f"a history job ({tag!r})")
            self.failed.emit(tag, scrub_text(f"{type(exc).__name__}: {exc}"))
        else:
            self.done.emit(tag, result)
        finally:
            with self._lock:
                self.cancelled.discard(tag)

    @Slot()
    def stop(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        thread = self.thread()
        if thread is not None:
            thread.quit()


class HistoryHandle(ThreadOwner):
    """GUI-side owner of the history writer and the reader thread.

    Signals: done, failed, progress (relayed), problem (the writer's or the reader's,
    in the GUI thread); requestJob(tag, job), requestStop (queued into the reader).
    """

    done = Signal(object, object)
    failed = Signal(object, str)
    progress = Signal(object, int, object)
    problem = Signal(str)
    requestJob = Signal(object, object)
    requestStop = Signal()

    def __init__(
        self,
        path: Path | None = None,
        limits: HistoryLimits | None = None,
        parent: QObject | None = None,
        *,
        batch_s: float = 1.0,
    ) -> None:
        self.worker = HistoryReaderWorker(lambda: HistoryReader(path, limits=limits))
        super().__init__(self.worker, "history", parent)
        # problem is emitted from the writer's thread: queued into the GUI thread.
        self.path = path
        self.writer = HistoryWriter(
            path, limits=limits, problems=self.problem.emit, batch_s=batch_s
        )
        self.relay("done", "failed", "progress", "problem")
        self.requestJob.connect(self.worker.run)
        self.requestStop.connect(self.worker.stop)
        self._tags = 0

    def start(self) -> None:
        self.writer.start()
        super().start()

    def add_snapshot(self, snapshot: ClusterSnapshot, name: str) -> None:
        self.writer.add_snapshot(snapshot, name)

    def add_bench_run(self, run: BenchRunRecord) -> None:
        self.writer.add_bench_run(run)

    def record_op(self, rec: AuditRecord) -> None:
        """Keep a maintenance run in the audit log, now, from any thread (the ops
        worker's): a connection and a transaction of its own, so a run that ends during
        shutdown is kept too. Raises ``HistoryError`` when the file cannot be used."""
        with OpsLog(self.path) as audit_log:
            audit_log.record(rec)

    @property
    def error(self) -> str | None:
        return None if self.writer.error is None else str(self.writer.error)

    def submit(self, job: Job, tag: object = None) -> object:
        """Run ``job`` in the reader's thread; its tag (a new one unless given)."""
        if tag is None:
            self._tags += 1
            tag = ("job", self._tags)
        self.requestJob.emit(tag, job)
        return tag

    def cancel(self, tag: object) -> None:
        self.worker.cancel(tag)

    def _end_thread(self) -> None:
        self.requestStop.emit()

    def shutdown(self, timeout_s: float = 5.0) -> bool:
        ended = super().shutdown(timeout_s)
        self.writer.close(timeout_s)
        return ended
