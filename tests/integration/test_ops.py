"""Maintenance operations against real 3-member clusters (etcd 3.5 and 3.4).

Defragmentation frees space on every member, followers first and the leader last,
while the cluster keeps its leader; a snapshot passes etcd's own ``snapshot status``
and restores into a new member; a cluster filled to its quota (NOSPACE) refuses a
disarm until 'Recover' has made room, then takes writes again; the leader moves;
a learner is added, promoted and removed; a removal that would break quorum is
refused; HashKV agrees on a healthy cluster; a cancel stops between steps; and one
operation (or benchmark) runs per cluster at a time.

Most tests share one module cluster (``ops_cluster``); the membership test runs last
on it. NOSPACE and the quorum refusal need clusters of their own.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pyetcd import etcdrpc

from etcdmon_gui import ops
from etcdmon_gui.bench.control import BenchError
from etcdmon_gui.bench.engine import Benchmark
from etcdmon_gui.etcd import busy
from etcdmon_gui.etcd.control import ControlClient
from etcdmon_gui.etcd.sandbox import Sandbox, etcd_version
from etcdmon_gui.model.alerts import Severity
from etcdmon_gui.model.bench import BenchSpec, Workload
from etcdmon_gui.model.connection import ConnectionConfig, parse_endpoints
from etcdmon_gui.model.errors import EtcdError
from etcdmon_gui.model.ops import OpProgress, StepState
from etcdmon_gui.model.snapshot import Verdict
from etcdmon_gui.monitor import consistency
from etcdmon_gui.monitor.alert_engine import AlertEngine
from etcdmon_gui.monitor.alert_rules import default_rules
from tests.support import find_tool, monitor_for

MB = 1_000_000


def config_for(sandbox: Sandbox, key: str = "ops-test") -> ConnectionConfig:
    # The first three: members joined later (the membership test) may be gone.
    return ConnectionConfig(endpoints=parse_endpoints(sandbox.endpoints[:3]), key=key)


@pytest.fixture(scope="module")
def ops_cluster(etcd_binary: Path) -> Iterator[Sandbox]:
    with Sandbox(3, binary=etcd_binary) as sandbox:
        yield sandbox


@pytest.fixture
def session(ops_cluster: Sandbox) -> Iterator[ops.OpsSession]:
    with ops.OpsSession.open(config_for(ops_cluster), "ops-test") as s:
        yield s


def fragment(control: ControlClient, prefix: bytes, total: int = 12 * MB) -> None:
    """Write ``total`` bytes as overwrites of a few keys, delete them: after a
    compaction, space to free on every member."""
    value = os.urandom(50_000)
    for i in range(total // len(value)):
        control.put(prefix + str(i % 20).encode(), value)
    control.delete(prefix, prefix[:-1] + bytes([prefix[-1] + 1]))


class LeaderWatch:
    """Asks every member for its Status, continuously, while an operation runs (and
    once before and after): no member may report having no leader, and leader and
    raft term (an election would raise it) must stay the same."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.control = ControlClient(config_for(sandbox))
        self.endpoints = [self.control.endpoint(u) for u in sandbox.endpoints[:3]]
        self.seen: set[tuple[int, int]] = set()  # (leader, term)
        self.rounds = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _round(self) -> None:
        for ep in self.endpoints:
            try:
                st = self.control.status(ep, timeout=1.0)
            except EtcdError:  # the member being defragmented may be slow
                continue
            self.seen.add((st.leader, st.raft_term))
        self.rounds += 1

    def _run(self) -> None:
        while not self._stop.wait(0.01):
            self._round()

    def __enter__(self) -> LeaderWatch:
        self._round()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._round()
        self.control.close()


def test_defragment_frees_space_followers_first_leader_last(
    session: ops.OpsSession, ops_cluster: Sandbox
) -> None:
    fragment(session.control, b"/ops-test/defrag/")
    compacted = ops.run(ops.compact(session, physical=True))
    assert compacted.ok, compacted.describe()
    # etcd counts the pages a compaction freed as in use until a later write commits
    # (on followers, which compact after the leader, a write after that): a live
    # cluster has those writes, this one gets a few.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        session.control.put(b"/ops-test/defrag-marker", b"1")
        members = session.refresh().members
        if all(m.db_size and m.db_size - (m.db_size_in_use or 0) > 5 * MB for m in members):
            break
        time.sleep(0.1)
    leader = session.snapshot.leader
    assert leader is not None
    op = ops.defrag(session, threshold_bytes=MB)
    plan = op.plan
    assert plan.refusal is None, plan.refusal
    followers = sorted(m.name for m in session.snapshot.members if m.id != leader.id)
    assert plan.summary.startswith(
        f"defragment {followers[0]}, {followers[1]}, then {leader.name} (leader); "
        f"expected downtime per member"
    ), plan.summary
    assert [s.member for s in plan.steps] == [*followers, leader.name]
    assert all(s.expected_s is not None and s.expected_s > 0 for s in plan.steps)
    seen: list[OpProgress] = []
    with LeaderWatch(ops_cluster) as watch:
        result = ops.run(op, on_progress=seen.append)
    assert result.ok, result.describe()
    assert [o.data["member"] for o in result.outcomes] == [*followers, leader.name]
    for o in result.outcomes:
        assert o.state is StepState.DONE, o.message
        assert o.data["freed_bytes"] > 5 * MB, o.message  # type: ignore[operator]
    # one member at a time: each step began after the previous one ended
    for a, b in zip(result.outcomes, result.outcomes[1:], strict=False):
        assert a.ended_at <= b.started_at
    assert watch.rounds >= 2 and len(watch.seen) == 1, watch.seen
    assert next(iter(watch.seen))[0] == leader.id
    assert any("waiting for" in p.message for p in seen)
    session.refresh()
    assert session.snapshot.verdict is Verdict.HEALTHY, session.snapshot.reasons
    assert all(m.db_size is not None and m.db_size < 2 * MB for m in session.snapshot.members)


def test_cancel_stops_between_steps_and_says_what_was_done(session: ops.OpsSession) -> None:
    cancel = threading.Event()

    def on_progress(p: OpProgress) -> None:
        if p.outcome is not None and p.index == 0:
            cancel.set()  # while the run is between step 1 and step 2

    result = ops.run(ops.defrag(session, threshold_bytes=0), on_progress=on_progress, cancel=cancel)
    assert result.cancelled and result.result == "cancelled" and not result.ok
    states = [o.state for o in result.outcomes]
    assert states == [StepState.DONE, StepState.CANCELLED, StepState.CANCELLED]
    assert all(o.message == "not run: cancelled" for o in result.outcomes[1:])
    text = result.describe()
    assert "cancelled (1 of 3 steps done)" in text and "[done]" in text and "[cancelled]" in text


def test_compact_keeps_the_last_revisions(session: ops.OpsSession) -> None:
    for i in range(10):
        session.control.put(b"/ops-test/compact", str(i).encode())
    current = session.control.revision()
    op = ops.compact(session, keep=4)
    assert op.plan.refusal is None
    assert "keeping the last 4 revisions" in op.plan.summary
    assert any("watches cancelled" in w for w in op.plan.warnings)
    result = ops.run(op)
    assert result.ok and result.outcomes[0].data["revision"] == current - 4

    def read_at(revision: int) -> None:
        request = etcdrpc.RangeRequest(key=b"/ops-test/compact", revision=revision)
        session.control._any(etcdrpc.KVStub, "Range", request)

    read_at(current - 4)
    with pytest.raises(EtcdError, match="compacted"):
        read_at(current - 5)
    again = ops.run(ops.compact(session, revision=current - 6))  # behind the compaction
    assert again.outcomes[0].state is StepState.SKIPPED
    future = ops.compact(session, revision=current + 1000)
    assert future.plan.refusal is not None and "in the future" in future.plan.refusal
    with pytest.raises(ops.OpRefusedError, match="in the future"):
        ops.run(future)
    with pytest.raises(ValueError, match="not both"):
        ops.compact(session, revision=current, keep=1)


def snapshot_tool(etcd_binary: Path) -> list[str]:
    """``etcdutl`` for 3.5, ``etcdctl`` (API 3) for 3.4, failing loudly if missing."""
    if etcd_version(etcd_binary).startswith("3.4"):
        return [str(find_tool(etcd_binary, "etcdctl"))]
    return [str(find_tool(etcd_binary, "etcdutl"))]


def run_tool(args: list[str]) -> str:
    done = subprocess.run(
        args,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "ETCDCTL_API": "3"},
    )
    assert done.returncode == 0, f"{args}: {done.stderr}"
    return done.stdout


def test_snapshot_passes_status_and_restores_into_a_new_member(
    session: ops.OpsSession, etcd_binary: Path, tmp_path: Path
) -> None:
    session.control.put(b"/ops-test/snapshot/precious", b"kept")
    session.refresh()
    leader = session.snapshot.leader
    assert leader is not None
    follower = next(m for m in session.snapshot.members if m.id != leader.id)
    target = tmp_path / "backup.db"
    target.write_bytes(b"an older file")
    op = ops.snapshot(session, target, member=follower.name)
    assert op.plan.refusal is None
    assert op.plan.summary.startswith(f"save a snapshot of {follower.name} (follower)")
    assert any("will be replaced" in w for w in op.plan.warnings)
    seen: list[OpProgress] = []
    result = ops.run(op, on_progress=seen.append)
    assert result.ok, result.describe()
    data = result.outcomes[0].data
    blob = target.read_bytes()
    assert data["sha256"] == hashlib.sha256(blob).hexdigest()
    assert data["bytes"] == len(blob) and data["member"] == follower.name
    assert bytes.fromhex(str(data["etcd_sha256"])) == hashlib.sha256(blob[:-32]).digest()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["backup.db"]  # no temp file left
    assert any(p.fraction == 1.0 for p in seen)

    tool = snapshot_tool(etcd_binary)
    status = json.loads(run_tool([*tool, "snapshot", "status", str(target), "-w", "json"]))
    assert status["revision"] == data["revision"], (status, data)
    assert status["totalKey"] > 0

    # Restore into a new one-member cluster and read the key back.
    with Sandbox(1, binary=etcd_binary) as restored:
        m = restored.members[0]
        restored.stop_member(0)
        shutil.rmtree(m.data_dir)
        run_tool(
            [
                *tool,
                "snapshot",
                "restore",
                str(target),
                f"--data-dir={m.data_dir}",
                f"--name={m.name}",
                f"--initial-cluster={m.name}={m.peer_url}",
                f"--initial-advertise-peer-urls={m.peer_url}",
            ]
        )
        restored.restart_member(0)
        with ops.OpsSession.open(config_for(restored, "restored"), "restored") as alone:
            assert alone.control.get(b"/ops-test/snapshot/precious") == b"kept"
            assert alone.snapshot.cluster_id != session.snapshot.cluster_id
            # a cluster of one: its only voter cannot be removed; a defrag warns
            (only,) = alone.snapshot.members
            refusal = ops.member_remove(alone, only.name).plan.refusal
            assert refusal is not None and "only voting member" in refusal
            defrag = ops.defrag(alone).plan
            assert defrag.refusal is None
            assert any("serves nothing" in w for w in defrag.warnings)


def test_snapshot_refusals(session: ops.OpsSession, tmp_path: Path) -> None:
    refusal = ops.snapshot(session, tmp_path, member=None).plan.refusal
    assert refusal is not None and "is a directory" in refusal
    refusal = ops.snapshot(session, tmp_path / "no" / "such.db").plan.refusal
    assert refusal is not None and "does not exist" in refusal
    refusal = ops.snapshot(session, tmp_path / "x.db", member="nobody").plan.refusal
    assert refusal is not None and "no member named 'nobody'" in refusal


def test_move_leader_moves_it(session: ops.OpsSession) -> None:
    leader = session.snapshot.leader
    assert leader is not None
    target = next(m for m in session.snapshot.members if m.id != leader.id)
    same = ops.move_leader(session, leader.name).plan.refusal
    assert same is not None and "already the leader" in same
    op = ops.move_leader(session, target.id_hex)  # by hex id
    assert op.plan.refusal is None
    assert op.plan.summary == f"move the leader from {leader.name} to {target.name}"
    result = ops.run(op)
    assert result.ok, result.describe()
    for m in session.snapshot.members:
        assert session.status(m).leader == target.id
    session.refresh()
    removal = ops.member_remove(session, target.name).plan
    assert removal.refusal is None  # planned only, not run
    assert any(f"{target.name} is the leader" in w for w in removal.warnings)


def test_hashkv_agrees_on_a_healthy_cluster(session: ops.OpsSession) -> None:
    session.control.put(b"/ops-test/hashkv", b"x")
    op = ops.hashkv(session)
    assert op.plan.refusal is None and len(op.plan.steps) == 4
    result = ops.run(op)
    assert result.ok and result.findings == (), result.describe()
    assert "agree at revision" in result.outcomes[-1].message
    hashes = {o.data["hash"] for o in result.outcomes[:-1]}
    assert len(hashes) == 1
    cluster_id = session.snapshot.cluster_id
    check = consistency.latest(cluster_id)
    assert check is not None and check.consistent and len(check.hashes) == 3
    # the monitor carries the check, and the rule does not fire on it
    monitor, probe = monitor_for([str(e) for e in session.config.endpoints])
    with probe:
        snap = monitor.sweep()
    assert snap.consistency == check
    rules = [r for r in default_rules() if r.name == "etcdMemberDataInconsistent"]
    assert rules and rules[0].severity is Severity.CRITICAL
    assert AlertEngine(rules).evaluate(snap, "ops-test") == []


def test_one_operation_or_benchmark_per_cluster(
    session: ops.OpsSession, ops_cluster: Sandbox
) -> None:
    cluster_id = session.snapshot.cluster_id
    # Held under the cluster id only: another profile of the same cluster.
    with busy.claim(busy.keys_for("another profile", cluster_id), "an operation (defragment)"):
        with pytest.raises(ops.OpRefusedError, match=r"defragment\) is already running"):
            ops.run(ops.hashkv(session))
        spec = BenchSpec(Workload.PUT, total=10, prefix="/ops-test/bench/")
        with pytest.raises(BenchError, match="already running"):
            Benchmark(config_for(ops_cluster), spec).run()
    assert ops.run(ops.hashkv(session)).ok  # free again


def test_nospace_refuses_disarm_until_recover_makes_room(etcd_binary: Path) -> None:
    quota = ("--quota-backend-bytes=8000000",)
    with (
        Sandbox(3, binary=etcd_binary, extra_args=quota) as sandbox,
        ops.OpsSession.open(config_for(sandbox, "nospace"), "nospace") as s,
    ):
        value = os.urandom(100_000)
        with pytest.raises(EtcdError, match="database space exceeded"):  # noqa: PT012
            for _ in range(1000):  # bounded: 8 MB is reached after ~80
                s.control.put(b"/ops-test/fill", value)
        s.refresh()
        assert "NOSPACE" in {a for names in ops.alarms(s).values() for a in names}
        assert any(a.alarm == "NOSPACE" for a in s.snapshot.alarms)

        disarm = ops.disarm(s)
        assert disarm.plan.refusal is not None and "no room yet" in disarm.plan.refusal
        assert "its quota 8.0 MB" in disarm.plan.refusal
        with pytest.raises(ops.OpRefusedError, match="no room yet"):
            ops.run(disarm)

        op = ops.recover(s)
        assert op.plan.refusal is None, op.plan.refusal
        assert op.plan.summary.startswith("compact to the current revision, defragment ")
        titles = [step.title for step in op.plan.steps]
        assert titles[0].startswith("compact") and titles[-1].startswith("verify a test write")
        assert titles[-2].startswith("disarm NOSPACE")
        assert sum(t.startswith("defragment") for t in titles) == 3
        seen: list[OpProgress] = []
        result = ops.run(op, on_progress=seen.append)
        assert result.ok, result.describe()
        assert all(o.state is StepState.DONE for o in result.outcomes)
        # each step is shown as it starts and as it ends
        assert len([p for p in seen if p.outcome is not None]) == len(titles)

        s.control.put(b"/ops-test/after", b"writes work again")
        assert s.control.alarm_list() == []
        s.refresh()
        assert s.snapshot.verdict is Verdict.HEALTHY, s.snapshot.reasons
        nothing = ops.recover(s).plan.refusal
        assert nothing is not None and "no NOSPACE alarm" in nothing


def test_removal_that_would_break_quorum_is_refused(cluster: Sandbox) -> None:
    cluster.kill_member(2)
    with ops.OpsSession.open(config_for(cluster, "quorum"), "quorum") as s:
        down = s.view.find("m2")
        assert not down.reachable
        refusal = ops.member_remove(s, "m1").plan.refusal
        assert refusal is not None and "would lose quorum" in refusal
        with pytest.raises(ops.OpRefusedError, match="would lose quorum"):
            ops.run(ops.member_remove(s, "m0"))
        assert ops.member_remove(s, "m2").plan.refusal is None  # the one down: fine
        refusal = ops.defrag(s).plan.refusal
        assert refusal is not None and "m2 is down" in refusal
        refusal = ops.member_add(s, ["http://127.0.0.1:1"], learner=False).plan.refusal
        assert refusal is not None and "only 2 answer" in refusal
    assert cluster.members[0].running and cluster.members[1].running


def test_add_a_learner_promote_it_then_remove_it(
    session: ops.OpsSession, ops_cluster: Sandbox
) -> None:
    """Runs last on the module cluster: it leaves a fourth (stopped) sandbox member."""
    client_port, peer_port = ops_cluster.join_ports()
    peer = f"http://127.0.0.1:{peer_port}"
    op = ops.member_add(session, [peer], learner=True, name="m3")
    assert op.plan.refusal is None and op.plan.summary == f"add {peer} as a learner"
    taken = ops.member_add(session, [session.snapshot.members[0].peer_urls[0]]).plan.refusal
    assert taken is not None and "already the peer URL" in taken
    added = ops.run(op)
    assert added.ok, added.describe()
    data = added.outcomes[0].data
    assert data["initial_cluster_state"] == "existing"
    assert f"m3={peer}" in str(data["initial_cluster"])
    session.refresh()
    second = ops.member_add(session, ["http://127.0.0.1:2"]).plan.refusal
    assert second is not None and "has a learner already" in second
    joined = ops_cluster.join("m3", (client_port, peer_port), str(data["initial_cluster"]))

    deadline = time.monotonic() + 30
    while True:  # until the learner has started and caught up
        session.refresh()
        promote = ops.member_promote(session, "m3")
        if promote.plan.refusal is None or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert promote.plan.refusal is None, promote.plan.refusal
    result = ops.run(promote)
    assert result.ok, result.describe()
    deadline = time.monotonic() + 15
    while True:  # every member's view of the promotion, under a loaded machine too
        session.refresh()
        snap = session.snapshot
        promoted = snap.voters == 4 and snap.has_quorum and not snap.learners
        if (promoted and session.view.find("m3").reachable) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert snap.voters == 4 and snap.has_quorum and not snap.learners, snap.reasons
    assert session.view.find("m3").reachable

    removal = ops.member_remove(session, "m3")
    assert removal.plan.refusal is None
    result = ops.run(removal)
    assert result.ok, result.describe()
    assert ops_cluster.members[joined].proc is not None
    assert ops_cluster.members[joined].proc.wait(timeout=10) is not None  # etcd leaves
    session.refresh()
    snap = session.snapshot
    assert sorted(m.name for m in snap.members) == ["m0", "m1", "m2"]
    assert snap.verdict is Verdict.HEALTHY, snap.reasons
