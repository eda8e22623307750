"""Unhandled exceptions of the desktop app: written down, shown once, survived.

``CrashHandler.install()`` takes over ``sys.excepthook`` (PySide6 hands it every
exception raised in a slot or a Python override of a virtual method, then returns to
the event loop, so the app keeps running), ``threading.excepthook`` (a Python thread's
uncaught exception; the thread is gone, the app is not) and the process-wide bug
reporter of ``etcdmon_gui.bugs`` (what workers and core threads call from their own
``except Exception`` blocks, then carry on or restart their work).

Each report writes a crash report (``store.logs.write_crash_report``: scrubbed, in the
log folder) and emits ``crashed`` in the handler's (the GUI) thread, queued, whatever
thread reported. The same error (same type, place and traceback) again within
``repeat_window_s`` writes nothing: it is counted and ``repeated`` says so, so an error
storm opens neither a hundred files nor a hundred dialogs. KeyboardInterrupt and
SystemExit go to the previous hooks. A failure inside the handler is printed to stderr
and never comes back into it.

Wiring (``app.py``): ``setup_logging`` first, then ``handler = CrashHandler(app);
handler.install()``; ``crashed``/``repeated`` to ``ui.crash_dialog.CrashDialogs``'
``show_report``/``note_repeat``; ``uninstall()`` at shutdown.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import PySide6
from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot, qVersion

from etcdmon_gui import bugs
from etcdmon_gui.bugs import report_bug as report_bug  # re-exported for the workers
from etcdmon_gui.model.crash import CrashNotice, CrashReport
from etcdmon_gui.scrub import scrub_text
from etcdmon_gui.store.logs import write_crash_report

log = logging.getLogger(__name__)

REPEAT_WINDOW_S = 60.0

Signature = tuple[str, str, tuple[tuple[str, int | None, str], ...]]
SysHook = Callable[[type[BaseException], BaseException, TracebackType | None], object]
ThreadHook = Callable[[threading.ExceptHookArgs], object]


def qt_versions() -> dict[str, str]:
    """What a crash report says about the Qt layer."""
    return {"Qt": qVersion(), "PySide6": PySide6.__version__}


def signature(exc: BaseException, where: str) -> Signature:
    """What makes two errors "the same": type, where, and the traceback's frames (not
    the message, which often carries ids or times)."""
    frames = tuple((f.filename, f.lineno, f.name) for f in traceback.extract_tb(exc.__traceback__))
    kind = f"{type(exc).__module__}.{type(exc).__qualname__}"
    return (kind, where, frames)


@dataclass
class _Seen:
    first: float
    count: int
    report: CrashReport


class CrashHandler(QObject):
    """Reports internal errors from every thread (see the module).

    Signals:
        crashed(CrashNotice): a new crash report was written (or composed, if the disk
            refused); emitted in the handler's thread, queued.
        repeated(CrashNotice): the same error again within the window; ``count`` says
            how many times in all, ``report`` is the first one's. Queued likewise.
    """

    crashed = Signal(object)
    repeated = Signal(object)
    _deliver = Signal(object, bool)

    def __init__(
        self,
        parent: QObject | None = None,
        *,
        directory: Path | None = None,
        versions: Mapping[str, str] | None = None,
        repeat_window_s: float = REPEAT_WINDOW_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(parent)
        self._directory = directory
        self._versions = dict(versions) if versions is not None else qt_versions()
        self._window = repeat_window_s
        self._clock = clock
        self._lock = threading.Lock()
        self._local = threading.local()
        self._seen: dict[Signature, _Seen] = {}
        self._previous_sys: SysHook | None = None
        self._previous_thread: ThreadHook | None = None
        self._previous_reporter: bugs.Reporter | None = None
        self.installed = False
        # Always queued, even from the GUI thread: a dialog never opens inside the
        # excepthook (in the middle of Qt's event dispatch) or in a worker's thread.
        self._deliver.connect(self._on_deliver, Qt.ConnectionType.QueuedConnection)

    # -- hooks -------------------------------------------------------------------------

    def install(self) -> None:
        """Take over ``sys.excepthook``, ``threading.excepthook`` and ``bugs``' reporter."""
        if self.installed:
            return
        self._previous_sys = sys.excepthook
        self._previous_thread = threading.excepthook
        sys.excepthook = self._sys_hook
        threading.excepthook = self._thread_hook
        self._previous_reporter = bugs.set_reporter(self.report)
        self.installed = True

    def uninstall(self) -> None:
        """Give the hooks back (those that are still ours); safe to call twice."""
        if not self.installed:
            return
        self.installed = False
        if sys.excepthook == self._sys_hook and self._previous_sys is not None:
            sys.excepthook = self._previous_sys
        if threading.excepthook == self._thread_hook and self._previous_thread is not None:
            threading.excepthook = self._previous_thread
        if bugs.reporter() == self.report:
            bugs.set_reporter(self._previous_reporter)

    def _sys_hook(
        self, kind: type[BaseException], exc: BaseException, tb: TracebackType | None
    ) -> None:
        if not isinstance(exc, Exception):  # KeyboardInterrupt, SystemExit, ...
            self._pass_on_sys(kind, exc, tb)
            return
        if exc.__traceback__ is None and tb is not None:
            exc = exc.with_traceback(tb)
        thread = _qt_thread_name()
        where = _where_in_gui(tb)
        if thread is not None:
            where = f"{where} in the thread {thread!r}"
        if self.report(exc, where, thread=thread) is None:
            self._pass_on_sys(kind, exc, tb)

    def _thread_hook(self, args: threading.ExceptHookArgs) -> None:
        exc = args.exc_value
        if not isinstance(exc, Exception):
            self._pass_on_thread(args)
            return
        if exc.__traceback__ is None and args.exc_traceback is not None:
            exc = exc.with_traceback(args.exc_traceback)
        name = args.thread.name if args.thread is not None else "an unknown thread"
        if self.report(exc, f"the thread {name!r}", thread=name) is None:
            self._pass_on_thread(args)

    def _pass_on_sys(
        self, kind: type[BaseException], exc: BaseException, tb: TracebackType | None
    ) -> None:
        hook = self._previous_sys or sys.__excepthook__
        hook(kind, exc, tb)

    def _pass_on_thread(self, args: threading.ExceptHookArgs) -> None:
        hook = self._previous_thread or threading.__excepthook__
        hook(args)

    # -- reporting -----------------------------------------------------------------------

    def report(
        self, exc: BaseException, where: str, *, thread: str | None = None
    ) -> CrashNotice | None:
        """Report a bug caught in ``where`` (from any thread); returns what was emitted,
        None if the handler itself failed (said on stderr) or was re-entered."""
        if getattr(self._local, "busy", False):
            _emergency(exc, where, "the crash handler was re-entered")
            return None
        self._local.busy = True
        try:
            return self._report(exc, where, thread)
        except Exception as failure:
            _emergency(exc, where, f"the crash handler failed: {type(failure).__name__}")
            return None
        finally:
            self._local.busy = False

    def _report(self, exc: BaseException, where: str, thread: str | None) -> CrashNotice:
        key = signature(exc, where)
        with self._lock:
            now = self._clock()
            for old in [k for k, s in self._seen.items() if now - s.first >= self._window]:
                del self._seen[old]
            seen = self._seen.get(key)
            if seen is not None:
                seen.count += 1
                notice = CrashNotice(seen.report, where, seen.count)
            else:
                report = write_crash_report(
                    exc,
                    where=where,
                    directory=self._directory,
                    versions=self._versions,
                    thread=thread,
                )
                self._seen[key] = _Seen(now, 1, report)
                notice = CrashNotice(report, where, 1)
        if notice.count == 1:
            log.error(
                "internal error in %s (crash report: %s)",
                where,
                notice.report.path or "not written",
                exc_info=exc,
            )
        elif _worth_a_line(notice.count):
            log.warning(
                "the same internal error in %s again: %d times since its report %s",
                where,
                notice.count,
                notice.report.path or "(not written)",
            )
        self._deliver.emit(notice, notice.count == 1)
        return notice

    @Slot(object, bool)
    def _on_deliver(self, notice: CrashNotice, new: bool) -> None:
        (self.crashed if new else self.repeated).emit(notice)


def _worth_a_line(count: int) -> bool:
    """2, 10, 100, 1000…: a storm shows in the log without filling it."""
    if count == 2:
        return True
    while count >= 10 and count % 10 == 0:
        count //= 10
    return count == 1


def _qt_thread_name() -> str | None:
    """The QThread's name when a slot failed outside the main thread (Python calls
    such threads "Dummy-N"), else None."""
    if threading.current_thread() is threading.main_thread():
        return None
    current = QThread.currentThread()
    name = current.objectName() if current is not None else ""
    return name or threading.current_thread().name


def _where_in_gui(tb: TracebackType | None) -> str:
    """The function Qt called (the traceback's outermost frame), e.g.
    ``MainWindow._on_snapshot (etcdmon_gui.ui.main_window)``."""
    if tb is None:
        return f"the thread {threading.current_thread().name!r}"
    code = tb.tb_frame.f_code
    module = tb.tb_frame.f_globals.get("__name__", "?")
    return f"{code.co_qualname} ({module})"


def _emergency(exc: BaseException, where: str, why: str) -> None:
    """The last resort: a scrubbed traceback on stderr, and nothing that may raise."""
    with contextlib.suppress(Exception):
        stream = sys.__stderr__
        if stream is None:
            return
        text = "".join(traceback.format_exception(exc))
        stream.write(scrub_text(f"etcdmon-gui: {why}; internal error in {where}:\n{text}"))
        stream.flush()
