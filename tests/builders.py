"""Hand-made model objects for tests: members, snapshots and a settable clock; and
members whose every chart reads one value (``chart_member``, ``chart_snapshot``)."""

from __future__ import annotations

from collections.abc import Iterable

from etcdmon_gui.model.forecast import QuotaForecast
from etcdmon_gui.model.metrics import MemberMetrics, Quantiles
from etcdmon_gui.model.snapshot import ClusterSnapshot, MemberStatus, Verdict


class Clock:
    def __init__(self) -> None:
        self.t = 1_000_000.0

    def __call__(self) -> float:
        return self.t


def member(i: int, *, up: bool = True, alarms: tuple[str, ...] = ()) -> MemberStatus:
    return MemberStatus(
        id=i,
        name=f"m{i}",
        endpoint=f"http://127.0.0.1:{2000 + i}",
        peer_urls=(),
        client_urls=(),
        cluster_id=7,
        reachable=up,
        error=None if up else "connection refused",
        leader_id=1 if up else None,
        raft_term=2,
        raft_index=10,
        alarms=alarms,
    )


def snap(
    t: float, members: list[MemberStatus], *, error: str | None = None, quorum: bool = True
) -> ClusterSnapshot:
    return ClusterSnapshot(
        key="c1",
        taken_at=t,
        duration_s=0.01,
        cluster_id=7,
        cluster_ids=(7,),
        members=tuple(members),
        leader_id=1,
        leader_changes=0,
        leader_changes_seen_total=None,
        voters=len(members),
        reachable_voters=sum(m.reachable for m in members),
        quorum_size=2,
        has_quorum=quorum,
        split_brain=False,
        split_brain_reason=None,
        max_raft_index_lag=0,
        learners=(),
        alarms=(),
        verdict=Verdict.UNREACHABLE if error else Verdict.HEALTHY,
        reasons=(),
        error=error,
    )


CHART_IDS = (0x8E9E05C52164694D, 0x91BC3C398FB3C146, 0xFD422379FDA50E48, 0x1A2B3C, 0x4D5E6F)


def chart_member(
    index: int,
    value: float = 1.0,
    *,
    reachable: bool = True,
    name: str | None = None,
    metrics: bool = True,
    quota: float = 1e9,
) -> MemberStatus:
    """Member ``index`` whose every chart reads ``value`` in plot units.

    Latencies: ``value`` ms (P50), ``2 * value`` (P95), ``3 * value`` (P99) for the probe,
    ``value`` ms for WAL/backend/peer P99; rates ``value``/s; DB size ``value`` MB of a
    ``quota`` (1 GB).
    """
    s = value / 1e3
    mm = MemberMetrics(
        window_s=1.0,
        wal_fsync=Quantiles(s / 2, s, s),
        backend_commit=Quantiles(s / 2, s, s),
        peer_rtt=Quantiles(s / 2, s, s),
        peer_rtt_by_peer={},
        proposals_committed_per_s=value,
        proposals_applied_per_s=value,
        proposals_pending=0.0,
        proposals_failed_per_s=0.0,
        has_leader=True,
        is_leader=index == 0,
        leader_changes_total=1.0,
        db_total_bytes=value * 1e6,
        db_in_use_bytes=value * 1e6,
        quota_bytes=quota,
        grpc_requests_per_s={},
        grpc_requests_total_per_s=value,
        grpc_failure_ratio=0.0,
        rss_bytes=None,
    )
    return MemberStatus(
        id=CHART_IDS[index],
        name=f"etcd-{index + 1}" if name is None else name,
        endpoint=f"http://127.0.0.1:{2379 + 10 * index}",
        peer_urls=(),
        client_urls=(),
        cluster_id=1 if reachable else None,
        reachable=reachable,
        error=None if reachable else "connection refused",
        db_size=int(value * 1e6) if reachable else None,
        probe_ms=value if reachable else None,
        probe_quantiles=Quantiles(s, 2 * s, 3 * s) if reachable else None,
        metrics=mm if reachable and metrics else None,
    )


def chart_snapshot(
    t: float,
    members: Iterable[MemberStatus] | None = None,
    *,
    n: int = 3,
    value: float = 1.0,
    key: str = "cluster-a",
    forecast: QuotaForecast | None = None,
) -> ClusterSnapshot:
    """One sweep at ``t``; by default ``n`` healthy members all reading ``value``."""
    ms = tuple(members) if members is not None else tuple(chart_member(i, value) for i in range(n))
    reachable = sum(m.reachable for m in ms)
    return ClusterSnapshot(
        key=key,
        taken_at=t,
        duration_s=0.01,
        cluster_id=1,
        cluster_ids=(1,),
        members=ms,
        leader_id=ms[0].id if ms else None,
        leader_changes=0,
        leader_changes_seen_total=1.0,
        voters=len(ms),
        reachable_voters=reachable,
        quorum_size=len(ms) // 2 + 1,
        has_quorum=reachable > len(ms) // 2,
        split_brain=False,
        split_brain_reason=None,
        max_raft_index_lag=0,
        learners=(),
        alarms=(),
        verdict=Verdict.HEALTHY,
        reasons=(),
        quota_forecast=forecast,
    )
