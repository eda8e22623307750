"""The numbers alert rules compare: one value per member or per cluster per snapshot.

Most signals read the snapshot directly; a few need a window of earlier snapshots
(leader changes over 15 minutes, failed gRPC requests over 5 minutes, database growth
over 4 hours, the largest DB size over 24 hours for the days left until the quota),
which ``SignalHistory`` keeps, bounded. A signal is ``None`` when the snapshot does not
know it (a version that does not export the metric, a member that did not answer); a
rule never fires on ``None``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, TypeVar

import numpy as np

from etcdmon_gui.formatting import fmt_bytes
from etcdmon_gui.model.certs import CertInfo
from etcdmon_gui.model.snapshot import ClusterSnapshot, MemberStatus, Verdict

MIB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Reading:
    value: float | None
    detail: str = ""  # words for the summary: the error, the alarm, the reason


class SignalHistory:
    """Per cluster: recent samples that windowed signals need, pruned to their window."""

    def __init__(self) -> None:
        self.leader_changes: deque[tuple[float, float]] = deque()  # (t, counter max)
        # (t, requests, failed, failed reads of our own probe): the monitor's own failed
        # reads are the cluster's trouble, already reported; they must not raise the
        # failed-gRPC rule on top (a lone read per sweep is 100 % of an idle member).
        self.grpc: dict[int, deque[tuple[float, float, float, float]]] = {}
        self.failed_proposals: dict[int, deque[tuple[float, float]]] = {}  # (t, failed count)
        self.db_size: dict[int, deque[tuple[float, float]]] = {}  # (t, bytes)

    def record(self, snap: ClusterSnapshot) -> None:
        t = snap.taken_at
        if snap.leader_changes_seen_total is not None:
            _push(self.leader_changes, (t, snap.leader_changes_seen_total), t - 15 * 60)
        for m in snap.members:
            mm = m.metrics
            if mm is None or mm.window_s is None:
                continue
            if mm.grpc_requests_total_per_s is not None and mm.grpc_failure_ratio is not None:
                requests = mm.grpc_requests_total_per_s * mm.window_s
                own = 1.0 if m.reachable and m.probe_error and not m.probe_denied else 0.0
                _push(
                    self.grpc.setdefault(m.id, deque()),
                    (t, requests, requests * mm.grpc_failure_ratio, own),
                    t - 5 * 60,
                )
            if mm.proposals_failed_per_s is not None:
                _push(
                    self.failed_proposals.setdefault(m.id, deque()),
                    (t, mm.proposals_failed_per_s * mm.window_s),
                    t - 15 * 60,
                )
        for m in snap.members:
            if m.db_size is not None:
                _push(self.db_size.setdefault(m.id, deque()), (t, float(m.db_size)), t - 4 * 3600)


T = TypeVar("T", tuple[float, float], tuple[float, float, float, float])


def _push(q: deque[T], item: T, oldest: float) -> None:
    """Append, then drop samples older than ``oldest`` (the window's start)."""
    q.append(item)
    while q and q[0][0] < oldest:
        q.popleft()


def _leader_changes_15m(snap: ClusterSnapshot, h: SignalHistory) -> Reading:
    if len(h.leader_changes) < 2:
        return Reading(None)
    increase, prev = 0.0, h.leader_changes[0][1]
    for _, value in list(h.leader_changes)[1:]:
        increase += value - prev if value >= prev else value  # a restart resets the counter
        prev = value
    return Reading(increase)


def _grpc_failed_percent(m: MemberStatus, h: SignalHistory) -> Reading:
    samples = h.grpc.get(m.id)
    if not samples:
        return Reading(None)
    # Our failed reads may be counted a scrape later than we saw them fail: subtract
    # them over the whole window, not sample by sample.
    own = sum(s[3] for s in samples)
    requests = sum(s[1] for s in samples) - own
    failed = max(0.0, sum(s[2] for s in samples) - own)
    return Reading(None if requests <= 0 else 100 * failed / requests)


def _failed_proposals(m: MemberStatus, h: SignalHistory) -> Reading:
    samples = h.failed_proposals.get(m.id)
    if not samples or len(samples) < 2:
        return Reading(None)
    span = samples[-1][0] - samples[0][0]
    return Reading(None if span <= 0 else sum(s[1] for s in list(samples)[1:]) / span)


def _db_predicted(m: MemberStatus, h: SignalHistory) -> Reading:
    """predict_linear(db size[4h], 4h) as a percentage of the quota."""
    quota = m.metrics.quota_bytes if m.metrics else None
    samples = h.db_size.get(m.id)
    if not quota or not samples or len(samples) < 3:
        return Reading(None)
    t = np.array([s[0] for s in samples])
    y = np.array([s[1] for s in samples])
    if t[-1] - t[0] < 60:  # too short a span to extrapolate four hours from
        return Reading(None)
    slope, intercept = np.polyfit(t - t[-1], y, 1)
    return Reading(100 * float(intercept + slope * 4 * 3600) / quota)


def _quota_full_days(s: ClusterSnapshot, h: SignalHistory) -> Reading:
    """Days until the largest member DB reaches its quota on the linear fit of its size
    over 6 h and 24 h (the sooner of the two); unknown without a quota, before a window
    has enough points, when the DB does not grow, and in a sweep that read no DB size.
    The monitor makes the forecast (``ClusterSnapshot.quota_forecast``), from a window
    seeded with the stored history, so a restart keeps it."""
    forecast = s.quota_forecast
    if forecast is None or forecast.days_left is None:
        return Reading(None)
    fit = forecast.limiting
    detail = ""
    if fit is not None:
        detail = (
            f"growing {fmt_bytes(fit.bytes_per_day)} a day over the last "
            f"{fit.window_s / 3600:g} h, quota {fmt_bytes(forecast.quota_bytes)}"
        )
    return Reading(forecast.days_left, detail)


def _metric(
    get: Callable[[MemberStatus], float | None],
) -> Callable[[MemberStatus, SignalHistory], Reading]:
    return lambda m, _h: Reading(get(m) if m.reachable else None)


def _quota_percent(m: MemberStatus) -> float | None:
    mm = m.metrics
    if mm is None or not mm.quota_bytes or mm.db_total_bytes is None:
        return None
    return 100 * mm.db_total_bytes / mm.quota_bytes


def _in_use_ratio_large(m: MemberStatus) -> float | None:
    mm = m.metrics
    if mm is None or not mm.db_total_bytes or mm.db_in_use_bytes is None:
        return None
    if mm.db_total_bytes <= 100 * MIB:  # the mixin only cares about sizeable databases
        return None
    return mm.db_in_use_bytes / mm.db_total_bytes


@dataclass(frozen=True, slots=True)
class CertInUse:
    """A certificate the connections to a cluster depend on, and whose it is: a
    member's server certificate, a CA in members' chains, or our client certificate."""

    cert: CertInfo
    role: str  # "server certificate", "CA certificate", "client certificate"
    members: tuple[str, ...]  # whose chain holds it (none for the client certificate)
    days_left: float

    def describe(self) -> str:
        """Which certificate, in words: "the server certificate of member m0 (CN=...)"."""
        whose = ""
        if self.members:
            many = len(self.members) > 1
            whose = f" of member{'s' if many else ''} {', '.join(self.members)}"
        return f"the {self.role}{whose} ({self.cert.subject})"

    def expiry(self) -> str:
        """When, in words: "expires in 2.9 days" or "expired 1.2 days ago"."""
        if self.days_left < 0:
            return f"expired {-self.days_left:.1f} days ago"
        return f"expires in {self.days_left:.1f} days"


def certs_in_use(
    members: Sequence[MemberStatus], client_cert: CertInfo | None, now: float
) -> list[CertInUse]:
    """Every certificate in use, the one expiring first first: each member's chain (a
    CA shared by several members once, naming them all) and our client certificate."""
    found: dict[str, tuple[CertInfo, str, list[str]]] = {}
    for m in members:
        if m.server_cert is None:
            continue
        for i, cert in enumerate(m.server_cert.chain):
            role = "server certificate" if i == 0 else "CA certificate"
            entry = found.setdefault(cert.fingerprint_sha256, (cert, role, []))
            entry[2].append(m.name or m.id_hex)
    certs = [
        CertInUse(cert, role, tuple(names), cert.days_left(now))
        for cert, role, names in found.values()
    ]
    if client_cert is not None:
        certs.append(CertInUse(client_cert, "client certificate", (), client_cert.days_left(now)))
    return sorted(certs, key=lambda c: c.days_left)


def _cert_days_left(s: ClusterSnapshot, _h: SignalHistory) -> Reading:
    """Days until the first certificate in use expires, and which one it is."""
    certs = certs_in_use(s.members, s.client_cert, s.taken_at)
    if not certs:
        return Reading(None)
    return Reading(certs[0].days_left, certs[0].describe())


def _data_inconsistent(s: ClusterSnapshot, _h: SignalHistory) -> Reading:
    """1 when the last HashKV check (``ops.hashkv``, see ``monitor.consistency``) found
    members whose data differ at the same revision, 0 when it found none; unknown
    before any check in this process."""
    check = s.consistency
    if check is None:
        return Reading(None)
    return Reading(float(not check.consistent), check.describe())


@dataclass(frozen=True, slots=True)
class Signal:
    scope: Literal["member", "cluster"]
    member: Callable[[MemberStatus, SignalHistory], Reading] | None = None
    cluster: Callable[[ClusterSnapshot, SignalHistory], Reading] | None = None


SIGNALS: dict[str, Signal] = {
    # member-wide
    "member_down": Signal(
        "member", member=lambda m, _h: Reading(0.0 if m.reachable else 1.0, m.error or "")
    ),
    "no_leader": Signal(
        "member",
        member=lambda m, _h: Reading(
            None if not m.reachable else (1.0 if m.leader_id is None else 0.0)
        ),
    ),
    "grpc_failed_percent_5m": Signal("member", member=_grpc_failed_percent),
    "peer_rtt_p99_s": Signal(
        "member",
        member=_metric(
            lambda m: m.metrics.peer_rtt.p99 if m.metrics and m.metrics.peer_rtt else None
        ),
    ),
    "proposals_failed_per_s_15m": Signal("member", member=_failed_proposals),
    "wal_fsync_p99_s": Signal(
        "member",
        member=_metric(
            lambda m: m.metrics.wal_fsync.p99 if m.metrics and m.metrics.wal_fsync else None
        ),
    ),
    "backend_commit_p99_s": Signal(
        "member",
        member=_metric(
            lambda m: (
                m.metrics.backend_commit.p99 if m.metrics and m.metrics.backend_commit else None
            )
        ),
    ),
    "db_quota_used_percent": Signal("member", member=_metric(_quota_percent)),
    "db_predicted_4h_percent_of_quota": Signal("member", member=_db_predicted),
    "db_in_use_ratio_large": Signal("member", member=_metric(_in_use_ratio_large)),
    "alarm_active": Signal(
        "member", member=lambda m, _h: Reading(float(bool(m.alarms)), ", ".join(m.alarms))
    ),
    "raft_lag": Signal(
        "member", member=_metric(lambda m: None if m.raft_lag is None else float(m.raft_lag))
    ),
    "probe_p99_s": Signal(
        "member", member=_metric(lambda m: m.probe_quantiles.p99 if m.probe_quantiles else None)
    ),
    # cluster-wide
    "quorum_lost": Signal(
        "cluster",
        cluster=lambda s, _h: Reading(
            None if s.error else float(not s.has_quorum),
            f"{s.reachable_voters} of {s.voters} voting members reachable",
        ),
    ),
    "split_brain": Signal(
        "cluster", cluster=lambda s, _h: Reading(float(s.split_brain), s.split_brain_reason or "")
    ),
    "leader_changes_15m": Signal("cluster", cluster=_leader_changes_15m),
    "cert_days_left": Signal("cluster", cluster=_cert_days_left),
    "quota_full_days": Signal("cluster", cluster=_quota_full_days),
    "data_inconsistent": Signal("cluster", cluster=_data_inconsistent),
    "cluster_unreachable": Signal(
        "cluster",
        cluster=lambda s, _h: Reading(float(s.verdict == Verdict.UNREACHABLE), s.error or ""),
    ),
}
