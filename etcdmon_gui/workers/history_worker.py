"""The history for the desktop app: the writer's thread fed from the GUI thread without
waiting, and a reader thread that answers the views' questions.

``HistoryHandle.add_snapshot`` / ``add_bench_run`` only queue (``HistoryWriter``).
Questions are *jobs*: a callable given the ``HistoryBackend`` and a ``progress(done,
total) -> bool`` (False once the job was cancelled), run one at a time in the reader's
thread; the answer comes back as ``done(tag, result)`` in the GUI thread, a failure as
``failed(tag, message)``. ``tag`` is the asker's: a view drops an answer whose tag it
no longer waits for. When the file cannot be used, ``problem(message)`` says so once
for the writer and once for the reader: history is off, monitoring goes on.

With a ``TeamHistory`` (a team's PostgreSQL database, read-only), the jobs read that
instead of the file, which the writer goes on filling with this computer's data. The
team's reader is opened in the reader's thread (it reads the password from the secret
store and connects: seconds, never on the GUI thread), once, at ``start``; when it
cannot be (unreachable, refused, no etcdmon schema, the keyring locked), the jobs read
the local file and ``reading`` says why. Later failures of a team reader that opened
fail the jobs with its sentence (its pool reconnects once the server is back).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal, Slot

from etcdmon_gui.bugs import report_bug
from etcdmon_gui.model.errors import EtcdError
from etcdmon_gui.model.history import BenchRunRecord, HistoryError, HistoryLimits
from etcdmon_gui.model.ops import AuditRecord
from etcdmon_gui.model.secrets import SecretStoreError
from etcdmon_gui.model.snapshot import ClusterSnapshot
from etcdmon_gui.scrub import scrub_text
from etcdmon_gui.store.history.db import default_path
from etcdmon_gui.store.history.ops_log import OpsLog
from etcdmon_gui.store.history.reader import HistoryBackend, HistoryReader
from etcdmon_gui.store.history.writer import HistoryWriter
from etcdmon_gui.workers.thread_owner import ThreadOwner

log = logging.getLogger(__name__)

Progress = Callable[[int, int | None], bool]
Job = Callable[[HistoryBackend, Progress], Any]


class JobCancelled(Exception):
    """Raised by a job whose ``progress`` said stop."""


@dataclass(frozen=True, slots=True)
class TeamHistory:
    """A team's history database the views read instead of the local file.

    ``where`` names it in texts (``user@host:port/dbname``, no secret); ``open`` makes
    its reader, in the reader's thread, raising ``HistoryError`` or
    ``SecretStoreError`` with a sentence when it cannot; ``open_s``: the longest that
    may take (shutdown waits that much more for the thread).
    """

    where: str
    open: Callable[[], HistoryBackend]
    open_s: float = 10.0


class HistoryReaderWorker(QObject):
    """Signals: done(object tag, object result), failed(object tag, str),
    progress(object tag, int done, object total), problem(str) (the local file cannot
    be read: history off), reading(str where, str problem): once, what the jobs read
    (the team history, or the local file) and why the team history is not read
    ("" when it is, or none was set; ``where`` is "" when nothing can be read)."""

    done = Signal(object, object)
    failed = Signal(object, str)
    progress = Signal(object, int, object)
    problem = Signal(str)
    reading = Signal(str, str)

    def __init__(
        self,
        open_reader: Callable[[], HistoryBackend],
        team: TeamHistory | None = None,
        local: str = "",
    ) -> None:
        super().__init__()
        self._open_reader = open_reader
        self._team = team
        self._local = local  # the local file, in words
        self._reader: HistoryBackend | None = None
        self._error: str | None = None
        self._told = False
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
            not_team = ""
            if self._team is not None:
                team, self._team = self._team, None  # tried once per run
                try:
                    self._reader = team.open()
                except (HistoryError, SecretStoreError) as exc:
                    not_team = str(exc)
                except Exception as exc:  # a bug: reported, the local file instead
                    report_bug(exc, "opening the team history")
                    not_team = f"unexpected {type(exc).__name__} (see the log)"
                if self._reader is not None:
                    log.info("the history views read the team history %s", team.where)
                    self._tell(f"team history {team.where} (PostgreSQL, read-only)", "")
                    return self._reader
                not_team = (
                    f"the team history {team.where} cannot be read, so the history views "
                    f"show this computer's history: {scrub_text(not_team)}"
                )
                log.warning("%s", not_team)
            try:
                self._reader = self._open_reader()
            except HistoryError as exc:
                self._error = str(exc)
                self._tell("", not_team)
                self.problem.emit(self._error)
                raise
            self._tell(self._local, not_team)
        return self._reader

    def _tell(self, where: str, problem: str) -> None:
        if not self._told:
            self._told = True
            self.reading.emit(where, problem)

    @Slot()
    def open(self) -> None:
        """Open the reader now (at the start, with a team history: so the window can say
        where the views read before anyone asks)."""
        try:
            self._backend()
        except HistoryError:
            pass  # said through problem
        except Exception as exc:  # never take the thread down
            report_bug(exc, "opening the history reader")

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

    ``team``: the jobs read that database instead of the file (see the module
    docstring); the writer writes the file all the same.

    Signals: done, failed, progress, reading (relayed), problem (the writer's or the
    reader's, in the GUI thread); requestJob(tag, job), requestOpen, requestStop
    (queued into the reader).
    """

    done = Signal(object, object)
    failed = Signal(object, str)
    progress = Signal(object, int, object)
    problem = Signal(str)
    reading = Signal(str, str)
    requestJob = Signal(object, object)
    requestOpen = Signal()
    requestStop = Signal()

    def __init__(
        self,
        path: Path | None = None,
        limits: HistoryLimits | None = None,
        parent: QObject | None = None,
        *,
        batch_s: float = 1.0,
        team: TeamHistory | None = None,
    ) -> None:
        local = str(path or default_path())
        self.worker = HistoryReaderWorker(
            lambda: HistoryReader(path, limits=limits), team=team, local=local
        )
        super().__init__(self.worker, "history", parent)
        # problem is emitted from the writer's thread: queued into the GUI thread.
        self.path = path
        self.team = team
        self.writer = HistoryWriter(
            path, limits=limits, problems=self.problem.emit, batch_s=batch_s
        )
        self.relay("done", "failed", "progress", "problem", "reading")
        self.requestJob.connect(self.worker.run)
        self.requestOpen.connect(self.worker.open)
        self.requestStop.connect(self.worker.stop)
        self._tags = 0

    def start(self) -> None:
        self.writer.start()
        super().start()
        if self.team is not None:
            self.requestOpen.emit()  # where the views read is known before they ask

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
        # A team reader being opened cannot be interrupted: wait for its deadline too.
        ended = super().shutdown(timeout_s + (self.team.open_s if self.team else 0.0))
        self.writer.close(timeout_s)
        return ended
