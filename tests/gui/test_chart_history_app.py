"""The whole app loads a chart range from its history file: a cluster watched before (a
few days of roll-ups, written with the store's functions) is charted over 7 days
although this run has no sample of it, through the history's reader thread."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QToolButton
from pytestqt.qtbot import QtBot

from etcdmon_gui.etcd.sandbox import free_ports
from etcdmon_gui.model.connection import ConnectionConfig, parse_endpoints
from etcdmon_gui.model.history import MemberRecord, MemberRole, Sample
from etcdmon_gui.store.history import metrics as store
from etcdmon_gui.store.history.db import connect
from etcdmon_gui.store.profiles import ProfileStore
from etcdmon_gui.store.secrets import SecretStore
from tests.app_support import make_app

DAY = 86_400.0
EAST, WEST = "8e9e05c52164694d", "91bc3c398fb3c146"


def fill(path: Path, key: str, now: float) -> None:
    """Three days of sweeps every 10 minutes, ending an hour ago, rolled up; the two
    members' names in the inventory."""
    db = connect(path)
    ids = store.SeriesIds()
    with db:
        store.note_cluster(db, key, "old", None, now - 3 * DAY)
        for i in range(3 * 24 * 6):
            t = now - 3 * DAY - 3600 + i * 600
            samples = [
                Sample(EAST, "wal_fsync_p99_ms", 2.0),
                Sample(EAST, "db_size_bytes", 1e6 + i * 1e3),
                Sample(EAST, "quota_bytes", 2e9),
                Sample(WEST, "wal_fsync_p99_ms", 3.0),
            ]
            store.write_samples(db, ids, key, t, samples)
        while store.roll_up(db, store.to_ms(now)):
            pass
        store.save_members(
            db,
            [
                MemberRecord(key, m, name, (), (), "3.5.17", MemberRole.FOLLOWER, None, 0, now)
                for m, name in ((EAST, "east"), (WEST, "west"))
            ],
            [],
        )
    db.close()


def test_the_7_day_window_loads_the_history_file(
    qapp: QApplication, qtbot: QtBot, tmp_path: Path, store: ProfileStore, secrets: SecretStore
) -> None:
    # Nothing answers at this port: the cluster is known only from its history.
    config = ConnectionConfig(parse_endpoints(f"127.0.0.1:{free_ports(1)[0]}"), timeout_s=1.0)
    now = time.time()
    fill(tmp_path / "history.sqlite3", config.key, now)
    app = make_app(qapp, qtbot, tmp_path, profiles=store, secrets=secrets)
    app.window.resize(1400, 900)
    try:
        handle = app.watch_config(config, "old")
        charts = app.window.charts(config.key)
        with qtbot.waitSignal(handle.snapshotReady, timeout=10_000):
            pass
        # The first sweep asked for the 5 minutes before it: nothing there.
        qtbot.waitUntil(lambda: charts.loaded_range() is not None, timeout=10_000)
        assert not charts.is_loading()
        assert charts.member_ids() == []

        week = charts.findChild(QToolButton, "window604800s")
        assert week is not None
        qtbot.mouseClick(week, Qt.MouseButton.LeftButton)
        assert charts.is_loading()
        qtbot.waitUntil(lambda: not charts.is_loading(), timeout=10_000)
        loaded = charts.loaded_range()
        assert loaded is not None and loaded.end - loaded.start == pytest.approx(7 * DAY, rel=1e-3)
        qtbot.waitUntil(lambda: not charts.shows_no_data("wal"), timeout=5_000)

        assert charts.legend_names() == ["east", "west", "quota"]
        east, west = int(EAST, 16), int(WEST, 16)
        curve = charts.history_curve(east, "wal")
        assert curve is not None
        x, y = curve.getData()
        assert x is not None and y is not None and len(x) > 20
        assert now - 3 * DAY - 3600 - 1800 <= x[0] and x[-1] <= now - 3600 + 1800
        np.testing.assert_allclose(y, 2.0)
        curve = charts.history_curve(west, "wal")
        assert curve is not None
        np.testing.assert_allclose(curve.getData()[1], 3.0)
        db = charts.history_curve(east, "db")
        assert db is not None and np.all(np.diff(db.getData()[1]) > 0)  # it grew
        assert not charts.shows_no_data("db")
        assert charts.shows_no_data("backend")  # never stored
    finally:
        app.shutdown()
