"""The desktop around the monitoring, in the whole application: the welcome page on an
empty configuration, the last session reopened at the next start (and saved as
clusters open and close), the settings put in force when saved, the Help menu's log
folder and a crash in a slot shown in a dialog."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from etcdmon_gui.app import Application
from etcdmon_gui.app.desktop import DesktopStart
from etcdmon_gui.etcd.sandbox import Sandbox
from etcdmon_gui.model.app_settings import AppSettings
from etcdmon_gui.model.connection import ConnectionConfig, parse_endpoints
from etcdmon_gui.model.profile import Profile
from etcdmon_gui.model.secrets import MoveTarget
from etcdmon_gui.model.session import LastSession, SessionEntry
from etcdmon_gui.store.app_settings import AppSettingsStore
from etcdmon_gui.store.logs import log_dir
from etcdmon_gui.store.profiles import ProfileStore, export_profiles
from etcdmon_gui.store.secrets import SecretStore, secrets_file_path
from etcdmon_gui.store.session import SessionStore
from etcdmon_gui.workers.crash_handler import CrashHandler
from tests.app_support import make_app


def start(tmp_path: Path, **options: object) -> DesktopStart:
    return DesktopStart(
        AppSettingsStore(tmp_path / "settings.yaml"),
        SessionStore(tmp_path / "last-session.yaml"),
        **options,  # type: ignore[arg-type]
    )


@pytest.fixture
def apps() -> Iterator[list[Application]]:
    made: list[Application] = []
    yield made
    for app in made:
        app.shutdown()


def test_an_empty_configuration_opens_on_the_welcome_page(
    qapp: QApplication, qtbot: QtBot, tmp_path: Path, apps: list[Application]
) -> None:
    app = make_app(qapp, qtbot, tmp_path, desktop=start(tmp_path))
    apps.append(app)
    window = app.window
    assert window.showing_welcome()
    assert window.welcome.sandbox_button.isVisible()
    assert not window.welcome.session_box.isVisible()  # nothing to reopen
    # The profiles are read in the service thread: none here, and the list stays hidden.
    with qtbot.waitSignal(app.profile_service.loaded, timeout=5000):
        app.profile_service.load()
    assert window.welcome.profile_names() == []
    assert not window.welcome.profiles_box.isVisible()


def test_the_last_session_reopens_and_is_saved_as_clusters_open_and_close(
    qapp: QApplication,
    qtbot: QtBot,
    tmp_path: Path,
    cluster: Sandbox,
    store: ProfileStore,
    apps: list[Application],
) -> None:
    profile = Profile(name="team", endpoints=[cluster.endpoints[0]])
    store.add(profile)
    # Another cluster (the same one twice would be refused as a duplicate): one that
    # does not answer reopens all the same, and shows why it is unreachable.
    plain = SessionEntry.for_endpoints(["http://127.0.0.1:1"], "by hand")
    gone = SessionEntry.for_profile("deleted-since", "old")
    sessions = SessionStore(tmp_path / "last-session.yaml")
    sessions.save(LastSession((SessionEntry.for_profile(profile.id, "team"), plain, gone), 1.0))

    app = make_app(qapp, qtbot, tmp_path, profiles=store, desktop=start(tmp_path, reopen=True))
    apps.append(app)
    window = app.window
    # Both clusters come back (the profile once the profiles are read) and are watched.
    qtbot.waitUntil(lambda: len(window.cluster_keys()) == 2, timeout=10_000)
    assert not window.showing_welcome()
    assert {window.cluster_title(k) for k in window.cluster_keys()} == {"team", "by hand"}
    qtbot.waitUntil(lambda: window.latest_snapshot(profile.key) is not None, timeout=15_000)
    assert (
        "old" in window.notification_banner.message.text()
    )  # the profile deleted since is named, not dropped silently

    # Closing one is saved for the next start; the rest stays as it was.
    app.disconnect_cluster(profile.key)
    qtbot.waitUntil(lambda: sessions.load().entries == (plain,), timeout=5000)

    # The last one closed: nothing to reopen, and the welcome page is back.
    app.disconnect_cluster(window.cluster_keys()[0])
    qtbot.waitUntil(lambda: sessions.load().empty, timeout=5000)
    assert window.showing_welcome()


def test_a_run_that_must_not_remember_leaves_the_last_session_alone(
    qapp: QApplication, qtbot: QtBot, tmp_path: Path, cluster: Sandbox, apps: list[Application]
) -> None:
    sessions = SessionStore(tmp_path / "last-session.yaml")
    kept = LastSession((SessionEntry.for_endpoints(["127.0.0.1:1"], "kept"),), 1.0)
    sessions.save(kept)
    app = make_app(qapp, qtbot, tmp_path, desktop=start(tmp_path, remember_session=False))
    apps.append(app)
    # Not reopened either (reopen is off): the welcome page offers it.
    assert app.window.showing_welcome()
    assert app.window.welcome.last_session() == kept
    assert app.window.welcome.session_box.isVisible()
    app.watch_config(ConnectionConfig(parse_endpoints(cluster.endpoints)), "a run")
    app.disconnect_cluster(app.window.cluster_keys()[0])
    app.desktop.shutdown()  # every queued save written
    assert sessions.load() == kept


def test_saved_settings_are_in_force_at_once(
    qapp: QApplication, qtbot: QtBot, tmp_path: Path, apps: list[Application]
) -> None:
    app = make_app(qapp, qtbot, tmp_path, desktop=start(tmp_path))
    apps.append(app)
    dialog = app.desktop.show_settings()
    wanted = AppSettings(
        interval_s=17, chart_window_s=3600, popup_burst_limit=7, mute_minutes=5, theme="dark"
    )
    with qtbot.waitSignal(app.desktop.store.saved, timeout=5000):
        dialog.saveRequested.emit(wanted, None)
    assert AppSettingsStore(tmp_path / "settings.yaml").load() == (wanted, None)
    assert app.interval_s == 17
    assert app.chart_window_s == 3600
    assert app.tray.burst_limit == 7
    assert app.tray.mute_s == 300
    assert qapp.palette().window().color().lightness() < 100  # dark
    # A cluster opened from now on gets the new chart window and interval.
    handle = app.watch_config(ConnectionConfig(parse_endpoints("127.0.0.1:1")), "nowhere")
    assert app.window.charts(handle.key).time_window() == 3600
    qtbot.waitUntil(lambda: app.window.interval.value() == 17, timeout=5000)
    app.disconnect_cluster(handle.key)
    with qtbot.waitSignal(app.desktop.store.saved, timeout=5000):
        dialog.saveRequested.emit(AppSettings(), None)
    assert qapp.palette().window().color().lightness() > 100  # the platform's again


def test_help_opens_the_log_folder(
    qapp: QApplication, qtbot: QtBot, tmp_path: Path, apps: list[Application]
) -> None:
    app = make_app(qapp, qtbot, tmp_path, desktop=start(tmp_path))
    apps.append(app)
    opened: list[Path] = []
    app.desktop.open_path = opened.append
    app.window.log_folder_action.trigger()
    assert opened == [log_dir()]
    assert "Logs and crash reports" in app.window.about_text()
    assert str(tmp_path / "settings.yaml") in app.window.about_text()


def test_settings_move_the_secrets_out_of_session_memory(
    qapp: QApplication,
    qtbot: QtBot,
    tmp_path: Path,
    store: ProfileStore,
    secrets: SecretStore,
    apps: list[Application],
) -> None:
    profile = Profile(name="ops", endpoints=["127.0.0.1:2379"], username="root")
    store.add(profile)
    secrets.set(profile.id, "password", "M0ved-Pw-1")
    app = make_app(qapp, qtbot, tmp_path, profiles=store, secrets=secrets, desktop=start(tmp_path))
    apps.append(app)
    dialog = app.desktop.show_settings()
    assert "memory (this session only)" in dialog.backend.text()
    with qtbot.waitSignal(app.profile_service.moved, timeout=30_000):
        dialog.moveRequested.emit(MoveTarget("encrypted-file", "master-pw-1"))
    assert secrets.info.kind == "encrypted-file"
    qtbot.waitUntil(lambda: "encrypted file" in dialog.backend.text(), timeout=5000)
    fresh = SecretStore.encrypted_file(secrets_file_path(), "master-pw-1")
    assert fresh.get(profile.id, "password") == "M0ved-Pw-1"


@pytest.mark.qt_no_exception_capture
def test_a_crash_in_a_slot_shows_its_report_and_the_app_goes_on(
    qapp: QApplication, qtbot: QtBot, tmp_path: Path, apps: list[Application]
) -> None:
    crash = CrashHandler(qapp, directory=tmp_path / "crashes")
    crash.install()
    try:
        app = make_app(qapp, qtbot, tmp_path, desktop=start(tmp_path, crash=crash))
        apps.append(app)

        def broken() -> None:
            raise RuntimeError("a bug in a slot")

        with qtbot.waitSignal(crash.crashed, timeout=5000) as got:
            QTimer.singleShot(0, broken)
        dialog = app.desktop.crash_dialogs.dialog
        assert dialog is not None and dialog.isVisible()
        report = got.args[0].report
        assert report.path is not None and report.path.exists()
        assert "a bug in a slot" in report.text
        # Still running: the settings dialog opens and saves.
        with qtbot.waitSignal(app.desktop.store.saved, timeout=5000):
            app.desktop.show_settings().saveRequested.emit(AppSettings(interval_s=9), None)
    finally:
        crash.uninstall()


# Showing a tray icon on the offscreen platform: Qt looks for a tray window it lacks.
@pytest.mark.qt_log_ignore("systemTrayWindowChanged")
def test_with_a_tray_closing_hides_the_window_and_says_so_once(
    qapp: QApplication, qtbot: QtBot, tmp_path: Path, apps: list[Application]
) -> None:
    app = make_app(qapp, qtbot, tmp_path, desktop=start(tmp_path))
    apps.append(app)
    # The offscreen platform has no tray; this one says it has (the icon is real).
    app.tray.tray_available = lambda: True
    assert app.tray.show()
    app.desktop.apply(app.desktop.settings)
    assert app.window.close_to_tray() and not qapp.quitOnLastWindowClosed()
    shown: list[tuple[str, ...]] = []
    app.tray.tray_icon.showMessage = lambda title, text, *_: shown.append((title, text))

    with qtbot.waitSignal(app.desktop.store.saved, timeout=5000) as saved:
        app.window.close()
    assert not app.window.isVisible()  # hidden, still watching
    assert shown and "keeps watching in the tray" in shown[0][0]
    assert saved.args[0].tray_notice_shown
    assert AppSettingsStore(tmp_path / "settings.yaml").load()[0].tray_notice_shown
    # Shown again from the tray and closed again: no second notice.
    app.tray.showRequested.emit()
    assert app.window.isVisible()
    app.window.close()
    assert not app.window.isVisible() and len(shown) == 1
    # Quit (Ctrl+Q, the tray's Quit) closes for real, whatever the setting.
    app.tray.showRequested.emit()
    with qtbot.waitSignal(app.window.quitRequested, timeout=1000):
        app.window.quit_action.trigger()
    assert not app.window.isVisible()

    # The setting off: closing closes.
    app.desktop.apply(AppSettings(close_to_tray=False))
    assert not app.window.close_to_tray() and qapp.quitOnLastWindowClosed()


def test_an_import_that_replaces_a_watched_profile_applies_it(
    qapp: QApplication,
    qtbot: QtBot,
    tmp_path: Path,
    cluster: Sandbox,
    store: ProfileStore,
    apps: list[Application],
) -> None:
    profile = Profile(name="team", endpoints=[cluster.endpoints[0]])
    store.add(profile)
    app = make_app(qapp, qtbot, tmp_path, profiles=store, desktop=start(tmp_path))
    apps.append(app)
    app.connect_profile(profile)
    # A colleague's export: the same profile (same id) with every member's endpoint.
    shared = profile.model_copy(update={"endpoints": list(cluster.endpoints)})
    source = tmp_path / "team.yaml"
    source.write_text(export_profiles([shared]), encoding="utf-8")
    with qtbot.waitSignal(app.profile_service.imported, timeout=5000):
        app.profile_service.import_file(str(source), True)
    qtbot.waitUntil(lambda: app.watched_profiles[profile.key] == shared, timeout=5000)
    assert app.watches[profile.key].endpoints == list(cluster.endpoints)
    qtbot.waitUntil(lambda: app.window.latest_snapshot(profile.key) is not None, timeout=15_000)


def test_the_sandbox_starts_once_however_often_it_is_asked_for(
    qapp: QApplication,
    qtbot: QtBot,
    tmp_path: Path,
    etcd35: Path,
    monkeypatch: pytest.MonkeyPatch,
    apps: list[Application],
) -> None:
    monkeypatch.setenv("ETCDMON_ETCD_BIN", str(etcd35))
    app = make_app(qapp, qtbot, tmp_path, desktop=start(tmp_path))
    apps.append(app)
    welcome = app.window.welcome
    first = app.start_sandbox(1)
    welcome.sandboxRequested.emit()  # clicked again while it starts: the same one
    assert app.sandbox is first
    qtbot.waitUntil(lambda: len(app.window.cluster_keys()) == 1, timeout=30_000)
    (key,) = app.window.cluster_keys()
    app.disconnect_cluster(key)
    assert app.window.showing_welcome()
    welcome.sandboxRequested.emit()  # after its cluster was closed: watched again
    assert app.sandbox is first and app.window.cluster_keys() == [key]
