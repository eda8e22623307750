"""The chart table: every reading has a buffer column, and the readers read plot units."""

from __future__ import annotations

import math

from etcdmon_gui.model.history import Sample
from etcdmon_gui.model.metrics import MemberMetrics, Quantiles
from etcdmon_gui.model.snapshot import ClusterSnapshot, MemberStatus, Verdict
from etcdmon_gui.monitor.history_signals import signal, snapshot_samples
from etcdmon_gui.ui.chart_definitions import (
    BUFFER_COLUMNS,
    CHARTS,
    HISTORY_SIGNALS,
    NAN_ROW,
    PLOT_KEYS,
    READOUT_CELL,
    Unit,
    grid_cell,
    member_values,
    reading_column,
    reference_column,
    time_labelled,
)


def member(*, reachable: bool = True, metrics: bool = True) -> MemberStatus:
    mm = MemberMetrics(
        window_s=1.0,
        wal_fsync=Quantiles(0.001, 0.002, 0.003),
        backend_commit=Quantiles(0.004, 0.005, 0.006),
        peer_rtt=None,
        peer_rtt_by_peer={},
        proposals_committed_per_s=7.0,
        proposals_applied_per_s=7.0,
        proposals_pending=0.0,
        proposals_failed_per_s=0.0,
        has_leader=True,
        is_leader=True,
        leader_changes_total=1.0,
        db_total_bytes=2e6,
        db_in_use_bytes=1e6,
        quota_bytes=2e9,
        grpc_requests_per_s={},
        grpc_requests_total_per_s=9.0,
        grpc_failure_ratio=0.0,
        rss_bytes=None,
    )
    return MemberStatus(
        id=1,
        name="m",
        endpoint="http://127.0.0.1:2379",
        peer_urls=(),
        client_urls=(),
        cluster_id=1,
        reachable=reachable,
        db_size=2_000_000,
        probe_ms=1.5,
        probe_quantiles=Quantiles(0.001, 0.002, 0.004),
        metrics=mm if metrics else None,
    )


def value(m: MemberStatus, key: str, index: int = 0) -> float | None:
    return member_values(m)[reading_column(key, index)]


def test_one_column_per_reading_and_reference() -> None:
    wanted = sum(len(s.readings) + (s.reference is not None) for s in CHARTS)
    assert len(BUFFER_COLUMNS) == wanted == len(NAN_ROW)
    columns = {reading_column(s.key, i) for s in CHARTS for i in range(len(s.readings))}
    columns |= {c for s in CHARTS if (c := reference_column(s.key)) is not None}
    assert columns == set(range(wanted))
    assert PLOT_KEYS == ("probe", "wal", "backend", "peer", "proposals", "grpc", "db")


def test_readers_give_plot_units() -> None:
    m = member()
    assert [value(m, "probe", i) for i in range(4)] == [1.5, 1.0, 2.0, 4.0]  # ms
    assert (value(m, "wal"), value(m, "backend"), value(m, "peer")) == (3.0, 6.0, None)
    assert (value(m, "proposals"), value(m, "grpc"), value(m, "db")) == (7.0, 9.0, 2e6)
    ref = reference_column("db")
    assert ref is not None and member_values(m)[ref] == 2e9
    assert reference_column("wal") is None


def test_unknown_values_are_gaps() -> None:
    assert member_values(member(reachable=False)) == NAN_ROW
    bare = member(metrics=False)
    assert value(bare, "wal") is None and value(bare, "db") == 2e6


def test_layout_and_units() -> None:
    assert [grid_cell(i) for i in range(len(CHARTS))][:3] == [(1, 0), (1, 1), (2, 0)]
    assert READOUT_CELL == (4, 1)
    labelled = [s.key for i, s in enumerate(CHARTS) if time_labelled(i)]
    assert labelled == ["proposals", "grpc", "db"]
    assert Unit.MS.format(1.5) == "1.50 ms" and Unit.BYTES.format(20_480) == "20.5 kB"
    assert Unit.RATE.format(math.nan) == "—"


def test_every_column_names_its_history_signal_in_the_same_unit() -> None:
    units = {Unit.MS: "ms", Unit.RATE: "per_s", Unit.BYTES: "bytes"}
    m = member()
    for spec in CHARTS:
        columns = [*spec.readings, *([spec.reference] if spec.reference else [])]
        for reading in columns:
            sig = signal(reading.history)  # KeyError for an unknown key
            assert sig.unit == units[spec.unit], (spec.key, reading.label)
    # The history keeps what the charts read, number for number.
    kept = {s.signal: s.value for s in _samples(m)}
    for column in BUFFER_COLUMNS:
        assert kept.get(column.history) == column.read(m), column.history
    assert set(HISTORY_SIGNALS) == {c.history for c in BUFFER_COLUMNS}
    assert "probe_p99_ms" in HISTORY_SIGNALS and "quota_bytes" in HISTORY_SIGNALS


def _samples(m: MemberStatus) -> list[Sample]:
    snap = ClusterSnapshot(
        key="k",
        taken_at=1.0,
        duration_s=0.01,
        cluster_id=1,
        cluster_ids=(1,),
        members=(m,),
        leader_id=1,
        leader_changes=0,
        leader_changes_seen_total=None,
        voters=1,
        reachable_voters=1,
        quorum_size=1,
        has_quorum=True,
        split_brain=False,
        split_brain_reason=None,
        max_raft_index_lag=0,
        learners=(),
        alarms=(),
        verdict=Verdict.HEALTHY,
        reasons=(),
    )
    return [s for s in snapshot_samples(snap) if s.member == m.id_hex]
