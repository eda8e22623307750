"""Everything the last snapshot knows about one member, or about its cluster, as a
property table whose rows grow to show long values (reasons, errors) in full."""

from __future__ import annotations

import time

from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

from etcdmon_gui.formatting import (
    fmt_bytes,
    fmt_count,
    fmt_duration,
    fmt_ms,
    fmt_percent,
    fmt_rate,
    fmt_seconds_as_ms,
)
from etcdmon_gui.model.certs import CertCheck
from etcdmon_gui.model.metrics import Quantiles
from etcdmon_gui.model.snapshot import ClusterSnapshot, MemberStatus
from etcdmon_gui.ui.forecast_text import forecast_text, growing_fit


def _q(q: Quantiles | None) -> str:
    if q is None:
        return "-"
    return " / ".join(fmt_seconds_as_ms(v) for v in (q.p50, q.p95, q.p99))


def _expiry(not_after: float, now: float) -> str:
    date = time.strftime("%Y-%m-%d", time.gmtime(not_after))
    days = (not_after - now) / 86_400
    left = f"expired {-days:.0f} days ago" if days < 0 else f"{days:.0f} days left"
    return f"{date} ({left})"


def cert_rows(check: CertCheck | None, now: float) -> list[tuple[str, str]]:
    if check is None:
        return []
    leaf = check.leaf
    rows = [("TLS verified", "yes" if check.verified else f"no — {check.error}")]
    if leaf is not None:
        rows += [
            ("Server certificate", leaf.subject),
            ("Issued by", leaf.issuer),
            ("Certificate names (SAN)", ", ".join(leaf.sans) or "-"),
            ("Certificate expires", _expiry(leaf.not_after, now)),
        ]
    rows += [
        (f"Chain #{i}", f"{c.subject} — expires {_expiry(c.not_after, now)}")
        for i, c in enumerate(check.chain[1:], start=2)
    ]
    return rows


def member_rows(m: MemberStatus, now: float | None = None) -> list[tuple[str, str]]:
    rows = [
        ("Name", m.name or "-"),
        ("ID", m.id_hex),
        ("Endpoint", m.endpoint or "-"),
        ("Client URLs", ", ".join(m.client_urls) or "-"),
        ("Peer URLs", ", ".join(m.peer_urls) or "-"),
        ("Reachable", "yes" if m.reachable else f"no — {m.error}"),
        ("Role", "leader" if m.is_leader else ("learner" if m.is_learner else "follower")),
        ("Version", m.version or "-"),
        ("Cluster ID", f"{m.cluster_id:x}" if m.cluster_id else "-"),
        ("Leader seen", f"{m.leader_id:x}" if m.leader_id else "-"),
        ("Raft term / index / applied", f"{m.raft_term} / {m.raft_index} / {m.raft_applied_index}"),
        ("Raft lag", "-" if m.raft_lag is None else str(m.raft_lag)),
        ("DB size / in use", f"{fmt_bytes(m.db_size)} / {fmt_bytes(m.db_size_in_use)}"),
        ("Alarms", ", ".join(m.alarms) or "none"),
        ("Reported errors", "; ".join(m.errors) or "none"),
        ("Status RTT", fmt_ms(m.rtt_ms)),
        ("Probe read", fmt_ms(m.probe_ms) + (f" — {m.probe_error}" if m.probe_error else "")),
        ("Probe P50 / P95 / P99", _q(m.probe_quantiles)),
    ]
    rows += cert_rows(m.server_cert, time.time() if now is None else now)
    mm = m.metrics
    if mm is None:
        rows.append(("Metrics", m.metrics_error or "-"))
        return rows
    window = f"last {mm.window_s:.0f} s" if mm.window_s else "since start"
    rows += [
        ("Metrics window", window),
        ("WAL fsync P50 / P95 / P99", _q(mm.wal_fsync)),
        ("Backend commit P50 / P95 / P99", _q(mm.backend_commit)),
        ("Peer RTT P50 / P95 / P99", _q(mm.peer_rtt)),
        (
            "Proposals committed / applied",
            f"{fmt_rate(mm.proposals_committed_per_s)} / {fmt_rate(mm.proposals_applied_per_s)}",
        ),
        (
            "Proposals pending / failed",
            f"{fmt_count(mm.proposals_pending)} / {fmt_rate(mm.proposals_failed_per_s)}",
        ),
        ("gRPC requests", fmt_rate(mm.grpc_requests_total_per_s)),
        ("gRPC failure ratio", fmt_percent(mm.grpc_failure_ratio)),
        ("Quota", fmt_bytes(mm.quota_bytes)),
        ("Leader changes seen", fmt_count(mm.leader_changes_total)),
        ("Resident memory", fmt_bytes(mm.rss_bytes)),
    ]
    busiest = sorted(mm.grpc_requests_per_s.items(), key=lambda kv: -kv[1])[:5]
    if busiest:
        rows.append(("Busiest gRPC methods", ", ".join(f"{k} {v:.1f}/s" for k, v in busiest)))
    if m.metrics_error:
        rows.append(("Metrics error", m.metrics_error))
    return rows


def cluster_rows(s: ClusterSnapshot, name: str | None = None) -> list[tuple[str, str]]:
    """The cluster's rows; ``name`` is what the user calls it (profile, sandbox), the
    connection key (endpoints, profile id) comes second."""
    names = {m.id: m.name or m.id_hex for m in s.members}
    members = sorted(names.values())
    return [
        ("Cluster", name or s.key),
        ("Connection", s.key),
        ("Cluster ID", ", ".join(f"{c:x}" for c in s.cluster_ids) or "-"),
        ("Verdict", s.verdict.name.capitalize()),
        ("Reasons", "\n".join(s.reasons) or "none"),
        ("Members", f"{len(members)}: {', '.join(members)}" if members else "0"),
        ("Learners", ", ".join(names.get(x, f"{x:x}") for x in s.learners) or "none"),
        ("Split-brain", s.split_brain_reason or "no"),
        (
            "Leader changes (seen here / etcd's count)",
            f"{s.leader_changes} / {fmt_count(s.leader_changes_seen_total)}",
        ),
        ("Max raft lag", "-" if s.max_raft_index_lag is None else str(s.max_raft_index_lag)),
        ("Warnings", "; ".join(s.warnings) or "none"),
        ("Client certificate", _client_cert(s)),
        (
            "Nearest certificate expiry",
            "-" if s.cert_days_left is None else f"{s.cert_days_left:.0f} days",
        ),
        ("DB quota forecast", _forecast(s)),
        ("Sweep", fmt_seconds_as_ms(s.duration_s, 0)),
    ]


def _forecast(s: ClusterSnapshot) -> str:
    """E.g. ``full in ~3.2 days (+12.3 MB/day over the last 6 h, quota 2.1 GB)``."""
    fc = s.quota_forecast
    text = forecast_text(fc)
    fit = growing_fit(fc)
    if fc is None or fit is None:
        return text
    return (
        f"{text} (+{fmt_bytes(fit.bytes_per_day)}/day over the last {fmt_duration(fit.window_s)}, "
        f"quota {fmt_bytes(fc.quota_bytes)})"
    )


class MemberDetailWidget(QTableWidget):
    """Shows ``member_rows`` of the selected member, or ``cluster_rows`` of its cluster."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, 2, parent)
        self.setHorizontalHeaderLabels(["Property", "Value"])
        self.verticalHeader().hide()
        # Names take what they need up to 45 % of the width (then wrap), values the rest.
        self.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        self.horizontalHeader().setStretchLastSection(True)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setWordWrap(True)
        self.setAlternatingRowColors(True)

    def show_rows(self, rows: list[tuple[str, str]]) -> None:
        self.setRowCount(len(rows))
        for r, (name, value) in enumerate(rows):
            self.setItem(r, 0, QTableWidgetItem(name))
            cell = QTableWidgetItem(value)
            cell.setToolTip(value)
            self.setItem(r, 1, cell)
        self._fit()

    def _fit(self) -> None:
        room = self.viewport().width()
        self.setColumnWidth(0, min(self.sizeHintForColumn(0) + 8, max(90, int(room * 0.45))))
        self.resizeRowsToContents()  # wrapped values take the lines they need

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit()

    def value(self, name: str) -> str | None:
        """The value shown for a property (for tests and accessibility)."""
        for r in range(self.rowCount()):
            key, value = self.item(r, 0), self.item(r, 1)
            if key is not None and value is not None and key.text() == name:
                return value.text()
        return None


def _client_cert(s: ClusterSnapshot) -> str:
    if s.client_cert is None:
        return "-"
    return f"{s.client_cert.subject} — expires {_expiry(s.client_cert.not_after, s.taken_at)}"
