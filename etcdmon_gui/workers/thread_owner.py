"""The one way a worker gets a thread here: moved to its own QThread, owned from the GUI
thread, stopped once.

``ThreadOwner`` re-emits chosen worker signals in the GUI thread (``relay``), so views
connected to the owner always run there, and ``shutdown`` is idempotent and bounded:
interrupt the worker (close its connections, say), end its thread, wait for it.
"""

from __future__ import annotations

import logging
import time

from PySide6.QtCore import QObject, QThread

log = logging.getLogger(__name__)


class ThreadOwner(QObject):
    def __init__(self, worker: QObject, name: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.qthread = QThread()
        self.qthread.setObjectName(name)
        worker.moveToThread(self.qthread)
        self._owned = worker
        self._down = False

    def relay(self, *names: str) -> None:
        """Connect each named worker signal to this owner's signal of the same name."""
        for name in names:
            getattr(self._owned, name).connect(getattr(self, name))

    def start(self) -> None:
        self.qthread.start()

    def _interrupt(self) -> None:
        """Make the worker's current job end at once (safe from the GUI thread)."""

    def _end_thread(self) -> None:
        """Ask the thread to finish; a worker that cleans up in its thread overrides this."""
        self.qthread.quit()

    def shutdown(self, timeout_s: float = 5.0) -> bool:
        """Stop the worker and wait for its thread; True if it ended in time."""
        if self._down:
            return True
        self._down = True
        self._interrupt()
        self._end_thread()
        t0 = time.monotonic()
        ok = bool(self.qthread.wait(int(timeout_s * 1000)))
        name = self.qthread.objectName()
        if ok:
            log.debug("thread %s stopped in %.3f s", name, time.monotonic() - t0)
        else:
            log.error("thread %s did not stop within %.1f s", name, timeout_s)
        return ok
