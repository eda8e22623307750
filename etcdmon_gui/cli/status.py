"""``etcdmon status``: one health sweep of a cluster, as a table or JSON."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from etcdmon_gui.cli.common import (
    EXIT_FAIL,
    EXIT_OK,
    EXIT_UNREACHABLE,
    UNREACHABLE_CODE,
    USAGE_CODE,
    add_command,
)
from etcdmon_gui.connection_args import add_connection_options, connection_config
from etcdmon_gui.etcd.probe import ClusterProbe
from etcdmon_gui.formatting import fmt_bytes, fmt_ms, fmt_seconds_as_ms
from etcdmon_gui.model.certs import CertCheck, CertInfo
from etcdmon_gui.model.metrics import Quantiles
from etcdmon_gui.model.snapshot import ClusterSnapshot, MemberStatus, Verdict
from etcdmon_gui.monitor.cluster_monitor import ClusterMonitor

# -- output ---------------------------------------------------------------------------


def _q99(q: Quantiles | None) -> str:
    return fmt_seconds_as_ms(q.p99 if q else None)


def _hex(v: int | None) -> str | None:
    return None if v is None else f"{v:x}"


def _quantiles_json(q: Quantiles | None) -> dict[str, float | None] | None:
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
        q = _quantiles_json
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
        "cluster_id": _hex(m.cluster_id),
        "reachable": m.reachable,
        "responsive": m.responsive,
        "is_leader": m.is_leader,
        "is_learner": m.is_learner,
        "version": m.version,
        "db_size": m.db_size,
        "db_size_in_use": m.db_size_in_use,
        "leader": _hex(m.leader_id),
        "raft_term": m.raft_term,
        "raft_index": m.raft_index,
        "raft_applied_index": m.raft_applied_index,
        "raft_lag": m.raft_lag,
        "rtt_ms": m.rtt_ms,
        "probe_ms": m.probe_ms,
        "probe_error": m.probe_error,
        "probe_denied": m.probe_denied,
        "probe_quantiles_s": _quantiles_json(m.probe_quantiles),
        "alarms": list(m.alarms),
        "errors": list(m.errors),
        "error": m.error,
        "metrics": metrics,
        "metrics_error": m.metrics_error,
        "server_cert": _cert_check_json(m.server_cert),
    }


def snapshot_json(s: ClusterSnapshot) -> dict[str, Any]:
    return {
        "cluster_id": _hex(s.cluster_id),
        "cluster_ids": [_hex(c) for c in s.cluster_ids],
        "verdict": s.verdict.name.lower(),
        "reasons": list(s.reasons),
        "leader": _hex(s.leader_id),
        "has_quorum": s.has_quorum,
        "voters": s.voters,
        "reachable_voters": s.reachable_voters,
        "quorum_size": s.quorum_size,
        "split_brain": s.split_brain,
        "split_brain_reason": s.split_brain_reason,
        "leader_changes": s.leader_changes,
        "leader_changes_seen_total": s.leader_changes_seen_total,
        "max_raft_index_lag": s.max_raft_index_lag,
        "learners": [_hex(x) for x in s.learners],
        "alarms": [{"member": _hex(a.member_id), "alarm": a.alarm} for a in s.alarms],
        "taken_at": s.taken_at,
        "duration_s": s.duration_s,
        "error": s.error,
        "auth_error": s.auth_error,
        "warnings": list(s.warnings),
        "client_cert": _cert_json(s.client_cert),
        "cert_days_left": s.cert_days_left,
        "members": [member_json(m) for m in s.members],
    }


def render_table(s: ClusterSnapshot) -> str:
    lines = [f"cluster {_hex(s.cluster_id) or '?'}: {s.verdict.name}"]
    lines += [f"  - {r}" for r in s.reasons]
    lead = s.leader
    lag = "-" if s.max_raft_index_lag is None else s.max_raft_index_lag
    quorum = (
        f"{'held' if s.has_quorum else 'LOST'} ({s.reachable_voters}/{s.voters} voters, "
        f"{s.quorum_size} needed)"
        if s.voters
        else "unknown (no member has answered)"
    )
    lines.append(
        f"leader {(lead.name or lead.id_hex) if lead else 'none'}, quorum {quorum}, "
        f"max raft lag {lag}, sweep {s.duration_s * 1000:.0f} ms"
    )
    lines += [f"warning: {w}" for w in s.warnings]
    if not s.members:
        return "\n".join(lines)
    head = (
        "ENDPOINT",
        "ID",
        "NAME",
        "VERSION",
        "DB SIZE",
        "IN USE",
        "ROLE",
        "TERM",
        "INDEX",
        "APPLIED",
        "LAG",
        "RTT",
        "PROBE",
        "FSYNC99",
        "COMMIT99",
        "RSS",
        "ALARMS/ERROR",
    )
    rows = [head]
    for m in s.members:
        role = (
            "leader"
            if m.is_leader
            else ("learner" if m.is_learner else ("follower" if m.reachable else "DOWN"))
        )
        mm = m.metrics
        note = ",".join(m.alarms) or (m.error or "") or (m.probe_error or "")
        rows.append(
            (
                m.endpoint or "-",
                m.id_hex,
                m.name or "-",
                m.version or "-",
                fmt_bytes(m.db_size),
                fmt_bytes(m.db_size_in_use),
                role,
                str(m.raft_term or "-"),
                str(m.raft_index or "-"),
                str(m.raft_applied_index or "-"),
                "-" if m.raft_lag is None else str(m.raft_lag),
                fmt_ms(m.rtt_ms),
                fmt_ms(m.probe_ms),
                _q99(mm.wal_fsync if mm else None),
                _q99(mm.backend_commit if mm else None),
                fmt_bytes(mm.rss_bytes if mm else None),
                note,
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(head) - 1)]
    for r in rows:
        lines.append("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)) + "  " + r[-1])
    return "\n".join(lines)


# -- commands -------------------------------------------------------------------------


def cmd_status(args: argparse.Namespace) -> int:
    config = connection_config(args)
    with ClusterProbe(config) as probe:
        snap = ClusterMonitor(probe, config.key).sweep()
    if args.json:
        print(json.dumps(snapshot_json(snap), indent=2))
    else:
        print(render_table(snap))
    refused = refusal(snap)
    if refused is not None:
        if not args.json:
            print(f"etcdmon: {refused}", file=sys.stderr)
        return EXIT_UNREACHABLE
    return EXIT_OK if snap.verdict == Verdict.HEALTHY else EXIT_FAIL


def refusal(snap: ClusterSnapshot) -> str | None:
    """Why the cluster could not be reached or refused us (the sweep then says little
    about its health: exit code 3), or None. A refused probe read (wrong password, no
    permission) counts: the members answer, but not to us. A critical cluster is not a
    refusal: what is known to be wrong outranks what we could not check (exit 1)."""
    if snap.verdict == Verdict.UNREACHABLE:
        return snap.error or "no member answered"
    if snap.verdict == Verdict.CRITICAL:
        return None
    if snap.auth_error:
        return f"cannot authenticate: {snap.auth_error}"
    denied = [m.probe_error for m in snap.members if m.reachable and m.probe_denied]
    return (denied[0] or "access denied") if denied else None


def register(sub: Any) -> None:
    p = add_command(
        sub,
        "status",
        help="one health sweep of a cluster, as a table or JSON",
        codes=f"  0  healthy\n  1  degraded or critical\n{USAGE_CODE}\n{UNREACHABLE_CODE}:\n"
        "     the verdict is UNREACHABLE",
        example="etcdmon status --endpoints 10.0.0.1:2379 --json",
    )
    add_connection_options(p)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_status)
