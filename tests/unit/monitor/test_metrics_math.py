"""Tests for etcdmon_gui.monitor.metrics_math: Prometheus quantiles, deltas, derive()."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

from etcdmon_gui.etcd.metrics_scrape import parse_page
from etcdmon_gui.model.metrics import Histogram, Quantiles, RawScrape
from etcdmon_gui.monitor.metrics_math import (
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
