"""The main window against real sandbox clusters, offscreen, driven through its signals."""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from etcdmon_gui.app import Application
from etcdmon_gui.etcd.sandbox import Sandbox, free_ports
from etcdmon_gui.model.connection import ConnectionConfig, parse_endpoints
from etcdmon_gui.model.snapshot import Verdict
from etcdmon_gui.ui.cluster_tree_widget import MEMBER_ROLE


def config(endpoints: str | list[str], **kw: object) -> ConnectionConfig:
    return ConnectionConfig(parse_endpoints(endpoints), **kw)  # type: ignore[arg-type]


def roles(app: Application, key: str) -> list[str]:
    root = app.window.tree.root(key)
    assert root is not None
    return [root.child(i).text(2) for i in range(root.childCount())]


def test_tree_shows_three_members_and_one_leader(
    app: Application, qtbot: QtBot, cluster: Sandbox
) -> None:
    handle = app.watch_config(config(cluster.endpoints[0]))
    qtbot.waitUntil(lambda: len(roles(app, handle.key)) == 3, timeout=10_000)
    assert roles(app, handle.key).count("leader") == 1
    assert roles(app, handle.key).count("follower") == 2
    assert app.window.header.verdict.text() == "Healthy"
    assert "held" in app.window.header.quorum.text()
    root = app.window.tree.root(handle.key)
    assert root is not None and root.text(1) == "Healthy"
    # Selecting a member fills the detail panel from the same snapshot.
    app.window.tree.setCurrentItem(root.child(0))
    assert app.window.detail.value("ID") == root.child(0).data(0, MEMBER_ROLE)
    assert app.window.detail.value("Reachable") == "yes"


def test_killed_leader_shows_in_tree_and_header(
    app: Application, qtbot: QtBot, cluster: Sandbox
) -> None:
    handle = app.watch_config(config(cluster.endpoints_arg))
    qtbot.waitUntil(lambda: roles(app, handle.key).count("leader") == 1, timeout=10_000)
    root = app.window.tree.root(handle.key)
    assert root is not None
    leader_row = next(root.child(i) for i in range(3) if root.child(i).text(2) == "leader")
    leader_name = leader_row.text(0)
    cluster.kill_member(int(leader_name[1:]))  # sandbox members are named m0, m1, m2

    def new_leader_and_old_down() -> bool:
        rows = {root.child(i).text(0): root.child(i) for i in range(root.childCount())}
        old = rows[leader_name]
        return (
            old.text(1).startswith("down")
            and old.text(2) == "—"
            and [r.text(2) for r in rows.values()].count("leader") == 1
        )

    qtbot.waitUntil(new_leader_and_old_down, timeout=20_000)
    assert app.window.header.verdict.text() == "Degraded"
    assert f"member {leader_name} down" in app.window.header.reason.toolTip()
    state = root.child([root.child(i).text(0) for i in range(3)].index(leader_name)).text(1)
    assert "connection refused" in state or "was lost" in state, state


def test_charts_receive_points(app: Application, qtbot: QtBot, cluster: Sandbox) -> None:
    handle = app.watch_config(config(cluster.endpoints[0]))
    charts = app.window.charts(handle.key)
    qtbot.waitUntil(lambda: charts.point_count() >= 2, timeout=10_000)
    with qtbot.waitSignal(charts.redrawn, timeout=5_000):
        pass


def test_changing_the_interval_takes_effect(
    app: Application, qtbot: QtBot, cluster: Sandbox
) -> None:
    app.interval_s = 60
    handle = app.watch_config(config(cluster.endpoints[0]))
    worker = handle  # its signals arrive in the GUI thread
    with qtbot.waitSignal(worker.snapshotReady, timeout=10_000):
        pass  # the first sweep happens at once
    with qtbot.waitSignal(
        worker.stateChanged, timeout=5_000, check_params_cb=lambda key, paused, s: s == 1
    ):
        app.window.interval.setValue(1)
    # With 60 s still in force, two more sweeps could not arrive within 5 s.
    with qtbot.waitSignals([worker.snapshotReady, worker.snapshotReady], timeout=5_000):
        pass
    assert app.window.interval.value() == 1


def test_pause_stops_sweeps(app: Application, qtbot: QtBot, cluster: Sandbox) -> None:
    handle = app.watch_config(config(cluster.endpoints[0]))
    with qtbot.waitSignal(handle.snapshotReady, timeout=10_000):
        pass
    with qtbot.waitSignal(
        handle.stateChanged, timeout=5_000, check_params_cb=lambda key, paused, s: paused
    ):
        app.window.pause_action.setChecked(True)
    with qtbot.assertNotEmitted(handle.snapshotReady, wait=2_500):
        pass
    # Paused data does not look live: the chip is greyed and the tree and tray say so.
    assert app.window.header.is_greyed()
    assert app.window.header.freshness.text() == "paused"
    root = app.window.tree.root(handle.key)
    assert root is not None and root.text(1).endswith(" · paused")
    assert "· paused" in app.tray.tray_icon.toolTip()


def test_unreachable_cluster_shows_a_banner_and_the_rest_stays_usable(
    app: Application, qtbot: QtBot, cluster: Sandbox
) -> None:
    port = free_ports(1)[0]
    bad = app.watch_config(config(f"127.0.0.1:{port}", timeout_s=1.0))
    good = app.watch_config(config(cluster.endpoints[0]))
    banner = app.window.header.banner
    qtbot.waitUntil(lambda: banner.isVisible(), timeout=10_000)
    assert f"connection refused at 127.0.0.1:{port}" in banner.label.text()
    assert "Next try at" in banner.label.text()
    # The other cluster keeps working and can be shown.
    qtbot.waitUntil(lambda: len(roles(app, good.key)) == 3, timeout=10_000)
    good_root = app.window.tree.root(good.key)
    app.window.tree.setCurrentItem(good_root)
    assert not banner.isVisible()
    assert app.window.header.verdict.text() == "Healthy"
    assert bad.key != good.key


def test_close_while_a_member_hangs_exits_quickly(
    app: Application, qtbot: QtBot, cluster: Sandbox
) -> None:
    handle = app.watch_config(config(cluster.endpoints_arg, timeout_s=5.0))
    with qtbot.waitSignal(handle.snapshotReady, timeout=10_000):
        pass
    cluster.pause_member(1)
    try:
        handle.requestSweep.emit()
        qtbot.waitUntil(lambda: handle.worker.busy, timeout=5_000)  # blocked on the hung one
        t0 = time.monotonic()
        app.window.close()
        app.shutdown()
        elapsed = time.monotonic() - t0
    finally:
        cluster.resume_member(1)
    assert handle.qthread.isFinished()
    assert elapsed < 2.0, f"shutdown took {elapsed:.2f} s with a member hung"


def test_window_layout_is_remembered(qapp: QApplication, qtbot: QtBot, tmp_path: Path) -> None:
    settings = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    first = Application(qapp, settings)
    qtbot.addWidget(first.window)
    first.window.show()
    first.window.resize(700, 500)  # fits the offscreen platform's 800x600 screen
    first.window.main.setSizes([200, 500])
    expected = first.window.main.sizes()
    first.window.close()
    first.shutdown()
    second = Application(qapp, settings)
    qtbot.addWidget(second.window)
    second.window.show()
    try:
        assert second.window.main.sizes() == expected
    finally:
        second.window.close()
        second.shutdown()


def test_snapshot_of_unknown_cluster_is_dropped(app: Application) -> None:
    # A result for a cluster the window no longer shows must not resurrect it.
    from etcdmon_gui.model.snapshot import ClusterSnapshot

    stale = ClusterSnapshot(
        key="gone",
        taken_at=0,
        duration_s=0,
        cluster_id=None,
        cluster_ids=(),
        members=(),
        leader_id=None,
        leader_changes=0,
        leader_changes_seen_total=None,
        voters=0,
        reachable_voters=0,
        quorum_size=1,
        has_quorum=False,
        split_brain=False,
        split_brain_reason=None,
        max_raft_index_lag=None,
        learners=(),
        alarms=(),
        verdict=Verdict.UNREACHABLE,
        reasons=("x",),
    )
    app.window.show_snapshot(stale)
    assert app.window.tree.root("gone") is None


def test_alert_table_and_tray_follow_a_firing_alert(
    app: Application, qtbot: QtBot, cluster: Sandbox
) -> None:
    from etcdmon_gui.model.alerts import AlertState, Severity
    from etcdmon_gui.ui.palette import SEVERITY_COLOURS

    cfg = config(cluster.endpoints[0], timeout_s=1.0)
    app.watch(cfg.key, "prod", lambda: cfg, alert_overrides={"etcdMembersDown": {"for": "0s"}})
    table = app.window.alerts
    cluster.stop_member(2)

    def down_alert(state: AlertState) -> bool:
        return any(
            a.rule == "etcdMembersDown" and a.member == "m2" and a.state == state
            for a in table.model.alerts()
        )

    qtbot.waitUntil(lambda: down_alert(AlertState.FIRING), timeout=15_000)
    assert app.tray.worst_severity() == Severity.WARNING
    assert "1 firing" in app.window.bottom.tabText(app.window.alerts_tab)
    assert app.window.windowTitle().startswith("(1) prod — Degraded")
    assert app.tray.badge() == 1
    # Acknowledged, it leaves the badge; the cluster is still Degraded, so amber stays.
    fired = next(a for a in table.model.alerts() if a.rule == "etcdMembersDown")
    app.alert_handle.requestAcknowledge.emit(fired.fingerprint)
    qtbot.waitUntil(lambda: app.window.badge() == 0, timeout=5_000)
    assert app.window.bottom.tabText(app.window.alerts_tab) == "&Alerts"
    assert app.tray.badge() == 0 and app.tray.icon_colour() == SEVERITY_COLOURS[Severity.WARNING]
    assert app.window.windowTitle().startswith("prod — Degraded")
    cluster.restart_member(2)
    qtbot.waitUntil(lambda: down_alert(AlertState.RESOLVED), timeout=15_000)
    assert app.tray.worst_severity() is None
    assert app.window.bottom.tabText(app.window.alerts_tab) == "&Alerts"


def test_a_malformed_rules_file_is_reported_in_the_window(
    app: Application, qtbot: QtBot, tmp_path: Path
) -> None:
    (tmp_path / "rules.yaml").write_text("rules:\n- name: etcdNoLeader\n  severity: loud\n")
    app.watch_config(config(f"127.0.0.1:{free_ports(1)[0]}", timeout_s=0.5))
    banner = app.window.notification_banner
    qtbot.waitUntil(lambda: banner.isVisible(), timeout=10_000)
    text = banner.message.text()
    assert "rules.yaml: rule etcdNoLeader: field severity" in text


def test_a_desktop_channel_test_shows_through_the_tray(app: Application, qtbot: QtBot) -> None:
    from etcdmon_gui.model.delivery import DeliveryStatus
    from etcdmon_gui.notify.channels.desktop import DesktopChannelConfig

    with qtbot.waitSignal(app.tray.popupShown, timeout=5_000) as shown:
        future = app.dispatcher.send_test(DesktopChannelConfig(id="desk", name="desktop"))
    assert future.result(5).status == DeliveryStatus.DELIVERED
    assert "test" in " ".join(shown.args).lower()
