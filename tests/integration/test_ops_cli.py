"""`etcdmon ops` as a script runs it: a real subprocess against a real cluster. The plan
comes first (the leader last), --dry-run changes nothing, HashKV agrees, compaction
compacts, a removal that would break quorum is refused and kept in the audit log, and
without a terminal --yes is required."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from etcdmon_gui.etcd.control import ControlClient
from etcdmon_gui.etcd.sandbox import Sandbox
from etcdmon_gui.model.connection import ConnectionConfig, parse_endpoint, parse_endpoints
from etcdmon_gui.model.ops import AuditRecord, OpKind
from etcdmon_gui.model.snapshot import ClusterSnapshot
from etcdmon_gui.store.history.reader import HistoryReader
from tests.support import monitor_for


@pytest.fixture(scope="module")
def ops_cluster(etcd_binary: Path) -> Iterator[Sandbox]:
    """A 3-member cluster the tests maintain in turn (the last one stops a member)."""
    with Sandbox(3, binary=etcd_binary) as sandbox:
        yield sandbox


def etcdmon(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "etcdmon_gui.cli", "ops", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,  # no terminal: --yes or --dry-run
        env=os.environ.copy(),
    )


def sweep(sandbox: Sandbox) -> ClusterSnapshot:
    monitor, probe = monitor_for(sandbox.endpoints_arg)
    try:
        return monitor.sweep()
    finally:
        probe.close()


def audit_log(path: Path) -> list[AuditRecord]:
    reader = HistoryReader(path)
    try:
        return reader.ops_log()
    finally:
        reader.close()


def control(sandbox: Sandbox) -> ControlClient:
    return ControlClient(ConnectionConfig(endpoints=parse_endpoints(sandbox.endpoints_arg)))


def test_a_dry_run_of_defrag_plans_the_leader_last_and_changes_nothing(
    ops_cluster: Sandbox, tmp_path: Path
) -> None:
    history = tmp_path / "h.sqlite3"
    client = control(ops_cluster)
    try:
        for i in range(50):
            client.put(f"/ops-test/{i}".encode(), b"x" * 1000)
        client.delete(b"/ops-test/", b"/ops-test0")
        before = sweep(ops_cluster)
        rev = client.revision()
        assert before.leader is not None
        leader = before.leader.name

        out = etcdmon(
            "defrag", "--endpoints", ops_cluster.endpoints_arg, "--dry-run", "--threshold", "0",
            "--history", str(history),
        )  # fmt: skip
        assert out.returncode == 0, out.stderr
        lines = out.stdout.splitlines()
        plan = next(i for i, line in enumerate(lines) if line.startswith("Plan: defragment "))
        assert lines[plan].split(";")[0].endswith(f"then {leader} (leader)"), out.stdout
        steps = [
            line.strip() for line in lines[plan + 1 :] if line.strip()[:2] in ("1.", "2.", "3.")
        ]
        assert len(steps) == 3 and steps[-1].startswith(f"3. defragment {leader} (leader)")
        assert all("(follower)" in s for s in steps[:2]), steps

        doc = etcdmon("defrag", "--endpoints", ops_cluster.endpoints_arg, "--dry-run", "--json")
        assert doc.returncode == 0, doc.stderr
        planned = json.loads(doc.stdout)
        assert planned["kind"] == "defrag" and planned["refusal"] is None
        assert [s["member"] for s in planned["steps"]][-1] == leader

        after = sweep(ops_cluster)
        assert client.revision() == rev  # nothing written, nothing compacted
        sizes = {m.name: m.db_size or 0 for m in before.members}
        for m in after.members:  # nothing defragmented: no file shrank (writes settle late)
            assert (m.db_size or 0) >= sizes[m.name], (m.name, m.db_size, sizes)
        assert audit_log(history) == []  # a dry run is no run
    finally:
        client.close()


def test_hashkv_agrees(ops_cluster: Sandbox, tmp_path: Path) -> None:
    history = tmp_path / "h.sqlite3"
    out = etcdmon(
        "hashkv", "--endpoints", ops_cluster.endpoints[0], "--yes", "--json",
        "--history", str(history),
    )  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    doc = json.loads(out.stdout)
    assert doc["result"] == "ok" and doc["findings"] == []
    assert [s["state"] for s in doc["steps"]] == ["done"] * 4
    assert "agree at revision" in doc["steps"][-1]["message"]
    assert "HashKV of" in out.stderr  # the plan in words, on stderr with --json
    [record] = audit_log(history)
    assert (record.kind, record.result) == (OpKind.HASHKV, "ok")
    assert record.cluster == ops_cluster.endpoints[0] and record.user


def test_compact_of_a_production_profile_needs_its_name_and_compacts(
    ops_cluster: Sandbox, tmp_path: Path
) -> None:
    history = tmp_path / "h.sqlite3"
    store = ("--profiles-file", str(tmp_path / "profiles.yaml"), "--secrets", "memory")
    added = subprocess.run(
        [sys.executable, "-m", "etcdmon_gui.cli", "profile", "add", "prod", "--tag",
         "production", "--endpoints", ops_cluster.endpoints_arg, *store],
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL, check=False,
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    client = control(ops_cluster)
    try:
        for i in range(5):
            client.put(b"/ops-test/compact", str(i).encode())
        args = (
            "compact",
            "--profile",
            "prod",
            *store,
            "--yes",
            "--json",
            "--history",
            str(history),
        )
        unconfirmed = etcdmon(*args)
        assert unconfirmed.returncode == 2, unconfirmed.stdout + unconfirmed.stderr
        assert (
            "tagged production" in unconfirmed.stderr and "--confirm 'prod'" in unconfirmed.stderr
        )
        assert not history.exists()  # refused before the cluster was asked anything

        out = etcdmon(*args, "--confirm", "prod")
        assert out.returncode == 0, out.stdout + out.stderr
        doc = json.loads(out.stdout)
        assert doc["result"] == "ok" and doc["plan"]["cluster_name"] == "prod"
        target = doc["steps"][0]["data"]["revision"]
        assert target >= 5
        for url in ops_cluster.endpoints:  # every member has compacted to it
            answer = client.hash_kv(parse_endpoint(url), 0)
            assert answer.compact_revision == target, url
    finally:
        client.close()
    [record] = audit_log(history)
    assert (record.kind, record.result, record.cluster_name) == (OpKind.COMPACT, "ok", "prod")
    assert record.cluster.startswith("profile:")  # the key the app keeps the cluster by
    assert f"compacted to revision {target}" in record.detail


def test_without_a_terminal_yes_is_required(ops_cluster: Sandbox, tmp_path: Path) -> None:
    history = tmp_path / "h.sqlite3"
    out = etcdmon("defrag", "--endpoints", ops_cluster.endpoints_arg, "--history", str(history))
    assert out.returncode == 2, out.stdout + out.stderr
    assert "--yes" in out.stderr and out.stdout == ""
    assert not history.exists()  # nothing ran, nothing recorded


def test_a_removal_that_breaks_quorum_is_refused_and_recorded(
    ops_cluster: Sandbox, tmp_path: Path
) -> None:
    history = tmp_path / "h.sqlite3"
    snap = sweep(ops_cluster)
    assert snap.leader is not None
    followers = [i for i, m in enumerate(ops_cluster.members) if m.name != snap.leader.name]
    down, victim = followers[0], ops_cluster.members[followers[1]].name
    ops_cluster.stop_member(down)
    try:
        out = etcdmon(
            "member", "remove", victim, "--endpoints", ops_cluster.endpoints_arg, "--yes",
            "--history", str(history),
        )  # fmt: skip
        assert out.returncode == 1, out.stdout + out.stderr
        assert "Refused:" in out.stdout and "would lose quorum" in out.stdout
        assert "etcdmon: refused:" in out.stderr and "would lose quorum" in out.stderr
        [record] = audit_log(history)
        assert (record.kind, record.result) == (OpKind.MEMBER_REMOVE, "refused")
        assert "would lose quorum" in record.detail
        assert len(sweep(ops_cluster).members) == 3  # still three members
    finally:
        ops_cluster.restart_member(down)
