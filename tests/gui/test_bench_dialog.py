"""The benchmark dialog, offscreen, over the whole application and a real 3-member
sandbox: runs, live progress, cancel with cleanup, comparison, CSV export and the
production confirmation."""

from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path

from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from etcdmon_gui.app import Application
from etcdmon_gui.etcd.sandbox import Sandbox
from etcdmon_gui.model.bench import EXPORT_SUMMARY, BenchProgress, BenchResult, Phase
from etcdmon_gui.model.connection import ConnectionConfig, parse_endpoints
from etcdmon_gui.model.profile import Profile
from etcdmon_gui.ui.bench_dialog import BenchDialog

# The offscreen platform cannot raise a window; showing a dialog asks it to.
RUN_TIMEOUT_MS = 60_000


def grab(dialog: BenchDialog) -> QPixmap:
    """The dialog as drawn once pending layout requests are handled."""
    QApplication.processEvents()
    return dialog.grab()


def open_dialog(app: Application, qtbot: QtBot, cluster: Sandbox) -> BenchDialog:
    app.watch_config(ConnectionConfig(parse_endpoints(cluster.endpoints_arg)), "sandbox")
    app.window.benchmark_action.trigger()
    dialog = app.bench_dialogs.get(app.window.current_key() or "")
    assert dialog is not None and dialog.isVisible()
    qtbot.addWidget(dialog)
    return dialog


def run(app: Application, qtbot: QtBot, dialog: BenchDialog) -> BenchResult:
    with qtbot.waitSignal(app.bench.finished, timeout=RUN_TIMEOUT_MS) as blocker:
        dialog.start_button.click()
        assert dialog.running and not dialog.start_button.isEnabled()
    result: BenchResult = blocker.args[1]
    return result


def test_put_runs_show_results_compare_and_export(
    app: Application, qtbot: QtBot, cluster: Sandbox, tmp_path: Path
) -> None:
    dialog = open_dialog(app, qtbot, cluster)
    dialog.select("put")
    dialog.form.clients.setValue(20)
    dialog.form.conns.setValue(4)
    dialog.form.total.setValue(2000)
    first = run(app, qtbot, dialog)

    assert dialog.stack.currentWidget() is dialog.results_page
    assert not dialog.running and dialog.start_button.isEnabled()
    assert first.total == 2000 and first.errors == 0 and first.requests_per_s > 0
    assert first.cleanup.deleted > 0 and first.cleanup.error is None
    shown_rps = float(
        dialog.results_page.summary_values["Requests/s"]
        .text()
        .removeprefix("<b>")
        .removesuffix("</b>")
        .replace(",", "")
    )
    assert shown_rps > 0
    rows = dialog.results_page.percentile_rows()
    assert [name for name, _ in rows] == ["p10", "p25", "p50", "p75", "p90", "p95", "p99", "p99.9"]
    assert all(value.endswith(" ms") for _, value in rows)
    assert dialog.results_page.comparison_rows()[0][1] == "put"
    assert "deleted" in dialog.status.text()

    # A second run (another workload) is compared with the first.
    dialog.select("txn-put")
    dialog.form.total.setValue(500)
    second = run(app, qtbot, dialog)
    assert second.spec.workload.value == "txn-put"
    table = dialog.results_page.comparison_rows()
    assert len(table) == 2
    assert table[0][1] == "txn-put" and "(this run)" in table[0][0]
    assert table[1][1] == "put" and table[1][4] == f"{first.requests_per_s:,.1f}"

    # The CSV is written by the worker, not the GUI thread.
    target = tmp_path / "series.csv"
    with qtbot.waitSignal(app.bench.exported, timeout=10_000):
        dialog.export_to(str(target))
    assert target.read_text().startswith("UNIX-SECOND,MIN-LATENCY-MS")
    assert str(target) in dialog.status.text()

    # The summary: the settings and every figure, CSV (one header row) or JSON.
    summary_csv = tmp_path / "summary.csv"
    with qtbot.waitSignal(app.bench.exported, timeout=10_000):
        dialog.export_to(str(summary_csv), EXPORT_SUMMARY)
    header, values = list(csv.reader(io.StringIO(summary_csv.read_text(), newline="")))
    row = dict(zip(header, values, strict=True))
    assert row["workload"] == "txn-put" and int(row["total_requests"]) == 500
    assert float(row["requests_per_s"]) == round(second.requests_per_s, 3)
    assert all(f"latency_{p}_ms" in row for p in ("p10", "p50", "p99", "p999", "max"))
    summary_json = tmp_path / "summary.json"
    with qtbot.waitSignal(app.bench.exported, timeout=10_000):
        dialog.export_to(str(summary_json), EXPORT_SUMMARY)
    data = json.loads(summary_json.read_text())
    assert data["settings"]["txn_ops"] == 4 and data["total"] == 500 and "series" not in data

    # A path that cannot be written is refused with the reason, leaving nothing behind.
    (tmp_path / "folder").mkdir()
    before = sorted(p.name for p in tmp_path.iterdir())
    for bad, reason in (
        (tmp_path / "folder", "is a directory; give a file name in it"),
        (tmp_path / "missing" / "x.csv", "does not exist; create it first"),
    ):
        with qtbot.waitSignal(app.bench.exportFailed, timeout=10_000) as failed:
            dialog.export_to(str(bad), EXPORT_SUMMARY)
        assert reason in failed.args[0] and reason in dialog.status.text()
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert list((tmp_path / "folder").iterdir()) == []

    dialog.resize(1180, 860)
    assert grab(dialog).save("/tmp/bench_dialog_results.png")


def test_progress_arrives_and_cancel_ends_the_run_with_cleanup(
    app: Application, qtbot: QtBot, cluster: Sandbox
) -> None:
    dialog = open_dialog(app, qtbot, cluster)
    dialog.select("put")
    assert not dialog.form.compact.isChecked() and not dialog.spec().compact
    dialog.form.limit_mode.setCurrentIndex(1)
    dialog.form.duration.setValue(60)
    dialog.form.clients.setValue(20)
    dialog.form.conns.setValue(4)
    reports: list[BenchProgress] = []
    app.bench.progress.connect(lambda _key, p: reports.append(p))

    dialog.start_button.click()
    assert dialog.stack.currentWidget() is dialog.live_page
    qtbot.waitUntil(
        lambda: sum(p.phase is Phase.RUNNING and p.done > 0 for p in reports) >= 3, timeout=15_000
    )
    live = dialog.live_page
    assert live.progress.value() > 0 and "requests" in live.progress.format()
    assert "elapsed" in live.eta_label.text() and "left" in live.eta_label.text()
    assert "requests/s" in live.numbers.text()
    qtbot.waitUntil(lambda: live.series.n >= 2, timeout=5_000)
    qtbot.waitUntil(
        lambda: live.rps_curve.getData()[0] is not None and len(live.rps_curve.getData()[0]) >= 2,
        timeout=2_000,
    )
    assert grab(dialog).save("/tmp/bench_dialog_live.png")

    t0 = time.monotonic()
    with qtbot.waitSignal(app.bench.finished, timeout=10_000) as blocker:
        dialog.cancel_button.click()
        assert "Cancelling" in dialog.status.text()
    took = time.monotonic() - t0
    result: BenchResult = blocker.args[1]
    assert took < 3.0, f"cancel took {took:.1f} s"
    assert result.cancelled and result.cleanup.error is None
    assert result.cleanup.deleted > 0 and result.cleanup.compacted_revision is None
    assert dialog.status.text().startswith("Cancelled.")
    assert f"deleted {result.cleanup.deleted:,} keys" in dialog.status.text()
    assert "Cancelled" in dialog.results_page.notice.text()
    assert not dialog.running and dialog.start_button.isEnabled()


def test_check_perf_s_is_judged_pass_or_fail_with_reasons(
    app: Application, qtbot: QtBot, cluster: Sandbox, tmp_path: Path
) -> None:
    dialog = open_dialog(app, qtbot, cluster)
    dialog.select("check perf s")
    spec = dialog.spec()
    assert (spec.clients, spec.conns, spec.rate, spec.key_size, spec.val_size) == (
        50,
        50,
        150.0,
        256,
        1024,
    )
    assert spec.duration_s == 60 and spec.random_keys and not spec.compact
    dialog.form.duration.setValue(3)  # shortened for the test
    with qtbot.waitSignal(app.bench.judged, timeout=RUN_TIMEOUT_MS) as judged:
        result = run(app, qtbot, dialog)
    verdict = judged.args[1]
    assert verdict.result is result and dialog.verdict is verdict
    assert dialog.results_page.verdict_badge.text() == ("PASS" if verdict.passed else "FAIL")
    assert dialog.results_page.check_box.isVisible()
    assert "Throughput" in dialog.results_page.check_lines.text()
    assert dialog.results_page.comparison_rows()[0][1] == "check perf s"
    assert grab(dialog).save("/tmp/bench_dialog_checkperf.png")
    target = tmp_path / "check.json"
    with qtbot.waitSignal(app.bench.exported, timeout=10_000):
        dialog.export_to(str(target), EXPORT_SUMMARY)
    data = json.loads(target.read_text())
    assert (data["load"], data["passed"]) == ("s", verdict.passed)
    assert data["lines"] == [line.text for line in verdict.lines]


def test_a_production_profile_needs_its_typed_name(
    app: Application, qtbot: QtBot, cluster: Sandbox
) -> None:
    profile = Profile(name="prod-eu", endpoints=cluster.endpoints, tags=["production"])
    app.connect_profile(profile)
    dialog = app.show_benchmark()
    assert dialog is not None and dialog.form.confirm.isVisible()
    qtbot.addWidget(dialog)
    dialog.form.total.setValue(300)

    for typed in ("", "prod"):
        dialog.form.confirm.setText(typed)
        with qtbot.waitSignal(app.bench.failed, timeout=10_000) as blocker:
            dialog.start_button.click()
        assert "tagged production" in blocker.args[1]
        assert "tagged production" in dialog.status.text()
        assert dialog.results == [] and not dialog.running

    dialog.form.confirm.setText("prod-eu")
    result = run(app, qtbot, dialog)
    assert result.total == 300 and result.errors == 0


def test_benchmark_without_a_cluster_is_refused(app: Application) -> None:
    assert not app.window.benchmark_action.isEnabled()  # the menu offers nothing to load
    assert app.show_benchmark() is None  # and asked anyway (a shortcut, a script), it says why
    assert app.bench_dialogs == {}
    assert "No cluster is shown" in app.window.statusBar().currentMessage()


def test_shutdown_during_a_run_cancels_it_and_stops_the_thread(
    app: Application, qtbot: QtBot, cluster: Sandbox
) -> None:
    dialog = open_dialog(app, qtbot, cluster)
    dialog.form.limit_mode.setCurrentIndex(1)
    dialog.form.duration.setValue(60)
    with qtbot.waitSignal(
        app.bench.progress, timeout=15_000, check_params_cb=lambda _k, p: p.phase is Phase.RUNNING
    ):
        dialog.start_button.click()
    t0 = time.monotonic()
    app.shutdown()
    assert not app.bench.qthread.isRunning()
    assert time.monotonic() - t0 < 5.0


def test_compaction_is_a_choice_with_its_reason(
    app: Application, qtbot: QtBot, cluster: Sandbox
) -> None:
    """Off by default for every workload; ticked, the run compacts the history."""
    dialog = open_dialog(app, qtbot, cluster)
    tip = dialog.form.compact.toolTip()
    assert "cluster-wide" in tip and "watches" in tip
    for choice in ("put", "txn-put", "txn-mixed", "watch-latency", "check perf s"):
        dialog.select(choice)
        assert not dialog.form.compact.isChecked() and not dialog.spec().compact, choice
    dialog.select("range")
    assert dialog.form.compact.isHidden()  # reads write nothing to compact away
    dialog.select("put")
    dialog.form.total.setValue(300)
    dialog.form.compact.setChecked(True)
    assert dialog.spec().compact
    result = run(app, qtbot, dialog)
    assert result.cleanup.compacted_revision is not None
    assert f"compacted at revision {result.cleanup.compacted_revision}" in dialog.status.text()
