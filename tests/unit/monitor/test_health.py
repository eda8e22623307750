"""Quorum, split-brain, leader election and verdict rules on hand-made members."""

from __future__ import annotations

import dataclasses

from etcdmon_gui.model.certs import CertCheck, CertInfo
from etcdmon_gui.model.snapshot import AlarmInfo, MemberStatus, Verdict
from etcdmon_gui.monitor import health


def member(
    i: int,
    *,
    leader: int | None = 1,
    term: int = 2,
    cluster: int = 100,
    reachable: bool = True,
    learner: bool = False,
    index: int = 50,
) -> MemberStatus:
    return MemberStatus(
        id=i,
        name=f"m{i}",
        endpoint=f"http://127.0.0.1:{2000 + i}",
        peer_urls=(),
        client_urls=(),
        cluster_id=cluster,
        reachable=reachable,
        error=None if reachable else "connection refused at 127.0.0.1:1",
        leader_id=leader if reachable else None,
        raft_term=term if reachable else None,
        raft_index=index if reachable else None,
        is_learner=learner,
    )


def test_quorum_counts_voters_only() -> None:
    ms = [member(1), member(2), member(3, reachable=False), member(4, learner=True)]
    q = health.quorum(ms)
    assert (q.voters, q.reachable_voters, q.size, q.held) == (3, 2, 2, True)
    q = health.quorum([member(1), member(2, reachable=False), member(3, reachable=False)])
    assert not q.held and q.size == 2
    assert not health.quorum([]).held


def test_split_brain_different_clusters() -> None:
    reason = health.split_brain([member(1), member(2, cluster=200, leader=2)])
    assert reason == "the endpoints belong to 2 different clusters (ids 64, c8)"


def test_split_brain_two_leaders_and_disagreement_in_a_term() -> None:
    two = health.split_brain([member(1, leader=1, term=3), member(2, leader=2, term=4)])
    assert two == "2 members each claim to be leader (1, 2)"
    disagree = health.split_brain([member(1, leader=3, term=5), member(2, leader=4, term=5)])
    assert disagree == "members disagree on the leader in term 5 (3, 4)"
    # Different terms with different leaders is just an election in progress.
    assert health.split_brain([member(1, leader=3, term=5), member(2, leader=4, term=6)]) is None
    assert health.split_brain([member(1), member(2), member(3)]) is None


def test_elected_leader_prefers_highest_term() -> None:
    ms = [member(1, leader=1, term=2), member(2, leader=3, term=3), member(3, leader=3, term=3)]
    assert health.elected_leader(ms, 100) == 3
    assert health.elected_leader([member(1, leader=None)], 100) is None


def test_raft_lag_against_the_most_advanced_member() -> None:
    ms, worst = health.with_raft_lag(
        [member(1, index=90), member(2, index=100), member(3, reachable=False)]
    )
    assert [m.raft_lag for m in ms] == [10, 0, None] and worst == 10


def test_verdict_orders_reasons_by_severity() -> None:
    ms = [member(1), member(2), member(3, reachable=False)]
    q = health.quorum(ms)
    v, reasons = health.verdict(ms, q, 1, None, [AlarmInfo(2, "NOSPACE")], 0, None)
    assert v == Verdict.CRITICAL
    assert reasons == (
        "alarm NOSPACE on member 2",
        "member m3 down: connection refused at 127.0.0.1:1",
    )
    assert health.verdict(ms[:2], health.quorum(ms[:2]), 1, None, [], 0, None) == (
        Verdict.HEALTHY,
        (),
    )
    lagging = health.verdict(ms[:2], health.quorum(ms[:2]), 1, None, [], 5000, None)
    assert lagging == (Verdict.DEGRADED, ("a member is 5000 raft entries behind",))
    down = [dataclasses.replace(m, reachable=False) for m in ms]
    assert health.verdict(down, health.quorum(down), None, None, [], None, None)[0] == (
        Verdict.UNREACHABLE
    )


def test_unreachable_leader_still_followed_is_degraded() -> None:
    ms = [member(1, reachable=False), member(2, leader=1), member(3, leader=1)]
    v, reasons = health.verdict(ms, health.quorum(ms), 1, None, [], 0, None)
    assert v == Verdict.DEGRADED
    assert reasons[0].startswith("leader m1 is unreachable from here")


DAY = 86_400.0
NOW = 1_700_000_000.0


def cert(cn: str, days: float, fingerprint: str | None = None) -> CertInfo:
    return CertInfo(
        subject=f"CN={cn},O=example",
        issuer="CN=example-ca,O=example",
        sans=("127.0.0.1",),
        not_before=NOW - 300 * DAY,
        not_after=NOW + days * DAY,
        serial="01",
        fingerprint_sha256=fingerprint or cn,
        self_signed=False,
    )


def with_chain(m: MemberStatus, *chain: CertInfo) -> MemberStatus:
    check = CertCheck(m.endpoint or "", chain, verified=True, error=None, checked_at=NOW - 60)
    return dataclasses.replace(m, server_cert=check)


def test_a_certificate_expiring_soon_is_a_reason_naming_member_and_subject() -> None:
    """Issue 15: `status` said HEALTHY with a server certificate expiring in 2.9 days."""
    ca = cert("example-ca", 400, "ca")
    ms = [
        with_chain(member(1), cert("etcd-1", 2.9), ca),
        with_chain(member(2), cert("etcd-2", 90), ca),
    ]
    q = health.quorum(ms)
    v, reasons = health.verdict(ms, q, 1, None, [], 0, None, now=NOW)
    assert (v, reasons) == (
        Verdict.DEGRADED,
        ("the server certificate of member m1 (CN=etcd-1,O=example) expires in 2.9 days",),
    )
    # Our client certificate, and a CA both members present (named once, for both).
    ms = [with_chain(member(1), cert("etcd-1", 90), cert("example-ca", 10, "ca"))]
    ms.append(with_chain(member(2), cert("etcd-2", 90), cert("example-ca", 10, "ca")))
    client = cert("etcdmon", -1.5)
    v, reasons = health.verdict(ms, q, 1, None, [], 0, None, client_cert=client, now=NOW)
    assert v == Verdict.DEGRADED
    assert reasons == (
        "the client certificate (CN=etcdmon,O=example) expired 1.5 days ago",
        "the CA certificate of members m1, m2 (CN=example-ca,O=example) expires in 10.0 days",
    )


def test_certificates_beyond_the_rules_threshold_are_no_reason() -> None:
    assert health.cert_expiry_days() == 14  # the default etcdCertificateExpiringSoon
    ms = [with_chain(member(1), cert("etcd-1", 14.01)), member(2)]
    q = health.quorum(ms)
    verdict = health.verdict(ms, q, 1, None, [], 0, None, client_cert=cert("c", 30), now=NOW)
    assert verdict == (Verdict.HEALTHY, ())
