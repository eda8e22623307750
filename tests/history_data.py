"""A small history file filled through the store's own functions, for the report tests:
one cluster with two members and cluster-wide signals, alert transitions, the member
inventory and two benchmark runs. Names hold a comma and a double quote (CSV quoting)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from etcdmon_gui.model.alerts import Alert, AlertEvent, AlertState, EventKind, Severity
from etcdmon_gui.model.history import (
    CLUSTER_WIDE,
    BenchRunRecord,
    MemberRecord,
    MemberRole,
    Sample,
)
from etcdmon_gui.store.history import AlertHistory
from etcdmon_gui.store.history import metrics as store
from etcdmon_gui.store.history.db import connect

KEY = "profile:0f1e2d3c"
NAME = "prod"
CLUSTER_ID = "cdf818194e3a8c32"
M1, M2 = "8e9e05c52164694d", "91bc3c398fb3c146"
M1_NAME = 'db, "east"'  # a comma and a quote: quoted, the quote doubled
M2_NAME = "db-west"


@dataclass(frozen=True)
class Filled:
    path: Path
    t0: float  # the first sweep; every other time is an offset from it


def _alert(state: AlertState, at: float, **kw: object) -> Alert:
    fields: dict[str, object] = {
        "fingerprint": "fp-db",
        "rule": "db_size_high",
        "severity": Severity.WARNING,
        "cluster": KEY,
        "cluster_name": NAME,
        "member": M1_NAME,
        "state": state,
        "value": 1048576.0,
        "summary": "DB size 1 MiB, over 0.5 MiB",
        "since": at,
        "labels": {"alertname": "db_size_high"},
    }
    fields.update(kw)
    return Alert(**fields)  # type: ignore[arg-type]


def fill(path: Path, t0: float, *, extra_sweeps: int = 0) -> Filled:
    """Sweeps at t0 and t0 + 1.5 s (and ``extra_sweeps`` cluster-wide ones a second
    apart after t0 + 10 s), their minutes rolled up; alerts; inventory; benchmarks."""
    db = connect(path)
    ids = store.SeriesIds()
    with db:
        store.note_cluster(db, KEY, NAME, CLUSTER_ID, t0)
        store.write_samples(
            db,
            ids,
            KEY,
            t0,
            [
                Sample(M1, "up", 1.0),
                Sample(M1, "db_size_bytes", 1048576.0),
                Sample(M1, "wal_fsync_p99_ms", 2.5),
                Sample(M2, "up", 0.0),
                Sample(CLUSTER_WIDE, "verdict", 1.0),
                Sample(CLUSTER_WIDE, "members", 2.0),
            ],
        )
        store.write_samples(
            db,
            ids,
            KEY,
            t0 + 1.5,
            [Sample(M1, "up", 1.0), Sample(M1, "db_size_bytes", 3145728.0)],
        )
        for i in range(extra_sweeps):
            store.write_samples(db, ids, KEY, t0 + 10 + i, [Sample(CLUSTER_WIDE, "verdict", 0.0)])
        now_ms = store.to_ms(t0 + 7200)
        while store.roll_up(db, now_ms):
            pass
        store.save_members(
            db,
            [
                MemberRecord(
                    KEY,
                    M1,
                    M1_NAME,
                    ("https://10.0.0.1:2380",),
                    ("https://10.0.0.1:2379", "https://db-east:2379"),
                    "3.5.17",
                    MemberRole.LEADER,
                    3145728,
                    t0 - 86_400,
                    t0 + 1.5,
                ),
                MemberRecord(KEY, M2, M2_NAME, (), (), None, MemberRole.DOWN, None, t0 - 3600, t0),
            ],
            [],
        )
        store.save_bench_run(
            db,
            BenchRunRecord(
                0,
                KEY,
                NAME,
                t0 + 100,
                'baseline, "first"',
                "put",
                1000.0,
                0.8,
                2.5,
                0,
                None,
                {
                    "workload": "put",
                    "label": "baseline",
                    "clients": 10,
                    "endpoints": ["https://root:hunter2@10.0.0.1:2379", "https://10.0.0.2:2379"],
                    "latency_p99_ms": 2.5,
                    "password": "hunter2",
                    "linearizable": False,
                    "compacted_revision": None,
                },
            ),
        )
        store.save_bench_run(
            db,
            BenchRunRecord(
                0,
                KEY,
                NAME,
                t0 + 200,
                "",
                "check-perf",
                1500.0,
                None,
                None,
                2,
                "PASS",
                {"clients": 50, "check_perf_passed": True, "latency_p99_ms": 12.25},
            ),
        )
    db.close()
    history = AlertHistory(path)
    history.record(
        [
            AlertEvent(
                EventKind.FIRING,
                _alert(AlertState.FIRING, t0 + 10, fired_at=t0 + 10, acknowledged=True),
                t0 + 10,
            ),
            AlertEvent(
                EventKind.FIRING,
                _alert(
                    AlertState.FIRING,
                    t0 + 20,
                    fingerprint="fp-quorum",
                    rule="quorum_lost",
                    severity=Severity.CRITICAL,
                    member=None,
                    value=None,
                    summary="quorum lost, line one\nline two",
                    fired_at=t0 + 20,
                    silenced_until=math.inf,
                    silence_reason="maintenance",
                ),
                t0 + 20,
            ),
            AlertEvent(
                EventKind.RESOLVED,
                _alert(
                    AlertState.RESOLVED,
                    t0 + 70,
                    value=524288.0,
                    fired_at=t0 + 10,
                    resolved_at=t0 + 70,
                ),
                t0 + 70,
            ),
        ]
    )
    history.close()
    return Filled(path, t0)
