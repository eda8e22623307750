"""The desktop app and its history file: every sweep and member kept, and a damaged file
that turns history off, says so, and is left as it was, while monitoring goes on."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from etcdmon_gui.etcd.sandbox import Sandbox
from etcdmon_gui.model.connection import ConnectionConfig, parse_endpoints
from etcdmon_gui.model.history import MemberRole, MetricsQuery
from etcdmon_gui.store.history.reader import HistoryReader
from etcdmon_gui.store.profiles import ProfileStore
from etcdmon_gui.store.secrets import SecretStore
from tests.app_support import make_app


@pytest.fixture
def damaged(tmp_path: Path) -> bytes:
    content = b"this is no database, " * 400
    (tmp_path / "history.sqlite3").write_bytes(content)
    return content


def test_every_sweep_and_member_is_kept(
    qapp: QApplication,
    qtbot: QtBot,
    tmp_path: Path,
    store: ProfileStore,
    secrets: SecretStore,
    cluster: Sandbox,
) -> None:
    app = make_app(qapp, qtbot, tmp_path, profiles=store, secrets=secrets)
    try:
        handle = app.watch_config(ConnectionConfig(parse_endpoints(cluster.endpoints[0])), "prod")
        for _ in range(3):
            with qtbot.waitSignal(handle.snapshotReady, timeout=10_000):
                pass
        key = handle.key
        assert app.history.writer.flush()
    finally:
        app.shutdown()
    assert app.window.history_state.isHidden()
    reader = HistoryReader(tmp_path / "history.sqlite3")
    try:
        (record,) = reader.clusters()
        assert (record.key, record.name) == (key, "prod")
        members = reader.members(key)
        assert sorted(m.name for m in members) == ["m0", "m1", "m2"]
        assert sum(m.role is MemberRole.LEADER for m in members) == 1
        series = reader.series(
            MetricsQuery(key, time.time() - 600, time.time(), ("db_size_bytes",))
        )
        assert sorted(s.member for s in series) == sorted(m.member for m in members)
        assert all(len(s) >= 3 and s.last.min() > 0 for s in series)
    finally:
        reader.close()


def test_a_damaged_history_file_turns_history_off_and_is_kept(
    qapp: QApplication,
    qtbot: QtBot,
    tmp_path: Path,
    store: ProfileStore,
    secrets: SecretStore,
    cluster: Sandbox,
    damaged: bytes,
) -> None:
    app = make_app(qapp, qtbot, tmp_path, profiles=store, secrets=secrets)
    try:
        label = app.window.history_state
        qtbot.waitUntil(lambda: not label.isHidden(), timeout=10_000)
        assert label.text() == "History off"
        assert "history.sqlite3 is damaged" in label.toolTip()
        assert "it was left as it is" in label.toolTip()
        # Monitoring goes on without it.
        handle = app.watch_config(ConnectionConfig(parse_endpoints(cluster.endpoints[0])), "prod")
        with qtbot.waitSignal(handle.snapshotReady, timeout=10_000):
            pass
        assert app.window.header.verdict.text() != "—"
    finally:
        app.shutdown()
    assert (tmp_path / "history.sqlite3").read_bytes() == damaged
