"""The desktop app reading a team's history from a real PostgreSQL (a throwaway cluster,
one for the module), offscreen: with ``team_history`` set, the alert History tab, a
chart range and the benchmark runs come from the team's database while this computer's
file goes on being written; a team history that cannot be read (wrong password, a
database without etcdmon's schema, nobody listening) is said in the status bar and Help →
About, never with the password, and the views show the local file. The setting through
the Settings dialog: saved in settings.yaml, its password in the secret store only."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import yaml
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QCheckBox, QDialogButtonBox, QLineEdit, QSpinBox
from pytestqt.qtbot import QtBot

from etcdmon_gui.app import Application
from etcdmon_gui.app.desktop import DesktopStart
from etcdmon_gui.model.alerts import Alert, AlertEvent, AlertState, EventKind, Severity
from etcdmon_gui.model.app_settings import AppSettings
from etcdmon_gui.model.history import BenchRunRecord
from etcdmon_gui.model.postgres import PgSettings
from etcdmon_gui.store.app_settings import (
    TEAM_HISTORY_OWNER,
    TEAM_HISTORY_PASSWORD,
    AppSettingsStore,
)
from etcdmon_gui.store.history import AlertHistory
from etcdmon_gui.store.history.postgres import PgAlertHistory, PgHistoryWriter
from etcdmon_gui.store.secrets import SecretStore
from etcdmon_gui.store.session import SessionStore
from etcdmon_gui.ui.alert_history_widget import COL_CLUSTER, COL_RULE, AlertHistoryWidget
from etcdmon_gui.workers.chart_history import ChartHistory
from tests.app_support import make_app
from tests.builders import CHART_IDS, chart_member, chart_snapshot
from tests.pg_support import PgServer, postgres_server

VIEWER_PASSWORD = "v1ewer-Pa55-team"
TEAM_KEY = "profile:team0001"
NOW = time.time()
B = QDialogButtonBox.StandardButton


@pytest.fixture(scope="module")
def pg() -> Iterator[PgServer]:
    yield from postgres_server()


def alert_event(cluster: str, name: str, rule: str, at: float) -> AlertEvent:
    alert = Alert(
        fingerprint=f"fp-{rule}",
        rule=rule,
        severity=Severity.WARNING,
        cluster=cluster,
        cluster_name=name,
        member="etcd-1",
        state=AlertState.FIRING,
        value=1.0,
        summary=f"{rule} on {name}",
        since=at,
        labels={"alertname": rule},
    )
    return AlertEvent(EventKind.FIRING, alert, at)


@pytest.fixture(scope="module")
def team(pg: PgServer) -> PgSettings:
    """A team database a serve filled (written as its superuser): ten minutes of sweeps
    of one cluster, an alert, a benchmark run; and a viewer role that may only read."""
    written = pg.create_database("team")
    writer = PgHistoryWriter(written, pg.password, batch_s=0.05).start()
    assert writer.wait_ready() is None, writer.error
    for i in range(60):
        writer.add_snapshot(chart_snapshot(NOW - 600 + i * 10, value=2.0, key=TEAM_KEY), "prod")
    writer.add_bench_run(
        BenchRunRecord(
            0, TEAM_KEY, "prod", NOW - 3600, "team run", "put", 4321.0, 0.5, 2.0, 0, "PASS"
        )
    )
    assert writer.flush(), writer.error
    writer.close()
    alerts = PgAlertHistory(written, pg.password)
    alerts.record([alert_event(TEAM_KEY, "team-prod", "teamRule", NOW - 300)])
    alerts.close()
    pg.create_role("viewer", VIEWER_PASSWORD)
    with pg.admin("team") as conn:
        conn.execute("GRANT SELECT ON ALL TABLES IN SCHEMA public TO viewer")
    return written.model_copy(update={"user": "viewer"})


def start_app(
    qapp: QApplication,
    qtbot: QtBot,
    data_dir: Path,
    settings: PgSettings,
    password: str | None,
) -> tuple[Application, SecretStore]:
    """The app over ``data_dir`` (whose history file holds one local alert), its team
    history set to ``settings`` with ``password`` in the secret store."""
    local = AlertHistory(data_dir / "history.sqlite3")
    local.record([alert_event("local-key", "local-prod", "localRule", NOW - 300)])
    local.close()
    secrets = SecretStore.memory()
    if password is not None:
        secrets.set(TEAM_HISTORY_OWNER, TEAM_HISTORY_PASSWORD, password)
    start = DesktopStart(
        AppSettingsStore(data_dir / "settings.yaml"),
        SessionStore(data_dir / "last-session.yaml"),
        AppSettings(team_history=settings),
    )
    return make_app(qapp, qtbot, data_dir, secrets=secrets, desktop=start), secrets


def about(app: Application) -> str:
    """Help → About's line saying where the history views read."""
    prefix = "  History views read: "
    (line,) = [x for x in app.window.about_text().splitlines() if x.startswith(prefix)]
    return line.removeprefix(prefix)


def alert_history_rows(app: Application, qtbot: QtBot) -> list[tuple[str, str]]:
    """The alert History tab opened, its answer waited for: (rule, cluster) per row."""
    alerts = app.window.alerts
    app.window.show_alerts_tab()
    view: AlertHistoryWidget = alerts.history_view
    with qtbot.waitSignal(alerts.historyRequested, timeout=5000):
        alerts.tabs.setCurrentIndex(alerts.history_tab)
    qtbot.waitUntil(lambda: view.pending_query() is None, timeout=10_000)
    proxy = view.proxy
    return [
        tuple(  # type: ignore[misc]
            str(proxy.index(r, c).data(Qt.ItemDataRole.DisplayRole))
            for c in (COL_RULE, COL_CLUSTER)
        )
        for r in range(proxy.rowCount())
    ]


def test_the_history_views_read_the_team_history(
    qapp: QApplication,
    qtbot: QtBot,
    tmp_path: Path,
    team: PgSettings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="etcdmon_gui.workers.history_worker")
    app, _ = start_app(qapp, qtbot, tmp_path, team, VIEWER_PASSWORD)
    try:
        # Help → About says where the views read, once the reader has connected.
        assert about(app) == f"team history {team.where} (PostgreSQL, read-only): connecting…"
        qtbot.waitUntil(lambda: not about(app).endswith("connecting…"), timeout=15_000)
        assert about(app) == f"team history {team.where} (PostgreSQL, read-only)"
        assert app.window.history_state.isHidden()
        # It was opened in the history's reader thread, not the GUI thread.
        (opened,) = [r for r in caplog.records if r.getMessage().startswith("the history views")]
        assert opened.thread != threading.main_thread().ident

        # The alert History tab: the team's transitions, not this computer's.
        assert alert_history_rows(app, qtbot) == [("teamRule", "team-prod")]

        # A chart range: the team's samples of the cluster.
        with qtbot.waitSignal(app.chart_history.loaded, timeout=10_000) as loaded:
            app.chart_history.request(TEAM_KEY, 1, NOW - 900, NOW, 300)
        key, request_id, result = loaded.args
        assert (key, request_id) == (TEAM_KEY, 1) and isinstance(result, ChartHistory)
        assert result.names == {f"{CHART_IDS[i]:x}": chart_member(i).name for i in range(3)}
        wal = [s for s in result.series if s.signal == "wal_fsync_p99_ms"]
        assert len(wal) == 3 and all(len(s) == 60 for s in wal)
        np.testing.assert_allclose(np.concatenate([s.avg for s in wal]), 2.0)

        # The benchmark runs a benchmark dialog lists.
        with qtbot.waitSignal(
            app.history.done, timeout=10_000, check_params_cb=lambda tag, _r: "bench-runs" in tag
        ) as answered:
            app._ask_bench_runs(TEAM_KEY)
        (run,) = answered.args[1]
        assert (run.label, run.requests_per_s, run.verdict) == ("team run", 4321.0, "PASS")
    finally:
        app.shutdown()


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("wrong password", "refused user 'viewer': authentication failed"),
        ("no schema", "holds no etcdmon history yet"),
        ("nobody listening", "cannot reach the PostgreSQL server at 127.0.0.1:"),
    ],
)
def test_a_team_history_that_cannot_be_read_falls_back_to_the_local_file(
    qapp: QApplication,
    qtbot: QtBot,
    tmp_path: Path,
    pg: PgServer,
    team: PgSettings,
    caplog: pytest.LogCaptureFixture,
    request: pytest.FixtureRequest,
    case: str,
    reason: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "not-the-V1ewer-pa55"
    settings, password = team, VIEWER_PASSWORD
    if case == "wrong password":
        password = wrong
    elif case == "no schema":
        settings = pg.create_database(f"empty{os.getpid()}")
        password = pg.password
    else:
        settings = team.model_copy(update={"port": nobody_listens(request)})
    app, _ = start_app(qapp, qtbot, tmp_path, settings, password)
    try:
        label = app.window.history_state
        qtbot.waitUntil(label.isVisible, timeout=15_000)
        assert label.text() == "Team history off"
        tip = label.toolTip()
        assert tip.startswith(
            f"Team history off: the team history {settings.where} cannot be read, so the "
            "history views show this computer's history: "
        )
        assert reason in tip
        assert about(app).startswith("this computer's history file; the team history")
        # The views read the local file; this computer's history is still written.
        assert alert_history_rows(app, qtbot) == [("localRule", "local-prod")]
        assert app.history.error is None
        if case == "wrong password":
            app.window.resize(1100, 700)
            QApplication.processEvents()
            assert app.window.grab().save(str(screenshots(tmp_path) / "team_history_off.png"))
    finally:
        app.shutdown()
    texts = [tip, about(app), caplog.text]
    assert not any(secret in text for text in texts for secret in (wrong, pg.password))


def nobody_listens(request: pytest.FixtureRequest) -> int:
    """A loopback port bound for the rest of the test, never listening: refused."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    request.addfinalizer(sock.close)
    return int(sock.getsockname()[1])


def test_the_setting_round_trips_through_the_dialog_with_the_password_kept_apart(
    qapp: QApplication, qtbot: QtBot, tmp_path: Path
) -> None:
    secrets = SecretStore.memory()
    store = AppSettingsStore(tmp_path / "settings.yaml")
    start = DesktopStart(store, SessionStore(tmp_path / "last-session.yaml"))
    app = make_app(qapp, qtbot, tmp_path, secrets=secrets, desktop=start)
    try:
        assert about(app) == "this computer's history file"
        dialog = app.desktop.show_settings()
        dialog.tabs.setCurrentIndex(2)
        form = dialog.team
        assert not form.enabled.isChecked() and not form._form.isEnabled()
        qtbot.waitUntil(
            lambda: form.password_row.editor.placeholderText() == "none stored (optional)",
            timeout=5000,
        )
        enabled = form.findChild(QCheckBox, "field_team_history")
        assert enabled is form.enabled
        enabled.setChecked(True)
        host = form.rows["host"].editor
        assert isinstance(host, QLineEdit)
        host.setText("")
        # Refused beside the field: the host is required.
        with qtbot.assertNotEmitted(dialog.saveRequested, wait=50):
            dialog.buttons.button(B.Apply).click()
        assert form.rows["host"].error.text() == "team history host: required"
        assert dialog.errors.text() == "Not saved: team history host: required"

        host.setText("db.example.org")
        port = form.rows["port"].editor
        assert isinstance(port, QSpinBox)
        port.setValue(6543)
        combo = form.rows["sslmode"].editor
        combo.setCurrentIndex(combo.findData("verify-full"))  # type: ignore[attr-defined]
        password = form.password_row.editor
        assert isinstance(password, QLineEdit)
        assert password.echoMode() == QLineEdit.EchoMode.Password
        password.setText("team-Pa55word")
        with qtbot.waitSignal(app.desktop.store.saved, timeout=5000):
            dialog.buttons.button(B.Apply).click()
        assert form.rows["host"].error.isHidden()
        qtbot.waitUntil(
            lambda: form.password_row.editor.placeholderText() == "stored: leave blank to keep it",
            timeout=5000,
        )
        assert password.text() == ""  # never shown again
        wanted = PgSettings(host="db.example.org", port=6543, sslmode="verify-full")  # type: ignore[arg-type]
        assert store.load() == (AppSettings(team_history=wanted), None)
        text = (tmp_path / "settings.yaml").read_text()
        assert "team-Pa55word" not in text
        assert yaml.safe_load(text)["team_history"] == {
            "host": "db.example.org",
            "port": 6543,
            "dbname": "etcdmon",
            "user": "etcdmon",
            "sslmode": "verify-full",
            "sslrootcert": None,
        }
        assert secrets.get(TEAM_HISTORY_OWNER, TEAM_HISTORY_PASSWORD) == "team-Pa55word"
        # A move of the secrets takes the team history's password along.
        owners = dict(app.profile_service.service._owners())
        assert owners[TEAM_HISTORY_OWNER] == (TEAM_HISTORY_PASSWORD,)
        QApplication.processEvents()
        assert dialog.grab().save(str(screenshots(tmp_path) / "settings_team_history.png"))

        # Saved again without a password typed: the stored one stays.
        dbname = form.rows["dbname"].editor
        assert isinstance(dbname, QLineEdit)
        dbname.clear()
        qtbot.keyClicks(dbname, "team")  # typed: Apply comes on
        with qtbot.waitSignal(app.desktop.store.saved, timeout=5000):
            dialog.buttons.button(B.Apply).click()
        assert secrets.get(TEAM_HISTORY_OWNER, TEAM_HISTORY_PASSWORD) == "team-Pa55word"

        # Turned off: the setting goes, and its password with it.
        enabled.setChecked(False)
        with qtbot.waitSignal(app.desktop.store.saved, timeout=5000):
            dialog.buttons.button(B.Ok).click()
        qtbot.waitUntil(
            lambda: secrets.get(TEAM_HISTORY_OWNER, TEAM_HISTORY_PASSWORD) is None, timeout=5000
        )
        assert store.load() == (AppSettings(), None)
    finally:
        app.shutdown()


def screenshots(tmp_path: Path) -> Path:
    return Path(os.environ.get("ETCDMON_SCREENSHOTS") or tmp_path)
