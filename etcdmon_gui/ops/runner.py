"""Running an operation's plan: one step at a time, progress after each, a cancel
honoured between steps, a failed step ending the run. What ran is the ``OpResult``.

An ``Operation`` is its plan and the code of each step; the step code raises
``EtcdError`` (readable) when the cluster refuses or fails, and returns what it did.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from typing import Protocol

from etcdmon_gui.etcd import busy
from etcdmon_gui.model.errors import EtcdError
from etcdmon_gui.model.ops import OpPlan, OpProgress, OpResult, StepOutcome, StepState

#: Called by a step with how far it is (0..1, None: unknown) and a line of news.
StepReport = Callable[[float | None, str], None]


class OpRefusedError(EtcdError):
    """The operation must not run (its plan's refusal): quorum would break, no room to
    disarm NOSPACE, another operation or a benchmark runs on the cluster, ..."""


class OpFailedError(EtcdError):
    """A step failed for a reason of its own, not an etcd answer: the member did not
    catch up, no room was made, the snapshot file could not be written, ..."""


class Operation(Protocol):
    plan: OpPlan

    def run_step(self, index: int, report: StepReport) -> tuple[StepState, str, dict[str, object]]:
        """Do step ``index`` of the plan: (DONE or SKIPPED, what happened in words,
        figures). Raises ``EtcdError`` when it fails."""
        ...

    def findings(self) -> tuple[str, ...]:
        """What the run found that the user must know (HashKV mismatches); () if none."""
        ...


def run(
    op: Operation,
    *,
    on_progress: Callable[[OpProgress], object] = lambda p: None,
    cancel: threading.Event | None = None,
    clock: Callable[[], float] = time.time,
) -> OpResult:
    """Run ``op``'s plan; ``OpRefusedError`` if the plan says it must not run, or when
    another operation or a benchmark holds the cluster (``etcd.busy``: one at a time,
    held for the whole run)."""
    plan = op.plan
    if plan.refusal is not None:
        raise OpRefusedError(plan.refusal)
    held = contextlib.ExitStack()
    try:
        held.enter_context(
            busy.claim(
                busy.keys_for(plan.cluster, plan.cluster_id),
                f"an operation ({plan.kind.title.lower()})",
            )
        )
    except busy.ClusterBusyError as exc:
        raise OpRefusedError(str(exc)) from None
    with held:
        return _run(op, plan, on_progress, cancel, clock)


def _run(
    op: Operation,
    plan: OpPlan,
    on_progress: Callable[[OpProgress], object],
    cancel: threading.Event | None,
    clock: Callable[[], float],
) -> OpResult:
    started = clock()
    outcomes: list[StepOutcome] = []
    stop_reason: str | None = None
    cancelled = False
    for index, step in enumerate(plan.steps):
        if stop_reason is None and cancel is not None and cancel.is_set():
            cancelled = True
            stop_reason = "not run: cancelled"
        if stop_reason is not None:
            now = clock()
            outcomes.append(
                StepOutcome(index, step.title, StepState.CANCELLED, stop_reason, now, now)
            )
            continue
        on_progress(OpProgress(plan, index, f"{step.title}…"))

        def report(fraction: float | None, message: str, index: int = index) -> None:
            on_progress(OpProgress(plan, index, message, fraction=fraction))

        begun = clock()
        try:
            state, message, data = op.run_step(index, report)
        except EtcdError as exc:
            state, message, data = StepState.FAILED, str(exc), {}
            stop_reason = f"not run: step {index + 1} failed"
        outcome = StepOutcome(index, step.title, state, message, begun, clock(), dict(data))
        outcomes.append(outcome)
        on_progress(OpProgress(plan, index, message, outcome))
    return OpResult(
        plan, tuple(outcomes), started, clock(), cancelled=cancelled, findings=op.findings()
    )
