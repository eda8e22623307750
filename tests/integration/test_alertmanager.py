"""The ``alertmanager`` channel against a real Prometheus Alertmanager (Debian's 0.25)
that relays to a webhook receiver on loopback.

The issue's scenario runs the real `etcdmon watch` on a real 3-member cluster with the
channel in its channels.yaml: a stopped member's alert reaches the receiver through
Alertmanager with its labels, is re-sent while it fires (Alertmanager's endsAt moves
on), and resolves there when the member is back. In-process, against an Alertmanager
with basic auth: the test notification, a refused password (no secret in the error),
and an HA pair with one Alertmanager down. etcd 3.5 only (the channel does not depend
on etcd's version). The watch's channel logs in with nothing: the encrypted secrets
file a password would need costs seconds of key derivation (argon2) in each process;
the logging in is the in-process test's and tests/gui/test_alertmanager_dialog.py's.
"""

from __future__ import annotations

import logging
import signal
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from etcdmon_gui.etcd.sandbox import Sandbox, free_ports
from etcdmon_gui.model.alerts import Alert, AlertEvent, AlertState, EventKind, Severity
from etcdmon_gui.model.delivery import DeliveryStatus
from etcdmon_gui.notify.channels.alertmanager import AlertmanagerChannelConfig
from etcdmon_gui.notify.dispatcher import NotificationDispatcher
from etcdmon_gui.store.channels import ChannelStore
from etcdmon_gui.store.secrets import SecretStore
from tests.alertmanager_support import PASSWORD, USER, Alertmanager, running_alertmanager
from tests.processes import Lines, run_watch
from tests.support import find_binary

GENERATOR = "https://etcdmon.example.test/ui"
WAIT = 30.0


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[Alertmanager]:
    with running_alertmanager(tmp_path / "open-alertmanager", auth=False) as am:
        yield am


@pytest.fixture
def locked_alertmanager(tmp_path: Path) -> Iterator[Alertmanager]:
    with running_alertmanager(tmp_path / "alertmanager") as am:
        yield am


def _ts(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def test_a_stopped_member_fires_through_alertmanager_is_re_sent_and_resolves(
    alertmanager: Alertmanager, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The watch's channels.yaml, in its private XDG config dir, as the app leaves it.
    config = AlertmanagerChannelConfig(
        name="team alertmanager",
        urls=[alertmanager.url],
        labels=["env=test"],
        generator_url=GENERATOR,
        resend_s=1,
        timeout_s=5,
    )
    ChannelStore().save([config])
    assert ChannelStore().load() == [config]  # round-trips through channels.yaml
    monkeypatch.setenv("ETCDMON_SECRETS", "memory")  # it needs no secret
    rules = tmp_path / "rules.yaml"
    rules.write_text("schema_version: 1\nrules:\n- name: etcdMembersDown\n  for: 0s\n")

    with (
        Sandbox(3, binary=find_binary("3.5")) as cluster,
        run_watch(cluster, rules, "--history", str(tmp_path / "history.sqlite3")) as watch,
    ):
        try:
            out, err = Lines(watch.stdout), Lines(watch.stderr)
            err.wait_for(r"with \d+ rules and 1 channel\(s\)")
            cluster.stop_member(2)
            fired = out.wait_for(
                r"FIRING +warning +etcdMembersDown cluster=(\S+) member=m2 fingerprint=(\w+)"
            )
            name, fp = fired.group(1), fired.group(2)

            def ours(alert: dict[str, Any]) -> bool:
                return alert["annotations"].get("etcdmon_fingerprint") == fp

            relayed = alertmanager.receiver.wait_alert("firing", ours)
            assert relayed["labels"] == {
                "alertname": "etcdMembersDown",
                "severity": "warning",
                "cluster": name,
                "member": "m2",
                "env": "test",
            }
            assert relayed["generatorURL"] == GENERATOR
            assert relayed["annotations"]["summary"].startswith("etcd member m2 of")
            # Re-sent every second: Alertmanager's endsAt for it moves on.
            held = alertmanager.wait_held(ours)
            assert held["status"]["state"] == "active"
            first_end = _ts(held["endsAt"])
            assert _ts(held["updatedAt"]) + 3 < first_end  # ~4 re-sends ahead
            later = alertmanager.wait_held(lambda a: ours(a) and _ts(a["endsAt"]) > first_end)
            assert _ts(later["startsAt"]) == _ts(held["startsAt"])

            cluster.restart_member(2)
            out.wait_for(rf"RESOLVED +warning +etcdMembersDown .*fingerprint={fp}")
            resolved = alertmanager.receiver.wait_alert("resolved", ours)
            assert resolved["labels"]["member"] == "m2"
            assert _ts(resolved["endsAt"]) >= _ts(resolved["startsAt"])
        finally:
            watch.send_signal(signal.SIGTERM)
            watch.wait(timeout=15)
    assert watch.returncode == 0, err.lines
    # Resolved, and no late re-send brought it back: GET /api/v2/alerts lists only
    # alerts that have not ended.
    assert not [a for a in alertmanager.alerts() if ours(a)]


def _event(kind: EventKind, fingerprint: str, at: float) -> AlertEvent:
    resolved = kind is EventKind.RESOLVED
    alert = Alert(
        fingerprint=fingerprint,
        rule="etcdHighFsyncDurations",
        severity=Severity.WARNING,
        cluster="endpoints:ha",
        cluster_name="ha-test",
        member="m1",
        state=AlertState.RESOLVED if resolved else AlertState.FIRING,
        value=0.7,
        summary="wal fsync p99 is 700 ms",
        since=at,
        active_at=at - 5,
        fired_at=at - 5,
        resolved_at=at if resolved else None,
    )
    return AlertEvent(kind, alert, at)


def test_the_test_notification_a_refused_password_and_an_alertmanager_down(
    locked_alertmanager: Alertmanager, caplog: pytest.LogCaptureFixture
) -> None:
    alertmanager = locked_alertmanager
    secrets = SecretStore.memory()
    (closed,) = free_ports(1)  # nothing listens there: the HA pair's lost member
    ha = AlertmanagerChannelConfig(
        name="ha pair",
        urls=[f"http://127.0.0.1:{closed}", alertmanager.url],
        username=USER,
        timeout_s=3,
    )
    wrong = AlertmanagerChannelConfig(
        name="wrong password", urls=[alertmanager.url], username=USER, timeout_s=3
    )
    secrets.set(ha.id, "alertmanager_password", PASSWORD)
    secrets.set(wrong.id, "alertmanager_password", "not-the-password")
    with NotificationDispatcher(secrets, [ha, wrong]) as dispatcher:
        tested = dispatcher.send_test(ha.id).result(WAIT)
        assert tested.status is DeliveryStatus.DELIVERED, tested.error

        refused = dispatcher.send_test(wrong.id).result(WAIT)
        assert refused.status is DeliveryStatus.FAILED
        assert refused.error is not None and "401 Unauthorized" in refused.error
        assert "not-the-password" not in refused.error

        with caplog.at_level(logging.WARNING, "etcdmon_gui.notify.channels.alertmanager"):
            [firing] = dispatcher.notify(_event(EventKind.FIRING, "ha-fp-1", time.time()), [ha.id])
            assert firing.result(WAIT).status is DeliveryStatus.DELIVERED
        said = [r.getMessage() for r in caplog.records if "did not take an alert" in r.getMessage()]
        assert len(said) == 1 and f"127.0.0.1:{closed}" in said[0], said

        def ours(alert: dict[str, Any]) -> bool:
            return alert["annotations"].get("etcdmon_fingerprint") == "ha-fp-1"

        held = alertmanager.wait_held(ours)
        assert held["labels"]["cluster"] == "ha-test" and held["status"]["state"] == "active"
        [gone] = dispatcher.notify(_event(EventKind.RESOLVED, "ha-fp-1", time.time()), [ha.id])
        assert gone.result(WAIT).status is DeliveryStatus.DELIVERED
    # Resolved: GET /api/v2/alerts lists only alerts that have not ended.
    assert not [a for a in alertmanager.alerts() if ours(a)]
