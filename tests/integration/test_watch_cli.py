"""`etcdmon watch` against a real cluster: a member stops, an alert fires, then resolves."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from etcdmon_gui.etcd.sandbox import Sandbox
from etcdmon_gui.model.history import MetricsQuery
from etcdmon_gui.notify.channels.log import LogChannelConfig
from etcdmon_gui.notify.channels.webhook import WebhookChannelConfig
from etcdmon_gui.store.channels import ChannelStore
from etcdmon_gui.store.history.reader import HistoryReader
from tests.alertmanager_support import WebhookReceiver
from tests.processes import Lines, run_watch


class Receiver(WebhookReceiver):
    """An Alertmanager-webhook receiver on loopback that keeps every JSON body."""

    def wait_for(self, status: str, timeout: float = 30.0) -> dict[str, Any]:
        with self.cond:
            assert self.cond.wait_for(
                lambda: any(b["status"] == status for b in self.bodies), timeout
            ), self.bodies
            return next(b for b in self.bodies if b["status"] == status)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_member_down_fires_then_resolves_with_the_same_fingerprint(
    cluster: Sandbox, tmp_path: Path, receiver: Receiver
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text("schema_version: 1\nrules:\n- name: etcdMembersDown\n  for: 2s\n")
    url = f"http://127.0.0.1:{receiver.server_address[1]}/alerts"
    with run_watch(cluster, rules, "--webhook", url) as proc:
        try:
            lines = Lines(proc.stdout)
            cluster.stop_member(2)
            fired = lines.wait_for(
                r"FIRING +warning +etcdMembersDown cluster=\S+ member=m2 "
                r"fingerprint=(\w+): etcd member m2 of \S+ is down: connection refused"
            )
            cluster.restart_member(2)
            resolved = lines.wait_for(r"RESOLVED +warning +etcdMembersDown .*fingerprint=(\w+)")
            assert resolved.group(1) == fired.group(1)
            # The webhook got both, in Alertmanager's format, under the same fingerprint.
            firing = receiver.wait_for("firing")["alerts"][0]
            assert firing["labels"]["alertname"] == "etcdMembersDown"
            assert firing["labels"]["member"] == "m2" and firing["labels"]["severity"] == "warning"
            assert firing["fingerprint"] == fired.group(1)
            assert firing["endsAt"] == "0001-01-01T00:00:00Z"
            gone = receiver.wait_for("resolved")["alerts"][0]
            assert gone["fingerprint"] == fired.group(1) and gone["status"] == "resolved"
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=15)
        assert proc.returncode == 0, proc.stderr.read() if proc.stderr else ""


def test_malformed_rules_file_is_refused(shared_cluster: Sandbox, tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text("rules:\n- name: etcdMembersDown\n  for: whenever\n")
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "etcdmon_gui.cli",
            "watch",
            "--endpoints",
            shared_cluster.endpoints[0],
            "--rules",
            str(rules),
        ],
        capture_output=True,
        text=True,
        timeout=30,
        stdin=subprocess.DEVNULL,
    )
    assert out.returncode == 2
    assert f"{rules}: rule etcdMembersDown: field for: 'whenever' is not a duration" in out.stderr


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--keep-raw", "1m"], "keep raw samples for '1m'? Give a duration from 1h to 30d"),
        (["--history-size", "1KB"], "history size limit '1KB'? Give a size of at least 10MB"),
    ],
)
def test_bad_history_limits_are_refused_before_anything_starts(
    shared_cluster: Sandbox, flags: list[str], message: str
) -> None:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "etcdmon_gui.cli",
            "watch",
            "--endpoints",
            shared_cluster.endpoints[0],
            *flags,
        ],
        capture_output=True,
        text=True,
        timeout=30,
        stdin=subprocess.DEVNULL,
    )
    assert out.returncode == 2
    assert message in out.stderr
    assert "watching" not in out.stderr


def test_a_channel_whose_secret_is_missing_is_named_once_and_left_out(
    shared_cluster: Sandbox, tmp_path: Path, receiver: Receiver
) -> None:
    """No OS keyring after a restart: the webhook channel's URL is gone. The watch says so
    once at the start and delivers to the others, instead of failing on every alert."""
    ChannelStore().save([WebhookChannelConfig(name="ops-hook"), LogChannelConfig(name="audit-log")])
    rules = tmp_path / "rules.yaml"
    # Fires on a healthy cluster, for each of its three members.
    rules.write_text(
        "schema_version: 1\nrules:\n- name: etcdDatabaseQuotaLowSpace\n  threshold: 0\n  for: 0s\n"
    )
    url = f"http://127.0.0.1:{receiver.server_address[1]}/alerts"
    with subprocess.Popen(
        [
            sys.executable, "-m", "etcdmon_gui.cli", "watch",
            "--endpoints", shared_cluster.endpoints[0], "--interval", "1s",
            "--rules", str(rules), "--webhook", url, "--secrets", "memory",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
    ) as proc:  # fmt: skip
        try:
            lines = Lines(proc.stdout)
            lines.wait_for(r"FIRING +critical +etcdDatabaseQuotaLowSpace .*member=m2")
            receiver.wait_for("firing")  # the other channels still deliver
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=15)
        assert proc.stderr is not None
        stderr = proc.stderr.read()
    assert proc.returncode == 0, stderr
    assert stderr.count("ops-hook") == 1, stderr
    assert (
        "etcdmon: channel 'ops-hook': its webhook URL is not in memory (this session only), "
        "so it is left out. Re-enter it in etcdmon-gui (Notification channels)"
    ) in stderr
    assert "and 2 channel(s)" in stderr  # the log channel and --webhook
    assert "FAILED" not in stderr and "failed" not in stderr


def test_a_restarted_watch_shows_the_state_and_neither_refires_nor_forgets(
    cluster: Sandbox, tmp_path: Path
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text("schema_version: 1\nrules:\n- name: etcdMembersDown\n  for: 0s\n")
    history = tmp_path / "history.sqlite3"
    cluster.stop_member(2)
    with run_watch(cluster, rules, "--history", str(history)) as first:
        lines = Lines(first.stdout)
        lines.wait_for(r" STATE +cluster=\S+ DEGRADED: member m2 down")
        fired = lines.wait_for(r"FIRING +warning +etcdMembersDown .*member=m2 fingerprint=(\w+)")
        first.kill()  # no clean shutdown: what was kept is all there is
        first.wait(timeout=15)
    with run_watch(cluster, rules, "--history", str(history)) as second:
        try:
            lines = Lines(second.stdout)
            # The state at start lists the alert as firing since the first run ...
            active = lines.wait_for(
                r" ACTIVE +warning +etcdMembersDown .*fingerprint=(\w+): firing"
            )
            assert active.group(1) == fired.group(1)
            lines.wait_for(r" STATE ")
            cluster.restart_member(2)
            # ... it is never fired again, and its RESOLVED still goes out.
            resolved = lines.wait_for(r"RESOLVED +warning +etcdMembersDown .*fingerprint=(\w+)")
            assert resolved.group(1) == fired.group(1)
            assert not any(" FIRING " in line for line in lines.lines), lines.lines
        finally:
            second.send_signal(signal.SIGTERM)
            second.wait(timeout=15)
    assert second.returncode == 0
    # Both runs kept the cluster's metrics and inventory in the same history file.
    reader = HistoryReader(history)
    try:
        members = {m.name: m for m in reader.members()}
        assert sorted(members) == ["m0", "m1", "m2"]
        m2 = members["m2"]
        (up,) = reader.series(
            MetricsQuery(m2.cluster, time.time() - 600, time.time(), ("up",), (m2.member,))
        )
        assert set(up.last) == {0.0, 1.0}  # down in the first run, back in the second
    finally:
        reader.close()
