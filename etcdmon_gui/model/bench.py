"""What a benchmark is asked to do, how far it has got, and what it found.

Frozen, slotted dataclasses with no I/O, so a worker can hand them across threads and a
view can keep them. Times are seconds (floats) unless a name says otherwise; latencies
count successful requests only, as etcd's ``tools/benchmark`` does.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

DEFAULT_PREFIX = "/etcdmon-bench/"
PERCENTILES: tuple[float, ...] = (10.0, 25.0, 50.0, 75.0, 90.0, 95.0, 99.0, 99.9)
# What an export of a result writes: the per-second series (CSV), or the summary (the
# settings and every figure but the series; JSON when the file ends in .json, else CSV)
EXPORT_SERIES, EXPORT_SUMMARY = "series", "summary"


class Workload(enum.Enum):
    """The load shapes of etcd's ``tools/benchmark`` that this engine reproduces."""

    PUT = "put"
    RANGE = "range"
    TXN_PUT = "txn-put"
    TXN_MIXED = "txn-mixed"
    WATCH_LATENCY = "watch-latency"

    @property
    def writes(self) -> bool:
        return self is not Workload.RANGE


class Phase(enum.Enum):
    PREPARING = "preparing"  # connecting, checking the prefix and alarms
    RUNNING = "running"
    DRAINING = "draining"  # no new requests; waiting for those in flight
    CLEANING = "cleaning"  # deleting the keys, compacting, defragmenting
    DONE = "done"


@dataclass(frozen=True, slots=True)
class BenchSpec:
    """One benchmark run, with ``tools/benchmark``'s parameters and defaults.

    ``total`` requests, or as many as fit in ``duration_s`` when that is set.
    ``rate`` 0 means unlimited; otherwise a limiter with a burst of 1 (like
    ``golang.org/x/time/rate`` as etcd's tools use it). Every key written lives under
    ``prefix``; the run deletes them afterwards (``cleanup``). ``compact`` (off by
    default, as in etcd's own tools) also compacts the cluster's history at the
    revision of that delete: compaction is cluster-wide, so it would end other clients'
    watches that are behind that revision and remove history they may still read.
    """

    workload: Workload = Workload.PUT
    clients: int = 1  # requests in flight at once
    conns: int = 1  # gRPC connections (TCP) they share
    total: int = 10_000
    duration_s: float | None = None
    rate: float = 0.0
    # how ``rate`` paces: False, every client waits on the limiter before each request
    # (tools/benchmark); True, one producer waits on it and hands requests to the
    # clients through a buffer of ``clients`` (etcdctl check perf: late wake-ups lose
    # tokens, so a busy client sends less than ``rate``)
    producer_pacing: bool = False
    key_size: int = 8
    val_size: int = 8
    key_space_size: int = 1
    sequential_keys: bool = False
    random_keys: bool = False  # check perf: a random 63-bit number in every key
    prefix: str = DEFAULT_PREFIX
    # range / txn-mixed reads
    range_key: bytes | None = None  # default: the whole prefix
    range_end: bytes | None = None
    linearizable: bool = True
    limit: int = 0
    count_only: bool = False
    # txn-put / txn-mixed
    txn_ops: int = 1
    rw_ratio: float = 1.0
    # watch-latency
    put_rate: float = 100.0  # puts per second (burst = put_rate, as tools/benchmark)
    # safety and housekeeping
    call_timeout_s: float = 10.0
    require_empty_prefix: bool = True
    cleanup: bool = True
    compact: bool = False  # cluster-wide: see the class docstring
    defragment: bool = False
    seed: int | None = None  # random generator seed (tests)
    label: str = ""  # shown in reports, e.g. "check perf s"


@dataclass(frozen=True, slots=True)
class BenchProgress:
    """A progress report, at most ~5 per second, from the engine's thread."""

    cluster_key: str
    timestamp: float  # time.time()
    phase: Phase
    done: int  # requests completed (successes and errors)
    total: int | None  # None when the run is bounded by duration
    elapsed_s: float
    duration_s: float | None
    errors: int
    requests_per_s: float  # successes per second over the last interval
    latency_mean_s: float | None  # over the last interval
    latency_p99_s: float | None
    latency_max_s: float | None
    message: str = ""

    @property
    def fraction(self) -> float | None:
        """0..1 of the work done, for a progress bar; None when it cannot be known."""
        if self.total:
            return min(1.0, self.done / self.total)
        if self.duration_s:
            return min(1.0, self.elapsed_s / self.duration_s)
        return None

    @property
    def eta_s(self) -> float | None:
        fraction = self.fraction
        if fraction is None or fraction <= 0 or self.phase is not Phase.RUNNING:
            return None
        return max(0.0, self.elapsed_s / fraction - self.elapsed_s)


@dataclass(frozen=True, slots=True)
class LatencySummary:
    """Exact min/mean/stddev/max; percentiles from the HdrHistogram (3 significant
    digits), never above the exact maximum."""

    count: int
    min_s: float
    mean_s: float
    stddev_s: float
    max_s: float
    percentiles: tuple[tuple[float, float], ...]  # (percent, seconds)

    def percentile(self, p: float) -> float | None:
        for q, v in self.percentiles:
            if q == p:
                return v
        return None


@dataclass(frozen=True, slots=True)
class HistogramBucket:
    """``tools/benchmark``'s response-time histogram: requests up to ``upper_s``."""

    upper_s: float
    count: int


@dataclass(frozen=True, slots=True)
class SecondPoint:
    """Requests that *started* in one wall-clock second (as ``tools/benchmark --sample``)."""

    unix_second: int
    count: int  # successes
    errors: int
    min_s: float | None
    avg_s: float | None
    max_s: float | None


@dataclass(frozen=True, slots=True)
class ErrorCount:
    code: str  # gRPC status code name, e.g. RESOURCE_EXHAUSTED
    count: int
    message: str  # the first message seen with this code


@dataclass(frozen=True, slots=True)
class KindSummary:
    """One kind of request in a mixed load (txn-mixed: ``read`` and ``write``)."""

    kind: str
    total: int
    errors: int
    requests_per_s: float
    latency: LatencySummary | None


@dataclass(frozen=True, slots=True)
class CleanupReport:
    deleted: int = 0
    compacted_revision: int | None = None
    defragmented: tuple[str, ...] = ()
    error: str | None = None


@dataclass(frozen=True, slots=True)
class BenchResult:
    """Everything a run found; ``requests_per_s`` counts successes, as etcd's tools do."""

    cluster_key: str
    spec: BenchSpec
    started_at: float  # time.time()
    total: int  # requests completed (successes + errors)
    errors: int
    errors_by_code: tuple[ErrorCount, ...]
    duration_s: float
    requests_per_s: float
    latency: LatencySummary | None  # None when nothing succeeded
    histogram: tuple[HistogramBucket, ...]
    series: tuple[SecondPoint, ...]
    by_kind: tuple[KindSummary, ...] = ()
    cancelled: bool = False
    stop_reason: str | None = None  # why the run stopped early (NOSPACE, cancel)
    abandoned: int = 0  # requests still in flight when the load was stopped
    revision_before: int | None = None
    revision_after: int | None = None  # after the load, before cleanup
    keys_under_prefix: int | None = None  # after the load, before cleanup
    cleanup: CleanupReport = field(default_factory=CleanupReport)
    warnings: tuple[str, ...] = ()
    endpoints: tuple[str, ...] = ()

    @property
    def successes(self) -> int:
        return self.total - self.errors

    @property
    def ok(self) -> bool:
        """Completed without errors, without being stopped early."""
        return not self.errors and not self.cancelled and self.stop_reason is None


@dataclass(frozen=True, slots=True)
class CheckPerfPreset:
    """One ``etcdctl check perf --load`` level."""

    name: str
    limit: int  # writes per second
    clients: int
    duration_s: int = 60


@dataclass(frozen=True, slots=True)
class CheckLine:
    passed: bool
    text: str


@dataclass(frozen=True, slots=True)
class CheckPerfResult:
    """A check perf verdict, with the lines ``etcdctl check perf`` would print."""

    preset: CheckPerfPreset
    passed: bool
    lines: tuple[CheckLine, ...]
    result: BenchResult
