"""File → Export…, offscreen, through the whole application over a history file an
earlier session filled (tests/history_data.py): the clusters and the preview count
arrive, metrics and alerts are written (exact header, as many rows as the preview
said), a big export cancelled (by Cancel or by closing the dialog) leaves no file, and
a destination that is a directory says so. Plus the dialog's own rules, without the
application: what metrics refuse, the default file name, the file chooser."""

from __future__ import annotations

import csv
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QFileDialog
from pytestqt.qtbot import QtBot

from etcdmon_gui.app import Application
from etcdmon_gui.model.history import (
    CLUSTER_WIDE,
    Aggregate,
    ClusterRecord,
    MemberRecord,
    MemberRole,
    ReportKind,
)
from etcdmon_gui.monitor.history_signals import SIGNALS
from etcdmon_gui.ui.export_dialog import (
    CANCELLED_TEXT,
    ExportDialog,
    ExportRequest,
    default_file_name,
)
from etcdmon_gui.ui.palette import ERROR_COLOUR
from tests.app_support import make_app
from tests.history_data import KEY, M1, M1_NAME, M2, M2_NAME, NAME, fill

TIMEOUT_MS = 10_000
METRICS_HEADER = [
    "time_utc",
    "cluster",
    "cluster_name",
    "member_id",
    "member_name",
    "up",
    "db_size_bytes",
    "wal_fsync_p99_ms",
    "verdict",
    "members",
]
ALERTS_HEADER = [
    "time_utc",
    "event",
    "cluster",
    "cluster_name",
    "rule",
    "severity",
    "member",
    "state",
    "value",
    "summary",
    "since_utc",
    "fired_at_utc",
    "resolved_at_utc",
    "acknowledged",
    "silenced",
    "silence_reason",
    "fingerprint",
]


def t0() -> float:
    """An hour ago, 10 s into its minute: both sweeps of the fill in one minute."""
    return (time.time() - 3600) // 60 * 60 + 10


@pytest.fixture
def history_app(qapp: QApplication, qtbot: QtBot, tmp_path: Path) -> Iterator[Application]:
    fill(tmp_path / "history.sqlite3", t0())
    app = make_app(qapp, qtbot, tmp_path)
    yield app
    app.shutdown()


@pytest.fixture
def big_app(qapp: QApplication, qtbot: QtBot, tmp_path: Path) -> Iterator[Application]:
    """About 3,000 rows of metrics: past the first 1,000, where a progress report is."""
    fill(tmp_path / "history.sqlite3", t0() - 3600, extra_sweeps=3000)
    app = make_app(qapp, qtbot, tmp_path)
    yield app
    app.shutdown()


@pytest.fixture
def out_dir(tmp_path: Path) -> Path:
    out = tmp_path / "out"
    out.mkdir()
    return out


def open_export(app: Application, qtbot: QtBot) -> ExportDialog:
    """File → Export…, and wait for the clusters and the first preview count."""
    with qtbot.waitSignal(
        app.history.done,
        timeout=TIMEOUT_MS,
        check_params_cb=lambda tag, _result: tag[0] == "export-clusters",
    ):
        app.window.export_action.trigger()
    dialog = app.export_dialog
    assert dialog is not None and dialog.isVisible()
    wait_count(qtbot, dialog)
    return dialog


def wait_count(qtbot: QtBot, dialog: ExportDialog) -> int:
    qtbot.waitUntil(lambda: dialog.count is not None, timeout=TIMEOUT_MS)
    assert dialog.count is not None
    assert dialog.preview.text() == f"≈ {dialog.count:,} row{'s' if dialog.count != 1 else ''}"
    return dialog.count


def choose(dialog: ExportDialog, combo_name: str, data: object) -> None:
    combo = getattr(dialog, combo_name)
    index = combo.findData(data)
    assert index >= 0, f"{data!r} not offered by {combo_name}"
    combo.setCurrentIndex(index)


def export(qtbot: QtBot, dialog: ExportDialog, path: Path) -> None:
    """Export to ``path`` and wait for the answer, whatever it is."""
    dialog.path_edit.setText(str(path))
    assert dialog.export_button.isEnabled()
    qtbot.mouseClick(dialog.export_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.exporting is None, timeout=TIMEOUT_MS)


def read_csv(path: Path) -> list[list[str]]:
    raw = path.read_bytes()
    assert raw.endswith(b"\r\n") and b"\n" not in raw.split(b"\r\n", 1)[0]  # RFC 4180
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.reader(fh))


def test_metrics_export_writes_the_rows_the_preview_counted(
    history_app: Application, qtbot: QtBot, out_dir: Path
) -> None:
    dialog = open_export(history_app, qtbot)
    assert dialog.kind() is ReportKind.METRICS
    assert dialog.cluster_combo.currentText() == NAME
    assert dialog.range_combo.currentText() == "Last 24 h"
    count = dialog.count
    assert count == 4  # m1 at two times, m2 once, the cluster-wide row once
    target = out_dir / "metrics.csv"
    export(qtbot, dialog, target)
    assert dialog.status.text() == f"Wrote 4 rows to {target}"
    rows = read_csv(target)
    assert rows[0] == METRICS_HEADER
    assert len(rows) - 1 == count
    assert {(r[3], r[4]) for r in rows[1:]} == {(M1, M1_NAME), (M2, M2_NAME), ("", "(cluster)")}
    assert all(r[1] == KEY and r[2] == NAME for r in rows[1:])
    assert not dialog.progress.isVisible()
    assert dialog.export_button.text() == "Export"


def test_metrics_of_picked_members_and_signals_per_minute(
    history_app: Application, qtbot: QtBot, out_dir: Path
) -> None:
    dialog = open_export(history_app, qtbot)
    dialog.all_signals.setChecked(False)
    for i in range(dialog.signal_list.count()):
        item = dialog.signal_list.item(i)
        wanted = item.data(Qt.ItemDataRole.UserRole) in ("db_size_bytes", "quota_bytes")
        item.setCheckState(Qt.CheckState.Checked if wanted else Qt.CheckState.Unchecked)
    dialog.all_members.setChecked(False)
    for i in range(dialog.member_list.count()):
        item = dialog.member_list.item(i)
        wanted = item.data(Qt.ItemDataRole.UserRole) == M1
        item.setCheckState(Qt.CheckState.Checked if wanted else Qt.CheckState.Unchecked)
    choose(dialog, "step_combo", 60.0)
    choose(dialog, "aggregate_combo", Aggregate.MAX)
    request = dialog.request()
    assert (request.members, request.signals) == ((M1,), ("db_size_bytes", "quota_bytes"))
    assert wait_count(qtbot, dialog) == 1  # both samples of m1 in one minute
    target = out_dir / "m1.csv"
    export(qtbot, dialog, target)
    rows = read_csv(target)
    # quota_bytes has no value in the range: no column, and the user is told.
    assert rows[0] == [*METRICS_HEADER[:5], "db_size_bytes"]
    assert [r[3:] for r in rows[1:]] == [[M1, M1_NAME, "3145728"]]
    assert dialog.status.text() == (
        f"Wrote 1 row to {target}\nNo values of quota_bytes in that range: no column for them."
    )


def test_alert_history_of_every_cluster(
    history_app: Application, qtbot: QtBot, out_dir: Path
) -> None:
    dialog = open_export(history_app, qtbot)
    choose(dialog, "kind_combo", ReportKind.ALERTS)
    assert not dialog.metrics_box.isVisible()
    choose(dialog, "cluster_combo", None)
    assert dialog.cluster_combo.currentText() == "All clusters"
    assert Path(dialog.path_edit.text()).name == default_file_name(
        ReportKind.ALERTS, None, time.time()
    )
    assert wait_count(qtbot, dialog) == 3
    target = out_dir / "alerts.csv"
    export(qtbot, dialog, target)
    rows = read_csv(target)
    assert rows[0] == ALERTS_HEADER
    assert len(rows) - 1 == 3
    assert [r[1] for r in rows[1:]] == ["firing", "firing", "resolved"]  # oldest first
    assert dialog.status.text() == f"Wrote 3 rows to {target}"


@pytest.mark.parametrize("how", ["cancel button", "closing the dialog"])
def test_a_cancelled_export_writes_no_file(
    big_app: Application, qtbot: QtBot, out_dir: Path, how: str
) -> None:
    dialog = open_export(big_app, qtbot)
    assert dialog.count is not None and dialog.count > 3000
    # Hold the export at its report after 1,000 rows (in the reader's thread) until the
    # user has cancelled: half a file is then on disk, under a temporary name.
    release = threading.Event()

    def hold(tag: object, done: int, _total: object) -> None:
        if isinstance(tag, tuple) and tag[0] == "export" and done >= 1000 and not release.is_set():
            release.wait(TIMEOUT_MS / 1000)

    big_app.history.worker.progress.connect(hold, Qt.ConnectionType.DirectConnection)
    try:
        dialog.path_edit.setText(str(out_dir / "big.csv"))
        qtbot.mouseClick(dialog.export_button, Qt.MouseButton.LeftButton)
        assert dialog.export_button.text() == "Cancel"
        assert not dialog.kind_combo.isEnabled()
        qtbot.waitUntil(lambda: dialog.progress.value() >= 1000, timeout=TIMEOUT_MS)
        assert dialog.progress.maximum() == dialog.count
        assert dialog.progress.format() == f"1,000 of {dialog.count:,} rows"
        (partial,) = os.listdir(out_dir)
        assert partial.startswith(".big.csv.") and partial.endswith(".tmp")
        with qtbot.waitSignal(dialog.cancelRequested, timeout=TIMEOUT_MS):
            if how == "cancel button":
                qtbot.mouseClick(dialog.export_button, Qt.MouseButton.LeftButton)
            else:
                dialog.close()
        assert dialog.export_button.text() == "Cancelling…"
    finally:
        release.set()
    qtbot.waitUntil(lambda: dialog.exporting is None, timeout=TIMEOUT_MS)
    assert dialog.status.text() == CANCELLED_TEXT
    assert os.listdir(out_dir) == []
    assert dialog.export_button.text() == "Export" and dialog.kind_combo.isEnabled()


def test_a_directory_as_destination_says_so(
    history_app: Application, qtbot: QtBot, out_dir: Path
) -> None:
    dialog = open_export(history_app, qtbot)
    export(qtbot, dialog, out_dir)
    assert dialog.status.text().startswith(
        f"Export: {str(out_dir)!r} is a directory; give a file name in it"
    )
    assert ERROR_COLOUR in dialog.status.styleSheet()
    assert os.listdir(out_dir) == []
    assert dialog.export_button.isEnabled()  # another name can be tried at once


# -- the dialog alone -----------------------------------------------------------------


def cluster(key: str, name: str) -> ClusterRecord:
    return ClusterRecord(key, name, None, 0.0, 1.0)


def member(key: str, hex_id: str, name: str) -> MemberRecord:
    return MemberRecord(key, hex_id, name, (), (), None, MemberRole.FOLLOWER, None, 0.0, 1.0)


@pytest.fixture
def dialog(qtbot: QtBot, tmp_path: Path) -> ExportDialog:
    d = ExportDialog(SIGNALS, directory=str(tmp_path))
    qtbot.addWidget(d)
    return d


def test_metrics_need_a_cluster_and_a_bounded_range(qtbot: QtBot, dialog: ExportDialog) -> None:
    assert dialog.preview.text() == "Loading the clusters…"
    assert not dialog.export_button.isEnabled()
    dialog.show_clusters([], [])
    assert "no cluster yet" in dialog.preview.text()
    assert not dialog.export_button.isEnabled()
    choose(dialog, "kind_combo", ReportKind.BENCHMARKS)
    assert dialog.problem() is None and dialog.export_button.isEnabled()
    choose(dialog, "range_combo", "all")
    assert dialog.request().time_range(1e9) == (None, None)
    dialog.show_clusters([cluster("k1", "prod"), cluster("k2", "prod")], [member("k1", M1, "a")])
    assert [dialog.cluster_combo.itemText(i) for i in range(3)] == [
        "All clusters",
        "prod (k1)",
        "prod (k2)",
    ]
    choose(dialog, "kind_combo", ReportKind.METRICS)  # one cluster, a bounded range
    assert dialog.cluster_combo.currentData() == "k1"
    assert dialog.range_combo.currentText() == "Last 24 h"
    assert [dialog.member_list.item(i).data(Qt.ItemDataRole.UserRole) for i in range(2)] == [
        CLUSTER_WIDE,
        M1,
    ]
    assert dialog.problem() is None
    choose(dialog, "step_combo", 0.0)  # raw samples: kept 24 h
    choose(dialog, "range_combo", 7 * 86_400.0)
    assert dialog.problem() == (
        "Raw samples are kept for 24 h: choose a range within the last 24 h, or Auto or a step."
    )
    assert not dialog.export_button.isEnabled()
    dialog.all_signals.setChecked(False)
    for i in range(dialog.signal_list.count()):
        dialog.signal_list.item(i).setCheckState(Qt.CheckState.Unchecked)
    choose(dialog, "step_combo", None)
    assert dialog.problem() == "Pick at least one signal, or All signals."
    assert not dialog.export_button.isEnabled()
    assert not dialog._count_timer.isActive()  # nothing to count: nothing asked
    dialog.signal_list.item(0).setCheckState(Qt.CheckState.Checked)
    with qtbot.waitSignal(dialog.countRequested, timeout=TIMEOUT_MS) as asked:
        pass
    request: ExportRequest = asked.args[0]
    assert (request.cluster, request.signals, request.last_s) == ("k1", ("up",), 7 * 86_400.0)
    dialog.show_count(ExportRequest(ReportKind.METRICS, "k2"), 99)  # an older question
    assert dialog.preview.text() == "Counting…"
    dialog.show_count(request, 12_345)
    assert dialog.preview.text() == "≈ 12,345 rows"


def test_a_custom_range_starts_from_the_preset_and_must_be_ordered(
    dialog: ExportDialog,
) -> None:
    dialog.show_clusters([cluster("k1", "prod")], [])
    choose(dialog, "range_combo", 3600.0)
    choose(dialog, "range_combo", "custom")
    request = dialog.request()
    assert request.last_s is None and request.start is not None and request.end is not None
    assert request.end - request.start == pytest.approx(3600, abs=60)
    dialog.from_edit.setDateTime(dialog.to_edit.dateTime().addSecs(60))
    assert dialog.problem() == "“From” must be before “To”."
    assert not dialog.export_button.isEnabled()


def test_choose_suggests_a_csv_name_and_adds_the_suffix(
    dialog: ExportDialog, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dialog.show_clusters([cluster("k1", "prod east/1")], [])
    offered: list[str] = []

    def fake(_parent: object, _title: str, start: str, filters: str) -> tuple[str, str]:
        offered.append(start)
        assert filters.startswith("CSV files (*.csv)")
        return str(tmp_path / "mine"), "CSV files (*.csv)"

    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(fake))
    dialog.choose_button.click()
    today = time.strftime("%Y-%m-%d")
    assert offered == [str(tmp_path / f"etcdmon-metrics-prod-east-1-{today}.csv")]
    assert dialog.path_edit.text() == str(tmp_path / "mine.csv")
    choose(dialog, "kind_combo", ReportKind.MEMBERS)  # a name the user chose stays
    assert dialog.path_edit.text() == str(tmp_path / "mine.csv")
