"""The maintenance dialog of one cluster: choose an operation, see its plan, run it.

Left, the operations (``OpKind``) and the chosen one's parameters; right, the plan,
which becomes the progress list once it runs. The dialog only collects what to do and
renders what comes back: ``planRequested(OpKind, params)`` asks for a plan,
``runRequested(typed)`` runs the plan shown, ``cancelRequested`` stops the run after
the step in progress, ``discardRequested`` drops a plan that will not run (another
operation chosen, a parameter changed, the dialog closed). The composition root sends
those to the ops worker and connects its answers to the ``show_*`` slots; answers for
another cluster are ignored.

The plan: its summary, one line per step (what, on which member, how long it should
take), the warnings in amber, a refusal in red (Run stays disabled). On a profile tagged
production an operation that changes the cluster (``OpKind.changes_cluster``: all but
HashKV and a snapshot) needs the profile's name typed before Run is enabled.
Running, each step's line shows its state and latest message, the bar the step's
fraction when known (a snapshot's bytes), and the last line the result: what was done,
and after a cancel which steps did not run.

Members are handed in with the cluster's latest snapshot (``set_snapshot``); the
dialog names them by name and asks by id (hex), which stays unique.
"""

from __future__ import annotations

import html
import re
import time
from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QSize, Qt, Signal, Slot
from PySide6.QtGui import QBrush, QCloseEvent, QColor, QRegularExpressionValidator
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDialog,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QSplitter,
    QStackedWidget,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from etcdmon_gui.model.ops import OpKind, OpPlan, OpProgress, OpResult, StepOutcome, StepState
from etcdmon_gui.model.snapshot import ClusterSnapshot, MemberStatus
from etcdmon_gui.ui.palette import (
    ERROR_COLOUR,
    HEALTHY_COLOUR,
    MUTED_COLOUR,
    PRODUCTION_COLOUR,
    WARNING_COLOUR,
)

MB = 1_000_000
DEFAULT_DEFRAG_THRESHOLD = MB  # ops.DEFAULT_DEFRAG_THRESHOLD, handed in by app.py

# The order of the operation list.
KINDS: tuple[OpKind, ...] = (
    OpKind.DEFRAG,
    OpKind.COMPACT,
    OpKind.SNAPSHOT,
    OpKind.RECOVER,
    OpKind.ALARM_DISARM,
    OpKind.HASHKV,
    OpKind.MOVE_LEADER,
    OpKind.MEMBER_ADD,
    OpKind.MEMBER_PROMOTE,
    OpKind.MEMBER_REMOVE,
    OpKind.MEMBER_UPDATE,
)

DESCRIPTIONS: dict[OpKind, str] = {
    OpKind.DEFRAG: (
        "Gives the free pages of each member's database file back to the disk, one "
        "member at a time: followers first, the leader last, each caught up before the "
        "next. A member answers nothing while it is defragmented."
    ),
    OpKind.COMPACT: (
        "Drops the history of revisions before the chosen one, on every member. "
        "Old revisions can no longer be read, and watches from before it are cancelled."
    ),
    OpKind.SNAPSHOT: (
        "Streams a member's database to a file, checked against etcd's SHA-256 and "
        "written whole (a temporary file renamed), readable by etcdutl snapshot status."
    ),
    OpKind.RECOVER: (
        "Recovers from a NOSPACE alarm: compacts to the current revision, defragments "
        "every member (the leader last), disarms the alarm and checks a test write."
    ),
    OpKind.ALARM_DISARM: (
        "Disarms NOSPACE once every member's database is under its quota again; "
        "refused while one is not. CORRUPT is never disarmed here."
    ),
    OpKind.HASHKV: (
        "Asks every voting member for the hash of its data at one revision; a member "
        "that disagrees is a critical finding."
    ),
    OpKind.MOVE_LEADER: "Hands the leadership to a caught-up voting member.",
    OpKind.MEMBER_ADD: (
        "Announces a new member at its peer URLs, as a learner by default (it gets the "
        "data without counting toward the quorum); start it with the --initial-cluster "
        "the result gives, then promote it."
    ),
    OpKind.MEMBER_PROMOTE: "Makes a caught-up learner a voting member.",
    OpKind.MEMBER_REMOVE: (
        "Removes a member from the cluster. Refused when it would leave no voting "
        "member or break the quorum; removing the leader makes the cluster elect another."
    ),
    OpKind.MEMBER_UPDATE: "Changes the peer URLs the cluster knows a member by.",
}

STEP_COLUMNS = ("#", "Step", "State", "Details")
COL_NUM, COL_STEP, COL_STATE, COL_DETAILS = range(len(STEP_COLUMNS))

STATE_COLOURS: dict[StepState, str] = {
    StepState.DONE: HEALTHY_COLOUR,
    StepState.SKIPPED: MUTED_COLOUR,
    StepState.FAILED: ERROR_COLOUR,
    StepState.CANCELLED: WARNING_COLOUR,
}
RESULT_COLOURS = {
    "ok": HEALTHY_COLOUR,
    "failed": ERROR_COLOUR,
    "cancelled": WARNING_COLOUR,
    "refused": ERROR_COLOUR,
}

_URL_SPLIT = re.compile(r"[\s,]+")


def split_urls(text: str) -> list[str]:
    """Peer URLs typed with commas or spaces between them."""
    return [u for u in _URL_SPLIT.split(text.strip()) if u]


def member_label(m: MemberStatus, leader_id: int | None) -> str:
    """ "m1 (leader)", "m3 (learner)", "8e9e05c52164694d (not started)"."""
    name = m.name or m.id_hex
    if not m.name and not m.client_urls:
        role = "not started"
    elif m.is_learner:
        role = "learner"
    elif m.id == leader_id:
        role = "leader"
    elif not m.reachable:
        role = "down"
    else:
        role = "follower"
    return f"{name} ({role})"


def expected_text(seconds: float | None) -> str:
    if seconds is None:
        return ""
    return "<1 s" if seconds < 1 else f"~{seconds:.0f} s"


class _WrappingDelegate(QStyledItemDelegate):
    """Rows as tall as ``column``'s text wrapped to the column's width (a tree view
    measures rows without a width, so it never wraps on its own)."""

    def __init__(self, view: QTreeWidget, column: int) -> None:
        super().__init__(view)
        self._view = view
        self._column = column

    def sizeHint(
        self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> QSize:
        if index.column() != self._column:
            return super().sizeHint(option, index)
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        width = max(40, self._view.header().sectionSize(self._column))
        opt.rect = QRect(0, 0, width, 100_000)  # a valid rect: the style wraps within it
        opt.features |= QStyleOptionViewItem.ViewItemFeature.WrapText
        style = self._view.style()
        return style.sizeFromContents(QStyle.ContentsType.CT_ItemViewItem, opt, QSize(), self._view)


class _MemberChoice(QComboBox):
    """The members an operation may name, by label; asks by id (hex)."""

    def __init__(
        self, wanted: Callable[[MemberStatus, int | None], bool], first: str | None = None
    ) -> None:
        super().__init__()
        self._wanted = wanted
        self._first = first  # an entry before the members (data None): "the leader"
        self.setMinimumContentsLength(18)
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)

    def fill(self, members: Sequence[MemberStatus], leader_id: int | None) -> None:
        keep = self.currentData()
        self.blockSignals(True)
        try:
            self.clear()
            if self._first is not None:
                self.addItem(self._first, None)
            for m in members:
                if m.id and self._wanted(m, leader_id):
                    self.addItem(member_label(m, leader_id), m.id_hex)
            at = self.findData(keep) if keep is not None else -1
            self.setCurrentIndex(at if at >= 0 else 0 if self.count() else -1)
        finally:
            self.blockSignals(False)

    def choose(self, member_hex: str | None) -> bool:
        at = self.findData(member_hex)
        if at >= 0:
            self.setCurrentIndex(at)
        return at >= 0

    def chosen(self) -> str | None:
        data = self.currentData()
        return str(data) if data else None


class MaintenanceDialog(QDialog):
    """Signals:
    planRequested(OpKind, dict params): make the plan (the worker's ``build_operation``
        parameters).
    runRequested(str typed): run the plan shown (``typed``: the production name).
    cancelRequested(): stop the run after the step in progress.
    discardRequested(): the plan shown will not run.
    """

    planRequested = Signal(object, dict)
    runRequested = Signal(str)
    cancelRequested = Signal()
    discardRequested = Signal()

    def __init__(
        self,
        key: str,
        title: str,
        *,
        production_name: str | None = None,
        defrag_threshold_bytes: int = DEFAULT_DEFRAG_THRESHOLD,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.key = key
        self.cluster_title = title
        self.production_name = production_name
        self.plan: OpPlan | None = None  # the plan shown (planned, running or run)
        self.run_result: OpResult | None = None
        self.planning = False
        self.running = False
        self._cancelling = False
        self._current_step: int | None = None
        self._snapshot: ClusterSnapshot | None = None
        self.setWindowTitle(f"Maintenance — {title}")
        self.setSizeGripEnabled(True)
        self.resize(1040, 600)

        # -- left: the operations and the chosen one's parameters --------------------
        self.kinds = QListWidget()
        self.kinds.setObjectName("maintenanceKinds")
        for kind in KINDS:
            item = QListWidgetItem(kind.title)
            item.setData(Qt.ItemDataRole.UserRole, kind)
            item.setToolTip(DESCRIPTIONS[kind])
            self.kinds.addItem(item)
        self.kinds.setMinimumWidth(self.kinds.sizeHintForColumn(0) + 24)
        rows = sum(self.kinds.sizeHintForRow(i) for i in range(self.kinds.count()))
        self.kinds.setFixedHeight(rows + 2 * self.kinds.frameWidth() + 4)
        self.description = QLabel()
        self.description.setWordWrap(True)
        self.description.setStyleSheet("color: palette(placeholder-text);")
        self.pages = QStackedWidget()
        self._pages: dict[OpKind, QWidget] = {}
        self._build_pages(defrag_threshold_bytes)
        left = QWidget()
        left_lay = QVBoxLayout(left)
        left_lay.setContentsMargins(0, 0, 0, 0)
        left_lay.addWidget(QLabel("<b>Operation</b>"))
        left_lay.addWidget(self.kinds)
        left_lay.addWidget(self.description)
        left_lay.addWidget(self.pages)
        left_lay.addStretch(1)

        # -- right: the plan, then the run's progress ----------------------------------
        self.summary = QLabel(
            "Choose an operation, then press Plan: nothing runs before you confirm."
        )
        self.summary.setObjectName("planSummary")
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.steps = QTreeWidget()
        self.steps.setObjectName("planSteps")
        self.steps.setColumnCount(len(STEP_COLUMNS))
        self.steps.setHeaderLabels(list(STEP_COLUMNS))
        self.steps.setRootIsDecorated(False)
        self.steps.setAlternatingRowColors(True)
        # Details wrap: a step's outcome ("m1: freed 12 MB (40 MB → 28 MB) in 0.8 s,
        # caught up") is what the user reads.
        self.steps.setWordWrap(True)
        self.steps.setItemDelegate(_WrappingDelegate(self.steps, COL_DETAILS))
        header = self.steps.header()
        header.setStretchLastSection(True)
        for col in (COL_NUM, COL_STEP, COL_STATE):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        # Row heights follow the Details column's width (Qt measures them once).
        header.sectionResized.connect(
            lambda col, _old, _new: self.steps.doItemsLayout() if col == COL_DETAILS else None
        )
        self.warnings = QLabel()
        self.warnings.setObjectName("planWarnings")
        self.warnings.setWordWrap(True)
        self.warnings.setTextFormat(Qt.TextFormat.RichText)
        self.warnings.hide()
        self.refusal = QLabel()
        self.refusal.setObjectName("planRefusal")
        self.refusal.setWordWrap(True)
        self.refusal.setStyleSheet(f"color: {ERROR_COLOUR}; font-weight: bold;")
        self.refusal.hide()
        self.step_label = QLabel()
        self.step_label.setObjectName("stepLabel")
        self.step_bar = QProgressBar()
        self.step_bar.setObjectName("stepProgress")
        self.step_bar.setRange(0, 1000)
        for w in (self.step_label, self.step_bar):
            w.hide()
        self.confirm_label = QLabel()
        self.confirm_label.setWordWrap(True)
        self.confirm = QLineEdit()
        self.confirm.setObjectName("productionConfirm")
        self.confirm.setPlaceholderText(production_name or "")
        self.confirm.textChanged.connect(lambda _: self._confirm_changed())
        confirm_box = QWidget()
        confirm_lay = QVBoxLayout(confirm_box)
        confirm_lay.setContentsMargins(0, 0, 0, 0)
        confirm_lay.addWidget(self.confirm_label)
        confirm_lay.addWidget(self.confirm)
        self.confirm_box = confirm_box
        if production_name:
            self.confirm_label.setText(
                f"<span style='color:{PRODUCTION_COLOUR}'><b>{html.escape(title)} is "
                f"tagged production.</b></span> Type its name, "
                f"<b>{html.escape(production_name)}</b>, to enable Run."
            )
        confirm_box.hide()
        self.result_label = QLabel()
        self.result_label.setObjectName("runResult")
        self.result_label.setWordWrap(True)
        self.result_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.result_label.hide()
        right = QWidget()
        right_lay = QVBoxLayout(right)
        right_lay.setContentsMargins(0, 0, 0, 0)
        right_lay.addWidget(QLabel("<b>Plan</b>"))
        right_lay.addWidget(self.summary)
        right_lay.addWidget(self.refusal)
        right_lay.addWidget(self.warnings)
        right_lay.addWidget(self.steps, 1)
        right_lay.addWidget(self.step_label)
        right_lay.addWidget(self.step_bar)
        right_lay.addWidget(self.result_label)
        right_lay.addWidget(confirm_box)
        right_lay.addStretch(0)  # takes the room only while the steps are hidden

        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(left)
        split.addWidget(right)
        split.setStretchFactor(0, 0)
        split.setStretchFactor(1, 1)
        split.setChildrenCollapsible(False)
        split.setSizes([340, 700])

        # -- buttons ------------------------------------------------------------------
        self.status = QLabel()
        self.status.setObjectName("maintenanceStatus")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.plan_button = QPushButton("Plan")
        self.plan_button.setToolTip("Sweep the cluster and show what the operation would do")
        self.plan_button.clicked.connect(self.request_plan)
        self.run_button = QPushButton("Run")
        self.run_button.setToolTip("Run the plan shown, one step at a time")
        self.run_button.clicked.connect(self.run)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip(
            "Stop after the step in progress (a step is never cut in half)"
        )
        self.cancel_button.clicked.connect(self.cancel)
        self.close_button = QPushButton("Close")
        self.close_button.setAutoDefault(False)
        self.close_button.clicked.connect(self.close)
        buttons = QHBoxLayout()
        buttons.addWidget(self.status, 1)
        for b in (self.plan_button, self.run_button, self.cancel_button, self.close_button):
            buttons.addWidget(b)

        lay = QVBoxLayout(self)
        lay.addWidget(split, 1)
        lay.addLayout(buttons)

        self.kinds.currentItemChanged.connect(lambda *_: self._kind_changed())
        self.kinds.setCurrentRow(0)
        self._sync_buttons()

    # ------------------------------------------------------------------ parameters

    def _page(self, kind: OpKind, form: QFormLayout | None = None) -> QFormLayout:
        page = QWidget()
        lay = form or QFormLayout()
        lay.setContentsMargins(0, 4, 0, 0)
        lay.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        page.setLayout(lay)
        self.pages.addWidget(page)
        self._pages[kind] = page
        return lay

    def _watch(self, *signals: Any) -> None:
        """A parameter changed: the plan shown no longer describes what was asked."""
        for signal in signals:
            signal.connect(lambda *_: self._invalidate())

    def _build_pages(self, threshold: int) -> None:
        # Defragment: the threshold under which a member is skipped.
        form = self._page(OpKind.DEFRAG)
        self.defrag_threshold = QDoubleSpinBox()
        self.defrag_threshold.setRange(0, 1_000_000)
        self.defrag_threshold.setDecimals(1)
        self.defrag_threshold.setSuffix(" MB")
        self.defrag_threshold.setValue(threshold / MB)
        self.defrag_threshold.setToolTip(
            "Members with less than this to free (DB size - in use) are skipped; "
            "0 defragments every member"
        )
        form.addRow("Skip members with less free than", self.defrag_threshold)
        self._watch(self.defrag_threshold.valueChanged)

        # Compact: to the current revision, keep the last N, or to a revision.
        form = self._page(OpKind.COMPACT)
        self.compact_current = QRadioButton("To the current revision")
        self.compact_keep = QRadioButton("Keep the last")
        self.compact_to = QRadioButton("To revision")
        self.compact_current.setChecked(True)
        group = QButtonGroup(self)
        for b in (self.compact_current, self.compact_keep, self.compact_to):
            group.addButton(b)
        self.keep_revisions = QSpinBox()
        self.keep_revisions.setRange(1, 2_000_000_000)
        self.keep_revisions.setValue(10_000)
        self.keep_revisions.setSuffix(" revisions")
        self.compact_revision = QLineEdit()
        self.compact_revision.setPlaceholderText("revision number")
        self.compact_revision.setValidator(QRegularExpressionValidator(r"\d{1,19}"))
        self.physical = QCheckBox("Physically (wait until every member's backend has compacted)")
        form.addRow(self.compact_current)
        form.addRow(self.compact_keep, self.keep_revisions)
        form.addRow(self.compact_to, self.compact_revision)
        form.addRow(self.physical)
        self.keep_revisions.valueChanged.connect(lambda _: self.compact_keep.setChecked(True))
        self.compact_revision.textEdited.connect(lambda _: self.compact_to.setChecked(True))
        self._watch(
            group.buttonToggled,
            self.keep_revisions.valueChanged,
            self.compact_revision.textChanged,
            self.physical.toggled,
        )

        # Snapshot: from which member, to which file.
        form = self._page(OpKind.SNAPSHOT)
        self.snapshot_member = _MemberChoice(lambda m, _l: m.reachable, "The leader")
        self.snapshot_path = QLineEdit()
        self.snapshot_path.setObjectName("snapshotPath")
        self.snapshot_path.setPlaceholderText("the file to write")
        browse = QPushButton("Browse…")
        browse.setAutoDefault(False)
        browse.clicked.connect(self._browse_snapshot)
        self.snapshot_browse = browse
        path_row = QHBoxLayout()
        path_row.addWidget(self.snapshot_path, 1)
        path_row.addWidget(browse)
        form.addRow("From", self.snapshot_member)
        form.addRow("To", path_row)
        self._watch(self.snapshot_member.currentIndexChanged, self.snapshot_path.textChanged)

        for kind in (OpKind.RECOVER, OpKind.ALARM_DISARM, OpKind.HASHKV):
            self._page(kind)

        # Move the leader: to a voting member that is not the leader.
        form = self._page(OpKind.MOVE_LEADER)
        self.leader_target = _MemberChoice(
            lambda m, leader: m.reachable and not m.is_learner and m.id != leader
        )
        form.addRow("To", self.leader_target)
        self._watch(self.leader_target.currentIndexChanged)

        # Add a member: peer URLs, its name, learner or voter.
        form = self._page(OpKind.MEMBER_ADD)
        self.add_urls = QLineEdit()
        self.add_urls.setObjectName("addPeerUrls")
        self.add_urls.setPlaceholderText("http://10.0.0.4:2380 (commas between several)")
        self.add_name = QLineEdit()
        self.add_name.setPlaceholderText("optional: the name it will be started with")
        self.add_learner = QCheckBox("As a learner (recommended: promote it once caught up)")
        self.add_learner.setChecked(True)
        form.addRow("Peer URLs", self.add_urls)
        form.addRow("Name", self.add_name)
        form.addRow(self.add_learner)
        self._watch(self.add_urls.textChanged, self.add_name.textChanged, self.add_learner.toggled)

        form = self._page(OpKind.MEMBER_PROMOTE)
        self.promote_member = _MemberChoice(lambda m, _l: m.is_learner)
        form.addRow("Learner", self.promote_member)
        self._watch(self.promote_member.currentIndexChanged)

        form = self._page(OpKind.MEMBER_REMOVE)
        self.remove_member = _MemberChoice(lambda _m, _l: True)
        form.addRow("Member", self.remove_member)
        self._watch(self.remove_member.currentIndexChanged)

        form = self._page(OpKind.MEMBER_UPDATE)
        self.update_member = _MemberChoice(lambda _m, _l: True)
        self.update_urls = QLineEdit()
        self.update_urls.setPlaceholderText("http://10.0.0.4:2380 (commas between several)")
        form.addRow("Member", self.update_member)
        form.addRow("New peer URLs", self.update_urls)
        self.update_member.currentIndexChanged.connect(lambda _: self._prefill_update_urls())
        self._watch(self.update_member.currentIndexChanged, self.update_urls.textChanged)

    def _member_choices(self) -> dict[OpKind, _MemberChoice]:
        return {
            OpKind.SNAPSHOT: self.snapshot_member,
            OpKind.MOVE_LEADER: self.leader_target,
            OpKind.MEMBER_PROMOTE: self.promote_member,
            OpKind.MEMBER_REMOVE: self.remove_member,
            OpKind.MEMBER_UPDATE: self.update_member,
        }

    def _prefill_update_urls(self) -> None:
        m = self._member(self.update_member.chosen())
        if m is not None:
            self.update_urls.setText(", ".join(m.peer_urls))

    def _member(self, hex_id: str | None) -> MemberStatus | None:
        if self._snapshot is None or not hex_id:
            return None
        return next((m for m in self._snapshot.members if m.id_hex == hex_id), None)

    def _browse_snapshot(self) -> None:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        name = re.sub(r"[^\w.-]+", "-", self.cluster_title).strip("-") or "etcd"
        path, _ = QFileDialog.getSaveFileName(
            self,
            "Save the snapshot to",
            self.snapshot_path.text() or f"{name}-{stamp}.db",
            "etcd snapshots (*.db);;All files (*)",
        )
        if path:
            self.snapshot_path.setText(path)

    def kind(self) -> OpKind:
        item = self.kinds.currentItem()
        kind = item.data(Qt.ItemDataRole.UserRole) if item is not None else KINDS[0]
        assert isinstance(kind, OpKind)
        return kind

    def params(self) -> dict[str, Any]:
        """The chosen operation's parameters; ``ValueError`` saying what is missing."""
        kind = self.kind()
        if kind is OpKind.DEFRAG:
            return {"threshold_bytes": round(self.defrag_threshold.value() * MB)}
        if kind is OpKind.COMPACT:
            revision: int | None = None
            keep: int | None = None
            if self.compact_to.isChecked():
                if not self.compact_revision.text():
                    raise ValueError("Type the revision to compact to.")
                revision = int(self.compact_revision.text())
            elif self.compact_keep.isChecked():
                keep = self.keep_revisions.value()
            return {"revision": revision, "keep": keep, "physical": self.physical.isChecked()}
        if kind is OpKind.SNAPSHOT:
            path = self.snapshot_path.text().strip()
            if not path:
                raise ValueError("Choose the file to save the snapshot to (Browse…).")
            return {"path": path, "member": self.snapshot_member.chosen()}
        if kind is OpKind.MOVE_LEADER:
            return {"to": self._chosen(self.leader_target, "no voting member can lead")}
        if kind is OpKind.MEMBER_ADD:
            urls = split_urls(self.add_urls.text())
            if not urls:
                raise ValueError("Type the new member's peer URLs (http://host:2380).")
            name = self.add_name.text().strip()
            return {
                "peer_urls": urls,
                "learner": self.add_learner.isChecked(),
                "name": name or None,
            }
        if kind is OpKind.MEMBER_PROMOTE:
            return {"member": self._chosen(self.promote_member, "the cluster has no learner")}
        if kind is OpKind.MEMBER_REMOVE:
            return {"member": self._chosen(self.remove_member, "no member is known yet")}
        if kind is OpKind.MEMBER_UPDATE:
            urls = split_urls(self.update_urls.text())
            if not urls:
                raise ValueError("Type the member's new peer URLs (http://host:2380).")
            return {
                "member": self._chosen(self.update_member, "no member is known yet"),
                "peer_urls": urls,
            }
        return {}

    @staticmethod
    def _chosen(choice: _MemberChoice, none: str) -> str:
        chosen = choice.chosen()
        if chosen is None:
            raise ValueError(
                f"Choose a member: {none}." if choice.count() == 0 else "Choose a member."
            )
        return chosen

    # ------------------------------------------------------------------ what app.py calls

    def set_snapshot(self, snap: ClusterSnapshot | None) -> None:
        """The cluster's latest state: the members the operations may name."""
        self._snapshot = snap
        members = sorted(snap.members, key=lambda m: (m.name or m.id_hex, m.id)) if snap else []
        leader = snap.leader_id if snap else None
        for choice in self._member_choices().values():
            choice.fill(members, leader)  # quietly: the plan shown stays
        if not self.update_urls.text():
            self._prefill_update_urls()

    def select(self, kind: OpKind | None, member: str | None = None) -> None:
        """Preselect an operation and the member it names (hex id), as a menu asked."""
        if self.running or self.planning:
            return
        if kind is not None and kind is not self.kind():
            self.kinds.setCurrentRow(KINDS.index(kind))
        choice = self._member_choices().get(self.kind())
        if member is not None and choice is not None:
            choice.choose(member)

    # ------------------------------------------------------------------ actions

    @Slot()
    def request_plan(self) -> None:
        if self.running or self.planning:
            return
        try:
            params = self.params()
        except ValueError as exc:
            self._set_status(str(exc), error=True)
            return
        self._clear_plan()
        self.planning = True
        self.summary.setText(f"Planning {self.kind().title.lower()}: sweeping the cluster…")
        self._set_status("Planning…")
        self._sync_buttons()
        self.planRequested.emit(self.kind(), params)

    @Slot()
    def run(self) -> None:
        if not self._can_run():
            return
        self.running = True
        self._cancelling = False
        self.run_result = None
        self.result_label.hide()
        self._set_status("Starting…")
        self._sync_buttons()
        self.runRequested.emit(self.confirm.text())

    @Slot()
    def cancel(self) -> None:
        """Running: stop after the step in progress. Otherwise: drop the plan."""
        if self.running:
            if self._cancelling:
                return
            self._cancelling = True
            step = self._step_title(self._current_step)
            self._set_status(
                "Cancelling: the run stops after the step in progress"
                + (f" ({step})" if step else "")
                + "; the steps after it will not run."
            )
            self._sync_buttons()
            self.cancelRequested.emit()
        elif self.plan is not None and self.run_result is None:
            self._discard()
            self._set_status("Plan dropped: nothing ran.")

    def closeEvent(self, event: QCloseEvent) -> None:
        # A run goes on (its result comes back here and to the Maintenance log); a plan
        # that was only shown is dropped.
        if not self.running and self.plan is not None and self.run_result is None:
            self._discard()
        elif self.planning:
            self.planning = False  # the plan, when it comes, is dropped (show_plan)
            self.summary.setText("No plan.")
            self._set_status("")
            self._sync_buttons()
        super().closeEvent(event)

    def _confirm_changed(self) -> None:
        if self._can_run():
            self._set_status("Nothing has run yet. Run does the steps above, in order.")
        elif self._waiting_for_name():
            self._set_status(f"Type {self.production_name} below to enable Run.")
        self._sync_buttons()

    def _waiting_for_name(self) -> bool:
        shown = self.plan is not None and self.run_result is None and not self.running
        return (
            shown and self.plan is not None and self.plan.refusal is None and not self._confirmed()
        )

    def _discard(self) -> None:
        self._clear_plan()
        self.discardRequested.emit()

    def _invalidate(self) -> None:
        if self.running:
            return
        if self.plan is not None and self.run_result is None:
            self._discard()
            self._set_status("The parameters changed: press Plan again.")
        self._sync_buttons()

    def _kind_changed(self) -> None:
        kind = self.kind()
        self.pages.setCurrentWidget(self._pages[kind])
        self.description.setText(DESCRIPTIONS[kind])
        self.confirm_box.setVisible(self.needs_typed_name())
        if self.running:
            return
        if self.plan is not None and self.run_result is None:
            self._discard()
        elif self.run_result is not None:
            self._clear_plan()
        self.summary.setText(f"{kind.title}: press Plan to see what it would do.")
        self._set_status("")
        self._sync_buttons()

    # ------------------------------------------------------------------ state

    def _can_run(self) -> bool:
        return (
            not self.running
            and not self.planning
            and self.plan is not None
            and self.run_result is None
            and self.plan.refusal is None
            and self._confirmed()
        )

    def needs_typed_name(self) -> bool:
        """Whether Run waits for the production profile's name (for the kind chosen)."""
        return bool(self.production_name) and self.kind().changes_cluster

    def _confirmed(self) -> bool:
        return not self.needs_typed_name() or self.confirm.text() == self.production_name

    def _sync_buttons(self) -> None:
        busy = self.running or self.planning
        self.plan_button.setEnabled(not busy)
        self.run_button.setEnabled(self._can_run())
        self.run_button.setDefault(self._can_run())
        self.cancel_button.setEnabled(
            (self.running and not self._cancelling)
            or (not busy and self.plan is not None and self.run_result is None)
        )
        self.kinds.setEnabled(not busy)
        self.pages.setEnabled(not busy)

    def _set_status(self, text: str, error: bool = False) -> None:
        self.status.setStyleSheet(f"color: {ERROR_COLOUR};" if error else "")
        self.status.setText(text)

    def _clear_plan(self) -> None:
        self.plan = None
        self.run_result = None
        self._current_step = None
        self.steps.clear()
        self.steps.show()
        self.warnings.hide()
        self.refusal.hide()
        self.step_label.hide()
        self.step_bar.hide()
        self.result_label.hide()

    def _step_title(self, index: int | None) -> str:
        if self.plan is None or index is None or not 0 <= index < len(self.plan.steps):
            return ""
        return f"step {index + 1}: {self.plan.steps[index].title}"

    def step_rows(self) -> list[tuple[str, str, str, str]]:
        """The plan's lines as shown: (#, step, state, details)."""
        rows = []
        for i in range(self.steps.topLevelItemCount()):
            item = self.steps.topLevelItem(i)
            assert item is not None
            rows.append(tuple(item.text(c) for c in range(len(STEP_COLUMNS))))
        return rows  # type: ignore[return-value]

    # ------------------------------------------------------------------ answers

    @Slot(str)
    def show_refused_request(self, message: str) -> None:
        """The request did not reach the worker (a benchmark runs, disconnected...)."""
        if self.running and self.run_result is None:
            self.plan = None  # a run refused here: the plan was dropped, Plan makes another
        self.planning = False
        self.running = False
        if self.plan is None:
            self.summary.setText("No plan.")
        self._set_status(message, error=True)
        self._sync_buttons()

    @Slot(str, object)
    def show_plan(self, key: str, plan: OpPlan) -> None:
        if key != self.key:
            return
        if not self.planning:  # no longer wanted (closed while planning): drop it
            self.discardRequested.emit()
            return
        self.planning = False
        self._clear_plan()
        self.plan = plan
        who = plan.cluster_name or plan.cluster
        self.summary.setText(
            f"<b>{html.escape(plan.kind.title)}</b> on {html.escape(who)}: "
            f"{html.escape(plan.summary)}"
        )
        for i, step in enumerate(plan.steps):
            item = QTreeWidgetItem(
                [str(i + 1), step.title, expected_text(step.expected_s), step.detail]
            )
            for col in range(len(STEP_COLUMNS)):
                item.setToolTip(col, f"{step.title}\n{step.detail}".strip())
            item.setTextAlignment(
                COL_NUM, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
            )
            self.steps.addTopLevelItem(item)
        self.steps.setVisible(bool(plan.steps))
        if plan.warnings:
            self.warnings.setText(
                "<br>".join(
                    f"<span style='color:{WARNING_COLOUR}'>⚠ {html.escape(w)}</span>"
                    for w in plan.warnings
                )
            )
            self.warnings.show()
        if plan.refusal:
            self.refusal.setText(f"Refused: {plan.refusal}")
            self.refusal.show()
            self._set_status("This plan must not run; Run stays disabled.", error=True)
        elif not self._confirmed():
            self._set_status(f"Type {self.production_name} below to enable Run.")
        else:
            self._set_status("Nothing has run yet. Run does the steps above, in order.")
        self._sync_buttons()

    @Slot(str, object)
    def show_started(self, key: str, plan: OpPlan) -> None:
        if key != self.key:
            return
        self.running = True
        for i in range(self.steps.topLevelItemCount()):
            item = self.steps.topLevelItem(i)
            if item is not None:
                item.setText(COL_STATE, "waiting")
        self.step_label.setText("Starting…")
        self.step_label.show()
        self.step_bar.show()
        self._set_status("Running. Cancel stops after the step in progress.")
        self._sync_buttons()

    @Slot(str, object)
    def show_progress(self, key: str, p: OpProgress) -> None:
        if key != self.key or not self.running:
            return
        item = self.steps.topLevelItem(p.index)
        total = len(p.plan.steps)
        if p.outcome is not None:
            self._show_outcome(p.outcome)
            self.step_bar.setRange(0, 1000)
            self.step_bar.setValue(1000)
            self.step_bar.setFormat(f"step {p.index + 1} of {total}: {p.outcome.state.value}")
            self.step_label.setText(f"Step {p.index + 1} of {total}: {p.outcome.message}")
            return
        self._current_step = p.index
        if item is not None:
            item.setText(COL_STATE, "running…")
            item.setText(COL_DETAILS, p.message)
            item.setToolTip(COL_DETAILS, p.message)
            item.setForeground(COL_STATE, QBrush(QColor(WARNING_COLOUR)))
            self.steps.scrollToItem(item)
        if p.fraction is None:
            self.step_bar.setRange(0, 0)  # busy: the step says nothing of how far
        else:
            self.step_bar.setRange(0, 1000)
            self.step_bar.setValue(round(max(0.0, min(1.0, p.fraction)) * 1000))
            self.step_bar.setFormat(f"step {p.index + 1} of {total}: %p %")
        self.step_label.setText(f"Step {p.index + 1} of {total}: {p.message}")
        if not self._cancelling:
            self._set_status("Running. Cancel stops after the step in progress.")

    def _show_outcome(self, o: StepOutcome) -> None:
        item = self.steps.topLevelItem(o.index)
        if item is None:
            return
        spent = _spent(o.ended_at - o.started_at)
        state = o.state.value + (f" ({spent})" if o.state is not StepState.CANCELLED else "")
        item.setText(COL_STATE, state)
        item.setText(COL_DETAILS, o.message)
        item.setToolTip(COL_DETAILS, o.message)
        item.setForeground(COL_STATE, QBrush(QColor(STATE_COLOURS[o.state])))

    @Slot(str, object)
    def show_result(self, key: str, result: OpResult) -> None:
        if key != self.key:
            return
        self.running = False
        self._cancelling = False
        self.run_result = result
        for o in result.outcomes:
            self._show_outcome(o)
        done = sum(o.state in (StepState.DONE, StepState.SKIPPED) for o in result.outcomes)
        total = len(result.plan.steps)
        took = result.ended_at - result.started_at
        if result.cancelled:
            not_run = [o.index + 1 for o in result.outcomes if o.state is StepState.CANCELLED]
            line = (
                f"Cancelled after {done} of {total} steps; not run: step"
                f"{'s' if len(not_run) != 1 else ''} {', '.join(map(str, not_run))}."
            )
        elif result.ok:
            line = f"Done: {done} of {total} steps in {_spent(took)}."
        else:
            failed = next((o for o in result.outcomes if o.state is StepState.FAILED), None)
            line = f"Failed after {done} of {total} steps" + (
                f": step {failed.index + 1} ({failed.title}): {failed.message}" if failed else "."
            )
        findings = "".join(f"<br>⚠ {html.escape(f)}" for f in result.findings)
        colour = RESULT_COLOURS.get(result.result, ERROR_COLOUR)
        self.result_label.setText(
            f"<span style='color:{colour}'><b>{html.escape(line)}</b></span>{findings}"
        )
        self.result_label.show()
        self.step_label.hide()
        self.step_bar.hide()
        self._set_status(
            "Recorded in the Maintenance log. Choose an operation and Plan again for another run."
        )
        self._sync_buttons()

    @Slot(str, object, str)
    def show_refused(self, key: str, plan: OpPlan, reason: str) -> None:
        if key != self.key:
            return
        self.running = False
        self._cancelling = False
        self.plan = None  # a refused plan is dropped; Plan makes a new one
        self.step_label.hide()
        self.step_bar.hide()
        self.result_label.setText(
            f"<span style='color:{ERROR_COLOUR}'><b>Not run:</b> {html.escape(reason)}</span>"
        )
        self.result_label.show()
        self._set_status("Nothing ran. Plan again when the reason is gone.", error=True)
        self._sync_buttons()

    @Slot(str, str, object)
    def show_failed(self, key: str, message: str, plan: OpPlan | None) -> None:
        if key != self.key:
            return
        was_running = self.running
        self.planning = False
        self.running = False
        self._cancelling = False
        self.step_label.hide()
        self.step_bar.hide()
        if was_running or plan is not None:
            self.run_result = None
            self.plan = None
            self.result_label.setText(
                f"<span style='color:{ERROR_COLOUR}'><b>The run broke off:</b> "
                f"{html.escape(message)}</span>"
            )
            self.result_label.show()
            self._set_status("See the Maintenance log for what was recorded.", error=True)
        else:
            self._clear_plan()
            self.summary.setText("No plan could be made.")
            self._set_status(message, error=True)
        self._sync_buttons()


def _spent(seconds: float) -> str:
    """``14 ms`` under a second, ``2.3 s`` from there."""
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.1f} s"
