"""A health sweep against real 3-member clusters, healthy and broken in the usual ways."""

from __future__ import annotations

import time
from collections.abc import Callable

from etcdmon_gui.etcd.sandbox import Sandbox
from etcdmon_gui.model.snapshot import ClusterSnapshot, Verdict
from etcdmon_gui.monitor.cluster_monitor import ClusterMonitor
from tests.support import monitor_for


def sweep_until(
    mon: ClusterMonitor, cond: Callable[[ClusterSnapshot], bool], timeout: float = 20.0
) -> ClusterSnapshot:
    """Sweep (no sleeping in between beyond a short pause) until ``cond`` holds."""
    deadline = time.monotonic() + timeout
    while True:
        snap = mon.sweep()
        if cond(snap):
            return snap
        assert time.monotonic() < deadline, f"condition not met; last snapshot: {snap}"
        time.sleep(0.1)


def test_healthy_cluster_from_one_endpoint(shared_cluster: Sandbox) -> None:
    mon, probe = monitor_for(shared_cluster.endpoints[0])
    with probe:
        snap = mon.sweep()
    assert snap.error is None
    assert snap.verdict == Verdict.HEALTHY, snap.reasons
    assert len(snap.members) == 3  # discovered from MemberList, not configured
    assert {m.endpoint for m in snap.members} == set(shared_cluster.endpoints)
    assert sum(m.is_leader for m in snap.members) == 1
    assert snap.leader_id is not None and snap.leader is not None
    assert snap.has_quorum and snap.voters == 3 and snap.reachable_voters == 3
    assert snap.quorum_size == 2
    assert not snap.split_brain
    assert snap.cluster_id and snap.cluster_ids == (snap.cluster_id,)
    for m in snap.members:
        assert m.reachable and m.error is None
        assert m.version == shared_cluster.version
        assert m.db_size and m.db_size > 0
        assert m.db_size_in_use is not None and 0 < m.db_size_in_use <= m.db_size
        assert m.raft_term and m.raft_term >= 2
        assert m.raft_index and m.raft_applied_index is not None
        assert m.leader_id == snap.leader_id
        assert not m.is_learner and m.alarms == ()
        # Timed from before the call: a loopback round trip takes more than 50 µs.
        assert m.rtt_ms is not None and 0.05 < m.rtt_ms < 2000
        assert m.probe_ms is not None and m.probe_error is None
        assert m.metrics is not None, m.metrics_error
        assert m.metrics.has_leader is True
        assert m.metrics.quota_bytes == 2 * 1024**3


def test_second_sweep_gives_rates_and_rolling_probe_quantiles(shared_cluster: Sandbox) -> None:
    mon, probe = monitor_for(shared_cluster.endpoints_arg)
    with probe:
        first = mon.sweep()
        second = mon.sweep()
    assert all(m.metrics and m.metrics.window_s is None for m in first.members)
    for m in second.members:
        assert m.metrics is not None and m.metrics.window_s and m.metrics.window_s > 0
        assert m.metrics.proposals_committed_per_s is not None
        assert m.metrics.grpc_requests_total_per_s and m.metrics.grpc_requests_total_per_s > 0
        q = m.probe_quantiles
        assert q is not None and q.p50 is not None and q.p99 is not None and q.p50 <= q.p99


def test_leader_killed_new_leader_and_one_more_change(cluster: Sandbox) -> None:
    mon, probe = monitor_for(cluster.endpoints_arg)
    with probe:
        before = mon.sweep()
        assert before.leader is not None and before.leader.endpoint
        old_leader = before.leader_id
        seen_before = before.leader_changes_seen_total
        cluster.kill_member(cluster.member_index(before.leader.endpoint))
        after = sweep_until(mon, lambda s: s.leader_id is not None and s.leader_id != old_leader)
    assert after.leader_changes == before.leader_changes + 1
    assert seen_before is not None and after.leader_changes_seen_total is not None
    assert after.leader_changes_seen_total >= seen_before + 1
    dead = after.member(old_leader)  # type: ignore[arg-type]
    assert dead is not None and not dead.reachable
    assert after.has_quorum and after.verdict == Verdict.DEGRADED


def test_follower_killed_is_unreachable_with_readable_error(cluster: Sandbox) -> None:
    mon, probe = monitor_for(cluster.endpoints_arg)
    with probe:
        before = mon.sweep()
        follower = next(m for m in before.members if not m.is_leader)
        assert follower.endpoint
        cluster.kill_member(cluster.member_index(follower.endpoint))
        after = mon.sweep()
    down = after.member(follower.id)
    assert down is not None and not down.reachable
    # The first sweep may still find the old connection, broken; later ones are refused.
    target = follower.endpoint.split("://")[1]
    assert down.error in (
        f"connection refused at {target}",
        f"connection to {target} was lost (the member closed it or went away)",
    )
    assert after.has_quorum and after.reachable_voters == 2
    assert after.leader_id == before.leader_id
    assert after.verdict == Verdict.DEGRADED
    assert any("down" in r and "connection refused" in r for r in after.reasons)


def test_two_killed_quorum_lost(cluster: Sandbox) -> None:
    mon, probe = monitor_for(cluster.endpoints_arg)
    with probe:
        cluster.kill_member(0)
        cluster.kill_member(1)
        snap = mon.sweep()
    assert not snap.has_quorum
    assert snap.reachable_voters == 1 and snap.quorum_size == 2
    assert snap.verdict == Verdict.CRITICAL
    assert any(r.startswith("quorum lost") for r in snap.reasons)


def test_paused_member_does_not_hold_up_the_sweep(cluster: Sandbox) -> None:
    timeout = 1.0
    mon, probe = monitor_for(cluster.endpoints_arg, timeout_s=timeout)
    with probe:
        mon.sweep()  # connections established while everyone answers
        cluster.pause_member(2)
        try:
            t0 = time.monotonic()
            snap = mon.sweep()
            wall = time.monotonic() - t0
        finally:
            cluster.resume_member(2)
    assert wall < timeout + 0.5, f"sweep took {wall:.2f} s with a {timeout} s deadline"
    hung = next(m for m in snap.members if m.endpoint == cluster.members[2].client_url)
    assert not hung.reachable and not hung.responsive
    assert hung.error and "no answer" in hung.error and "within 1 s" in hung.error
    assert sum(m.reachable for m in snap.members) == 2


def test_endpoints_of_two_clusters_are_split_brain(etcd_binary, shared_cluster: Sandbox) -> None:  # type: ignore[no-untyped-def]
    with Sandbox(1, binary=etcd_binary) as other:
        mon, probe = monitor_for([shared_cluster.endpoints[0], other.endpoints[0]])
        with probe:
            snap = mon.sweep()
    assert snap.split_brain
    assert snap.split_brain_reason and "2 different clusters" in snap.split_brain_reason
    assert len(snap.cluster_ids) == 2
    assert len(snap.members) == 4  # never merged: 3 + 1, each with its own cluster id
    assert {m.cluster_id for m in snap.members} == set(snap.cluster_ids)
    assert snap.verdict == Verdict.CRITICAL


def test_unreachable_endpoint_gives_readable_error(shared_cluster: Sandbox) -> None:
    from etcdmon_gui.etcd.sandbox import free_ports

    port = free_ports(1)[0]
    mon, probe = monitor_for(f"127.0.0.1:{port}", timeout_s=1.0)
    with probe:
        snap = mon.sweep()
    assert snap.verdict == Verdict.UNREACHABLE
    assert snap.error == f"connection refused at 127.0.0.1:{port}"
    assert snap.members == ()


def test_alarm_is_reported_per_member_and_critical(cluster: Sandbox) -> None:
    import grpc
    from pyetcd import etcdrpc

    mon, probe = monitor_for(cluster.endpoints_arg)
    with probe:
        target = mon.sweep().members[0]
        with grpc.insecure_channel(target.endpoint.split("://")[1]) as ch:  # type: ignore[union-attr]
            etcdrpc.MaintenanceStub(ch).Alarm(
                etcdrpc.AlarmRequest(
                    action=etcdrpc.AlarmRequest.ACTIVATE, memberID=target.id, alarm=etcdrpc.NOSPACE
                ),
                timeout=5,
            )
        snap = sweep_until(mon, lambda s: bool(s.alarms))
    assert [(a.member_id, a.alarm) for a in snap.alarms] == [(target.id, "NOSPACE")]
    member = snap.member(target.id)
    assert member is not None and member.alarms == ("NOSPACE",)
    assert snap.verdict == Verdict.CRITICAL
    assert f"alarm NOSPACE on member {target.id:x}" in snap.reasons


def test_configured_endpoint_killed_the_discovered_members_still_answer(cluster: Sandbox) -> None:
    """One endpoint configured (as a one-endpoint profile): its member's death does not
    take the rest of the cluster with it."""
    mon, probe = monitor_for(cluster.endpoints[0])
    with probe:
        assert mon.sweep().verdict == Verdict.HEALTHY
        cluster.kill_member(cluster.member_index(cluster.endpoints[0]))
        snap = sweep_until(
            mon, lambda s: s.error is None and s.reachable_voters == 2 and s.leader is not None
        )
    assert snap.verdict == Verdict.DEGRADED, snap.reasons
    assert snap.voters == 3 and snap.has_quorum and len(snap.members) == 3
    (down,) = [m for m in snap.members if not m.reachable]
    assert down.endpoint == cluster.endpoints[0] and down.error


def test_no_known_member_answers_every_member_is_down(cluster: Sandbox) -> None:
    mon, probe = monitor_for(cluster.endpoints[0])
    with probe:
        mon.sweep()
        for i in range(3):
            cluster.kill_member(i)
        snap = mon.sweep()
    assert snap.verdict == Verdict.UNREACHABLE
    assert snap.error and snap.error.startswith("no known member answered")
    # Members known from earlier sweeps count as voters that are down: never 0/0.
    assert snap.voters == 3 and snap.reachable_voters == 0 and not snap.has_quorum
    assert len(snap.members) == 3 and not any(m.reachable for m in snap.members)
    assert all(m.error for m in snap.members)
