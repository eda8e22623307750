"""CSV reports of the history: metrics, alerts, the member inventory, benchmark runs.

Every export is one function writing to a text stream; ``output.write_export`` puts it
in a file whole (or on standard output). The format is the same for all four:

- RFC 4180: the ``csv`` module, CRLF line ends, a field quoted only when it holds a
  comma, a double quote (doubled inside) or a line break;
- UTF-8, no byte-order mark;
- exactly one header row, written even when no row follows; a column name carries the
  unit of its values when they have one (``db_size_bytes``, ``wal_fsync_p99_ms``,
  ``time_utc``);
- times are ISO-8601 in UTC, always to the millisecond: ``2026-12-03T04:05:06.000Z``
  (one width for every row, so the column sorts as text and parses with one format);
- numbers as Python writes them, whole numbers without ``.0`` (``1048576``, ``0.25``,
  ``1e-05``); an unknown value (no sample, ``None``) is an empty field, never 0;
- booleans ``true`` / ``false``; a list inside one field is joined with a space (URLs)
  or ``"; "`` (a benchmark summary's lists, as ``bench.report`` writes them);
- ``cluster`` is always the connection key the history is keyed by (``profile:<id>``,
  or the endpoints), ``cluster_name`` what a person calls it.

Exports take a ``progress(done_rows, total_rows | None) -> bool`` callback, asked once
before the first row, every ``PROGRESS_EVERY`` rows and after the last; ``False``
stops the export with ``ExportCancelled``. Each returns the rows written (the header
not counted).

No secret reaches a report: the history holds none (profiles' passwords and keys live
in the secret store, which nothing here opens), and as a second line of defence a
benchmark summary column whose name speaks of a password, token, secret or credential
is left out, and user information in a URL (``https://user:pw@host``) is dropped.
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import math
import re
import time
from collections.abc import Callable, Collection, Iterable, Sequence
from typing import Any, TextIO

from etcdmon_gui.model.alerts import AlertEvent
from etcdmon_gui.model.history import (
    CLUSTER_WIDE,
    AlertQuery,
    BenchRunRecord,
    MemberRecord,
    MetricsQuery,
    ReportKind,
    ReportRequest,
)
from etcdmon_gui.monitor.history_signals import SIGNALS
from etcdmon_gui.store.history.reader import HistoryBackend

#: ``progress(done_rows, total_rows or None)``; returning False cancels the export.
Progress = Callable[[int, int | None], bool]

PROGRESS_EVERY = 1000
#: ``member_name`` of a metrics row holding the cluster-wide signals (``member_id`` "").
CLUSTER_ROW_NAME = "(cluster)"
#: As many rows as there are: the stores' own default limits are for views.
NO_LIMIT = 2**62

METRICS_COLUMNS = ("time_utc", "cluster", "cluster_name", "member_id", "member_name")
ALERT_COLUMNS = (
    "time_utc",
    "event",
    "cluster",
    "cluster_name",
    "rule",
    "severity",
    "member",
    "state",
    "value",
    "summary",
    "since_utc",
    "fired_at_utc",
    "resolved_at_utc",
    "acknowledged",
    "silenced",
    "silence_reason",
    "fingerprint",
)
MEMBER_COLUMNS = (
    "cluster",
    "cluster_name",
    "member_id",
    "name",
    "peer_urls",
    "client_urls",
    "version",
    "role",
    "db_size_bytes",
    "first_seen_utc",
    "last_seen_utc",
)
BENCH_COLUMNS = ("started_at_utc", "cluster", "cluster_name", "label", "workload", "verdict")

_SECRET_WORDS = re.compile(r"pass(word|wd|phrase)|secret|token|credential|private_key", re.I)
_USERINFO = re.compile(r"(\b[a-z][a-z0-9+.-]*://)[^/@\s]*@", re.I)


class ExportCancelled(Exception):
    """The progress callback asked to stop; nothing of the export should be kept."""

    def __init__(self, done: int) -> None:
        super().__init__(f"export cancelled after {done} rows")
        self.done = done


# -- cells ---------------------------------------------------------------------------


def utc(t: float | None) -> str:
    """``2026-12-03T04:05:06.000Z``; "" for no time (or one that is not finite)."""
    if t is None or not math.isfinite(t):
        return ""
    seconds, millis = divmod(round(t * 1000), 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{millis:03d}Z"


def number(v: float | int | None) -> str:
    """A number as text: whole ones without ``.0``, others as Python's shortest
    round-trip form; "" for none (or NaN, infinity)."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if not math.isfinite(v):
        return ""
    if v.is_integer() and abs(v) < 2**53:
        return str(int(v))
    return repr(float(v))


def _scrub(text: str) -> str:
    """``text`` without user information in URLs (``https://user:pw@host``)."""
    return _USERINFO.sub(r"\1", text)


def _flag(v: bool) -> str:
    return "true" if v else "false"


def cell(v: Any) -> str:
    """Any summary value as one field: numbers as ``number``, lists joined with
    ``"; "``, None empty."""
    if v is None:
        return ""
    if isinstance(v, bool | int | float):
        return number(v)
    if isinstance(v, list | tuple):
        return "; ".join(cell(x) for x in v)
    return _scrub(str(v))


def _writer(out: TextIO) -> Any:
    return csv.writer(out, lineterminator="\r\n")


class _Rows:
    """Writes rows and asks ``progress`` before the first, every ``PROGRESS_EVERY``
    and after the last."""

    def __init__(self, out: TextIO, total: int | None, progress: Progress | None) -> None:
        self._writer = _writer(out)
        self._total = total
        self._progress = progress
        self.done = 0
        self._ask()

    def _ask(self) -> None:
        if self._progress is None:
            return
        total = None if self._total is None else max(self._total, self.done)
        if not self._progress(self.done, total):
            raise ExportCancelled(self.done)

    def header(self, columns: Iterable[str]) -> None:
        self._writer.writerow(columns)

    def row(self, values: Iterable[str]) -> None:
        self._writer.writerow(values)
        self.done += 1
        if self.done % PROGRESS_EVERY == 0:
            self._ask()

    def finish(self) -> int:
        if self.done % PROGRESS_EVERY or self.done == 0:
            self._ask()
        return self.done


# -- metrics -------------------------------------------------------------------------


def metric_columns(reader: HistoryBackend, q: MetricsQuery) -> tuple[str, ...]:
    """The signal columns of a metrics export of ``q``: the signals of ``SIGNALS`` it
    selects (all when ``q.signals`` is None) that have a point in its range, members
    and step as ``q`` says, in ``SIGNALS`` order. Signals the history holds that this
    version does not know are left out."""
    wanted = None if q.signals is None else set(q.signals)
    return tuple(
        s.key
        for s in SIGNALS
        if (wanted is None or s.key in wanted)
        and reader.count_points(dataclasses.replace(q, signals=(s.key,))) > 0
    )


def export_metrics(
    reader: HistoryBackend,
    q: MetricsQuery,
    out: TextIO,
    *,
    cluster_name: str | None = None,
    columns: Sequence[str] | None = None,
    progress: Progress | None = None,
) -> int:
    """One row per (time, member) of ``q``'s cluster, oldest first:

    ``time_utc, cluster, cluster_name, member_id, member_name, <signal keys>``

    The signal columns are ``columns`` (default: ``metric_columns(reader, q)``); a
    member row leaves the cluster-wide signals empty and the cluster-wide row (one per
    time, ``member_id`` "" and ``member_name`` ``(cluster)``) the member signals; a
    signal with no value at that time is empty too. A row's time is its point's start:
    the sample's time for raw samples, the period's start when ``q.step_s`` rolls them
    up (``q.aggregate`` picks the figure: avg, min, max or last). ``member_name`` is the
    inventory's name of the member ("" if it has none). ``cluster_name`` defaults to the
    history's name of the cluster."""
    if columns is None:
        columns = metric_columns(reader, q)
    if cluster_name is None:
        cluster_name = next((c.name for c in reader.clusters() if c.key == q.cluster), "")
    names = {m.member: m.name for m in reader.members(q.cluster)}
    names[CLUSTER_WIDE] = CLUSTER_ROW_NAME
    selected = dataclasses.replace(q, signals=tuple(columns))
    rows = _Rows(out, reader.count_points(selected) if columns else 0, progress)
    rows.header((*METRICS_COLUMNS, *columns))
    if not columns:
        return rows.finish()

    def emit(t: float, member: str, values: dict[str, float]) -> None:
        rows.row(
            (
                utc(t),
                q.cluster,
                cluster_name,
                member,
                names.get(member, ""),
                *(number(values.get(c)) for c in columns),
            )
        )

    current: tuple[float, str] | None = None
    values: dict[str, float] = {}
    for t, member, key, value in reader.points(selected):
        if current != (t, member):
            if current is not None:
                emit(*current, values)
            current, values = (t, member), {}
        values[key] = value
    if current is not None:
        emit(*current, values)
    return rows.finish()


# -- alerts --------------------------------------------------------------------------


def _silenced(event: AlertEvent) -> bool:
    a = event.alert
    own = a.silenced_until is not None and event.at < a.silenced_until
    return own or a.silenced_by is not None


def _silence_reason(event: AlertEvent) -> str:
    a = event.alert
    if a.silence_reason:
        return a.silence_reason
    return a.silenced_by.reason if a.silenced_by is not None else ""


def export_alerts(
    reader: HistoryBackend,
    q: AlertQuery,
    out: TextIO,
    *,
    members: Collection[str] | None = None,
    progress: Progress | None = None,
) -> int:
    """Every alert transition ``q`` selects (all of them: ``q.limit`` is not applied
    here), oldest first, as the alert was at that moment:

    ``time_utc, event, cluster, cluster_name, rule, severity, member, state, value,
    summary, since_utc, fired_at_utc, resolved_at_utc, acknowledged, silenced,
    silence_reason, fingerprint``

    ``event`` is firing, resolved or repeat; ``severity`` info, warning or critical;
    ``member`` the member's name (or id) as the alert names it, "" for a cluster-wide
    rule; ``value`` the signal's value at the last evaluation; ``silenced`` whether the
    alert's own silence or a matcher silence held at that time. ``members``: only the
    alerts of these members (by the name or id they carry)."""
    # The store lists the newest first.
    events = list(reversed(reader.alert_events(dataclasses.replace(q, limit=NO_LIMIT))))
    if members is not None:
        wanted = set(members)
        events = [e for e in events if e.alert.member in wanted]
    rows = _Rows(out, len(events), progress)
    rows.header(ALERT_COLUMNS)
    for e in events:
        a = e.alert
        rows.row(
            (
                utc(e.at),
                e.kind.value,
                a.cluster,
                a.cluster_name,
                a.rule,
                a.severity.name.lower(),
                a.member or "",
                a.state.value,
                number(a.value),
                a.summary,
                utc(a.since),
                utc(a.fired_at),
                utc(a.resolved_at),
                _flag(a.acknowledged),
                _flag(_silenced(e)),
                _silence_reason(e),
                a.fingerprint,
            )
        )
    return rows.finish()


# -- members -------------------------------------------------------------------------


def _in_range(first: float, last: float, since: float | None, until: float | None) -> bool:
    return (since is None or last >= since) and (until is None or first <= until)


def export_members(
    reader: HistoryBackend,
    out: TextIO,
    *,
    cluster: str | None = None,
    members: Collection[str] | None = None,
    since: float | None = None,
    until: float | None = None,
    progress: Progress | None = None,
) -> int:
    """The member inventory, by cluster then member name:

    ``cluster, cluster_name, member_id, name, peer_urls, client_urls, version, role,
    db_size_bytes, first_seen_utc, last_seen_utc``

    URL lists are joined with a space; ``role`` is leader, follower, learner or down
    (as last seen); ``version`` and ``db_size_bytes`` are the last known ones.
    ``cluster``: one cluster's (default: every cluster's); ``members``: only these
    member ids; ``since`` / ``until``: only members seen within that time (last seen
    at or after ``since``, first seen at or before ``until``)."""
    names = {c.key: c.name for c in reader.clusters()}
    records: list[MemberRecord] = [
        m
        for m in reader.members(cluster)
        if (members is None or m.member in members)
        and _in_range(m.first_seen, m.last_seen, since, until)
    ]
    rows = _Rows(out, len(records), progress)
    rows.header(MEMBER_COLUMNS)
    for m in records:
        rows.row(
            (
                m.cluster,
                names.get(m.cluster, ""),
                m.member,
                m.name,
                _scrub(" ".join(m.peer_urls)),
                _scrub(" ".join(m.client_urls)),
                m.version or "",
                m.role.value,
                number(m.db_size),
                utc(m.first_seen),
                utc(m.last_seen),
            )
        )
    return rows.finish()


# -- benchmarks ----------------------------------------------------------------------


def summary_columns(runs: Iterable[BenchRunRecord]) -> list[str]:
    """The union of the runs' summary keys in first-seen order, without those the
    fixed columns already have and any that could name a secret."""
    seen: dict[str, None] = {}
    for run in runs:
        for key in run.summary:
            if key not in BENCH_COLUMNS and not _SECRET_WORDS.search(key):
                seen.setdefault(key, None)
    return list(seen)


def export_benchmarks(
    reader: HistoryBackend,
    out: TextIO,
    *,
    cluster: str | None = None,
    since: float | None = None,
    until: float | None = None,
    progress: Progress | None = None,
) -> int:
    """One row per benchmark run, oldest first:

    ``started_at_utc, cluster, cluster_name, label, workload, verdict`` then every
    column of the runs' stored summaries (``bench.report.summary_row``'s flat row; the
    union of their keys in first-seen order, empty where a run lacks one). ``verdict``
    is PASS / FAIL for check perf, else empty. ``cluster``: one cluster's runs
    (default: all); ``since`` / ``until``: runs started within that time."""
    runs = [
        r
        for r in reversed(reader.bench_runs(cluster, limit=NO_LIMIT))
        if (since is None or r.started_at >= since) and (until is None or r.started_at <= until)
    ]
    extra = summary_columns(runs)
    rows = _Rows(out, len(runs), progress)
    rows.header((*BENCH_COLUMNS, *extra))
    for r in runs:
        rows.row(
            (
                utc(r.started_at),
                r.cluster,
                r.cluster_name,
                r.label,
                r.workload,
                r.verdict or "",
                *(cell(r.summary.get(k)) for k in extra),
            )
        )
    return rows.finish()


def bound_export(
    reader: HistoryBackend, r: ReportRequest, progress: Progress | None = None
) -> tuple[Callable[[TextIO], int], tuple[str, ...]]:
    """The export ``r`` asks for, bound to everything but its stream, as the CLI and
    File → Export… both run it; and the signals asked for that have no value in the
    range (no column for them: the caller says so)."""
    if r.kind is ReportKind.METRICS:
        q = r.metrics_query()
        columns = metric_columns(reader, q)
        missing = tuple(s for s in q.signals or () if s not in columns)
        name = r.cluster_name or None
        export = functools.partial(
            export_metrics, reader, q, cluster_name=name, columns=columns, progress=progress
        )
        return export, missing
    if r.kind is ReportKind.ALERTS:
        aq, members = r.alert_query(), r.members
        return lambda out: export_alerts(reader, aq, out, members=members, progress=progress), ()
    what = export_members if r.kind is ReportKind.MEMBERS else export_benchmarks
    kwargs: dict[str, Any] = {"members": r.members} if r.kind is ReportKind.MEMBERS else {}
    export = functools.partial(
        what, reader, cluster=r.cluster, since=r.start, until=r.end, progress=progress, **kwargs
    )
    return export, ()
