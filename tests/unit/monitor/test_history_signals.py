"""What the history reads off built snapshots: signals, samples, the member inventory."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import pytest

from etcdmon_gui.model.history import (
    CLUSTER_WIDE,
    MemberChange,
    MemberRecord,
    MemberRole,
    SignalScope,
)
from etcdmon_gui.model.metrics import MemberMetrics, Quantiles
from etcdmon_gui.model.snapshot import AlarmInfo, ClusterSnapshot, MemberStatus, Verdict
from etcdmon_gui.monitor.history_signals import (
    SIGNALS,
    diff_members,
    member_record,
    signal,
    snapshot_samples,
)
from tests.builders import member, snap

T0 = 1_000_000.0
UNITS = {"ms", "bytes", "per_s", "ratio", "count", "bool", "days"}


def metrics(**kw: Any) -> MemberMetrics:
    fields: dict[str, Any] = {
        "window_s": 5.0,
        "wal_fsync": Quantiles(0.001, 0.002, 0.004),
        "backend_commit": Quantiles(0.0005, None, 0.008),
        "peer_rtt": None,
        "peer_rtt_by_peer": {},
        "proposals_committed_per_s": 12.5,
        "proposals_applied_per_s": 12.0,
        "proposals_pending": 0.0,
        "proposals_failed_per_s": 0.0,
        "has_leader": True,
        "is_leader": True,
        "leader_changes_total": 3.0,
        "db_total_bytes": 2e6,
        "db_in_use_bytes": 1e6,
        "quota_bytes": 2 * 1024**3,
        "grpc_requests_per_s": {"Range": 4.0},
        "grpc_requests_total_per_s": 4.0,
        "grpc_failure_ratio": 0.25,
        "rss_bytes": 50e6,
        "peer_sent_failures_per_s": None,
        "heartbeat_send_failures_per_s": 0.0,
    }
    fields.update(kw)
    return MemberMetrics(**fields)


def full(i: int, **kw: Any) -> MemberStatus:
    """A member that answered everything."""
    fields: dict[str, Any] = {
        "version": "3.5.9",
        "db_size": 2_000_000,
        "db_size_in_use": 1_000_000,
        "raft_applied_index": 9,
        "rtt_ms": 1.5,
        "raft_lag": 0,
        "probe_ms": 2.5,
        "probe_quantiles": Quantiles(0.002, 0.003, 0.010),
        "metrics": metrics(),
    }
    fields.update(kw)
    return dataclasses.replace(member(i), **fields)


def by_key(samples: list[Any], who: str) -> dict[str, float]:
    return {s.signal: s.value for s in samples if s.member == who}


# -- the table -----------------------------------------------------------------------------


def test_signals_are_unique_with_units_and_members_first() -> None:
    keys = [s.key for s in SIGNALS]
    assert len(keys) == len(set(keys))
    assert {s.unit for s in SIGNALS} <= UNITS
    scopes = [s.scope for s in SIGNALS]
    first_cluster = scopes.index(SignalScope.CLUSTER)
    assert SignalScope.MEMBER not in scopes[first_cluster:]
    # The CSV column order is part of the format: it only grows at the ends of a scope.
    assert keys[:6] == [
        "up",
        "leader",
        "learner",
        "db_size_bytes",
        "db_size_in_use_bytes",
        "quota_bytes",
    ]
    for key in (
        "wal_fsync_p99_ms",
        "backend_commit_p50_ms",
        "peer_rtt_p95_ms",
        "probe_p99_ms",
        "grpc_failure_ratio",
        "alarms",
        "verdict",
        "cert_days_left",
        "sweep_ms",
    ):
        assert key in keys
    for s in SIGNALS:  # the unit shows in the key, where it has one
        if s.unit in ("ms", "bytes", "per_s", "days"):
            assert s.key.endswith(f"_{s.unit}") or s.key == "cert_days_left", s.key
        assert s.title and s.title != s.key and "_" not in s.title


def test_signal_lookup_suggests_close_matches() -> None:
    assert signal("db_size_bytes").unit == "bytes"
    assert signal("verdict").scope is SignalScope.CLUSTER
    with pytest.raises(KeyError, match="did you mean db_size_bytes"):
        signal("db_size")
    with pytest.raises(KeyError, match="known signals: up, leader"):
        signal("nothing-like-it")


# -- samples -------------------------------------------------------------------------------


def test_a_member_that_answered_gives_the_charts_readings() -> None:
    s = snap(T0, [full(1), full(2)])
    values = by_key(snapshot_samples(s), "1")
    assert values["up"] == 1 and values["leader"] == 1 and values["learner"] == 0
    assert values["db_size_bytes"] == 2_000_000
    assert values["quota_bytes"] == 2 * 1024**3
    assert values["raft_index"] == 10 and values["raft_term"] == 2
    assert values["raft_applied_index"] == 9 and values["raft_lag"] == 0
    assert values["status_rtt_ms"] == 1.5 and values["probe_ms"] == 2.5
    assert values["probe_p99_ms"] == pytest.approx(10.0)
    assert values["wal_fsync_p50_ms"] == pytest.approx(1.0)
    assert values["wal_fsync_p99_ms"] == pytest.approx(4.0)
    assert values["backend_commit_p99_ms"] == pytest.approx(8.0)
    assert "backend_commit_p95_ms" not in values  # unknown quantile: left out
    assert not any(k.startswith("peer_rtt") for k in values)  # no peers' histogram
    assert "peer_sent_failures_per_s" not in values
    assert values["grpc_requests_per_s"] == 4.0 and values["grpc_failure_ratio"] == 0.25
    assert values["leader_changes_seen_total"] == 3 and values["alarms"] == 0
    assert by_key(snapshot_samples(s), "2")["leader"] == 0  # m2 follows m1


def test_an_unreachable_member_says_only_that_it_is_down() -> None:
    down = dataclasses.replace(member(3, up=False), metrics=metrics(), is_learner=True)
    samples = snapshot_samples(snap(T0, [full(1), down]))
    assert by_key(samples, "3") == {"up": 0.0, "learner": 1.0}


def test_unknown_values_are_left_out_never_nan() -> None:
    m = full(1, rtt_ms=None, metrics=metrics(grpc_failure_ratio=math.nan, rss_bytes=math.inf))
    samples = snapshot_samples(snap(T0, [m]))
    values = by_key(samples, "1")
    assert "status_rtt_ms" not in values
    assert "grpc_failure_ratio" not in values and "rss_bytes" not in values
    assert all(math.isfinite(s.value) for s in samples)
    bare = dataclasses.replace(member(1), metrics=None, probe_quantiles=None)
    values = by_key(snapshot_samples(snap(T0, [bare])), "1")
    assert set(values) == {"up", "leader", "learner", "raft_index", "raft_term", "alarms"}


def test_cluster_wide_samples() -> None:
    s = dataclasses.replace(
        snap(T0, [full(1), full(2), member(3, up=False)], quorum=True),
        verdict=Verdict.DEGRADED,
        leader_changes=2,
        max_raft_index_lag=5,
        alarms=(AlarmInfo(1, "NOSPACE"),),
        duration_s=0.125,
    )
    values = by_key(snapshot_samples(s), CLUSTER_WIDE)
    assert values == {
        "verdict": 1.0,
        "members": 3.0,
        "voters": 3.0,
        "reachable_voters": 2.0,
        "quorum_size": 2.0,
        "has_quorum": 1.0,
        "split_brain": 0.0,
        "leader_changes": 2.0,
        "max_raft_index_lag": 5.0,
        "cluster_alarms": 1.0,
        "sweep_ms": 125.0,
    }  # no TLS: no certificate expiry
    # Members in snapshot order, each in SIGNALS order, then the cluster.
    rank = {"1": 0, "2": 1, "3": 2, CLUSTER_WIDE: 3}
    column = {sig.key: i for i, sig in enumerate(SIGNALS)}
    order = [(rank[x.member], column[x.signal]) for x in snapshot_samples(s)]
    assert order == sorted(order)


def test_a_sweep_that_reached_nobody_claims_no_quorum_or_inventory() -> None:
    s = snap(T0, [member(1, up=False), member(2, up=False)], error="refused", quorum=False)
    samples = snapshot_samples(s)
    assert by_key(samples, CLUSTER_WIDE) == {
        "verdict": 3.0,
        "reachable_voters": 0.0,
        "leader_changes": 0.0,
        "sweep_ms": pytest.approx(10.0),
    }
    assert by_key(samples, "1") == {"up": 0.0, "learner": 0.0}


# -- inventory -----------------------------------------------------------------------------


def test_member_record_roles() -> None:
    leader, follower = full(1), full(2)
    learner = full(3, is_learner=True)
    down = member(4, up=False)
    roles = [member_record("c1", m, T0, None).role for m in (leader, follower, learner, down)]
    assert roles == [MemberRole.LEADER, MemberRole.FOLLOWER, MemberRole.LEARNER, MemberRole.DOWN]
    rec = member_record("c1", dataclasses.replace(full(255), name="x"), T0 + 5, T0)
    assert rec.member == "ff" and rec.name == "x" and rec.version == "3.5.9"
    assert rec.first_seen == T0 and rec.last_seen == T0 + 5 and rec.db_size == 2_000_000
    assert member_record("c1", follower, T0, None).first_seen == T0


def known(s: ClusterSnapshot) -> dict[str, MemberRecord]:
    records, _ = diff_members({}, s)
    return {r.member: r for r in records}


def test_the_first_sight_of_a_cluster_is_silent() -> None:
    records, events = diff_members({}, snap(T0, [full(1), full(2), full(3, is_learner=True)]))
    assert events == []
    assert [(r.member, r.role) for r in records] == [
        ("1", MemberRole.LEADER),
        ("2", MemberRole.FOLLOWER),
        ("3", MemberRole.LEARNER),
    ]
    assert all(r.cluster == "c1" and r.first_seen == T0 for r in records)


def test_joined_left_and_first_seen_kept() -> None:
    before = known(snap(T0, [full(1), full(2)]))
    records, events = diff_members(before, snap(T0 + 60, [full(1), full(3, is_learner=True)]))
    assert [(e.member, e.change, e.detail) for e in events] == [
        ("3", MemberChange.JOINED, "as a learner"),
        ("2", MemberChange.LEFT, ""),
    ]
    assert events[1].name == "m2" and all(e.at == T0 + 60 for e in events)
    first = {r.member: (r.first_seen, r.last_seen) for r in records}
    assert first == {"1": (T0, T0 + 60), "3": (T0 + 60, T0 + 60)}


def test_an_unreachable_sweep_makes_nobody_leave_and_keeps_what_was_known() -> None:
    before = known(snap(T0, [full(1), full(2), full(3)]))
    # Nothing answered: the known members, all down.
    down = [member(1, up=False), member(2, up=False)]
    records, events = diff_members(before, snap(T0 + 60, down, error="refused", quorum=False))
    assert events == []
    assert {(r.member, r.role, r.version, r.db_size) for r in records} == {
        ("1", MemberRole.DOWN, "3.5.9", 2_000_000),
        ("2", MemberRole.DOWN, "3.5.9", 2_000_000),
    }
    assert all(r.first_seen == T0 and r.last_seen == T0 + 60 for r in records)
    # Answered by m1, which lists m1 and m2 only: m3 left.
    _, events = diff_members(before, snap(T0 + 90, [full(1), member(2, up=False)]))
    assert [(e.member, e.change) for e in events] == [("3", MemberChange.LEFT)]


def test_version_change_promotion_and_leader_change() -> None:
    before = known(snap(T0, [full(1), full(2), full(3, is_learner=True)]))
    # m2 is upgraded and leads now; m3 is promoted.
    now = [
        full(1, leader_id=2),
        full(2, leader_id=2, version="3.5.10"),
        full(3, leader_id=2),
    ]
    records, events = diff_members(before, snap(T0 + 60, now))
    assert [(e.member, e.change, e.detail) for e in events] == [
        ("2", MemberChange.VERSION_CHANGED, "3.5.9 -> 3.5.10"),
        ("2", MemberChange.LEADER_CHANGED, "was m1"),
        ("3", MemberChange.PROMOTED, ""),
    ]
    assert {r.member: r.role for r in records} == {
        "1": MemberRole.FOLLOWER,
        "2": MemberRole.LEADER,
        "3": MemberRole.FOLLOWER,
    }
    # Unchanged: no news; a down member's unknown version is no change either.
    after = {r.member: r for r in records}
    again = [full(1, leader_id=2), full(2, leader_id=2, version="3.5.10"), member(3, up=False)]
    _, events = diff_members(after, snap(T0 + 120, again))
    assert events == []


def test_a_learner_that_does_not_answer_is_not_promoted() -> None:
    before = known(snap(T0, [full(1), full(3, is_learner=True)]))
    _, events = diff_members(before, snap(T0 + 60, [full(1), member(3, up=False)]))
    assert events == []


def test_a_leader_after_none_was_recorded() -> None:
    before = known(snap(T0, [full(1, leader_id=None), full(2, leader_id=None)]))
    assert {r.role for r in before.values()} == {MemberRole.FOLLOWER}
    _, events = diff_members(before, snap(T0 + 60, [full(1), full(2)]))
    assert [(e.member, e.change, e.detail) for e in events] == [
        ("1", MemberChange.LEADER_CHANGED, "")
    ]
