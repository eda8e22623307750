"""pytest-qt set-up for the GUI tests: offscreen, no QThread may outlive its test, and
the fixtures most GUI tests share (a real cluster, the whole application)."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from collections.abc import Iterator
from pathlib import Path

import pytest
import shiboken6
from PySide6.QtCore import QThread
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from etcdmon_gui.app import Application
from etcdmon_gui.etcd.sandbox import Sandbox
from etcdmon_gui.store.profiles import ProfileStore
from etcdmon_gui.store.secrets import SecretStore
from tests.app_support import make_app
from tests.support import VERSIONS, find_binary


@pytest.fixture(autouse=True)
def no_leaked_qthreads(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Record every QThread a test starts; fail if one is still running at teardown.

    Autouse fixtures are torn down last, so the test's own fixtures (which shut the
    application down) have run by then.
    """
    started: list[QThread] = []
    original = QThread.start

    def start(self: QThread, *args: object) -> None:
        started.append(self)
        original(self, *args)

    monkeypatch.setattr(QThread, "start", start)
    yield
    leaked = [t.objectName() or repr(t) for t in started if shiboken6.isValid(t) and t.isRunning()]
    assert not leaked, f"QThreads still running after the test: {leaked}"


@pytest.fixture(scope="module")
def etcd35() -> Path:
    return find_binary(VERSIONS[0])


@pytest.fixture
def cluster(etcd35: Path) -> Iterator[Sandbox]:
    with Sandbox(3, binary=etcd35) as sandbox:
        yield sandbox


@pytest.fixture
def store(tmp_path: Path) -> ProfileStore:
    return ProfileStore(tmp_path / "config" / "profiles.yaml")


@pytest.fixture
def secrets() -> SecretStore:
    return SecretStore.memory()


@pytest.fixture
def app(
    qapp: QApplication, qtbot: QtBot, tmp_path: Path, store: ProfileStore, secrets: SecretStore
) -> Iterator[Application]:
    """The whole application, shown offscreen, with its files under ``tmp_path``."""
    application = make_app(qapp, qtbot, tmp_path, profiles=store, secrets=secrets)
    yield application
    application.shutdown()
