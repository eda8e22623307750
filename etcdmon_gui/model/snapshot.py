"""The health of a cluster at one instant: what one sweep found.

A ``ClusterSnapshot`` is the only thing the rest of the application learns about a
cluster: views render it, the alert engine evaluates it, the history stores it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from etcdmon_gui.model.certs import CertCheck, CertInfo
from etcdmon_gui.model.forecast import QuotaForecast
from etcdmon_gui.model.metrics import MemberMetrics, Quantiles
from etcdmon_gui.model.ops import ConsistencyCheck


class Verdict(enum.IntEnum):
    """Overall state, ordered by severity so ``max()`` picks the worst."""

    HEALTHY = 0
    DEGRADED = 1
    CRITICAL = 2
    UNREACHABLE = 3


@dataclass(frozen=True, slots=True)
class AlarmInfo:
    member_id: int
    alarm: str  # "NOSPACE", "CORRUPT", or "UNKNOWN(n)"


@dataclass(frozen=True, slots=True)
class MemberStatus:
    """One member as seen in one sweep.

    Identity comes from MemberList; the rest from the member's own Status answer at
    ``endpoint``. When the member did not answer, ``reachable`` is false, ``error``
    says why in words, and the Status fields are ``None``.
    """

    id: int
    name: str
    endpoint: str | None  # the client URL probed; None if the member has none yet
    peer_urls: tuple[str, ...]
    client_urls: tuple[str, ...]
    cluster_id: int | None  # as reported in this member's response headers
    reachable: bool
    error: str | None = None
    responsive: bool = True  # False when it accepted the connection but never answered
    version: str | None = None
    db_size: int | None = None
    db_size_in_use: int | None = None
    leader_id: int | None = None  # whom this member believes is leader (None: no leader)
    raft_term: int | None = None
    raft_index: int | None = None
    raft_applied_index: int | None = None
    is_learner: bool = False
    errors: tuple[str, ...] = ()  # Status.errors as reported by the member
    rtt_ms: float | None = None  # round trip of the Status call
    raft_lag: int | None = None  # highest raft index in the cluster minus this one's
    alarms: tuple[str, ...] = ()
    probe_ms: float | None = None  # latency of this sweep's linearizable Range
    probe_error: str | None = None
    probe_denied: bool = False  # the read was refused: authentication or permission
    probe_quantiles: Quantiles | None = None  # rolling, in seconds
    metrics: MemberMetrics | None = None
    metrics_error: str | None = None
    server_cert: CertCheck | None = None  # what its TLS endpoint presents (https only)

    @property
    def id_hex(self) -> str:
        return f"{self.id:x}"

    @property
    def is_leader(self) -> bool:
        return self.reachable and self.leader_id == self.id


@dataclass(frozen=True, slots=True)
class ClusterSnapshot:
    """One sweep of one cluster, stamped with who asked and when.

    ``key`` identifies the connection (profile id or endpoint list) so a view can
    drop a result that belongs to a cluster it no longer shows.
    """

    key: str
    taken_at: float  # time.time() when the sweep started
    duration_s: float
    cluster_id: int | None  # the cluster most reachable members belong to
    cluster_ids: tuple[int, ...]  # every cluster id seen; more than one is split-brain
    members: tuple[MemberStatus, ...]
    leader_id: int | None
    leader_changes: int  # leader changes this monitor has observed across sweeps
    leader_changes_seen_total: float | None  # etcd_server_leader_changes_seen_total, max
    voters: int
    reachable_voters: int
    quorum_size: int
    has_quorum: bool
    split_brain: bool
    split_brain_reason: str | None
    max_raft_index_lag: int | None
    learners: tuple[int, ...]
    alarms: tuple[AlarmInfo, ...]
    verdict: Verdict
    reasons: tuple[str, ...]  # why the verdict is not HEALTHY, most severe first
    error: str | None = None  # set when no endpoint could be reached at all
    auth_error: str | None = None  # the configured user could not authenticate: why
    warnings: tuple[str, ...] = ()
    client_cert: CertInfo | None = None  # the certificate we present, if any
    # When the largest DB reaches its quota at the current growth (6 h / 24 h linear
    # fits); None without a quota, a DB size this sweep, or enough history yet.
    quota_forecast: QuotaForecast | None = None
    # The last HashKV check of this cluster made in this process (``ops.hashkv``), which
    # the monitor attaches from ``monitor.consistency``; None if there was none.
    consistency: ConsistencyCheck | None = None

    @property
    def cert_days_left(self) -> float | None:
        """Days until the first certificate in use expires: any member's chain or ours.

        Negative once one has expired; ``None`` without TLS. What an expiry alert uses.
        """
        days = [
            d
            for m in self.members
            if m.server_cert is not None
            if (d := m.server_cert.days_left(self.taken_at)) is not None
        ]
        if self.client_cert is not None:
            days.append(self.client_cert.days_left(self.taken_at))
        return min(days) if days else None

    @property
    def leader(self) -> MemberStatus | None:
        return next((m for m in self.members if m.id == self.leader_id), None)

    def member(self, member_id: int) -> MemberStatus | None:
        return next((m for m in self.members if m.id == member_id), None)
