"""What one member's ``/metrics`` page says, raw and derived.

``RawScrape`` is the filtered content of one page at one instant; ``MemberMetrics`` is
what the latest scrapes of the same member mean (rates since the previous scrape,
quantiles over a sliding window).
Both are immutable so they can cross threads as signal payloads.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

_EMPTY: Mapping[str, float] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Histogram:
    """A Prometheus histogram: cumulative bucket counts by upper bound, ascending.

    ``bounds`` ends with ``math.inf``; ``counts[i]`` is the number of observations
    ``<= bounds[i]`` (cumulative, as exposed).
    """

    bounds: tuple[float, ...]
    counts: tuple[float, ...]
    total: float
    sum: float


@dataclass(frozen=True, slots=True)
class Quantiles:
    """P50/P95/P99 in seconds; ``None`` where there were no observations to rank."""

    p50: float | None
    p95: float | None
    p99: float | None


@dataclass(frozen=True, slots=True)
class RawScrape:
    """The samples of interest from one ``/metrics`` page.

    ``scalars`` maps a sample key to its value: the metric name for unlabelled
    samples (``etcd_server_has_leader``), or ``name{label="v",...}`` with labels
    sorted by name for labelled ones. ``histograms`` does the same for histograms,
    keyed by family name plus non-``le`` labels. ``grpc_handled`` maps
    ``(grpc_method, grpc_type, grpc_code)`` to its counter.
    """

    taken_at: float  # time.monotonic() of the fetch
    scalars: Mapping[str, float] = field(default_factory=lambda: _EMPTY)
    histograms: Mapping[str, Histogram] = field(default_factory=dict)
    grpc_handled: Mapping[tuple[str, str, str], float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class MemberMetrics:
    """Per-member metrics derived from the latest scrape and those before it.

    ``window_s`` is the time since the previous scrape: the rates are per second over
    it, and with no previous scrape it and the rates are ``None``.

    The latency quantiles (``wal_fsync``, ``backend_commit``, ``peer_rtt``) come from
    the bucket increases over a sliding window of scrapes, ``quantile_window_s`` long
    (about five minutes once the monitor has run that long; see
    ``monitor.metrics_math.HistogramWindow``), like Prometheus'
    ``histogram_quantile(q, rate(..._bucket[5m]))``. A quantile is ``None`` when the
    window holds no new observation: unknown, neither 0 nor the lifetime value. On a
    member's first scrape (a single sweep, as ``etcdmon status`` makes) the quantiles
    cover the member's whole lifetime and ``quantile_window_s`` is ``None``.

    Any field a server version does not export is ``None``.
    """

    window_s: float | None
    wal_fsync: Quantiles | None
    backend_commit: Quantiles | None
    peer_rtt: Quantiles | None
    peer_rtt_by_peer: Mapping[str, Quantiles]
    proposals_committed_per_s: float | None
    proposals_applied_per_s: float | None
    proposals_pending: float | None
    proposals_failed_per_s: float | None
    has_leader: bool | None
    is_leader: bool | None
    leader_changes_total: float | None
    db_total_bytes: float | None
    db_in_use_bytes: float | None
    quota_bytes: float | None
    grpc_requests_per_s: Mapping[str, float]
    grpc_requests_total_per_s: float | None
    grpc_failure_ratio: float | None
    rss_bytes: float | None
    # Failure rates for the mixin's etcdMembersDown rule (peer sent failures > 0.01/s)
    # and the slow-disk symptom; defaulted so existing constructors keep working.
    peer_sent_failures_per_s: float | None = None
    heartbeat_send_failures_per_s: float | None = None
    quantile_window_s: float | None = None
