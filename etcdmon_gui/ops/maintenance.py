"""Keeping a cluster's databases in shape: defragment, compact, disarm alarms, recover
from NOSPACE, and check that the members' data agree (HashKV).

Each function reads the session's state, returns a ``PlannedOperation`` whose plan
says what will happen (or why it must not), and whose steps each re-read what they
need when they run, with a deadline on every call.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from etcdmon_gui.etcd.control import DEFRAG_TIMEOUT_S
from etcdmon_gui.formatting import fmt_bytes
from etcdmon_gui.model.errors import EtcdError
from etcdmon_gui.model.ops import (
    ConsistencyCheck,
    MemberHash,
    OpKind,
    PlannedStep,
    StepState,
)
from etcdmon_gui.model.snapshot import AlarmInfo, MemberStatus
from etcdmon_gui.monitor import consistency
from etcdmon_gui.ops.base import PlannedOperation, StepFn, StepResult, make_plan, refused
from etcdmon_gui.ops.runner import OpFailedError, StepReport
from etcdmon_gui.ops.session import (
    ClusterView,
    OpsSession,
    defrag_estimate_s,
    label,
    role,
)

#: Members with less than this to free (DB size - in use) are skipped by ``defrag``.
DEFAULT_DEFRAG_THRESHOLD = 1_000_000
#: Rate assumed for the Defragment call's deadline (a slow disk's): base + size / rate.
DEFRAG_DEADLINE_RATE = 5_000_000
#: A disarm is refused while a member's database is at or over its quota; above this
#: share of it the plan warns that it may fill again soon.
NEAR_QUOTA = 0.9
TEST_WRITE_KEY = b"/etcdmon/ops/test-write"
HASHKV_RETRY_S = 10.0

# etcd's "in use" figure counts the pages a compaction freed until the next write.
_STALE = " (etcd counts space a compaction freed only after the next write)"
_COMPACT_WARNING = (
    "compaction is cluster-wide: revisions before {rev} can no longer be read, and "
    "clients watching from before it get their watches cancelled"
)


def _seconds(s: float) -> str:
    return "<1 s" if s < 1 else f"~{s:.0f} s"


def _took(s: float) -> str:
    return f"{s * 1000:.0f} ms" if s < 1 else f"{s:.1f} s"


# -- defragment ------------------------------------------------------------------------


def _pause_problem(view: ClusterView) -> tuple[str | None, list[str]]:
    """Whether pausing one voting member at a time keeps quorum: (refusal, warnings)."""
    snap = view.snapshot
    voters = view.voters
    down = [label(m) for m in voters if not m.reachable]
    if len(voters) == 1:
        only = voters[0]
        est = _seconds(defrag_estimate_s(only.db_size))
        return None, [
            f"{label(only)} is the only voting member: the cluster serves nothing while "
            f"it is defragmented ({est})"
        ]
    if snap.reachable_voters - 1 < snap.quorum_size:
        which = ", ".join(down) if down else "a voting member"
        return (
            f"{which} {'is' if len(down) == 1 else 'are'} down: defragmenting another voting "
            f"member pauses it, leaving {snap.reachable_voters - 1} of {snap.voters} "
            f"answering where {snap.quorum_size} are needed; bring {which} back first"
        ), []
    return None, []


def _defrag_order(view: ClusterView) -> tuple[list[MemberStatus], list[str]]:
    """Reachable voting members, followers first (by name), the leader last; and the
    warnings about the members left out."""
    leader_id = view.snapshot.leader_id
    warnings = []
    chosen = []
    for m in view.members:
        if m.id == 0:
            continue
        if m.is_learner:
            warnings.append(
                f"{label(m)} is a learner: etcd does not defragment learners (promote it first)"
            )
        elif not m.reachable:
            warnings.append(f"{label(m)} is down: it is not defragmented")
        else:
            chosen.append(m)
    chosen.sort(key=lambda m: (m.id == leader_id, label(m)))
    return chosen, warnings


def _free(m: MemberStatus) -> int | None:
    if m.db_size is None or m.db_size_in_use is None:
        return None
    return max(0, m.db_size - m.db_size_in_use)


def _defrag_planned(view: ClusterView, m: MemberStatus, threshold: int) -> PlannedStep:
    est = defrag_estimate_s(m.db_size)
    free = _free(m)
    detail = (
        f"DB {fmt_bytes(m.db_size)}"
        + (f", {fmt_bytes(free)} to free" if free is not None else ", space to free unknown")
        + f"; pause {_seconds(est)}, estimated from the DB size at ~100 MB/s"
    )
    if free is not None and free < threshold:
        detail += f"; skipped unless it has {fmt_bytes(threshold)} to free by then{_STALE}"
    return PlannedStep(
        f"defragment {label(m)} ({role(m, view.snapshot.leader_id)})",
        member=label(m),
        detail=detail,
        expected_s=est,
    )


def _defrag_step(session: OpsSession, member_id: int, threshold: int, alone: bool) -> StepFn:
    def step(report: StepReport) -> StepResult:
        m = session.member_by_id(member_id)
        name = label(m)
        before = session.status(m)
        in_use = before.db_size_in_use
        free = None if in_use is None else max(0, before.db_size - in_use)
        figures: dict[str, object] = {
            "member": name,
            "member_id": m.id_hex,
            "db_size_before": before.db_size,
        }
        if threshold > 0 and free is not None and free < threshold:
            return (
                StepState.SKIPPED,
                f"{name}: {fmt_bytes(free)} to free, under the {fmt_bytes(threshold)} "
                f"threshold{_STALE}",
                figures | {"freed_bytes": 0},
            )
        if not alone:
            answering, voters, why = session.voters_answering(exclude=m.id)
            needed = voters // 2 + 1
            if not m.is_learner and answering < needed:
                raise OpFailedError(
                    f"only {answering} other voting member(s) answer ({'; '.join(why)}): "
                    f"defragmenting {name} now would leave the cluster without quorum"
                )
        report(None, f"defragmenting {name} ({fmt_bytes(before.db_size)})…")
        started = time.monotonic()
        session.control.defragment_member(
            session.endpoint_of(m), DEFRAG_TIMEOUT_S + before.db_size / DEFRAG_DEADLINE_RATE
        )
        took = time.monotonic() - started
        report(None, f"waiting for {name} to catch up…")
        after = session.wait_caught_up(m)
        freed = before.db_size - after.db_size
        return (
            StepState.DONE,
            f"{name}: freed {fmt_bytes(freed)} ({fmt_bytes(before.db_size)} → "
            f"{fmt_bytes(after.db_size)}) in {_took(took)}, caught up",
            figures
            | {"db_size_after": after.db_size, "freed_bytes": freed, "defrag_s": round(took, 3)},
        )

    return step


def _defrag_steps(
    session: OpsSession, view: ClusterView, members: Sequence[MemberStatus], threshold: int
) -> tuple[list[PlannedStep], list[StepFn]]:
    alone = len(view.voters) == 1
    planned = [_defrag_planned(view, m, threshold) for m in members]
    fns = [_defrag_step(session, m.id, threshold, alone) for m in members]
    return planned, fns


def _order_text(view: ClusterView, members: Sequence[MemberStatus]) -> str:
    """ "m1, m2, then m0 (leader)"."""
    names = [label(m) + (" (leader)" if m.id == view.snapshot.leader_id else "") for m in members]
    if len(names) <= 1:
        return "".join(names)
    return f"{', '.join(names[:-1])}, then {names[-1]}"


def _defrag_summary(view: ClusterView, members: Sequence[MemberStatus], threshold: int) -> str:
    go = [m for m in members if (f := _free(m)) is None or f >= threshold]
    skip = [m for m in members if m not in go]
    text = f"defragment {_order_text(view, go)}" if go else "nothing to defragment now"
    if go:
        worst = max(defrag_estimate_s(m.db_size) for m in go)
        text += f"; expected downtime per member {_seconds(worst)}"
    if skip:
        text += (
            f"; {', '.join(label(m) for m in skip)} under the {fmt_bytes(threshold)} "
            f"threshold (skipped)"
        )
    return text


def defrag(
    session: OpsSession, threshold_bytes: int = DEFAULT_DEFRAG_THRESHOLD
) -> PlannedOperation:
    """Defragment the cluster one member at a time, followers first and the leader
    last, each caught up before the next; members with less than ``threshold_bytes``
    to free are skipped (0: defragment every member)."""
    view = session.view
    params = {"threshold_bytes": threshold_bytes}
    problem = view.problem()
    pause_warnings: list[str] = []
    if problem is None:
        problem, pause_warnings = _pause_problem(view)
    if problem is not None:
        return refused(OpKind.DEFRAG, view, problem, params)
    members, warnings = _defrag_order(view)
    if not members:
        return refused(OpKind.DEFRAG, view, "no member can be defragmented", params)
    planned, fns = _defrag_steps(session, view, members, threshold_bytes)
    plan = make_plan(
        OpKind.DEFRAG,
        view,
        _defrag_summary(view, members, threshold_bytes),
        planned,
        warnings=pause_warnings + warnings,
        params=params,
    )
    return PlannedOperation(plan, fns)


# -- compact ---------------------------------------------------------------------------


def _compact_step(
    session: OpsSession, revision: int | None, keep: int | None, physical: bool
) -> StepFn:
    def step(report: StepReport) -> StepResult:
        if revision is not None:
            target = revision
        else:
            current = session.control.revision()
            target = current - (keep or 0)
            if target < 1:
                return (
                    StepState.SKIPPED,
                    f"only {current} revisions: nothing to compact when keeping {keep}",
                    {"revision": None},
                )
        report(None, f"compacting to revision {target}…")
        done = session.control.compact(target, physical=physical)
        figures: dict[str, object] = {"revision": target, "physical": physical}
        if not done:
            return StepState.SKIPPED, f"already compacted at or past revision {target}", figures
        how = "; the members' backends have compacted" if physical else ""
        return StepState.DONE, f"compacted to revision {target}{how}", figures

    return step


def compact(
    session: OpsSession,
    revision: int | None = None,
    *,
    keep: int | None = None,
    physical: bool = False,
) -> PlannedOperation:
    """Compact the history: to ``revision``, or keeping the last ``keep`` revisions, or
    (neither) to the current revision. ``physical``: wait until the members' backends
    have compacted too."""
    if revision is not None and keep is not None:
        raise ValueError("give a revision or a number of revisions to keep, not both")
    view = session.view
    params: dict[str, object] = {"revision": revision, "keep": keep, "physical": physical}
    problem = view.problem()
    if problem is not None:
        return refused(OpKind.COMPACT, view, problem, params)
    try:
        current = session.control.revision()
    except EtcdError as exc:
        return refused(OpKind.COMPACT, view, f"cannot read the current revision: {exc}", params)
    how = ", physically" if physical else ""
    if revision is not None:
        if revision < 1:
            return refused(OpKind.COMPACT, view, f"revision {revision} is not a revision", params)
        if revision > current:
            return refused(
                OpKind.COMPACT,
                view,
                f"revision {revision} is in the future: the current revision is {current}",
                params,
            )
        target, title = revision, f"compact to revision {revision}{how}"
    elif keep is not None:
        if keep < 0:
            return refused(OpKind.COMPACT, view, f"cannot keep {keep} revisions", params)
        target = current - keep
        if target < 1:
            return refused(
                OpKind.COMPACT,
                view,
                f"the history has {current} revisions: keeping {keep} leaves nothing to compact",
                params,
            )
        title = f"compact keeping the last {keep} revisions (now to {target}){how}"
    else:
        target, title = current, f"compact to the current revision (now {current}){how}"
    step = PlannedStep(title, detail=f"current revision {current}")
    plan = make_plan(
        OpKind.COMPACT,
        view,
        title,
        [step],
        warnings=[_COMPACT_WARNING.format(rev=target)],
        params=params,
    )
    return PlannedOperation(plan, [_compact_step(session, revision, keep, physical)])


# -- alarms ----------------------------------------------------------------------------


def alarms(session: OpsSession) -> dict[str, tuple[str, ...]]:
    """Active alarms per member (by name), as the Alarm call lists them now."""
    found: dict[str, list[str]] = {}
    for a in session.control.alarm_list():
        m = session.snapshot.member(a.member_id)
        found.setdefault(label(m) if m else f"{a.member_id:x}", []).append(a.alarm)
    return {name: tuple(sorted(names)) for name, names in found.items()}


def _active_alarms(session: OpsSession) -> list[AlarmInfo]:
    try:
        return session.control.alarm_list()
    except EtcdError:  # the sweep's (from each member's Status) will do
        return list(session.snapshot.alarms)


def _names(session: OpsSession, alarms: Sequence[AlarmInfo]) -> str:
    names = []
    for a in alarms:
        m = session.snapshot.member(a.member_id)
        names.append(label(m) if m else f"{a.member_id:x}")
    return ", ".join(dict.fromkeys(names))


def _room_problems(view: ClusterView, sizes: dict[int, int] | None = None) -> list[str]:
    """Members whose database is at or over their quota (``sizes``: DB sizes read now,
    by member id; default the sweep's)."""
    full = []
    for m in view.members:
        quota = view.quota(m)
        size = (sizes or {}).get(m.id, m.db_size)
        if quota and size is not None and size >= quota:
            full.append(f"{label(m)}'s database is {fmt_bytes(size)}, its quota {fmt_bytes(quota)}")
    return full


def _room_warnings(view: ClusterView) -> list[str]:
    warnings = []
    for m in view.members:
        quota = view.quota(m)
        if m.id == 0 or not m.reachable:
            continue
        if not quota:
            warnings.append(
                f"the quota of {label(m)} is unknown (no /metrics): its room is not checked"
            )
        elif m.db_size is not None and NEAR_QUOTA * quota <= m.db_size < quota:
            warnings.append(
                f"{label(m)}'s database uses {100 * m.db_size / quota:.0f}% of its quota: "
                f"it may fill again soon"
            )
    return warnings


_CORRUPT = (
    "CORRUPT on {who} means that member's data differ from the others'; etcdmon does not "
    "disarm it: replace the member (remove it, wipe its data directory, add it back) or "
    "restore the cluster from a snapshot"
)


def _disarm_step(session: OpsSession, view: ClusterView, nospace: list[AlarmInfo]) -> StepFn:
    def step(report: StepReport) -> StepResult:
        sizes = {}
        for m in view.members:
            if m.reachable and m.id != 0:
                sizes[m.id] = session.status(m).db_size
        full = _room_problems(view, sizes)
        if full:
            raise OpFailedError(
                f"no room to disarm NOSPACE: {'; '.join(full)}. The data in use fill it: "
                f"delete data or raise --quota-backend-bytes"
            )
        for a in nospace:
            session.control.alarm_disarm(a.member_id, "NOSPACE")
        left = [a for a in session.control.alarm_list() if a.alarm == "NOSPACE"]
        if left:
            raise OpFailedError(
                f"etcd raised NOSPACE again on {_names(session, left)}: there is still no room"
            )
        who = _names(session, nospace)
        return (
            StepState.DONE,
            f"disarmed NOSPACE raised by {who}",
            {"disarmed": [f"{a.member_id:x}" for a in nospace]},
        )

    return step


def disarm(session: OpsSession) -> PlannedOperation:
    """Disarm NOSPACE, once every member's database is under its quota again (refused
    otherwise, saying whose is not). CORRUPT is never disarmed."""
    view = session.view
    problem = view.problem()
    if problem is not None:
        return refused(OpKind.ALARM_DISARM, view, problem)
    active = _active_alarms(session)
    nospace = [a for a in active if a.alarm == "NOSPACE"]
    corrupt = [a for a in active if a.alarm == "CORRUPT"]
    warnings = []
    if corrupt:
        text = _CORRUPT.format(who=_names(session, corrupt))
        if not nospace:
            return refused(OpKind.ALARM_DISARM, view, text)
        warnings.append(text)
    if not nospace:
        return refused(OpKind.ALARM_DISARM, view, "no NOSPACE alarm is active: nothing to disarm")
    full = _room_problems(view)
    if full:
        return refused(
            OpKind.ALARM_DISARM,
            view,
            f"no room yet: {'; '.join(full)}; compact and defragment first "
            f"('Recover from NOSPACE' does both), or raise --quota-backend-bytes",
        )
    who = _names(session, nospace)
    title = f"disarm NOSPACE (raised by {who})"
    plan = make_plan(
        OpKind.ALARM_DISARM,
        view,
        title,
        [PlannedStep(title, detail="each member's DB size is checked against its quota first")],
        warnings=warnings + _room_warnings(view),
    )
    return PlannedOperation(plan, [_disarm_step(session, view, nospace)])


def _test_write_step(session: OpsSession) -> StepFn:
    def step(report: StepReport) -> StepResult:
        value = f"etcdmon {time.time():.3f}".encode()
        revision = session.control.put(TEST_WRITE_KEY, value)
        if session.control.get(TEST_WRITE_KEY) != value:
            raise OpFailedError(f"the test write of {TEST_WRITE_KEY.decode()} did not read back")
        session.control.delete(TEST_WRITE_KEY)
        return (
            StepState.DONE,
            f"wrote, read back and deleted {TEST_WRITE_KEY.decode()} (revision {revision})",
            {"revision": revision},
        )

    return step


def recover(session: OpsSession) -> PlannedOperation:
    """Recover from NOSPACE: compact to the current revision (physically), defragment
    every member (followers, then the leader), disarm NOSPACE, verify a test write."""
    view = session.view
    problem = view.problem()
    pause_warnings: list[str] = []
    if problem is None:
        problem, pause_warnings = _pause_problem(view)
    if problem is not None:
        return refused(OpKind.RECOVER, view, problem)
    active = _active_alarms(session)
    nospace = [a for a in active if a.alarm == "NOSPACE"]
    corrupt = [a for a in active if a.alarm == "CORRUPT"]
    if corrupt:
        return refused(OpKind.RECOVER, view, _CORRUPT.format(who=_names(session, corrupt)))
    if not nospace:
        return refused(OpKind.RECOVER, view, "no NOSPACE alarm is active: nothing to recover from")
    members, warnings = _defrag_order(view)
    defrag_planned, defrag_fns = _defrag_steps(session, view, members, 0)
    compact_title = "compact to the current revision, physically"
    disarm_title = f"disarm NOSPACE (raised by {_names(session, nospace)})"
    write_title = f"verify a test write ({TEST_WRITE_KEY.decode()})"
    steps = [
        PlannedStep(compact_title, detail="drops every old revision"),
        *defrag_planned,
        PlannedStep(disarm_title, detail="only if every member is under its quota by then"),
        PlannedStep(write_title, detail="write, read back, delete"),
    ]
    fns = [
        _compact_step(session, None, None, True),
        *defrag_fns,
        _disarm_step(session, view, nospace),
        _test_write_step(session),
    ]
    worst = max((defrag_estimate_s(m.db_size) for m in members), default=0.0)
    summary = (
        f"compact to the current revision, defragment {_order_text(view, members)}, "
        f"disarm NOSPACE, verify a test write; expected downtime per member {_seconds(worst)}"
    )
    plan = make_plan(
        OpKind.RECOVER,
        view,
        summary,
        steps,
        warnings=[
            *pause_warnings,
            *warnings,
            _COMPACT_WARNING.format(rev="the current revision"),
            "if the data in use alone fill the quota, the disarm step fails: then delete "
            "data or raise --quota-backend-bytes",
        ],
    )
    return PlannedOperation(plan, fns)


# -- consistency -----------------------------------------------------------------------


class _HashKV:
    """The state a HashKV run shares between its steps: the revision, the answers.

    The revision is the lowest current revision of the members, which each has. When
    nothing was written since the last compaction that revision is the compacted one,
    which HashKV refuses; then each member hashes its current revision (0), and the
    comparison checks that the answers were all at one revision."""

    def __init__(self, session: OpsSession, members: list[MemberStatus]) -> None:
        self.session = session
        self.members = members
        self.revision: int | None = None  # asked for; 0: each member's current
        self.hashes: dict[int, MemberHash] = {}
        self.at: dict[int, int] = {}  # member id -> the revision its hash is at

    def pick_revision(self) -> int:
        if self.revision is None:
            self.revision = min(self.session.status(m).revision for m in self.members)
        return self.revision

    def ask(self, m: MemberStatus) -> MemberHash:
        revision = self.pick_revision()
        deadline = time.monotonic() + HASHKV_RETRY_S
        ep = self.session.endpoint_of(m)
        while True:
            try:
                answer = self.session.control.hash_kv(ep, revision)
                break
            except EtcdError as exc:
                if "compacted" in str(exc) and revision:
                    self.revision = revision = 0  # see the class's docstring
                    self.hashes.clear()
                    self.at.clear()
                    continue
                # A member behind: wait for it, within the deadline.
                if "future revision" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        found = MemberHash(label(m), m.id, answer.hash, answer.compact_revision)
        self.hashes[m.id] = found
        self.at[m.id] = revision or answer.revision
        return found

    def step(self, m: MemberStatus) -> StepFn:
        def step(report: StepReport) -> StepResult:
            h = self.ask(m)
            at = self.at[m.id]
            return (
                StepState.DONE,
                f"{h.member}: hash {h.hash:08x} at revision {at} "
                f"(compacted at {h.compact_revision})",
                {
                    "member": h.member,
                    "hash": h.hash,
                    "compact_revision": h.compact_revision,
                    "revision": at,
                },
            )

        return step

    def comparable(self) -> bool:
        """Every member answered, at one revision and one compaction."""
        return (
            len(self.hashes) == len(self.members)
            and len(set(self.at.values())) == 1
            and len({h.compact_revision for h in self.hashes.values()}) == 1
        )


def _compare(run: _HashKV, unchecked: list[str], found: list[str]) -> StepFn:
    def step(report: StepReport) -> StepResult:
        if not run.comparable():
            report(None, "the answers were not at one revision: asking every member again…")
            for m in run.members:
                run.ask(m)
            if not run.comparable():
                raise OpFailedError(
                    "inconclusive: the members answered at different revisions or "
                    "compactions (writes or a compaction under way); check again"
                )
        hashes = tuple(run.hashes[m.id] for m in run.members)
        counts: dict[int, int] = {}
        for h in hashes:
            counts[h.hash] = counts.get(h.hash, 0) + 1
        top = max(counts.values())
        majority = [value for value, n in counts.items() if n == top]
        agreed = majority[0] if len(majority) == 1 else None
        disagreeing = tuple(h.member for h in hashes if agreed is None or h.hash != agreed)
        check = ConsistencyCheck(
            cluster_id=run.session.snapshot.cluster_id or run.session.control.cluster_id,
            checked_at=time.time(),
            revision=next(iter(run.at.values())),
            hashes=hashes,
            disagreeing=disagreeing if len(counts) > 1 else (),
            unchecked=tuple(unchecked),
        )
        if check.cluster_id:
            consistency.publish(check)
        figures: dict[str, object] = {
            "revision": check.revision,
            "consistent": check.consistent,
            "disagreeing": list(check.disagreeing),
        }
        if check.consistent:
            return StepState.DONE, check.describe(), figures
        # The check itself worked: the step is done, the mismatch is the run's finding.
        found.append(f"DATA INCONSISTENT: {check.describe()}")
        return StepState.DONE, f"the members' data differ: {check.describe()}", figures

    return step


def hashkv(session: OpsSession) -> PlannedOperation:
    """HashKV of every voting member at one revision; a mismatch is a critical finding
    (the ``etcdMemberDataInconsistent`` alert, through ``monitor.consistency``)."""
    view = session.view
    problem = view.problem(quorum=False, leader=False)
    if problem is not None:
        return refused(OpKind.HASHKV, view, problem)
    members, warnings, unchecked = [], [], []
    for m in sorted(view.members, key=label):
        if m.id == 0:
            continue
        if m.is_learner:
            warnings.append(f"{label(m)} is a learner: etcd answers no HashKV on learners")
            unchecked.append(label(m))
        elif not m.reachable:
            warnings.append(f"{label(m)} is down: it is not checked")
            unchecked.append(label(m))
        else:
            members.append(m)
    if len(members) < 2:
        return refused(
            OpKind.HASHKV,
            view,
            f"only {len(members)} member(s) can be checked: nothing to compare",
        )
    names = ", ".join(label(m) for m in members)
    steps = [PlannedStep(f"HashKV of {label(m)}", member=label(m)) for m in members]
    steps.append(PlannedStep("compare the hashes", detail="a mismatch is a critical finding"))
    plan = make_plan(
        OpKind.HASHKV,
        view,
        f"hash the data of {names} at one revision and compare",
        steps,
        warnings=warnings,
    )
    run = _HashKV(session, members)
    found: list[str] = []
    fns = [run.step(m) for m in members]
    fns.append(_compare(run, unchecked, found))
    return PlannedOperation(plan, fns, found)
