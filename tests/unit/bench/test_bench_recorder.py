"""The report math: exact moments across folds, HdrHistogram percentiles, tools/benchmark's
histogram and per-second series."""

from __future__ import annotations

import math

import numpy as np
import pytest

from etcdmon_gui.bench.recorder import (
    Recorder,
    hdr_indexes,
    histogram_buckets,
    new_histogram,
    record_many,
)


def recorder_with(
    latencies: list[float], starts: list[float] | None = None, folds: int = 1
) -> Recorder:
    rec = Recorder(wall_offset=1_000_000.0)
    starts = starts if starts is not None else [0.5 + i * 1e-3 for i in range(len(latencies))]
    chunk = math.ceil(len(latencies) / folds)
    for i in range(0, len(latencies), chunk):
        rec.starts.extend(starts[i : i + chunk])
        rec.latencies.extend(latencies[i : i + chunk])
        rec.fold()
    return rec


def test_vectorised_recording_equals_record_value() -> None:
    rng = np.random.default_rng(7)
    values = np.concatenate(
        [
            rng.integers(1, 5_000, 2_000),
            rng.integers(1, 10**9, 2_000),
            np.array([1, 1023, 1024, 2047, 2048, 2049, 3_600_000_000]),
        ]
    )
    fast, slow = new_histogram(), new_histogram()
    record_many(fast, values.astype(np.int64))
    for v in values.tolist():
        slow.record_value(v)
    assert np.array_equal(np.ctypeslib.as_array(fast.counts), np.ctypeslib.as_array(slow.counts))
    assert fast.get_total_count() == slow.get_total_count()
    assert fast.get_value_at_percentile(99.0) == slow.get_value_at_percentile(99.0)
    assert hdr_indexes(fast, np.array([5], dtype=np.int64)).tolist() == [5]


def test_moments_are_exact_across_folds() -> None:
    rng = np.random.default_rng(1)
    lat = (rng.gamma(2.0, 0.004, 10_001) + 0.0002).tolist()
    rec = recorder_with(lat, folds=7)
    s = rec.summary()
    assert s is not None
    assert s.count == len(lat)
    assert s.mean_s == pytest.approx(float(np.mean(lat)), rel=1e-12)
    assert s.stddev_s == pytest.approx(float(np.std(lat)), rel=1e-9)  # population, as Go's
    assert (s.min_s, s.max_s) == (min(lat), max(lat))


def test_percentiles_are_within_hdr_precision_and_never_above_the_max() -> None:
    rng = np.random.default_rng(2)
    lat = rng.uniform(0.001, 0.050, 20_000).tolist()
    s = recorder_with(lat).summary()
    assert s is not None
    assert [p for p, _ in s.percentiles] == [10, 25, 50, 75, 90, 95, 99, 99.9]
    for p, value in s.percentiles:
        assert value == pytest.approx(float(np.percentile(lat, p)), rel=3e-3)
        assert s.min_s <= value <= s.max_s


def test_histogram_has_eleven_buckets_like_tools_benchmark() -> None:
    lat = [0.001 * (i + 1) for i in range(100)]  # 1 .. 100 ms
    rec = recorder_with(lat)
    buckets = rec.histogram()
    assert len(buckets) == 11
    assert buckets[0].upper_s == pytest.approx(0.001) and buckets[-1].upper_s == 0.1
    assert [b.upper_s for b in buckets[1:4]] == pytest.approx([0.0109, 0.0208, 0.0307])
    assert sum(b.count for b in buckets) == 100
    assert buckets[0].count == 1  # the fastest request is in the first line
    # bounds 1, 10.9, 20.8 .. 90.1, 100 ms: 2..10 ms on the second line, then ten a line
    assert [b.count for b in buckets] == [1, 9, 10, 10, 10, 10, 10, 10, 10, 10, 10]


def test_histogram_of_a_single_latency() -> None:
    buckets = histogram_buckets(recorder_with([0.0042]).hist, 0.0042, 0.0042)
    assert sum(b.count for b in buckets) == 1


def test_series_groups_by_start_second_and_fills_gaps() -> None:
    rec = Recorder(wall_offset=100.0)
    # started at UNIX 100.2, 100.7, 102.1 (perf_counter 0.2, 0.7, 2.1)
    rec.starts.extend([0.2, 0.7, 2.1])
    rec.latencies.extend([0.010, 0.030, 0.020])
    rec.error_starts.extend([0.9, 2.5])
    rec.fold()
    points = rec.series()
    assert [p.unix_second for p in points] == [100, 101, 102]
    first, gap, last = points
    assert (first.count, first.errors) == (2, 1)
    assert (first.min_s, first.avg_s, first.max_s) == pytest.approx((0.010, 0.020, 0.030))
    assert (gap.count, gap.errors, gap.avg_s) == (0, 0, None)
    assert (last.count, last.errors, last.max_s) == (1, 1, 0.020)


def test_a_request_folded_later_joins_its_start_second() -> None:
    rec = Recorder(wall_offset=0.0)
    rec.starts.append(5.1)
    rec.latencies.append(0.1)
    rec.fold()
    rec.starts.append(5.9)
    rec.latencies.append(0.3)
    interval = rec.fold()
    assert interval.count == 1 and interval.max_s == 0.3
    (point,) = rec.series()
    assert (point.count, point.min_s, point.max_s) == (2, 0.1, 0.3)


def test_merging_kinds_gives_the_all_requests_summary() -> None:
    a = recorder_with([0.001, 0.002, 0.003])
    b = recorder_with([0.010, 0.020])
    b.errors = 1
    total = Recorder(0.0)
    a.merge_into(total)
    b.merge_into(total)
    s = total.summary()
    assert s is not None
    values = [0.001, 0.002, 0.003, 0.010, 0.020]
    assert s.count == 5 and total.errors == 1
    assert s.mean_s == pytest.approx(float(np.mean(values)))
    assert s.stddev_s == pytest.approx(float(np.std(values)))
    assert total.hist.get_total_count() == 5


def test_nothing_recorded() -> None:
    rec = Recorder(0.0)
    assert rec.fold().count == 0
    assert rec.summary() is None and rec.histogram() == () and rec.series() == ()
