"""The Prometheus exporter on built snapshots: its page parsed back with
prometheus_client's parser, names, labels and values checked; unknown values absent."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Sequence

import pytest
from prometheus_client.parser import text_string_to_metric_families

from etcdmon_gui.model.alerts import Alert, AlertState, Severity
from etcdmon_gui.model.certs import CertCheck, CertInfo
from etcdmon_gui.model.forecast import QuotaForecast
from etcdmon_gui.model.ops import ConsistencyCheck
from etcdmon_gui.model.snapshot import Verdict
from etcdmon_gui.server.exporter import FAMILIES, Exporter, ServerMetrics, exported_names
from etcdmon_gui.server.state import ClusterView
from tests.builders import chart_member, chart_snapshot

T = 1_000_000.0
Labels = frozenset[tuple[str, str]]


class State:
    """A ServerState whose views a test sets."""

    def __init__(self, views: Sequence[ClusterView] = ()) -> None:
        self.views = list(views)

    def clusters(self) -> Sequence[ClusterView]:
        return list(self.views)


def scrape(state: State, metrics: ServerMetrics | None = None) -> dict[str, dict[Labels, float]]:
    """Sample name -> {labels: value} of one rendered page."""
    body, content_type = Exporter(state, metrics or ServerMetrics()).render()
    assert content_type.startswith("text/plain; version=")
    out: dict[str, dict[Labels, float]] = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            out.setdefault(sample.name, {})[frozenset(sample.labels.items())] = sample.value
    return out


def lbl(**labels: str) -> Labels:
    return frozenset(labels.items())


def member_labels(index: int, cluster: str = "prod", **extra: str) -> Labels:
    m = chart_member(index)
    return lbl(cluster=cluster, member=m.name, member_id=m.id_hex, **extra)


def alert(rule: str, state: AlertState, member: str | None, severity: Severity) -> Alert:
    return Alert(
        fingerprint=f"{rule}-{member}",
        rule=rule,
        severity=severity,
        cluster="key-prod",
        cluster_name="prod",
        member=member,
        state=state,
        value=1.0,
        summary="",
        since=T,
    )


def cert(days: float) -> CertInfo:
    return CertInfo(
        subject="CN=etcd",
        issuer="CN=ca",
        sans=(),
        not_before=T - 86_400,
        not_after=T + days * 86_400,
        serial="01",
        fingerprint_sha256=f"{days}",
        self_signed=False,
    )


def test_healthy_cluster_every_known_value_and_its_labels() -> None:
    snapshot = chart_snapshot(T, value=2.0)
    page = scrape(State([ClusterView("prod", "key-prod", snapshot, ())]))

    assert page["etcdmon_clusters_watched"] == {lbl(): 1}
    assert page["etcdmon_cluster_info"] == {lbl(cluster="prod", cluster_id="1"): 1}
    c = lbl(cluster="prod")
    assert page["etcdmon_cluster_quorum"] == {c: 1}
    assert page["etcdmon_cluster_verdict"] == {c: 0}
    assert page["etcdmon_cluster_healthy"] == {c: 1}
    assert page["etcdmon_cluster_voters"] == {c: 3}
    assert page["etcdmon_cluster_voters_reachable"] == {c: 3}
    assert page["etcdmon_cluster_quorum_size"] == {c: 2}
    assert page["etcdmon_cluster_split_brain"] == {c: 0}
    assert page["etcdmon_cluster_alarms"] == {c: 0}
    assert page["etcdmon_cluster_last_sweep_timestamp_seconds"] == {c: T}
    assert page["etcdmon_cluster_leader_changes_seen_total"] == {c: 1}
    assert page["etcdmon_cluster_leader_changes_observed_total"] == {c: 0}
    assert page["etcdmon_member_reachable"] == {member_labels(i): 1 for i in range(3)}
    assert page["etcdmon_member_leader"] == {member_labels(i): float(i == 0) for i in range(3)}
    assert page["etcdmon_member_db_size_bytes"][member_labels(1)] == 2e6
    assert page["etcdmon_member_quota_bytes"][member_labels(2)] == 1e9
    probe = page["etcdmon_member_probe_latency_seconds"]
    assert len(probe) == 9
    assert probe[member_labels(0, quantile="0.5")] == pytest.approx(0.002)
    assert probe[member_labels(0, quantile="0.95")] == pytest.approx(0.004)
    assert probe[member_labels(0, quantile="0.99")] == pytest.approx(0.006)
    assert page["etcdmon_member_wal_fsync_seconds"][member_labels(1, quantile="0.99")] == (
        pytest.approx(0.002)
    )
    # What the snapshot does not know is absent, never 0: no TLS, no forecast, no
    # Status round trip, no raft lag, no HashKV check, no alerts.
    for unknown in (
        "etcdmon_cluster_cert_days_left",
        "etcdmon_cluster_quota_full_days",
        "etcdmon_cluster_data_inconsistent",
        "etcdmon_member_cert_days_left",
        "etcdmon_member_status_rtt_seconds",
        "etcdmon_member_raft_index_lag",
        "etcdmon_member_alarm",
        "etcdmon_alert_firing",
        "etcdmon_alert_pending",
    ):
        assert unknown not in page, unknown


def test_a_member_that_did_not_answer_is_unreachable_and_its_values_are_absent() -> None:
    members = [chart_member(0), chart_member(1), chart_member(2, reachable=False)]
    snapshot = chart_snapshot(T, members)
    page = scrape(State([ClusterView("prod", "key-prod", snapshot, ())]))

    down = member_labels(2)
    assert page["etcdmon_member_reachable"][down] == 0
    assert page["etcdmon_member_leader"][down] == 0
    assert page["etcdmon_cluster_voters_reachable"] == {lbl(cluster="prod"): 2}
    assert page["etcdmon_cluster_quorum"] == {lbl(cluster="prod"): 1}
    for name in ("etcdmon_member_db_size_bytes", "etcdmon_member_quota_bytes"):
        assert set(page[name]) == {member_labels(0), member_labels(1)}, name
    for name in ("etcdmon_member_probe_latency_seconds", "etcdmon_member_wal_fsync_seconds"):
        assert not [labels for labels in page[name] if ("member", "etcd-3") in labels], name


def test_quorum_lost_is_zero_but_an_unreachable_cluster_knows_no_quorum() -> None:
    members = [chart_member(0), chart_member(1, reachable=False), chart_member(2, reachable=False)]
    lost = dataclasses.replace(chart_snapshot(T, members), verdict=Verdict.CRITICAL)
    nobody = dataclasses.replace(
        chart_snapshot(T, [chart_member(i, reachable=False) for i in range(3)], key="b"),
        verdict=Verdict.UNREACHABLE,
        error="no endpoint answered",
        leader_id=None,
    )
    page = scrape(State([ClusterView("prod", "k1", lost, ()), ClusterView("dr", "k2", nobody, ())]))

    assert page["etcdmon_cluster_quorum"] == {lbl(cluster="prod"): 0}
    assert page["etcdmon_cluster_verdict"] == {lbl(cluster="prod"): 2, lbl(cluster="dr"): 3}
    assert page["etcdmon_cluster_healthy"] == {lbl(cluster="prod"): 0, lbl(cluster="dr"): 0}
    assert lbl(cluster="dr") not in page["etcdmon_cluster_voters"]
    assert not [k for k in page["etcdmon_member_leader"] if ("cluster", "dr") in k]
    dr_reachable = {
        k: v for k, v in page["etcdmon_member_reachable"].items() if ("cluster", "dr") in k
    }
    assert sorted(dr_reachable.values()) == [0, 0, 0]


def test_a_cluster_not_swept_yet_is_listed_without_values() -> None:
    page = scrape(State([ClusterView("new", "k", None, ())]))

    assert page["etcdmon_clusters_watched"] == {lbl(): 1}
    assert page["etcdmon_cluster_info"] == {lbl(cluster="new", cluster_id=""): 1}
    assert "etcdmon_cluster_verdict" not in page
    assert "etcdmon_cluster_quorum" not in page
    assert "etcdmon_member_reachable" not in page
    assert page["etcdmon_cluster_stale"] == {lbl(cluster="new"): 0}
    assert "etcdmon_cluster_last_sweep_age_seconds" not in page


def test_a_stale_cluster_exports_no_state_only_its_staleness_and_alerts() -> None:
    """Sweeps that stalled (a hung sweep thread) must not keep the last healthy state
    alive: absent means unknown. The other cluster, still swept, keeps its state."""
    firing = (alert("etcdMembersDown", AlertState.FIRING, "etcd-3", Severity.CRITICAL),)
    stale = ClusterView("prod", "k1", chart_snapshot(T), firing, stale=True, last_sweep_age_s=61.5)
    fresh = ClusterView("dr", "k2", chart_snapshot(T, key="b"), (), last_sweep_age_s=0.25)
    page = scrape(State([stale, fresh]))

    prod, dr = lbl(cluster="prod"), lbl(cluster="dr")
    assert page["etcdmon_cluster_stale"] == {prod: 1, dr: 0}
    assert page["etcdmon_cluster_last_sweep_age_seconds"] == {prod: 61.5, dr: 0.25}
    assert page["etcdmon_cluster_last_sweep_timestamp_seconds"] == {prod: T, dr: T}
    assert lbl(cluster="prod", cluster_id="1") in page["etcdmon_cluster_info"]
    assert page["etcdmon_alert_firing"] == {
        lbl(rule="etcdMembersDown", cluster="prod", member="etcd-3", severity="critical"): 1
    }
    state_families = [
        n
        for n in FAMILIES
        if n.startswith(("etcdmon_cluster_", "etcdmon_member_"))
        and n
        not in (
            "etcdmon_cluster_info",
            "etcdmon_cluster_stale",
            "etcdmon_cluster_last_sweep_age_seconds",
            "etcdmon_cluster_last_sweep_timestamp_seconds",
        )
    ]
    for family in state_families:
        for sample in FAMILIES[family].sample_names(family):
            assert not [k for k in page.get(sample, {}) if ("cluster", "prod") in k], sample
    assert page["etcdmon_cluster_healthy"] == {dr: 1}
    assert page["etcdmon_cluster_quorum"] == {dr: 1}
    assert len(page["etcdmon_member_reachable"]) == 3  # dr's members only


def test_firing_and_pending_alerts_with_their_labels_resolved_ones_not() -> None:
    alerts = (
        alert("etcdMembersDown", AlertState.FIRING, "etcd-3", Severity.CRITICAL),
        alert("etcdNoQuorum", AlertState.FIRING, None, Severity.CRITICAL),
        alert("etcdHighFsync", AlertState.PENDING, "etcd-1", Severity.WARNING),
        alert("etcdOld", AlertState.RESOLVED, "etcd-2", Severity.INFO),
    )
    page = scrape(State([ClusterView("prod", "key-prod", chart_snapshot(T), alerts)]))

    assert page["etcdmon_alert_firing"] == {
        lbl(rule="etcdMembersDown", cluster="prod", member="etcd-3", severity="critical"): 1,
        lbl(rule="etcdNoQuorum", cluster="prod", member="", severity="critical"): 1,
    }
    assert page["etcdmon_alert_pending"] == {
        lbl(rule="etcdHighFsync", cluster="prod", member="etcd-1", severity="warning"): 1
    }


def test_forecast_certificates_alarms_and_consistency_when_known() -> None:
    check = CertCheck("https://m", (cert(30.0), cert(400.0)), True, None, T)
    members = [
        dataclasses.replace(chart_member(0), server_cert=check, rtt_ms=4.0, raft_lag=0),
        dataclasses.replace(chart_member(1), alarms=("NOSPACE",), raft_lag=7),
    ]
    forecast = QuotaForecast(quota_bytes=1e9, now=T, windows=(), days_left=12.5)
    snapshot = dataclasses.replace(
        chart_snapshot(T, members, forecast=forecast),
        client_cert=cert(20.0),
        consistency=ConsistencyCheck(cluster_id=1, checked_at=T, revision=5, hashes=()),
    )
    page = scrape(State([ClusterView("prod", "key-prod", snapshot, ())]))

    c = lbl(cluster="prod")
    assert page["etcdmon_cluster_quota_full_days"] == {c: 12.5}
    assert page["etcdmon_cluster_cert_days_left"] == {c: pytest.approx(20.0)}
    assert page["etcdmon_cluster_data_inconsistent"] == {c: 0}
    assert page["etcdmon_member_cert_days_left"] == {member_labels(0): pytest.approx(30.0)}
    assert page["etcdmon_member_status_rtt_seconds"] == {member_labels(0): pytest.approx(0.004)}
    assert page["etcdmon_member_raft_index_lag"] == {member_labels(0): 0, member_labels(1): 7}
    assert page["etcdmon_member_alarm"] == {member_labels(1, alarm="NOSPACE"): 1}


def test_server_metrics_sweeps_errors_deliveries_and_build_info() -> None:
    metrics = ServerMetrics()
    metrics.sweep_done("prod", 0.02, error=False)
    metrics.sweep_done("prod", 3.0, error=True)
    metrics.sweep_done("dr", 0.2, error=False)
    metrics.delivery_failed("pager")
    metrics.delivery_failed("pager")
    metrics.set_info("9.9.9")
    page = scrape(State(), metrics)

    assert page["etcdmon_sweep_duration_seconds_count"] == {
        lbl(cluster="prod"): 2,
        lbl(cluster="dr"): 1,
    }
    assert page["etcdmon_sweep_duration_seconds_sum"][lbl(cluster="prod")] == pytest.approx(3.02)
    assert page["etcdmon_sweep_duration_seconds_bucket"][lbl(cluster="prod", le="0.025")] == 1
    assert page["etcdmon_sweep_errors_total"] == {lbl(cluster="prod"): 1, lbl(cluster="dr"): 0}
    assert page["etcdmon_deliveries_failed_total"] == {lbl(channel="pager"): 2}
    ((labels, value),) = page["etcdmon_build_info"].items()
    assert ("version", "9.9.9") in labels and value == 1
    assert page["etcdmon_clusters_watched"] == {lbl(): 0}
    assert "process_resident_memory_bytes" in page

    metrics.forget_cluster("dr")
    metrics.forget_cluster("never-watched")
    page = scrape(State(), metrics)
    assert page["etcdmon_sweep_errors_total"] == {lbl(cluster="prod"): 1}


def test_every_family_is_exported_somewhere_and_nothing_else_is() -> None:
    """FAMILIES and exported_names() are what the dashboard test trusts: keep them true."""
    check = CertCheck("https://m", (cert(30.0),), True, None, T)
    members = [
        dataclasses.replace(chart_member(0), server_cert=check, rtt_ms=1.0, raft_lag=0),
        dataclasses.replace(
            chart_member(1), alarms=("NOSPACE",), raft_term=3, db_size_in_use=500_000
        ),
    ]
    forecast = QuotaForecast(quota_bytes=1e9, now=T, windows=(), days_left=1.0)
    snapshot = dataclasses.replace(
        chart_snapshot(T, members, forecast=forecast),
        consistency=ConsistencyCheck(cluster_id=1, checked_at=T, revision=5, hashes=()),
    )
    alerts = (
        alert("a", AlertState.FIRING, None, Severity.WARNING),
        alert("b", AlertState.PENDING, None, Severity.WARNING),
    )
    metrics = ServerMetrics()
    metrics.sweep_done("prod", 0.1, error=False)
    metrics.delivery_failed("pager")
    view = ClusterView("prod", "k", snapshot, alerts, last_sweep_age_s=0.5)
    page = scrape(State([view]), metrics)

    assert set(page) <= exported_names()
    for name, family in FAMILIES.items():
        assert set(family.sample_names(name)) <= set(page), name


def test_render_reads_the_state_as_it_changes_from_another_thread() -> None:
    state = State([ClusterView("prod", "k", None, ())])
    exporter = Exporter(state, ServerMetrics())
    stop = threading.Event()
    views = [[ClusterView("prod", "k", chart_snapshot(T + i), ())] for i in range(2)]

    def sweeps() -> None:
        i = 0
        while not stop.is_set():
            i += 1
            state.views = views[i % 2]
            stop.wait(0.0005)

    writer = threading.Thread(target=sweeps, name="test-sweeps")
    writer.start()
    try:
        pages = [exporter.render()[0] for _ in range(50)]
    finally:
        stop.set()
        writer.join(timeout=5)
    assert not writer.is_alive()
    for page in pages:  # each page parses, and reads one of the two snapshots
        samples = {
            s.name: s.value
            for family in text_string_to_metric_families(page.decode())
            for s in family.samples
        }
        assert samples["etcdmon_clusters_watched"] == 1
        assert samples["etcdmon_cluster_last_sweep_timestamp_seconds"] in (T, T + 1)
