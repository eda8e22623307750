"""Cluster-level judgement over one sweep: leader, quorum, split-brain, lag, verdict.

Pure functions over plain data, so every rule here is unit-tested without a server.
"""

from __future__ import annotations

import dataclasses
import functools
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from etcdmon_gui.model.certs import CertInfo
from etcdmon_gui.model.snapshot import AlarmInfo, MemberStatus, Verdict
from etcdmon_gui.monitor.alert_rules import default_rules
from etcdmon_gui.monitor.rule_inputs import certs_in_use

# A follower this far behind the most advanced member is worth a look.
RAFT_LAG_DEGRADED = 1000


@functools.cache
def cert_expiry_days() -> float:
    """A certificate expiring within this many days makes the cluster Degraded: the
    widest threshold of the default certificate-expiry rules (14 days), so the verdict
    and the first expiry alert agree."""
    return max((r.threshold for r in default_rules() if r.signal == "cert_days_left"), default=14.0)


@dataclass(frozen=True, slots=True)
class Quorum:
    voters: int
    reachable_voters: int
    size: int

    @property
    def held(self) -> bool:
        return self.voters > 0 and self.reachable_voters >= self.size


def quorum(members: Sequence[MemberStatus]) -> Quorum:
    """Reachable voting members against a majority of all voting members."""
    voters = [m for m in members if not m.is_learner]
    reachable = sum(1 for m in voters if m.reachable)
    return Quorum(len(voters), reachable, len(voters) // 2 + 1)


def main_cluster_id(members: Sequence[MemberStatus]) -> int | None:
    """The cluster id most reachable members report (ties: the lowest id)."""
    counts = Counter(m.cluster_id for m in members if m.reachable and m.cluster_id is not None)
    if not counts:
        counts = Counter(m.cluster_id for m in members if m.cluster_id is not None)
    if not counts:
        return None
    return min(counts, key=lambda cid: (-counts[cid], cid))


def split_brain(members: Sequence[MemberStatus]) -> str | None:
    """Why the reachable members cannot all be one healthy cluster, or ``None``.

    Flags members of different clusters, two members each claiming leadership, and
    members that name different leaders for the same term.
    """
    reachable = [m for m in members if m.reachable]
    cluster_ids = sorted({m.cluster_id for m in reachable if m.cluster_id is not None})
    if len(cluster_ids) > 1:
        ids = ", ".join(f"{c:x}" for c in cluster_ids)
        return f"the endpoints belong to {len(cluster_ids)} different clusters (ids {ids})"
    claimants = sorted(m.id for m in reachable if m.is_leader)
    if len(claimants) > 1:
        who = ", ".join(f"{c:x}" for c in claimants)
        return f"{len(claimants)} members each claim to be leader ({who})"
    by_term: dict[int, set[int]] = {}
    for m in reachable:
        if m.raft_term is not None and m.leader_id:
            by_term.setdefault(m.raft_term, set()).add(m.leader_id)
    for term, leaders in sorted(by_term.items()):
        if len(leaders) > 1:
            who = ", ".join(f"{x:x}" for x in sorted(leaders))
            return f"members disagree on the leader in term {term} ({who})"
    return None


def elected_leader(members: Sequence[MemberStatus], cluster_id: int | None) -> int | None:
    """The leader most reachable members of ``cluster_id`` agree on (highest term wins)."""
    votes = Counter(
        (m.raft_term or 0, m.leader_id)
        for m in members
        if m.reachable and m.leader_id and m.cluster_id == cluster_id
    )
    if not votes:
        return None
    (_, leader), _ = max(votes.items(), key=lambda kv: (kv[0][0], kv[1]))
    return leader


def with_raft_lag(members: Sequence[MemberStatus]) -> tuple[list[MemberStatus], int | None]:
    """Each reachable member's distance behind the highest raft index in its cluster."""
    highest: dict[int | None, int] = {}
    for m in members:
        if m.reachable and m.raft_index is not None:
            highest[m.cluster_id] = max(highest.get(m.cluster_id, 0), m.raft_index)
    out: list[MemberStatus] = []
    lags: list[int] = []
    for m in members:
        if m.reachable and m.raft_index is not None:
            lag = highest[m.cluster_id] - m.raft_index
            lags.append(lag)
            m = dataclasses.replace(m, raft_lag=lag)
        out.append(m)
    return out, (max(lags) if lags else None)


def verdict(
    members: Sequence[MemberStatus],
    q: Quorum,
    leader_id: int | None,
    split: str | None,
    alarms: Sequence[AlarmInfo],
    max_lag: int | None,
    error: str | None,
    auth_error: str | None = None,
    *,
    client_cert: CertInfo | None = None,
    now: float | None = None,
) -> tuple[Verdict, tuple[str, ...]]:
    """The overall state and the reasons for it, worst first.

    A refused probe read (no or wrong credentials, no permission) is its own reason:
    the members answer, but this monitor cannot prove that reads work, so the cluster
    is never called healthy then. Each certificate in use (members' chains, our client
    certificate) that expires within ``cert_expiry_days()`` of ``now`` is a reason too,
    naming the member and the certificate's subject: soon nothing will connect.
    """
    reasons: list[tuple[Verdict, str]] = []
    if error or not any(m.reachable for m in members):
        return Verdict.UNREACHABLE, (error or "no member answered",)
    denied = [m for m in members if m.reachable and m.probe_denied]
    if auth_error:
        reasons.append(
            (
                Verdict.DEGRADED,
                f"cannot authenticate: {auth_error}; members and quorum come from "
                "MemberList and Status, which need no user",
            )
        )
    elif denied:
        reasons.append(
            (
                Verdict.DEGRADED,
                f"authentication required / permission denied for the probe read on "
                f"{len(denied)} member(s): {denied[0].probe_error}",
            )
        )
    if split:
        reasons.append((Verdict.CRITICAL, f"split-brain: {split}"))
    if not q.held:
        reasons.append(
            (
                Verdict.CRITICAL,
                f"quorum lost: {q.reachable_voters} of {q.voters} voting members reachable, "
                f"{q.size} needed",
            )
        )
    if leader_id is None:
        reasons.append((Verdict.CRITICAL, "no leader"))
    else:
        leader = next((m for m in members if m.id == leader_id), None)
        if leader is not None and not leader.reachable:
            reasons.append(
                (
                    Verdict.DEGRADED,
                    f"leader {leader.name or leader.id_hex} is unreachable from here; the others "
                    "still follow it (an election may be under way)",
                )
            )
    for a in sorted(set(alarms), key=lambda a: (a.alarm, a.member_id)):
        reasons.append((Verdict.CRITICAL, f"alarm {a.alarm} on member {a.member_id:x}"))
    for m in members:
        if not m.reachable:
            reasons.append((Verdict.DEGRADED, f"member {m.name or m.id_hex} down: {m.error}"))
    if max_lag is not None and max_lag > RAFT_LAG_DEGRADED:
        reasons.append((Verdict.DEGRADED, f"a member is {max_lag} raft entries behind"))
    if now is not None:
        for cert in certs_in_use(members, client_cert, now):
            if cert.days_left < cert_expiry_days():
                reasons.append((Verdict.DEGRADED, f"{cert.describe()} {cert.expiry()}"))
    if not reasons:
        return Verdict.HEALTHY, ()
    reasons.sort(key=lambda r: -r[0])
    return reasons[0][0], tuple(text for _, text in reasons)
