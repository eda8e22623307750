"""The alert worker in its own thread, through its GUI-side handle: alerts restored for a
cluster nobody watches any more resolve (to the history and a real webhook receiver),
a cluster let go resolves its alerts, and acknowledgements, own silences and matcher
silences survive a restart."""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from etcdmon_gui.model.alerts import Alert, AlertEvent, AlertState, EventKind, Severity, Silence
from etcdmon_gui.model.history import AlertQuery
from etcdmon_gui.model.snapshot import ClusterSnapshot
from etcdmon_gui.notify.dispatcher import NotificationDispatcher
from etcdmon_gui.store.history import AlertHistory
from etcdmon_gui.store.secrets import SecretStore
from etcdmon_gui.workers.alert_worker import AlertHandle, AlertWorker, Sink
from tests.builders import member, snap
from tests.integration.test_notify import FAST, Receiver, webhook

DOWN_NOW = {"etcdMembersDown": {"for": "0s"}}
MakeHandle = Callable[..., AlertHandle]


class Seen:
    """What the handle relayed into the GUI thread, the newest last."""

    def __init__(self, handle: AlertHandle) -> None:
        self.alerts: list[Alert] = []
        self.silences: list[Silence] = []
        self.events: list[AlertEvent] = []
        handle.alertsChanged.connect(self._alerts)
        handle.silencesChanged.connect(self._silences)
        handle.alertEvents.connect(self.events.extend)

    def _alerts(self, alerts: list[Alert]) -> None:
        self.alerts = alerts

    def _silences(self, silences: list[Silence]) -> None:
        self.silences = silences

    def find(self, member: str, rule: str = "etcdMembersDown") -> Alert | None:
        return next((a for a in self.alerts if a.member == member and a.rule == rule), None)

    def alert(self, member: str) -> Alert:
        found = self.find(member)
        assert found is not None, f"no alert for {member}"
        return found


@pytest.fixture
def make_handle(tmp_path: Path) -> Iterator[MakeHandle]:
    handles: list[AlertHandle] = []

    def make(sinks: list[Sink] | None = None, grace_s: float = 60.0) -> AlertHandle:
        path = tmp_path / "history.sqlite3"
        worker = AlertWorker(
            lambda: AlertHistory(path),
            sinks=sinks or [],
            rules_path=None,
            restore_grace_s=grace_s,
        )
        handle = AlertHandle(worker)
        handles.append(handle)
        return handle

    yield make
    for handle in handles:
        assert handle.shutdown()


def down(key: str = "c1", *members: int) -> ClusterSnapshot:
    shot = snap(time.time(), [member(1), *(member(i, up=False) for i in members)])
    return dataclasses.replace(shot, key=key)


def firing(key: str, name: str, member: str, since: float) -> Alert:
    return Alert(
        f"{key}/{member}",
        "etcdMembersDown",
        Severity.WARNING,
        key,
        name,
        member,
        AlertState.FIRING,
        1.0,
        f"etcd member {member} of {name} is down: connection refused",
        since=since,
        active_at=since,
        fired_at=since,
        last_notified=since,
        labels={"alertname": "etcdMembersDown", "cluster": name, "member": member},
    )


def test_restored_alerts_of_a_cluster_not_watched_again_resolve(
    qtbot: QtBot, tmp_path: Path, make_handle: MakeHandle
) -> None:
    since = time.time() - 3600
    gone, kept = firing("old-key", "old-prod", "m2", since), firing("c1", "prod", "m2", since)
    history = AlertHistory(tmp_path / "history.sqlite3")
    history.record([AlertEvent(EventKind.FIRING, a, since) for a in (gone, kept)])
    history.close()
    secrets = SecretStore.memory()
    receiver = Receiver()
    dispatcher = NotificationDispatcher(
        secrets, [webhook(secrets, receiver.url("/hook"))], policy=FAST
    )
    try:
        handle = make_handle(sinks=[dispatcher.notify], grace_s=0.3)
        seen = Seen(handle)
        handle.requestCluster.emit("c1", "prod", DOWN_NOW, None)  # watched again
        with qtbot.waitSignal(handle.alertEvents, timeout=10_000) as blocker:
            handle.start()
        (event,) = blocker.args[0]
        assert (event.kind, event.alert.cluster) == (EventKind.RESOLVED, "old-key")
        assert event.alert.summary == (
            "old-prod is no longer watched (was: etcd member m2 of old-prod is down: "
            "connection refused)"
        )
        # The receiver stops showing it firing...
        posted = receiver.next().json()
        assert posted["status"] == "resolved"
        assert posted["alerts"][0]["annotations"]["summary"] == event.alert.summary
        # ... it leaves the table, and the watched cluster's alert stays.
        qtbot.waitUntil(lambda: [a.cluster for a in seen.alerts] == ["c1"], timeout=5000)
    finally:
        dispatcher.close()
        receiver.close()
    assert handle.shutdown()
    again = AlertHistory(tmp_path / "history.sqlite3")
    assert [e.kind for e in again.events(AlertQuery(cluster="old-key"))] == [
        EventKind.RESOLVED,
        EventKind.FIRING,
    ]
    states = {a.cluster: a.state for a in again.last_states()}
    assert states == {"old-key": AlertState.RESOLVED, "c1": AlertState.FIRING}


def test_forget_cluster_resolves_its_alerts_and_ignores_late_sweeps(
    qtbot: QtBot, make_handle: MakeHandle
) -> None:
    sent: list[tuple[AlertEvent, list[str] | None]] = []
    handle = make_handle(sinks=[lambda e, ch: sent.append((e, ch))])
    seen = Seen(handle)
    handle.start()
    handle.requestCluster.emit("c1", "prod", DOWN_NOW, ["hook"])
    handle.requestSnapshot.emit(down("c1", 2))
    qtbot.waitUntil(lambda: seen.find("m2") is not None, timeout=5000)
    assert seen.alert("m2").state == AlertState.FIRING

    with qtbot.waitSignal(handle.alertEvents, timeout=5000) as blocker:
        handle.requestForget.emit("c1")
    resolved = [e for e in blocker.args[0] if e.alert.rule == "etcdMembersDown"]
    assert [(e.kind, e.alert.member) for e in resolved] == [(EventKind.RESOLVED, "m2")]
    assert resolved[0].alert.summary.startswith("prod is no longer watched (was: ")
    assert (resolved[0], ["hook"]) in sent  # to the cluster's channels
    # A sweep already on its way is ignored; a cluster watched later is evaluated.
    handle.requestSnapshot.emit(down("c1", 2))
    handle.requestCluster.emit("c2", "stage", DOWN_NOW, None)
    handle.requestSnapshot.emit(down("c2", 3))
    qtbot.waitUntil(lambda: seen.find("m3") is not None, timeout=5000)
    assert {a.cluster for a in seen.alerts} == {"c2"}


def test_acknowledgements_and_silences_survive_a_restart(
    qtbot: QtBot, make_handle: MakeHandle
) -> None:
    handle = make_handle()
    seen = Seen(handle)
    handle.start()
    handle.requestCluster.emit("c1", "prod", DOWN_NOW, None)
    handle.requestSnapshot.emit(down("c1", 2, 3, 4))
    qtbot.waitUntil(lambda: seen.find("m4") is not None, timeout=5000)
    m2, m4 = seen.alert("m2"), seen.alert("m4")
    now = time.time()
    mute = Silence("s1", "etcdMembersDown", "c1", "m3", now, now + 3600, "disk swap", now, "prod")
    handle.requestAcknowledge.emit(m2.fingerprint)
    handle.requestAddSilence.emit(mute)
    handle.requestSilence.emit(m4.fingerprint, math.inf, "known")
    qtbot.waitUntil(lambda: seen.alert("m4").silenced_until == math.inf, timeout=5000)
    assert seen.alert("m2").acknowledged
    assert seen.alert("m3").silenced_by == mute
    assert seen.silences == [mute]
    assert handle.shutdown()

    # The app restarts: everything is as it was, before the cluster's first sweep.
    handle = make_handle()
    seen = Seen(handle)
    with qtbot.waitSignal(handle.alertsChanged, timeout=5000):
        handle.start()
    assert seen.silences == [mute]
    assert seen.alert("m2").acknowledged
    assert seen.alert("m3").silenced_by == mute
    assert seen.alert("m4").silence_reason == "known"
    assert {a.state for a in seen.alerts} == {AlertState.FIRING}

    # Un-silence and expire work on what was restored.
    handle.requestUnsilence.emit(m4.fingerprint)
    handle.requestExpireSilence.emit("s1")
    qtbot.waitUntil(lambda: seen.alert("m3").silenced_by is None, timeout=5000)
    assert seen.alert("m4").silenced_until is None
    (expired,) = seen.silences
    assert expired.id == "s1" and expired.is_expired(time.time())
