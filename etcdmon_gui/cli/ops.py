"""``etcdmon ops ...``: guided maintenance of a cluster from the command line.

    etcdmon ops defrag|compact|snapshot|recover|move-leader|hashkv [options]
    etcdmon ops alarm list|disarm [options]
    etcdmon ops member add|promote|remove|update [options]

Each action sweeps the cluster once (``ops.OpsSession``), makes its plan and prints it
("Plan: defragment m2, m3, then m1 (leader) ...", a line per step, the warnings, or
why it is refused), then asks "Proceed? [y/N]" on a terminal. ``--yes`` skips the
question (without a terminal it is required: a usage error otherwise), ``--dry-run``
prints the plan only, ``--json`` prints the plan or the result as JSON on stdout (the
plan in words then goes to stderr). A profile tagged production needs its name typed:
``--confirm NAME``, or at the prompt. Steps report on stderr as they run; Ctrl-C
cancels between steps (the step under way finishes; a second Ctrl-C says so, a third
exits at once: ``etcd.sandbox.SignalStop``).

Every run (ok, failed, cancelled, refused) is kept in the history's audit log
(``store.history.ops_log``; ``--history`` names the file, default the app's): who (the
local user), what, on which cluster, when, how it ended. A history that cannot be
used is said on stderr and changes nothing else. ``--dry-run`` and a "no" at the prompt
run nothing, so they are not recorded; ``alarm list`` only reads.

Exit codes: 0 done; 1 a step failed, the run was cancelled or not confirmed, the plan
was refused, or HashKV found members whose data differ; 2 usage (no terminal and no
--yes, a production profile without --confirm); 3 the cluster could not be reached.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import ByteSize, TypeAdapter, ValidationError

from etcdmon_gui.cli.common import (
    EXIT_FAIL,
    EXIT_OK,
    EXIT_UNREACHABLE,
    UNREACHABLE_CODE,
    USAGE_CODE,
    add_command,
)
from etcdmon_gui.connection_args import (
    UsageError,
    add_connection_options,
    connection_config,
    profile_store,
)
from etcdmon_gui.etcd.sandbox import SignalStop
from etcdmon_gui.formatting import fmt_bytes
from etcdmon_gui.model.history import HistoryError
from etcdmon_gui.model.ops import AuditRecord, OpKind, OpPlan, OpProgress, OpResult
from etcdmon_gui.model.safety import needs_confirmation, require_confirmation
from etcdmon_gui.ops import (
    DEFAULT_DEFRAG_THRESHOLD,
    Operation,
    OpRefusedError,
    OpsSession,
    alarms,
    compact,
    defrag,
    disarm,
    hashkv,
    member_add,
    member_promote,
    member_remove,
    member_update,
    move_leader,
    recover,
    run,
    snapshot,
)
from etcdmon_gui.ops.audit import audit_record
from etcdmon_gui.store.history.ops_log import OpsLog

CODES = (
    "  0  done (--dry-run: the plan may run)\n"
    "  1  a step failed, the run was cancelled (Ctrl-C) or not confirmed, the plan was\n"
    "     refused, or HashKV found members whose data differ\n"
    f"{USAGE_CODE};\n"
    "     also no terminal to ask on and no --yes, a production profile without --confirm\n"
    f"{UNREACHABLE_CODE}"
)
LIST_CODES = f"  0  the alarms were listed\n{USAGE_CODE}\n{UNREACHABLE_CODE}"

Build = Callable[[OpsSession, argparse.Namespace], Operation]


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# -- what is printed -------------------------------------------------------------------


def plan_text(plan: OpPlan) -> str:
    """The plan as the user reads it before saying yes: the operation and cluster, the
    plan, a line per step, the warnings; or why it is refused."""
    head = f"{plan.kind.title} on {plan.cluster_name or plan.cluster}"
    if plan.refusal is not None:
        lines = [head, f"Refused: {plan.refusal}"]
        lines += [f"  warning: {w}" for w in plan.warnings]
        return "\n".join(lines)
    steps = plan.describe().splitlines()[1:]  # each step, the warnings
    return "\n".join([head, f"Plan: {plan.summary}", *steps])


def plan_json(plan: OpPlan) -> dict[str, Any]:
    return {
        "kind": plan.kind.value,
        "title": plan.kind.title,
        "cluster": plan.cluster,
        "cluster_name": plan.cluster_name,
        "cluster_id": None if plan.cluster_id is None else f"{plan.cluster_id:x}",
        "summary": plan.summary,
        "steps": [
            {
                "title": s.title,
                "member": s.member,
                "detail": s.detail,
                "expected_s": s.expected_s,
            }
            for s in plan.steps
        ],
        "warnings": list(plan.warnings),
        "refusal": plan.refusal,
        "params": plan.params,
    }


def result_json(result: OpResult) -> dict[str, Any]:
    return {
        "plan": plan_json(result.plan),
        "result": result.result,
        "started_at": result.started_at,
        "ended_at": result.ended_at,
        "cancelled": result.cancelled,
        "findings": list(result.findings),
        "steps": [
            {
                "index": o.index,
                "title": o.title,
                "state": o.state.value,
                "message": o.message,
                "started_at": o.started_at,
                "ended_at": o.ended_at,
                "data": o.data,
            }
            for o in result.outcomes
        ],
    }


def result_text(result: OpResult) -> str:
    took = result.ended_at - result.started_at
    lines = [
        f"Result: {result.result} ({f'{took:.1f} s' if took >= 1 else f'{took * 1000:.0f} ms'})"
    ]
    lines += [
        f"  {o.index + 1}. {o.title}: {o.state.value}" + (f": {o.message}" if o.message else "")
        for o in result.outcomes
    ]
    lines += [f"  finding: {f}" for f in result.findings]
    return "\n".join(lines)


def _dump(doc: dict[str, Any]) -> None:
    print(json.dumps(doc, indent=2, default=str), flush=True)


class _Progress:
    """A line on stderr as each step starts, reports and ends."""

    def __init__(self, plan: OpPlan) -> None:
        self.total = len(plan.steps)

    def __call__(self, p: OpProgress) -> None:
        where = f"[{p.index + 1}/{self.total}]"
        if p.outcome is not None:
            _say(f"  {where} {p.outcome.state.value}: {p.outcome.message}")
        elif p.fraction is not None:
            _say(f"  {where} {p.fraction * 100:3.0f}% {p.message}")
        else:
            _say(f"  {where} {p.message}")


# -- the record ------------------------------------------------------------------------


def keep_record(path: Path | None, record: AuditRecord) -> None:
    """Keep ``record`` in the history's audit log; one that cannot be used is said, and
    changes nothing else (what was done is done)."""
    try:
        with OpsLog(path) as log:
            log.record(record)
    except HistoryError as exc:
        _say(f"etcdmon: the run is not kept in the audit log: {exc}")


# -- asking ----------------------------------------------------------------------------


def _profile(args: argparse.Namespace) -> tuple[str, tuple[str, ...]]:
    """The profile's name and tags; ("", ()) without --profile."""
    if not getattr(args, "profile", None):
        return "", ()
    profile = profile_store(args).get(args.profile)
    return profile.name, tuple(profile.tags)


def _guarded(kind: OpKind, tags: tuple[str, ...]) -> bool:
    return kind.changes_cluster and needs_confirmation(tags)


def _check_flags(args: argparse.Namespace, kind: OpKind, name: str, tags: tuple[str, ...]) -> None:
    """Before the cluster is asked anything: can the run be confirmed at all?"""
    if args.dry_run:
        return
    if not args.yes and not sys.stdin.isatty():
        raise UsageError(
            "no terminal to ask 'Proceed? [y/N]' on: add --yes to run without asking "
            "(or --dry-run to see the plan only)"
        )
    if _guarded(kind, tags) and (args.confirm is not None or args.yes):
        require_confirmation(name, tags, args.confirm, risk=kind.risk)


def _ask(args: argparse.Namespace, kind: OpKind, name: str, tags: tuple[str, ...]) -> bool:
    """Ask on the terminal (stderr, so stdout keeps only the output); a production
    profile's name must be typed there unless --confirm gave it."""
    if args.yes:
        return True
    if _guarded(kind, tags) and args.confirm is None:
        sys.stderr.write(f"Profile {name!r} is tagged production: type its name to proceed: ")
        sys.stderr.flush()
        require_confirmation(name, tags, sys.stdin.readline().strip(), risk=kind.risk)
        return True
    sys.stderr.write("Proceed? [y/N] ")
    sys.stderr.flush()
    return sys.stdin.readline().strip().lower() in ("y", "yes")


# -- running ---------------------------------------------------------------------------


def _refused(args: argparse.Namespace, plan: OpPlan, reason: str, code: int) -> int:
    keep_record(args.history, audit_record(None, plan, refused=reason))
    if args.json:
        _dump({"plan": plan_json(plan), "result": "refused", "reason": reason})
    _say(f"etcdmon: refused: {reason}")
    return code


def run_operation(args: argparse.Namespace, kind: OpKind, build: Build) -> int:
    """Plan, show, confirm, run, record: what every action but ``alarm list`` does."""
    name, tags = _profile(args)
    _check_flags(args, kind, name, tags)
    config = connection_config(args)
    with OpsSession.open(config, name) as session:
        op = build(session, args)
        plan = op.plan
        # A plan refused because no member answered is an unreachable cluster (3).
        refused_code = EXIT_UNREACHABLE if session.snapshot.error is not None else EXIT_FAIL
        if args.dry_run and args.json:
            _dump(plan_json(plan))
            return refused_code if plan.refusal else EXIT_OK
        if args.json:
            _say(plan_text(plan))
        else:
            print(plan_text(plan), flush=True)
        if args.dry_run:
            return refused_code if plan.refusal else EXIT_OK
        if plan.refusal is not None:
            return _refused(args, plan, plan.refusal, refused_code)
        if not _ask(args, kind, name, tags):
            _say("etcdmon: not confirmed: nothing was done")
            return EXIT_FAIL
        signals = SignalStop(
            "etcdmon",
            first="cancelling: the step under way finishes, the rest are not run",
            stopping="still finishing the step under way",
        ).install()
        try:
            result = run(op, on_progress=_Progress(plan), cancel=signals.event)
        except OpRefusedError as exc:  # another operation or a benchmark holds the cluster
            return _refused(args, plan, str(exc), EXIT_FAIL)
        except BaseException as exc:
            keep_record(args.history, audit_record(None, plan, error=f"stopped: {exc!r}"))
            raise
        finally:
            signals.close()
    keep_record(args.history, audit_record(result, plan))
    if args.json:
        _dump(result_json(result))
    else:
        print(result_text(result), flush=True)
    if result.cancelled:
        _say("etcdmon: cancelled: the steps marked cancelled were not run")
    return EXIT_OK if result.ok and not result.findings else EXIT_FAIL


def cmd_alarm_list(args: argparse.Namespace) -> int:
    name, _tags = _profile(args)
    config = connection_config(args)
    with OpsSession.open(config, name) as session:
        found = alarms(session)
        if args.json:
            _dump({"cluster": session.key, "cluster_name": session.cluster_name,
                   "alarms": {m: list(a) for m, a in found.items()}})  # fmt: skip
        elif not found:
            print(f"no alarm is active on {session.cluster_name}")
        else:
            for member, names in sorted(found.items()):
                print(f"{member}: {', '.join(names)}")
    return EXIT_OK


# -- arguments -------------------------------------------------------------------------


def byte_size(text: str) -> int:
    """``--threshold``: a size such as 64MB, 1GiB or a number of bytes."""
    try:
        return int(TypeAdapter(ByteSize).validate_python(text))
    except ValidationError:
        raise argparse.ArgumentTypeError(
            f"a size such as 64MB, 1GiB or 0 (bytes), not {text!r}"
        ) from None


def revision(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"a whole number of 0 or more, not {text!r}")
    return value


def _safety(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("safety and output")
    g.add_argument("--dry-run", action="store_true", help="print the plan only; change nothing")
    g.add_argument(
        "--yes",
        "-y",
        action="store_true",
        help="run without asking 'Proceed? [y/N]' (required without a terminal)",
    )
    g.add_argument(
        "--confirm",
        metavar="NAME",
        help="the profile's name, typed, to change a profile tagged production",
    )
    g.add_argument(
        "--json",
        action="store_true",
        help="print the plan (--dry-run) or the result as JSON on stdout; the plan in "
        "words and the progress go to stderr",
    )
    g.add_argument(
        "--history",
        type=Path,
        metavar="PATH",
        help="keep the run in this history's audit log (default: the desktop app's, whose "
        "Maintenance log then lists it)",
    )


def _action(
    actions: Any,
    name: str,
    *,
    help: str,
    example: str,
    kind: OpKind,
    build: Build,
    prog: str = "etcdmon ops",
) -> argparse.ArgumentParser:
    p = add_command(
        actions,
        name,
        help=help,
        codes=CODES,
        example=f"{prog} {name} --endpoints 10.0.0.1:2379 {example}".rstrip(),
    )
    add_connection_options(p)
    _safety(p)
    p.set_defaults(func=lambda args: run_operation(args, kind, build))
    return p


def register(sub: Any) -> None:
    """``ops defrag|compact|snapshot|alarm|recover|move-leader|member|hashkv``."""
    ops = add_command(
        sub,
        "ops",
        help="maintenance: defragment, compact, snapshot, alarms, leader, members, HashKV",
        description="Guided maintenance of a cluster. Each action shows its plan first (the\n"
        "order, the expected pause, warnings, or why it is refused), asks before it\n"
        "runs (--yes: don't; --dry-run: the plan only), reports each step on stderr\n"
        "and stops between steps on Ctrl-C. Every run is kept in the history's audit\n"
        "log. A profile tagged production needs its name typed (--confirm NAME).",
        codes=CODES,
        example="etcdmon ops defrag --profile prod --dry-run",
    )
    actions = ops.add_subparsers(dest="ops_action", required=True, metavar="ACTION")

    p = _action(
        actions,
        "defrag",
        help="defragment every member, one at a time, followers first, the leader last",
        example="--threshold 64MB --yes",
        kind=OpKind.DEFRAG,
        build=lambda s, a: defrag(s, a.threshold),
    )
    p.add_argument(
        "--threshold",
        type=byte_size,
        default=DEFAULT_DEFRAG_THRESHOLD,
        metavar="SIZE",
        help="skip members with less than this to free (DB size - in use), e.g. 64MB; "
        f"0 defragments every member (default {fmt_bytes(DEFAULT_DEFRAG_THRESHOLD)})",
    )

    p = _action(
        actions,
        "compact",
        help="compact the history: to the current revision, keeping the last N, or to one",
        example="--keep 1000 --physical --yes",
        kind=OpKind.COMPACT,
        build=lambda s, a: compact(s, a.revision, keep=a.keep, physical=a.physical),
    )
    to = p.add_mutually_exclusive_group()
    to.add_argument("--revision", type=revision, metavar="N", help="compact to revision N")
    to.add_argument("--keep", type=revision, metavar="N", help="keep the last N revisions")
    p.add_argument(
        "--physical",
        action="store_true",
        help="wait until every member's backend has compacted too",
    )

    p = _action(
        actions,
        "snapshot",
        help="save a snapshot of a member's database (default: the leader's) to a file",
        example="--member m2 backup.db --yes",
        kind=OpKind.SNAPSHOT,
        build=lambda s, a: snapshot(s, a.path, a.member),
    )
    p.add_argument("path", metavar="PATH", help="the snapshot file (replaced whole, or kept)")
    p.add_argument("--member", metavar="NAME_OR_ID", help="the member (default: the leader)")

    alarm = add_command(
        actions,
        "alarm",
        help="list the active alarms, or disarm NOSPACE once there is room",
        codes=CODES,
        example="etcdmon ops alarm list --endpoints 10.0.0.1:2379",
    )
    alarm_actions = alarm.add_subparsers(dest="alarm_action", required=True, metavar="ACTION")
    p = add_command(
        alarm_actions,
        "list",
        help="the active alarms, per member",
        codes=LIST_CODES,
        example="etcdmon ops alarm list --endpoints 10.0.0.1:2379 --json",
    )
    add_connection_options(p)
    p.add_argument("--json", action="store_true", help="the alarms as JSON")
    p.set_defaults(func=cmd_alarm_list)
    _action(
        alarm_actions,
        "disarm",
        help="disarm NOSPACE, only once every member's database is under its quota",
        example="--yes",
        kind=OpKind.ALARM_DISARM,
        build=lambda s, a: disarm(s),
        prog="etcdmon ops alarm",
    )

    _action(
        actions,
        "recover",
        help="recover from NOSPACE: compact, defragment, disarm, verify a test write",
        example="--yes",
        kind=OpKind.RECOVER,
        build=lambda s, a: recover(s),
    )
    p = _action(
        actions,
        "move-leader",
        help="hand leadership to a caught-up voting member",
        example="m2 --yes",
        kind=OpKind.MOVE_LEADER,
        build=lambda s, a: move_leader(s, a.member),
    )
    p.add_argument("member", metavar="MEMBER", help="the new leader: a name or an id in hex")

    member = add_command(
        actions,
        "member",
        help="add (a learner by default), promote, remove a member, or update its peer URLs",
        codes=CODES,
        example="etcdmon ops member add --endpoints 10.0.0.1:2379 http://10.0.0.4:2380",
    )
    member_actions = member.add_subparsers(dest="member_action", required=True, metavar="ACTION")
    p = _action(
        member_actions,
        "add",
        help="add a member, as a learner unless --voter",
        example="--name m4 http://10.0.0.4:2380",
        kind=OpKind.MEMBER_ADD,
        build=lambda s, a: member_add(s, a.peer_urls, learner=not a.voter, name=a.name),
        prog="etcdmon ops member",
    )
    p.add_argument("peer_urls", nargs="+", metavar="PEER_URL", help="the new member's peer URLs")
    p.add_argument(
        "--voter",
        action="store_true",
        help="add it as a voting member at once (it counts toward the quorum before it starts)",
    )
    p.add_argument(
        "--name", metavar="NAME", help="the name it will be started with (for --initial-cluster)"
    )
    p = _action(
        member_actions,
        "promote",
        help="make a caught-up learner a voting member",
        example="m4 --yes",
        kind=OpKind.MEMBER_PROMOTE,
        build=lambda s, a: member_promote(s, a.member),
        prog="etcdmon ops member",
    )
    p.add_argument("member", metavar="MEMBER", help="the learner: a name or an id in hex")
    p = _action(
        member_actions,
        "remove",
        help="remove a member (refused if the cluster would lose quorum)",
        example="m3 --yes",
        kind=OpKind.MEMBER_REMOVE,
        build=lambda s, a: member_remove(s, a.member),
        prog="etcdmon ops member",
    )
    p.add_argument("member", metavar="MEMBER", help="a name or an id in hex")
    p = _action(
        member_actions,
        "update",
        help="change the peer URLs a member is known by",
        example="m3 http://10.0.0.13:2380 --yes",
        kind=OpKind.MEMBER_UPDATE,
        build=lambda s, a: member_update(s, a.member, a.peer_urls),
        prog="etcdmon ops member",
    )
    p.add_argument("member", metavar="MEMBER", help="a name or an id in hex")
    p.add_argument("peer_urls", nargs="+", metavar="PEER_URL", help="its new peer URLs")

    _action(
        actions,
        "hashkv",
        help="check that every member's data agree (HashKV at one revision)",
        example="--yes --json",
        kind=OpKind.HASHKV,
        build=lambda s, a: hashkv(s),
    )
