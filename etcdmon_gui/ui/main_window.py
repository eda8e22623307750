"""The main window: header, cluster tree and details, live charts, alerts.

It renders what it is given (``show_snapshot``, ``show_failure``, ``show_worker_state``,
``set_alerts``) and asks for actions through signals; it never talks to a cluster or the
disk itself. Window geometry and splitter positions are kept in the ``QSettings`` it is
handed.

Layout: the tree with the selected member's (or cluster's) details under it on the
left; the charts on the right, the Alerts, Deliveries and Maintenance log tabs under
them. Both sides
collapse (View menu): the left pane to nothing, the tabs to their tab bar, which is how
they start in a window under 800 px high so the charts keep a readable height. The
charts reflow their columns to the room they get.

Freshness: a timer in the GUI thread checks, every ``freshness_check_ms``, how old each
cluster's last finished sweep is; paused or older than ``stale_intervals`` intervals,
the header, the tree and (through ``clustersChanged``) the tray say so.

Maintenance: the Maintenance menu (one entry per kind of operation, for the cluster
shown), a member's context menu in the tree and the header's "Recover…" /
"Defragment…" all ask with ``maintenanceRequested(key, OpKind | None, member hex |
None)``; the composition root opens the dialog preselected.

No cluster watched: the central area shows the ``WelcomeWidget`` (``welcome``) instead
of the views, switching in ``add_cluster`` / ``remove_cluster``. The views' splitters get
their first-run layout when they are first shown, and a layout is only saved once they
have sizes (shown, restored or set), so a session spent on the welcome page keeps the
last one.

Closing: with ``set_close_to_tray(True)`` (a tray exists and the setting says so),
closing the window hides it (``hiddenToTray``); File → Quit (Ctrl+Q) closes it for real
and asks the application to quit (``quitRequested``).

Help: the user guide, the keyboard shortcuts (made from the window's actions) and the
alert rule reference are dialogs of their own (``help_dialogs``); About lists the
versions and the paths the composition root hands over (``set_about_paths``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence

from PySide6.QtCore import QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QIcon, QKeySequence, QShowEvent
from PySide6.QtWidgets import (
    QAbstractButton,
    QFrame,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QScrollArea,
    QSpinBox,
    QSplitter,
    QStackedWidget,
    QTabWidget,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from etcdmon_gui import __version__
from etcdmon_gui.formatting import fmt_clock, fmt_seconds_as_ms
from etcdmon_gui.model.alerts import Alert, Severity
from etcdmon_gui.model.ops import OpKind
from etcdmon_gui.model.snapshot import ClusterSnapshot
from etcdmon_gui.monitor.alert_rules import default_rules
from etcdmon_gui.ui.alert_table_widget import AlertTableWidget
from etcdmon_gui.ui.charts_widget import ChartsWidget
from etcdmon_gui.ui.cluster_state import (
    DEFAULT_STALE_INTERVALS,
    ClusterState,
    Freshness,
    badge_count,
    freshness,
    window_title,
)
from etcdmon_gui.ui.cluster_tree_widget import ClusterTreeWidget
from etcdmon_gui.ui.connect_dialog import ConnectDialog, ConnectRequest
from etcdmon_gui.ui.delivery_log_widget import DeliveryLogWidget
from etcdmon_gui.ui.header_widget import HeaderWidget, nospace_raised
from etcdmon_gui.ui.help_dialogs import (
    RuleReferenceDialog,
    ShortcutsDialog,
    UserGuideDialog,
    versions,
)
from etcdmon_gui.ui.maintenance_log_widget import MaintenanceLogWidget
from etcdmon_gui.ui.member_detail_widget import MemberDetailWidget, cluster_rows, member_rows
from etcdmon_gui.ui.notification_banner import NotificationBanner
from etcdmon_gui.ui.palette import WARNING_COLOUR
from etcdmon_gui.ui.welcome_widget import WelcomeWidget

log = logging.getLogger(__name__)

DEFAULT_INTERVAL_S = 5
FRESHNESS_CHECK_MS = 1000
SHORT_WINDOW_PX = 800  # below this height the alert tabs start folded to their tab bar

Clock = Callable[[], float]


def _shortcuts(key: QKeySequence.StandardKey, fallback: str) -> list[QKeySequence]:
    """The desktop's keys for ``key``; ``fallback`` where it has none (Quit and
    Preferences have none on many Linux desktops)."""
    return QKeySequence.keyBindings(key) or [QKeySequence(fallback)]


def _scrolling(widget: QWidget) -> QScrollArea:
    area = QScrollArea()
    area.setWidget(widget)
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.Shape.NoFrame)
    return area


class _ClusterView:
    """What the window keeps per connected cluster."""

    def __init__(self, key: str, title: str, charts: ChartsWidget) -> None:
        self.key = key
        self.title = title
        self.charts = charts
        self.snapshot: ClusterSnapshot | None = None
        self.failure: str | None = None
        self.interval_s = DEFAULT_INTERVAL_S
        self.paused = False
        self.freshness = Freshness.WAITING

    @property
    def last_sweep(self) -> float | None:
        """When the last finished sweep ended."""
        snap = self.snapshot
        return None if snap is None else snap.taken_at + snap.duration_s

    def state(self) -> ClusterState:
        verdict = self.snapshot.verdict if self.snapshot is not None else None
        return ClusterState(self.key, self.title, verdict, self.freshness, self.last_sweep)


class MainWindow(QMainWindow):
    """Signals:
    connectRequested(ConnectRequest): the user asked to watch another cluster.
    intervalRequested(str key, int seconds), pauseRequested(str key, bool paused),
    sweepRequested(str key), reconnectRequested(str key), disconnectRequested(str key):
        actions on a cluster (the one shown, or one picked in the tree's menu).
    mergeRequested(str key, list[str] endpoints): the user agreed to add these
        endpoints to the cluster ``key`` instead of watching it a second time.
    profilesRequested(): the user asked for the connection profiles.
    channelsRequested(): the user asked for the notification channels.
    benchmarkRequested(): the user asked to benchmark the cluster shown (``current_key``).
    exportRequested(): the user asked to export the history as CSV (File → Export…).
    maintenanceRequested(str key, OpKind | None, str | None member_hex): the maintenance
        dialog of cluster ``key``, preselected (from the menu, the tree or the header).
    clustersChanged(list[ClusterState]): a cluster was added or removed, or its verdict
        or freshness changed (for the tray).
    settingsRequested(): File → Settings….
    quitRequested(): File → Quit (Ctrl+Q): the window has closed itself (layout saved,
        not hidden to the tray); the application should quit.
    logFolderRequested(): Help → Open log folder.
    hiddenToTray(): closing hid the window in the tray (close to tray is on); the
        application may say so once.
    """

    connectRequested = Signal(object)
    profilesRequested = Signal()
    channelsRequested = Signal()
    benchmarkRequested = Signal()
    exportRequested = Signal()
    maintenanceRequested = Signal(str, object, object)
    intervalRequested = Signal(str, int)
    pauseRequested = Signal(str, bool)
    sweepRequested = Signal(str)
    reconnectRequested = Signal(str)
    disconnectRequested = Signal(str)
    mergeRequested = Signal(str, list)
    clustersChanged = Signal(list)
    settingsRequested = Signal()
    quitRequested = Signal()
    logFolderRequested = Signal()
    hiddenToTray = Signal()

    def __init__(
        self,
        settings: QSettings,
        parent: QWidget | None = None,
        *,
        clock: Clock = time.time,
        stale_intervals: float = DEFAULT_STALE_INTERVALS,
        freshness_check_ms: int = FRESHNESS_CHECK_MS,
    ) -> None:
        super().__init__(parent)
        self.settings = settings
        self.clock = clock
        self.stale_intervals = stale_intervals
        self._views: dict[str, _ClusterView] = {}
        self._current: str | None = None
        self._member: int | None = None
        self._about_details = ""
        self._about_paths: dict[str, str] = {}
        self._close_to_tray = False
        self._quitting = False
        self._views_laid_out = False
        self._browsing = False  # the views shown without a cluster (a bottom tab asked)
        self.guide_dialog: UserGuideDialog | None = None
        self.shortcuts_dialog: ShortcutsDialog | None = None
        self.rules_dialog: RuleReferenceDialog | None = None
        self._badge = 0
        self._states: list[ClusterState] = []
        self._restored = False
        self._laid_out = False
        self._side_width = 0
        self._bottom_height = 0
        self.merge_box: QMessageBox | None = None

        self.header = HeaderWidget()
        self.tree = ClusterTreeWidget()
        self.charts_stack = QStackedWidget()
        self.charts_stack.addWidget(
            QLabel(
                "Connect to a cluster to see its charts.", alignment=Qt.AlignmentFlag.AlignCenter
            )
        )
        self.detail = MemberDetailWidget()
        self.alerts = AlertTableWidget()
        self.notification_banner = NotificationBanner()
        self.bottom = QTabWidget()
        self.bottom.setObjectName("bottomTabs")
        # In scroll areas: narrower than their toolbars want, they scroll rather than
        # squeeze the tree out of a small window.
        self.alerts_tab = self.bottom.addTab(_scrolling(self.alerts), "&Alerts")
        self.deliveries = DeliveryLogWidget()
        self.deliveries_tab = self.bottom.addTab(_scrolling(self.deliveries), "Deli&veries")
        self.maintenance_log = MaintenanceLogWidget()
        self.maintenance_tab = self.bottom.addTab(self.maintenance_log, "Maintenance &log")
        # Folded, the tabs keep their bar: a click on a tab unfolds them.
        self.bottom.setMinimumHeight(self._folded_height())
        self.bottom.tabBarClicked.connect(lambda _: self._unfold_bottom())

        self.side = QSplitter(Qt.Orientation.Vertical)
        self.side.setObjectName("sideSplitter")
        self.side.addWidget(self.tree)
        self.side.addWidget(self.detail)
        self.side.setCollapsible(0, False)
        self.right = QSplitter(Qt.Orientation.Vertical)
        self.right.setObjectName("rightSplitter")
        self.right.addWidget(self.charts_stack)
        self.right.addWidget(self.bottom)
        self.right.setCollapsible(0, False)
        self.right.setCollapsible(1, False)
        self.right.setStretchFactor(0, 1)  # the charts take what the window gains
        self.right.setStretchFactor(1, 0)
        self.main = QSplitter(Qt.Orientation.Horizontal)
        self.main.setObjectName("mainSplitter")
        self.main.addWidget(self.side)
        self.main.addWidget(self.right)
        self.main.setCollapsible(0, True)
        self.main.setCollapsible(1, False)
        self.main.setStretchFactor(0, 0)
        self.main.setStretchFactor(1, 1)

        # The views of the watched clusters, or the welcome page while there is none.
        self.views = QWidget()
        self.views.setObjectName("clusterViews")
        lay = QVBoxLayout(self.views)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.header)
        lay.addWidget(self.main, 1)
        self.welcome = WelcomeWidget(clock=clock)
        self.pages = QStackedWidget()
        self.pages.setObjectName("pages")
        self.pages.addWidget(self.welcome)
        self.pages.addWidget(self.views)
        central = QWidget()
        lay = QVBoxLayout(central)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.notification_banner)
        lay.addWidget(self.pages, 1)
        self.setCentralWidget(central)
        self.welcome.connectRequested.connect(self._ask_connect)
        self.welcome.historyRequested.connect(self.show_alerts_tab)
        self._build_actions()
        self.statusBar().showMessage("Ready")
        # Permanent: a status message is replaced by the next sweep's.
        self.history_state = QLabel()
        self.history_state.setObjectName("historyState")
        self.history_state.hide()
        self.statusBar().addPermanentWidget(self.history_state)

        self.tree.clusterSelected.connect(self._select_cluster)
        self.tree.memberSelected.connect(self._select_member)
        self.tree.sweepRequested.connect(self.sweepRequested)
        self.tree.pauseRequested.connect(self.pauseRequested)
        self.tree.reconnectRequested.connect(self.reconnectRequested)
        self.tree.disconnectRequested.connect(self.disconnectRequested)
        self.tree.maintenanceRequested.connect(self.maintenanceRequested)
        self.header.maintenanceRequested.connect(
            lambda kind: self._on_current(
                lambda key: self.maintenanceRequested.emit(key, kind, None)
            )
        )
        self.main.splitterMoved.connect(lambda *_: self._sync_pane_actions())
        self.right.splitterMoved.connect(lambda *_: self._sync_pane_actions())
        self._freshness_timer = QTimer(self)
        self._freshness_timer.setInterval(freshness_check_ms)
        self._freshness_timer.timeout.connect(self.check_freshness)
        self._freshness_timer.start()
        self.resize(1400, 900)
        self._restore()
        self._sync_controls(None)
        self._update_title()

    # -- actions ----------------------------------------------------------------------

    def _build_actions(self) -> None:
        bar = QToolBar("Monitor")
        bar.setObjectName("monitorToolbar")
        self.addToolBar(bar)
        self.connect_action = QAction("&Connect…", self)
        self.connect_action.setShortcut(QKeySequence.StandardKey.New)
        self.connect_action.triggered.connect(self._ask_connect)
        self.pause_action = QAction("&Pause", self)
        self.pause_action.setCheckable(True)
        self.pause_action.setShortcut(QKeySequence("Ctrl+P"))
        self.pause_action.toggled.connect(self._toggle_pause)
        self.sweep_action = QAction("Sweep &now", self)
        self.sweep_action.setShortcut(QKeySequence.StandardKey.Refresh)
        self.sweep_action.triggered.connect(self._sweep_now)
        self.reconnect_action = QAction("&Reconnect", self)
        self.reconnect_action.setShortcut(QKeySequence("Ctrl+Shift+R"))
        self.reconnect_action.setToolTip(
            "Close the connections to the cluster shown and connect again with its settings"
        )
        self.reconnect_action.triggered.connect(
            lambda: self._on_current(self.reconnectRequested.emit)
        )
        self.disconnect_action = QAction("&Disconnect", self)
        self.disconnect_action.setShortcut(QKeySequence("Ctrl+Shift+W"))
        self.disconnect_action.setToolTip("Stop watching the cluster shown and remove it")
        self.disconnect_action.triggered.connect(
            lambda: self._on_current(self.disconnectRequested.emit)
        )
        self.profiles_action = QAction("P&rofiles…", self)
        self.profiles_action.setShortcut(QKeySequence("Ctrl+Shift+P"))
        self.profiles_action.triggered.connect(self.profilesRequested)
        self.channels_action = QAction("&Notification channels…", self)
        self.channels_action.triggered.connect(self.channelsRequested)
        self.export_action = QAction("&Export…", self)
        self.export_action.setShortcut(QKeySequence("Ctrl+E"))
        self.export_action.setToolTip(
            "Write the history (metrics, alert history, members, benchmark runs) to a CSV file"
        )
        self.export_action.triggered.connect(self.exportRequested)
        self.benchmark_action = QAction("&Benchmark…", self)
        self.benchmark_action.setShortcut(QKeySequence("Ctrl+B"))
        self.benchmark_action.setToolTip(
            "Load the cluster shown and measure throughput and latency"
        )
        self.benchmark_action.triggered.connect(self.benchmarkRequested)
        self.side_action = QAction("&Clusters and details", self)
        self.side_action.setCheckable(True)
        self.side_action.setChecked(True)
        self.side_action.setShortcut(QKeySequence("Ctrl+1"))
        self.side_action.toggled.connect(self._show_side)
        self.bottom_action = QAction("&Alerts and deliveries", self)
        self.bottom_action.setCheckable(True)
        self.bottom_action.setChecked(True)
        self.bottom_action.setShortcut(QKeySequence("Ctrl+2"))
        self.bottom_action.toggled.connect(self._show_bottom)
        self.settings_action = QAction("&Settings…", self)
        self.settings_action.setShortcuts(
            _shortcuts(QKeySequence.StandardKey.Preferences, "Ctrl+,")
        )
        self.settings_action.setMenuRole(QAction.MenuRole.PreferencesRole)
        self.settings_action.triggered.connect(self.settingsRequested)
        self.quit_action = QAction("&Quit", self)
        self.quit_action.setShortcuts(_shortcuts(QKeySequence.StandardKey.Quit, "Ctrl+Q"))
        self.quit_action.setMenuRole(QAction.MenuRole.QuitRole)
        self.quit_action.setToolTip("Stop watching and quit, also when the tray would keep it")
        self.quit_action.triggered.connect(self.quit)
        self.guide_action = QAction("&User guide", self)
        self.guide_action.setShortcuts(_shortcuts(QKeySequence.StandardKey.HelpContents, "F1"))
        self.guide_action.triggered.connect(self.show_user_guide)
        self.shortcuts_action = QAction("&Keyboard shortcuts", self)
        self.shortcuts_action.triggered.connect(self.show_shortcuts)
        self.rules_action = QAction("Alert &rule reference", self)
        self.rules_action.triggered.connect(self.show_rule_reference)
        self.log_folder_action = QAction("Open &log folder", self)
        self.log_folder_action.setToolTip("The log files and crash reports, in the file manager")
        self.log_folder_action.triggered.connect(self.logFolderRequested)
        self.about_action = QAction("&About etcdmon-gui", self)
        self.about_action.setMenuRole(QAction.MenuRole.AboutRole)
        self.about_action.triggered.connect(self._show_about)
        self.interval = QSpinBox()
        self.interval.setRange(1, 60)
        self.interval.setValue(DEFAULT_INTERVAL_S)
        self.interval.setSuffix(" s")
        self.interval.setPrefix("every ")
        self.interval.setToolTip("Sweep interval for the cluster shown (1 to 60 s)")
        self.interval.valueChanged.connect(self._interval_changed)
        for action in (self.connect_action, self.pause_action, self.sweep_action):
            bar.addAction(action)
        bar.addWidget(self.interval)

        file_menu = self.menuBar().addMenu("&File")
        file_menu.addAction(self.connect_action)
        file_menu.addAction(self.profiles_action)
        file_menu.addAction(self.channels_action)
        file_menu.addSeparator()
        file_menu.addAction(self.export_action)
        file_menu.addSeparator()
        file_menu.addAction(self.settings_action)
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)
        monitor_menu = self.menuBar().addMenu("&Monitor")
        monitor_menu.addAction(self.pause_action)
        monitor_menu.addAction(self.sweep_action)
        monitor_menu.addSeparator()
        monitor_menu.addAction(self.reconnect_action)
        monitor_menu.addAction(self.disconnect_action)
        self.monitor_menu = monitor_menu
        view_menu = self.menuBar().addMenu("&View")
        view_menu.addAction(self.side_action)
        view_menu.addAction(self.bottom_action)
        self._build_maintenance_menu()
        tools_menu = self.menuBar().addMenu("&Tools")
        tools_menu.addAction(self.benchmark_action)
        help_menu = self.menuBar().addMenu("&Help")
        help_menu.addAction(self.guide_action)
        help_menu.addAction(self.shortcuts_action)
        help_menu.addAction(self.rules_action)
        help_menu.addAction(self.log_folder_action)
        help_menu.addSeparator()
        help_menu.addAction(self.about_action)
        self.help_menu = help_menu

    def _build_maintenance_menu(self) -> None:
        """Mai&ntenance: each entry opens the dialog of the cluster shown, preselected."""
        menu = self.menuBar().addMenu("Mai&ntenance")
        menu.setToolTipsVisible(True)
        self.maintenance_menu = menu
        entries: tuple[tuple[str, str, OpKind | None, str], ...] = (
            ("defragment", "&Defragment…", OpKind.DEFRAG, "Give free pages back, the leader last"),
            ("compact", "&Compact…", OpKind.COMPACT, "Drop old revisions of the history"),
            ("snapshot", "&Snapshot…", OpKind.SNAPSHOT, "Save a member's database to a file"),
            (
                "alarms",
                "&Alarms / Recover…",
                None,
                "Recover from NOSPACE when it is raised; otherwise disarm alarms",
            ),
            ("move_leader", "Move &leader…", OpKind.MOVE_LEADER, "Hand leadership to a member"),
            (
                "members",
                "&Members…",
                OpKind.MEMBER_ADD,
                "Add, promote, remove members or update their peer URLs",
            ),
            (
                "hashkv",
                "Consistency c&heck…",
                OpKind.HASHKV,
                "Compare every member's data hash at one revision",
            ),
        )
        self.maintenance_actions: dict[str, QAction] = {}
        for name, text, kind, tip in entries:
            action = QAction(text, self)
            action.setToolTip(tip)
            action.setStatusTip(tip)
            action.triggered.connect(lambda _=False, k=kind: self._ask_maintenance(k))
            menu.addAction(action)
            self.maintenance_actions[name] = action
            if name in ("snapshot", "alarms", "members"):
                menu.addSeparator()
        menu.addSeparator()
        self.maintenance_log_action = QAction("Maintenance &log", self)
        self.maintenance_log_action.setToolTip("Every maintenance run: who, what, when, result")
        self.maintenance_log_action.triggered.connect(self.show_maintenance_tab)
        menu.addAction(self.maintenance_log_action)

    def _ask_maintenance(self, kind: OpKind | None) -> None:
        """The menu's entry for the cluster shown; Alarms / Recover… picks Recover while
        NOSPACE is raised, else Disarm."""
        key = self._current
        if key is None:
            return
        if kind is None:
            snap = self._views[key].snapshot
            kind = (
                OpKind.RECOVER if snap is not None and nospace_raised(snap) else OpKind.ALARM_DISARM
            )
        self.maintenanceRequested.emit(key, kind, None)

    def _ask_connect(self) -> None:
        dialog = ConnectDialog(self)
        if dialog.exec() == ConnectDialog.DialogCode.Accepted:
            request: ConnectRequest = dialog.request()
            if request.endpoints:
                self.connectRequested.emit(request)

    def about_text(self) -> str:
        """What Help → About says: the version, what it runs on, its paths, the details
        the composition root set (where secrets are kept)."""
        parts = [f"etcdmon-gui {__version__}\n\nA desktop monitor for etcd clusters."]
        parts.append("\n".join(["Versions:", *(f"  {n}: {v}" for n, v in versions())]))
        if self._about_paths:
            parts.append(
                "\n".join(["Paths:", *(f"  {n}: {p}" for n, p in self._about_paths.items())])
            )
        if self._about_details:
            parts.append(self._about_details)
        return "\n\n".join(parts)

    def _show_about(self) -> None:
        box = QMessageBox(
            QMessageBox.Icon.NoIcon,
            "About etcdmon-gui",
            self.about_text(),
            QMessageBox.StandardButton.Ok,
            self,
        )
        box.setObjectName("aboutBox")
        box.setTextFormat(Qt.TextFormat.PlainText)
        box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        box.exec()

    # -- help -------------------------------------------------------------------------

    def _raise(self, dialog: QWidget) -> None:
        dialog.show()
        dialog.raise_()
        dialog.activateWindow()

    def show_user_guide(self) -> UserGuideDialog:
        """Help → User guide: the bundled guide, one window kept for the session."""
        if self.guide_dialog is None:
            self.guide_dialog = UserGuideDialog(self)
        self._raise(self.guide_dialog)
        return self.guide_dialog

    def window_actions(self) -> list[QAction]:
        """Every action of the window: the menus' in their order, then the others (the
        panes' context menus, the toolbar)."""
        seen: list[QAction] = []

        def walk(actions: Sequence[QAction]) -> None:
            for action in actions:
                menu = action.menu()
                if isinstance(menu, QMenu):
                    walk(menu.actions())
                elif action not in seen:
                    seen.append(action)

        walk(self.menuBar().actions())
        seen.extend(a for a in self.findChildren(QAction) if a not in seen)
        return seen

    def show_shortcuts(self) -> ShortcutsDialog:
        """Help → Keyboard shortcuts, listed from the actions as they are now."""
        if self.shortcuts_dialog is not None:
            self.shortcuts_dialog.deleteLater()
        self.shortcuts_dialog = ShortcutsDialog(self.window_actions(), self)
        self._raise(self.shortcuts_dialog)
        return self.shortcuts_dialog

    def show_rule_reference(self) -> RuleReferenceDialog:
        """Help → Alert rule reference: the shipped default rules (a user's rules file
        and a profile's overrides change them by name; the reference is the baseline)."""
        if self.rules_dialog is None:
            self.rules_dialog = RuleReferenceDialog(default_rules(), self)
        self._raise(self.rules_dialog)
        return self.rules_dialog

    def quit(self) -> None:
        """File → Quit: close for real (the layout is saved, the tray keeps nothing),
        then ask the application to quit."""
        self._quitting = True
        try:
            self.close()
        finally:
            self._quitting = False
        self.quitRequested.emit()

    def _on_current(self, emit: Callable[[str], object]) -> None:
        if self._current:
            emit(self._current)

    def _sweep_now(self) -> None:
        if self._current:
            self.sweepRequested.emit(self._current)

    def _toggle_pause(self, paused: bool) -> None:
        if self._current:
            self.pauseRequested.emit(self._current, paused)

    def _interval_changed(self, seconds: int) -> None:
        view = self._views.get(self._current or "")
        if view is not None and view.interval_s != seconds:
            self.intervalRequested.emit(view.key, seconds)

    def show_alerts_tab(self) -> None:
        self._show_tab(self.alerts_tab)

    def show_deliveries_tab(self) -> None:
        self._show_tab(self.deliveries_tab)

    def show_maintenance_tab(self) -> None:
        self._show_tab(self.maintenance_tab)

    def _show_tab(self, index: int) -> None:
        """One of the bottom tabs, unfolded; shown over the welcome page too (the
        history of alerts and maintenance needs no cluster), until a cluster comes and
        goes again."""
        self._browsing = True
        self._sync_page()
        self.bottom.setCurrentIndex(index)
        self._unfold_bottom()

    # -- panes ----------------------------------------------------------------------------

    def _folded_height(self) -> int:
        return self.bottom.tabBar().sizeHint().height() + 2

    def bottom_folded(self) -> bool:
        """Whether the alert tabs show only their tab bar."""
        return self.right.sizes()[1] <= self._folded_height() + 4

    def side_collapsed(self) -> bool:
        return self.main.sizes()[0] == 0

    def _show_side(self, show: bool) -> None:
        total = sum(self.main.sizes())
        if show and self.side_collapsed():
            width = self._side_width or self._default_side_width()
            self.main.setSizes([width, max(1, total - width)])
        elif not show and not self.side_collapsed():
            self._side_width = self.main.sizes()[0]
            self.main.setSizes([0, total])
        self._sync_pane_actions()

    def _show_bottom(self, show: bool) -> None:
        total = sum(self.right.sizes())
        folded = self._folded_height()
        if show and self.bottom_folded():
            height = max(self._bottom_height, int(total * 0.35), 160)
            self.right.setSizes([max(1, total - height), height])
        elif not show and not self.bottom_folded():
            self._bottom_height = self.right.sizes()[1]
            self.right.setSizes([total - folded, folded])
        self._sync_pane_actions()

    def _unfold_bottom(self) -> None:
        if self.bottom_folded():
            self._show_bottom(True)

    def _sync_pane_actions(self) -> None:
        for action, shown in (
            (self.side_action, not self.side_collapsed()),
            (self.bottom_action, not self.bottom_folded()),
        ):
            action.blockSignals(True)
            action.setChecked(shown)
            action.blockSignals(False)

    def _default_side_width(self) -> int:
        return max(300, min(560, int(self.width() * 0.36)))

    def _default_layout(self) -> None:
        """First run: a third of the width for the tree and details; the alert tabs
        folded in a short window, a third of the charts' side otherwise."""
        # The splitters must have their final sizes first: laid out later, the side
        # pane (stretch 0) would keep the width it got in a window not yet sized.
        central = self.centralWidget()
        for layout in (
            self.layout(),
            central.layout() if central is not None else None,
            self.pages.layout(),
            self.views.layout(),
        ):
            if layout is not None:
                layout.activate()
        side = self._default_side_width()
        self.main.setSizes([side, max(1, self.main.width() - side)])
        self.side.setSizes([45, 55])
        height = max(self.right.height(), 1)
        if self.height() < SHORT_WINDOW_PX:
            folded = self._folded_height()
            self.right.setSizes([max(1, height - folded), folded])
        else:
            self.right.setSizes([int(height * 0.68), height - int(height * 0.68)])
        self._sync_pane_actions()

    def showEvent(self, event: QShowEvent) -> None:
        if not self._laid_out:
            self._laid_out = True
            if self.pages.currentWidget() is self.views:
                self._lay_out_views()
        super().showEvent(event)

    # -- what the composition root calls --------------------------------------------

    def set_about_details(self, text: str) -> None:
        """Extra lines for Help → About (the composition root puts the secret backend)."""
        self._about_details = text

    def set_about_paths(self, paths: Mapping[str, str]) -> None:
        """Where things live, for Help → About, in the order given (e.g. "Settings",
        "Profiles", "History", "Logs and crash reports")."""
        self._about_paths = dict(paths)

    def set_close_to_tray(self, enabled: bool) -> None:
        """Whether closing the window hides it in the tray (only while a tray exists:
        the composition root decides) instead of closing it."""
        self._close_to_tray = enabled

    def close_to_tray(self) -> bool:
        return self._close_to_tray

    def showing_welcome(self) -> bool:
        """Whether the welcome page is shown (no cluster watched)."""
        return self.pages.currentWidget() is self.welcome

    def _sync_page(self) -> None:
        """The views while a cluster is watched, the welcome page otherwise; the views
        get their first-run layout when first shown in a visible window."""
        target = self.views if self._views or self._browsing else self.welcome
        if self.pages.currentWidget() is not target:
            self.pages.setCurrentWidget(target)
        if target is self.views and self._laid_out and not self._views_laid_out:
            self._lay_out_views()

    def _lay_out_views(self) -> None:
        self._views_laid_out = True
        if not self._restored:
            self._default_layout()

    def add_cluster(self, key: str, title: str) -> None:
        if key in self._views:
            return
        charts = ChartsWidget()
        self._views[key] = _ClusterView(key, title, charts)
        self.charts_stack.addWidget(charts)
        self.tree.add_cluster(key, title)
        self._sync_page()
        if self._current is None:
            self._select_cluster(key)
        self.check_freshness(force=True)

    def rename_cluster(self, key: str, title: str) -> None:
        """A profile was renamed: the tree, the details and the title follow."""
        view = self._views.get(key)
        if view is None or view.title == title:
            return
        view.title = title
        self.tree.rename_cluster(key, title)
        if key == self._current:
            self._show_detail()
        self.check_freshness(force=True)

    def remove_cluster(self, key: str) -> None:
        """Forget a cluster: its tree root, charts and details go; another is shown."""
        view = self._views.pop(key, None)
        if view is None:
            return
        self.tree.remove_cluster(key)
        self.charts_stack.removeWidget(view.charts)
        view.charts.deleteLater()
        if self._current == key:
            self._current = None
            self._member = None
            following = next(iter(self._views), None)
            if following is not None:
                self.select_cluster(following)
            else:
                self.charts_stack.setCurrentIndex(0)
                self.header.clear()
                self.detail.show_rows([])
                self._sync_controls(None)
        if not self._views:
            self._browsing = False  # the last one went: welcome again
        self._sync_page()
        self.check_freshness(force=True)

    def select_cluster(self, key: str) -> None:
        """Show this cluster (its root becomes the tree's current row)."""
        root = self.tree.root(key)
        if root is not None:
            self.tree.setCurrentItem(root)
        self._select_cluster(key)

    def cluster_keys(self) -> list[str]:
        return list(self._views)

    def cluster_title(self, key: str) -> str | None:
        view = self._views.get(key)
        return None if view is None else view.title

    def current_key(self) -> str | None:
        """The key of the cluster shown, if any."""
        return self._current

    def charts(self, key: str) -> ChartsWidget:
        return self._views[key].charts

    def latest_snapshot(self, key: str) -> ClusterSnapshot | None:
        """What the last sweep of ``key`` found, if anything (None: unknown key)."""
        view = self._views.get(key)
        return None if view is None else view.snapshot

    def show_snapshot(self, snap: ClusterSnapshot) -> None:
        view = self._views.get(snap.key)
        if view is None:
            return  # a cluster closed meanwhile: drop the stale result
        view.snapshot, view.failure = snap, None
        view.charts.add_snapshot(snap)
        self._refresh_freshness(view)
        self.tree.update_snapshot(snap)
        if snap.key == self._current:
            self.header.show_snapshot(snap, view.interval_s)
            self._show_detail()
        self.statusBar().showMessage(
            f"{len(self._views)} cluster(s) · last sweep {fmt_clock(snap.taken_at)} of "
            f"{view.title} ({fmt_seconds_as_ms(snap.duration_s, 0)})"
        )
        self.check_freshness(force=True)

    def show_history_problem(self, message: str, state: str = "History off") -> None:
        """The history file cannot be used (or, ``state`` "Team history off", the team's
        database): say so for as long as the window is open."""
        self.history_state.setText(state)
        self.history_state.setToolTip(f"{state}: {message}")
        self.history_state.setStyleSheet(f"color: {WARNING_COLOUR};")
        self.history_state.show()
        self.notification_banner.show_notification(
            state, message[:1].upper() + message[1:], Severity.WARNING
        )

    def show_failure(self, key: str, message: str) -> None:
        view = self._views.get(key)
        if view is None:
            return
        view.failure = message
        self.tree.show_failure(key, message)
        if key == self._current:
            self.header.show_failure(
                message, None if view.paused else self.clock() + view.interval_s
            )

    def show_worker_state(self, key: str, paused: bool, interval_s: int) -> None:
        view = self._views.get(key)
        if view is None:
            return
        view.paused, view.interval_s = paused, interval_s
        if key == self._current:
            self._sync_controls(view)
        self.check_freshness()

    def set_alerts(self, alerts: Sequence[Alert]) -> None:
        """The badge: firing alerts nobody acknowledged, on the Alerts tab and the title."""
        self._badge = badge_count(alerts, self.clock())
        text = f"&Alerts ({self._badge} firing)" if self._badge else "&Alerts"
        self.bottom.setTabText(self.alerts_tab, text)
        self._update_title()

    def badge(self) -> int:
        return self._badge

    def set_status_icon(self, icon: QIcon) -> None:
        """The tray's icon (verdicts and alerts at a glance) for the window and the tab."""
        self.setWindowIcon(icon)
        self.bottom.setTabIcon(self.alerts_tab, icon)

    def offer_merge(
        self, key: str, new_title: str, cluster_id: int, endpoints: Sequence[str]
    ) -> QMessageBox:
        """Say that ``new_title`` is the cluster already watched as ``key`` and was not
        added again; offer to add its endpoints to that one (``mergeRequested``)."""
        existing = self.cluster_title(key) or key
        text = (
            f"{new_title} is cluster {cluster_id:x}, which is already watched as "
            f"“{existing}”, so it was not added a second time."
        )
        box = QMessageBox(
            QMessageBox.Icon.Information, "Cluster already watched", text, parent=self
        )
        box.setObjectName("mergeBox")
        if endpoints:
            box.setInformativeText(
                f"Add {', '.join(endpoints)} to the endpoints of “{existing}”? They are "
                "asked when its own endpoints do not answer; its TLS and user settings "
                "stay as they are."
            )
            merge: QAbstractButton | None = box.addButton(
                "Add endpoints", QMessageBox.ButtonRole.AcceptRole
            )
            box.addButton(QMessageBox.StandardButton.Cancel)
        else:
            merge = None
            box.setInformativeText(f"“{existing}” already has all of its endpoints.")
            box.addButton(QMessageBox.StandardButton.Ok)
        wanted = list(endpoints)
        box.buttonClicked.connect(
            lambda button: (
                self.mergeRequested.emit(key, wanted)
                if merge is not None and button is merge
                else None
            )
        )
        box.finished.connect(box.deleteLater)
        box.setWindowModality(Qt.WindowModality.WindowModal)
        self.merge_box = box
        box.open()
        self.select_cluster(key)
        return box

    # -- freshness --------------------------------------------------------------------

    def _refresh_freshness(self, view: _ClusterView) -> bool:
        """Recompute the view's freshness; whether it changed (tree and header follow)."""
        state = freshness(
            paused=view.paused,
            last_sweep=view.last_sweep,
            interval_s=view.interval_s,
            now=self.clock(),
            stale_intervals=self.stale_intervals,
            sweep_s=view.snapshot.duration_s if view.snapshot is not None else 0.0,
        )
        if state == view.freshness:
            return False
        view.freshness = state
        self.tree.set_freshness(view.key, state, view.last_sweep)
        if view.key == self._current:
            self.header.set_freshness(state, view.last_sweep)
        return True

    def check_freshness(self, force: bool = False) -> None:
        """Mark clusters paused or stale (or live again); tell the tray when anything
        it shows changed (``force``: a verdict or the set of clusters may have)."""
        for view in self._views.values():
            self._refresh_freshness(view)
        states = [view.state() for view in self._views.values()]
        if force or states != self._states:
            self._states = states
            self.clustersChanged.emit(states)
        self._update_title()

    def _update_title(self) -> None:
        view = self._views.get(self._current or "")
        self.setWindowTitle(window_title(view.state() if view else None, self._badge))

    # -- selection --------------------------------------------------------------------

    def _sync_controls(self, view: _ClusterView | None) -> None:
        for widget in (self.pause_action, self.interval):
            widget.blockSignals(True)
        self.pause_action.setChecked(view.paused if view else False)
        self.interval.setValue(view.interval_s if view else DEFAULT_INTERVAL_S)
        for widget in (self.pause_action, self.interval):
            widget.blockSignals(False)
        for action in (
            self.pause_action,
            self.sweep_action,
            self.reconnect_action,
            self.disconnect_action,
            self.benchmark_action,
            *self.maintenance_actions.values(),
        ):
            action.setEnabled(view is not None)
        self.interval.setEnabled(view is not None)

    def _select_cluster(self, key: str) -> None:
        view = self._views.get(key)
        if view is None or key == self._current:
            return
        self._current = key
        self._member = None
        self.charts_stack.setCurrentWidget(view.charts)
        self._sync_controls(view)
        if view.snapshot is not None:
            self.header.show_snapshot(view.snapshot, view.interval_s)
        elif view.failure is not None:
            self.header.show_failure(view.failure, None)
        else:
            self.header.clear()
        self.header.set_freshness(view.freshness, view.last_sweep)
        self._show_detail()
        self._update_title()

    def _select_member(self, key: str, member_id: int | None) -> None:
        self._select_cluster(key)
        self._member = member_id
        self._show_detail()

    def _show_detail(self) -> None:
        view = self._views.get(self._current or "")
        if view is None or view.snapshot is None:
            self.detail.show_rows([])
            return
        member = view.snapshot.member(self._member) if self._member is not None else None
        self.detail.show_rows(
            member_rows(member) if member else cluster_rows(view.snapshot, view.title)
        )

    # -- persistence ------------------------------------------------------------------

    def _restore(self) -> None:
        for name, restore in (
            ("geometry", self.restoreGeometry),
            ("state", self.restoreState),
            ("mainSplitter", self.main.restoreState),
            ("sideSplitter", self.side.restoreState),
            ("rightSplitter", self.right.restoreState),
        ):
            value = self.settings.value(f"window/{name}")
            if value is not None:
                restore(value)
                self._restored = self._restored or name == "mainSplitter"

    def save_layout(self) -> None:
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.saveState())
        for name, splitter in (
            ("mainSplitter", self.main),
            ("sideSplitter", self.side),
            ("rightSplitter", self.right),
        ):
            # A splitter never shown, restored or set (the welcome page all session
            # long) has no sizes yet: saving them would replace a good layout.
            if any(splitter.sizes()):
                self.settings.setValue(f"window/{name}", splitter.saveState())

    def closeEvent(self, event: QCloseEvent) -> None:
        self.save_layout()
        if self._close_to_tray and not self._quitting:
            event.ignore()
            if self.isVisible():
                self.hide()
                self.hiddenToTray.emit()
            return
        super().closeEvent(event)
