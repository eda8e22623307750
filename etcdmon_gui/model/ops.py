"""Maintenance operations as data: what a run will do (its plan), what it did (its
outcome, step by step) and the record kept of it. ``ops/`` makes and runs them; the
dialog and ``etcdmon ops`` show them. Types only.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class OpKind(enum.Enum):
    DEFRAG = "defrag"
    COMPACT = "compact"
    SNAPSHOT = "snapshot"
    ALARM_DISARM = "alarm-disarm"
    RECOVER = "recover"  # from NOSPACE: compact, defragment, disarm, test write
    MOVE_LEADER = "move-leader"
    MEMBER_ADD = "member-add"
    MEMBER_PROMOTE = "member-promote"
    MEMBER_REMOVE = "member-remove"
    MEMBER_UPDATE = "member-update"
    HASHKV = "hashkv"

    @property
    def title(self) -> str:
        return {
            "defrag": "Defragment",
            "compact": "Compact",
            "snapshot": "Save a snapshot",
            "alarm-disarm": "Disarm alarms",
            "recover": "Recover from NOSPACE",
            "move-leader": "Move the leader",
            "member-add": "Add a member",
            "member-promote": "Promote a learner",
            "member-remove": "Remove a member",
            "member-update": "Update a member's peer URLs",
            "hashkv": "Check consistency (HashKV)",
        }[self.value]

    @property
    def changes_cluster(self) -> bool:
        """False for what only reads (HashKV, a snapshot): on a production profile it
        needs no typed name."""
        return self not in (OpKind.HASHKV, OpKind.SNAPSHOT)

    @property
    def risk(self) -> str:
        """What a production profile's refusal says the operation would do."""
        return f"{self.title.lower()} changes it while its users depend on it"


@dataclass(frozen=True, slots=True)
class PlannedStep:
    """One step as planned: ``title`` reads as a line of the plan ("defragment m2
    (follower)"); ``expected_s`` what it should take, when known."""

    title: str
    member: str | None = None  # the member's name (or id in hex) it acts on
    detail: str = ""
    expected_s: float | None = None


@dataclass(frozen=True, slots=True)
class OpPlan:
    """What a run will do, before it does anything. ``refusal`` set: it must not run,
    and says why (quorum would break, no room to disarm NOSPACE, ...). ``warnings``:
    it may run, but the user should know (removing the leader, a production cluster)."""

    kind: OpKind
    cluster: str  # the connection key
    cluster_name: str
    summary: str  # one line: "defragment m2, m3, then m1 (leader)"
    steps: tuple[PlannedStep, ...]
    warnings: tuple[str, ...] = ()
    refusal: str | None = None
    params: dict[str, Any] = field(default_factory=dict)  # what was asked, for the record
    cluster_id: int | None = None  # etcd's cluster id, when the sweep found one

    def describe(self) -> str:
        """The plan as text: the summary, each step on its line, the warnings, the
        refusal (what the CLI prints and the dialog shows before asking)."""
        lines = [f"{self.kind.title} on {self.cluster_name or self.cluster}: {self.summary}"]
        for i, step in enumerate(self.steps, 1):
            line = f"  {i}. {step.title}"
            if step.expected_s is not None:
                line += f" (~{step.expected_s:.0f} s)" if step.expected_s >= 1 else " (<1 s)"
            if step.detail:
                line += f": {step.detail}"
            lines.append(line)
        lines += [f"  warning: {w}" for w in self.warnings]
        if self.refusal:
            lines.append(f"  refused: {self.refusal}")
        return "\n".join(lines)


class StepState(enum.Enum):
    DONE = "done"
    SKIPPED = "skipped"  # nothing to do (fragmentation under the threshold, ...)
    FAILED = "failed"
    CANCELLED = "cancelled"  # not started: the run was cancelled before it


@dataclass(frozen=True, slots=True)
class StepOutcome:
    index: int
    title: str
    state: StepState
    message: str  # what happened, in words ("freed 12.3 MB in 0.8 s")
    started_at: float
    ended_at: float
    data: dict[str, Any] = field(default_factory=dict)  # figures: bytes freed, revision


@dataclass(frozen=True, slots=True)
class OpProgress:
    """A run's news: step ``index`` of the plan started (``outcome`` None) or ended."""

    plan: OpPlan
    index: int
    message: str
    outcome: StepOutcome | None = None
    fraction: float | None = None  # within the step (a snapshot's bytes), when known


@dataclass(frozen=True, slots=True)
class OpResult:
    plan: OpPlan
    outcomes: tuple[StepOutcome, ...]
    started_at: float
    ended_at: float
    cancelled: bool = False
    findings: tuple[str, ...] = ()  # e.g. HashKV: "m3 disagrees at revision 42"

    @property
    def ok(self) -> bool:
        return not self.cancelled and all(
            o.state in (StepState.DONE, StepState.SKIPPED) for o in self.outcomes
        )

    @property
    def result(self) -> str:
        """ "ok", "failed" or "cancelled": what the record says."""
        if self.cancelled:
            return "cancelled"
        return "ok" if self.ok else "failed"

    def describe(self) -> str:
        """What was done, step by step: a cancelled or failed run says which steps ran
        and which did not."""
        done = sum(o.state in (StepState.DONE, StepState.SKIPPED) for o in self.outcomes)
        lines = [
            f"{self.plan.kind.title} on {self.plan.cluster_name or self.plan.cluster}: "
            f"{self.result} ({done} of {len(self.plan.steps)} steps done)"
        ]
        lines += [
            f"  {o.index + 1}. [{o.state.value}] {o.title}: {o.message}" for o in self.outcomes
        ]
        lines += [f"  finding: {f}" for f in self.findings]
        return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One maintenance run as the Maintenance log and the history keep it: who (the
    local user), what, on which cluster, when, and how it ended."""

    at: float
    user: str
    cluster: str
    cluster_name: str
    kind: OpKind
    summary: str
    result: str  # "ok", "failed", "cancelled", "refused"
    detail: str = ""  # each step's outcome, one per line
    ended_at: float | None = None


@dataclass(frozen=True, slots=True)
class MemberHash:
    """One member's HashKV answer at the check's revision."""

    member: str  # its name, or its id in hex when it has none
    member_id: int
    hash: int
    compact_revision: int


@dataclass(frozen=True, slots=True)
class ConsistencyCheck:
    """A HashKV check of every member at one revision (``ops.hashkv``). Members whose
    hash differs from the most common one ``disagree``; with no most common hash (two
    members, two hashes) every member is named. ``unchecked``: members that did not
    answer, so are not compared."""

    cluster_id: int
    checked_at: float
    revision: int
    hashes: tuple[MemberHash, ...]
    disagreeing: tuple[str, ...] = ()
    unchecked: tuple[str, ...] = ()

    @property
    def consistent(self) -> bool:
        return not self.disagreeing

    def describe(self) -> str:
        """In words: "m0, m1, m2 agree at revision 42" or "m2 disagrees with m0, m1 at
        revision 42 (hash 1a2b vs 3c4d)"."""
        names = [h.member for h in self.hashes]
        if self.consistent:
            text = f"{', '.join(names)} agree at revision {self.revision}"
        else:
            others = [n for n in names if n not in self.disagreeing]
            by_name = {h.member: h.hash for h in self.hashes}
            hashes = ", ".join(f"{n} {by_name[n]:08x}" for n in names)
            verb = "disagrees" if len(self.disagreeing) == 1 else "disagree"
            against = f" with {', '.join(others)}" if others else ""
            text = (
                f"{', '.join(self.disagreeing)} {verb}{against} at revision "
                f"{self.revision} (hashes: {hashes})"
            )
        if self.unchecked:
            text += f"; not checked: {', '.join(self.unchecked)}"
        return text
