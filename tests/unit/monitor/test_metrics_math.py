"""Tests for etcdmon_gui.monitor.metrics_math: Prometheus quantiles, deltas, derive()."""

from __future__ import annotations

import itertools
import math
import random
import re
from pathlib import Path

import pytest

from etcdmon_gui.etcd.metrics_scrape import parse_page
from etcdmon_gui.model.metrics import Histogram, MemberMetrics, Quantiles, RawScrape
from etcdmon_gui.model.raw import MemberInfo, MemberProbe, RawSweep
from etcdmon_gui.monitor.cluster_monitor import ClusterMonitor
from etcdmon_gui.monitor.metrics_math import (
    WINDOW_SLOTS,
    HistogramWindow,
    counter_increase,
    derive,
    histogram_delta,
    histogram_quantile,
    merge_histograms,
    quantiles,
    split_key,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "metrics"
VERSIONS = ("3.4.23", "3.5.1")
INF = math.inf
WAL = "etcd_disk_wal_fsync_duration_seconds"
COMMIT = "etcd_disk_backend_commit_duration_seconds"
RTT = "etcd_network_peer_round_trip_time_seconds"


def hist(bounds: tuple[float, ...], counts: tuple[float, ...], total_sum: float = 0.0) -> Histogram:
    return Histogram(
        bounds=bounds, counts=counts, total=counts[-1] if counts else 0.0, sum=total_sum
    )


def page(version: str, which: str) -> str:
    return (FIXTURES / f"etcd-{version}-{which}.txt").read_text()


# ------------------------------------------------------------------ raw-text helpers
# Independent of parse_page: plain regexes over the recorded text.


def raw_value(text: str, name: str) -> float:
    match = re.search(rf"^{re.escape(name)} (\S+)$", text, re.MULTILINE)
    assert match is not None, name
    return float(match.group(1))


def raw_grpc_sum(text: str, method: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if line.startswith("grpc_server_handled_total{") and f'grpc_method="{method}"' in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


def raw_buckets(text: str, name: str, label: str = "") -> list[tuple[float, float]]:
    pattern = re.compile(
        rf'^{re.escape(name)}_bucket\{{{re.escape(label)}le="([^"]+)"\}} (\S+)$', re.MULTILINE
    )
    return [(float(le), float(v)) for le, v in pattern.findall(text)]


def bucket_holding(
    rank_q: float, a: list[tuple[float, float]], b: list[tuple[float, float]]
) -> tuple[float, float]:
    """(lower, upper) of the bucket that holds the q-rank of the b-a bucket deltas."""
    assert [le for le, _ in a] == [le for le, _ in b]
    deltas = [(le, vb - va) for (le, va), (_, vb) in zip(a, b, strict=True)]
    rank = rank_q * deltas[-1][1]
    lower = 0.0
    for le, cum in deltas:
        if cum >= rank:
            return lower, le
        lower = le
    raise AssertionError("rank beyond +Inf")


# ------------------------------------------------------------------ histogram_quantile


def test_quantile_interpolates_linearly_inside_the_bucket() -> None:
    h = hist((0.1, 0.2, 0.4, INF), (10, 20, 30, 30))
    # rank 7.5 in [0, 0.1] holding 10 -> 0.075
    assert histogram_quantile(0.25, h) == pytest.approx(0.075)
    # rank 15: bucket (0.1, 0.2] holds 10, 5 into it -> 0.15
    assert histogram_quantile(0.5, h) == pytest.approx(0.15)
    # rank 29.7: bucket (0.2, 0.4] holds 10, 9.7 into it -> 0.394
    assert histogram_quantile(0.99, h) == pytest.approx(0.394)
    assert histogram_quantile(1.0, h) == pytest.approx(0.4)


def test_quantile_in_inf_bucket_returns_highest_finite_bound() -> None:
    h = hist((1.0, 2.0, INF), (1, 2, 10))
    assert histogram_quantile(0.5, h) == 2.0
    assert histogram_quantile(0.99, h) == 2.0
    # rank 1.5 still in (1, 2]
    assert histogram_quantile(0.15, h) == pytest.approx(1.5)


def test_quantile_without_observations_is_none() -> None:
    assert histogram_quantile(0.5, hist((0.1, 0.2, INF), (0, 0, 0))) is None
    assert histogram_quantile(0.99, Histogram(bounds=(), counts=(), total=0, sum=0)) is None
    assert quantiles(hist((0.1, INF), (0, 0))) == Quantiles(None, None, None)


def test_single_bucket_histograms() -> None:
    # Only +Inf: fewer than two buckets -> NaN in Prometheus -> None.
    assert histogram_quantile(0.5, hist((INF,), (5,))) is None
    # One finite bucket: lower bound 0, rank 2 of 4 -> half of 0.5.
    assert histogram_quantile(0.5, hist((0.5, INF), (4, 4))) == pytest.approx(0.25)


def test_first_bucket_with_nonpositive_bound_returns_that_bound() -> None:
    h = hist((-1.0, 0.0, 1.0, INF), (2, 4, 8, 8))
    assert histogram_quantile(0.25, h) == -1.0  # rank 2 in the first bucket
    # rank 3.2: bucket (-1, 0] holds 2, 1.2 into it -> -0.4
    assert histogram_quantile(0.4, h) == pytest.approx(-0.4)


def test_quantile_out_of_range_and_missing_inf() -> None:
    h = hist((0.1, INF), (1, 1))
    assert histogram_quantile(-0.1, h) == -INF
    assert histogram_quantile(1.1, h) == INF
    assert histogram_quantile(math.nan, h) is None
    assert histogram_quantile(0.5, hist((0.1, 0.2), (1, 2))) is None


def test_quantile_sorts_coalesces_and_forces_monotonic() -> None:
    unsorted = Histogram(bounds=(INF, 0.2, 0.1, 0.4), counts=(30, 20, 10, 30), total=30, sum=0)
    assert histogram_quantile(0.5, unsorted) == pytest.approx(0.15)
    # Duplicate bound 1.0 merges to 2 observations: rank 1.5 -> 0.75.
    dup = Histogram(bounds=(1.0, 1.0, 2.0, INF), counts=(1, 1, 3, 3), total=3, sum=0)
    assert histogram_quantile(0.5, dup) == pytest.approx(0.75)
    # Non-monotonic (5, 3, 8, 10) becomes (5, 5, 8, 10): rank 6 in (2, 4] holding 3,
    # 1 into it -> 2 + 2/3. Without the envelope it would be 3.2.
    bumpy = hist((1.0, 2.0, 4.0, INF), (5, 3, 8, 10))
    assert histogram_quantile(0.6, bumpy) == pytest.approx(2 + 2 / 3)


def test_quantiles_helper() -> None:
    h = hist((0.1, 0.2, 0.4, INF), (10, 20, 30, 30))
    q = quantiles(h)
    assert q.p50 == pytest.approx(0.15)
    assert q.p95 == pytest.approx(0.2 + 0.2 * 8.5 / 10)
    assert q.p99 == pytest.approx(0.394)


# ------------------------------------------------------------------ deltas, merges


def test_histogram_delta_subtracts_bucketwise() -> None:
    prev = Histogram((0.1, 0.2, INF), (5, 8, 9), total=9, sum=1.0)
    cur = Histogram((0.1, 0.2, INF), (6, 12, 15), total=15, sum=2.5)
    assert histogram_delta(prev, cur) == Histogram((0.1, 0.2, INF), (1, 4, 6), total=6, sum=1.5)


def test_histogram_delta_on_counter_reset_returns_current() -> None:
    prev = Histogram((0.1, 0.2, INF), (5, 8, 9), total=9, sum=1.0)
    reset = Histogram((0.1, 0.2, INF), (1, 9, 10), total=10, sum=0.1)  # first bucket fell
    assert histogram_delta(prev, reset) is reset
    relaid = Histogram((0.1, 0.3, INF), (6, 9, 10), total=10, sum=1.2)
    assert histogram_delta(prev, relaid) is relaid


def test_merge_histograms_sums_by_bound() -> None:
    a = Histogram((0.1, INF), (1, 2), total=2, sum=0.3)
    b = Histogram((0.1, INF), (3, 3), total=3, sum=0.1)
    merged = merge_histograms([a, b])
    assert merged is not None
    assert (merged.bounds, merged.counts, merged.total) == ((0.1, INF), (4, 5), 5)
    assert merged.sum == pytest.approx(0.4)
    # Different layouts: sum by (le) over the union of bounds.
    c = Histogram((0.2, INF), (1, 1), total=1, sum=0.2)
    assert merge_histograms([a, c]) == Histogram((0.1, 0.2, INF), (1, 1, 3), total=3, sum=0.5)
    assert merge_histograms([]) is None


def test_counter_increase_handles_reset() -> None:
    assert counter_increase(10, 15) == 5
    assert counter_increase(500, 30) == 30


def test_split_key_inverts_the_key_format() -> None:
    assert split_key("up") == ("up", {})
    assert split_key('x{To="a\\"b",b="c\\\\d"}') == ("x", {"To": 'a"b', "b": "c\\d"})


# ------------------------------------------------------------------ derive on real pages


@pytest.fixture(params=VERSIONS)
def pair(request: pytest.FixtureRequest) -> tuple[str, str, str]:
    version: str = request.param
    return version, page(version, "a"), page(version, "b")


def test_derive_rates_match_raw_text(pair: tuple[str, str, str]) -> None:
    _, text_a, text_b = pair
    dt = 5.0
    m = derive(parse_page(text_a, 1000.0), parse_page(text_b, 1000.0 + dt))
    assert m.window_s == pytest.approx(dt)
    for name, got in (
        ("etcd_server_proposals_committed_total", m.proposals_committed_per_s),
        ("etcd_server_proposals_applied_total", m.proposals_applied_per_s),
    ):
        expected = (raw_value(text_b, name) - raw_value(text_a, name)) / dt
        assert expected > 0
        assert got == pytest.approx(expected)
    put = (raw_grpc_sum(text_b, "Put") - raw_grpc_sum(text_a, "Put")) / dt
    assert put > 0
    assert m.grpc_requests_per_s["Put"] == pytest.approx(put)
    assert m.grpc_requests_total_per_s is not None
    assert m.grpc_requests_total_per_s >= put
    assert m.grpc_requests_total_per_s == pytest.approx(sum(m.grpc_requests_per_s.values()))
    assert m.proposals_failed_per_s == 0.0
    assert m.heartbeat_send_failures_per_s == 0.0
    assert m.peer_sent_failures_per_s == 0.0  # family absent: no failure ever
    assert m.grpc_failure_ratio == 0.0


def test_derive_gauges_match_raw_text(pair: tuple[str, str, str]) -> None:
    _, text_a, text_b = pair
    m = derive(parse_page(text_a, 1.0), parse_page(text_b, 6.0))
    assert m.has_leader is True
    assert m.is_leader is False
    assert m.leader_changes_total == raw_value(text_b, "etcd_server_leader_changes_seen_total")
    assert m.db_total_bytes == raw_value(text_b, "etcd_mvcc_db_total_size_in_bytes")
    assert m.db_in_use_bytes == raw_value(text_b, "etcd_mvcc_db_total_size_in_use_in_bytes")
    assert m.quota_bytes == 2 * 1024**3
    assert m.proposals_pending == raw_value(text_b, "etcd_server_proposals_pending")
    assert m.rss_bytes == raw_value(text_b, "process_resident_memory_bytes")


@pytest.mark.parametrize("family", [WAL, COMMIT])
def test_windowed_quantile_lies_in_the_delta_bucket(
    pair: tuple[str, str, str], family: str
) -> None:
    _, text_a, text_b = pair
    m = derive(parse_page(text_a, 1.0), parse_page(text_b, 6.0))
    got = m.wal_fsync if family == WAL else m.backend_commit
    assert got is not None
    buckets_a, buckets_b = raw_buckets(text_a, family), raw_buckets(text_b, family)
    for q, value in ((0.5, got.p50), (0.95, got.p95), (0.99, got.p99)):
        lower, upper = bucket_holding(q, buckets_a, buckets_b)
        assert value is not None
        assert lower <= value <= upper, (q, value, lower, upper)


def test_lifetime_quantiles_without_previous_scrape(pair: tuple[str, str, str]) -> None:
    _, text_a, _ = pair
    a = parse_page(text_a, 1.0)
    m = derive(None, a)
    assert m.window_s is None
    assert m.proposals_committed_per_s is None
    assert m.proposals_applied_per_s is None
    assert m.proposals_failed_per_s is None
    assert m.grpc_requests_total_per_s is None
    assert m.grpc_failure_ratio is None
    assert m.grpc_requests_per_s == {}
    assert m.wal_fsync == quantiles(a.histograms[WAL])
    lifetime = raw_buckets(text_a, WAL)
    empty = [(le, 0.0) for le, _ in lifetime]
    lower, upper = bucket_holding(0.99, empty, lifetime)
    assert m.wal_fsync is not None
    assert m.wal_fsync.p99 is not None
    assert lower <= m.wal_fsync.p99 <= upper


def test_peer_rtt_per_peer_and_aggregated(pair: tuple[str, str, str]) -> None:
    _, text_a, text_b = pair
    m = derive(parse_page(text_a, 1.0), parse_page(text_b, 6.0))
    peers = sorted(set(re.findall(r'_count\{To="([0-9a-f]+)"\}', text_b)))
    assert len(peers) == 2
    assert sorted(m.peer_rtt_by_peer) == peers
    # The recording straddles a probe tick: every peer has RTT observations in the window.
    rank_buckets_a: dict[float, float] = {}
    rank_buckets_b: dict[float, float] = {}
    for peer in peers:
        label = f'To="{peer}",'
        a, b = raw_buckets(text_a, RTT, label), raw_buckets(text_b, RTT, label)
        lower, upper = bucket_holding(0.5, a, b)
        p50 = m.peer_rtt_by_peer[peer].p50
        assert p50 is not None
        assert lower <= p50 <= upper
        for (le, va), (_, vb) in zip(a, b, strict=True):
            rank_buckets_a[le] = rank_buckets_a.get(le, 0.0) + va
            rank_buckets_b[le] = rank_buckets_b.get(le, 0.0) + vb
    assert m.peer_rtt is not None
    assert m.peer_rtt.p99 is not None
    lower, upper = bucket_holding(
        0.99, sorted(rank_buckets_a.items()), sorted(rank_buckets_b.items())
    )
    assert lower <= m.peer_rtt.p99 <= upper


def test_counter_reset_between_scrapes(pair: tuple[str, str, str]) -> None:
    _, text_a, text_b = pair
    a = parse_page(text_a, 1.0)
    b = parse_page(text_b, 6.0)
    # b -> a looks like a restart: every counter went down. Increase is a's value.
    m = derive(
        RawScrape(10.0, b.scalars, b.histograms, b.grpc_handled),
        RawScrape(15.0, a.scalars, a.histograms, a.grpc_handled),
    )
    assert m.proposals_committed_per_s == pytest.approx(
        raw_value(text_a, "etcd_server_proposals_committed_total") / 5.0
    )
    assert m.wal_fsync == quantiles(a.histograms[WAL])


# ------------------------------------------------------------------ gRPC failure ratio


def grpc_scrape(at: float, counters: dict[tuple[str, str, str], float]) -> RawScrape:
    return RawScrape(taken_at=at, grpc_handled=counters)


def test_watch_only_failures_give_ratio_zero() -> None:
    prev = grpc_scrape(
        0.0, {("Watch", "bidi_stream", "Unavailable"): 5, ("Range", "unary", "OK"): 10}
    )
    cur = grpc_scrape(
        10.0,
        {
            ("Watch", "bidi_stream", "Unavailable"): 55,
            ("Watch", "bidi_stream", "Canceled"): 7,
            ("Range", "unary", "OK"): 30,
        },
    )
    m = derive(prev, cur)
    assert m.grpc_failure_ratio == 0.0
    assert m.grpc_requests_per_s["Watch"] == pytest.approx(5.7)  # (50 + 7) / 10 s
    assert m.grpc_requests_per_s["Range"] == pytest.approx(2.0)
    assert m.grpc_requests_total_per_s == pytest.approx(7.7)


def test_failure_ratio_counts_fail_codes_only() -> None:
    prev = grpc_scrape(0.0, {("Put", "unary", "OK"): 100})
    cur = grpc_scrape(
        4.0,
        {
            ("Put", "unary", "OK"): 160,
            ("Put", "unary", "Unavailable"): 10,
            ("Range", "unary", "DeadlineExceeded"): 10,
            ("Range", "unary", "OutOfRange"): 10,  # not a FAIL code
            ("Range", "unary", "Canceled"): 10,  # not a FAIL code
            ("Watch", "bidi_stream", "Unavailable"): 1000,  # excluded
        },
    )
    m = derive(prev, cur)
    assert m.grpc_failure_ratio == pytest.approx(20 / 100)
    assert m.grpc_requests_per_s["Put"] == pytest.approx(70 / 4)


def test_failure_ratio_none_without_requests() -> None:
    only_watch_prev = grpc_scrape(0.0, {("Watch", "bidi_stream", "Unavailable"): 1})
    only_watch_cur = grpc_scrape(5.0, {("Watch", "bidi_stream", "Unavailable"): 3})
    assert derive(only_watch_prev, only_watch_cur).grpc_failure_ratio is None
    idle = grpc_scrape(5.0, {("Put", "unary", "OK"): 3})
    assert derive(grpc_scrape(0.0, {("Put", "unary", "OK"): 3}), idle).grpc_failure_ratio is None
    assert derive(None, idle).grpc_failure_ratio is None


# ------------------------------------------------------------------ missing metrics


def test_empty_scrape_gives_none_not_error() -> None:
    empty_prev, empty = RawScrape(taken_at=0.0), RawScrape(taken_at=5.0)
    for m in (derive(None, empty), derive(empty_prev, empty)):
        assert m.wal_fsync is None
        assert m.backend_commit is None
        assert m.peer_rtt is None
        assert m.peer_rtt_by_peer == {}
        assert m.proposals_committed_per_s is None
        assert m.proposals_pending is None
        assert m.has_leader is None
        assert m.is_leader is None
        assert m.leader_changes_total is None
        assert m.db_total_bytes is None
        assert m.db_in_use_bytes is None
        assert m.quota_bytes is None
        assert m.rss_bytes is None
        assert m.grpc_failure_ratio is None
        assert m.heartbeat_send_failures_per_s is None


def strip_families(text: str, *names: str) -> str:
    """``text`` without the HELP/TYPE and sample lines of the families ``names``."""

    def family(line: str) -> set[str]:
        if line.startswith("# "):
            parts = line.split(" ")
            return {parts[2]} if len(parts) > 2 else set()
        base = re.split(r"[{ ]", line, maxsplit=1)[0]
        return {base, re.sub(r"_(bucket|sum|count)$", "", base)}

    return "\n".join(line for line in text.splitlines() if not family(line) & set(names))


def test_db_size_falls_back_to_pre_3_4_name() -> None:
    # 3.4.23 exports both names; an older server only the debugging one.
    text = page("3.4.23", "b")
    old_style = strip_families(text, "etcd_mvcc_db_total_size_in_bytes")
    assert "\netcd_mvcc_db_total_size_in_bytes " not in old_style
    m = derive(None, parse_page(old_style, 1.0))
    assert m.db_total_bytes == raw_value(text, "etcd_debugging_mvcc_db_total_size_in_bytes")
    # 3.5 dropped the debugging name; the new one is used.
    text35 = page("3.5.1", "b")
    assert "etcd_debugging_mvcc_db_total_size_in_bytes" not in text35
    m35 = derive(None, parse_page(text35, 1.0))
    assert m35.db_total_bytes == raw_value(text35, "etcd_mvcc_db_total_size_in_bytes")


def test_families_missing_from_a_real_page_become_none() -> None:
    gone = (
        "etcd_server_is_leader",
        "etcd_mvcc_db_total_size_in_use_in_bytes",
        RTT,
        WAL,
        "etcd_server_proposals_committed_total",
    )
    a = parse_page(strip_families(page("3.5.1", "a"), *gone), 1.0)
    b = parse_page(strip_families(page("3.5.1", "b"), *gone), 6.0)
    assert "etcd_server_is_leader" not in b.scalars
    m = derive(a, b)
    assert m.is_leader is None
    assert m.db_in_use_bytes is None
    assert m.peer_rtt is None
    assert m.peer_rtt_by_peer == {}
    assert m.wal_fsync is None
    assert m.proposals_committed_per_s is None
    # what is still there is still derived
    assert m.has_leader is True
    assert m.backend_commit is not None
    assert m.proposals_applied_per_s is not None
    assert m.proposals_applied_per_s > 0


def test_previous_scrape_not_older_is_ignored() -> None:
    a = parse_page(page("3.5.1", "a"), 5.0)
    b = parse_page(page("3.5.1", "b"), 5.0)
    m = derive(a, b)
    assert m.window_s is None
    assert m.proposals_committed_per_s is None


# ------------------------------------------------------------------ sliding window
# Synthetic cumulative histograms scraped every 5 s, as the monitor sees them.

RTT_BOUNDS = (*(0.0001 * 2**i for i in range(16)), INF)  # etcd's peer RTT buckets
A_PEER = f'{RTT}{{To="a"}}'
B_PEER = f'{RTT}{{To="b"}}'


def cumulative(observations: list[float], bounds: tuple[float, ...] = RTT_BOUNDS) -> Histogram:
    """The histogram etcd would expose after observing ``observations``."""
    return Histogram(
        bounds=bounds,
        counts=tuple(float(sum(o <= b for o in observations)) for b in bounds),
        total=float(len(observations)),
        sum=sum(observations),
    )


def rtt_scrape(t: float, **series: list[float]) -> RawScrape:
    """A scrape at ``t`` holding a peer RTT series per keyword (``a=[...]`` -> To="a")."""
    return RawScrape(
        taken_at=t,
        histograms={f'{RTT}{{To="{peer}"}}': cumulative(obs) for peer, obs in series.items()},
    )


def bucket_of(value: float) -> tuple[float, float]:
    """(lower, upper) of the RTT bucket holding ``value``."""
    upper = next(b for b in RTT_BOUNDS if value <= b)
    index = RTT_BOUNDS.index(upper)
    return (RTT_BOUNDS[index - 1] if index else 0.0), upper


def sweep_window(
    scrapes: list[RawScrape], window_s: float = 300.0
) -> list[tuple[RawScrape, MemberMetrics]]:
    """Feed ``scrapes`` to one member's window as ClusterMonitor does."""
    window = HistogramWindow(window_s)
    out = []
    prev = None
    for s in scrapes:
        window.add(s)
        out.append((s, derive(prev, s, window)))
        prev = s
    return out


def test_a_peer_rtt_observed_every_30_s_has_a_p99_on_every_5_s_sweep() -> None:
    # Before the monitor starts the member saw 200 slow round trips (50 ms) ...
    observed = [0.05] * 200
    scrapes = []
    for i in range(121):  # ten minutes of sweeps every 5 s
        t = 5.0 * i
        # ... and from then on one 1.5 ms round trip every 30 s, at t = 2, 32, 62, ...
        observed += [0.0015] * sum(1 for k in range(20) if t - 5 < 2 + 30 * k <= t)
        scrapes.append(rtt_scrape(t, a=list(observed)))
    results = sweep_window(scrapes)

    first = results[0][1]
    assert first.quantile_window_s is None  # one sweep: the member's lifetime
    assert first.peer_rtt is not None and first.peer_rtt.p99 is not None
    assert bucket_of(0.05)[0] <= first.peer_rtt.p99 <= bucket_of(0.05)[1]

    lower, upper = bucket_of(0.0015)
    for cur, m in results[1:]:
        p99 = m.peer_rtt.p99 if m.peer_rtt else None
        assert p99 is not None, cur.taken_at
        assert lower <= p99 <= upper, (cur.taken_at, p99)  # never the lifetime's 50 ms
        assert m.peer_rtt_by_peer["a"].p99 == p99
        assert m.window_s == 5.0
        assert m.quantile_window_s == min(cur.taken_at, 300.0)
    # What the sweep-to-sweep delta gave before: nothing on five sweeps out of six.
    deltas = [
        quantiles(histogram_delta(prev.histograms[A_PEER], cur.histograms[A_PEER])).p99
        for (prev, _), (cur, _) in itertools.pairwise(results)
    ]
    assert sum(d is None for d in deltas) == 100


def test_the_window_slides_old_observations_out() -> None:
    observed: list[float] = []
    scrapes = []
    for i in range(121):
        t = 5.0 * i
        if t == 95.0:
            observed.append(0.0015)  # the last round trip, first shown by the 95 s scrape
        scrapes.append(rtt_scrape(t, a=list(observed)))
    results = sweep_window(scrapes)
    with_p99 = [s.taken_at for s, m in results if m.peer_rtt and m.peer_rtt.p99 is not None]
    # Shown from the scrape that first has it, for 300 s of scrapes, then unknown:
    # None, neither 0 nor the lifetime value.
    assert with_p99 == [5.0 * i for i in range(19, 79)]
    assert with_p99[-1] == 390.0
    gone = results[79][1]
    assert gone.peer_rtt == Quantiles(None, None, None)
    assert gone.quantile_window_s == 300.0
    # Before the round trip, the empty series never had anything to rank either.
    assert all(m.peer_rtt == Quantiles(None, None, None) for _, m in results[:19])


def prometheus_increase(samples: list[Histogram]) -> Histogram:
    """``increase`` of every bucket series over ``samples`` without extrapolation:
    the sum of the increases between consecutive samples, from zero after a reset."""
    counts = [0.0] * len(samples[0].counts)
    total = 0.0
    for a, b in itertools.pairwise(samples):
        counts = [
            c + counter_increase(x, y) for c, x, y in zip(counts, a.counts, b.counts, strict=True)
        ]
        total += counter_increase(a.total, b.total)
    return Histogram(samples[0].bounds, tuple(counts), total, 0.0)


def test_a_member_restart_mid_window_counts_both_sides_of_the_reset() -> None:
    before = [0.0002] * 50  # lifetime before the monitor started
    scrapes = []
    for i in range(40):
        t = 5.0 * i
        if i <= 20:
            before.append(0.003)  # one 3 ms round trip per sweep until the restart
            scrapes.append(rtt_scrape(t, a=list(before)))
        else:  # restarted after the 100 s sweep: counters from zero, 0.1 ms round trips
            scrapes.append(rtt_scrape(t, a=[0.0001] * (i - 20)))
    window = HistogramWindow(120.0)
    for i, s in enumerate(scrapes):
        window.add(s)
        got = window.increase(A_PEER)
        assert got is not None
        start = max(0, i - 24)  # the scrape 120 s earlier is the baseline
        expected = prometheus_increase([x.histograms[A_PEER] for x in scrapes[start : i + 1]])
        if i == 0:
            expected = scrapes[0].histograms[A_PEER]  # first scrape: lifetime
        assert (got.counts, got.total) == (expected.counts, expected.total), i
        m = derive(scrapes[i - 1] if i else None, s, window)
        assert m.peer_rtt == quantiles(expected)
    # At 150 s the window [30 s, 150 s] holds 14 slow ones before and 10 fast ones after
    # the reset; the naive newest - oldest would be negative.
    mid = prometheus_increase([x.histograms[A_PEER] for x in scrapes[6:31]])
    assert mid.total == 14 + 10
    naive = scrapes[30].histograms[A_PEER].total - scrapes[6].histograms[A_PEER].total
    assert naive < 0


def test_window_quantiles_equal_histogram_quantile_over_the_window_delta() -> None:
    rng = random.Random(9)
    observed: dict[str, list[float]] = {"a": [], "b": []}
    scrapes = []
    shown = {"none": 0, "value": 0}
    for i in range(80):
        for peer in observed:  # bursts and silences, 0.1 ms to 100 ms
            observed[peer] += [
                rng.lognormvariate(-7, 1.5) for _ in range(rng.choice((0,) * 8 + (3,)))
            ]
        scrapes.append(rtt_scrape(5.0 * i, **{p: list(o) for p, o in observed.items()}))
    for i, (cur, m) in enumerate(sweep_window(scrapes, window_s=60.0)):
        base = scrapes[max(0, i - 12)]  # the newest scrape at or before t - 60 s
        deltas = {
            peer: histogram_delta(base.histograms[key], cur.histograms[key])
            if i
            else cur.histograms[key]
            for peer, key in (("a", A_PEER), ("b", B_PEER))
        }
        for peer, delta in deltas.items():
            shown["none" if m.peer_rtt_by_peer[peer].p99 is None else "value"] += 1
            assert m.peer_rtt_by_peer[peer] == Quantiles(
                histogram_quantile(0.5, delta),
                histogram_quantile(0.95, delta),
                histogram_quantile(0.99, delta),
            )
        merged = merge_histograms(deltas.values())
        assert merged is not None
        assert m.peer_rtt == quantiles(merged)
    assert shown["none"] > 20 and shown["value"] > 50  # both states were compared


def test_derive_without_a_window_is_the_last_two_scrapes() -> None:
    a = rtt_scrape(0.0, a=[0.05] * 10)
    b = rtt_scrape(5.0, a=[0.05] * 10 + [0.001])
    assert derive(None, a).peer_rtt == quantiles(a.histograms[A_PEER])  # lifetime
    assert derive(a, b).peer_rtt == quantiles(
        histogram_delta(a.histograms[A_PEER], b.histograms[A_PEER])
    )
    assert derive(a, b).quantile_window_s == 5.0
    # A window that does not end with the scrape is not trusted.
    stale = HistogramWindow()
    stale.add(a)
    assert derive(a, b, stale).peer_rtt == derive(a, b).peer_rtt


def test_window_memory_is_bounded_by_its_slots() -> None:
    window = HistogramWindow(300.0)
    observed: list[float] = []
    for i in range(1200):  # twenty minutes of 1 s sweeps
        observed.append(0.001)
        window.add(rtt_scrape(float(i), a=list(observed)))
        assert window.snapshot_count(A_PEER) <= WINDOW_SLOTS + 2
        span = window.span_s(A_PEER)
        if i == 0:
            assert span is None  # one scrape: its lifetime
        else:
            assert span is not None
            assert span == i if i < 300 else 300 <= span < 305  # thinning: 5 s resolution
    increase = window.increase(A_PEER)
    assert increase is not None and increase.total == window.span_s(A_PEER)


def test_window_forgets_absent_series_and_restarts_on_a_new_layout() -> None:
    window = HistogramWindow(60.0)
    window.add(rtt_scrape(0.0, a=[0.001], b=[0.001]))
    window.add(rtt_scrape(5.0, a=[0.001] * 2, b=[0.001] * 2))
    window.add(rtt_scrape(40.0, a=[0.001] * 3))  # peer b removed
    assert sorted(window.keys()) == [A_PEER, B_PEER]
    window.add(rtt_scrape(70.0, a=[0.001] * 4))
    assert window.keys() == [A_PEER]  # b unseen for more than 60 s
    relaid = RawScrape(80.0, histograms={A_PEER: cumulative([0.001] * 5, (0.01, INF))})
    window.add(relaid)
    assert window.snapshot_count(A_PEER) == 1  # a new layout: a new series, its lifetime
    assert window.increase(A_PEER) == relaid.histograms[A_PEER]
    assert window.span_s(A_PEER) is None
    window.add(rtt_scrape(80.0, a=[0.001] * 9))  # not newer: ignored
    assert window.increase(A_PEER) == relaid.histograms[A_PEER]
    with pytest.raises(ValueError, match="positive"):
        HistogramWindow(0)


def test_cluster_monitor_keeps_a_window_per_member() -> None:
    def probe(member_id: int, t: float, observed: list[float]) -> MemberProbe:
        info = MemberInfo(member_id, f"m{member_id}", (), (), False, None)
        return MemberProbe(info=info, endpoint=None, scrape=rtt_scrape(t, a=observed))

    sweeps = iter(
        [
            RawSweep(0.0, 0.01, (probe(1, 0.0, [0.05] * 10), probe(2, 0.0, [0.0002]))),
            RawSweep(5.0, 0.01, (probe(1, 5.0, [0.05] * 10 + [0.001]), probe(2, 5.0, [0.0002]))),
            RawSweep(10.0, 0.01, (probe(1, 10.0, [0.05] * 10 + [0.001]), probe(2, 10.0, [0.0002]))),
            RawSweep(25.0, 0.01, (probe(1, 25.0, [0.05] * 10 + [0.001]), probe(2, 25.0, [0.0002]))),
        ]
    )

    class Replay:
        def sweep(self) -> RawSweep:
            return next(sweeps)

    monitor = ClusterMonitor(Replay(), "c", histogram_window_s=10.0)

    def p99s() -> dict[int, float | None]:
        snap = monitor.sweep()
        return {
            m.id: m.metrics.peer_rtt.p99 if m.metrics and m.metrics.peer_rtt else None
            for m in snap.members
        }

    first = p99s()  # lifetime
    assert first[1] is not None and first[1] > 0.04
    assert first[2] is not None and first[2] < 0.0003
    lower, upper = bucket_of(0.001)
    for _ in range(2):  # the 1 ms round trip at 5 s, still in the 10 s window at 10 s
        p99 = p99s()
        assert p99[2] is None
        assert p99[1] is not None and lower <= p99[1] <= upper
    assert p99s() == {1: None, 2: None}  # slid out at 25 s


def test_cluster_monitor_forgets_a_removed_member_but_not_a_down_one() -> None:
    def probe(member_id: int, t: float, *, up: bool = True) -> MemberProbe:
        info = MemberInfo(member_id, f"m{member_id}", (), (), False, None)
        if not up:
            return MemberProbe(info=info, endpoint=None, status_error="connection refused")
        return MemberProbe(info=info, endpoint=None, probe_s=0.001, scrape=rtt_scrape(t, a=[0.001]))

    sweeps = iter(
        [
            RawSweep(0.0, 0.01, (probe(1, 0.0), probe(2, 0.0))),
            RawSweep(5.0, 0.01, (probe(1, 5.0), probe(2, 5.0, up=False))),  # 2 is down
            RawSweep(10.0, 0.01, (probe(1, 10.0),)),  # 2 was removed from the cluster
        ]
    )

    class Replay:
        def sweep(self) -> RawSweep:
            return next(sweeps)

    monitor = ClusterMonitor(Replay(), "c")
    monitor.sweep()
    monitor.sweep()
    assert set(monitor._scrapes) == {1, 2} and set(monitor._probe_samples) == {1, 2}
    monitor.sweep()
    assert set(monitor._scrapes) == {1} and set(monitor._histograms) == {1}
    assert set(monitor._probe_samples) == {1}
