"""Benchmarks off the GUI thread: one at a time, in one worker thread.

``BenchWorker.run`` (a slot, queued from the GUI thread through ``BenchHandle``) builds
the cluster's ``ConnectionConfig`` with the factory the composition root hands it,
checks the production confirmation, and runs a ``bench.engine.Benchmark``. The engine
reports progress from its own thread at most five times a second; each report becomes
one ``progress`` signal, relayed into the GUI thread by the handle. ``cancel()`` is the
engine's thread-safe cancel: the load stops within about half a second and the keys
written are still deleted. Exports (the per-second series, the summary) are written here
too, never on the GUI thread; their path is checked first, so a bad one costs nothing.

Every signal carries the cluster key the request came with, so a view can drop what is
not its own.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from PySide6.QtCore import QObject, Signal, Slot

from etcdmon_gui.bench.checkperf import judge
from etcdmon_gui.bench.control import BenchError
from etcdmon_gui.bench.engine import Benchmark
from etcdmon_gui.bench.output import summary_text, write_text
from etcdmon_gui.bench.report import csv_text
from etcdmon_gui.bench.safety import require_confirmation
from etcdmon_gui.bugs import report_bug
from etcdmon_gui.model.bench import (
    EXPORT_SERIES,
    EXPORT_SUMMARY,
    BenchProgress,
    BenchResult,
    BenchSpec,
    CheckPerfPreset,
    CheckPerfResult,
)
from etcdmon_gui.model.connection import ConnectionConfig
from etcdmon_gui.model.errors import ConfigError, EtcdError
from etcdmon_gui.workers.thread_owner import ThreadOwner

log = logging.getLogger(__name__)

ConfigFactory = Callable[[], ConnectionConfig]


@dataclass(frozen=True, slots=True)
class BenchRequest:
    """One run asked for by the GUI: which cluster, how to reach it, what to send.

    ``profile_name``/``tags``/``typed`` feed ``require_confirmation``: a profile tagged
    production runs only when ``typed`` is its exact name. ``check_preset`` set means a
    check perf run, judged by etcdctl's rules when it ends.
    """

    key: str
    spec: BenchSpec
    make_config: ConfigFactory
    profile_name: str = ""
    tags: Sequence[str] = field(default_factory=tuple)
    typed: str | None = None
    check_preset: CheckPerfPreset | None = None


class BenchWorker(QObject):
    """Runs one benchmark at a time in its thread.

    Signals:
        started(str key): the request was accepted and the engine is starting.
        progress(str key, BenchProgress): from the engine's thread, <= 5 per second.
        finished(str key, BenchResult): the run ended (completed, cancelled or stopped).
        judged(str key, CheckPerfResult): a check perf verdict, just before ``finished``.
        failed(str key, str message): the run could not start or raised; nothing ran,
            or the engine already cleaned up what it could.
        exported(str path), exportFailed(str message): an export's outcome (the
            message says what is wrong with the path, or why the write failed).
    """

    started = Signal(str)
    progress = Signal(str, object)
    finished = Signal(str, object)
    judged = Signal(str, object)
    failed = Signal(str, str)
    exported = Signal(str)
    exportFailed = Signal(str)

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._bench: Benchmark | None = None
        self._aborted = False

    @Slot(object)
    def run(self, request: BenchRequest) -> None:
        key = request.key
        try:
            if self._aborted:
                raise BenchError("etcdmon-gui is closing; the benchmark did not start")
            require_confirmation(request.profile_name, request.tags, request.typed)
            config = request.make_config()

            def on_progress(p: BenchProgress) -> None:
                self.progress.emit(key, p)

            bench = Benchmark(config, request.spec, on_progress=on_progress)
            with self._lock:
                self._bench = bench
                if self._aborted:
                    bench.cancel()
            self.started.emit(key)
            result: BenchResult = bench.run()
        except Exception as exc:
            log.info("benchmark of %s failed: %s", key, exc)
            if not isinstance(exc, EtcdError | BenchError | ValueError):
                report_bug(exc, f"the benchmark of {key}")
            self.failed.emit(key, _reason(exc))
            return
        finally:
            with self._lock:
                self._bench = None
        if request.check_preset is not None:
            self.judged.emit(key, judge(request.check_preset, result))
        self.finished.emit(key, result)

    @Slot(str, object, str)
    def export_csv(
        self, path: str, result: BenchResult | CheckPerfResult, what: str = EXPORT_SERIES
    ) -> None:
        """Write the per-second series (``what`` = ``series``, CSV) or the summary
        (``summary``: JSON when ``path`` ends in .json, else CSV). ``result`` may be a
        check perf verdict, whose summary then carries the verdict too."""
        verdict = result if isinstance(result, CheckPerfResult) else None
        run = verdict.result if verdict is not None else result
        assert isinstance(run, BenchResult)
        try:
            if what == EXPORT_SUMMARY:
                text = summary_text(path, run, verdict)
                write_text(path, text, "the summary export")
            else:
                write_text(path, csv_text(run), "the per-second series export")
        except ConfigError as exc:
            self.exportFailed.emit(str(exc))
            return
        self.exported.emit(path)

    # -- safe from any thread ---------------------------------------------------------

    def cancel(self) -> None:
        """Stop the load of the run in progress (its cleanup still runs)."""
        with self._lock:
            bench = self._bench
        if bench is not None:
            bench.cancel()

    def abort(self) -> None:
        """Cancel, and refuse runs still queued (shutdown)."""
        with self._lock:
            self._aborted = True
        self.cancel()


def _reason(exc: Exception) -> str:
    if isinstance(exc, EtcdError | BenchError | ValueError):
        return str(exc)
    if isinstance(exc, OSError):
        return f"{exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else "")
    return f"unexpected {type(exc).__name__}: {exc}"


class BenchHandle(ThreadOwner):
    """The bench worker with its thread, owned by the GUI thread.

    ``busy`` is true from ``run()`` until ``finished``/``failed`` comes back: one
    benchmark at a time across all clusters.

    Signals:
        started, progress, finished, judged, failed, exported, exportFailed: the
            worker's, re-emitted in the GUI thread.
        requestRun(BenchRequest), requestExport(str path, BenchResult or CheckPerfResult,
            str what): queued into the worker's thread.
    """

    started = Signal(str)
    progress = Signal(str, object)
    finished = Signal(str, object)
    judged = Signal(str, object)
    failed = Signal(str, str)
    exported = Signal(str)
    exportFailed = Signal(str)
    requestRun = Signal(object)
    requestExport = Signal(str, object, str)

    def __init__(self, worker: BenchWorker | None = None, parent: QObject | None = None) -> None:
        worker = worker or BenchWorker()
        super().__init__(worker, "bench", parent)
        self.worker = worker
        self.busy_key: str | None = None
        self.relay(
            "started", "progress", "finished", "judged", "failed", "exported", "exportFailed"
        )
        self.requestRun.connect(worker.run)
        self.requestExport.connect(worker.export_csv)
        self.finished.connect(self._idle)
        self.failed.connect(self._idle)

    @property
    def busy(self) -> bool:
        return self.busy_key is not None

    def _idle(self, key: str, *_: object) -> None:
        if key == self.busy_key:
            self.busy_key = None

    def run(self, request: BenchRequest) -> bool:
        """Queue a run; False (and nothing queued) while another one is in progress."""
        if self.busy:
            return False
        if not self.qthread.isRunning():
            self.start()
        self.busy_key = request.key
        self.requestRun.emit(request)
        return True

    def export_csv(
        self, path: str, result: BenchResult | CheckPerfResult, what: str = EXPORT_SERIES
    ) -> None:
        """Queue an export (``what``: ``series`` or ``summary``, see the worker's)."""
        if not self.qthread.isRunning():
            self.start()
        self.requestExport.emit(path, result, what)

    def cancel(self) -> None:
        self.worker.cancel()

    def _interrupt(self) -> None:
        self.worker.abort()
