"""The benchmark dialog of one cluster: parameters, a live view while it runs, results.

The dialog only collects a ``BenchSpec`` and renders what comes back. It asks for a run
with ``startRequested``, for a stop with ``cancelRequested`` and for a file with
``exportRequested`` (the per-second series as CSV, or the summary as CSV or JSON); the
composition root sends those to the bench worker and connects the worker's answers to
the ``show_*`` slots. Answers for another cluster are ignored.

The pages are widgets of their own: ``BenchForm`` (the parameters and presets),
``BenchLiveWidget`` (progress and live charts), ``BenchResultsWidget`` (results, compared
with the earlier runs of the same cluster). This module holds the run's state and the
buttons. The comparison lists this session's runs and those the history kept, earlier
sessions' included: shown, the dialog asks for them (``storedRunsRequested``); a run of
this session is listed once, stored or not yet. Before the first run of a session the
idle page lists the stored ones.

Signals:
    startRequested(BenchSpec, CheckPerfPreset | None, str typed_confirmation)
    cancelRequested()
    exportRequested(str path, BenchResult | CheckPerfResult, str what): ``what`` is
        ``EXPORT_SERIES`` or ``EXPORT_SUMMARY``; a check perf run's summary is asked for
        with its verdict, so the file carries PASS/FAIL too
    storedRunsRequested(str key): the cluster's runs the history kept, newest first;
        answer with ``show_stored_runs`` or ``show_stored_runs_failed``
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QCloseEvent, QShowEvent
from PySide6.QtWidgets import (
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from etcdmon_gui.formatting import fmt_elapsed
from etcdmon_gui.model.bench import (
    EXPORT_SERIES,
    EXPORT_SUMMARY,
    BenchProgress,
    BenchResult,
    BenchSpec,
    CheckPerfResult,
)
from etcdmon_gui.model.history import BenchRunRecord
from etcdmon_gui.ui.bench_form import BenchForm, CheckPerfChoices
from etcdmon_gui.ui.bench_live_widget import BenchLiveWidget
from etcdmon_gui.ui.bench_results_widget import (
    BenchResultsWidget,
    ComparedRun,
    RunComparison,
    cleanup_text,
    compared_runs,
)
from etcdmon_gui.ui.palette import FAIL_COLOUR

__all__ = ["BenchDialog", "CheckPerfChoices"]

# file dialog filter -> (what to export, the suffix the name should have)
_EXPORT_FILTERS = {
    "Per-second series, CSV (*.csv)": (EXPORT_SERIES, ".csv"),
    "Summary: settings and figures, CSV (*.csv)": (EXPORT_SUMMARY, ".csv"),
    "Summary: settings and figures, JSON (*.json)": (EXPORT_SUMMARY, ".json"),
}


class BenchDialog(QDialog):
    startRequested = Signal(object, object, str)
    cancelRequested = Signal()
    exportRequested = Signal(str, object, str)
    storedRunsRequested = Signal(str)

    def __init__(
        self,
        key: str,
        title: str,
        check_perf: CheckPerfChoices,
        production_name: str | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.key = key
        self.cluster_title = title
        self.running = False
        self._cancelling = False
        self.results: list[BenchResult] = []  # every run of this cluster, oldest first
        self.verdict: CheckPerfResult | None = None
        self._pending_verdict: CheckPerfResult | None = None
        self._verdicts: dict[float, CheckPerfResult] = {}  # started_at -> its verdict
        self.stored_runs: list[BenchRunRecord] = []  # the history's, newest first
        self._runs_note = ""  # why the stored runs are missing
        self.setWindowTitle(f"Benchmark — {title}")
        self.setSizeGripEnabled(True)
        self.resize(1180, 780)

        self.form = BenchForm(check_perf, production_name)
        self.stack = QStackedWidget()
        self.idle_hint = QLabel(
            "Choose a workload and its parameters, then press Start.\n\n"
            "Keys are written under a dedicated prefix that must be empty; they are "
            "deleted when the run ends, even after Cancel. The cluster's history is "
            "compacted only when you tick the box (it is cluster-wide).",
            alignment=Qt.AlignmentFlag.AlignCenter,
        )
        self.idle_hint.setWordWrap(True)
        self.idle_hint.setMargin(24)
        self.earlier_runs = RunComparison("Earlier runs on this cluster")
        self.earlier_runs.setVisible(False)
        self.idle_page = QWidget()
        idle = QVBoxLayout(self.idle_page)
        idle.addStretch(1)
        idle.addWidget(self.idle_hint)
        idle.addWidget(self.earlier_runs)
        idle.addStretch(1)
        self.live_page = BenchLiveWidget()
        self.results_page = BenchResultsWidget()
        for page in (self.idle_page, self.live_page, self.results_page):
            self.stack.addWidget(page)

        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.export_button = QPushButton("Export…")
        self.export_button.setToolTip(
            "Save the per-second series (CSV), or a summary of the settings and every "
            "figure (CSV or JSON)"
        )
        self.export_button.setEnabled(False)
        self.export_button.clicked.connect(self._ask_export)
        self.start_button = QPushButton("Start")
        self.start_button.setDefault(True)
        self.start_button.clicked.connect(self.start)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip(
            "Stop the load within a second; the keys written are still deleted"
        )
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        self.close_button = QPushButton("Close")
        self.close_button.setAutoDefault(False)
        self.close_button.clicked.connect(self.close)
        buttons = QHBoxLayout()
        buttons.addWidget(self.status, 1)
        for b in (self.export_button, self.start_button, self.cancel_button, self.close_button):
            buttons.addWidget(b)

        body = QHBoxLayout()
        body.addWidget(self.form)
        body.addWidget(self.stack, 1)
        lay = QVBoxLayout(self)
        lay.addLayout(body, 1)
        lay.addLayout(buttons)

    # ------------------------------------------------------------------ the form

    def select(self, choice: str) -> None:
        """Choose a preset by name: a workload (``put``) or ``check perf s``..."""
        self.form.select(choice)

    def spec(self) -> BenchSpec:
        """The run the form describes."""
        return self.form.spec()

    # ------------------------------------------------------------------ actions

    @Slot()
    def start(self) -> None:
        if self.running:
            return
        self._pending_verdict = None
        self.startRequested.emit(self.spec(), self.form.check_perf_preset, self.form.confirm.text())

    @Slot()
    def cancel(self) -> None:
        if not self.running or self._cancelling:
            return
        self._cancelling = True
        self.cancel_button.setEnabled(False)
        self.live_page.phase_label.setText("Cancelling…")
        self._set_status(
            "Cancelling: the load stops within a second; the benchmark's keys are then deleted."
        )
        self.cancelRequested.emit()

    def export_to(self, path: str, what: str = EXPORT_SERIES) -> None:
        """Export the newest result (the worker checks the path and writes the file)."""
        if not self.results:
            return
        r = self.results[-1]
        verdict = self.verdict if self.verdict is not None and self.verdict.result is r else None
        subject: BenchResult | CheckPerfResult = (
            verdict if what == EXPORT_SUMMARY and verdict is not None else r
        )
        self.exportRequested.emit(path, subject, what)
        self._set_status(f"Exporting to {path}…")

    @Slot()
    def _ask_export(self) -> None:
        if not self.results:
            return
        r = self.results[-1]
        stamp = datetime.fromtimestamp(r.started_at).strftime("%Y%m%d-%H%M%S")
        path, chosen = QFileDialog.getSaveFileName(
            self,
            "Export the result",
            f"bench-{r.spec.workload.value}-{stamp}.csv",
            ";;".join(_EXPORT_FILTERS),
        )
        if not path:
            return
        what, suffix = _EXPORT_FILTERS.get(chosen, (EXPORT_SERIES, ".csv"))
        if suffix == ".json" and not path.lower().endswith(".json"):
            path += ".json"
        self.export_to(path, what)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.storedRunsRequested.emit(self.key)

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.running:
            self.cancel()  # closing never leaves load running unseen
        super().closeEvent(event)

    def _set_running(self, running: bool) -> None:
        self.running = running
        self.start_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        self.form.setEnabled(not running)
        self.export_button.setEnabled(not running and bool(self.results))

    def _set_status(self, text: str, error: bool = False) -> None:
        self.status.setStyleSheet(f"color: {FAIL_COLOUR};" if error else "")
        self.status.setText(text)

    # ------------------------------------------------------------------ answers

    @Slot(str)
    def show_refused(self, message: str) -> None:
        """The run was not queued (another one is in progress, no config...)."""
        self._set_status(message, error=True)

    @Slot(str)
    def show_queued(self, key: str) -> None:
        """The run was handed to the worker: show the live page at once."""
        if key != self.key:
            return
        self._cancelling = False
        self.live_page.reset()
        self._set_running(True)
        self.stack.setCurrentWidget(self.live_page)
        self._set_status("Connecting, checking alarms and that the prefix is empty…")

    @Slot(str)
    def show_started(self, key: str) -> None:
        if key == self.key and not self._cancelling:
            self._set_status("Running. Cancel stops the load within a second.")

    @Slot(str, object)
    def show_progress(self, key: str, p: BenchProgress) -> None:
        if key == self.key and self.running:
            self.live_page.show_progress(p, self._cancelling)

    @Slot(str, object)
    def show_verdict(self, key: str, verdict: CheckPerfResult) -> None:
        if key == self.key:
            self._pending_verdict = verdict

    @Slot(str, object)
    def show_result(self, key: str, r: BenchResult) -> None:
        if key != self.key:
            return
        self.live_page.redraw()
        self.results.append(r)
        self.verdict = self._pending_verdict
        self._pending_verdict = None
        if self.verdict is not None:
            self._verdicts[r.started_at] = self.verdict
        self._set_running(False)
        self._cancelling = False
        self.results_page.show_result(r, self.verdict, self.compared_runs(), self._runs_note)
        self.stack.setCurrentWidget(self.results_page)
        if r.cancelled:
            self._set_status(f"Cancelled. {cleanup_text(r)}")
        elif r.stop_reason:
            self._set_status(f"Stopped early: {r.stop_reason}", error=True)
        else:
            self._set_status(f"Finished in {fmt_elapsed(r.duration_s)}. {cleanup_text(r)}")

    @Slot(str, str)
    def show_failed(self, key: str, message: str) -> None:
        if key != self.key:
            return
        self._set_running(False)
        self._cancelling = False
        if self.stack.currentWidget() is self.live_page:
            self.stack.setCurrentWidget(self.results_page if self.results else self.idle_page)
        self._set_status(f"The benchmark did not run: {message}", error=True)

    @Slot(object)
    def show_stored_runs(self, runs: Sequence[BenchRunRecord]) -> None:
        """The history's runs of this cluster (newest first)."""
        self.stored_runs = [r for r in runs if r.cluster == self.key]
        self._runs_note = ""
        self._show_runs()

    @Slot(str)
    def show_stored_runs_failed(self, message: str) -> None:
        """The history could not be read: the comparison lists this session's runs."""
        self._runs_note = f"Runs of earlier sessions are not shown: {message}"
        self._show_runs()

    def compared_runs(self) -> list[ComparedRun]:
        """This session's runs and the stored ones, each once, the newest first."""
        session = [(r, self._verdicts.get(r.started_at)) for r in self.results]
        return compared_runs(session, self.stored_runs)

    def _show_runs(self) -> None:
        runs = self.compared_runs()
        self.results_page.show_runs(runs, self._runs_note)
        self.earlier_runs.show_runs(runs, None, self._runs_note)
        self.earlier_runs.setVisible(bool(runs or self._runs_note))

    @Slot(str)
    def show_exported(self, path: str) -> None:
        self._set_status(f"Exported to {path}")

    @Slot(str)
    def show_export_failed(self, message: str) -> None:
        self._set_status(f"Export failed: {message}", error=True)
