"""A real Prometheus scrapes a real ``etcdmon serve`` watching a real 3-member etcd 3.5
cluster: PromQL through Prometheus' HTTP API sees the cluster's quorum, accepts every
query of the Grafana dashboard, and sees a firing alert once a member is stopped."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from etcdmon_gui.etcd.sandbox import Sandbox, free_ports
from tests.prometheus_support import Prometheus, dashboard_exprs, runnable
from tests.support import find_binary

CLUSTER = "itest"
START_S = 30.0


@dataclass
class Stack:
    etcd: Sandbox
    prometheus: Prometheus
    serve: subprocess.Popen[str]
    url: str


def serve_env(home: Path) -> dict[str, str]:
    """serve with its own config, data, state and runtime folders."""
    env = dict(os.environ)
    for name in ("CONFIG", "DATA", "STATE", "CACHE", "RUNTIME"):
        path = home / name.lower()
        path.mkdir(mode=0o700, exist_ok=True)
        env[f"XDG_{name}_{'DIR' if name == 'RUNTIME' else 'HOME'}"] = str(path)
    env.pop("ETCDMON_PROFILES", None)
    return env


def wait_healthy(proc: subprocess.Popen[str], url: str, log: Path) -> None:
    deadline = time.monotonic() + START_S
    with httpx.Client(timeout=1.0) as client:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"etcdmon serve exited ({proc.returncode}):\n{log.read_text()[-3000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if client.get(f"{url}/health").status_code == 200:
                    return
            time.sleep(0.05)
    pytest.fail(f"etcdmon serve did not answer /health in {START_S} s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    home = tmp_path_factory.mktemp("serve")
    (port,) = free_ports(1)
    # Prometheus first: its target discovery takes ~5 s to hand the target to the
    # scraper, which overlaps with etcd and serve starting.
    with (
        Prometheus([f"127.0.0.1:{port}"]) as prometheus,
        Sandbox(3, binary=find_binary("3.5")) as etcd,
    ):
        rules = home / "rules.yaml"
        rules.write_text("schema_version: 1\nrules:\n- name: etcdMembersDown\n  for: 0s\n")
        config = {
            "port": port,
            "interval": "1s",
            "clusters": {
                "profiles": [],
                "endpoints": [{"name": CLUSTER, "endpoints": etcd.endpoints, "timeout_s": 1}],
            },
            "rules": str(rules),
            "channels": "none",
            "secrets": "memory",
            "history": {"sqlite": str(home / "history.sqlite")},
        }
        (home / "serve.yaml").write_text(yaml.safe_dump(config))
        log = home / "serve.log"
        with log.open("w") as out:
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "etcdmon_gui.cli",
                    "serve",
                    "--config",
                    str(home / "serve.yaml"),
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                text=True,
                env=serve_env(home),
            )
        url = f"http://127.0.0.1:{port}"
        try:
            wait_healthy(proc, url, log)
            yield Stack(etcd, prometheus, proc, url)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)


def values(result: list[dict[str, Any]]) -> dict[str, float]:
    """member (or cluster) label -> value of an instant vector."""
    return {
        r["metric"].get("member", r["metric"].get("cluster", "")): float(r["value"][1])
        for r in result
    }


def test_prometheus_sees_the_clusters_quorum_and_members(stack: Stack) -> None:
    result = stack.prometheus.wait_for(
        f'etcdmon_cluster_quorum{{cluster="{CLUSTER}"}}', lambda r: len(r) == 1
    )
    assert values(result) == {CLUSTER: 1.0}
    assert result[0]["metric"]["job"] == "etcdmon"
    reachable = stack.prometheus.wait_for(
        f'etcdmon_member_reachable{{cluster="{CLUSTER}"}}', lambda r: len(r) == 3
    )
    assert values(reachable) == {"m0": 1.0, "m1": 1.0, "m2": 1.0}
    leaders = stack.prometheus.query(f'etcdmon_member_leader{{cluster="{CLUSTER}"}} == 1')
    assert len(leaders) == 1
    assert stack.prometheus.query(f'etcdmon_cluster_verdict{{cluster="{CLUSTER}"}}')
    assert stack.prometheus.query(f'etcdmon_sweep_duration_seconds_count{{cluster="{CLUSTER}"}}')


def test_prometheus_accepts_every_dashboard_query(stack: Stack) -> None:
    stack.prometheus.wait_for("etcdmon_clusters_watched", lambda r: len(r) == 1)
    empty = []
    for title, expr in dashboard_exprs():
        if not stack.prometheus.query(runnable(expr)):
            empty.append(title)
    # Those that need an alert, TLS, a growing database, writes (the disk latencies
    # cover new observations only), two samples for a rate or a failed delivery may be
    # empty on a fresh idle cluster; the rest must not be.
    maybe_empty = {
        "Disk: WAL fsync and backend commit P99",
        "Firing alerts",
        "Certificate days left",
        "Days until the quota is full",
        "Leader changes (15 m)",
        "Raft index lag",
        "Sweep duration P50 / P99",
        "Sweep errors",
        "Deliveries failed",
        "etcdmon CPU and memory",
    }
    assert set(empty) <= maybe_empty, set(empty) - maybe_empty


def test_a_stopped_member_is_unreachable_and_its_alert_fires(stack: Stack) -> None:
    stack.etcd.stop_member(2)
    reachable = stack.prometheus.wait_for(
        f'etcdmon_member_reachable{{cluster="{CLUSTER}",member="m2"}} == 0', lambda r: len(r) == 1
    )
    assert reachable[0]["metric"]["member_id"]
    firing = stack.prometheus.wait_for(
        f'etcdmon_alert_firing{{cluster="{CLUSTER}",rule="etcdMembersDown"}}',
        lambda r: len(r) == 1,
    )
    labels = firing[0]["metric"]
    assert (labels["member"], labels["severity"]) == ("m2", "warning")
    assert values(stack.prometheus.query(f'etcdmon_cluster_quorum{{cluster="{CLUSTER}"}}')) == {
        CLUSTER: 1.0
    }
