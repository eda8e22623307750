"""The DB quota forecast: Prometheus' predict_linear, the two windows, the sliding feed,
and the default rule that warns days ahead."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest

from etcdmon_gui.model.alerts import EventKind, Severity
from etcdmon_gui.model.metrics import MemberMetrics
from etcdmon_gui.model.snapshot import ClusterSnapshot
from etcdmon_gui.monitor.alert_engine import AlertEngine
from etcdmon_gui.monitor.alert_rules import default_rules
from etcdmon_gui.monitor.forecast import (
    DbSizeWindow,
    linear_fit,
    predict_linear,
    quota_forecast,
)
from etcdmon_gui.monitor.rule_inputs import SIGNALS, SignalHistory
from tests.builders import Clock, member, snap

DAY = 86_400.0
HOUR = 3600.0
GIB = 1024**3
T0 = 1_000_000.0


# -- predict_linear ------------------------------------------------------------------------


def test_predict_linear_on_a_line_is_exact() -> None:
    ts = T0 + np.arange(0, 600, 15.0)
    values = 100 + 2.5 * (ts - T0)
    last = 100 + 2.5 * 585
    assert predict_linear(ts, values, 0) == pytest.approx(last)
    assert predict_linear(ts, values, 3600) == pytest.approx(last + 2.5 * 3600)
    # The intercept is at the evaluation time, as Prometheus evaluates at ``now``.
    assert predict_linear(ts, values, 60, now=T0 + 1000) == pytest.approx(100 + 2.5 * (1000 + 60))


def test_predict_linear_is_least_squares() -> None:
    rng = np.random.default_rng(7)
    ts = T0 + np.sort(rng.uniform(0, 3600, 50))
    values = 1e6 + 40 * (ts - T0) + rng.normal(0, 5e3, 50)
    slope, intercept = np.polyfit(ts - ts[-1], values, 1)
    assert predict_linear(ts, values, 7200) == pytest.approx(intercept + slope * 7200, rel=1e-9)
    fit = linear_fit(ts, values, float(ts[-1]))
    assert fit is not None and fit[0] == pytest.approx(slope, rel=1e-9)


def test_predict_linear_needs_a_line() -> None:
    assert predict_linear([], [], 10) is None
    assert predict_linear([T0], [1.0], 10) is None
    assert predict_linear([T0, T0], [1.0, 2.0], 10) is None  # one instant: no slope
    assert predict_linear([T0, T0 + 10], [5.0, 5.0], 100) == 5.0  # flat
    with pytest.raises(ValueError, match="same length"):
        predict_linear([T0, T0 + 1], [1.0], 10)


# -- quota_forecast ------------------------------------------------------------------------


def growth(hours: float, rate: float, start: float = 1e9, step: float = 60.0) -> np.ndarray:
    ts = T0 + np.arange(0, hours * HOUR + 1, step)
    return np.stack([ts, start + rate * (ts - T0)])


def test_linear_growth_is_forecast_by_both_windows() -> None:
    rate = 5_000.0  # bytes/s: ~430 MB a day
    ts, sizes = growth(24, rate)
    now = float(ts[-1])
    truth = (2 * GIB - sizes[-1]) / rate / DAY
    fc = quota_forecast(ts, sizes, 2 * GIB, now)
    assert fc is not None and len(fc.windows) == 2
    for w in fc.windows:
        assert w.slope_bytes_per_s == pytest.approx(rate, rel=0.05)
        assert w.days_left == pytest.approx(truth, rel=0.05)
        assert w.size_now == pytest.approx(sizes[-1], rel=1e-6)
    assert [w.window_s for w in fc.windows] == [6 * HOUR, 24 * HOUR]
    assert fc.windows[0].points == 361 and fc.windows[1].span_s == pytest.approx(24 * HOUR)
    assert fc.days_left == pytest.approx(truth, rel=0.05)
    assert fc.limiting is not None and fc.limiting.days_left == fc.days_left
    assert fc.limiting.bytes_per_day == pytest.approx(rate * DAY, rel=0.05)


def test_noisy_growth_with_compaction_sawtooth() -> None:
    rate = 5_000.0
    ts, sizes = growth(24, rate)
    rng = np.random.default_rng(3)
    saw = 20e6 * ((ts - T0) % (30 * 60)) / (30 * 60)  # +20 MB, compacted every 30 min
    noisy = sizes + saw + rng.normal(0, 5e6, len(ts))
    fc = quota_forecast(ts, noisy, 2 * GIB, float(ts[-1]))
    truth = (2 * GIB - sizes[-1]) / rate / DAY
    assert fc is not None
    for w in fc.windows:
        assert w.days_left == pytest.approx(truth, rel=0.05)


def test_the_more_pessimistic_window_wins() -> None:
    # Flat for 18 h, then a burst of 50 kB/s for the last 6 h.
    ts = T0 + np.arange(0, 24 * HOUR + 1, 60.0)
    burst = np.maximum(0.0, ts - T0 - 18 * HOUR)
    sizes = 1e9 + 50_000 * burst
    fc = quota_forecast(ts, sizes, 2 * GIB, float(ts[-1]))
    assert fc is not None
    short, long = fc.windows
    assert short.days_left is not None and long.days_left is not None
    assert short.days_left < long.days_left
    assert fc.days_left == short.days_left and fc.limiting is short
    truth = (2 * GIB - sizes[-1]) / 50_000 / DAY
    assert short.days_left == pytest.approx(truth, rel=0.05)


def test_a_shrinking_or_flat_db_has_no_answer() -> None:
    ts, sizes = growth(24, -2_000.0)
    fc = quota_forecast(ts, sizes, 2 * GIB, float(ts[-1]))
    assert fc is not None and fc.days_left is None
    assert all(w.days_left is None and w.slope_bytes_per_s < 0 for w in fc.windows)
    ts, sizes = growth(24, 0.0)
    fc = quota_forecast(ts, sizes, 2 * GIB, float(ts[-1]))
    assert fc is not None and fc.days_left is None


def test_too_little_data_no_quota_and_past_the_quota() -> None:
    ts, sizes = growth(1, 5_000.0)  # 1 h: less than a quarter of either window
    assert quota_forecast(ts, sizes, 2 * GIB, float(ts[-1])) is None
    ts, sizes = growth(2, 5_000.0)  # 2 h: the 6 h window only
    fc = quota_forecast(ts, sizes, 2 * GIB, float(ts[-1]))
    assert fc is not None and [w.window_s for w in fc.windows] == [6 * HOUR]
    assert quota_forecast(ts[:2], sizes[:2], 2 * GIB, float(ts[1])) is None  # two points
    assert quota_forecast(ts, sizes, None, float(ts[-1])) is None
    assert quota_forecast(ts, sizes, 0, float(ts[-1])) is None
    fc = quota_forecast(ts, sizes, 1e9, float(ts[-1]))  # already over a 1 GB quota
    assert fc is not None and fc.days_left == 0.0


def test_gaps_in_the_data() -> None:
    rate = 5_000.0
    ts, sizes = growth(24, rate)
    kept = ((ts - T0) < 2 * HOUR) | ((ts - T0) > 20 * HOUR)  # the app was off for 18 h
    truth = (2 * GIB - sizes[-1]) / rate / DAY
    fc = quota_forecast(ts[kept], sizes[kept], 2 * GIB, float(ts[-1]))
    assert fc is not None and len(fc.windows) == 2
    for w in fc.windows:
        assert w.days_left == pytest.approx(truth, rel=0.05)
    # Off for the last 5 h: the 6 h window holds one hour only and says nothing.
    recent_gap = (ts - T0) < 19 * HOUR
    fc = quota_forecast(ts[recent_gap], sizes[recent_gap], 2 * GIB, float(ts[-1]))
    assert fc is not None and [w.window_s for w in fc.windows] == [24 * HOUR]
    # Points after ``now`` are not looked at.
    fc = quota_forecast(ts, sizes, 2 * GIB, T0 + 12 * HOUR)
    assert fc is not None and fc.windows[1].span_s == pytest.approx(12 * HOUR)


# -- DbSizeWindow --------------------------------------------------------------------------


def metrics(quota: float | None) -> MemberMetrics:
    return MemberMetrics(
        window_s=5.0,
        wal_fsync=None,
        backend_commit=None,
        peer_rtt=None,
        peer_rtt_by_peer={},
        proposals_committed_per_s=None,
        proposals_applied_per_s=None,
        proposals_pending=None,
        proposals_failed_per_s=None,
        has_leader=True,
        is_leader=None,
        leader_changes_total=None,
        db_total_bytes=None,
        db_in_use_bytes=None,
        quota_bytes=quota,
        grpc_requests_per_s={},
        grpc_requests_total_per_s=None,
        grpc_failure_ratio=None,
        rss_bytes=None,
    )


def db_snap(t: float, size: float, quota: float | None = 2 * GIB, **kw: Any) -> ClusterSnapshot:
    """Three members; the largest DB is ``size`` (the others lag a little)."""
    members = [
        dataclasses.replace(member(i), db_size=int(size) - 1000 * i, metrics=metrics(quota))
        for i in (0, 1, 2)
    ]
    return snap(t, members, **kw)


def test_the_window_reads_the_largest_db_and_the_quota() -> None:
    w = DbSizeWindow()
    assert w.add(db_snap(T0, 5e8))
    assert w.points == [(T0, 5e8, 2 * GIB)]
    down = [dataclasses.replace(member(i, up=False), db_size=None) for i in (0, 1)]
    assert not w.add(snap(T0 + 60, down, error="refused"))  # nothing read
    assert w.add(db_snap(T0 + 120, 6e8, quota=None))
    assert w.points[-1] == (T0 + 120, 6e8, None)
    assert w.quota() == 2 * GIB  # the latest known
    assert DbSizeWindow().forecast(T0) is None


def test_the_window_thins_to_a_minute_and_keeps_a_day() -> None:
    w = DbSizeWindow()
    rate = 5_000.0
    t = T0
    while t <= T0 + 26 * HOUR:  # a sweep every 10 s for 26 h
        w.add(db_snap(t, 1e9 + rate * (t - T0)))
        t += 10
    now = t - 10
    pts = w.points
    assert len(pts) <= 24 * 60 + 2
    assert pts[0][0] >= now - 24 * HOUR
    assert pts[-1] == (now, 1e9 + rate * (now - T0), 2 * GIB)  # the latest sweep is there
    gaps = np.diff([p[0] for p in pts[:-1]])
    assert gaps.min() >= 60 and gaps.max() <= 70
    fc = w.forecast(now)
    truth = (2 * GIB - pts[-1][1]) / rate / DAY
    assert fc is not None and fc.days_left == pytest.approx(truth, rel=0.05)


def test_a_restart_keeps_the_fit_through_seed() -> None:
    rate = 5_000.0
    before = DbSizeWindow()
    for k in range(0, 3 * 60):  # 3 h, a sweep a minute
        before.add(db_snap(T0 + 60 * k, 1e9 + rate * 60 * k))
    stored = before.points
    # Restarted 10 minutes later: empty, the forecast needs 1.5 h of points...
    after = DbSizeWindow()
    t = T0 + 3 * HOUR + 600
    after.add(db_snap(t, 1e9 + rate * (t - T0)))
    assert after.forecast(t) is None
    # ... unless seeded from the history, in any order and overlapping the new points.
    after.seed(reversed(stored))
    assert len(after) == len(stored) + 1
    assert [p[0] for p in after.points] == sorted(p[0] for p in after.points)
    fc = after.forecast(t)
    truth = (2 * GIB - (1e9 + rate * (t - T0))) / rate / DAY
    assert fc is not None and fc.days_left == pytest.approx(truth, rel=0.05)
    # Seeding twice changes nothing: the same instants are merged.
    after.seed(stored)
    assert len(after) == len(stored) + 1


# -- the signal and the default rule -------------------------------------------------------


class Forecaster:
    """What ClusterMonitor does with each snapshot: its window's forecast on it."""

    def __init__(self) -> None:
        self.window = DbSizeWindow()

    def __call__(self, s: ClusterSnapshot) -> ClusterSnapshot:
        if not self.window.add(s):
            return s
        return dataclasses.replace(s, quota_forecast=self.window.forecast(s.taken_at))


def test_the_quota_full_days_signal() -> None:
    signal = SIGNALS["quota_full_days"]
    assert signal.scope == "cluster" and signal.cluster is not None
    h = SignalHistory()
    forecast = Forecaster()
    rate = 10_000.0
    readings = []
    for k in range(0, 2 * 60):  # 2 h, a sweep a minute
        s = forecast(db_snap(T0 + 60 * k, 1e9 + rate * 60 * k))
        h.record(s)
        readings.append(signal.cluster(s, h))
    assert readings[0].value is None and readings[60].value is None  # < 1.5 h
    last = readings[-1]
    truth = (2 * GIB - (1e9 + rate * 60 * 119)) / rate / DAY
    assert last.value == pytest.approx(truth, rel=0.05)
    assert last.detail == "growing 864.0 MB a day over the last 6 h, quota 2.1 GB"
    # A sweep that read no size: unknown (the alert keeps its state), not healed.
    down = forecast(snap(T0 + 2 * HOUR, [member(0, up=False)], error="refused"))
    h.record(down)
    assert signal.cluster(down, h).value is None
    # Without a quota: unknown.
    h = SignalHistory()
    forecast = Forecaster()
    for k in range(0, 2 * 60):
        s = forecast(db_snap(T0 + 60 * k, 1e9 + rate * 60 * k, quota=None))
        h.record(s)
    assert signal.cluster(s, h).value is None


def test_the_default_rule_warns_days_before_the_quota_is_full() -> None:
    (rule,) = [r for r in default_rules() if r.name == "etcdDatabaseQuotaForecast"]
    assert rule.signal == "quota_full_days" and rule.scope == "cluster"
    assert rule.op == "<" and rule.threshold == 4 and rule.for_s == 600
    assert rule.severity == Severity.WARNING
    clock = Clock()
    engine = AlertEngine([rule], clock=clock)
    idle = AlertEngine([rule], clock=clock)
    growing, flat = Forecaster(), Forecaster()
    start, rate = clock.t, 1 * GIB / (2 * DAY)  # 1 GiB left, gone in 2 days
    fired_at = None
    events = []
    while clock.t < start + 3 * HOUR:
        size = 1 * GIB + rate * (clock.t - start)
        events += engine.evaluate(growing(db_snap(clock.t, size)), "prod")
        assert idle.evaluate(flat(db_snap(clock.t, 1 * GIB)), "prod") == []
        if events and fired_at is None:
            fired_at = clock.t
        clock.t += 60
    (event,) = events
    assert event.kind == EventKind.FIRING and event.alert.member is None
    # Known after 1.5 h of points, firing 10 minutes later.
    assert fired_at == start + 1.5 * HOUR + 600
    assert event.alert.value == pytest.approx(2 - 1.6 / 24, rel=0.05)
    assert event.alert.summary.startswith(
        "the database of prod will reach its quota in 1.9 days at its current growth "
        "(growing 536.9 MB a day over the last 6 h, quota 2.1 GB)"
    )
