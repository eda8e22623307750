"""``GET /metrics``: what the server knows, in the Prometheus text format.

Two sources, one private registry (never prometheus_client's global one, so two servers
in one process, or the tests, do not share series):

* ``ServerMetrics``: the server's own health, which the runtime and the dispatcher
  update as things happen (sweep durations and errors per cluster, failed deliveries
  per channel, build info) plus the process collector (CPU, RSS, open files).
* The state collector: etcdmon's derived signals per cluster and member and the active
  alerts, read from ``ServerState.clusters()`` at scrape time, so a sweep copies
  nothing for the exporter and a scrape sees the latest snapshot.

Names carry their units (``_seconds``, ``_bytes``, ``_days``); labels are ``cluster``
(the profile's name), ``member`` (the member's name, its hex id when it has none) and
``member_id`` (hex). A value the snapshot does not know (a member that did not answer,
a version that does not export it, no TLS, no quota forecast yet) is absent, never 0.
``FAMILIES`` lists every family the state collector may export and ``exported_names``
every sample name, so the Grafana dashboard's test can check it names nothing else.

A cluster whose sweeps stalled (``ClusterView.stale``: no sweep ended within the
runtime's stall limit, e.g. a hung sweep thread) exports ``etcdmon_cluster_stale`` 1,
its info, last sweep's time and age and its alerts, and none of its state families:
its last snapshot is no longer the present, and absent means unknown.

``etcdmon_cluster_verdict`` maps ``model.snapshot.Verdict``: 0 healthy, 1 degraded,
2 critical, 3 unreachable.
"""

from __future__ import annotations

import contextlib
import platform
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Final, Literal

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from etcdmon_gui import __version__
from etcdmon_gui.model.alerts import Alert, AlertState
from etcdmon_gui.model.metrics import Quantiles
from etcdmon_gui.model.snapshot import ClusterSnapshot, MemberStatus, Verdict
from etcdmon_gui.server.state import ClusterView, ServerState

__all__ = [
    "FAMILIES",
    "SERVER_FAMILIES",
    "Exporter",
    "ServerMetrics",
    "exported_names",
]

#: Upper bounds of the sweep duration histogram (seconds): a healthy sweep of a local
#: cluster takes ~10 ms, a member that does not answer holds one for its deadline.
SWEEP_BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

_CLUSTER: Final = ("cluster",)
_MEMBER: Final = ("cluster", "member", "member_id")
_QUANTILE: Final = (*_MEMBER, "quantile")
_ALERT: Final = ("rule", "cluster", "member", "severity")
_QUANTILES: Final = (("0.5", "p50"), ("0.95", "p95"), ("0.99", "p99"))


@dataclass(frozen=True, slots=True)
class Family:
    """One metric family the state collector exports: its help text, labels and type
    (a counter's samples end in ``_total``)."""

    help: str
    labels: tuple[str, ...]
    kind: Literal["gauge", "counter"] = "gauge"

    def sample_names(self, name: str) -> tuple[str, ...]:
        return (f"{name}_total",) if self.kind == "counter" else (name,)


#: Every family the state collector may export.
FAMILIES: Final[dict[str, Family]] = {
    "etcdmon_clusters_watched": Family("Clusters this server watches.", ()),
    "etcdmon_cluster_info": Family(
        "1 per watched cluster; cluster_id is etcd's (hex), empty before one was read.",
        ("cluster", "cluster_id"),
    ),
    "etcdmon_cluster_last_sweep_timestamp_seconds": Family(
        "UNIX time the latest sweep of the cluster started.", _CLUSTER
    ),
    "etcdmon_cluster_last_sweep_age_seconds": Family(
        "Seconds since the latest sweep of the cluster ended; absent before the first.",
        _CLUSTER,
    ),
    "etcdmon_cluster_stale": Family(
        "1 when the cluster's sweeps stalled (none ended for 3 intervals + 2 deadlines "
        "+ 5 s): its state families are then absent, its last snapshot being old; else 0.",
        _CLUSTER,
    ),
    "etcdmon_cluster_verdict": Family(
        "Overall verdict: 0 healthy, 1 degraded, 2 critical, 3 unreachable.", _CLUSTER
    ),
    "etcdmon_cluster_healthy": Family("1 when the verdict is healthy, else 0.", _CLUSTER),
    "etcdmon_cluster_quorum": Family(
        "1 when enough voting members are reachable for quorum, 0 when not; absent when "
        "no member could be reached at all.",
        _CLUSTER,
    ),
    "etcdmon_cluster_quorum_size": Family("Voting members a quorum needs.", _CLUSTER),
    "etcdmon_cluster_voters": Family("Voting members (learners excluded).", _CLUSTER),
    "etcdmon_cluster_voters_reachable": Family("Voting members that answered.", _CLUSTER),
    "etcdmon_cluster_split_brain": Family(
        "1 when members report different cluster ids or leaders, else 0.", _CLUSTER
    ),
    "etcdmon_cluster_leader_changes_observed": Family(
        "Leader changes this server has seen between sweeps (resets when it restarts).",
        _CLUSTER,
        "counter",
    ),
    "etcdmon_cluster_leader_changes_seen": Family(
        "etcd_server_leader_changes_seen_total, the highest of the members'.",
        _CLUSTER,
        "counter",
    ),
    "etcdmon_cluster_raft_index_lag_max": Family(
        "The largest raft index lag of a member behind the most advanced one.", _CLUSTER
    ),
    "etcdmon_cluster_alarms": Family("Active etcd alarms (NOSPACE, CORRUPT).", _CLUSTER),
    "etcdmon_cluster_quota_full_days": Family(
        "Days until the largest database reaches its quota at its current growth (the "
        "sooner of the 6 h and 24 h linear fits); absent when it does not grow.",
        _CLUSTER,
    ),
    "etcdmon_cluster_cert_days_left": Family(
        "Days until the first certificate in use expires (members' chains or the client "
        "certificate); negative once expired; absent without TLS.",
        _CLUSTER,
    ),
    "etcdmon_cluster_data_inconsistent": Family(
        "1 when the last HashKV check found members' data differ, 0 when it found none.",
        _CLUSTER,
    ),
    "etcdmon_member_info": Family(
        "1 per member; version is etcd's, empty when the member did not answer.",
        (*_MEMBER, "version"),
    ),
    "etcdmon_member_reachable": Family("1 when the member answered this sweep.", _MEMBER),
    "etcdmon_member_leader": Family("1 for the elected leader, 0 for the others.", _MEMBER),
    "etcdmon_member_learner": Family("1 for a learner (non-voting) member.", _MEMBER),
    "etcdmon_member_probe_latency_seconds": Family(
        "Linearizable read latency of the monitor's probe, rolling quantiles.", _QUANTILE
    ),
    "etcdmon_member_status_rtt_seconds": Family(
        "Round trip of this sweep's Status call to the member.", _MEMBER
    ),
    "etcdmon_member_raft_index_lag": Family(
        "Raft index of the most advanced member minus this member's.", _MEMBER
    ),
    "etcdmon_member_raft_term": Family("The member's raft term.", _MEMBER),
    "etcdmon_member_db_size_bytes": Family("Size of the member's database file.", _MEMBER),
    "etcdmon_member_db_size_in_use_bytes": Family(
        "Bytes of the database in use (the rest is free pages a defragment returns).", _MEMBER
    ),
    "etcdmon_member_quota_bytes": Family(
        "The member's backend quota (etcd_server_quota_backend_bytes).", _MEMBER
    ),
    "etcdmon_member_cert_days_left": Family(
        "Days until the first certificate of the member's chain expires.", _MEMBER
    ),
    "etcdmon_member_alarm": Family("1 per active alarm of the member.", (*_MEMBER, "alarm")),
    "etcdmon_member_wal_fsync_seconds": Family(
        "WAL fsync latency over the last ~5 minutes (from etcd's histogram).", _QUANTILE
    ),
    "etcdmon_member_backend_commit_seconds": Family(
        "Backend commit latency over the last ~5 minutes (from etcd's histogram).", _QUANTILE
    ),
    "etcdmon_member_peer_rtt_seconds": Family(
        "Peer round trip time over the last ~5 minutes (from etcd's histogram).", _QUANTILE
    ),
    "etcdmon_member_proposals_pending": Family("Proposals waiting to commit.", _MEMBER),
    "etcdmon_alert_firing": Family("1 per firing alert (silenced ones too).", _ALERT),
    "etcdmon_alert_pending": Family(
        "1 per pending alert: its condition holds, its 'for' has not elapsed.", _ALERT
    ),
}

#: The server's own families (ServerMetrics) and their kinds.
SERVER_FAMILIES: Final[dict[str, Literal["histogram", "counter", "gauge", "info"]]] = {
    "etcdmon_sweep_duration_seconds": "histogram",
    "etcdmon_sweep_errors": "counter",
    "etcdmon_deliveries_failed": "counter",
    "etcdmon_build": "info",
}

_PROCESS_NAMES: Final = (
    "process_virtual_memory_bytes",
    "process_resident_memory_bytes",
    "process_start_time_seconds",
    "process_cpu_seconds_total",
    "process_open_fds",
    "process_max_fds",
)


def exported_names() -> frozenset[str]:
    """Every sample name ``/metrics`` may carry (histogram and counter suffixes too)."""
    names = {n for name, family in FAMILIES.items() for n in family.sample_names(name)}
    names |= set(_PROCESS_NAMES)
    for name, kind in SERVER_FAMILIES.items():
        if kind == "histogram":
            names |= {f"{name}_bucket", f"{name}_sum", f"{name}_count", f"{name}_created"}
        elif kind == "counter":
            names |= {f"{name}_total", f"{name}_created"}
        elif kind == "info":
            names.add(f"{name}_info")
        else:
            names.add(name)
    return frozenset(names)


class ServerMetrics(Collector):
    """The server's own health; every method is thread-safe (prometheus_client's
    metrics lock themselves) and cheap enough to call on every sweep."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sweeps = Histogram(
            "etcdmon_sweep_duration_seconds",
            "Wall time of one sweep of a cluster, failed ones included.",
            ["cluster"],
            buckets=SWEEP_BUCKETS,
            registry=None,
        )
        self._sweep_errors = Counter(
            "etcdmon_sweep_errors",
            "Sweeps that reached no member or failed in the server.",
            ["cluster"],
            registry=None,
        )
        self._deliveries_failed = Counter(
            "etcdmon_deliveries_failed",
            "Alert deliveries given up on (after their retries), per channel.",
            ["channel"],
            registry=None,
        )
        self._build = Gauge(
            "etcdmon_build_info",
            "1, with etcdmon's and Python's versions as labels.",
            ["version", "python"],
            registry=None,
        )
        self.set_info(__version__)

    def set_info(self, version: str) -> None:
        """Name the running version (build info); replaces the previous one."""
        with self._lock:
            self._build.clear()
            self._build.labels(version=version, python=platform.python_version()).set(1)

    def sweep_done(self, cluster: str, seconds: float, error: bool) -> None:
        """One sweep of ``cluster`` took ``seconds``; ``error``: it failed or reached
        no member."""
        self._sweeps.labels(cluster=cluster).observe(max(0.0, seconds))
        counter = self._sweep_errors.labels(cluster=cluster)
        if error:
            counter.inc()

    def delivery_failed(self, channel: str) -> None:
        """A delivery to ``channel`` (its name) was given up on."""
        self._deliveries_failed.labels(channel=channel).inc()

    def forget_cluster(self, cluster: str) -> None:
        """Drop a cluster no longer watched (after a reload), so its series end."""
        for metric in (self._sweeps, self._sweep_errors):
            with contextlib.suppress(KeyError):
                metric.remove(cluster)

    def collect(self) -> Iterable[Metric]:
        for metric in (self._sweeps, self._sweep_errors, self._deliveries_failed, self._build):
            yield from metric.collect()


class _Families:
    """The families of one scrape, created on first use, in ``FAMILIES`` order."""

    def __init__(self) -> None:
        self._made: dict[str, GaugeMetricFamily | CounterMetricFamily] = {}

    def add(self, name: str, labels: Sequence[str], value: float | None) -> None:
        if value is None:
            return
        family = self._made.get(name)
        if family is None:
            spec = FAMILIES[name]
            make = CounterMetricFamily if spec.kind == "counter" else GaugeMetricFamily
            family = make(name, spec.help, labels=spec.labels)
            self._made[name] = family
        family.add_metric(list(labels), float(value))

    def __iter__(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        return (self._made[n] for n in FAMILIES if n in self._made)


def _flag(value: bool) -> float:
    return 1.0 if value else 0.0


def _quantiles(
    out: _Families, name: str, labels: tuple[str, str, str], q: Quantiles | None
) -> None:
    if q is None:
        return
    for label, attr in _QUANTILES:
        out.add(name, (*labels, label), getattr(q, attr))


def _member(out: _Families, cluster: str, snap: ClusterSnapshot, m: MemberStatus) -> None:
    labels = (cluster, m.name or m.id_hex, m.id_hex)
    out.add("etcdmon_member_info", (*labels, m.version or ""), 1)
    out.add("etcdmon_member_reachable", labels, _flag(m.reachable))
    out.add("etcdmon_member_learner", labels, _flag(m.is_learner))
    if snap.error is None:  # someone answered: who leads (nobody, without quorum) is known
        out.add("etcdmon_member_leader", labels, _flag(m.id == snap.leader_id))
    for alarm in m.alarms:
        out.add("etcdmon_member_alarm", (*labels, alarm), 1)
    if m.server_cert is not None:
        out.add("etcdmon_member_cert_days_left", labels, m.server_cert.days_left(snap.taken_at))
    if not m.reachable:
        return
    _quantiles(out, "etcdmon_member_probe_latency_seconds", labels, m.probe_quantiles)
    out.add(
        "etcdmon_member_status_rtt_seconds", labels, None if m.rtt_ms is None else m.rtt_ms / 1e3
    )
    out.add("etcdmon_member_raft_index_lag", labels, m.raft_lag)
    out.add("etcdmon_member_raft_term", labels, m.raft_term)
    out.add("etcdmon_member_db_size_bytes", labels, m.db_size)
    out.add("etcdmon_member_db_size_in_use_bytes", labels, m.db_size_in_use)
    mm = m.metrics
    if mm is None:
        return
    out.add("etcdmon_member_quota_bytes", labels, mm.quota_bytes)
    out.add("etcdmon_member_proposals_pending", labels, mm.proposals_pending)
    _quantiles(out, "etcdmon_member_wal_fsync_seconds", labels, mm.wal_fsync)
    _quantiles(out, "etcdmon_member_backend_commit_seconds", labels, mm.backend_commit)
    _quantiles(out, "etcdmon_member_peer_rtt_seconds", labels, mm.peer_rtt)


def _cluster(out: _Families, view: ClusterView) -> None:
    name, snap = view.name, view.snapshot
    cluster_id = "" if snap is None or snap.cluster_id is None else f"{snap.cluster_id:x}"
    out.add("etcdmon_cluster_info", (name, cluster_id), 1)
    c = (name,)
    out.add("etcdmon_cluster_stale", c, _flag(view.stale))
    out.add("etcdmon_cluster_last_sweep_age_seconds", c, view.last_sweep_age_s)
    for alert in view.alerts:
        _alert(out, name, alert)
    if snap is None:  # not swept yet: nothing is known
        return
    out.add("etcdmon_cluster_last_sweep_timestamp_seconds", c, snap.taken_at)
    if view.stale:  # the last snapshot is not the present: its state is unknown
        return
    out.add("etcdmon_cluster_verdict", c, int(snap.verdict))
    out.add("etcdmon_cluster_healthy", c, _flag(snap.verdict == Verdict.HEALTHY))
    out.add("etcdmon_cluster_leader_changes_observed", c, snap.leader_changes)
    out.add("etcdmon_cluster_leader_changes_seen", c, snap.leader_changes_seen_total)
    out.add("etcdmon_cluster_cert_days_left", c, snap.cert_days_left)
    forecast = snap.quota_forecast
    out.add("etcdmon_cluster_quota_full_days", c, None if forecast is None else forecast.days_left)
    if snap.consistency is not None:
        out.add("etcdmon_cluster_data_inconsistent", c, _flag(not snap.consistency.consistent))
    if snap.error is None:  # what follows needs at least one member's answer
        out.add("etcdmon_cluster_quorum", c, _flag(snap.has_quorum))
        out.add("etcdmon_cluster_quorum_size", c, snap.quorum_size)
        out.add("etcdmon_cluster_voters", c, snap.voters)
        out.add("etcdmon_cluster_voters_reachable", c, snap.reachable_voters)
        out.add("etcdmon_cluster_split_brain", c, _flag(snap.split_brain))
        out.add("etcdmon_cluster_raft_index_lag_max", c, snap.max_raft_index_lag)
        out.add("etcdmon_cluster_alarms", c, len(snap.alarms))
    for m in snap.members:
        _member(out, name, snap, m)


def _alert(out: _Families, cluster: str, alert: Alert) -> None:
    labels = (alert.rule, cluster, alert.member or "", alert.severity.name.lower())
    if alert.state is AlertState.FIRING:
        out.add("etcdmon_alert_firing", labels, 1)
    elif alert.state is AlertState.PENDING:
        out.add("etcdmon_alert_pending", labels, 1)


class _StateCollector(Collector):
    """Reads the state at scrape time; holds nothing between scrapes."""

    def __init__(self, state: ServerState) -> None:
        self._state = state

    def describe(self) -> Iterable[Metric]:
        return ()  # names vary with the state: nothing to check at registration

    def collect(self) -> Iterable[Metric]:
        views = self._state.clusters()
        out = _Families()
        out.add("etcdmon_clusters_watched", (), len(views))
        for view in views:
            _cluster(out, view)
        return list(out)


class Exporter:
    """Renders ``/metrics``: the state collector, the server's metrics and the process
    collector on one private registry. ``render`` may be called from any thread."""

    def __init__(self, state: ServerState, metrics: ServerMetrics) -> None:
        self._registry = CollectorRegistry(auto_describe=False)
        self._registry.register(metrics)
        self._registry.register(_StateCollector(state))
        ProcessCollector(registry=self._registry)

    def render(self) -> tuple[bytes, str]:
        """The page and its content type (prometheus_client's latest text format)."""
        return generate_latest(self._registry), CONTENT_TYPE_LATEST
