"""The cluster tree: one root per connected cluster, one row per member.

Rows are keyed by member id and updated in place, so the selection survives sweeps;
members are listed by name. Unreachable members are greyed and carry their error; every
cell has a tooltip with the details behind it. A cluster whose data is paused or stale
is greyed as a whole and its state says so. When the tree is narrow, the columns that
matter least are hidden (their values stay in the tooltips and the details). The
context menu asks for actions on a cluster through signals; a member's adds the
maintenance that names a member (move the leader there, promote a learner, remove it,
snapshot from it), each opening the maintenance dialog preselected.
"""

from __future__ import annotations

import html

from PySide6.QtCore import QPoint, Qt, Signal
from PySide6.QtGui import QAction, QBrush, QColor, QPalette, QResizeEvent
from PySide6.QtWidgets import QHeaderView, QMenu, QTreeWidget, QTreeWidgetItem, QWidget

from etcdmon_gui.formatting import fmt_bytes, fmt_ms, fmt_percent
from etcdmon_gui.model.ops import OpKind
from etcdmon_gui.model.snapshot import ClusterSnapshot, MemberStatus, Verdict
from etcdmon_gui.ui.cluster_state import Freshness, freshness_note
from etcdmon_gui.ui.palette import CRITICAL_COLOUR, VERDICT_COLOURS, dot_icon, verdict_icon

COLUMNS = ("Cluster / member", "State", "Role", "Version", "DB size", "Raft index", "Lag", "RTT")
# Which columns stay when the tree is too narrow for all: first the most wanted.
COLUMN_PRIORITY = (0, 1, 2, 4, 6, 7, 3, 5)
STATE_WIDTH = 150  # a down member's state carries its error: elided beyond this
STATE_MIN_WIDTH = 110  # what State keeps when the other columns need the room
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


def member_sort_key(m: MemberStatus) -> tuple[str, int]:
    """Members by name (then id): the same order in the tree, legend and details."""
    return (m.name or m.endpoint or m.id_hex, m.id)


class ClusterTreeWidget(QTreeWidget):
    """Signals:
    clusterSelected(str key): the current row belongs to this cluster.
    memberSelected(str key, object member_id): a member row (int) or a root (None).
    sweepRequested(str key), pauseRequested(str key, bool paused),
    reconnectRequested(str key), disconnectRequested(str key): chosen from the context
        menu of a cluster (or of one of its members).
    maintenanceRequested(str key, OpKind, str member_id_hex): chosen from a member's
        context menu.
    """

    clusterSelected = Signal(str)
    memberSelected = Signal(str, object)
    sweepRequested = Signal(str)
    pauseRequested = Signal(str, bool)
    reconnectRequested = Signal(str)
    disconnectRequested = Signal(str)
    maintenanceRequested = Signal(str, object, object)

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
        self.header().resizeSection(1, STATE_WIDTH)
        self.header().setStretchLastSection(False)
        self._roots: dict[str, QTreeWidgetItem] = {}
        self._snapshots: dict[str, ClusterSnapshot] = {}
        self._freshness: dict[str, tuple[Freshness, float | None]] = {}
        self.currentItemChanged.connect(self._on_current)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.customContextMenuRequested.connect(self._show_context_menu)

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
        self._fit_columns()

    def root(self, key: str) -> QTreeWidgetItem | None:
        return self._roots.get(key)

    def rename_cluster(self, key: str, title: str) -> None:
        root = self._roots.get(key)
        if root is not None:
            root.setText(0, title)

    def remove_cluster(self, key: str) -> None:
        """Take the cluster's root and its members away."""
        root = self._roots.pop(key, None)
        self._snapshots.pop(key, None)
        self._freshness.pop(key, None)
        if root is not None:
            self.takeTopLevelItem(self.indexOfTopLevelItem(root))

    def show_failure(self, key: str, message: str) -> None:
        """The sweep could not run at all (bad settings...): say so on the root, where
        "connecting…" would otherwise stay forever."""
        root = self._roots.get(key)
        if root is None:
            return
        root.setIcon(0, verdict_icon(Verdict.UNREACHABLE))
        root.setText(1, f"failed: {message}")
        root.setForeground(1, QBrush(QColor(CRITICAL_COLOUR)))
        root.setToolTip(1, html.escape(message))

    def set_freshness(self, key: str, state: Freshness, last_sweep: float | None) -> None:
        """Grey the cluster and say "paused" / "stale since ..." while its data is not live."""
        if self._freshness.get(key) == (state, last_sweep) or key not in self._roots:
            return
        self._freshness[key] = (state, last_sweep)
        snap = self._snapshots.get(key)
        if snap is not None:
            self.update_snapshot(snap)
        else:
            self._roots[key].setText(1, "paused" if state is Freshness.PAUSED else "connecting…")

    def freshness(self, key: str) -> Freshness:
        return self._freshness.get(key, (Freshness.WAITING, None))[0]

    def _live(self, key: str) -> bool:
        return self.freshness(key) in (Freshness.LIVE, Freshness.WAITING)

    def update_snapshot(self, snap: ClusterSnapshot) -> None:
        """Show ``snap`` under its cluster's root, added before with ``add_cluster``.

        The main window drops snapshots of clusters it does not show before they get
        here, so there is always a root.
        """
        root = self._roots[snap.key]
        self._snapshots[snap.key] = snap
        self._fill_root(root, snap)

        # Members a later sweep no longer lists are removed; others update in place.
        seen = {_ident(m) for m in snap.members}
        for child in _children(root):
            if child.data(0, IDENT_ROLE) not in seen:
                root.removeChild(child)
        rows = {child.data(0, IDENT_ROLE): child for child in _children(root)}
        ordered = sorted(snap.members, key=member_sort_key)
        for m in ordered:
            ident = _ident(m)
            item = rows.get(ident)
            if item is None:
                item = QTreeWidgetItem()
                item.setData(0, IDENT_ROLE, ident)
                item.setData(0, MEMBER_ROLE, m.id_hex)
                root.addChild(item)
            self._fill_member(item, m, live=self._live(snap.key))
        self._sort_members(root, [_ident(m) for m in ordered])
        self._fit_columns()

    def _fill_root(self, root: QTreeWidgetItem, snap: ClusterSnapshot) -> None:
        state, last_sweep = self._freshness.get(snap.key, (Freshness.WAITING, None))
        live = state in (Freshness.LIVE, Freshness.WAITING)
        colour = VERDICT_COLOURS[snap.verdict]
        shown = colour if live else VERDICT_COLOURS[Verdict.UNREACHABLE]
        note = freshness_note(state, last_sweep)
        verdict = snap.verdict.name.capitalize()
        root.setIcon(0, dot_icon(shown))
        root.setText(1, f"{verdict} · {note}" if note else verdict)
        root.setForeground(1, QBrush(QColor(shown)))
        reasons = "<br>".join(html.escape(r) for r in snap.reasons) or "all members healthy"
        root.setToolTip(1, f"<b>{note}</b><br>{reasons}" if note else reasons)
        leader = snap.leader
        root.setText(2, f"leader {leader.name or leader.id_hex}" if leader else "no leader")
        versions = sorted({m.version for m in snap.members if m.version})
        root.setText(3, ", ".join(versions))
        root.setText(6, "-" if snap.max_raft_index_lag is None else str(snap.max_raft_index_lag))

    def _sort_members(self, root: QTreeWidgetItem, order: list[str]) -> None:
        """Put the member rows in ``order`` (by ident), keeping the current row."""
        children = _children(root)
        if [c.data(0, IDENT_ROLE) for c in children] == order:
            return
        current = self.currentItem()
        rank = {ident: i for i, ident in enumerate(order)}
        self.blockSignals(True)  # the current row goes out and comes back: no news
        try:
            taken = root.takeChildren()
            taken.sort(key=lambda c: rank.get(c.data(0, IDENT_ROLE), len(rank)))
            root.addChildren(taken)
            if current is not None:
                self.setCurrentItem(current)
        finally:
            self.blockSignals(False)

    def _grey(self, item: QTreeWidgetItem, grey: bool) -> None:
        disabled = self.palette().color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text)
        normal = self.palette().color(QPalette.ColorRole.Text)
        for col in range(len(COLUMNS)):
            if col != 1 or grey:
                item.setForeground(col, QBrush(disabled if grey else normal))

    def _fill_member(self, item: QTreeWidgetItem, m: MemberStatus, *, live: bool = True) -> None:
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
        for col, text in enumerate(texts):
            item.setText(col, text)
            item.setToolTip(col, tip)
        item.setIcon(0, dot_icon(colour if live else VERDICT_COLOURS[Verdict.UNREACHABLE]))
        item.setForeground(1, QBrush(QColor(colour)))
        self._grey(item, not (m.reachable and live))
        if not m.reachable:
            item.setText(1, f"{state}: {m.error}" if m.error else state)
        font = item.font(0)
        font.setBold(m.is_leader)
        item.setFont(0, font)

    # -- columns ---------------------------------------------------------------------------

    def _fit_columns(self) -> None:
        """Show as many columns as fit, the most wanted first (``COLUMN_PRIORITY``); the
        State column (a down member's error) gets what room is left, up to its text."""
        room = self.viewport().width()
        header = self.header()
        hints = {
            col: max(self.sizeHintForColumn(col), header.sectionSizeHint(col))
            for col in range(len(COLUMNS))
        }
        state = min(hints[1], STATE_MIN_WIDTH)
        used = hints[0] + state
        for col in COLUMN_PRIORITY[2:]:
            fits = used + hints[col] <= room
            self.setColumnHidden(col, not fits)
            if fits:
                used += hints[col]
        for col in (0, 1):
            self.setColumnHidden(col, False)
        extra = max(0, min(max(hints[1], STATE_WIDTH) - state, room - used))
        header.resizeSection(1, state + extra)

    def visible_columns(self) -> list[str]:
        """The titles of the columns shown (for tests and screenshots)."""
        return [name for col, name in enumerate(COLUMNS) if not self.isColumnHidden(col)]

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit_columns()

    # -- context menu ----------------------------------------------------------------------

    def context_menu(self, key: str, member_id: int | None = None) -> QMenu:
        """The actions on cluster ``key``: sweep now, pause or resume, reconnect,
        disconnect (each emits its request signal); for a member (``member_id``) first
        the maintenance that names it (``maintenanceRequested``)."""
        menu = QMenu(self)
        snap = self._snapshots.get(key)
        member = snap.member(member_id) if snap is not None and member_id is not None else None
        if member is not None:
            self._add_member_actions(menu, key, member)
            menu.addSeparator()
        paused = self.freshness(key) is Freshness.PAUSED
        sweep = QAction("Sweep &now", menu)
        sweep.triggered.connect(lambda: self.sweepRequested.emit(key))
        pause = QAction("&Resume sweeps" if paused else "&Pause sweeps", menu)
        pause.triggered.connect(lambda: self.pauseRequested.emit(key, not paused))
        reconnect = QAction("Re&connect", menu)
        reconnect.setToolTip("Close the connections and connect again with the settings now")
        reconnect.triggered.connect(lambda: self.reconnectRequested.emit(key))
        disconnect = QAction("&Disconnect", menu)
        disconnect.setToolTip("Stop watching this cluster and remove it from the window")
        disconnect.triggered.connect(lambda: self.disconnectRequested.emit(key))
        for action in (sweep, pause):
            menu.addAction(action)
        menu.addSeparator()
        for action in (reconnect, disconnect):
            menu.addAction(action)
        return menu

    def _add_member_actions(self, menu: QMenu, key: str, m: MemberStatus) -> None:
        """Move leader here…, Promote… (learners), Remove…, Snapshot from this member…;
        what cannot apply to this member is disabled and says why."""
        name = m.name or m.id_hex
        menu.setToolTipsVisible(True)

        def add(text: str, kind: OpKind, why_not: str | None, tip: str) -> None:
            action = QAction(text, menu)
            action.setEnabled(why_not is None)
            action.setToolTip(why_not or tip)
            action.setStatusTip(why_not or tip)
            action.triggered.connect(lambda: self.maintenanceRequested.emit(key, kind, m.id_hex))
            menu.addAction(action)

        move_why = (
            f"{name} is the leader already"
            if m.is_leader
            else f"{name} is a learner: promote it first"
            if m.is_learner
            else f"{name} does not answer"
            if not m.reachable
            else None
        )
        add("Move &leader here…", OpKind.MOVE_LEADER, move_why, f"Make {name} the leader")
        if m.is_learner:
            add("Pro&mote…", OpKind.MEMBER_PROMOTE, None, f"Make the learner {name} a voter")
        add("Remo&ve…", OpKind.MEMBER_REMOVE, None, f"Remove {name} from the cluster")
        add(
            "&Snapshot from this member…",
            OpKind.SNAPSHOT,
            None if m.reachable else f"{name} does not answer",
            f"Save a snapshot of {name}'s database to a file",
        )

    def _show_context_menu(self, pos: QPoint) -> None:
        item = self.itemAt(pos)
        if item is None:
            return
        key = (item.parent() or item).data(0, KEY_ROLE)
        hex_id = item.data(0, MEMBER_ROLE) if item.parent() is not None else None
        menu = self.context_menu(key, int(hex_id, 16) if hex_id else None)
        menu.aboutToHide.connect(menu.deleteLater)
        menu.popup(self.viewport().mapToGlobal(pos))

    def _on_current(self, current: QTreeWidgetItem | None, _: QTreeWidgetItem | None) -> None:
        if current is None:
            return
        parent = current.parent()
        key = (parent or current).data(0, KEY_ROLE)
        self.clusterSelected.emit(key)
        self.memberSelected.emit(key, int(current.data(0, MEMBER_ROLE), 16) if parent else None)
