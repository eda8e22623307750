"""Pure arithmetic on scraped etcd metrics: quantiles, deltas, rates.

Promises:

* ``histogram_quantile`` has exactly Prometheus' classic-histogram semantics
  (``promql/quantile.go``, ``bucketQuantile``): buckets sorted and coalesced by bound,
  tiny precision errors and non-monotonic counts smoothed, linear interpolation inside
  the bucket holding the rank, a lower bound of 0 for the first bucket when its upper
  bound is positive, the highest finite bound when the rank falls in the ``+Inf``
  bucket. Where Prometheus answers NaN (no observations, fewer than two buckets, no
  ``+Inf`` bucket, NaN ``q``) the answer is ``None``.
* ``histogram_delta`` and every rate treat a counter reset like Prometheus' ``increase``:
  if the current value is below the previous one, the increase is the current value.
* ``HistogramWindow`` gives quantiles over a sliding window of bucket increases, like
  ``histogram_quantile(q, rate(x_bucket[5m]))``: etcd observes peer round trips only
  every ~30 s, so between two 5 s scrapes there is usually nothing new to rank.
* ``derive`` never raises because a metric is missing: whatever a server version does
  not export comes out as ``None`` (or an empty mapping).

No I/O, no clock: windows are differences of the scrapes' ``taken_at``.
"""

from __future__ import annotations

import logging
import math
import re
from array import array
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

from etcdmon_gui.model.metrics import Histogram, MemberMetrics, Quantiles, RawScrape

__all__ = [
    "FAILED_GRPC_CODES",
    "HISTOGRAM_WINDOW_S",
    "WINDOW_SLOTS",
    "HistogramWindow",
    "counter_increase",
    "derive",
    "histogram_delta",
    "histogram_quantile",
    "merge_histograms",
    "quantiles",
    "split_key",
]

_log = logging.getLogger(__name__)

#: The etcd mixin's ``FAIL`` codes.
FAILED_GRPC_CODES: Final = frozenset(
    {
        "Unknown",
        "FailedPrecondition",
        "ResourceExhausted",
        "Internal",
        "Unavailable",
        "DataLoss",
        "DeadlineExceeded",
    }
)

WAL_FSYNC: Final = "etcd_disk_wal_fsync_duration_seconds"
BACKEND_COMMIT: Final = "etcd_disk_backend_commit_duration_seconds"
PEER_RTT: Final = "etcd_network_peer_round_trip_time_seconds"
PEER_SENT_FAILURES: Final = "etcd_network_peer_sent_failures_total"
HEARTBEAT_FAILURES: Final = "etcd_server_heartbeat_send_failures_total"
DB_TOTAL: Final = ("etcd_mvcc_db_total_size_in_bytes", "etcd_debugging_mvcc_db_total_size_in_bytes")
DB_IN_USE: Final = "etcd_mvcc_db_total_size_in_use_in_bytes"

_PRECISION_TOLERANCE: Final = 1e-12

#: How far back latency quantiles look: the etcd mixin's ``rate(...[5m])``.
HISTOGRAM_WINDOW_S: Final = 300.0
#: Snapshots a window keeps per series besides its baseline and newest one: sweeps
#: closer together than ``window_s / WINDOW_SLOTS`` are thinned out.
WINDOW_SLOTS: Final = 60


# --------------------------------------------------------------------------- keys


_KEY_RE: Final = re.compile(r"^(?P<name>[^{]+)(?:\{(?P<labels>.*)\})?$", re.DOTALL)
_LABEL_RE: Final = re.compile(r'(?P<k>[A-Za-z_][A-Za-z0-9_]*)="(?P<v>(?:[^"\\]|\\.)*)",?')
_UNESCAPE: Final = {"\\\\": "\\", '\\"': '"', "\\n": "\n"}


def split_key(key: str) -> tuple[str, dict[str, str]]:
    """Invert the ``RawScrape`` key format: ``name{a="x"}`` -> ``("name", {"a": "x"})``."""
    match = _KEY_RE.match(key)
    if match is None:
        return key, {}
    labels: dict[str, str] = {}
    for lab in _LABEL_RE.finditer(match.group("labels") or ""):
        labels[lab.group("k")] = re.sub(
            r"\\[\\\"n]", lambda m: _UNESCAPE[m.group(0)], lab.group("v")
        )
    return match.group("name"), labels


def _family_items(
    mapping: Mapping[str, Histogram], name: str
) -> Iterable[tuple[str, dict[str, str], Histogram]]:
    """``(key, labels, value)`` for every series of family ``name`` in ``mapping``."""
    prefix = name + "{"
    for key, value in mapping.items():
        if key == name:
            yield key, {}, value
        elif key.startswith(prefix):
            yield key, split_key(key)[1], value


# --------------------------------------------------------------------------- histograms


def histogram_quantile(q: float, h: Histogram) -> float | None:
    """The ``q``-quantile of ``h`` as Prometheus' ``histogram_quantile`` computes it."""
    if math.isnan(q):
        return None
    if q < 0:
        return -math.inf
    if q > 1:
        return math.inf
    if not h.bounds:
        return None
    pairs = sorted(zip(h.bounds, h.counts, strict=True), key=lambda bc: bc[0])
    if not math.isinf(pairs[-1][0]) or pairs[-1][0] < 0:
        return None
    # coalesceBuckets: merge buckets with the same upper bound.
    bounds: list[float] = []
    counts: list[float] = []
    for bound, count in pairs:
        if bounds and bounds[-1] == bound:
            counts[-1] += count
        else:
            bounds.append(bound)
            counts.append(count)
    # correctPrecisionErrors, then ensureMonotonic.
    prev = counts[0]
    for i in range(1, len(counts)):
        delta = abs(counts[i] - prev)
        if delta == 0:
            continue
        if delta / counts[i] <= _PRECISION_TOLERANCE:
            counts[i] = prev
        else:
            prev = counts[i]
    highest = counts[0]
    for i in range(1, len(counts)):
        if counts[i] > highest:
            highest = counts[i]
        elif counts[i] < highest:
            counts[i] = highest
    if len(counts) < 2:
        return None
    observations = counts[-1]
    if observations == 0:
        return None
    rank = q * observations
    # sort.Search over all buckets but +Inf: first index whose count reaches the rank.
    b = next((i for i in range(len(counts) - 1) if counts[i] >= rank), len(counts) - 1)
    if b == len(counts) - 1:
        return bounds[-2]
    if b == 0 and bounds[0] <= 0:
        return bounds[0]
    bucket_start = 0.0
    bucket_end = bounds[b]
    count = counts[b]
    if b > 0:
        bucket_start = bounds[b - 1]
        count -= counts[b - 1]
        rank -= counts[b - 1]
    if count == 0:  # only reachable with q == 0 and an empty first bucket: 0/0 in Go
        return None
    return bucket_start + (bucket_end - bucket_start) * (rank / count)


def quantiles(h: Histogram) -> Quantiles:
    """P50/P95/P99 of ``h``; each ``None`` when ``h`` holds no observations."""
    return Quantiles(
        p50=histogram_quantile(0.50, h),
        p95=histogram_quantile(0.95, h),
        p99=histogram_quantile(0.99, h),
    )


def histogram_delta(prev: Histogram, cur: Histogram) -> Histogram:
    """The observations ``cur`` gained since ``prev``.

    A counter reset (any bucket or the count went down) or a change of bucket layout
    yields ``cur`` unchanged, as Prometheus' ``increase`` does after a reset.
    """
    if prev.bounds != cur.bounds or len(prev.counts) != len(cur.counts):
        return cur
    if cur.total < prev.total or any(c < p for p, c in zip(prev.counts, cur.counts, strict=True)):
        return cur
    return Histogram(
        bounds=cur.bounds,
        counts=tuple(c - p for p, c in zip(prev.counts, cur.counts, strict=True)),
        total=cur.total - prev.total,
        sum=cur.sum - prev.sum,
    )


def merge_histograms(histograms: Iterable[Histogram]) -> Histogram | None:
    """Sum histograms bucket by bucket (PromQL ``sum by (le)``); ``None`` if none given.

    Bounds missing from some inputs simply contribute nothing for those inputs, exactly
    like ``sum by (le)`` over series with different layouts.
    """
    by_bound: dict[float, float] = {}
    total = 0.0
    total_sum = 0.0
    seen = False
    for h in histograms:
        seen = True
        for bound, count in zip(h.bounds, h.counts, strict=True):
            by_bound[bound] = by_bound.get(bound, 0.0) + count
        total += h.total
        total_sum += h.sum
    if not seen:
        return None
    bounds = tuple(sorted(by_bound))
    return Histogram(
        bounds=bounds, counts=tuple(by_bound[b] for b in bounds), total=total, sum=total_sum
    )


# --------------------------------------------------------------------------- windows


@dataclass(slots=True)
class _Series:
    """One histogram series in a window: its layout, what it last exposed, and its
    reset-corrected cumulative snapshots ``(taken_at, counts + (total, sum))``."""

    bounds: tuple[float, ...]
    last: tuple[float, ...]
    offset: tuple[float, ...]
    snaps: deque[tuple[float, array[float]]]

    def push(self, t: float, values: array[float], window_s: float, resolution: float) -> None:
        snaps = self.snaps
        if len(snaps) >= 2 and snaps[-1][0] - snaps[-2][0] < resolution:
            snaps[-1] = (t, values)  # thinning: the newest replaces a too-close one
        else:
            snaps.append((t, values))
        # Keep one baseline at or before the window's start, drop what is older.
        while len(snaps) >= 2 and snaps[1][0] <= t - window_s:
            snaps.popleft()


class HistogramWindow:
    """One member's histograms over a sliding window of scrapes; not thread-safe.

    Promises:

    * ``add`` records every histogram series of a scrape, corrected for resets: when any
      bucket or the count of a series goes down (the member restarted), what the series
      held before is carried as an offset. The increase over the window is then the sum
      of the increases between consecutive scrapes, each counted from zero after a
      reset: Prometheus' ``increase`` of every bucket, the reset judged per histogram.
      A change of bucket layout starts the series afresh.
    * ``increase(key)`` is the newest snapshot minus the *baseline*: the newest snapshot
      at or before ``newest - window_s``, or the oldest kept. So an observation counts
      from the first scrape that shows it for ``window_s`` seconds of scrapes; a window
      shorter than the scrape interval degrades to "since the previous scrape", and
      after a gap in the scrapes the increase spans the gap. No extrapolation to the
      window's edges as ``rate`` does: quantiles do not change with a common scale.
    * A series seen in one scrape only gives its own counts: its lifetime. That is the
      first scrape of the member (what a single ``etcdmon status`` sweep shows), or a
      series that appeared later (Go's client prints a vector's series once observed).
    * Memory: at most ``WINDOW_SLOTS + 2`` snapshots per series (sweeps closer than
      ``window_s / WINDOW_SLOTS`` are thinned, which only ever lengthens the window by
      less than that); a series absent from the scrapes for ``window_s`` is forgotten.
    * No clock: time is ``RawScrape.taken_at``; a scrape not newer than the last one
      added is ignored.
    """

    def __init__(self, window_s: float = HISTOGRAM_WINDOW_S) -> None:
        if not window_s > 0:
            raise ValueError(f"histogram window must be positive, not {window_s}")
        self.window_s = float(window_s)
        self._resolution = self.window_s / WINDOW_SLOTS
        self._series: dict[str, _Series] = {}
        self.latest_at: float | None = None

    def add(self, scrape: RawScrape) -> None:
        """Record the histograms of ``scrape``, the newest scrape of this member."""
        t = scrape.taken_at
        if self.latest_at is not None and not t > self.latest_at:
            _log.debug("scrape at %s is not newer than %s; not windowed", t, self.latest_at)
            return
        self.latest_at = t
        for key, h in scrape.histograms.items():
            raw = (*h.counts, h.total, h.sum)
            series = self._series.get(key)
            if series is None or series.bounds != h.bounds or len(series.last) != len(raw):
                series = _Series(h.bounds, raw, (0.0,) * len(raw), deque())
                self._series[key] = series
            else:
                # The sum is left out of the reset test: only counts must never fall.
                if any(c < p for c, p in zip(raw[:-1], series.last[:-1], strict=True)):
                    series.offset = tuple(
                        o + p for o, p in zip(series.offset, series.last, strict=True)
                    )
                series.last = raw
            corrected = array("d", (r + o for r, o in zip(raw, series.offset, strict=True)))
            series.push(t, corrected, self.window_s, self._resolution)
        for key in [k for k, s in self._series.items() if s.snaps[-1][0] < t - self.window_s]:
            del self._series[key]

    def increase(self, key: str) -> Histogram | None:
        """Observations of series ``key`` in the window (see the class); ``None`` if unknown."""
        series = self._series.get(key)
        if series is None:
            return None
        newest = series.snaps[-1][1]
        if len(series.snaps) == 1:
            values: Iterable[float] = newest
        else:
            base = series.snaps[0][1]
            values = (n - b for n, b in zip(newest, base, strict=True))
        *counts, total, total_sum = values
        return Histogram(bounds=series.bounds, counts=tuple(counts), total=total, sum=total_sum)

    def span_s(self, key: str) -> float | None:
        """Seconds between the baseline and the newest snapshot of ``key``; ``None`` for
        a lifetime (one snapshot) or an unknown series."""
        series = self._series.get(key)
        if series is None or len(series.snaps) < 2:
            return None
        return series.snaps[-1][0] - series.snaps[0][0]

    def snapshot_count(self, key: str) -> int:
        """How many snapshots of ``key`` are kept (0 for an unknown series)."""
        series = self._series.get(key)
        return 0 if series is None else len(series.snaps)

    def keys(self) -> list[str]:
        """The series kept, in no particular order."""
        return list(self._series)


# --------------------------------------------------------------------------- counters


def counter_increase(prev: float, cur: float) -> float:
    """Increase of a counter between two samples; after a reset it is ``cur``."""
    return cur if cur < prev else cur - prev


def _rate(prev: RawScrape, cur: RawScrape, key: str, window: float) -> float | None:
    before = prev.scalars.get(key)
    after = cur.scalars.get(key)
    if before is None or after is None:
        return None
    return counter_increase(before, after) / window


def _labelled_sum_rate(prev: RawScrape, cur: RawScrape, name: str, window: float) -> float:
    """Rate of the sum over all label sets of counter ``name``.

    Go client vectors print a series only once it has been touched, so a series absent
    from ``prev`` started at 0 (its whole value is the increase) and a family absent
    from both scrapes means nothing happened: the rate is ``0.0``.
    """
    prefix = name + "{"
    increase = 0.0
    for key, after in cur.scalars.items():
        if key == name or key.startswith(prefix):
            increase += counter_increase(prev.scalars.get(key, 0.0), after)
    return increase / window


def _gauge(scrape: RawScrape, *names: str) -> float | None:
    for name in names:
        value = scrape.scalars.get(name)
        if value is not None:
            return value
    return None


def _flag(scrape: RawScrape, name: str) -> bool | None:
    value = scrape.scalars.get(name)
    return None if value is None else value != 0


def _is_long_lived_watch(method: str, grpc_type: str) -> bool:
    # etcd's Watch (bidi_stream) and grpc.health.v1.Health/Watch (server_stream) end
    # with Canceled/Unavailable on healthy clusters whenever a client goes away.
    return method == "Watch" and grpc_type != "unary"


# --------------------------------------------------------------------------- derive


def _windowed_quantiles(
    window: HistogramWindow, cur: RawScrape, name: str
) -> tuple[Quantiles | None, dict[str, Quantiles]]:
    """Quantiles of family ``name`` (all series summed) and per ``To`` label."""
    increases: list[Histogram] = []
    by_peer: dict[str, Quantiles] = {}
    for key, labels, _ in _family_items(cur.histograms, name):
        increase = window.increase(key)
        if increase is None:
            continue
        increases.append(increase)
        peer = labels.get("To")
        if peer is not None:
            by_peer[peer] = quantiles(increase)
    merged = merge_histograms(increases)
    return (None if merged is None else quantiles(merged)), by_peer


def derive(
    prev: RawScrape | None, cur: RawScrape, histograms: HistogramWindow | None = None
) -> MemberMetrics:
    """What ``cur`` means, given the scrape ``prev`` of the same member before it.

    Rates and the gRPC failure ratio are over ``prev`` -> ``cur``; with ``prev`` ``None``
    (or not strictly earlier than ``cur``) they are ``None``.

    Quantiles come from ``histograms``, the member's ``HistogramWindow`` to which
    ``cur`` was just added: they are ``None`` when the window saw no new observation.
    Without it (a single sweep), or if it does not end with ``cur``, they are over
    ``prev`` -> ``cur`` alone, and cover the member's lifetime when there is no ``prev``.
    """
    if prev is not None and not cur.taken_at > prev.taken_at:
        _log.debug("previous scrape is not older than the current one; ignoring it")
        prev = None
    window = None if prev is None else cur.taken_at - prev.taken_at
    if histograms is not None and histograms.latest_at != cur.taken_at:
        _log.warning("histogram window does not end with this scrape; using the last two")
        histograms = None
    if histograms is None:
        histograms = HistogramWindow(math.inf)
        if prev is not None:
            histograms.add(prev)
        histograms.add(cur)

    wal_fsync, _ = _windowed_quantiles(histograms, cur, WAL_FSYNC)
    backend_commit, _ = _windowed_quantiles(histograms, cur, BACKEND_COMMIT)
    peer_rtt, peer_rtt_by_peer = _windowed_quantiles(histograms, cur, PEER_RTT)
    spans = [s for s in map(histograms.span_s, cur.histograms) if s is not None]

    committed = applied = failed = None
    peer_failures = heartbeat_failures = None
    grpc_per_method: dict[str, float] = {}
    grpc_total: float | None = None
    failure_ratio: float | None = None
    if prev is not None and window is not None:
        committed = _rate(prev, cur, "etcd_server_proposals_committed_total", window)
        applied = _rate(prev, cur, "etcd_server_proposals_applied_total", window)
        failed = _rate(prev, cur, "etcd_server_proposals_failed_total", window)
        heartbeat_failures = _rate(prev, cur, HEARTBEAT_FAILURES, window)
        peer_failures = _labelled_sum_rate(prev, cur, PEER_SENT_FAILURES, window)

        requests = failures = 0.0
        for (method, grpc_type, code), after in cur.grpc_handled.items():
            before = prev.grpc_handled.get((method, grpc_type, code), 0.0)
            increase = counter_increase(before, after)
            grpc_per_method[method] = grpc_per_method.get(method, 0.0) + increase / window
            if _is_long_lived_watch(method, grpc_type):
                continue
            requests += increase
            if code in FAILED_GRPC_CODES:
                failures += increase
        # Zero-valued series are dropped at parse time, so an idle member has no
        # grpc_handled entries at all: its total is 0.0, not unknown.
        grpc_total = sum(grpc_per_method.values())
        failure_ratio = failures / requests if requests > 0 else None

    return MemberMetrics(
        window_s=window,
        wal_fsync=wal_fsync,
        backend_commit=backend_commit,
        peer_rtt=peer_rtt,
        peer_rtt_by_peer=peer_rtt_by_peer,
        proposals_committed_per_s=committed,
        proposals_applied_per_s=applied,
        proposals_pending=_gauge(cur, "etcd_server_proposals_pending"),
        proposals_failed_per_s=failed,
        has_leader=_flag(cur, "etcd_server_has_leader"),
        is_leader=_flag(cur, "etcd_server_is_leader"),
        leader_changes_total=_gauge(cur, "etcd_server_leader_changes_seen_total"),
        db_total_bytes=_gauge(cur, *DB_TOTAL),
        db_in_use_bytes=_gauge(cur, DB_IN_USE),
        quota_bytes=_gauge(cur, "etcd_server_quota_backend_bytes"),
        grpc_requests_per_s=grpc_per_method,
        grpc_requests_total_per_s=grpc_total,
        grpc_failure_ratio=failure_ratio,
        rss_bytes=_gauge(cur, "process_resident_memory_bytes"),
        peer_sent_failures_per_s=peer_failures,
        heartbeat_send_failures_per_s=heartbeat_failures,
        quantile_window_s=max(spans) if spans else None,
    )
