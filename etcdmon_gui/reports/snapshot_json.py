"""A cluster snapshot as JSON: what ``etcdmon status --json`` prints and what the REST
API of ``etcdmon serve`` answers, one model for both (plain dicts of JSON types; member
and cluster ids in hex, times as UNIX seconds, latencies in seconds)."""

from __future__ import annotations

from typing import Any

from etcdmon_gui.model.certs import CertCheck, CertInfo
from etcdmon_gui.model.metrics import Quantiles
from etcdmon_gui.model.snapshot import ClusterSnapshot, MemberStatus


def hex_id(v: int | None) -> str | None:
    return None if v is None else f"{v:x}"


def quantiles_json(q: Quantiles | None) -> dict[str, float | None] | None:
    return None if q is None else {"p50": q.p50, "p95": q.p95, "p99": q.p99}


def _cert_json(c: CertInfo | None) -> dict[str, Any] | None:
    if c is None:
        return None
    return {
        "subject": c.subject,
        "issuer": c.issuer,
        "sans": list(c.sans),
        "not_after": c.not_after,
        "fingerprint_sha256": c.fingerprint_sha256,
    }


def _cert_check_json(check: CertCheck | None) -> dict[str, Any] | None:
    if check is None:
        return None
    return {
        "verified": check.verified,
        "error": check.error,
        "checked_at": check.checked_at,
        "chain": [_cert_json(c) for c in check.chain],
    }


def member_json(m: MemberStatus) -> dict[str, Any]:
    metrics = None
    if m.metrics is not None:
        mm = m.metrics
        q = quantiles_json
        metrics = {
            "window_s": mm.window_s,
            "wal_fsync_s": q(mm.wal_fsync),
            "backend_commit_s": q(mm.backend_commit),
            "peer_rtt_s": q(mm.peer_rtt),
            "proposals_committed_per_s": mm.proposals_committed_per_s,
            "proposals_applied_per_s": mm.proposals_applied_per_s,
            "proposals_pending": mm.proposals_pending,
            "proposals_failed_per_s": mm.proposals_failed_per_s,
            "has_leader": mm.has_leader,
            "leader_changes_total": mm.leader_changes_total,
            "db_total_bytes": mm.db_total_bytes,
            "db_in_use_bytes": mm.db_in_use_bytes,
            "quota_bytes": mm.quota_bytes,
            "grpc_requests_per_s": dict(mm.grpc_requests_per_s),
            "grpc_failure_ratio": mm.grpc_failure_ratio,
            "rss_bytes": mm.rss_bytes,
        }
    return {
        "id": m.id_hex,
        "name": m.name,
        "endpoint": m.endpoint,
        "cluster_id": hex_id(m.cluster_id),
        "reachable": m.reachable,
        "responsive": m.responsive,
        "is_leader": m.is_leader,
        "is_learner": m.is_learner,
        "version": m.version,
        "db_size": m.db_size,
        "db_size_in_use": m.db_size_in_use,
        "leader": hex_id(m.leader_id),
        "raft_term": m.raft_term,
        "raft_index": m.raft_index,
        "raft_applied_index": m.raft_applied_index,
        "raft_lag": m.raft_lag,
        "rtt_ms": m.rtt_ms,
        "probe_ms": m.probe_ms,
        "probe_error": m.probe_error,
        "probe_denied": m.probe_denied,
        "probe_quantiles_s": quantiles_json(m.probe_quantiles),
        "alarms": list(m.alarms),
        "errors": list(m.errors),
        "error": m.error,
        "metrics": metrics,
        "metrics_error": m.metrics_error,
        "server_cert": _cert_check_json(m.server_cert),
    }


def snapshot_json(s: ClusterSnapshot) -> dict[str, Any]:
    return {
        "cluster_id": hex_id(s.cluster_id),
        "cluster_ids": [hex_id(c) for c in s.cluster_ids],
        "verdict": s.verdict.name.lower(),
        "reasons": list(s.reasons),
        "leader": hex_id(s.leader_id),
        "has_quorum": s.has_quorum,
        "voters": s.voters,
        "reachable_voters": s.reachable_voters,
        "quorum_size": s.quorum_size,
        "split_brain": s.split_brain,
        "split_brain_reason": s.split_brain_reason,
        "leader_changes": s.leader_changes,
        "leader_changes_seen_total": s.leader_changes_seen_total,
        "max_raft_index_lag": s.max_raft_index_lag,
        "learners": [hex_id(x) for x in s.learners],
        "alarms": [{"member": hex_id(a.member_id), "alarm": a.alarm} for a in s.alarms],
        "taken_at": s.taken_at,
        "duration_s": s.duration_s,
        "error": s.error,
        "auth_error": s.auth_error,
        "warnings": list(s.warnings),
        "client_cert": _cert_json(s.client_cert),
        "cert_days_left": s.cert_days_left,
        "members": [member_json(m) for m in s.members],
    }
