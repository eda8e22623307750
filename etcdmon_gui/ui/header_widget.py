"""The verdict at a glance, plus the banner shown while a cluster cannot be reached.

The verdict chip is greyed, with "paused" or "stale since ..." under it, when the data
it shows is not live (``set_freshness``): an old Healthy must not look like a new one.
The "DB quota" fact is the quota forecast ("full in ~3.2 days", the growth rates in its
tooltip), in the warning colour when the quota fills within ``forecast_text.WARN_DAYS``.

Maintenance the snapshot calls for is offered beside the facts (``maintenanceRequested``
with the ``OpKind``): "Recover…" while a NOSPACE alarm is raised, "Defragment…" while
fragmentation is high (``fragmented_members``: a voting member whose free pages, DB
size - in use, are over half of its DB file and over 100 MB; below that a defragment
gives back too little to be worth a member's pause).
"""

from __future__ import annotations

import html

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from etcdmon_gui.formatting import fmt_bytes, fmt_clock, fmt_seconds_as_ms
from etcdmon_gui.model.ops import OpKind
from etcdmon_gui.model.snapshot import ClusterSnapshot, MemberStatus, Verdict
from etcdmon_gui.ui.cluster_state import Freshness, freshness_note
from etcdmon_gui.ui.forecast_text import forecast_details, forecast_text, forecast_warns
from etcdmon_gui.ui.palette import (
    CRITICAL_COLOUR,
    INSECURE_COLOUR,
    TEXT_ON_COLOUR,
    UNKNOWN_COLOUR,
    VERDICT_COLOURS,
    WARNING_COLOUR,
)

clock = fmt_clock  # the channels dialog imports it from here

#: "Defragment…" is offered when a voting member's free pages (DB size - in use) are
#: over this share of its DB file ...
FRAGMENTED_SHARE = 0.5
#: ... and over this many bytes.
FRAGMENTED_BYTES = 100_000_000


def fragmented_members(snap: ClusterSnapshot) -> list[MemberStatus]:
    """The reachable voting members worth defragmenting (see the module's text)."""
    found = []
    for m in snap.members:
        if not m.reachable or m.is_learner or not m.db_size or m.db_size_in_use is None:
            continue
        free = m.db_size - m.db_size_in_use
        if free > FRAGMENTED_BYTES and free > FRAGMENTED_SHARE * m.db_size:
            found.append(m)
    return found


def nospace_raised(snap: ClusterSnapshot) -> bool:
    return any(a.alarm == "NOSPACE" for a in snap.alarms)


class BannerWidget(QFrame):
    """A red strip with the error and when the next attempt will be made."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("banner")
        self.setStyleSheet(
            f"#banner {{ background: {CRITICAL_COLOUR}; border-radius: 4px; }}"
            f"#banner QLabel {{ color: {TEXT_ON_COLOUR}; }}"
        )
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(10, 6, 10, 6)
        lay.addWidget(self.label)
        self.hide()

    def show_error(self, message: str, next_try_at: float | None) -> None:
        retry = f" Next try at {fmt_clock(next_try_at)}." if next_try_at else ""
        self.label.setText(f"<b>Cannot reach the cluster:</b> {html.escape(message)}.{retry}")
        self.show()


class HeaderWidget(QWidget):
    """Verdict chip with its first reason, leader, quorum, alarms and last sweep time.

    Signals: maintenanceRequested(OpKind): "Recover…" or "Defragment…" was pressed (for
    the cluster shown)."""

    maintenanceRequested = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.verdict = QLabel("—")
        self.verdict.setObjectName("verdictChip")
        self.verdict.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.verdict.setMinimumWidth(120)
        self.freshness = QLabel()  # "paused", "stale since 12:03:04"; hidden while live
        self.freshness.setObjectName("freshness")
        self.freshness.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.freshness.setStyleSheet("font-weight: bold;")
        self.freshness.hide()
        self._verdict: Verdict | None = None
        self._freshness = Freshness.WAITING
        self.reason = QLabel("Waiting for the first sweep…")
        self.reason.setWordWrap(True)
        self.leader = QLabel("-")
        self.quorum = QLabel("-")
        self.alarms = QLabel("-")
        self.last = QLabel("-")
        self.quota = QLabel("-")  # "full in ~3.2 days"
        self.quota.setObjectName("quotaForecast")
        self.banner = BannerWidget()
        self.warnings = QLabel()  # insecure settings: never silent while they apply
        self.warnings.setWordWrap(True)
        self.warnings.setStyleSheet(f"color: {INSECURE_COLOUR}; font-weight: bold;")
        self.warnings.hide()
        self.recover_button = QPushButton("Recover…")
        self.recover_button.setObjectName("recoverButton")
        self.recover_button.setToolTip(
            "A NOSPACE alarm is raised: the cluster takes no writes. Recover compacts, "
            "defragments every member (the leader last), disarms the alarm and checks a "
            "test write; its plan is shown first."
        )
        self.recover_button.setStyleSheet(
            f"QPushButton {{ background: {CRITICAL_COLOUR}; color: {TEXT_ON_COLOUR};"
            " font-weight: bold; border-radius: 4px; padding: 4px 12px; }"
        )
        self.recover_button.clicked.connect(lambda: self.maintenanceRequested.emit(OpKind.RECOVER))
        self.defrag_button = QPushButton("Defragment…")
        self.defrag_button.setObjectName("defragButton")
        self.defrag_button.clicked.connect(lambda: self.maintenanceRequested.emit(OpKind.DEFRAG))
        for button in (self.recover_button, self.defrag_button):
            button.setAutoDefault(False)
            button.hide()

        facts = QGridLayout()
        for col, (title, value) in enumerate(
            (
                ("Leader", self.leader),
                ("Quorum", self.quorum),
                ("Alarms", self.alarms),
                ("DB quota", self.quota),
                ("Last sweep", self.last),
            )
        ):
            caption = QLabel(title)
            caption.setStyleSheet("color: palette(placeholder-text);")
            facts.addWidget(caption, 0, col)
            facts.addWidget(value, 1, col)
            facts.setColumnStretch(col, 1)
        top = QHBoxLayout()
        chip = QVBoxLayout()
        chip.setSpacing(2)
        chip.addWidget(self.verdict)
        chip.addWidget(self.freshness)
        chip.addStretch(1)
        top.addLayout(chip)
        text = QVBoxLayout()
        text.addWidget(self.reason)
        text.addWidget(self.warnings)
        text.addLayout(facts)
        top.addLayout(text, 1)
        actions = QVBoxLayout()
        actions.setSpacing(4)
        actions.addWidget(self.recover_button)
        actions.addWidget(self.defrag_button)
        actions.addStretch(1)
        top.addLayout(actions)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 0)
        lay.addLayout(top)
        lay.addWidget(self.banner)
        self._set_chip(None)

    def _set_chip(self, verdict: Verdict | None) -> None:
        self._verdict = verdict
        live = self._freshness in (Freshness.LIVE, Freshness.WAITING)
        colour = VERDICT_COLOURS[verdict] if verdict is not None and live else UNKNOWN_COLOUR
        self.verdict.setText(verdict.name.capitalize() if verdict is not None else "—")
        self.verdict.setStyleSheet(
            f"background: {colour}; color: {TEXT_ON_COLOUR}; font-weight: bold; font-size: 15pt;"
            "border-radius: 6px; padding: 6px 14px;"
        )

    def set_freshness(self, state: Freshness, last_sweep: float | None) -> None:
        """Grey the chip and say why while the data is paused or stale."""
        self._freshness = state
        note = freshness_note(state, last_sweep)
        self.freshness.setText(note)
        self.freshness.setVisible(bool(note))
        self.freshness.setToolTip(
            f"The last finished sweep ended at {fmt_clock(last_sweep)}; what is shown "
            "is what was true then."
            if note and last_sweep is not None
            else ""
        )
        self._set_chip(self._verdict)

    def is_greyed(self) -> bool:
        """Whether the chip is greyed because the data is not live."""
        return self._freshness in (Freshness.PAUSED, Freshness.STALE)

    def clear(self) -> None:
        self._freshness = Freshness.WAITING
        self.freshness.hide()
        self._set_chip(None)
        self.warnings.hide()
        self.reason.setText("Waiting for the first sweep…")
        for label in (self.leader, self.quorum, self.alarms, self.last):
            label.setText("-")
        self._show_forecast(None)
        self._show_actions(None)
        self.banner.hide()

    def show_snapshot(self, snap: ClusterSnapshot, interval_s: int) -> None:
        self._set_chip(snap.verdict)
        self.warnings.setText("\n".join(f"⚠ {w}" for w in snap.warnings))
        self.warnings.setVisible(bool(snap.warnings))
        if snap.reasons:
            more = f" (+{len(snap.reasons) - 1} more)" if len(snap.reasons) > 1 else ""
            self.reason.setText(snap.reasons[0] + more)
            self.reason.setToolTip("<br>".join(snap.reasons))
        else:
            self.reason.setText(f"All {len(snap.members)} members healthy")
            self.reason.setToolTip("")
        leader = snap.leader
        changes = f", {snap.leader_changes} change(s) seen" if snap.leader_changes else ""
        self.leader.setText((leader.name or leader.id_hex if leader else "none") + changes)
        self.quorum.setText(
            f"{'held' if snap.has_quorum else 'LOST'} — {snap.reachable_voters}/{snap.voters} "
            f"voters, {snap.quorum_size} needed"
            if snap.voters
            else "unknown: no member has answered yet"
        )
        self.alarms.setText(
            ", ".join(f"{a.alarm} on {a.member_id:x}" for a in snap.alarms) or "none"
        )
        self.last.setText(f"{fmt_clock(snap.taken_at)} ({fmt_seconds_as_ms(snap.duration_s, 0)})")
        self._show_forecast(snap)
        self._show_actions(snap)
        if snap.verdict == Verdict.UNREACHABLE:
            self.banner.show_error(
                snap.error or "no member answered", snap.taken_at + snap.duration_s + interval_s
            )
        else:
            self.banner.hide()

    def _show_forecast(self, snap: ClusterSnapshot | None) -> None:
        fc = None if snap is None else snap.quota_forecast
        self.quota.setText("-" if snap is None else forecast_text(fc))  # "-": no cluster
        self.quota.setToolTip("" if snap is None else forecast_details(fc))
        warn = forecast_warns(fc)
        self.quota.setStyleSheet(f"color: {WARNING_COLOUR}; font-weight: bold;" if warn else "")

    def _show_actions(self, snap: ClusterSnapshot | None) -> None:
        """Recover… while NOSPACE is raised; Defragment… while fragmentation is high."""
        self.recover_button.setVisible(snap is not None and nospace_raised(snap))
        fragmented = [] if snap is None else fragmented_members(snap)
        self.defrag_button.setVisible(bool(fragmented))
        self.defrag_button.setToolTip(
            "Space to give back: "
            + ", ".join(
                f"{m.name or m.id_hex} {fmt_bytes((m.db_size or 0) - (m.db_size_in_use or 0))} "
                f"of {fmt_bytes(m.db_size)} free"
                for m in fragmented
            )
            + ". Defragment rewrites each member's file, one at a time, the leader last."
            if fragmented
            else ""
        )

    def show_failure(self, message: str, next_try_at: float | None) -> None:
        self._set_chip(Verdict.UNREACHABLE)
        self.reason.setText(message)
        self.banner.show_error(message, next_try_at)
