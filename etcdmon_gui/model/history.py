"""What the history keeps and hands back: signals over time, member inventory, benchmark
runs, and the questions asked of it. Types only; ``store.history`` keeps them on disk,
``monitor.history_signals`` reads them off a snapshot.

Times are UNIX seconds (floats) everywhere here; the store keeps milliseconds.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from etcdmon_gui.model.alerts import Severity

FloatArray = npt.NDArray[np.float64]

CLUSTER_WIDE = ""  # the member of a cluster-wide signal


class Resolution(enum.Enum):
    """How finely a stretch of history is kept: every sample, or rolled up per minute or
    per hour (min / avg / max / last of the samples in it). ``value`` is the step in
    seconds (0: as sampled)."""

    RAW = 0
    MINUTE = 60
    HOUR = 3600

    @property
    def label(self) -> str:
        return {0: "raw", 60: "1m", 3600: "1h"}[self.value]


class Aggregate(enum.Enum):
    """Which of a rolled-up point's figures to read (a raw sample has one of each)."""

    MIN = "min"
    AVG = "avg"
    MAX = "max"
    LAST = "last"


#: What a user may ask the history to keep: raw samples from 1 h to 30 days
#: (``--keep-raw``, the settings dialog), a size limit of at least 10 MB.
KEEP_RAW_RANGE_S = (3600.0, 30 * 86_400.0)
MIN_HISTORY_BYTES = 10_000_000


@dataclass(frozen=True, slots=True)
class HistoryLimits:
    """How long each resolution is kept, and the most the file may hold."""

    raw_s: float = 86_400.0
    minute_s: float = 30 * 86_400.0
    hour_s: float = 365 * 86_400.0
    max_bytes: int = 2 * 1024**3


class SignalScope(enum.Enum):
    MEMBER = "member"
    CLUSTER = "cluster"


@dataclass(frozen=True, slots=True)
class SignalDef:
    """One numeric signal the history keeps. ``key`` carries its unit (``db_size_bytes``,
    ``wal_fsync_p99_ms``), so it is also its CSV column name."""

    key: str
    title: str
    unit: str  # "ms", "bytes", "per_s", "ratio", "count", "bool", "days"
    scope: SignalScope


@dataclass(frozen=True, slots=True)
class Sample:
    """One value of one signal at one instant; ``member`` is the member id in hex, or
    ``CLUSTER_WIDE``."""

    member: str
    signal: str
    value: float


@dataclass(frozen=True, slots=True)
class Series:
    """One signal of one member (or the cluster) over a range, at one resolution.
    ``ts`` are the points' start times; for raw samples ``min == avg == max == last``."""

    cluster: str
    member: str
    signal: str
    resolution: Resolution
    step_s: float  # the width of a point (0 for raw samples shown one by one)
    ts: FloatArray
    min: FloatArray
    avg: FloatArray
    max: FloatArray
    last: FloatArray

    def __len__(self) -> int:
        return len(self.ts)


class MemberRole(enum.Enum):
    LEADER = "leader"
    FOLLOWER = "follower"
    LEARNER = "learner"
    DOWN = "down"  # not answering: its role is not known


@dataclass(frozen=True, slots=True)
class MemberRecord:
    """A member as the history last saw it, with when it was first and last seen."""

    cluster: str
    member: str  # id in hex
    name: str
    peer_urls: tuple[str, ...]
    client_urls: tuple[str, ...]
    version: str | None
    role: MemberRole
    db_size: int | None
    first_seen: float
    last_seen: float


class MemberChange(enum.Enum):
    JOINED = "joined"
    LEFT = "left"
    VERSION_CHANGED = "version changed"
    PROMOTED = "promoted"  # a learner became a voting member
    LEADER_CHANGED = "leader changed"  # ``member`` is the new leader


@dataclass(frozen=True, slots=True)
class MemberEvent:
    at: float
    cluster: str
    member: str  # id in hex
    name: str
    change: MemberChange
    detail: str  # e.g. "3.5.9 -> 3.5.10", "was 8e9e05c52164694d"


@dataclass(frozen=True, slots=True)
class ClusterRecord:
    """A cluster the history has samples of: its connection key (profile id or
    endpoints, as on ``ClusterSnapshot.key``), its name, its etcd cluster id in hex."""

    key: str
    name: str
    cluster_id: str | None
    first_seen: float
    last_seen: float


@dataclass(frozen=True, slots=True)
class BenchRunRecord:
    """One benchmark run as kept: the flat summary (``bench.report.summary_row``: column
    name with unit -> value) and the headline figures a comparison lists."""

    id: int
    cluster: str
    cluster_name: str
    started_at: float
    label: str
    workload: str
    requests_per_s: float
    p50_ms: float | None
    p99_ms: float | None
    errors: int
    verdict: str | None  # "PASS" / "FAIL" for check perf, else None
    summary: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AlertQuery:
    """Which alert events to list: every set field must match; times are inclusive."""

    cluster: str | None = None
    rule: str | None = None
    severity: Severity | None = None
    since: float | None = None
    until: float | None = None
    limit: int = 10_000


@dataclass(frozen=True, slots=True)
class MetricsQuery:
    """What a metrics export or a long-range chart reads: one cluster, some members
    (``None``: all), some signals (``None``: all), a range, and a step (``None``: the
    finest resolution kept for the range)."""

    cluster: str
    start: float
    end: float
    signals: tuple[str, ...] | None = None
    members: tuple[str, ...] | None = None
    step_s: float | None = None
    aggregate: Aggregate = Aggregate.AVG


class HistoryError(Exception):
    """The history file cannot be used (locked, read-only, full, corrupt, a newer
    schema): ``str(exc)`` says which file, what is wrong and what to do. The file is
    never deleted or replaced because of it."""

    def __init__(self, message: str, *, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path


class ReportKind(enum.Enum):
    METRICS = "metrics"
    ALERTS = "alerts"
    MEMBERS = "members"
    BENCHMARKS = "benchmarks"

    @property
    def title(self) -> str:
        return {
            "metrics": "Metrics",
            "alerts": "Alert history",
            "members": "Members",
            "benchmarks": "Benchmark runs",
        }[self.value]


@dataclass(frozen=True, slots=True)
class ReportRequest:
    """One CSV report as ``etcdmon report`` and File → Export… ask for it. ``cluster``
    is the connection key (None: every cluster; metrics are of one); ``start``/``end``
    UNIX seconds (None: no bound; metrics need both). ``step_s``: None for the finest
    level kept. ``members``: for metrics and members the ids in hex (``CLUSTER_WIDE``
    for the cluster-wide row), for alerts what an alert's member reads (names or ids);
    ``signals``: keys. None: all."""

    kind: ReportKind
    cluster: str | None
    cluster_name: str = ""
    start: float | None = None
    end: float | None = None
    step_s: float | None = None
    aggregate: Aggregate = Aggregate.AVG
    members: tuple[str, ...] | None = None
    signals: tuple[str, ...] | None = None

    def metrics_query(self) -> MetricsQuery:
        if self.cluster is None or self.start is None or self.end is None:
            raise ValueError("a metrics report is of one cluster over a bounded range")
        return MetricsQuery(
            cluster=self.cluster,
            start=self.start,
            end=self.end,
            signals=self.signals,
            members=self.members,
            step_s=self.step_s,
            aggregate=self.aggregate,
        )

    def alert_query(self) -> AlertQuery:
        return AlertQuery(cluster=self.cluster, since=self.start, until=self.end)
