"""Internal errors in the desktop app: a slot's exception, a Python thread's, a worker's
bug all reach the crash handler, leave a scrubbed report, show one dialog, and the app
(its event loop, the monitor worker) goes on.

pytest-qt fails a test whose slot raises; these tests raise on purpose, so they turn
that capture off and install the crash handler themselves (given back at teardown).
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType

import pytest
from PySide6.QtCore import QCoreApplication, QObject, QThread, QTimer, Signal, Slot
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication, QPushButton
from pytestqt.qtbot import QtBot

from etcdmon_gui import bugs
from etcdmon_gui.etcd.probe import ClusterProbe
from etcdmon_gui.etcd.sandbox import Sandbox
from etcdmon_gui.model.connection import ConnectionConfig, parse_endpoints
from etcdmon_gui.model.crash import CrashNotice
from etcdmon_gui.model.snapshot import ClusterSnapshot
from etcdmon_gui.monitor.cluster_monitor import ClusterMonitor
from etcdmon_gui.scrub import forget_all_secrets
from etcdmon_gui.store import logs
from etcdmon_gui.store.secrets import SecretStore
from etcdmon_gui.ui.crash_dialog import CrashDialogs, more_text
from etcdmon_gui.workers import crash_handler as crash_module
from etcdmon_gui.workers.crash_handler import CrashHandler
from etcdmon_gui.workers.monitor_worker import MonitorWorker, Sweeper, WorkerHandle

SECRET = "Cr4sh-S3cret-99"

pytestmark = pytest.mark.qt_no_exception_capture


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def log_folder(tmp_path: Path) -> Iterator[Path]:
    root = logging.getLogger()
    level = root.level
    forget_all_secrets()
    SecretStore.memory().set("prod", "password", SECRET)
    folder = tmp_path / "logs"
    logs.setup_logging("INFO", folder, stderr=False)
    yield folder
    logs.remove_logging()
    root.setLevel(level)
    forget_all_secrets()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def handler(qapp: QApplication, log_folder: Path, clock: Clock) -> Iterator[CrashHandler]:
    hooks = (sys.excepthook, threading.excepthook, bugs.reporter())
    crash = CrashHandler(clock=clock)
    crash.install()
    yield crash
    crash.uninstall()
    assert (sys.excepthook, threading.excepthook, bugs.reporter()) == hooks
    crash.deleteLater()


@pytest.fixture
def dialogs(qtbot: QtBot, handler: CrashHandler) -> Iterator[CrashDialogs]:
    holder = CrashDialogs()
    handler.crashed.connect(holder.show_report)
    handler.repeated.connect(holder.note_repeat)
    yield holder
    if holder.dialog is not None:
        holder.dialog.close()


def crash_files(folder: Path) -> list[Path]:
    return logs.crash_reports(folder)


def raise_in_slot(text: str) -> Callable[[], None]:
    def broken_slot() -> None:
        raise RuntimeError(text)

    return broken_slot


def test_an_exception_in_a_slot_is_reported_shown_and_the_loop_goes_on(
    qtbot: QtBot, handler: CrashHandler, dialogs: CrashDialogs, log_folder: Path
) -> None:
    button = QPushButton("crash")
    qtbot.addWidget(button)
    button.clicked.connect(raise_in_slot(f"clicked with password={SECRET}"))
    in_gui_thread: list[bool] = []
    handler.crashed.connect(
        lambda _: in_gui_thread.append(
            QThread.currentThread() == QCoreApplication.instance().thread()
        )
    )
    with qtbot.waitSignal(handler.crashed, timeout=5000) as blocker:
        button.click()
    notice = blocker.args[0]
    assert isinstance(notice, CrashNotice) and notice.count == 1
    assert in_gui_thread == [True]
    assert notice.where.startswith("raise_in_slot.<locals>.broken_slot (")
    assert notice.where.endswith("test_crash_handler)")  # the module of the slot
    report = notice.report
    assert report.path is not None and crash_files(log_folder) == [report.path]
    text = report.path.read_text(encoding="utf-8")
    assert text == report.text
    assert "RuntimeError: clicked with password=***" in text and SECRET not in text
    assert "thread: MainThread" in text and "PySide6: " in text and "Qt: " in text
    log_text = (log_folder / logs.LOG_FILE_NAME).read_text(encoding="utf-8")
    assert f"internal error in {notice.where} (crash report: {report.path})" in log_text
    assert SECRET not in log_text

    qtbot.waitUntil(lambda: dialogs.dialog is not None and dialogs.dialog.isVisible())
    dialog = dialogs.dialog
    assert dialog is not None
    assert dialog.headline.text() == (
        f"etcdmon-gui hit an internal error in {notice.where}. It keeps running; if "
        "something looks wrong, restart it."
    )
    assert dialog.report_line.text() == f"Crash report: {report.path}"
    assert dialog.folder_line.text() == f"Log folder: {log_folder}"
    assert not dialog.details.isVisible()
    dialog.details_button.click()
    assert dialog.details.isVisible() and dialog.details.toPlainText() == report.text
    QGuiApplication.clipboard().clear()
    dialog.copy_button.click()
    assert QGuiApplication.clipboard().text() == report.text
    with qtbot.waitSignal(dialogs.openLogFolderRequested) as opened:
        dialog.open_button.click()
    assert opened.args == [log_folder]

    # The event loop still runs: a timer fires, and a later crash in a timer callback
    # only updates the open dialog.
    timer = QTimer()
    timer.setSingleShot(True)
    with qtbot.waitSignal(timer.timeout, timeout=2000):
        timer.start(0)

    def timer_slot() -> None:  # another bug: a report of its own
        raise ZeroDivisionError("from a timer")

    with qtbot.waitSignal(handler.crashed, timeout=5000):
        QTimer.singleShot(0, timer_slot)
    assert dialogs.dialog is dialog and dialog.more_line.text() == more_text(1)
    assert dialog.more_line.text() == "1 more error since; see the log."
    assert len(crash_files(log_folder)) == 2
    dialog.close_button.click()
    assert dialogs.dialog is None


def test_an_exception_in_a_python_thread_is_reported(
    qtbot: QtBot, handler: CrashHandler, log_folder: Path
) -> None:
    def run() -> None:
        raise KeyError(f"lost {SECRET}")

    worker = threading.Thread(target=run, name="poller-3")
    threads: list[bool] = []
    handler.crashed.connect(
        lambda _: threads.append(QThread.currentThread() == QCoreApplication.instance().thread())
    )
    with qtbot.waitSignal(handler.crashed, timeout=5000) as blocker:
        worker.start()
        worker.join()
    notice = blocker.args[0]
    assert notice.where == "the thread 'poller-3'" and threads == [True]
    assert "thread: poller-3" in notice.report.text
    assert "KeyError: 'lost ***'" in notice.report.text and SECRET not in notice.report.text
    assert crash_files(log_folder) == [notice.report.path]


class Broken(QObject):
    poke = Signal()

    @Slot()
    def fail(self) -> None:
        raise LookupError("a worker slot broke")


def test_an_exception_in_a_qthread_slot_names_the_thread(
    qtbot: QtBot, handler: CrashHandler
) -> None:
    thread = QThread()
    thread.setObjectName("monitor prod")
    worker = Broken()
    worker.moveToThread(thread)
    worker.poke.connect(worker.fail)  # queued into the worker's thread
    thread.start()
    try:
        with qtbot.waitSignal(handler.crashed, timeout=5000) as blocker:
            worker.poke.emit()
    finally:
        thread.quit()
        assert thread.wait(5000)
    notice = blocker.args[0]
    assert notice.where.startswith("Broken.fail (")
    assert notice.where.endswith(" in the thread 'monitor prod'")
    assert "thread: monitor prod" in notice.report.text


def test_the_same_error_again_is_counted_not_reported_again(
    qtbot: QtBot, handler: CrashHandler, dialogs: CrashDialogs, clock: Clock, log_folder: Path
) -> None:
    button = QPushButton("crash")
    qtbot.addWidget(button)
    button.clicked.connect(raise_in_slot("again and again"))
    crashed: list[CrashNotice] = []
    repeated: list[CrashNotice] = []
    handler.crashed.connect(crashed.append)
    handler.repeated.connect(repeated.append)
    for _ in range(5):
        button.click()
        clock.now += 10
    qtbot.waitUntil(lambda: len(repeated) == 4)
    assert len(crashed) == 1 and [n.count for n in repeated] == [2, 3, 4, 5]
    assert all(n.report == crashed[0].report for n in repeated)
    assert len(crash_files(log_folder)) == 1
    dialog = dialogs.dialog
    assert dialog is not None and dialog.more_line.text() == "4 more errors since; see the log."

    # Closed, a repeat opens no dialog; a minute after the first, it is a new report.
    dialog.close()
    button.click()
    qtbot.waitUntil(lambda: len(repeated) == 5)
    assert dialogs.dialog is None
    clock.now += 60
    with qtbot.waitSignal(handler.crashed, timeout=5000):
        button.click()
    assert len(crash_files(log_folder)) == 2 and dialogs.dialog is not None


def test_interrupts_go_to_the_previous_hooks_and_a_failing_handler_does_not_recurse(
    qapp: QApplication,
    log_folder: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    seen: list[type[BaseException]] = []

    def previous(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        seen.append(kind)

    monkeypatch.setattr(sys, "excepthook", previous)
    crash = CrashHandler()
    crash.install()
    try:
        sys.excepthook(KeyboardInterrupt, KeyboardInterrupt(), None)
        sys.excepthook(SystemExit, SystemExit(2), None)
        assert seen == [KeyboardInterrupt, SystemExit]
        assert crash_files(log_folder) == []

        def broken_writer(*args: object, **kwargs: object) -> None:
            raise OSError("the disk is on fire")

        monkeypatch.setattr(crash_module, "write_crash_report", broken_writer)
        try:
            raise ValueError(f"original with {SECRET}")
        except ValueError as exc:
            error = exc
        sys.excepthook(ValueError, error, error.__traceback__)
        assert crash.report(error, "a test") is None
        assert seen[-1] is ValueError  # the handler failed: the previous hook had it
        err = capfd.readouterr().err  # written to the real stderr
        assert "the crash handler failed: OSError; internal error in a test" in err
        assert "ValueError: original with ***" in err and SECRET not in err
    finally:
        crash.uninstall()
        crash.deleteLater()
    assert sys.excepthook is previous


def test_a_bug_in_a_sweep_restarts_the_monitor(
    qtbot: QtBot, handler: CrashHandler, etcd35: Path, log_folder: Path
) -> None:
    sweeps: list[int] = []
    probes: list[ClusterProbe] = []

    class FirstSweepBreaks:
        """A sweeper with a bug in its first sweep, then the real monitor's."""

        def __init__(self, monitor: ClusterMonitor) -> None:
            self.monitor = monitor

        def sweep(self) -> ClusterSnapshot:
            sweeps.append(len(probes))
            if len(sweeps) == 1:
                raise RuntimeError(f"sweeper bug near https://root:{SECRET}@127.0.0.1")
            return self.monitor.sweep()

    with Sandbox(1, binary=etcd35) as cluster:
        config = ConnectionConfig(parse_endpoints(cluster.endpoints_arg), timeout_s=5.0)

        def factory() -> tuple[Sweeper, ClusterProbe]:  # in the worker's thread
            probe = ClusterProbe(config)
            probes.append(probe)
            return FirstSweepBreaks(ClusterMonitor(probe, "sandbox")), probe

        worker = MonitorWorker("sandbox", factory, interval_s=1, report_crash=handler.report)
        handle = WorkerHandle(worker)
        failures: list[tuple[str, str]] = []
        handle.sweepFailed.connect(lambda key, text: failures.append((key, text)))
        try:
            with qtbot.waitSignal(handler.crashed, timeout=10_000) as crashed:
                handle.start()
            with qtbot.waitSignal(handle.snapshotReady, timeout=20_000) as got:
                pass
        finally:
            assert handle.shutdown()
    notice = crashed.args[0]
    assert notice.where == "the monitor of sandbox"
    assert notice.report.path is not None and "RuntimeError: sweeper bug" in notice.report.text
    assert SECRET not in notice.report.text
    assert failures[0] == (
        "sandbox",
        "internal error: RuntimeError: sweeper bug near https://root:***@127.0.0.1; "
        "the monitor was restarted",
    )
    snap = got.args[0]
    assert isinstance(snap, ClusterSnapshot) and snap.key == "sandbox" and snap.has_quorum
    assert worker.restarts == 1 and len(probes) == 2 and sweeps[:2] == [1, 2]
    assert probes[0]._closed  # the dropped monitor's connections were closed
