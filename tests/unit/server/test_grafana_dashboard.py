"""The Grafana dashboard names only metrics the exporter exports, so the two cannot
drift apart; and it covers what the issue asks a dashboard to show."""

from __future__ import annotations

import pytest

from etcdmon_gui.server.exporter import exported_names
from tests.prometheus_support import dashboard, dashboard_exprs, dashboard_panels, metric_names


def test_metric_names_are_read_out_of_promql() -> None:
    expr = (
        'histogram_quantile(0.99, sum by (cluster, le) (rate(foo_bucket{a="b{c}", d=~"$x"}'
        "[$__rate_interval]))) * on (instance) group_left (version) bar_info > bool 1"
        " or increase(baz_total[15m] offset 1h) unless qux == -Inf"
    )
    assert metric_names(expr) == {"foo_bucket", "bar_info", "baz_total", "qux"}


@pytest.mark.parametrize(("title", "expr"), dashboard_exprs(), ids=lambda v: str(v)[:40])
def test_every_query_names_exported_metrics_only(title: str, expr: str) -> None:
    names = metric_names(expr)
    assert names, f"{title}: no metric found in {expr!r}"
    assert names <= exported_names(), f"{title}: {names - exported_names()} not exported"


def test_the_cluster_variable_reads_an_exported_metric_and_the_datasource_is_an_input() -> None:
    board = dashboard()
    assert board["schemaVersion"] >= 39
    assert [i["name"] for i in board["__inputs"]] == ["DS_PROMETHEUS"]
    (variable,) = board["templating"]["list"]
    assert variable["name"] == "cluster"
    # cluster_info: every watched cluster has it, a stale one too (its quorum is absent)
    assert variable["query"]["query"] == "label_values(etcdmon_cluster_info, cluster)"
    assert "etcdmon_cluster_info" in exported_names()
    for panel in dashboard_panels():
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] == "${DS_PROMETHEUS}", panel["title"]
    ids = [p["id"] for p in dashboard_panels()]
    assert len(ids) == len(set(ids))


def test_the_dashboard_shows_what_the_issue_asks_for() -> None:
    shown = set().union(*(metric_names(e) for _, e in dashboard_exprs()))
    wanted = {
        "etcdmon_cluster_verdict",
        "etcdmon_cluster_quorum",
        "etcdmon_member_reachable",
        "etcdmon_cluster_leader_changes_seen_total",
        "etcdmon_member_probe_latency_seconds",
        "etcdmon_member_raft_index_lag",
        "etcdmon_member_db_size_bytes",
        "etcdmon_member_quota_bytes",
        "etcdmon_cluster_quota_full_days",
        "etcdmon_cluster_cert_days_left",
        "etcdmon_alert_firing",
        "etcdmon_sweep_duration_seconds_bucket",
        "etcdmon_sweep_errors_total",
        "etcdmon_deliveries_failed_total",
        "etcdmon_cluster_stale",
        "etcdmon_cluster_last_sweep_age_seconds",
    }
    assert wanted <= shown, wanted - shown
