"""A cluster watched over time: raw sweeps in, ``ClusterSnapshot`` out.

``ClusterMonitor`` owns what must be remembered between sweeps (the previous scrape of
each member for rates, a sliding window of its histograms for latency quantiles, recent
probe latencies for rolling quantiles, the last leader for leader changes). It does no
I/O itself: the prober it is given does, so the CLI, the GUI worker and tests drive the
same logic.
"""

from __future__ import annotations

import dataclasses
import logging
from collections import deque
from collections.abc import Iterable, Sequence
from typing import Protocol

import numpy as np

from etcdmon_gui.model.metrics import Quantiles, RawScrape
from etcdmon_gui.model.raw import MemberProbe, RawSweep
from etcdmon_gui.model.snapshot import ClusterSnapshot, MemberStatus
from etcdmon_gui.monitor import consistency, health
from etcdmon_gui.monitor.forecast import DbSizeWindow
from etcdmon_gui.monitor.metrics_math import HISTOGRAM_WINDOW_S, HistogramWindow, derive

log = logging.getLogger(__name__)

PROBE_WINDOW = 120  # probe latencies kept per member for the rolling quantiles


class Prober(Protocol):
    def sweep(self) -> RawSweep: ...


def rolling_quantiles(samples: Sequence[float]) -> Quantiles | None:
    if not samples:
        return None
    p50, p95, p99 = np.percentile(np.asarray(samples), [50, 95, 99])
    return Quantiles(float(p50), float(p95), float(p99))


class ClusterMonitor:
    """Turns successive sweeps of one cluster into snapshots. Not thread-safe.

    Latency quantiles cover the last ``histogram_window_s`` seconds of each member's
    scrapes (``metrics_math.HistogramWindow``); the first sweep gives lifetime ones.
    """

    def __init__(
        self, prober: Prober, key: str, *, histogram_window_s: float = HISTOGRAM_WINDOW_S
    ) -> None:
        self.prober = prober
        self.key = key
        self.histogram_window_s = histogram_window_s
        self._scrapes: dict[int, RawScrape] = {}
        self._histograms: dict[int, HistogramWindow] = {}
        self._probe_samples: dict[int, deque[float]] = {}
        self._last_leader: int | None = None
        self._leader_changes = 0
        self._db_sizes = DbSizeWindow()

    def seed_db_sizes(self, points: Iterable[tuple[float, float, float | None]]) -> None:
        """Stored ``(time, largest DB size, quota)`` points of the last day, so the quota
        forecast survives a restart."""
        self._db_sizes.seed(points)

    def sweep(self) -> ClusterSnapshot:
        return self.ingest(self.prober.sweep())

    def ingest(self, raw: RawSweep) -> ClusterSnapshot:
        members = [self._member(p) for p in raw.members]
        self._forget_removed({p.info.id for p in raw.members})
        cluster_id = health.main_cluster_id(members)
        members, max_lag = health.with_raft_lag(members)
        leader_id = health.elected_leader(members, cluster_id)
        if leader_id is not None:
            if self._last_leader is not None and leader_id != self._last_leader:
                self._leader_changes += 1
                log.info("%s: leader changed %x -> %x", self.key, self._last_leader, leader_id)
            self._last_leader = leader_id
        q = health.quorum([m for m in members if m.cluster_id == cluster_id])
        split = health.split_brain(members)
        alarms = tuple(
            sorted({a for p in raw.members for a in p.alarms}, key=lambda a: (a.member_id, a.alarm))
        )
        verdict, reasons = health.verdict(
            members,
            q,
            leader_id,
            split,
            alarms,
            max_lag,
            raw.error,
            raw.auth_error,
            client_cert=raw.client_cert,
            now=raw.started_at,
        )
        seen = [
            m.metrics.leader_changes_total
            for m in members
            if m.metrics is not None and m.metrics.leader_changes_total is not None
        ]
        snap = ClusterSnapshot(
            key=self.key,
            taken_at=raw.started_at,
            duration_s=raw.duration_s,
            cluster_id=cluster_id,
            cluster_ids=tuple(sorted({m.cluster_id for m in members if m.cluster_id})),
            members=tuple(members),
            leader_id=leader_id,
            leader_changes=self._leader_changes,
            leader_changes_seen_total=max(seen) if seen else None,
            voters=q.voters,
            reachable_voters=q.reachable_voters,
            quorum_size=q.size,
            has_quorum=q.held,
            split_brain=split is not None,
            split_brain_reason=split,
            max_raft_index_lag=max_lag,
            learners=tuple(m.id for m in members if m.is_learner),
            alarms=alarms,
            verdict=verdict,
            reasons=reasons,
            error=raw.error,
            auth_error=raw.auth_error,
            warnings=raw.warnings,
            client_cert=raw.client_cert,
            consistency=consistency.latest(cluster_id),
        )
        if not self._db_sizes.add(snap):
            return snap
        return dataclasses.replace(snap, quota_forecast=self._db_sizes.forecast(snap.taken_at))

    def _forget_removed(self, present: set[int]) -> None:
        """Drop what is remembered of members the cluster no longer has (a down member
        is still in the sweep; a removed one is not)."""
        if not present:  # nothing known this time: keep everything for the return
            return
        for memory in (self._scrapes, self._histograms, self._probe_samples):
            for gone in memory.keys() - present:
                del memory[gone]

    def _member(self, p: MemberProbe) -> MemberStatus:
        info, st = p.info, p.status
        metrics = None
        if p.scrape is not None:
            window = self._histograms.get(info.id)
            if window is None:
                window = self._histograms[info.id] = HistogramWindow(self.histogram_window_s)
            window.add(p.scrape)
            metrics = derive(self._scrapes.get(info.id), p.scrape, window)
            self._scrapes[info.id] = p.scrape
        samples = self._probe_samples.setdefault(info.id, deque(maxlen=PROBE_WINDOW))
        if p.probe_s is not None:
            samples.append(p.probe_s)
        own_alarms = tuple(sorted({a.alarm for a in p.alarms if a.member_id == info.id}))
        return MemberStatus(
            id=info.id,
            name=info.name,
            endpoint=p.endpoint,
            peer_urls=info.peer_urls,
            client_urls=info.client_urls,
            cluster_id=st.cluster_id if st else info.cluster_id,
            reachable=st is not None,
            error=p.status_error,
            responsive=not p.unresponsive,
            version=st.version if st else None,
            db_size=st.db_size if st else None,
            db_size_in_use=st.db_size_in_use if st else None,
            leader_id=(st.leader or None) if st else None,
            raft_term=st.raft_term if st else None,
            raft_index=st.raft_index if st else None,
            raft_applied_index=st.raft_applied_index if st else None,
            is_learner=st.is_learner if st else info.is_learner,
            errors=st.errors if st else (),
            rtt_ms=st.rtt_s * 1000 if st else None,
            alarms=own_alarms,
            probe_ms=p.probe_s * 1000 if p.probe_s is not None else None,
            probe_error=p.probe_error,
            probe_denied=p.probe_denied,
            probe_quantiles=rolling_quantiles(samples),
            metrics=metrics,
            metrics_error=p.scrape_error,
            server_cert=p.cert,
        )
