"""Hand-made model objects for unit tests: members, snapshots and a settable clock."""

from __future__ import annotations

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
