"""The main window: header, cluster tree, live charts and member details.

It renders what it is given (``show_snapshot``, ``show_failure``, ``show_worker_state``)
and asks for actions through signals; it never talks to a cluster or the disk itself.
Window geometry and splitter positions are kept in the ``QSettings`` it is handed.
"""

from __future__ import annotations

import logging
import time

from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QLabel,
    QMainWindow,
    QMessageBox,
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
from etcdmon_gui.model.snapshot import ClusterSnapshot
from etcdmon_gui.ui.alert_table_widget import AlertTableWidget
from etcdmon_gui.ui.charts_widget import ChartsWidget
from etcdmon_gui.ui.cluster_tree_widget import ClusterTreeWidget
from etcdmon_gui.ui.connect_dialog import ConnectDialog, ConnectRequest
from etcdmon_gui.ui.delivery_log_widget import DeliveryLogWidget
from etcdmon_gui.ui.header_widget import HeaderWidget
from etcdmon_gui.ui.member_detail_widget import MemberDetailWidget, cluster_rows, member_rows
from etcdmon_gui.ui.notification_banner import NotificationBanner

log = logging.getLogger(__name__)

DEFAULT_INTERVAL_S = 5


class _ClusterView:
    """What the window keeps per connected cluster."""

    def __init__(self, key: str, charts: ChartsWidget) -> None:
        self.key = key
        self.charts = charts
        self.snapshot: ClusterSnapshot | None = None
        self.failure: str | None = None
        self.interval_s = DEFAULT_INTERVAL_S
        self.paused = False


class MainWindow(QMainWindow):
    """Signals:
    connectRequested(ConnectRequest): the user asked to watch another cluster.
    intervalRequested(str key, int seconds), pauseRequested(str key, bool paused),
    sweepRequested(str key): actions on the cluster shown.
    profilesRequested(): the user asked for the connection profiles.
    channelsRequested(): the user asked for the notification channels.
    benchmarkRequested(): the user asked to benchmark the cluster shown (``current_key``).
    """

    connectRequested = Signal(object)
    profilesRequested = Signal()
    channelsRequested = Signal()
    benchmarkRequested = Signal()
    intervalRequested = Signal(str, int)
    pauseRequested = Signal(str, bool)
    sweepRequested = Signal(str)

    def __init__(self, settings: QSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.setWindowTitle("etcdmon")
        self._views: dict[str, _ClusterView] = {}
        self._current: str | None = None
        self._member: int | None = None
        self._about_details = ""

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
        self.bottom.addTab(self.detail, "&Details")
        self.alerts_tab = self.bottom.addTab(self.alerts, "&Alerts")
        self.deliveries = DeliveryLogWidget()
        self.deliveries_tab = self.bottom.addTab(self.deliveries, "Deli&veries")
        self.alerts.firingCountChanged.connect(self._show_firing_count)

        self.right = QSplitter(Qt.Orientation.Vertical)
        self.right.setObjectName("rightSplitter")
        self.right.addWidget(self.charts_stack)
        self.right.addWidget(self.bottom)
        self.right.setStretchFactor(0, 3)
        self.right.setStretchFactor(1, 1)
        self.main = QSplitter(Qt.Orientation.Horizontal)
        self.main.setObjectName("mainSplitter")
        self.main.addWidget(self.tree)
        self.main.addWidget(self.right)
        self.main.setStretchFactor(0, 2)
        self.main.setStretchFactor(1, 3)

        central = QWidget()
        lay = QVBoxLayout(central)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.header)
        lay.addWidget(self.notification_banner)
        lay.addWidget(self.main, 1)
        self.setCentralWidget(central)
        self._build_actions()
        self.statusBar().showMessage("Ready")

        self.tree.clusterSelected.connect(self._select_cluster)
        self.tree.memberSelected.connect(self._select_member)
        self.resize(1400, 900)
        self._restore()

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
        self.profiles_action = QAction("P&rofiles…", self)
        self.profiles_action.setShortcut(QKeySequence("Ctrl+Shift+P"))
        self.profiles_action.triggered.connect(self.profilesRequested)
        self.channels_action = QAction("&Notification channels…", self)
        self.channels_action.triggered.connect(self.channelsRequested)
        self.benchmark_action = QAction("&Benchmark…", self)
        self.benchmark_action.setShortcut(QKeySequence("Ctrl+B"))
        self.benchmark_action.setToolTip(
            "Load the cluster shown and measure throughput and latency"
        )
        self.benchmark_action.triggered.connect(self.benchmarkRequested)
        self.about_action = QAction("&About", self)
        self.about_action.triggered.connect(self._show_about)
        self.quit_action = QAction("&Quit", self)
        self.quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        self.quit_action.triggered.connect(self.close)
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
        file_menu.addAction(self.quit_action)
        monitor_menu = self.menuBar().addMenu("&Monitor")
        monitor_menu.addAction(self.pause_action)
        monitor_menu.addAction(self.sweep_action)
        tools_menu = self.menuBar().addMenu("&Tools")
        tools_menu.addAction(self.benchmark_action)
        help_menu = self.menuBar().addMenu("&Help")
        help_menu.addAction(self.about_action)

    def _ask_connect(self) -> None:
        dialog = ConnectDialog(self)
        if dialog.exec() == ConnectDialog.DialogCode.Accepted:
            request: ConnectRequest = dialog.request()
            if request.endpoints:
                self.connectRequested.emit(request)

    def about_text(self) -> str:
        text = f"etcdmon-gui {__version__}\n\nA desktop monitor for etcd clusters."
        return f"{text}\n\n{self._about_details}" if self._about_details else text

    def _show_about(self) -> None:
        box = QMessageBox(
            QMessageBox.Icon.NoIcon,
            "About etcdmon",
            self.about_text(),
            QMessageBox.StandardButton.Ok,
            self,
        )
        box.setTextFormat(Qt.TextFormat.PlainText)
        box.exec()

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

    def _show_firing_count(self, count: int) -> None:
        self.bottom.setTabText(self.alerts_tab, f"&Alerts ({count} firing)" if count else "&Alerts")

    def show_alerts_tab(self) -> None:
        self.bottom.setCurrentWidget(self.alerts)

    def show_deliveries_tab(self) -> None:
        self.bottom.setCurrentWidget(self.deliveries)

    # -- what the composition root calls --------------------------------------------

    def set_about_details(self, text: str) -> None:
        """Extra lines for Help → About (the composition root puts the secret backend)."""
        self._about_details = text

    def add_cluster(self, key: str, title: str) -> None:
        if key in self._views:
            return
        charts = ChartsWidget()
        self._views[key] = _ClusterView(key, charts)
        self.charts_stack.addWidget(charts)
        self.tree.add_cluster(key, title)
        if self._current is None:
            self._select_cluster(key)

    def current_key(self) -> str | None:
        """The key of the cluster shown, if any."""
        return self._current

    def charts(self, key: str) -> ChartsWidget:
        return self._views[key].charts

    def show_snapshot(self, snap: ClusterSnapshot) -> None:
        view = self._views.get(snap.key)
        if view is None:
            return  # a cluster closed meanwhile: drop the stale result
        view.snapshot, view.failure = snap, None
        view.charts.add_snapshot(snap)
        self.tree.update_snapshot(snap)
        if snap.key == self._current:
            self.header.show_snapshot(snap, view.interval_s)
            self._show_detail()
        self.statusBar().showMessage(
            f"{len(self._views)} cluster(s) · last sweep {fmt_clock(snap.taken_at)} of {snap.key} "
            f"({fmt_seconds_as_ms(snap.duration_s, 0)})"
        )

    def show_failure(self, key: str, message: str) -> None:
        view = self._views.get(key)
        if view is None:
            return
        view.failure = message
        if key == self._current:
            self.header.show_failure(
                message, None if view.paused else time.time() + view.interval_s
            )

    def show_worker_state(self, key: str, paused: bool, interval_s: int) -> None:
        view = self._views.get(key)
        if view is None:
            return
        view.paused, view.interval_s = paused, interval_s
        if key == self._current:
            self._sync_controls(view)

    # -- selection --------------------------------------------------------------------

    def _sync_controls(self, view: _ClusterView) -> None:
        for widget in (self.pause_action, self.interval):
            widget.blockSignals(True)
        self.pause_action.setChecked(view.paused)
        self.interval.setValue(view.interval_s)
        for widget in (self.pause_action, self.interval):
            widget.blockSignals(False)

    def _select_cluster(self, key: str) -> None:
        view = self._views.get(key)
        if view is None or key == self._current:
            return
        self._current = key
        self.charts_stack.setCurrentWidget(view.charts)
        self._sync_controls(view)
        if view.snapshot is not None:
            self.header.show_snapshot(view.snapshot, view.interval_s)
        elif view.failure is not None:
            self.header.show_failure(view.failure, None)
        else:
            self.header.clear()
        self._show_detail()

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
        self.detail.show_rows(member_rows(member) if member else cluster_rows(view.snapshot))

    # -- persistence ------------------------------------------------------------------

    def _restore(self) -> None:
        self.main.setSizes([560, 840])  # first run: room for the tree's columns
        self.right.setSizes([560, 300])  # most of the height for the charts
        for name, restore in (
            ("geometry", self.restoreGeometry),
            ("state", self.restoreState),
            ("mainSplitter", self.main.restoreState),
            ("rightSplitter", self.right.restoreState),
        ):
            value = self.settings.value(f"window/{name}")
            if value is not None:
                restore(value)

    def save_layout(self) -> None:
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.saveState())
        self.settings.setValue("window/mainSplitter", self.main.saveState())
        self.settings.setValue("window/rightSplitter", self.right.saveState())

    def closeEvent(self, event: QCloseEvent) -> None:
        self.save_layout()
        super().closeEvent(event)
