"""``etcdmon report``: the history as CSV, for spreadsheets and scripts.

Four reports (``reports.csv_export`` documents their columns): ``metrics`` (one row per
time and member, a column per signal), ``alerts`` (every alert transition), ``members``
(the inventory) and ``benchmarks`` (one row per run). They read the history file the
desktop app keeps (``--history`` for another one) and never change it, nor open the
secret store: a profile is only looked up for its key.

A cluster is named with ``--profile NAME`` (the key the app stores a profile's
history under) or ``--cluster``: the stored connection key, the etcd cluster id in hex,
or the cluster's name. Times (``--from`` / ``--to``) are ISO-8601 (a time without a
zone is UTC) or relative to now (``-24h``, ``now-7d``, ``now``).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import math
import os
import re
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from etcdmon_gui.cli.common import EXIT_OK, USAGE_CODE, add_command
from etcdmon_gui.connection_args import UsageError
from etcdmon_gui.model.history import (
    Aggregate,
    ClusterRecord,
    MemberRecord,
    ReportKind,
    ReportRequest,
)
from etcdmon_gui.monitor.alert_rules import parse_duration
from etcdmon_gui.monitor.history_signals import signal
from etcdmon_gui.reports import (
    STDOUT,
    bound_export,
    check_output_path,
    write_export,
)
from etcdmon_gui.reports.output import Export
from etcdmon_gui.store.history import default_path
from etcdmon_gui.store.history.reader import HistoryReader
from etcdmon_gui.store.profiles import ProfileStore

KINDS = ("metrics", "alerts", "members", "benchmarks")
EXIT_CANCELLED = 130  # Ctrl-C, as a shell reports it
DEFAULT_FROM = "-24h"
DEFAULT_TO = "now"
_RELATIVE = re.compile(r"^(?:now)?\s*-\s*(.+)$", re.I)
# What reads as a negative number to this command's parser, so that `--from -24h`
# is a value, not an unknown option (argparse takes only `-5` and `-.5` for numbers).
_NEGATIVE = re.compile(r"^-\.?\d")


# -- times ---------------------------------------------------------------------------


def parse_when(text: str, now: float, flag: str) -> float:
    """``now``, ``-24h`` / ``now-24h`` (any duration ``parse_duration`` reads), or an
    ISO-8601 date or time (``2026-12-01``, ``2026-12-01T10:00``, ``...Z``, ``+02:00``;
    without a zone: UTC) as a UNIX time. ``UsageError`` naming ``flag`` otherwise."""
    s = text.strip()
    if s.lower() == "now":
        return now
    relative = _RELATIVE.match(s)
    if relative:
        try:
            return now - parse_duration(relative.group(1).strip())
        except ValueError:
            pass
    else:
        try:
            when = datetime.fromisoformat(s)
        except ValueError:
            pass
        else:
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
            return when.timestamp()
    raise UsageError(
        f"{flag} {text!r}: give an ISO-8601 date or time in UTC (2026-12-01, "
        "2026-12-01T10:00, 2026-12-01T10:00:00Z, or with an offset such as +02:00), or a "
        "time relative to now (-24h, -7d, -90m, now)"
    )


def time_range(
    args: argparse.Namespace, now: float, *, default: bool
) -> tuple[float | None, float | None]:
    """``--from`` / ``--to`` as UNIX times; ``default``: -24h and now when not given,
    else None (no bound)."""
    start_text: str | None = args.start
    end_text: str | None = args.end
    if default:
        start_text = start_text if start_text is not None else DEFAULT_FROM
        end_text = end_text if end_text is not None else DEFAULT_TO
    start = None if start_text is None else parse_when(start_text, now, "--from")
    end = None if end_text is None else parse_when(end_text, now, "--to")
    if start is not None and end is not None and start >= end:
        raise UsageError(
            f"--from {start_text} is not before --to {end_text}: give a range whose start "
            "comes first"
        )
    return start, end


# -- clusters and members -----------------------------------------------------------


def _hex(text: str) -> int | None:
    t = text.strip().lower().removeprefix("0x")
    try:
        return int(t, 16) if t else None
    except ValueError:
        return None


def _cluster_line(c: ClusterRecord) -> str:
    return f"{c.name!r} (key {c.key}, cluster id {c.cluster_id or 'unknown'})"


def known_clusters(clusters: Sequence[ClusterRecord]) -> str:
    if not clusters:
        return "the history has no cluster yet (the desktop app keeps one while it watches)"
    return "known clusters: " + "; ".join(_cluster_line(c) for c in clusters)


def resolve_cluster(clusters: Sequence[ClusterRecord], text: str) -> ClusterRecord:
    """The cluster ``text`` names: its connection key, its etcd cluster id in hex, or
    its name. ``UsageError`` listing the known clusters when none or several match."""
    exact = [c for c in clusters if c.key == text]
    if exact:
        return exact[0]
    wanted = _hex(text)
    found = [
        c
        for c in clusters
        if c.name == text or (wanted is not None and c.cluster_id and _hex(c.cluster_id) == wanted)
    ]
    if len(found) == 1:
        return found[0]
    if not found:
        raise UsageError(
            f"--cluster {text!r}: no such cluster in the history; {known_clusters(clusters)}"
        )
    raise UsageError(
        f"--cluster {text!r} matches {len(found)} clusters: "
        + "; ".join(_cluster_line(c) for c in found)
        + "; give the key of one"
    )


def _cluster(args: argparse.Namespace, clusters: Sequence[ClusterRecord]) -> tuple[str, str] | None:
    """(connection key, name) of the cluster the options name, or None."""
    if args.profile:
        # Only the profile's id is read (no secret store is opened): its key is what
        # the app and `etcdmon watch` keep its history under.
        profile = ProfileStore(args.profiles_file).get(args.profile)
        key = profile.key
        stored = next((c for c in clusters if c.key == key), None)
        if stored is None:
            print(
                f"etcdmon: the history has nothing of profile {profile.name!r} yet",
                file=sys.stderr,
            )
        return key, profile.name if stored is None else stored.name
    if args.cluster is not None:
        c = resolve_cluster(clusters, args.cluster)
        return c.key, c.name
    return None


def _member_line(m: MemberRecord) -> str:
    return f"{m.name or '(no name)'} ({m.member})"


def resolve_members(known: Sequence[MemberRecord], wanted: Sequence[str]) -> tuple[str, ...]:
    """The member ids (hex, as stored) ``wanted`` names by name or id; ``UsageError``
    listing the known members for a name that matches none."""
    ids: dict[str, None] = {}
    for text in wanted:
        number = _hex(text)
        found = [
            m for m in known if m.name == text or (number is not None and _hex(m.member) == number)
        ]
        if not found:
            listing = ", ".join(dict.fromkeys(_member_line(m) for m in known)) or "none yet"
            raise UsageError(f"--member {text!r}: no such member; known members: {listing}")
        for m in found:
            ids.setdefault(m.member, None)
    return tuple(ids)


def _alert_members(known: Sequence[MemberRecord], wanted: Sequence[str]) -> set[str]:
    """What alerts of ``wanted`` carry as their member: the text given, and the name
    and id of each known member it names."""
    names = set(wanted)
    for text in wanted:
        number = _hex(text)
        for m in known:
            if m.name == text or (number is not None and _hex(m.member) == number):
                names.update(x for x in (m.name, m.member) if x)
    return names


def parse_signals(values: Sequence[str] | None) -> tuple[str, ...] | None:
    """The signal keys of ``--signal`` (repeated or comma-separated), each checked."""
    if not values:
        return None
    keys: dict[str, None] = {}
    for value in values:
        for key in (k.strip() for k in value.split(",")):
            if not key:
                continue
            try:
                signal(key)
            except KeyError as exc:
                raise UsageError(f"--signal: {exc.args[0]}") from None
            keys.setdefault(key, None)
    return tuple(keys) or None


def parse_step(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        step = parse_duration(text)
    except ValueError:
        step = math.nan
    if not step >= 1:
        raise UsageError(f"--step must be a duration of 1s or more (e.g. 1m, 5m, 1h), not {text}")
    return step


# -- the command ---------------------------------------------------------------------


def _only_for(args: argparse.Namespace) -> None:
    """Options that mean nothing to this report are an error, not silently ignored."""
    applies = {
        "--step": ("metrics",),
        "--signal": ("metrics",),
        "--aggregate": ("metrics",),
        "--member": ("metrics", "alerts", "members"),
    }
    given = {
        "--step": args.step is not None,
        "--signal": bool(args.signal),
        "--aggregate": args.aggregate is not None,
        "--member": bool(args.member),
    }
    for flag, kinds in applies.items():
        if given[flag] and args.kind not in kinds:
            raise UsageError(
                f"{flag} does not apply to the {args.kind} report (only {', '.join(kinds)})"
            )


@dataclasses.dataclass(frozen=True, slots=True)
class _Asked:
    """What the options ask, checked before the history is opened."""

    kind: str
    start: float | None
    end: float | None
    signals: tuple[str, ...] | None
    step_s: float | None
    aggregate: Aggregate


def _asked(args: argparse.Namespace, now: float) -> _Asked:
    _only_for(args)
    start, end = time_range(args, now, default=args.kind in ("metrics", "alerts"))
    return _Asked(
        kind=args.kind,
        start=start,
        end=end,
        signals=parse_signals(args.signal),
        step_s=parse_step(args.step),
        aggregate=Aggregate(args.aggregate or "avg"),
    )


def _export(args: argparse.Namespace, asked: _Asked, reader: HistoryReader) -> Export:
    """The export the options ask for, bound to everything but its stream."""
    clusters = reader.clusters()
    chosen = _cluster(args, clusters)
    key, name = chosen if chosen is not None else (None, "")
    kind = ReportKind(asked.kind)
    if kind is ReportKind.METRICS and key is None:
        raise UsageError(
            f"the metrics report is of one cluster: give --profile NAME or --cluster "
            f"KEY_ID_OR_NAME; {known_clusters(clusters)}"
        )
    members: tuple[str, ...] | None = None
    if args.member:
        known = reader.members(key)
        found = (
            _alert_members(known, args.member)
            if kind is ReportKind.ALERTS
            else resolve_members(known, args.member)
        )
        members = tuple(found)
    request = ReportRequest(
        kind,
        key,
        name,
        start=asked.start,
        end=asked.end,
        step_s=asked.step_s,
        aggregate=asked.aggregate,
        members=members,
        signals=asked.signals,
    )
    export, missing = bound_export(reader, request)
    if missing:
        print(
            f"etcdmon: no values of {', '.join(missing)} in that range; no column for them",
            file=sys.stderr,
        )
    return export


def _quiet_stdout() -> None:
    """After a closed pipe: nothing more to print, and no error at exit about it."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


def cmd_report(args: argparse.Namespace) -> int:
    now = time.time()
    asked = _asked(args, now)
    if args.csv != STDOUT:
        check_output_path(args.csv, "--csv")  # before any reading
    path: Path = args.history or default_path()
    if not path.exists():
        raise UsageError(
            f"no history file at {path}: the desktop app keeps one while it watches "
            "clusters; give another with --history"
        )
    try:
        # The report is as of `now`, the time --from/--to are relative to: a range
        # from -24h then still reads raw samples (kept 24 h), not the minutes after.
        reader = HistoryReader(path, clock=lambda: now)
        try:
            rows = write_export(args.csv, _export(args, asked, reader), what="--csv")
        finally:
            reader.close()
    except KeyboardInterrupt:
        where = "" if args.csv == STDOUT else f"; {args.csv} was not written"
        print(f"etcdmon: report cancelled{where}", file=sys.stderr)
        return EXIT_CANCELLED
    except BrokenPipeError:  # `| head`: the reader has what it wanted
        _quiet_stdout()
        return EXIT_OK
    if args.csv != STDOUT:
        print(f"wrote {rows} rows to {args.csv}", file=sys.stderr)
    return EXIT_OK


def register(sub: Any) -> None:
    p = add_command(
        sub,
        "report",
        help="the history (metrics, alerts, members, benchmarks) as CSV",
        description="Write the history the desktop app keeps as CSV: RFC 4180, UTF-8, one\n"
        "header row, units in column names, times in UTC as 2026-12-03T04:05:06.000Z.\n\n"
        "  metrics     one row per time and member, a column per signal; the cluster-wide\n"
        "              signals on a row with an empty member_id and member_name (cluster)\n"
        "  alerts      every alert transition (firing, repeat, resolved)\n"
        "  members     the member inventory, with when each was first and last seen\n"
        "  benchmarks  one row per benchmark run, every figure of its summary",
        codes=f"  0  the report was written\n{USAGE_CODE};\n"
        "     also an unknown cluster, member or signal, a bad time or step, no usable history\n"
        "     file (missing, locked, damaged, from a newer version)\n"
        f"  {EXIT_CANCELLED}  Ctrl-C: cancelled, no file written",
        example="etcdmon report metrics --profile prod --from -7d --step 5m "
        "--signal db_size_bytes --signal wal_fsync_p99_ms --csv prod.csv",
    )
    # `--from -24h`: a value, not an option.
    p._negative_number_matcher = _NEGATIVE
    p.add_argument("kind", choices=KINDS, help="which report")
    which = p.add_argument_group("which cluster").add_mutually_exclusive_group()
    which.add_argument(
        "--profile",
        metavar="NAME",
        help="the cluster a saved profile watches (see `etcdmon profile`)",
    )
    which.add_argument(
        "--cluster",
        metavar="KEY_ID_OR_NAME",
        help="a cluster in the history: its connection key, its etcd cluster id in hex or "
        "its name. Required for metrics; the other reports default to every cluster",
    )
    p.add_argument(
        "--profiles-file",
        type=Path,
        default=None,
        help="profiles YAML (default: $ETCDMON_PROFILES or the user config dir)",
    )
    p.add_argument(
        "--from",
        dest="start",
        metavar="WHEN",
        help="start of the range, included: an ISO-8601 date or time (2026-12-01, "
        "2026-12-01T10:00, ...Z or +02:00; without a zone: UTC; a date alone is its "
        "midnight) or relative to now (-24h, -7d, now). Default: -24h for metrics and "
        "alerts, no bound for members (those seen in the range) and benchmarks (runs "
        "started in it)",
    )
    p.add_argument(
        "--to",
        dest="end",
        metavar="WHEN",
        help="end of the range, included; the same forms (default: now)",
    )
    p.add_argument(
        "--step",
        metavar="DURATION",
        help="metrics: one point per step (1m, 5m, 1h), each the --aggregate of the values "
        "in it (default: every value, as finely as the history still keeps that range: "
        "raw for 24 h, per minute for 30 days, per hour for a year)",
    )
    p.add_argument(
        "--signal",
        action="append",
        metavar="KEY",
        help="metrics: only this signal (repeat, or comma-separate; default: all), e.g. "
        "db_size_bytes, wal_fsync_p99_ms",
    )
    p.add_argument(
        "--member",
        action="append",
        metavar="NAME_OR_ID",
        help="metrics, alerts, members: only this member, by name or id in hex (repeat for "
        "more); metrics then leave out the cluster-wide row",
    )
    p.add_argument(
        "--aggregate",
        choices=[a.value for a in Aggregate],
        help="metrics: which figure of a rolled-up point (default avg)",
    )
    p.add_argument(
        "--csv",
        required=True,
        metavar="FILE",
        help="the file to write (written whole, or not at all); - for standard output",
    )
    p.add_argument(
        "--history",
        type=Path,
        metavar="PATH",
        help="history database (default: the one in the user data folder, which the app "
        "and etcdmon watch share)",
    )
    p.set_defaults(func=cmd_report)
