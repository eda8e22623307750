"""Starting and stopping the local sandbox cluster off the GUI thread."""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, QThread, Signal, Slot

from etcdmon_gui.etcd.sandbox import GentleLoad, Sandbox

log = logging.getLogger(__name__)


class SandboxWorker(QObject):
    """Starts an N-member sandbox plus a gentle load, in its own thread.

    Signals:
        ready(list[str] endpoints, str version)
        failed(str message)
    """

    ready = Signal(list, str)
    failed = Signal(str)

    def __init__(self, members: int = 3) -> None:
        super().__init__()
        self.members = members
        self.sandbox: Sandbox | None = None
        self.load: GentleLoad | None = None
        self.qthread = QThread()
        self.qthread.setObjectName("sandbox")
        self.moveToThread(self.qthread)
        self.qthread.started.connect(self._start)

    def start(self) -> None:
        self.qthread.start()

    @Slot()
    def _start(self) -> None:
        try:
            self.sandbox = Sandbox(self.members).start()
            self.load = GentleLoad(self.sandbox).start()
        except Exception as exc:  # reported, never lost
            log.warning("sandbox failed to start: %s", exc)
            self.failed.emit(str(exc))
        else:
            self.ready.emit(self.sandbox.endpoints, self.sandbox.version)
        finally:
            self.qthread.quit()

    def shutdown(self) -> None:
        """Wait for start-up to end, then stop the load and the cluster. Idempotent."""
        self.qthread.wait()
        if self.load is not None:
            self.load.stop()
            self.load = None
        if self.sandbox is not None:
            self.sandbox.stop()
            self.sandbox = None
