"""Managing watched clusters against real sandbox clusters: disconnect, reconnect, a
profile's edits applied live, and one cluster never watched twice."""

from __future__ import annotations

import grpc
from pyetcd import etcdrpc
from pytestqt.qtbot import QtBot

from etcdmon_gui.app import Application
from etcdmon_gui.etcd.sandbox import Sandbox
from etcdmon_gui.model.connection import ConnectionConfig, parse_endpoints
from etcdmon_gui.model.errors import ConfigError
from etcdmon_gui.model.profile import Profile
from etcdmon_gui.store.profiles import ProfileStore
from etcdmon_gui.ui.connect_dialog import ConnectRequest

ROOT_PASSWORD = "lifecycle-root-pw"


def config(endpoints: str | list[str]) -> ConnectionConfig:
    return ConnectionConfig(parse_endpoints(endpoints))


def enable_auth(endpoint: str) -> None:
    """Create root with a password and turn auth on, with the raw gRPC API."""
    with grpc.insecure_channel(endpoint.split("://")[1]) as channel:
        auth = etcdrpc.AuthStub(channel)
        auth.UserAdd(etcdrpc.AuthUserAddRequest(name="root", password=ROOT_PASSWORD), timeout=5)
        auth.UserGrantRole(etcdrpc.AuthUserGrantRoleRequest(user="root", role="root"), timeout=5)
        auth.AuthEnable(etcdrpc.AuthEnableRequest(), timeout=5)


def test_disconnect_from_the_tree_menu_stops_the_worker_and_removes_the_cluster(
    app: Application, qtbot: QtBot, cluster: Sandbox
) -> None:
    handle = app.watch_config(config(cluster.endpoints[0]), "prod")
    with qtbot.waitSignal(handle.snapshotReady, timeout=10_000):
        pass
    key = handle.key
    assert app.window.windowTitle().startswith("prod — ")
    menu = app.window.tree.context_menu(key)
    disconnect = next(a for a in menu.actions() if a.text() == "&Disconnect")
    forget = app.alert_handle.requestForget  # the alert worker lets its alerts go
    with qtbot.waitSignals(
        [handle.stopped, forget], timeout=5_000, check_params_cbs=[None, lambda k: k == key]
    ):
        disconnect.trigger()
        # At once, without waiting for the thread: the cluster is gone from the window.
        assert app.window.tree.root(key) is None
        assert key not in app.workers
    assert handle.qthread.isFinished()
    assert app.window.cluster_keys() == []
    assert app.window.charts_stack.count() == 1  # only the "connect to a cluster" page
    assert app.window.detail.rowCount() == 0
    assert app.window.header.verdict.text() == "—"
    assert app.window.windowTitle() == "etcdmon"
    assert not app.window.disconnect_action.isEnabled()
    assert "Disconnected from prod" in app.window.statusBar().currentMessage()


def test_reconnect_from_the_monitor_menu_restarts_the_worker_and_keeps_the_charts(
    app: Application, qtbot: QtBot, cluster: Sandbox
) -> None:
    old = app.watch_config(config(cluster.endpoints[0]))
    with qtbot.waitSignal(old.snapshotReady, timeout=10_000):
        pass
    key = old.key
    charts = app.window.charts(key)
    points = charts.point_count()
    assert app.window.reconnect_action in app.window.monitor_menu.actions()
    with qtbot.waitSignal(old.stopped, timeout=5_000):
        app.window.reconnect_action.trigger()
    new = app.workers[key]
    assert new is not old and old.qthread.isFinished()
    with qtbot.waitSignal(new.snapshotReady, timeout=10_000):
        pass
    assert app.window.charts(key) is charts
    qtbot.waitUntil(lambda: charts.point_count() > points, timeout=5_000)


def test_saving_a_watched_profile_applies_it_at_once(
    app: Application, qtbot: QtBot, cluster: Sandbox, store: ProfileStore
) -> None:
    enable_auth(cluster.endpoints[0])
    prof = Profile(name="prod", endpoints=cluster.endpoints)
    store.add(prof)
    handle = app.connect_profile(prof)
    key = f"profile:{prof.id}"
    root = app.window.tree.root(key)
    assert root is not None
    # Without a user the probe's reads are refused: the members are up, reads unproven.
    qtbot.waitUntil(lambda: root.text(1).startswith("Degraded"), timeout=15_000)
    updated = prof.model_copy(update={"name": "prod (auth)", "username": "root"})
    with qtbot.waitSignal(handle.stopped, timeout=10_000):
        app.profile_service.save("prod", updated, {"password": ROOT_PASSWORD})
    assert app.workers[key] is not handle
    qtbot.waitUntil(lambda: root.text(1) == "Healthy", timeout=15_000)
    assert root.text(0) == "prod (auth)"
    assert app.window.detail.value("Cluster") == "prod (auth)"
    # Connecting the profile as saved again changes nothing: it is shown, not restarted.
    current = app.workers[key]
    app.connect_profile(updated)
    assert app.workers[key] is current
    assert "already watched" in app.window.statusBar().currentMessage()


def test_a_cluster_is_watched_once_and_its_other_endpoints_can_be_merged(
    app: Application, qtbot: QtBot, cluster: Sandbox
) -> None:
    first = app.watch_config(config(cluster.endpoints[0]), "prod")
    with qtbot.waitSignal(first.snapshotReady, timeout=10_000):
        pass
    # The same endpoint again, spelt differently: shown, not silently ignored.
    app.connect_request(ConnectRequest(endpoints=cluster.endpoints[0].removeprefix("http://")))
    assert list(app.workers) == [first.key]
    assert "prod is already watched" in app.window.statusBar().currentMessage()
    # Another member's endpoint: the same cluster id, so refused, and a merge offered.
    second = cluster.endpoints[1]
    app.connect_request(ConnectRequest(endpoints=second))
    qtbot.waitUntil(
        lambda: app.window.merge_box is not None and app.window.merge_box.isVisible(),
        timeout=10_000,
    )
    box = app.window.merge_box
    assert box is not None
    assert second not in app.workers and app.window.tree.root(second) is None
    assert app.window.cluster_keys() == [first.key]
    assert "already watched as “prod”" in box.text()
    assert second in box.informativeText()
    add = next(b for b in box.buttons() if b.text() == "Add endpoints")
    with qtbot.waitSignal(first.stopped, timeout=10_000):  # restarted with both
        add.click()
    merged = app.workers[first.key]
    assert [e.url for e in app.config_factories[first.key]().endpoints] == cluster.endpoints[:2]
    with qtbot.waitSignal(merged.snapshotReady, timeout=10_000):
        pass
    assert app.window.cluster_keys() == [first.key]


def test_a_sweep_that_cannot_run_says_so_in_the_tree(app: Application, qtbot: QtBot) -> None:
    def broken() -> ConnectionConfig:
        raise ConfigError("a client certificate needs its key and vice versa")

    handle = app.watch("broken", "broken", broken)
    with qtbot.waitSignal(handle.sweepFailed, timeout=5_000):
        pass
    root = app.window.tree.root("broken")
    assert root is not None
    assert root.text(1) == "failed: a client certificate needs its key and vice versa"


def test_bad_endpoints_are_never_watched(app: Application, qtbot: QtBot) -> None:
    app.connect_request(ConnectRequest(endpoints="foo bar:99999"))
    assert app.workers == {} and app.window.cluster_keys() == []
    assert app.window.notification_banner.isVisible()
    assert "bad endpoints 'foo bar:99999'" in app.window.notification_banner.message.text()
