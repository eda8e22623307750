"""What every operation is made of: its plan and the code of each step.

An operation function (``maintenance.defrag``, ``members.member_remove``, ...) reads the
session's ``ClusterView``, decides the plan (steps, warnings, or a refusal) and binds
one ``StepFn`` per step to the session. A refused plan has no step code; running it
raises ``OpRefusedError``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from etcdmon_gui.model.ops import OpKind, OpPlan, PlannedStep, StepState
from etcdmon_gui.ops.runner import StepReport
from etcdmon_gui.ops.session import ClusterView

StepResult = tuple[StepState, str, dict[str, object]]
StepFn = Callable[[StepReport], StepResult]


class PlannedOperation:
    """An ``Operation`` (see ``runner``): a plan and its steps' code."""

    def __init__(
        self, plan: OpPlan, steps: Sequence[StepFn] = (), found: list[str] | None = None
    ) -> None:
        if plan.refusal is None and len(steps) != len(plan.steps):
            raise ValueError("one step function per planned step")
        self.plan = plan
        self._steps = tuple(steps)
        # What the steps found that the user must know; the steps append to it.
        self.found: list[str] = found if found is not None else []

    def run_step(self, index: int, report: StepReport) -> StepResult:
        return self._steps[index](report)

    def findings(self) -> tuple[str, ...]:
        return tuple(self.found)


def make_plan(
    kind: OpKind,
    view: ClusterView,
    summary: str,
    steps: Sequence[PlannedStep] = (),
    *,
    warnings: Sequence[str] = (),
    refusal: str | None = None,
    params: dict[str, Any] | None = None,
) -> OpPlan:
    return OpPlan(
        kind=kind,
        cluster=view.key,
        cluster_name=view.name,
        summary=summary,
        steps=tuple(steps),
        warnings=tuple(warnings),
        refusal=refusal,
        params=dict(params or {}),
        cluster_id=view.snapshot.cluster_id,
    )


def refused(
    kind: OpKind, view: ClusterView, reason: str, params: dict[str, Any] | None = None
) -> PlannedOperation:
    """A plan that must not run, saying why."""
    return PlannedOperation(
        make_plan(kind, view, f"refused: {reason}", refusal=reason, params=params)
    )
