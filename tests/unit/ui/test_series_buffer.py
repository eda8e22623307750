"""RingBuffer: the chart storage. No Qt."""

from __future__ import annotations

import math

import numpy as np
import pytest

from etcdmon_gui.ui.series_buffer import DEFAULT_CAPACITY, RingBuffer


def filled(n: int, capacity: int, *, columns: int = 1, slack: int | None = None) -> RingBuffer:
    """A buffer that received rows t = 0..n-1 with value(s) t * 10 (+ column index)."""
    buf = RingBuffer(capacity, columns, slack=slack)
    for i in range(n):
        buf.append(float(i), *(i * 10.0 + c for c in range(columns)))
    return buf


def test_defaults_to_a_day_of_one_second_samples() -> None:
    buf = RingBuffer()
    assert buf.capacity == DEFAULT_CAPACITY == 86_400
    assert buf.columns == 1
    assert len(buf) == 0
    assert buf.first_time is None and buf.last_time is None
    assert len(buf.view().t) == 0
    assert buf.view().values.shape == (1, 0)


@pytest.mark.parametrize("n", [1, 4, 5])
def test_before_wrapping_keeps_everything_in_order(n: int) -> None:
    buf = filled(n, capacity=5)
    t, values = buf.view()
    np.testing.assert_array_equal(t, np.arange(n, dtype=float))
    np.testing.assert_array_equal(values[0], np.arange(n) * 10.0)
    assert len(buf) == n == buf.total_appended


@pytest.mark.parametrize("n", [6, 9, 10, 11, 23, 1000])
def test_wrap_around_keeps_the_latest_capacity_rows_in_order(n: int) -> None:
    buf = filled(n, capacity=5, slack=3)
    t, values = buf.view()
    expected = np.arange(n - 5, n, dtype=float)
    np.testing.assert_array_equal(t, expected)
    np.testing.assert_array_equal(values[0], expected * 10.0)
    assert len(buf) == 5
    assert buf.total_appended == n
    assert buf.first_time == n - 5 and buf.last_time == n - 1


def test_view_is_one_contiguous_slice_without_copy() -> None:
    buf = filled(13, capacity=5, columns=3, slack=2)
    t, values = buf.view()
    assert t.flags.c_contiguous
    for c in range(3):
        assert values[c].flags.c_contiguous
        np.testing.assert_array_equal(values[c], np.arange(8, 13) * 10.0 + c)
    assert np.shares_memory(t, buf.view().t)
    with pytest.raises(ValueError, match="read-only"):
        t[0] = 1.0


def test_a_view_survives_slack_appends_unchanged() -> None:
    buf = filled(50, capacity=8, slack=4)
    t, values = buf.view()
    t_before, v_before = t.copy(), values.copy()
    for i in range(50, 54):  # exactly `slack` appends
        buf.append(float(i), i * 10.0)
    np.testing.assert_array_equal(t, t_before)
    np.testing.assert_array_equal(values, v_before)
    np.testing.assert_array_equal(buf.view().t, np.arange(46, 54, dtype=float))


def test_missing_values_are_nan_not_zero() -> None:
    buf = RingBuffer(10, columns=2)
    buf.append(1.0, 5.0, 6.0)
    buf.append(2.0, None, 7.0)
    buf.append(3.0, math.nan, None)
    buf.append(4.0, 8.0, 9.0)
    _, values = buf.view()
    np.testing.assert_array_equal(values[0], [5.0, np.nan, np.nan, 8.0])
    np.testing.assert_array_equal(values[1], [6.0, 7.0, np.nan, 9.0])
    assert not np.any(values[0] == 0.0)


def test_timestamps_must_not_go_backwards() -> None:
    buf = RingBuffer(4)
    buf.append(10.0, 1.0)
    buf.append(10.0, 2.0)  # equal is fine: two sweeps in the same clock tick
    with pytest.raises(ValueError, match="older"):
        buf.append(9.0, 3.0)
    with pytest.raises(ValueError, match="finite"):
        buf.append(math.nan, 3.0)
    np.testing.assert_array_equal(buf.view().values[0], [1.0, 2.0])


def test_append_checks_the_number_of_values() -> None:
    buf = RingBuffer(4, columns=2)
    with pytest.raises(ValueError, match="expected 2 values"):
        buf.append(1.0, 1.0)
    with pytest.raises(ValueError, match="capacity"):
        RingBuffer(0)
    with pytest.raises(ValueError, match="columns"):
        RingBuffer(4, columns=0)


@pytest.mark.parametrize(
    ("t0", "t1", "expected"),
    [
        (12.0, 15.0, [12, 13, 14, 15]),  # inclusive both ends
        (11.5, 13.5, [12, 13]),  # between samples
        (0.0, 11.0, [10, 11]),  # starts before the oldest row kept
        (18.0, 1e9, [18, 19]),  # ends after the newest
        (100.0, 200.0, []),  # entirely after
        (0.0, 5.0, []),  # entirely before (dropped by wrap-around)
        (15.0, 14.0, []),  # empty interval
    ],
)
def test_range_queries_after_wrap(t0: float, t1: float, expected: list[int]) -> None:
    buf = filled(20, capacity=10, slack=3)  # keeps t = 10..19, ring wrapped twice
    t, values = buf.range(t0, t1)
    np.testing.assert_array_equal(t, np.asarray(expected, dtype=float))
    np.testing.assert_array_equal(values[0], np.asarray(expected, dtype=float) * 10.0)
    assert values.shape == (1, len(expected))


def test_range_is_a_view_into_the_buffer() -> None:
    buf = filled(30, capacity=10)
    t, values = buf.range(22.0, 25.0)
    assert np.shares_memory(t, buf.view().t)
    assert np.shares_memory(values, buf.view().values)


def test_range_with_duplicate_timestamps_includes_all_of_them() -> None:
    buf = RingBuffer(10)
    for t, v in [(1.0, 1.0), (2.0, 2.0), (2.0, 3.0), (3.0, 4.0)]:
        buf.append(t, v)
    np.testing.assert_array_equal(buf.range(2.0, 2.0).values[0], [2.0, 3.0])


def test_nearest() -> None:
    buf = filled(20, capacity=10)  # t = 10..19
    assert RingBuffer(3).nearest(1.0) is None
    assert buf.nearest(-5.0) == 0
    assert buf.nearest(12.4) == 2
    assert buf.nearest(12.6) == 3
    assert buf.nearest(99.0) == 9


def test_clear_empties_but_keeps_capacity() -> None:
    buf = filled(30, capacity=10)
    buf.clear()
    assert len(buf) == 0 and buf.total_appended == 0
    assert buf.last_time is None
    buf.append(1.0, 2.0)  # time may restart after a clear
    np.testing.assert_array_equal(buf.view().t, [1.0])
    assert buf.capacity == 10


def test_capacity_one() -> None:
    buf = filled(7, capacity=1, slack=0)
    np.testing.assert_array_equal(buf.view().t, [6.0])
    np.testing.assert_array_equal(buf.range(0.0, 10.0).values[0], [60.0])


def test_memory_is_reserved_once() -> None:
    buf = RingBuffer(1000, columns=3, slack=24)
    reserved = buf.nbytes
    assert reserved == (3 + 1) * 2 * 1024 * 8
    for i in range(5000):
        buf.append(float(i), 1.0, 2.0, 3.0)
    assert buf.nbytes == reserved
