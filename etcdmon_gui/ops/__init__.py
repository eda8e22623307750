"""Guided maintenance (no Qt): each operation makes a plan from the cluster's state,
then runs it step by step (``runner.run``), cancellable between steps.

    with OpsSession.open(config, "prod") as session:
        op = defrag(session, threshold_bytes=64_000_000)
        print(op.plan.describe())          # or refused: op.plan.refusal
        result = run(op, on_progress=..., cancel=event)

One operation (or benchmark) per cluster at a time: ``run`` claims the cluster in
``etcd.busy`` for the whole run and refuses (``OpRefusedError``) when it is held.
"""

from etcdmon_gui.ops.base import PlannedOperation
from etcdmon_gui.ops.maintenance import (
    DEFAULT_DEFRAG_THRESHOLD,
    alarms,
    compact,
    defrag,
    disarm,
    hashkv,
    recover,
)
from etcdmon_gui.ops.members import (
    member_add,
    member_promote,
    member_remove,
    member_update,
    move_leader,
)
from etcdmon_gui.ops.runner import Operation, OpFailedError, OpRefusedError, run
from etcdmon_gui.ops.session import ClusterView, MemberNotFoundError, OpsSession
from etcdmon_gui.ops.snapshot import snapshot

__all__ = [
    "DEFAULT_DEFRAG_THRESHOLD",
    "ClusterView",
    "MemberNotFoundError",
    "OpFailedError",
    "OpRefusedError",
    "Operation",
    "OpsSession",
    "PlannedOperation",
    "alarms",
    "compact",
    "defrag",
    "disarm",
    "hashkv",
    "member_add",
    "member_promote",
    "member_remove",
    "member_update",
    "move_leader",
    "recover",
    "run",
    "snapshot",
]
