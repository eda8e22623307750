"""A maintenance session with one cluster: its state from one sweep, the control
client the steps use, and the waits between steps.

``OpsSession.open(config, name)`` sweeps the cluster once (``etcd.probe.ClusterProbe``
judged by ``monitor.cluster_monitor.ClusterMonitor``: members, leader, raft indexes,
DB size and use, quotas from /metrics, alarms, learners); the operations make their
plans from that ``ClusterView`` and run their steps with the session's
``ControlClient``. ``refresh()`` sweeps again (the dialog does before each new plan).
Use from one thread at a time; ``close()`` after.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from etcdmon_gui.etcd.control import ControlClient
from etcdmon_gui.etcd.probe import ClusterProbe
from etcdmon_gui.model.connection import ConnectionConfig, Endpoint, parse_endpoint
from etcdmon_gui.model.errors import BadEndpointError, DeadlineError, EtcdError
from etcdmon_gui.model.raw import StatusAnswer
from etcdmon_gui.model.snapshot import ClusterSnapshot, MemberStatus
from etcdmon_gui.monitor.cluster_monitor import ClusterMonitor

#: A member is caught up when its applied raft index is within this many entries of
#: the leader's index as it was when the wait began.
CAUGHT_UP_LAG = 10
CATCH_UP_TIMEOUT_S = 60.0
POLL_INTERVAL_S = 0.1
#: How fast defragmentation is assumed to rewrite a database, for the plan's estimate
#: of each member's pause (etcd copies the data in use into a new file; a slow disk
#: does less, so the estimate says how it was made).
DEFRAG_ESTIMATE_RATE = 100_000_000  # bytes/s
DEFRAG_ESTIMATE_BASE_S = 0.5


class MemberNotFoundError(EtcdError):
    """No member of the cluster has that name or id."""


def label(m: MemberStatus) -> str:
    """How a member is named in plans: its name, or its id in hex before it has one."""
    return m.name or m.id_hex


def role(m: MemberStatus, leader_id: int | None) -> str:
    if m.is_learner:
        return "learner"
    return "leader" if m.id == leader_id else "follower"


def defrag_estimate_s(db_size: int | None) -> float:
    """The expected pause of a member while it is defragmented, from its DB size."""
    return DEFRAG_ESTIMATE_BASE_S + (db_size or 0) / DEFRAG_ESTIMATE_RATE


def applied(st: StatusAnswer) -> int:
    """What a member has applied (3.4+), else what it has in its log."""
    return st.raft_applied_index if st.raft_applied_index is not None else st.raft_index


@dataclass(frozen=True, slots=True)
class ClusterView:
    """What plans are made from: one snapshot of the cluster, with its connection key
    and the name it is shown by. Pure, so plans are unit-tested on built snapshots."""

    key: str
    name: str
    snapshot: ClusterSnapshot

    @property
    def members(self) -> tuple[MemberStatus, ...]:
        return self.snapshot.members

    @property
    def leader(self) -> MemberStatus | None:
        return self.snapshot.leader

    @property
    def voters(self) -> list[MemberStatus]:
        return [m for m in self.members if not m.is_learner and m.id != 0]

    def find(self, ref: str) -> MemberStatus:
        """A member by name, else by id in hex (``8e9e05c52164694d``, ``0x...``)."""
        wanted = ref.strip()
        named = [m for m in self.members if m.name and m.name == wanted]
        if len(named) == 1:
            return named[0]
        if len(named) > 1:
            raise MemberNotFoundError(
                f"{len(named)} members are named {wanted!r}: name one by its id "
                f"({', '.join(m.id_hex for m in named)})"
            )
        text = wanted.lower().removeprefix("0x")
        try:
            number = int(text, 16)
        except ValueError:
            number = None
        for m in self.members:
            if number is not None and m.id == number and m.id != 0:
                return m
        known = ", ".join(f"{label(m)} ({m.id_hex})" for m in self.members if m.id)
        raise MemberNotFoundError(
            f"no member named {wanted!r} or with that id in {self.name}; members: {known}"
        )

    def quota(self, m: MemberStatus) -> float | None:
        """The member's --quota-backend-bytes, from its /metrics."""
        return m.metrics.quota_bytes if m.metrics is not None else None

    def problem(self, *, quorum: bool = True, leader: bool = True) -> str | None:
        """Why nothing should be done to the cluster now, or None."""
        snap = self.snapshot
        if snap.error:
            return f"the cluster cannot be reached: {snap.error}"
        if snap.split_brain:
            return f"split-brain: {snap.split_brain_reason}"
        if quorum and not snap.has_quorum:
            return (
                f"the cluster has no quorum ({snap.reachable_voters} of {snap.voters} voting "
                f"members reachable, {snap.quorum_size} needed)"
            )
        if leader and snap.leader_id is None:
            return "the cluster has no leader"
        return None


class OpsSession:
    """One cluster, for maintenance. ``open()`` (or ``refresh()``) before planning."""

    def __init__(
        self,
        config: ConnectionConfig,
        cluster_name: str = "",
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.cluster_name = cluster_name or config.key or ",".join(e.url for e in config.endpoints)
        self.control = ControlClient(config)
        self._probe = ClusterProbe(config)
        self._monitor = ClusterMonitor(self._probe, config.key)
        self._snapshot: ClusterSnapshot | None = None
        self._clock = clock
        self.auth_error: str | None = None

    @classmethod
    def open(cls, config: ConnectionConfig, cluster_name: str = "") -> OpsSession:
        session = cls(config, cluster_name)
        try:
            session.refresh()
        except BaseException:
            session.close()
            raise
        return session

    @property
    def key(self) -> str:
        return self.config.key

    def refresh(self) -> ClusterSnapshot:
        """Sweep the cluster again; the new state is what the next plan is made from."""
        self._snapshot = self._monitor.sweep()
        if self.config.user and self.config.password is not None and self.control.token is None:
            try:
                self.control.authenticate()
                self.auth_error = None
            except EtcdError as exc:
                self.auth_error = str(exc)
        return self._snapshot

    @property
    def snapshot(self) -> ClusterSnapshot:
        if self._snapshot is None:
            return self.refresh()
        return self._snapshot

    @property
    def view(self) -> ClusterView:
        return ClusterView(self.key, self.cluster_name, self.snapshot)

    # -- members ---------------------------------------------------------------------

    def member_by_id(self, member_id: int) -> MemberStatus:
        found = self.snapshot.member(member_id)
        if found is None:
            raise MemberNotFoundError(f"member {member_id:x} is no longer in {self.cluster_name}")
        return found

    def endpoint_of(self, m: MemberStatus) -> Endpoint:
        for url in ((m.endpoint,) if m.endpoint else ()) + m.client_urls:
            try:
                return parse_endpoint(url)
            except BadEndpointError:
                continue
        raise EtcdError(f"member {label(m)} has no usable client URL (not started yet?)")

    def status(self, m: MemberStatus, timeout: float | None = None) -> StatusAnswer:
        return self.control.status(self.endpoint_of(m), timeout)

    def leader_status(self) -> tuple[MemberStatus, StatusAnswer]:
        """The current leader (asked now, not from the sweep) and its Status."""
        errors: list[str] = []
        ordered = sorted(self.snapshot.members, key=lambda m: m.id != self.snapshot.leader_id)
        for m in ordered:
            if m.id == 0:
                continue
            try:
                st = self.status(m)
            except EtcdError as exc:
                errors.append(str(exc))
                continue
            if not st.leader:
                continue
            if st.leader == m.id:
                return m, st
            leader = self.snapshot.member(st.leader)
            if leader is None:  # a leader the sweep did not know: sweep again
                self.refresh()
                leader = self.snapshot.member(st.leader)
            if leader is not None:
                try:
                    return leader, self.status(leader)
                except EtcdError as exc:
                    errors.append(str(exc))
        why = f": {'; '.join(errors)}" if errors else ""
        raise EtcdError(f"no member of {self.cluster_name} reports a leader{why}")

    def voters_answering(self, exclude: int | None = None) -> tuple[int, int, list[str]]:
        """Status of every voting member but ``exclude``, now: (answering, voters in the
        cluster, why the others did not answer)."""
        voters = [m for m in self.snapshot.members if not m.is_learner and m.id != 0]
        answering, why = 0, []
        for m in voters:
            if m.id == exclude:
                continue
            try:
                self.status(m)
                answering += 1
            except EtcdError as exc:
                why.append(f"{label(m)}: {exc}")
        return answering, len(voters), why

    def wait_caught_up(
        self,
        m: MemberStatus,
        *,
        timeout: float = CATCH_UP_TIMEOUT_S,
        lag: int = CAUGHT_UP_LAG,
        cancel: Callable[[], bool] | None = None,
    ) -> StatusAnswer:
        """Poll ``m``'s Status until it answers, knows the leader and has applied the
        leader's raft index (as of now) within ``lag`` entries; ``DeadlineError`` after
        ``timeout`` seconds saying how far it got."""
        deadline = self._clock() + timeout
        target: int | None = None
        last_error = "no answer yet"
        last: StatusAnswer | None = None
        while True:
            remaining = deadline - self._clock()
            if remaining <= 0:
                break
            per_call = max(0.1, min(self.config.timeout_s, remaining))
            try:
                if target is None:
                    _, leader_st = self.leader_status()
                    target = leader_st.raft_index
                last = self.status(m, per_call)
                if last.leader and applied(last) >= target - lag:
                    return last
                last_error = (
                    "it has no leader"
                    if not last.leader
                    else f"applied index {applied(last)}, the leader's {target}"
                )
            except EtcdError as exc:
                last_error = str(exc)
            if cancel is not None and cancel():
                break
            time.sleep(min(POLL_INTERVAL_S, max(0.0, deadline - self._clock())))
        raise DeadlineError(
            f"{label(m)} did not catch up with the leader within {timeout:g} s ({last_error})"
        )

    # -- life cycle ------------------------------------------------------------------

    def close(self) -> None:
        self.control.close()
        self._probe.close()

    def __enter__(self) -> OpsSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
