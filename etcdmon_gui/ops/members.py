"""Membership: move the leader, add a member (a learner by default), promote a
learner, remove a member, update a member's peer URLs.

The plans refuse what would hurt the cluster: a removal that would lose quorum or
remove the last voting member, a voting member added while others are down, a
promotion or leadership handed to a member that is not caught up. Removing the
leader is allowed with a warning.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from etcdmon_gui.model.connection import parse_endpoint
from etcdmon_gui.model.errors import BadEndpointError, EtcdError, ServerError
from etcdmon_gui.model.ops import OpKind, PlannedStep, StepState
from etcdmon_gui.model.snapshot import MemberStatus
from etcdmon_gui.ops.base import PlannedOperation, StepFn, StepResult, make_plan, refused
from etcdmon_gui.ops.runner import OpFailedError, StepReport
from etcdmon_gui.ops.session import (
    CAUGHT_UP_LAG,
    ClusterView,
    MemberNotFoundError,
    OpsSession,
    label,
)

LEADER_WAIT_S = 15.0
UNHEALTHY_WAIT_S = 8.0
PROMOTE_CATCH_UP_S = 30.0
T = TypeVar("T")
_UNHEALTHY_HINT = (
    "etcd accepts a membership change only when every voting member has been connected "
    "for at least 5 s: try again shortly"
)


def _lag(view: ClusterView, m: MemberStatus) -> int | None:
    """How far ``m``'s raft index is behind the leader's, in the sweep."""
    leader = view.leader
    if leader is None or leader.raft_index is None or m.raft_index is None:
        return None
    return max(0, leader.raft_index - m.raft_index)


def _peer_urls_problem(
    view: ClusterView, urls: Sequence[str], member: MemberStatus | None = None
) -> str | None:
    if not urls:
        return "give at least one peer URL"
    for url in urls:
        if "://" not in url:
            return f"peer URL {url!r} needs its scheme: http://host:port or https://host:port"
        try:
            parse_endpoint(url)
        except BadEndpointError as exc:
            return str(exc)
    for m in view.members:
        if member is not None and m.id == member.id:
            continue
        taken = set(urls) & set(m.peer_urls)
        if taken:
            return f"{', '.join(sorted(taken))} is already the peer URL of {label(m)}"
    return None


def _membership_error(exc: EtcdError) -> EtcdError:
    if _unhealthy(exc):
        return OpFailedError(f"{exc}: {_UNHEALTHY_HINT}")
    return exc


def _unhealthy(exc: EtcdError) -> bool:
    return isinstance(exc, ServerError) and "unhealthy cluster" in str(exc)


def _change(call: Callable[[], T]) -> T:
    """A membership change; etcd's "unhealthy cluster" (a member connected less than
    5 s ago) is waited out for up to ``UNHEALTHY_WAIT_S``, then explained."""
    deadline = time.monotonic() + UNHEALTHY_WAIT_S
    while True:
        try:
            return call()
        except EtcdError as exc:
            if not _unhealthy(exc) or time.monotonic() > deadline:
                raise _membership_error(exc) from None
        time.sleep(0.25)


def _target(
    view: ClusterView, kind: OpKind, ref: str, params: dict[str, Any]
) -> MemberStatus | PlannedOperation:
    """The member ``ref`` names, or the refusal: the cluster's own problem first (no
    quorum, no leader), then a member it does not have."""
    problem = view.problem()
    if problem is not None:
        return refused(kind, view, problem, params)
    try:
        return view.find(ref)
    except MemberNotFoundError as exc:
        return refused(kind, view, str(exc), params)


# -- move the leader -------------------------------------------------------------------


def _move_step(session: OpsSession, target_id: int) -> StepFn:
    def step(report: StepReport) -> StepResult:
        target = session.member_by_id(target_id)
        leader, _ = session.leader_status()
        if leader.id == target_id:
            return StepState.SKIPPED, f"{label(target)} is the leader already", {}
        report(None, f"waiting until {label(target)} is caught up…")
        session.wait_caught_up(target, timeout=10.0)
        report(None, f"moving the leader from {label(leader)} to {label(target)}…")
        started = time.monotonic()
        session.control.move_leader(session.endpoint_of(leader), target_id)
        deadline = started + LEADER_WAIT_S
        last = ""
        while time.monotonic() < deadline:
            try:
                st = session.status(target)
                if st.leader == target_id:
                    took = time.monotonic() - started
                    return (
                        StepState.DONE,
                        f"{label(target)} is the leader (was {label(leader)}), after {took:.1f} s",
                        {"leader": label(target), "previous": label(leader)},
                    )
                last = f"it names {st.leader:x} as leader"
            except EtcdError as exc:
                last = str(exc)
            time.sleep(0.05)
        raise OpFailedError(
            f"{label(target)} did not become the leader within {LEADER_WAIT_S:g} s ({last})"
        )

    return step


def move_leader(session: OpsSession, to_member: str) -> PlannedOperation:
    """Hand leadership to ``to_member`` (a caught-up voting member)."""
    view = session.view
    params = {"to": to_member}
    kind = OpKind.MOVE_LEADER
    target = _target(view, kind, to_member, params)
    if isinstance(target, PlannedOperation):
        return target
    leader = view.leader
    assert leader is not None  # problem() checked
    name = label(target)
    if target.id == leader.id:
        return refused(kind, view, f"{name} is already the leader", params)
    if target.is_learner:
        return refused(
            kind,
            view,
            f"{name} is a learner: only a voting member can lead (promote it first)",
            params,
        )
    if not target.reachable:
        return refused(kind, view, f"{name} does not answer: {target.error}", params)
    lag = _lag(view, target)
    if lag is not None and lag > CAUGHT_UP_LAG:
        return refused(
            kind,
            view,
            f"{name} is {lag} raft entries behind the leader: wait until it catches up",
            params,
        )
    title = f"move the leader from {label(leader)} to {name}"
    plan = make_plan(
        kind,
        view,
        title,
        [PlannedStep(title, member=name, detail="sent to the current leader", expected_s=1.0)],
        warnings=["writes pause briefly while leadership is handed over"],
        params=params,
    )
    return PlannedOperation(plan, [_move_step(session, target.id)])


# -- add -------------------------------------------------------------------------------


def _initial_cluster(members: Sequence[tuple[str, Sequence[str]]]) -> str:
    return ",".join(f"{name}={url}" for name, urls in members for url in urls)


def _add_step(session: OpsSession, urls: list[str], learner: bool, name: str | None) -> StepFn:
    def step(report: StepReport) -> StepResult:
        added, members = _change(lambda: session.control.member_add(urls, is_learner=learner))
        new_name = name or f"<name of {added.id:x}>"
        pairs = [(m.name, m.peer_urls) for m in members if m.id != added.id and m.name]
        pairs.append((new_name, added.peer_urls))
        initial = _initial_cluster(pairs)
        as_what = "a learner" if learner else "a voting member"
        return (
            StepState.DONE,
            f"added member {added.id:x} as {as_what}; start it with --name={new_name} "
            f"--initial-cluster={initial} --initial-cluster-state=existing",
            {
                "member_id": f"{added.id:x}",
                "name": name,
                "is_learner": learner,
                "initial_cluster": initial,
                "initial_cluster_state": "existing",
            },
        )

    return step


def member_add(
    session: OpsSession, peer_urls: Sequence[str], learner: bool = True, name: str | None = None
) -> PlannedOperation:
    """Add a member at ``peer_urls``: a learner by default (it gets the data without
    counting toward the quorum; promote it once caught up). ``name``: the name the new
    member will be started with, for the ``--initial-cluster`` the result gives."""
    view = session.view
    urls = [u.strip() for u in peer_urls if u.strip()]
    params = {"peer_urls": urls, "learner": learner, "name": name}
    kind = OpKind.MEMBER_ADD
    problem = view.problem() or _peer_urls_problem(view, urls)
    if problem is not None:
        return refused(kind, view, problem, params)
    snap = view.snapshot
    warnings = []
    learners = [m for m in view.members if m.is_learner]
    if learner and learners:
        return refused(
            kind,
            view,
            f"the cluster has a learner already ({', '.join(label(m) for m in learners)}): "
            f"etcd allows one; promote or remove it first",
            params,
        )
    if not learner:
        voters = snap.voters + 1
        quorum = voters // 2 + 1
        if snap.reachable_voters < quorum:
            return refused(
                kind,
                view,
                f"with a new voting member (not started yet) the cluster has {voters} voting "
                f"members and needs {quorum}, but only {snap.reachable_voters} answer: "
                f"bring the others back first, or add it as a learner",
                params,
            )
        warnings.append(
            f"a voting member counts toward the quorum from the moment it is added "
            f"({snap.voters} → {voters} voting members, quorum {snap.quorum_size} → {quorum}): "
            f"start it right away; adding it as a learner first is safer"
        )
    as_what = "a learner" if learner else "a voting member"
    title = f"add {', '.join(urls)} as {as_what}"
    plan = make_plan(
        kind,
        view,
        title,
        [PlannedStep(title, detail="then start the new member with the flags the result gives")],
        warnings=warnings,
        params=params,
    )
    return PlannedOperation(plan, [_add_step(session, urls, learner, name)])


# -- promote ---------------------------------------------------------------------------


def _promote_step(session: OpsSession, member_id: int) -> StepFn:
    def step(report: StepReport) -> StepResult:
        m = session.member_by_id(member_id)
        report(None, f"waiting until {label(m)} is caught up…")
        session.wait_caught_up(m, timeout=PROMOTE_CATCH_UP_S)
        members = _change(lambda: session.control.member_promote(member_id))
        voters = sum(1 for x in members if not x.is_learner)
        return (
            StepState.DONE,
            f"{label(m)} is a voting member: {voters} voting members, quorum {voters // 2 + 1}",
            {"member": label(m), "member_id": m.id_hex, "voters": voters},
        )

    return step


def member_promote(session: OpsSession, member: str) -> PlannedOperation:
    """Make a caught-up learner a voting member."""
    view = session.view
    kind = OpKind.MEMBER_PROMOTE
    params = {"member": member}
    m = _target(view, kind, member, params)
    if isinstance(m, PlannedOperation):
        return m
    name = label(m)
    if not m.is_learner:
        return refused(kind, view, f"{name} is not a learner: it votes already", params)
    if not m.reachable:
        return refused(
            kind, view, f"{name} does not answer: it must run and catch up first", params
        )
    lag = _lag(view, m)
    if lag is None or lag > CAUGHT_UP_LAG:
        leader_index = view.leader.raft_index if view.leader is not None else None
        where = f"{m.raft_index}, the leader's {leader_index}" if lag is not None else "unknown"
        return refused(
            kind,
            view,
            f"{name} is not caught up with the leader (raft index {where}): wait and plan again",
            params,
        )
    voters = view.snapshot.voters + 1
    title = f"promote {name} to a voting member"
    plan = make_plan(
        kind,
        view,
        title,
        [PlannedStep(title, member=name, detail="checked to be caught up first")],
        warnings=[
            f"the quorum becomes {voters // 2 + 1} of {voters} voting members "
            f"(was {view.snapshot.quorum_size} of {view.snapshot.voters})"
        ],
        params=params,
    )
    return PlannedOperation(plan, [_promote_step(session, m.id)])


# -- remove ----------------------------------------------------------------------------


def _remove_step(session: OpsSession, member_id: int) -> StepFn:
    def step(report: StepReport) -> StepResult:
        m = session.member_by_id(member_id)
        name = label(m)
        members = _change(lambda: session.control.member_remove(member_id))
        report(None, "waiting for the cluster to have a leader…")
        deadline = time.monotonic() + LEADER_WAIT_S
        leader_name, last = None, ""
        while time.monotonic() < deadline:
            try:
                session.refresh()
                leader, _ = session.leader_status()
                if leader.id != member_id:
                    leader_name = label(leader)
                    break
            except EtcdError as exc:
                last = str(exc)
            time.sleep(0.1)
        if leader_name is None:
            raise OpFailedError(
                f"removed {name}, but the cluster had no leader within {LEADER_WAIT_S:g} s "
                f"({last or 'no answer'})"
            )
        voters = sum(1 for x in members if not x.is_learner)
        return (
            StepState.DONE,
            f"removed {name}; {len(members)} members left ({voters} voting), leader {leader_name}",
            {"member": name, "member_id": f"{member_id:x}", "members_left": len(members)},
        )

    return step


def member_remove(session: OpsSession, member: str) -> PlannedOperation:
    """Remove a member; refused when it is the last voting member or when the cluster
    would lose quorum; a warning when it is the leader."""
    view = session.view
    kind = OpKind.MEMBER_REMOVE
    params = {"member": member}
    m = _target(view, kind, member, params)
    if isinstance(m, PlannedOperation):
        return m
    name = label(m)
    snap = view.snapshot
    warnings = []
    if not m.is_learner:
        if snap.voters <= 1:
            return refused(
                kind,
                view,
                f"{name} is the only voting member: removing it would end the cluster",
                params,
            )
        voters = snap.voters - 1
        quorum = voters // 2 + 1
        reachable = snap.reachable_voters - (1 if m.reachable else 0)
        if reachable < quorum:
            return refused(
                kind,
                view,
                f"removing {name} would leave {reachable} of {voters} voting members "
                f"answering where {quorum} are needed: the cluster would lose quorum; "
                f"bring the members that are down back first",
                params,
            )
        if m.id == snap.leader_id:
            warnings.append(
                f"{name} is the leader: the cluster elects a new one and writes pause "
                f"meanwhile; move the leader first to avoid that"
            )
        warnings.append(
            f"the quorum becomes {quorum} of {voters} voting members "
            f"(was {snap.quorum_size} of {snap.voters})"
        )
    warnings.append(
        f"{name}'s etcd stops once removed; wipe its data directory before it joins again"
    )
    title = f"remove {name} ({m.id_hex})"
    plan = make_plan(
        kind, view, title, [PlannedStep(title, member=name)], warnings=warnings, params=params
    )
    return PlannedOperation(plan, [_remove_step(session, m.id)])


# -- update ----------------------------------------------------------------------------


def _update_step(session: OpsSession, member_id: int, urls: list[str]) -> StepFn:
    def step(report: StepReport) -> StepResult:
        m = session.member_by_id(member_id)
        _change(lambda: session.control.member_update(member_id, urls))
        return (
            StepState.DONE,
            f"{label(m)}'s peer URLs are {', '.join(urls)} (were {', '.join(m.peer_urls)})",
            {"member": label(m), "peer_urls": urls, "previous": list(m.peer_urls)},
        )

    return step


def member_update(session: OpsSession, member: str, peer_urls: Sequence[str]) -> PlannedOperation:
    """Change the peer URLs the cluster knows ``member`` by."""
    view = session.view
    kind = OpKind.MEMBER_UPDATE
    urls = [u.strip() for u in peer_urls if u.strip()]
    params = {"member": member, "peer_urls": urls}
    m = _target(view, kind, member, params)
    if isinstance(m, PlannedOperation):
        return m
    problem = _peer_urls_problem(view, urls, m)
    if problem is not None:
        return refused(kind, view, problem, params)
    name = label(m)
    if sorted(urls) == sorted(m.peer_urls):
        return refused(kind, view, f"{name} has these peer URLs already", params)
    title = f"set {name}'s peer URLs to {', '.join(urls)} (now {', '.join(m.peer_urls)})"
    plan = make_plan(
        kind,
        view,
        title,
        [PlannedStep(title, member=name)],
        warnings=[
            f"{name} must listen on the new URLs (restart it with --listen-peer-urls and "
            f"--initial-advertise-peer-urls set to them), or the other members lose it"
        ],
        params=params,
    )
    return PlannedOperation(plan, [_update_step(session, m.id, urls)])
