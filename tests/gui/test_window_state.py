"""The main window on hand-built snapshots and a settable clock: a layout that works at
1024x700, the DB chart, stale and paused data, the verdict in the tray and the title, the
badge, and the connect dialog's endpoint check."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QColor
from pytestqt.qtbot import QtBot

from etcdmon_gui.formatting import fmt_clock
from etcdmon_gui.model.alerts import Alert, AlertState, Severity
from etcdmon_gui.model.errors import BadEndpointError
from etcdmon_gui.model.metrics import MemberMetrics, Quantiles
from etcdmon_gui.model.snapshot import ClusterSnapshot, MemberStatus, Verdict
from etcdmon_gui.ui.chart_definitions import PLOT_KEYS
from etcdmon_gui.ui.charts_widget import ChartsWidget
from etcdmon_gui.ui.cluster_state import Freshness
from etcdmon_gui.ui.connect_dialog import ConnectDialog
from etcdmon_gui.ui.main_window import MainWindow
from etcdmon_gui.ui.palette import HEALTHY_COLOUR, SEVERITY_COLOURS, UNKNOWN_COLOUR
from etcdmon_gui.ui.tray import AlertTray
from tests.builders import Clock, member, snap

INTERVAL_S = 5


def with_metrics(m: MemberStatus, db: float, quota: float = 2e9) -> MemberStatus:
    q = Quantiles(0.001, 0.002, 0.003)
    mm = MemberMetrics(
        window_s=5.0,
        wal_fsync=q,
        backend_commit=q,
        peer_rtt=q,
        peer_rtt_by_peer={},
        proposals_committed_per_s=10.0,
        proposals_applied_per_s=10.0,
        proposals_pending=0.0,
        proposals_failed_per_s=0.0,
        has_leader=True,
        is_leader=m.id == 1,
        leader_changes_total=1.0,
        db_total_bytes=db,
        db_in_use_bytes=db,
        quota_bytes=quota,
        grpc_requests_per_s={},
        grpc_requests_total_per_s=20.0,
        grpc_failure_ratio=0.0,
        rss_bytes=None,
    )
    return replace(m, db_size=int(db), probe_ms=2.0, probe_quantiles=q, metrics=mm)


def cluster_snap(t: float, db: float = 2e6, **kw: object) -> ClusterSnapshot:
    members = [with_metrics(member(i), db) for i in (3, 1, 2)]  # not in name order
    return replace(snap(t, members), **kw)  # type: ignore[arg-type]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def window(qtbot: QtBot, tmp_path: Path, clock: Clock) -> MainWindow:
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    win = MainWindow(settings, clock=clock, freshness_check_ms=20)
    qtbot.addWidget(win)
    return win


@pytest.fixture
def tray(window: MainWindow) -> AlertTray:
    """Wired to the window as the application wires it."""
    tray = AlertTray(window, tray_available=lambda: False)
    window.clustersChanged.connect(tray.set_clusters)
    tray.iconChanged.connect(window.set_status_icon)
    return tray


def show_at(qtbot: QtBot, window: MainWindow, width: int, height: int) -> None:
    window.resize(width, height)
    window.show()
    qtbot.waitExposed(window)


def icon_colour(window: MainWindow) -> QColor:
    return window.windowIcon().pixmap(16).toImage().pixelColor(8, 8)


# -- layout ---------------------------------------------------------------------------


def test_a_1024x700_window_keeps_the_tree_and_charts_readable(
    qtbot: QtBot, window: MainWindow, clock: Clock
) -> None:
    show_at(qtbot, window, 1024, 700)
    window.add_cluster("c1", "prod")
    charts = window.charts("c1")
    with qtbot.waitSignal(charts.redrawn, timeout=2_000):
        window.show_snapshot(cluster_snap(clock.t))
    # Charts tall enough for their axis labels (they were ~40 px), in a grid that fits.
    heights = [charts.plot(key).getViewBox().height() for key in PLOT_KEYS]
    assert min(heights) >= 75, heights
    # The tree keeps a third of the width: names, states and roles, not names alone.
    assert window.main.sizes()[0] >= 300
    assert {"Cluster / member", "State", "Role"} <= set(window.tree.visible_columns())
    # The alert tabs start folded to their bar in a short window; a tab click unfolds.
    assert window.bottom_folded() and not window.bottom_action.isChecked()
    window.show_alerts_tab()
    assert not window.bottom_folded() and window.bottom_action.isChecked()
    # The left pane collapses and comes back at its width.
    width = window.main.sizes()[0]
    window.side_action.setChecked(False)
    assert window.side_collapsed()
    window.side_action.setChecked(True)
    assert window.main.sizes()[0] == width


def test_members_by_name_and_the_cluster_by_its_name(
    qtbot: QtBot, window: MainWindow, clock: Clock
) -> None:
    show_at(qtbot, window, 1024, 700)
    window.add_cluster("c1", "prod")
    window.show_snapshot(cluster_snap(clock.t))
    root = window.tree.root("c1")
    assert root is not None
    assert [root.child(i).text(0) for i in range(root.childCount())] == ["m1", "m2", "m3"]
    assert window.charts("c1").legend_names() == ["m1", "m2", "m3", "quota"]
    assert window.detail.value("Cluster") == "prod"
    assert window.detail.value("Connection") == "c1"
    assert window.detail.value("Members") == "3: m1, m2, m3"
    assert window.windowTitle() == "prod — Healthy — etcdmon"
    # A member selected keeps its row when a later sweep reorders nothing.
    window.tree.setCurrentItem(root.child(1))
    window.show_snapshot(cluster_snap(clock.t + 1))
    assert window.detail.value("Name") == "m2"


def test_the_chart_grid_reflows_to_the_room_it_has(qtbot: QtBot) -> None:
    charts = ChartsWidget()
    qtbot.addWidget(charts)
    charts.resize(1400, 420)  # wide and short: more columns of taller plots
    charts.show()
    qtbot.waitExposed(charts)
    assert charts._grid.columns >= 3
    charts.resize(560, 1600)  # narrow and tall: one column
    qtbot.waitUntil(lambda: charts._grid.columns == 1, timeout=2_000)
    top = charts.plot(PLOT_KEYS[0]).getViewBox().sceneBoundingRect().top()
    assert charts.plot(PLOT_KEYS[1]).getViewBox().sceneBoundingRect().top() > top


def test_the_db_chart_fits_the_data_and_names_the_quota(qtbot: QtBot, clock: Clock) -> None:
    charts = ChartsWidget()
    qtbot.addWidget(charts)
    charts.resize(1000, 700)
    charts.show()
    qtbot.waitExposed(charts)
    with qtbot.waitSignal(charts.redrawn, timeout=2_000):
        charts.add_snapshot(cluster_snap(clock.t, db=2e6))
    top = charts.plot("db").getViewBox().viewRange()[1][1]
    assert 2e6 < top < 3e6  # scaled to 2 MB, not to the 2 GB quota
    assert "DB size — 0.10 % of 2.0 GB quota" in charts.plot("db").titleLabel.text
    # Near the quota, the dashed line is in range and the title says so.
    with qtbot.waitSignal(charts.redrawn, timeout=2_000):
        charts.add_snapshot(cluster_snap(clock.t + 1, db=1.9e9))
    assert charts.plot("db").getViewBox().viewRange()[1][1] >= 2e9
    assert "95.0 % of 2.0 GB quota (dashed)" in charts.plot("db").titleLabel.text


# -- freshness ------------------------------------------------------------------------


def test_stale_data_is_greyed_and_says_since_when(
    qtbot: QtBot, window: MainWindow, tray: AlertTray, clock: Clock
) -> None:
    window.add_cluster("c1", "prod")
    window.show_worker_state("c1", False, INTERVAL_S)
    first = cluster_snap(clock.t)
    window.show_snapshot(first)
    root = window.tree.root("c1")
    assert root is not None and root.text(1) == "Healthy"
    assert tray.icon_colour() == HEALTHY_COLOUR
    clock.t += 2 * INTERVAL_S - 1  # late, but within two intervals: still live
    window.check_freshness()
    assert not window.header.is_greyed()

    clock.t += 2  # now older than two intervals: the timer notices
    with qtbot.waitSignal(
        window.clustersChanged,
        timeout=2_000,
        check_params_cb=lambda states: states[0].freshness is Freshness.STALE,
    ):
        pass
    since = f"stale since {fmt_clock(first.taken_at + first.duration_s)}"
    assert window.header.is_greyed()
    assert window.header.freshness.text() == since
    assert root.text(1) == f"Healthy · {since}"
    assert window.windowTitle() == f"prod — Healthy · {since} — etcdmon"
    assert tray.icon_colour() == UNKNOWN_COLOUR  # nothing live vouches for "healthy"
    assert f"prod: Healthy · {since}" in tray.tray_icon.toolTip()

    window.show_snapshot(cluster_snap(clock.t))  # a sweep again: live again
    assert not window.header.is_greyed() and window.header.freshness.isHidden()
    assert root.text(1) == "Healthy"
    assert tray.icon_colour() == HEALTHY_COLOUR


def test_paused_sweeps_say_paused(qtbot: QtBot, window: MainWindow, tray: AlertTray) -> None:
    window.add_cluster("c1", "prod")
    window.show_snapshot(cluster_snap(window.clock()))
    window.show_worker_state("c1", True, INTERVAL_S)
    assert window.header.is_greyed() and window.header.freshness.text() == "paused"
    root = window.tree.root("c1")
    assert root is not None and root.text(1) == "Healthy · paused"
    assert "prod: Healthy · paused" in tray.tray_icon.toolTip()
    assert window.pause_action.isChecked()
    window.show_worker_state("c1", False, INTERVAL_S)
    assert not window.header.is_greyed() and root.text(1) == "Healthy"


# -- verdict, tray, badge ---------------------------------------------------------------


def alert(rule: str, severity: Severity, *, acknowledged: bool = False) -> Alert:
    return Alert(
        fingerprint=rule,
        rule=rule,
        severity=severity,
        cluster="c1",
        cluster_name="prod",
        member="m3",
        state=AlertState.FIRING,
        value=1.0,
        summary=f"{rule} is firing",
        since=0.0,
        fired_at=0.0,
        acknowledged=acknowledged,
    )


def test_tray_and_title_follow_the_verdict_without_an_alert(
    qtbot: QtBot, window: MainWindow, tray: AlertTray, clock: Clock
) -> None:
    window.add_cluster("c1", "prod")
    degraded = cluster_snap(clock.t, verdict=Verdict.DEGRADED, reasons=("member m3 down",))
    window.show_snapshot(degraded)
    amber = SEVERITY_COLOURS[Severity.WARNING]
    assert tray.worst_severity() is None  # no alert fires yet
    assert tray.icon_colour() == amber
    assert icon_colour(window) == QColor(amber)
    assert window.windowTitle() == "prod — Degraded — etcdmon"
    window.show_snapshot(cluster_snap(clock.t + 1, verdict=Verdict.CRITICAL))
    assert tray.icon_colour() == SEVERITY_COLOURS[Severity.CRITICAL]
    window.show_snapshot(cluster_snap(clock.t + 2))
    assert icon_colour(window) == QColor(HEALTHY_COLOUR)


def test_acknowledged_alerts_do_not_count_in_the_badge(window: MainWindow, tray: AlertTray) -> None:
    alerts = [
        alert("etcdNoLeader", Severity.CRITICAL, acknowledged=True),
        alert("etcdMembersDown", Severity.WARNING),
    ]
    window.set_alerts(alerts)
    tray.set_alerts(alerts)
    assert window.badge() == 1 and tray.badge() == 1
    assert window.bottom.tabText(window.alerts_tab) == "&Alerts (1 firing)"
    assert window.windowTitle() == "(1) etcdmon"
    assert "2 alerts firing (worst: critical), 1 acknowledged" in tray.tray_icon.toolTip()
    assert tray.icon_colour() == SEVERITY_COLOURS[Severity.CRITICAL]  # still the worst
    window.set_alerts(alerts[:1])
    tray.set_alerts(alerts[:1])
    assert window.badge() == 0 and tray.badge() == 0
    assert window.bottom.tabText(window.alerts_tab) == "&Alerts"
    assert window.windowTitle() == "etcdmon"


# -- the connect dialog -----------------------------------------------------------------


def test_connect_dialog_checks_endpoints_with_the_clis_parser(qtbot: QtBot) -> None:
    from etcdmon_gui.model.connection import parse_endpoints

    dialog = ConnectDialog()
    qtbot.addWidget(dialog)
    dialog.show()
    assert not dialog.ok_button.isEnabled()  # nothing typed yet
    assert dialog.endpoints_error.isHidden()  # ...which is not an error to shout about
    qtbot.keyClicks(dialog.endpoints, "foo bar:99999")
    with pytest.raises(BadEndpointError) as raised:
        parse_endpoints("foo bar:99999")
    assert not dialog.ok_button.isEnabled()
    assert dialog.endpoints_error.isVisible()
    assert dialog.endpoints_error.text() == str(raised.value)
    qtbot.keyClick(dialog.endpoints, Qt.Key.Key_Return)  # Enter does not get past it
    assert dialog.isVisible() and dialog.result() == 0
    dialog.endpoints.setText("127.0.0.1:2379, https://etcd-2:2379")
    assert dialog.ok_button.isEnabled() and dialog.endpoints_error.isHidden()
    dialog.cert.setText("/etc/etcd/client.pem")  # a certificate without its key
    assert not dialog.ok_button.isEnabled() and dialog.pair_error.isVisible()
    dialog.key.setText("/etc/etcd/client-key.pem")
    assert dialog.ok_button.isEnabled()
    with qtbot.waitSignal(dialog.accepted, timeout=1_000):
        dialog.ok_button.click()


def test_a_slow_sweep_stretches_the_interval_staleness_is_judged_by() -> None:
    from etcdmon_gui.ui.cluster_state import freshness

    def state(age: float, sweep_s: float = 0.0) -> Freshness:
        return freshness(paused=False, last_sweep=0.0, interval_s=1, now=age, sweep_s=sweep_s)

    assert state(2.5) is Freshness.STALE
    assert state(2.5, sweep_s=2.0) is Freshness.LIVE  # a member answering at its deadline
    assert state(4.5, sweep_s=2.0) is Freshness.STALE
    assert freshness(paused=True, last_sweep=0.0, interval_s=1, now=99) is Freshness.PAUSED
    assert freshness(paused=False, last_sweep=None, interval_s=1, now=99) is Freshness.WAITING


def test_the_tree_menu_asks_for_actions_on_its_cluster(
    qtbot: QtBot, window: MainWindow, clock: Clock
) -> None:
    window.add_cluster("c1", "prod")
    window.show_snapshot(cluster_snap(clock.t))
    menu = window.tree.context_menu("c1")
    actions = {a.text(): a for a in menu.actions() if a.text()}
    assert list(actions) == ["Sweep &now", "&Pause sweeps", "Re&connect", "&Disconnect"]
    for text, signal, args in (
        ("Sweep &now", window.sweepRequested, ["c1"]),
        ("&Pause sweeps", window.pauseRequested, ["c1", True]),
        ("Re&connect", window.reconnectRequested, ["c1"]),
        ("&Disconnect", window.disconnectRequested, ["c1"]),
    ):
        with qtbot.waitSignal(signal, timeout=1_000) as blocker:
            actions[text].trigger()
        assert blocker.args == args
    window.show_worker_state("c1", True, INTERVAL_S)
    menu = window.tree.context_menu("c1")
    assert "&Resume sweeps" in [a.text() for a in menu.actions()]
