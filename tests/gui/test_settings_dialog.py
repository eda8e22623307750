"""The settings dialog offscreen: it shows the settings, edits reach saveRequested, a
refused value says why beside its field and nothing is emitted, defaults and Cancel,
the Secrets tab and "Move secrets…"; the settings worker on a real file; and the theme,
which the charts follow."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QApplication, QCheckBox, QComboBox, QDialogButtonBox, QSpinBox
from pytestqt.qtbot import QtBot

from etcdmon_gui.model.app_settings import AppSettings
from etcdmon_gui.model.secrets import BackendInfo, MoveTarget
from etcdmon_gui.store.app_settings import AppSettingsStore
from etcdmon_gui.ui.charts_widget import ChartsWidget
from etcdmon_gui.ui.settings_dialog import SettingsDialog
from etcdmon_gui.ui.theme import apply_theme, is_dark
from etcdmon_gui.workers.app_settings_worker import AppSettingsHandle

B = QDialogButtonBox.StandardButton
MEMORY = BackendInfo(
    "memory (this session only)",
    secure=False,
    persistent=False,
    problem="no OS keyring works here",
    kind="memory",
    os_keyring="SecretService Keyring",
)
CHOSEN = AppSettings(
    interval_s=10,
    chart_window_s=3600,
    theme="dark",
    reopen_last_session=False,
    log_level="INFO",
    close_to_tray=False,
    tray_notice_shown=True,
    popup_burst_limit=5,
    popup_burst_window_s=30,
    mute_minutes=15,
    history_raw_hours=48,
    history_minute_days=60,
    history_hour_days=730,
    history_size_mib=4096,
)


def screenshots(tmp_path: Path) -> Path:
    return Path(os.environ.get("ETCDMON_SCREENSHOTS") or tmp_path)


@pytest.fixture
def dialog(qtbot: QtBot) -> SettingsDialog:
    d = SettingsDialog(CHOSEN, MEMORY)
    qtbot.addWidget(d)
    d.show()
    return d


@pytest.fixture
def system_theme_after(qapp: QApplication) -> Iterator[None]:
    yield
    apply_theme(qapp, "system")


def spin(d: SettingsDialog, name: str) -> QSpinBox:
    editor = d.rows[name].editor
    assert isinstance(editor, QSpinBox)
    return editor


def combo(d: SettingsDialog, name: str) -> QComboBox:
    editor = d.rows[name].editor
    assert isinstance(editor, QComboBox)
    return editor


def check(d: SettingsDialog, name: str) -> QCheckBox:
    editor = d.rows[name].editor
    assert isinstance(editor, QCheckBox)
    return editor


def test_the_fields_show_the_settings(dialog: SettingsDialog, tmp_path: Path) -> None:
    assert [dialog.tabs.tabText(i) for i in range(dialog.tabs.count())] == [
        "General",
        "Tray and notifications",
        "History",
        "Secrets",
    ]
    assert spin(dialog, "interval_s").value() == 10
    assert combo(dialog, "chart_window_s").currentText() == "Last 1 h"
    assert combo(dialog, "theme").currentText() == "Dark"
    assert not check(dialog, "reopen_last_session").isChecked()
    assert combo(dialog, "log_level").currentData() == "INFO"
    assert not check(dialog, "close_to_tray").isChecked()
    assert spin(dialog, "popup_burst_limit").value() == 5
    assert spin(dialog, "popup_burst_window_s").value() == 30
    assert spin(dialog, "mute_minutes").value() == 15
    assert spin(dialog, "history_raw_hours").value() == 48
    assert spin(dialog, "history_minute_days").value() == 60
    assert spin(dialog, "history_hour_days").value() == 730
    assert spin(dialog, "history_size_mib").value() == 4096
    assert "tray_notice_shown" not in dialog.rows and "schema_version" not in dialog.rows
    assert spin(dialog, "interval_s").toolTip().startswith("How often a cluster")
    history = dialog.tabs.widget(2)
    assert "--keep-raw" in history.findChildren(type(dialog.errors))[-1].text()
    assert not dialog.buttons.button(B.Apply).isEnabled()  # nothing edited yet
    for i in range(dialog.tabs.count()):
        dialog.tabs.setCurrentIndex(i)
        assert dialog.grab().save(str(screenshots(tmp_path) / f"settings_tab{i}.png"))


def test_edits_round_trip_to_save_requested(dialog: SettingsDialog, qtbot: QtBot) -> None:
    spin(dialog, "interval_s").setValue(3)
    combo(dialog, "chart_window_s").setCurrentIndex(combo(dialog, "chart_window_s").findData(900))
    combo(dialog, "theme").setCurrentIndex(combo(dialog, "theme").findData("light"))
    check(dialog, "close_to_tray").setChecked(True)
    spin(dialog, "history_size_mib").setValue(100)
    assert dialog.buttons.button(B.Apply).isEnabled()
    with qtbot.waitSignal(dialog.saveRequested, timeout=1_000) as blocker:
        dialog.buttons.button(B.Apply).click()
    wanted = CHOSEN.model_copy(
        update={
            "interval_s": 3,
            "chart_window_s": 900,
            "theme": "light",
            "close_to_tray": True,
            "history_size_mib": 100,
        }
    )
    assert blocker.args == [wanted, None]  # no team history password typed
    assert wanted.tray_notice_shown  # the internal field keeps its saved value
    assert dialog.status.text() == "Saving…"
    assert not dialog.buttons.button(B.Ok).isEnabled()  # one save at a time
    dialog.show_saved(wanted, "")
    assert dialog.settings() == wanted and dialog.status.text() == "Saved."
    assert dialog.isVisible() and not dialog.buttons.button(B.Apply).isEnabled()

    # OK saves and closes once the save is answered.
    spin(dialog, "mute_minutes").setValue(30)
    with qtbot.waitSignal(dialog.saveRequested, timeout=1_000) as blocker:
        dialog.buttons.button(B.Ok).click()
    assert dialog.isVisible()
    dialog.show_saved(blocker.args[0], "kept the old file as settings.yaml.bad-x.")
    assert not dialog.isVisible()


def test_ok_without_changes_closes_without_saving(dialog: SettingsDialog, qtbot: QtBot) -> None:
    with qtbot.assertNotEmitted(dialog.saveRequested, wait=50):
        dialog.buttons.button(B.Ok).click()
    assert not dialog.isVisible()


def test_a_refused_value_says_why_and_emits_nothing(
    dialog: SettingsDialog, qtbot: QtBot, tmp_path: Path
) -> None:
    dialog.tabs.setCurrentIndex(0)
    spin(dialog, "history_raw_hours").setValue(720)
    spin(dialog, "history_minute_days").setValue(20)
    with qtbot.assertNotEmitted(dialog.saveRequested, wait=50):
        dialog.buttons.button(B.Ok).click()
    reason = (
        "minute roll-ups: 20 days is less than the 720 h every sample is kept; keep them "
        "at least as long"
    )
    error = dialog.rows["history_minute_days"].error
    assert error.text() == reason and not error.isHidden()
    assert dialog.rows["interval_s"].error.isHidden()
    assert dialog.errors.text() == f"Not saved: {reason}"
    assert dialog.tabs.currentIndex() == 2  # the field's tab comes to the front
    assert dialog.isVisible()
    assert dialog.grab().save(str(screenshots(tmp_path) / "settings_refused.png"))

    spin(dialog, "history_minute_days").setValue(30)
    with qtbot.waitSignal(dialog.saveRequested, timeout=1_000):
        dialog.buttons.button(B.Apply).click()
    assert error.isHidden() and dialog.errors.isHidden()


def test_a_failed_save_keeps_the_edits_and_says_why(dialog: SettingsDialog, qtbot: QtBot) -> None:
    spin(dialog, "interval_s").setValue(20)
    with qtbot.waitSignal(dialog.saveRequested, timeout=1_000):
        dialog.buttons.button(B.Ok).click()
    dialog.show_failed("the settings were not saved: cannot write x (Read-only file system)")
    assert dialog.isVisible()
    assert dialog.errors.text().endswith("(Read-only file system)")
    assert spin(dialog, "interval_s").value() == 20
    assert dialog.buttons.button(B.Ok).isEnabled() and dialog.buttons.button(B.Apply).isEnabled()


def test_restore_defaults_then_apply(dialog: SettingsDialog, qtbot: QtBot) -> None:
    dialog.buttons.button(B.RestoreDefaults).click()
    assert spin(dialog, "interval_s").value() == 5
    assert combo(dialog, "theme").currentData() == "system"
    assert dialog.settings() == CHOSEN  # nothing saved yet
    with qtbot.waitSignal(dialog.saveRequested, timeout=1_000) as blocker:
        dialog.buttons.button(B.Apply).click()
    assert blocker.args == [AppSettings(tray_notice_shown=True), None]


def test_cancel_discards_the_edits(dialog: SettingsDialog, qtbot: QtBot) -> None:
    spin(dialog, "interval_s").setValue(42)
    with qtbot.assertNotEmitted(dialog.saveRequested, wait=50):
        dialog.buttons.button(B.Cancel).click()
    assert not dialog.isVisible()
    dialog.show()
    assert spin(dialog, "interval_s").value() == 10


def test_a_save_by_the_program_keeps_the_users_edits(dialog: SettingsDialog) -> None:
    spin(dialog, "interval_s").setValue(42)
    noticed = CHOSEN.model_copy(update={"tray_notice_shown": False})
    dialog.show_saved(noticed)
    assert dialog.settings() == noticed
    assert spin(dialog, "interval_s").value() == 42
    assert dialog.form_result() == noticed.model_copy(update={"interval_s": 42})


def test_the_secrets_tab_shows_the_backend_and_moves(
    dialog: SettingsDialog, qtbot: QtBot, tmp_path: Path
) -> None:
    dialog.tabs.setCurrentIndex(3)
    assert "memory (this session only)" in dialog.backend.text()
    assert "Move secrets…" in dialog.backend.text()  # not kept: says how to keep them
    assert dialog.move_button.isEnabled()
    assert "the OS keyring (SecretService Keyring)" in dialog.move_button.toolTip()
    assert dialog.grab().save(str(screenshots(tmp_path) / "settings_secrets.png"))

    dialog.move_button.click()
    move = dialog.move_dialog
    assert move is not None and move.isVisible() and move.keyring.isChecked()
    with qtbot.waitSignal(dialog.moveRequested, timeout=1_000) as blocker:
        move.buttons.button(move.buttons.StandardButton.Ok).click()
    assert blocker.args == [MoveTarget("keyring")]
    assert not dialog.move_button.isEnabled()
    assert dialog.secrets_status.text() == "Moving the secrets to the OS keyring…"

    dialog.show_move_failed("the secrets were not moved (they are all still in memory): locked")
    assert dialog.move_button.isEnabled()
    assert dialog.secrets_status.text().endswith("locked")

    keyring = BackendInfo("SecretService Keyring", secure=True, persistent=True)
    dialog.show_moved(keyring, "Moved 3 secrets from memory to SecretService Keyring.")
    assert "SecretService Keyring" in dialog.backend.text()
    assert dialog.secrets_status.text().startswith("Moved 3 secrets")
    # The profile service's other failures (no move in flight) are not shown here.
    dialog.show_move_failed("profile 'x' could not be saved")
    assert dialog.secrets_status.text().startswith("Moved 3 secrets")
    dialog.show_backend(BackendInfo("encrypted file", True, True, kind="encrypted-file"))
    assert "encrypted file" in dialog.backend.text()
    assert not dialog.move_button.isEnabled()  # no OS keyring named to move to


def test_the_worker_saves_to_a_real_file(qtbot: QtBot, tmp_path: Path) -> None:
    store = AppSettingsStore(tmp_path / "settings.yaml")
    handle = AppSettingsHandle(store)
    handle.start()
    try:
        with qtbot.waitSignal(handle.saved, timeout=5_000) as blocker:
            handle.save(CHOSEN)
        assert blocker.args == [CHOSEN, ""]
        assert store.load() == (CHOSEN, None)

        broken = tmp_path / "not-a-folder"
        broken.write_text("")
        handle.worker.store = AppSettingsStore(broken / "settings.yaml")
        with qtbot.waitSignal(handle.failed, timeout=5_000) as failed:
            handle.save(AppSettings())
        assert failed.args[0].startswith(f"the settings were not saved: cannot write {broken}")
    finally:
        assert handle.shutdown()


def test_the_last_save_before_shutdown_is_written(qtbot: QtBot, tmp_path: Path) -> None:
    store = AppSettingsStore(tmp_path / "settings.yaml")
    handle = AppSettingsHandle(store)
    handle.start()
    handle.save(AppSettings(theme="light"))
    handle.save(CHOSEN)
    assert handle.shutdown()
    assert handle.shutdown()  # twice is fine
    assert store.load() == (CHOSEN, None)


def test_dark_theme_darkens_the_window_and_the_charts(
    qapp: QApplication, qtbot: QtBot, tmp_path: Path, system_theme_after: None
) -> None:
    charts = ChartsWidget()
    qtbot.addWidget(charts)
    charts.resize(900, 600)
    charts.show()
    dialog = SettingsDialog(AppSettings(), MEMORY)
    qtbot.addWidget(dialog)
    dialog.show()

    apply_theme(qapp, "dark")
    assert qapp.style().name().lower() == "fusion"
    assert is_dark(qapp.palette())
    qtbot.waitUntil(lambda: is_dark(dialog.palette()), timeout=2_000)  # a posted event
    window = dialog.palette().color(QPalette.ColorRole.Window)
    qtbot.waitUntil(lambda: charts._grid.backgroundBrush().color() == window, timeout=2_000)
    assert charts._grid.backgroundBrush().color().lightness() < 80
    assert dialog.grab().save(str(screenshots(tmp_path) / "settings_dark.png"))
    assert charts.grab().save(str(screenshots(tmp_path) / "charts_dark.png"))

    apply_theme(qapp, "light")
    qtbot.waitUntil(lambda: not is_dark(dialog.palette()), timeout=2_000)
    qtbot.waitUntil(lambda: charts._grid.backgroundBrush().color().lightness() > 200, timeout=2_000)

    apply_theme(qapp, "system")
    assert not is_dark(qapp.palette())  # the offscreen platform's own palette is light
