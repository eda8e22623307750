"""The record kept of every maintenance run, refused and cancelled ones included: who
(the local user), what, on which cluster, when, and how it ended. Pure: the CLI and the
app make one with ``audit_record`` and hand it to the history (``store.history.ops_log``)
or keep it in memory when there is no history.
"""

from __future__ import annotations

import getpass
import os
import time
from collections.abc import Callable

from etcdmon_gui.model.ops import AuditRecord, OpPlan, OpResult

REFUSED = "refused"
FAILED = "failed"


def local_user() -> str:
    """Who runs this: the login name, or ``uid N`` where there is none (a container
    running with an arbitrary uid has no passwd entry)."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return f"uid {os.getuid()}" if hasattr(os, "getuid") else "unknown"


def result_detail(result: OpResult) -> str:
    """Each step's outcome on its line, then what the run found."""
    lines = [
        f"{o.index + 1}. {o.title}: {o.state.value}" + (f": {o.message}" if o.message else "")
        for o in result.outcomes
    ]
    lines += [f"finding: {f}" for f in result.findings]
    return "\n".join(lines)


def audit_record(
    result: OpResult | None,
    plan: OpPlan,
    *,
    refused: str | None = None,
    error: str | None = None,
    user: str | None = None,
    clock: Callable[[], float] = time.time,
) -> AuditRecord:
    """The record of one run of ``plan``:

    - ``refused`` (the plan's refusal, or why the runner would not start it): result
      "refused", the reason as its detail;
    - else ``result``: its "ok", "failed" or "cancelled", each step's outcome and the
      findings (a HashKV mismatch) as the detail, its start and end;
    - else the run ended before it had a result (``error`` says why): "failed".

    The plan's warnings go in the detail too; ``user`` defaults to the local user."""
    who = user if user is not None else local_user()
    warnings = [f"warning: {w}" for w in plan.warnings]
    if refused is not None or result is None:
        now = clock()
        reason = refused if refused is not None else error or "the run ended before its first step"
        return AuditRecord(
            at=now,
            user=who,
            cluster=plan.cluster,
            cluster_name=plan.cluster_name,
            kind=plan.kind,
            summary=plan.summary,
            result=REFUSED if refused is not None else FAILED,
            detail="\n".join([reason, *warnings]),
            ended_at=now,
        )
    detail = result_detail(result)
    return AuditRecord(
        at=result.started_at,
        user=who,
        cluster=plan.cluster,
        cluster_name=plan.cluster_name,
        kind=plan.kind,
        summary=plan.summary,
        result=result.result,
        detail="\n".join(filter(None, [detail, *warnings])),
        ended_at=result.ended_at,
    )
