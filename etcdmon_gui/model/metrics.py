"""What one member's ``/metrics`` page says, raw and derived.

``RawScrape`` is the filtered content of one page at one instant; ``MemberMetrics`` is
what two consecutive scrapes of the same member mean (rates and windowed quantiles).
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
    """P50/P95/P99 in seconds; ``None`` where there were no observations."""

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
    """Per-member metrics derived from the latest scrape and the one before it.

    Rates are per second over ``window_s``; with no previous scrape they are ``None``
    and the quantiles cover the member's whole lifetime (``window_s`` is ``None``).
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
