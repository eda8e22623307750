"""Where code that catches a bug sends it: one process-wide reporter.

A thread that must never die (a worker, the history writer, the notification
dispatcher) catches ``Exception`` around each unit of work; what it did not expect is a
bug, and it calls ``report_bug(exc, where)`` after keeping its own state sound. Without
a reporter installed that only logs the traceback; the desktop app installs its crash
handler (``workers.crash_handler.CrashHandler.install``), which writes a crash report
and tells the user. The core may call this without knowing Qt or the store.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)

#: ``reporter(exc, where)``: must not raise; may be called from any thread.
Reporter = Callable[[BaseException, str], object]

_lock = threading.Lock()
_reporter: Reporter | None = None


def set_reporter(reporter: Reporter | None) -> Reporter | None:
    """Install ``reporter`` (None: log only); returns the one it replaces."""
    global _reporter
    with _lock:
        previous, _reporter = _reporter, reporter
    return previous


def reporter() -> Reporter | None:
    return _reporter


def report_bug(exc: BaseException, where: str, *, logged: bool = False) -> None:
    """Tell the installed reporter about a bug caught in ``where`` (e.g. "the monitor
    of prod"); never raises. Without a reporter the traceback is logged, unless the
    caller says it has ``logged`` it already (scrubbed in its own way, say)."""
    current = _reporter
    if current is not None:
        try:
            current(exc, where)
            return
        except Exception:  # the reporter's own bug must not hide this one
            log.exception("the crash reporter failed")
    if not logged:
        log.error("internal error in %s", where, exc_info=exc)
