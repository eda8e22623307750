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
from etcdmon_gui.model.metrics import Quantiles
from etcdmon_gui.model.snapshot import ClusterSnapshot, Verdict
from etcdmon_gui.monitor.cluster_monitor import ClusterMonitor
from etcdmon_gui.reports.snapshot_json import hex_id as _hex
from etcdmon_gui.reports.snapshot_json import snapshot_json

# -- output ---------------------------------------------------------------------------


def _q99(q: Quantiles | None) -> str:
    return fmt_seconds_as_ms(q.p99 if q else None)


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
