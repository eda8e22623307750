"""What the history keeps of a snapshot: the numeric signals, and the member inventory.

``SIGNALS`` is the declarative table of every number worth keeping over time, per member
(keyed by its id in hex) or cluster-wide (``CLUSTER_WIDE``). A key carries its unit
(``db_size_bytes``, ``wal_fsync_p99_ms``): it is also the signal's CSV column name, and
the table's order is the CSV column order, so new signals go at the end of their scope.
The readings are the charts' (``ui.chart_definitions``): latencies in ms, the DB size
from the member's Status answer, quantiles from the same windows.

``snapshot_samples`` reads one ``Sample`` per signal a snapshot knows. What it does not
know is left out, never stored as 0 or NaN: an unreachable member gives ``up = 0`` and
``learner`` (the member list says so) and nothing else, as the charts show it as a gap;
a sweep that reached nobody gives the cluster's verdict, reachable voters, leader
changes, certificate expiry and sweep time, not a quorum it could not judge.

``member_record`` and ``diff_members`` keep the inventory: who is in the cluster, with
which version and role, and what changed between sweeps (joined, left, version changed,
promoted, leader changed). The first sight of a cluster records its members silently.

Pure logic: no I/O, no Qt.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from etcdmon_gui.model.history import (
    CLUSTER_WIDE,
    MemberChange,
    MemberEvent,
    MemberRecord,
    MemberRole,
    Sample,
    SignalDef,
    SignalScope,
)
from etcdmon_gui.model.metrics import MemberMetrics, Quantiles
from etcdmon_gui.model.snapshot import ClusterSnapshot, MemberStatus

__all__ = [
    "SIGNALS",
    "diff_members",
    "member_record",
    "signal",
    "snapshot_samples",
]

MemberReader = Callable[[MemberStatus], float | None]
ClusterReader = Callable[[ClusterSnapshot], float | None]

# -- member readers ------------------------------------------------------------------------


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else seconds * 1e3


def _flag(value: bool) -> float:
    return 1.0 if value else 0.0


def _num(value: float | None) -> float | None:
    return None if value is None else float(value)


def _probe(name: str) -> MemberReader:
    """A rolling quantile of the client probe's latency, in ms (the probe chart's)."""

    def read(m: MemberStatus) -> float | None:
        q = m.probe_quantiles
        return None if q is None else _ms(getattr(q, name))

    return read


def _quantile(family: str, name: str) -> MemberReader:
    """A quantile of one of etcd's latency histograms (a ``MemberMetrics`` field), in ms."""

    def read(m: MemberStatus) -> float | None:
        q: Quantiles | None = getattr(m.metrics, family) if m.metrics else None
        return None if q is None else _ms(getattr(q, name))

    return read


def _metric(name: str) -> MemberReader:
    """A plain ``MemberMetrics`` field (a rate, a size, a gauge)."""

    def read(m: MemberStatus) -> float | None:
        mm: MemberMetrics | None = m.metrics
        return None if mm is None else _num(getattr(mm, name))

    return read


# -- cluster readers -----------------------------------------------------------------------


def _answered(read: ClusterReader) -> ClusterReader:
    """Only when the sweep reached some member: otherwise the value is a guess."""
    return lambda s: None if s.error is not None else read(s)


# -- the table -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Entry:
    sig: SignalDef
    member: MemberReader | None = None
    cluster: ClusterReader | None = None
    when_down: bool = False  # a member reading also known of a member that did not answer


def _m(key: str, title: str, unit: str, read: MemberReader, *, when_down: bool = False) -> _Entry:
    return _Entry(SignalDef(key, title, unit, SignalScope.MEMBER), member=read, when_down=when_down)


def _c(key: str, title: str, unit: str, read: ClusterReader) -> _Entry:
    return _Entry(SignalDef(key, title, unit, SignalScope.CLUSTER), cluster=read)


_Q = ("p50", "p95", "p99")

_ENTRIES: tuple[_Entry, ...] = (
    # -- per member: identity and role
    _m("up", "Reachable", "bool", lambda m: _flag(m.reachable), when_down=True),
    _m("leader", "Leader", "bool", lambda m: _flag(m.is_leader)),
    _m("learner", "Learner", "bool", lambda m: _flag(m.is_learner), when_down=True),
    # -- database
    _m("db_size_bytes", "DB size", "bytes", lambda m: _num(m.db_size)),
    _m("db_size_in_use_bytes", "DB size in use", "bytes", lambda m: _num(m.db_size_in_use)),
    _m("quota_bytes", "DB quota", "bytes", _metric("quota_bytes")),
    # -- raft
    _m("raft_index", "Raft index", "count", lambda m: _num(m.raft_index)),
    _m("raft_applied_index", "Raft applied index", "count", lambda m: _num(m.raft_applied_index)),
    _m("raft_term", "Raft term", "count", lambda m: _num(m.raft_term)),
    _m("raft_lag", "Raft index lag", "count", lambda m: _num(m.raft_lag)),
    # -- latencies seen by the monitor
    _m("status_rtt_ms", "Status round trip", "ms", lambda m: m.rtt_ms),
    _m("probe_ms", "Client probe latency", "ms", lambda m: m.probe_ms),
    *(_m(f"probe_{q}_ms", f"Client probe latency {q.upper()}", "ms", _probe(q)) for q in _Q),
    # -- latencies etcd measures
    *(
        _m(f"wal_fsync_{q}_ms", f"WAL fsync {q.upper()}", "ms", _quantile("wal_fsync", q))
        for q in _Q
    ),
    *(
        _m(
            f"backend_commit_{q}_ms",
            f"Backend commit {q.upper()}",
            "ms",
            _quantile("backend_commit", q),
        )
        for q in _Q
    ),
    *(
        _m(f"peer_rtt_{q}_ms", f"Peer round trip {q.upper()}", "ms", _quantile("peer_rtt", q))
        for q in _Q
    ),
    # -- load and failures
    _m(
        "proposals_committed_per_s",
        "Proposals committed",
        "per_s",
        _metric("proposals_committed_per_s"),
    ),
    _m("proposals_applied_per_s", "Proposals applied", "per_s", _metric("proposals_applied_per_s")),
    _m("proposals_pending", "Proposals pending", "count", _metric("proposals_pending")),
    _m("proposals_failed_per_s", "Proposals failed", "per_s", _metric("proposals_failed_per_s")),
    _m("grpc_requests_per_s", "gRPC requests", "per_s", _metric("grpc_requests_total_per_s")),
    _m("grpc_failure_ratio", "Failed gRPC requests", "ratio", _metric("grpc_failure_ratio")),
    _m("rss_bytes", "Resident memory", "bytes", _metric("rss_bytes")),
    _m(
        "peer_sent_failures_per_s",
        "Peer send failures",
        "per_s",
        _metric("peer_sent_failures_per_s"),
    ),
    _m(
        "heartbeat_send_failures_per_s",
        "Heartbeat send failures",
        "per_s",
        _metric("heartbeat_send_failures_per_s"),
    ),
    _m(
        "leader_changes_seen_total",
        "Leader changes seen by the member",
        "count",
        _metric("leader_changes_total"),
    ),
    _m("alarms", "Active alarms", "count", lambda m: float(len(m.alarms))),
    # -- cluster-wide
    _c(
        "verdict",
        "Verdict (0 healthy, 1 degraded, 2 critical, 3 unreachable)",
        "count",
        lambda s: float(int(s.verdict)),
    ),
    _c("members", "Members", "count", _answered(lambda s: float(len(s.members)))),
    _c("voters", "Voting members", "count", _answered(lambda s: float(s.voters))),
    _c(
        "reachable_voters", "Reachable voting members", "count", lambda s: float(s.reachable_voters)
    ),
    _c("quorum_size", "Quorum size", "count", _answered(lambda s: float(s.quorum_size))),
    _c("has_quorum", "Has quorum", "bool", _answered(lambda s: _flag(s.has_quorum))),
    _c("split_brain", "Split-brain", "bool", _answered(lambda s: _flag(s.split_brain))),
    _c(
        "leader_changes",
        "Leader changes seen by etcdmon",
        "count",
        lambda s: float(s.leader_changes),
    ),
    _c(
        "max_raft_index_lag",
        "Largest raft index lag",
        "count",
        _answered(lambda s: _num(s.max_raft_index_lag)),
    ),
    # The member-wide ``alarms`` key is taken: keys are unique across scopes.
    _c("cluster_alarms", "Active alarms (cluster)", "count", _answered(lambda s: len(s.alarms))),
    _c("cert_days_left", "Days until a certificate expires", "days", lambda s: s.cert_days_left),
    _c("sweep_ms", "Sweep duration", "ms", lambda s: s.duration_s * 1e3),
    _c(
        "quota_full_days",
        "Days until the DB reaches its quota (forecast)",
        "days",
        lambda s: None if s.quota_forecast is None else s.quota_forecast.days_left,
    ),
)

#: Every signal the history keeps, in CSV column order (member signals, then cluster).
SIGNALS: tuple[SignalDef, ...] = tuple(e.sig for e in _ENTRIES)
_BY_KEY: dict[str, _Entry] = {e.sig.key: e for e in _ENTRIES}
if len(_BY_KEY) != len(_ENTRIES):
    raise AssertionError("two history signals share a key")
_MEMBER = tuple(e for e in _ENTRIES if e.sig.scope is SignalScope.MEMBER)
_CLUSTER = tuple(e for e in _ENTRIES if e.sig.scope is SignalScope.CLUSTER)


def signal(key: str) -> SignalDef:
    """The signal with this key; ``KeyError`` naming the close matches (or all keys)."""
    entry = _BY_KEY.get(key)
    if entry is not None:
        return entry.sig
    close = difflib.get_close_matches(key, _BY_KEY, n=5, cutoff=0.6)
    known = ", ".join(close or _BY_KEY)
    hint = f"did you mean {known}?" if close else f"known signals: {known}"
    raise KeyError(f"unknown signal {key!r}; {hint}")


def _sample(member: str, key: str, value: float | None) -> Sample | None:
    if value is None:
        return None
    value = float(value)
    return Sample(member, key, value) if math.isfinite(value) else None


def snapshot_samples(snap: ClusterSnapshot) -> list[Sample]:
    """Every known signal of ``snap``: each member's (in the snapshot's member order, in
    ``SIGNALS`` order), then the cluster's. Unknown values (``None``, NaN) are left out."""
    out: list[Sample] = []
    for m in snap.members:
        for e in _MEMBER:
            if not m.reachable and not e.when_down:
                continue
            assert e.member is not None
            if (s := _sample(m.id_hex, e.sig.key, e.member(m))) is not None:
                out.append(s)
    for e in _CLUSTER:
        assert e.cluster is not None
        if (s := _sample(CLUSTER_WIDE, e.sig.key, e.cluster(snap))) is not None:
            out.append(s)
    return out


# -- the inventory -------------------------------------------------------------------------


def _role(m: MemberStatus) -> MemberRole:
    if m.is_learner:  # the member list says so, whether it answers or not
        return MemberRole.LEARNER
    if m.is_leader:
        return MemberRole.LEADER
    return MemberRole.FOLLOWER if m.reachable else MemberRole.DOWN


def member_record(
    cluster_key: str, m: MemberStatus, at: float, first_seen: float | None = None
) -> MemberRecord:
    """``m`` as seen at ``at``: its role is LEARNER for a learner (up or down), LEADER,
    FOLLOWER if it answered, else DOWN; ``first_seen`` defaults to ``at``."""
    return MemberRecord(
        cluster=cluster_key,
        member=m.id_hex,
        name=m.name,
        peer_urls=m.peer_urls,
        client_urls=m.client_urls,
        version=m.version,
        role=_role(m),
        db_size=m.db_size,
        first_seen=at if first_seen is None else first_seen,
        last_seen=at,
    )


def _label(r: MemberRecord) -> str:
    return r.name or r.member


def diff_members(
    known: Mapping[str, MemberRecord], snap: ClusterSnapshot
) -> tuple[list[MemberRecord], list[MemberEvent]]:
    """The records of every member of ``snap`` and what changed since ``known`` (the
    members last recorded for ``snap.key``, by id in hex).

    A record keeps ``first_seen`` from ``known``, and a member that did not answer keeps
    its last known version, DB size and name (its role becomes DOWN, or stays LEARNER).
    Events:

    - JOINED: a member not known before, only when ``known`` is not empty: the first
      sight of a cluster records its inventory silently (no event at all);
    - LEFT: a known member the member list no longer has, only when the list was
      answered (no sweep error, some member reachable): a sweep that reached nobody
      lists the members known from before, and must not make anybody leave;
    - VERSION_CHANGED: a known version and a new one that differ ("3.5.9 -> 3.5.10");
    - PROMOTED: a member recorded as a learner that answers and is a learner no more;
    - LEADER_CHANGED: a member that leads now and was not the recorded leader; the
      detail names the previous leader ("was m1"), if one was recorded.
    """
    at = snap.taken_at
    records: list[MemberRecord] = []
    events: list[MemberEvent] = []
    listed = snap.error is None and any(m.reachable for m in snap.members)
    previous_leader = next((r for r in known.values() if r.role is MemberRole.LEADER), None)

    def event(rec: MemberRecord, change: MemberChange, detail: str = "") -> None:
        events.append(MemberEvent(at, snap.key, rec.member, rec.name, change, detail))

    present: set[str] = set()
    for m in snap.members:
        old = known.get(m.id_hex)
        rec = member_record(snap.key, m, at, old.first_seen if old else None)
        if old is not None:
            rec = dataclasses.replace(
                rec,
                name=rec.name or old.name,  # an unstarted member has no name yet
                version=rec.version if rec.version is not None else old.version,
                db_size=rec.db_size if rec.db_size is not None else old.db_size,
            )
        present.add(rec.member)
        records.append(rec)
        if not known:
            continue  # first sight: the inventory as it is, no news
        if old is None:
            event(rec, MemberChange.JOINED, "as a learner" if m.is_learner else "")
        else:
            if old.version is not None and m.version is not None and old.version != m.version:
                event(rec, MemberChange.VERSION_CHANGED, f"{old.version} -> {m.version}")
            if old.role is MemberRole.LEARNER and not m.is_learner and m.reachable:
                event(rec, MemberChange.PROMOTED)
        if m.is_leader and (old is None or old.role is not MemberRole.LEADER):
            was = ""
            if previous_leader is not None and previous_leader.member != rec.member:
                was = f"was {_label(previous_leader)}"
            event(rec, MemberChange.LEADER_CHANGED, was)
    if listed:
        for hex_id, old in known.items():
            if hex_id not in present:
                event(old, MemberChange.LEFT)
    return records, events
