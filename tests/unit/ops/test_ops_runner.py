"""The operation runner, the one-per-cluster claim and the consistency rule, without a
server: plain operations whose steps are Python functions."""

from __future__ import annotations

import dataclasses
import threading

import pytest

from etcdmon_gui.etcd import busy
from etcdmon_gui.model.errors import EtcdError
from etcdmon_gui.model.ops import (
    ConsistencyCheck,
    MemberHash,
    OpKind,
    OpPlan,
    OpProgress,
    PlannedStep,
    StepState,
)
from etcdmon_gui.monitor import consistency
from etcdmon_gui.monitor.alert_engine import AlertEngine
from etcdmon_gui.monitor.alert_rules import default_rules
from etcdmon_gui.ops.base import PlannedOperation, StepResult
from etcdmon_gui.ops.runner import OpRefusedError, StepReport, run
from tests.builders import Clock, member, snap


def plan(steps: int = 3, refusal: str | None = None, cluster_id: int | None = 7) -> OpPlan:
    return OpPlan(
        kind=OpKind.DEFRAG,
        cluster="c1",
        cluster_name="prod",
        summary="defragment m1, m2, then m0 (leader)",
        steps=tuple(PlannedStep(f"defragment m{i}", member=f"m{i}") for i in range(steps)),
        refusal=refusal,
        cluster_id=cluster_id,
    )


def ok_step(report: StepReport) -> StepResult:
    report(0.5, "half way")
    return StepState.DONE, "freed 1 MB", {"freed_bytes": 1_000_000}


def failing_step(report: StepReport) -> StepResult:
    raise EtcdError("127.0.0.1:2379: etcdserver: request timed out")


def test_a_run_reports_each_step_and_its_figures() -> None:
    seen: list[OpProgress] = []
    result = run(PlannedOperation(plan(), [ok_step] * 3), on_progress=seen.append)
    assert result.ok and result.result == "ok"
    assert [o.state for o in result.outcomes] == [StepState.DONE] * 3
    assert result.outcomes[0].data == {"freed_bytes": 1_000_000}
    assert [(p.index, p.message, p.fraction) for p in seen[:3]] == [
        (0, "defragment m0…", None),
        (0, "half way", 0.5),
        (0, "freed 1 MB", None),
    ]
    assert "ok (3 of 3 steps done)" in result.describe()


def test_a_failed_step_ends_the_run() -> None:
    result = run(PlannedOperation(plan(), [ok_step, failing_step, ok_step]))
    assert not result.ok and result.result == "failed"
    assert [o.state for o in result.outcomes] == [
        StepState.DONE,
        StepState.FAILED,
        StepState.CANCELLED,
    ]
    assert result.outcomes[1].message.endswith("request timed out")
    assert result.outcomes[2].message == "not run: step 2 failed"


def test_cancel_is_honoured_between_steps() -> None:
    cancel = threading.Event()

    def cancelling(report: StepReport) -> StepResult:
        cancel.set()  # asked during step 1: step 1 still ends normally
        return StepState.DONE, "done", {}

    result = run(PlannedOperation(plan(), [cancelling, ok_step, ok_step]), cancel=cancel)
    assert result.cancelled and result.result == "cancelled"
    assert [o.state for o in result.outcomes] == [
        StepState.DONE,
        StepState.CANCELLED,
        StepState.CANCELLED,
    ]
    assert "cancelled (1 of 3 steps done)" in result.describe()


def test_a_refused_plan_does_not_run() -> None:
    refused = plan(refusal="removing m1 would lose quorum")
    with pytest.raises(OpRefusedError, match="would lose quorum"):
        run(PlannedOperation(refused))
    assert "refused: removing m1 would lose quorum" in refused.describe()


def test_one_operation_per_cluster() -> None:
    op = PlannedOperation(plan(), [ok_step] * 3)
    with (
        busy.claim(busy.keys_for("c1"), "a benchmark"),
        pytest.raises(OpRefusedError, match="a benchmark is already running"),
    ):
        run(op)
    # the same cluster under another connection key, known by its cluster id
    with busy.claim(busy.keys_for("profile:other", 7), "an operation (compact)"):
        with pytest.raises(OpRefusedError, match="compact"):
            run(op)
        assert busy.holder(busy.keys_for("c1", 7)) is not None
    assert busy.holder(busy.keys_for("c1", 7)) is None
    assert run(op).ok
    # held for the whole run: a nested run on the cluster is refused
    nested: list[str] = []

    def nesting(report: StepReport) -> StepResult:
        try:
            run(PlannedOperation(plan(1), [ok_step]))
        except OpRefusedError as exc:
            nested.append(str(exc))
        return StepState.DONE, "", {}

    run(PlannedOperation(plan(1), [nesting]))
    assert nested and "already running" in nested[0]


def check(disagreeing: tuple[str, ...] = ()) -> ConsistencyCheck:
    hashes = tuple(
        MemberHash(f"m{i}", i, 0xBAD if f"m{i}" in disagreeing else 0xAB, 40) for i in range(3)
    )
    return ConsistencyCheck(7, 1_000_000.0, 42, hashes, disagreeing)


def test_a_hashkv_mismatch_fires_the_critical_rule() -> None:
    clock = Clock()
    rules = [r for r in default_rules() if r.name == "etcdMemberDataInconsistent"]
    engine = AlertEngine(rules, clock=clock)
    healthy = snap(clock.t, [member(1), member(2), member(3)])
    assert engine.evaluate(healthy, "prod") == []  # no check yet: unknown, no alert
    bad = dataclasses.replace(healthy, consistency=check(("m2",)))
    (event,) = engine.evaluate(bad, "prod")
    assert event.alert.severity.name == "CRITICAL"
    assert event.alert.summary == (
        "the data of prod's members differ: m2 disagrees with m0, m1 at revision 42 "
        "(hashes: m0 000000ab, m1 000000ab, m2 00000bad)"
    )
    clock.t += 60
    good = dataclasses.replace(healthy, taken_at=clock.t, consistency=check())
    (resolved,) = engine.evaluate(good, "prod")
    assert resolved.kind.name == "RESOLVED"


def test_the_board_keeps_the_latest_check_per_cluster() -> None:
    consistency.forget(7)
    assert consistency.latest(7) is None and consistency.latest(None) is None
    newer = dataclasses.replace(check(("m1",)), checked_at=2_000_000.0)
    consistency.publish(newer)
    consistency.publish(check())  # older: ignored
    assert consistency.latest(7) == newer
    consistency.forget(7)
