"""The benchmark dialog's comparison over the history, offscreen, through the whole
application: runs an earlier session stored are listed (before any run, and beside this
session's, each run once), and a history that cannot be read says so."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from etcdmon_gui.app import Application
from etcdmon_gui.etcd.sandbox import Sandbox
from etcdmon_gui.formatting import fmt_time
from etcdmon_gui.model.bench import BenchResult
from etcdmon_gui.model.connection import ConnectionConfig, parse_endpoints
from etcdmon_gui.model.history import BenchRunRecord
from etcdmon_gui.store.history.db import connect
from etcdmon_gui.store.history.metrics import save_bench_run
from etcdmon_gui.ui.bench_dialog import BenchDialog
from tests.app_support import make_app

RUN_TIMEOUT_MS = 60_000
DAY = 86_400.0
NOBODY = "http://127.0.0.1:9"  # refused: the monitor fails, the dialog still opens


def stored_run(
    cluster: str,
    started_at: float,
    workload: str,
    requests_per_s: float,
    *,
    label: str = "",
    verdict: str | None = None,
) -> BenchRunRecord:
    return BenchRunRecord(
        id=0,
        cluster=cluster,
        cluster_name="earlier",
        started_at=started_at,
        label=label,
        workload=workload,
        requests_per_s=requests_per_s,
        p50_ms=1.25,
        p99_ms=14.5,
        errors=3,
        verdict=verdict,
        summary={"clients": 10, "conns": 2, "total_requests": 5000},
    )


def save_runs(path: Path, runs: Sequence[BenchRunRecord]) -> None:
    """What an earlier session's history writer left in the file."""
    db = connect(path)
    try:
        with db:
            for run in runs:
                save_bench_run(db, run)
    finally:
        db.close()


def open_dialog(app: Application, qtbot: QtBot, endpoints: str) -> BenchDialog:
    config = ConnectionConfig(parse_endpoints(endpoints))
    app.watch_config(config, "sandbox")
    with qtbot.waitSignal(  # the stored runs, asked when shown
        app.history.done, timeout=5000, check_params_cb=lambda tag, _runs: "bench-runs" in tag
    ):
        dialog = app.show_benchmark(config.key)
    assert dialog is not None
    qtbot.addWidget(dialog)
    return dialog


def test_runs_of_an_earlier_session_are_listed_before_any_run(
    qapp: QApplication, qtbot: QtBot, tmp_path: Path
) -> None:
    key = ConnectionConfig(parse_endpoints(NOBODY)).key
    now = time.time()
    save_runs(
        tmp_path / "history.sqlite3",
        [
            stored_run(key, now - 2 * DAY, "put", 12_345.6),
            stored_run(key, now - DAY, "put", 9_000.0, label="check perf s", verdict="FAIL"),
            stored_run("http://elsewhere:2379", now - DAY / 2, "range", 50_000.0),
        ],
    )
    app = make_app(qapp, qtbot, tmp_path)
    try:
        dialog = open_dialog(app, qtbot, NOBODY)
        assert dialog.stack.currentWidget() is dialog.idle_page
        qtbot.waitUntil(dialog.earlier_runs.isVisible, timeout=5000)
        assert dialog.earlier_runs.rows() == [
            [
                fmt_time(now - DAY, time.time()),
                "check perf s",
                "10 / 2",
                "5,000",
                "9,000.0",
                "1.25 ms",
                "14.5 ms",
                "3",
                "FAIL",
            ],
            [
                fmt_time(now - 2 * DAY, time.time()),
                "put",
                "10 / 2",
                "5,000",
                "12,345.6",
                "1.25 ms",
                "14.5 ms",
                "3",
                "",
            ],
        ]
        assert dialog.results_page.comparison_rows() == dialog.earlier_runs.rows()
        assert not dialog.earlier_runs.note.isVisible()
        QApplication.processEvents()
        assert dialog.grab().save("/tmp/bench_dialog_earlier_runs.png")
    finally:
        app.shutdown()


def test_a_run_is_listed_once_beside_the_stored_ones(
    qapp: QApplication, qtbot: QtBot, tmp_path: Path, cluster: Sandbox
) -> None:
    key = ConnectionConfig(parse_endpoints(cluster.endpoints_arg)).key
    now = time.time()
    save_runs(
        tmp_path / "history.sqlite3",
        [
            stored_run(key, now - 3 * DAY, "put", 1_000.0),
            stored_run(key, now - DAY, "txn-put", 2_000.0),
        ],
    )
    app = make_app(qapp, qtbot, tmp_path)
    try:
        dialog = open_dialog(app, qtbot, cluster.endpoints_arg)
        qtbot.waitUntil(lambda: len(dialog.stored_runs) == 2, timeout=5000)
        dialog.select("put")
        dialog.form.total.setValue(300)
        with qtbot.waitSignal(app.bench.finished, timeout=RUN_TIMEOUT_MS) as finished:
            dialog.start_button.click()
        result: BenchResult = finished.args[1]

        table = dialog.results_page.comparison_rows()
        assert [row[1] for row in table] == ["put", "txn-put", "put"]
        assert "(this run)" in table[0][0] and table[0][3] == "300"
        assert table[1][4] == "2,000.0" and table[2][4] == "1,000.0"

        # Written by the history since: asked again, it is still listed once.
        assert app.history.writer.flush()
        dialog.hide()
        dialog.show()
        qtbot.waitUntil(lambda: len(dialog.stored_runs) == 3, timeout=5000)
        assert dialog.stored_runs[0].started_at == result.started_at
        table = dialog.results_page.comparison_rows()
        assert [row[1] for row in table] == ["put", "txn-put", "put"]
        assert "(this run)" in table[0][0]
        QApplication.processEvents()
        assert dialog.grab().save("/tmp/bench_dialog_history.png")
    finally:
        app.shutdown()


def test_a_history_that_cannot_be_read_leaves_a_note(
    qapp: QApplication, qtbot: QtBot, tmp_path: Path
) -> None:
    (tmp_path / "history.sqlite3").write_bytes(b"not a database at all " * 100)
    app = make_app(qapp, qtbot, tmp_path)
    try:
        config = ConnectionConfig(parse_endpoints(NOBODY))
        app.watch_config(config, "nobody")
        with qtbot.waitSignal(
            app.history.failed, timeout=5000, check_params_cb=lambda tag, _: "bench-runs" in tag
        ):
            dialog = app.show_benchmark(config.key)
        assert dialog is not None
        qtbot.addWidget(dialog)
        assert dialog.earlier_runs.isVisible()
        assert dialog.earlier_runs.rows() == []
        note = dialog.earlier_runs.note
        assert note.isVisible() and note.text().startswith(
            "Runs of earlier sessions are not shown:"
        )
        assert "history.sqlite3" in note.text()
    finally:
        app.shutdown()
