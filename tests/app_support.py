"""The whole desktop application for GUI tests: shown offscreen, its files (settings,
profiles, history) under one folder, secrets in memory unless given."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from etcdmon_gui.app import Application
from etcdmon_gui.app.desktop import DesktopStart
from etcdmon_gui.store.profiles import ProfileStore
from etcdmon_gui.store.secrets import SecretStore


def make_app(
    qapp: QApplication,
    qtbot: QtBot,
    data_dir: Path,
    *,
    profiles: ProfileStore | None = None,
    secrets: SecretStore | None = None,
    desktop: DesktopStart | None = None,
) -> Application:
    """The application over ``data_dir``, shown; the caller shuts it down."""
    settings = QSettings(str(data_dir / "settings.ini"), QSettings.Format.IniFormat)
    app = Application(
        qapp,
        settings,
        interval_s=1,
        profiles=profiles or ProfileStore(data_dir / "config" / "profiles.yaml"),
        secrets=secrets or SecretStore.memory(),
        data_dir=data_dir,
        desktop=desktop,
    )
    qtbot.addWidget(app.window)
    app.window.show()
    return app
