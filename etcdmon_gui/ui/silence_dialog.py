"""The "New silence" dialog: rule / cluster / member matchers, a duration and a reason.

Like an Alertmanager silence, each matcher is optional (unticked = any value), but at
least one must be set: a silence of every alert would hide the next outage too. The
matchers are prefilled from the alert the user had selected, and the dialog says how
many of the current alerts the silence would mute. It only builds a ``Silence``; the
owner sends it to the alert worker.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from etcdmon_gui.formatting import fmt_time
from etcdmon_gui.model.alerts import Alert, AlertState, Silence
from etcdmon_gui.ui.alert_text import matchers_text

__all__ = ["DURATION_PRESETS", "SilenceDialog"]

Clock = Callable[[], float]

# (label, seconds): how long a new silence lasts.
DURATION_PRESETS: tuple[tuple[str, float], ...] = (
    ("1 h", 3600.0),
    ("2 h", 2 * 3600.0),
    ("4 h", 4 * 3600.0),
    ("8 h", 8 * 3600.0),
    ("24 h", 24 * 3600.0),
    ("3 days", 3 * 86_400.0),
    ("7 days", 7 * 86_400.0),
)


class SilenceDialog(QDialog):
    """Asks for one silence; ``silence()`` builds it once the dialog is accepted."""

    def __init__(
        self,
        alerts: Sequence[Alert],
        prefill: Alert | None = None,
        parent: QWidget | None = None,
        *,
        clock: Clock = time.time,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("silenceDialog")
        self.setWindowTitle("New silence")
        self.clock = clock
        self._alerts = list(alerts)

        self.rule_check = QCheckBox("Rule")
        self.rule = QComboBox()
        self.rule.setEditable(True)
        self.rule.addItems(sorted({a.rule for a in alerts}, key=str.casefold))
        self.cluster_check = QCheckBox("Cluster")
        self.cluster = QComboBox()  # shows the name, carries the key
        clusters = {a.cluster: a.cluster_name for a in alerts}
        if prefill is not None:
            clusters.setdefault(prefill.cluster, prefill.cluster_name)
        for key in sorted(clusters, key=lambda k: (clusters[k].casefold(), k)):
            self.cluster.addItem(clusters[key], key)
        self.member_check = QCheckBox("Member")
        self.member = QComboBox()
        self.member.setEditable(True)
        self.member.addItems(sorted({a.member for a in alerts if a.member}, key=str.casefold))
        for combo in (self.rule, self.member):
            line = combo.lineEdit()
            if line is not None:
                line.setPlaceholderText("exact value")
        self.duration = QComboBox()
        self.duration.setObjectName("silenceDuration")
        for text, seconds in DURATION_PRESETS:
            self.duration.addItem(text, seconds)
        self.duration.setCurrentIndex(1)
        self.ends_label = QLabel()
        self.reason = QLineEdit()
        self.reason.setObjectName("silenceReason")
        self.reason.setPlaceholderText("Why (required): a ticket, a maintenance window…")
        self.summary = QLabel()
        self.summary.setObjectName("silenceSummary")
        self.summary.setWordWrap(True)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setText("Create silence")

        form = QFormLayout()
        for check, combo in (
            (self.rule_check, self.rule),
            (self.cluster_check, self.cluster),
            (self.member_check, self.member),
        ):
            form.addRow(check, combo)
            check.toggled.connect(combo.setEnabled)
            check.toggled.connect(lambda _: self._update())
            combo.currentTextChanged.connect(lambda _: self._update())
        duration = QHBoxLayout()
        duration.addWidget(self.duration)
        duration.addWidget(self.ends_label, 1)
        form.addRow("Duration", duration)
        form.addRow("Reason", self.reason)
        lay = QVBoxLayout(self)
        lay.addWidget(
            QLabel("Mute every alert matching the ticked matchers (unticked: any value).")
        )
        lay.addLayout(form)
        lay.addWidget(self.summary)
        lay.addWidget(self.buttons)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.duration.currentIndexChanged.connect(lambda _: self._update())
        self.reason.textChanged.connect(lambda _: self._update())

        self._prefill(prefill)
        self.resize(460, self.sizeHint().height())

    def _prefill(self, alert: Alert | None) -> None:
        checks = (self.rule_check, self.cluster_check, self.member_check)
        if alert is not None:
            self.rule.setCurrentText(alert.rule)
            self.cluster.setCurrentIndex(max(0, self.cluster.findData(alert.cluster)))
            if alert.member:
                self.member.setCurrentText(alert.member)
        values = (alert.rule, alert.cluster, alert.member) if alert else (None, None, None)
        for check, value in zip(checks, values, strict=True):
            check.setChecked(value is not None)
        for check, combo in zip(checks, (self.rule, self.cluster, self.member), strict=True):
            combo.setEnabled(check.isChecked())
        self._update()

    # -- the result -------------------------------------------------------------------

    def matchers(self) -> tuple[str | None, str | None, str | None]:
        """(rule, cluster key, member); ``None`` for any."""

        def chosen(check: QCheckBox, value: str | None) -> str | None:
            return (value.strip() or None) if check.isChecked() and value is not None else None

        return (
            chosen(self.rule_check, self.rule.currentText()),
            chosen(self.cluster_check, self.cluster.currentData()),
            chosen(self.member_check, self.member.currentText()),
        )

    def silence(self) -> Silence:
        """The silence as the dialog stands, starting now."""
        now = self.clock()
        rule, cluster, member = self.matchers()
        return Silence(
            id=uuid.uuid4().hex[:8],
            rule=rule,
            cluster=cluster,
            member=member,
            starts=now,
            ends=now + float(self.duration.currentData()),
            reason=self.reason.text().strip(),
            created_at=now,
            cluster_name=self.cluster.currentText() if cluster is not None else None,
        )

    def _update(self) -> None:
        now = self.clock()
        ends = now + float(self.duration.currentData())
        self.ends_label.setText(f"until {fmt_time(ends, now)}")
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        if not any(self.matchers()):
            ok.setEnabled(False)
            self.summary.setText(
                "Tick at least one matcher: a silence of everything hides too much."
            )
            return
        draft = self.silence()
        live = [
            a
            for a in self._alerts
            if a.state in (AlertState.FIRING, AlertState.PENDING) and draft.matches(a)
        ]
        firing = sum(a.state == AlertState.FIRING for a in live)
        self.summary.setText(
            f"Matches {matchers_text(draft)}: {len(live)} current alert"
            f"{'' if len(live) == 1 else 's'} ({firing} firing)."
        )
        ok.setEnabled(bool(draft.reason))
        ok.setToolTip("" if draft.reason else "Type a reason first")
