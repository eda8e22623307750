"""The cluster tree: one root per connected cluster, one row per member.

Rows are keyed by member id and updated in place, so the selection survives sweeps.
Unreachable members are greyed and carry their error; every cell has a tooltip with
the details behind it.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor, QPalette
from PySide6.QtWidgets import QHeaderView, QTreeWidget, QTreeWidgetItem, QWidget

from etcdmon_gui.formatting import fmt_bytes, fmt_ms, fmt_percent
from etcdmon_gui.model.snapshot import ClusterSnapshot, MemberStatus, Verdict
from etcdmon_gui.ui.palette import CRITICAL_COLOUR, VERDICT_COLOURS, dot_icon, verdict_icon

COLUMNS = ("Cluster / member", "State", "Role", "Version", "DB size", "Raft index", "Lag", "RTT")
KEY_ROLE = Qt.ItemDataRole.UserRole  # cluster key on roots
# Member ids are uint64, too big for a QVariant int: item data holds them as hex text.
MEMBER_ROLE = Qt.ItemDataRole.UserRole + 1  # member id (hex) on children
IDENT_ROLE = Qt.ItemDataRole.UserRole + 2  # "cluster/member/endpoint" on children


def _ident(m: MemberStatus) -> str:
    return f"{m.cluster_id or 0:x}/{m.id_hex}/{m.endpoint}"


def member_role(m: MemberStatus) -> str:
    if not m.reachable:
        return "—"
    if m.is_leader:
        return "leader"
    return "learner" if m.is_learner else "follower"


def member_state(m: MemberStatus) -> tuple[str, str]:
    """Short state text and its colour."""
    if not m.reachable:
        return ("hung" if not m.responsive else "down"), VERDICT_COLOURS[Verdict.CRITICAL]
    if m.alarms:
        return "alarm " + ",".join(m.alarms), VERDICT_COLOURS[Verdict.CRITICAL]
    if m.leader_id is None:
        return "no leader", VERDICT_COLOURS[Verdict.CRITICAL]
    if m.probe_error:
        return "up (read failed)", VERDICT_COLOURS[Verdict.DEGRADED]
    return "up", VERDICT_COLOURS[Verdict.HEALTHY]


def db_text(m: MemberStatus) -> str:
    quota = m.metrics.quota_bytes if m.metrics else None
    if m.db_size is None:
        return "-"
    if quota:
        return f"{fmt_bytes(m.db_size)} ({fmt_percent(m.db_size / quota)})"
    return fmt_bytes(m.db_size)


def member_tooltip(m: MemberStatus) -> str:
    lines = [f"<b>{m.name or '(unnamed)'}</b> — id {m.id_hex}", f"endpoint: {m.endpoint}"]
    if m.error:
        lines.append(f"<span style='color:{CRITICAL_COLOUR}'>error: {m.error}</span>")
    if m.reachable:
        lines += [
            f"version {m.version}, term {m.raft_term}, index {m.raft_index}, "
            f"applied {m.raft_applied_index}",
            f"db {fmt_bytes(m.db_size)}, in use {fmt_bytes(m.db_size_in_use)}",
            f"status RTT {fmt_ms(m.rtt_ms)}, probe read {fmt_ms(m.probe_ms)}",
        ]
    if m.probe_error:
        lines.append(f"probe read failed: {m.probe_error}")
    if m.metrics_error:
        lines.append(f"metrics: {m.metrics_error}")
    if m.errors:
        lines.append("reported errors: " + "; ".join(m.errors))
    return "<br>".join(lines)


def _children(item: QTreeWidgetItem) -> list[QTreeWidgetItem]:
    return [c for c in (item.child(i) for i in range(item.childCount())) if c is not None]


class ClusterTreeWidget(QTreeWidget):
    """Signals:
    clusterSelected(str key): the current row belongs to this cluster.
    memberSelected(str key, object member_id): a member row (int) or a root (None).
    """

    clusterSelected = Signal(str)
    memberSelected = Signal(str, object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setColumnCount(len(COLUMNS))
        self.setHeaderLabels(list(COLUMNS))
        self.setRootIsDecorated(True)
        self.setUniformRowHeights(True)
        self.setAlternatingRowColors(True)
        self.header().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        # A down member's state carries its error: elide it (the tooltip has it all)
        # rather than let it push the other columns out of sight.
        self.header().setSectionResizeMode(1, QHeaderView.ResizeMode.Interactive)
        self.header().resizeSection(1, 150)
        self.header().setStretchLastSection(False)
        self._roots: dict[str, QTreeWidgetItem] = {}
        self.currentItemChanged.connect(self._on_current)

    def add_cluster(self, key: str, title: str) -> None:
        if key in self._roots:
            return
        root = QTreeWidgetItem([title, "connecting…"])
        root.setData(0, KEY_ROLE, key)
        root.setIcon(0, verdict_icon(Verdict.UNREACHABLE))
        root.setToolTip(0, key)
        self.addTopLevelItem(root)
        root.setExpanded(True)
        self._roots[key] = root
        if self.currentItem() is None:
            self.setCurrentItem(root)

    def root(self, key: str) -> QTreeWidgetItem | None:
        return self._roots.get(key)

    def update_snapshot(self, snap: ClusterSnapshot) -> None:
        """Show ``snap`` under its cluster's root, added before with ``add_cluster``.

        The main window drops snapshots of clusters it does not show before they get
        here, so there is always a root.
        """
        root = self._roots[snap.key]
        colour = VERDICT_COLOURS[snap.verdict]
        root.setIcon(0, dot_icon(colour))
        root.setText(1, snap.verdict.name.capitalize())
        root.setForeground(1, QBrush(QColor(colour)))
        root.setToolTip(1, "<br>".join(snap.reasons) or "all members healthy")
        leader = snap.leader
        root.setText(2, f"leader {leader.name or leader.id_hex}" if leader else "no leader")
        versions = sorted({m.version for m in snap.members if m.version})
        root.setText(3, ", ".join(versions))
        root.setText(6, "-" if snap.max_raft_index_lag is None else str(snap.max_raft_index_lag))

        # Members a later sweep no longer lists are removed; others update in place.
        seen = {_ident(m) for m in snap.members}
        for child in _children(root):
            if child.data(0, IDENT_ROLE) not in seen:
                root.removeChild(child)
        rows = {child.data(0, IDENT_ROLE): child for child in _children(root)}
        for m in snap.members:
            ident = _ident(m)
            item = rows.get(ident)
            if item is None:
                item = QTreeWidgetItem()
                item.setData(0, IDENT_ROLE, ident)
                item.setData(0, MEMBER_ROLE, m.id_hex)
                root.addChild(item)
            self._fill_member(item, m)

    def _fill_member(self, item: QTreeWidgetItem, m: MemberStatus) -> None:
        state, colour = member_state(m)
        lag = "-" if m.raft_lag is None else str(m.raft_lag)
        texts = (
            m.name or m.endpoint or m.id_hex,
            state,
            member_role(m),
            m.version or "-",
            db_text(m),
            "-" if m.raft_index is None else str(m.raft_index),
            lag,
            fmt_ms(m.rtt_ms),
        )
        tip = member_tooltip(m)
        grey = self.palette().color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text)
        normal = self.palette().color(QPalette.ColorRole.Text)
        for col, text in enumerate(texts):
            item.setText(col, text)
            item.setToolTip(col, tip)
            item.setForeground(col, QBrush(normal if m.reachable else grey))
        item.setIcon(0, dot_icon(colour))
        item.setForeground(1, QBrush(QColor(colour)))
        if not m.reachable:
            item.setText(1, f"{state}: {m.error}" if m.error else state)
        font = item.font(0)
        font.setBold(m.is_leader)
        item.setFont(0, font)

    def _on_current(self, current: QTreeWidgetItem | None, _: QTreeWidgetItem | None) -> None:
        if current is None:
            return
        parent = current.parent()
        key = (parent or current).data(0, KEY_ROLE)
        self.clusterSelected.emit(key)
        self.memberSelected.emit(key, int(current.data(0, MEMBER_ROLE), 16) if parent else None)
