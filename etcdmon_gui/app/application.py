"""Start-up of the desktop application: the one composition root.

``main()`` parses the command line, builds the window and, for every cluster to watch,
a ``MonitorWorker`` in its own thread wired to the window through queued signals. A
cluster can be disconnected (its worker retired without blocking the GUI thread, its
views removed, the alert worker told) or reconnected, and a watched profile that is
saved again is applied at once (its worker rebuilt with the new connection). A second
connection to a cluster id already watched is refused, with an offer to add its
endpoints to the first. The
profile store and the secret store are built here too and handed to the
``SettingsService`` thread behind the profile manager; the notification dispatcher, the
channel registry's types and a second ``SettingsService`` thread go to the channels
dialog, and the dispatcher's delivery log to the Deliveries tab. Maintenance runs in
an ``OpsHandle`` thread per cluster behind each cluster's ``MaintenanceDialog``; every
run is recorded in the history's ops log and listed in the Maintenance log tab; a
benchmark and a maintenance run never share a cluster. One
``Application.shutdown`` (idempotent; on ``aboutToQuit``) stops the services and the
workers, then the dispatcher, then the sandbox. With a team history in the settings,
the history views read that PostgreSQL database (read-only, opened in the history
reader's thread, the password from the secret store), this computer's file when it
cannot be read; the snapshots go on being written to the file. ``--screenshot``
renders the window to a PNG after ``--after`` seconds and exits, for the README and for
checks.
"""

from __future__ import annotations

import dataclasses
import io
import itertools
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QSettings, Signal
from PySide6.QtWidgets import QApplication, QWidget

from etcdmon_gui.app.desktop import Desktop, DesktopStart
from etcdmon_gui.bench.checkperf import PRESETS, check_perf_spec
from etcdmon_gui.bench.report import run_record
from etcdmon_gui.connection_args import (
    config_from_flags,
)
from etcdmon_gui.etcd.probe import ClusterProbe
from etcdmon_gui.model.alerts import AlertEvent, Severity
from etcdmon_gui.model.bench import BenchResult, BenchSpec, CheckPerfPreset, CheckPerfResult
from etcdmon_gui.model.connection import ConnectionConfig, parse_endpoints
from etcdmon_gui.model.errors import ConfigError, EtcdError
from etcdmon_gui.model.history import (
    AlertQuery,
    BenchRunRecord,
    ClusterRecord,
    HistoryLimits,
    MemberRecord,
    ReportKind,
)
from etcdmon_gui.model.ops import AuditRecord, OpKind
from etcdmon_gui.model.postgres import PgSettings
from etcdmon_gui.model.profile import Profile
from etcdmon_gui.model.secrets import BackendInfo
from etcdmon_gui.model.session import SessionEntry
from etcdmon_gui.model.snapshot import ClusterSnapshot
from etcdmon_gui.monitor.cluster_monitor import ClusterMonitor
from etcdmon_gui.monitor.history_signals import SIGNALS as HISTORY_SIGNAL_DEFS
from etcdmon_gui.notify import registry as channel_registry
from etcdmon_gui.notify.dispatcher import NotificationDispatcher
from etcdmon_gui.notify.payloads import TEST_RULE
from etcdmon_gui.ops import DEFAULT_DEFRAG_THRESHOLD
from etcdmon_gui.reports import ExportCancelled, bound_export, check_output_path, write_export
from etcdmon_gui.reports.csv_export import NO_LIMIT
from etcdmon_gui.reports.output import Export
from etcdmon_gui.store.app_settings import TeamHistorySecrets
from etcdmon_gui.store.channels import ChannelSettings, ChannelStore, ChannelStoreError
from etcdmon_gui.store.history import AlertHistory, DeliveryQueueStore
from etcdmon_gui.store.history.reader import HistoryBackend, recent_db_sizes
from etcdmon_gui.store.profiles import (
    ProfileSettings,
    ProfileStore,
    user_rules_path,
)
from etcdmon_gui.store.profiles import connection_config as profile_connection_config
from etcdmon_gui.store.secrets import (
    SecretStore,
)
from etcdmon_gui.ui.bench_dialog import BenchDialog
from etcdmon_gui.ui.channels_dialog import ChannelsDialog
from etcdmon_gui.ui.chart_definitions import HISTORY_SIGNALS
from etcdmon_gui.ui.charts_widget import DEFAULT_WINDOW_S, ChartsWidget
from etcdmon_gui.ui.connect_dialog import ConnectRequest
from etcdmon_gui.ui.export_dialog import ExportDialog, ExportRequest
from etcdmon_gui.ui.main_window import MainWindow
from etcdmon_gui.ui.maintenance_dialog import MaintenanceDialog
from etcdmon_gui.ui.profile_manager_dialog import ProfileManagerDialog
from etcdmon_gui.ui.tray import AlertTray
from etcdmon_gui.workers.alert_worker import AlertHandle, AlertWorker
from etcdmon_gui.workers.bench_worker import BenchHandle, BenchRequest
from etcdmon_gui.workers.chart_history import ChartHistory, ChartHistoryLoader
from etcdmon_gui.workers.delivery_relay import DeliveryRelay
from etcdmon_gui.workers.history_worker import HistoryHandle, JobCancelled, Progress, TeamHistory
from etcdmon_gui.workers.monitor_worker import MonitorWorker, Sweeper, WorkerHandle
from etcdmon_gui.workers.ops_worker import OpsHandle, OpsRequest
from etcdmon_gui.workers.sandbox_worker import SandboxWorker
from etcdmon_gui.workers.settings_service import SettingsService, SettingsServiceHandle
from etcdmon_gui.workers.settings_testers import ChannelTester, ConnectionTester

log = logging.getLogger(__name__)

ConfigFactory = Callable[[], ConnectionConfig]

# Tags of the views' questions to the history: (kind, the query or the cluster key).
_ALERT_HISTORY = "alert-history"
_BENCH_RUNS = "bench-runs"
BENCH_RUNS_LISTED = 200  # the benchmark comparison lists at most this many stored runs
_OPS_LOG = "ops-log"
OPS_LOG_LISTED = 500  # the Maintenance log lists at most this many stored runs
# File → Export…: (kind, None | the count's ExportRequest | the export's number).
_EXPORT_CLUSTERS = "export-clusters"
_EXPORT_COUNT = "export-count"
_EXPORT = "export"
_EXPORT_WHAT = "Export"  # how a message about the file starts


@dataclasses.dataclass(frozen=True, slots=True)
class _Exported:
    path: str
    rows: int
    note: str  # e.g. signals asked for that have no value in the range


@dataclasses.dataclass(frozen=True, slots=True)
class _Refused:
    message: str  # what is wrong with the file, as check_output_path says it


def _bound_export(
    backend: HistoryBackend, request: ExportRequest, now: float, progress: Progress | None
) -> tuple[Export, str]:
    """The export ``request`` asks for, as ``etcdmon report`` runs it; and a note for
    the user ("" if none)."""
    export, missing = bound_export(backend, request.report(now), progress)
    note = (
        f"No values of {', '.join(missing)} in that range: no column for them." if missing else ""
    )
    return export, note


@dataclasses.dataclass(slots=True)
class Watch:
    """What it takes to (re)start watching one cluster."""

    title: str
    make_config: ConfigFactory  # called in the worker's thread (reads files, secrets)
    endpoints: list[str]  # as configured, for merging and the duplicate check
    interval_s: int | None = None
    alert_overrides: Mapping[str, Mapping[str, Any]] | None = None
    channels: Sequence[str] | None = None
    session: SessionEntry | None = None  # how a next start reopens it (None: it does not)


def endpoint_urls(text: str | Sequence[str]) -> list[str]:
    """Endpoints as URLs, the way connection keys spell them; [] when they do not parse."""
    try:
        return [e.url for e in parse_endpoints(text if isinstance(text, str) else list(text))]
    except EtcdError:
        return []


def config_from_request(request: ConnectRequest) -> ConnectionConfig:
    """Build a connection from the dialog's text; reads files, so call it off the GUI thread."""
    return config_from_flags(
        request.endpoints,
        cacert=request.cacert,
        cert=request.cert,
        key=request.key,
        user=request.user,
        password=request.password,
    )


#: How long the team history may take to answer a connection (seconds; libpq's least is 2).
TEAM_CONNECT_TIMEOUT_S = 5


def team_history(settings: PgSettings, secrets: TeamHistorySecrets) -> TeamHistory:
    """The team's database as the history views read it: read-only, its password read
    from the secret store when it is opened (in the history reader's thread)."""

    def open_reader() -> HistoryBackend:
        # psycopg is imported only by a run that reads a team history.
        from etcdmon_gui.store.history.postgres import PgHistoryReader

        return PgHistoryReader(
            settings,
            secrets.password(),
            read_only=True,
            connect_timeout_s=TEAM_CONNECT_TIMEOUT_S,
        )

    # Opening: a first connection, then the pool's (each within the connect timeout).
    return TeamHistory(settings.where, open_reader, open_s=2 * TEAM_CONNECT_TIMEOUT_S + 2)


def describe_backend(info: BackendInfo) -> str:
    """Where secrets are kept, for Help → About."""
    text = f"Secrets are kept in: {info.name}."
    if not info.persistent:
        text += "\n" + (info.problem or "They are forgotten when etcdmon-gui exits.")
    return text


class Application(QObject):
    """Owns the window, the workers, the profile service and the sandbox; the only place
    they meet. ``profiles`` and ``secrets`` default to the user's profiles file and the
    OS keyring (tests pass their own).

    Signals:
        desktopEvent(AlertEvent): a Desktop channel's delivery, from a notify thread;
            shown by the tray in the GUI thread.
        watchesChanged(): a cluster was opened, closed or renamed (the last session).
    """

    desktopEvent = Signal(object)
    watchesChanged = Signal()

    def __init__(
        self,
        qapp: QApplication,
        settings: QSettings,
        interval_s: int = 5,
        *,
        profiles: ProfileStore | None = None,
        secrets: SecretStore | None = None,
        data_dir: Path | None = None,
        history: tuple[Path | None, HistoryLimits] | None = None,
        desktop: DesktopStart | None = None,
    ) -> None:
        super().__init__()
        self.qapp = qapp
        self.interval_s = interval_s
        self.chart_window_s = DEFAULT_WINDOW_S  # a new cluster's charts (the settings')
        self.window = MainWindow(settings)
        self.workers: dict[str, WorkerHandle] = {}
        self.watches: dict[str, Watch] = {}
        # Workers stopping after a disconnect or reconnect, kept until their thread ends.
        self.retiring: list[WorkerHandle] = []
        self.cluster_ids: dict[str, int] = {}  # key -> the cluster id its sweeps found
        self.sandbox: SandboxWorker | None = None
        self.profiles = profiles if profiles is not None else ProfileStore()
        # Only asks keyring which backends exist; no secret is read here.
        self.secrets = secrets if secrets is not None else SecretStore.system()
        self.profile_service = SettingsServiceHandle(
            SettingsService(ProfileSettings(self.profiles, self.secrets), ConnectionTester()),
            "profiles",
            self,
        )
        self.profile_dialog: ProfileManagerDialog | None = None
        self.channels_dialog: ChannelsDialog | None = None
        # Per watched cluster: how to build its connection (the monitor's own factory)
        # and, for a profile, the profile (name and tags for the production guard).
        self.config_factories: dict[str, ConfigFactory] = {}
        self.watched_profiles: dict[str, Profile] = {}
        self.bench = BenchHandle(parent=self)  # its thread starts with the first run
        self.bench_dialogs: dict[str, BenchDialog] = {}
        self.export_dialog: ExportDialog | None = None
        self._export_tag: object = None  # the export job running, if any
        self._export_tags = itertools.count(1)
        start = desktop or DesktopStart.under(data_dir)
        # The team history's password, beside the settings file that names the database.
        self.team_secrets = TeamHistorySecrets(self.secrets, start.settings_store)
        # One history file for alerts, deliveries waiting, metrics and benchmark runs.
        history_path, limits = history or (None, None)
        if history_path is None and data_dir is not None:
            history_path = data_dir / "history.sqlite3"
        self._build_alerting(data_dir, history_path)
        self._build_history(history_path, limits, start.settings.team_history)
        self._build_ops()
        self._shut = False
        self.window.connectRequested.connect(self.connect_request)
        self.window.intervalRequested.connect(self._set_interval)
        self.window.pauseRequested.connect(self._set_paused)
        self.window.sweepRequested.connect(self._sweep_now)
        self.window.reconnectRequested.connect(self.reconnect_cluster)
        self.window.disconnectRequested.connect(self.disconnect_cluster)
        self.window.mergeRequested.connect(self.merge_endpoints)
        self.window.clustersChanged.connect(self.tray.set_clusters)
        self.tray.iconChanged.connect(self.window.set_status_icon)
        self.window.set_status_icon(self.tray.tray_icon.icon())
        self.alert_handle.alertsChanged.connect(self.window.set_alerts)
        self.profile_service.saved.connect(self._profile_saved)
        self.window.profilesRequested.connect(self.show_profiles)
        self.window.channelsRequested.connect(self.show_channels)
        self.window.benchmarkRequested.connect(self.show_benchmark)
        self.window.exportRequested.connect(self.show_export)
        self.window.maintenanceRequested.connect(self.show_maintenance)
        self.window.set_about_details(describe_backend(self.secrets.info))
        qapp.aboutToQuit.connect(self.shutdown)
        self._share_secrets()
        self.profile_service.start()
        self.desktop = Desktop(self, start)

    def _set_interval(self, key: str, seconds: int) -> None:
        if key in self.workers:
            self.workers[key].requestInterval.emit(seconds)
            self.watches[key].interval_s = seconds  # a reconnect keeps it

    def _set_paused(self, key: str, paused: bool) -> None:
        if key in self.workers:
            self.workers[key].requestPaused.emit(paused)

    def _sweep_now(self, key: str) -> None:
        if key in self.workers:
            self.workers[key].requestSweep.emit()

    # -- clusters ---------------------------------------------------------------------

    def watch(
        self,
        key: str,
        title: str,
        make_config: ConfigFactory,
        interval_s: int | None = None,
        alert_overrides: Mapping[str, Mapping[str, Any]] | None = None,
        channels: Sequence[str] | None = None,
        *,
        endpoints: Sequence[str] = (),
        session: SessionEntry | None = None,
    ) -> WorkerHandle:
        """Start watching a cluster; the config is built in the worker's thread.

        A key already watched is not watched twice: it is shown, and the status bar
        says so. ``endpoints`` (as configured) serve merging and the duplicate check.
        """
        if key in self.workers:
            self.window.select_cluster(key)
            self.window.statusBar().showMessage(
                f"{self.watches[key].title} is already watched: shown it.", 10_000
            )
            return self.workers[key]
        watch = Watch(
            title, make_config, list(endpoints), interval_s, alert_overrides, channels, session
        )
        self.watches[key] = watch
        self.window.add_cluster(key, title)
        self._wire_chart_history(key)
        if self.chart_window_s != DEFAULT_WINDOW_S:
            self.window.charts(key).set_time_window(self.chart_window_s)
        handle = self._start_worker(key)
        self.watchesChanged.emit()
        return handle

    def _start_worker(self, key: str) -> WorkerHandle:
        """A new worker for ``key`` from its ``Watch``, wired to the window and alerts."""
        watch = self.watches[key]
        self.alert_handle.requestCluster.emit(
            key,
            watch.title,
            dict(watch.alert_overrides or {}),
            list(watch.channels) if watch.channels else None,
        )
        make_config = watch.make_config

        def factory() -> tuple[Sweeper, ClusterProbe]:  # in the worker's thread
            probe = ClusterProbe(make_config())
            monitor = ClusterMonitor(probe, key)
            monitor.seed_db_sizes(recent_db_sizes(self.history.path, key))
            return monitor, probe

        interval = watch.interval_s or self.interval_s
        handle = WorkerHandle(MonitorWorker(key, factory, interval), self)
        self.config_factories[key] = make_config
        handle.snapshotReady.connect(self._on_snapshot)
        handle.sweepFailed.connect(self.window.show_failure)
        handle.stateChanged.connect(self.window.show_worker_state)
        self.workers[key] = handle
        handle.start()
        return handle

    def _on_snapshot(self, snap: ClusterSnapshot) -> None:
        """To the window and the alert worker, unless the cluster is watched already."""
        key = snap.key
        if key not in self.workers:
            return
        cluster_id = snap.cluster_id
        if cluster_id and key not in self.cluster_ids:
            first = next(
                (k for k, c in self.cluster_ids.items() if c == cluster_id and k in self.workers),
                None,
            )
            if first is not None:
                self._refuse_duplicate(key, first, cluster_id)
                return
            self.cluster_ids[key] = cluster_id
        self.window.show_snapshot(snap)
        if (dialog := self.ops_dialogs.get(key)) is not None:
            dialog.set_snapshot(snap)
        self.alert_handle.requestSnapshot.emit(snap)
        self.history.add_snapshot(snap, self.watches[key].title)

    def _refuse_duplicate(self, key: str, first: str, cluster_id: int) -> None:
        """``key`` turned out to be the cluster ``first`` watches: stop it, offer a merge."""
        watch = self.watches[key]
        known = {e for e in endpoint_urls(self.watches[first].endpoints)}
        new = [e for e in endpoint_urls(watch.endpoints) if e not in known]
        log.info("%s is cluster %x, already watched as %s", key, cluster_id, first)
        self._forget(key)
        self.window.offer_merge(first, watch.title, cluster_id, new)

    def connect_request(self, request: ConnectRequest) -> None:
        endpoints = endpoint_urls(request.endpoints)
        if not endpoints:  # the dialog checks them; a caller that did not is told here
            self.window.notification_banner.show_notification(
                "Connect", f"Not connected: bad endpoints {request.endpoints!r}", Severity.WARNING
            )
            return
        # The same key as a ConnectionConfig's: its endpoints as URLs.
        key = ",".join(endpoints)
        plain = not (request.cacert or request.cert or request.key or request.user)
        self.watch(
            key,
            key,
            lambda: config_from_request(request),
            endpoints=endpoints,
            session=SessionEntry.for_endpoints(endpoints, key) if plain else None,
        )

    def watch_config(
        self, config: ConnectionConfig, title: str | None = None, *, remember: bool = True
    ) -> WorkerHandle:
        """Watch ``config``; a next start reopens it when ``remember`` and it needs
        neither TLS nor a user (plain endpoints reopen without credentials)."""
        # A ConnectionConfig's key is the endpoint list, same as connect_request's.
        endpoints = [e.url for e in config.endpoints]
        title = title or config.key
        plain = remember and config.tls is None and config.user is None
        return self.watch(
            config.key,
            title,
            lambda: config,
            endpoints=endpoints,
            session=SessionEntry.for_endpoints(endpoints, title) if plain else None,
        )

    def connect_profile(self, profile: Profile) -> WorkerHandle:
        """Watch a saved profile; its files and secrets are read in the worker's thread.

        Connecting a watched profile again applies its settings if they changed."""
        key = profile.key
        if key in self.workers and self.watched_profiles.get(key) != profile:
            self.window.select_cluster(key)
            return self._apply_profile(profile)
        self.watched_profiles.setdefault(key, profile)
        return self.watch(key, profile.name, **self._profile_watch(profile))

    def _profile_watch(self, profile: Profile) -> dict[str, Any]:
        secrets = self.secrets
        return {
            "make_config": lambda: profile_connection_config(profile, secrets),
            "interval_s": profile.poll_interval_s,
            "alert_overrides": profile.alert_overrides,
            "channels": profile.channels,
            "endpoints": list(profile.endpoints),
            "session": SessionEntry.for_profile(profile.id, profile.name),
        }

    def _profile_saved(self, item: object) -> None:
        """A profile was saved: if it is watched, its new settings apply now."""
        if self._shut:
            return
        if isinstance(item, Profile) and item.key in self.workers:
            self._apply_profile(item)

    def _apply_profile(self, profile: Profile) -> WorkerHandle:
        """A watched profile's new settings, in force now: a new worker, same views."""
        key = profile.key
        self.watched_profiles[key] = profile
        self.watches[key] = Watch(title=profile.name, **self._profile_watch(profile))
        self.window.rename_cluster(key, profile.name)
        self.cluster_ids.pop(key, None)  # the endpoints may lead elsewhere now
        handle = self._restart(key)
        self.watchesChanged.emit()
        self.window.statusBar().showMessage(
            f"Profile {profile.name} changed: reconnected with its new settings.", 10_000
        )
        return handle

    # -- disconnect, reconnect, merge ------------------------------------------------

    def _retire(self, key: str) -> None:
        handle = self.workers.pop(key, None)
        if handle is None:
            return
        self.retiring.append(handle)
        handle.stopped.connect(lambda _key, h=handle: self._retired(h))
        handle.retire()

    def _retired(self, handle: WorkerHandle) -> None:
        if handle in self.retiring:
            self.retiring.remove(handle)
            handle.shutdown()  # the thread has ended: returns at once
            handle.deleteLater()

    def _restart(self, key: str) -> WorkerHandle:
        """A new worker (new connections) for a watched cluster; the views stay."""
        self._retire(key)
        return self._start_worker(key)

    def reconnect_cluster(self, key: str) -> None:
        """Close the cluster's connections and connect again with its settings now."""
        if key in self.workers:
            self._restart(key)
            self.window.statusBar().showMessage(
                f"Reconnecting to {self.watches[key].title}…", 10_000
            )

    def disconnect_cluster(self, key: str) -> None:
        """Stop watching a cluster: its worker stops (without waiting here), its views
        go, and the alert worker forgets its alerts."""
        if key not in self.workers:
            return
        title = self.watches[key].title
        self._forget(key)
        self.window.statusBar().showMessage(f"Disconnected from {title}.", 10_000)

    def _forget(self, key: str) -> None:
        """Everything about a watched cluster goes: worker, views, alerts, dialogs."""
        self._retire(key)
        self.watches.pop(key, None)
        self.config_factories.pop(key, None)
        self.watched_profiles.pop(key, None)
        self.cluster_ids.pop(key, None)
        self.chart_history.forget(key)
        self.window.remove_cluster(key)
        self.alert_handle.requestForget.emit(key)  # its firing alerts resolve
        dialog = self.bench_dialogs.get(key)
        if dialog is not None and not dialog.running:
            del self.bench_dialogs[key]
            dialog.close()
            dialog.deleteLater()
        ops_dialog = self.ops_dialogs.get(key)
        if ops_dialog is not None and not ops_dialog.running:
            del self.ops_dialogs[key]
            ops_dialog.close()
            ops_dialog.deleteLater()
        self.ops.forget(key)  # a run in progress finishes and is recorded
        self.watchesChanged.emit()

    def merge_endpoints(self, key: str, endpoints: Sequence[str]) -> None:
        """Add ``endpoints`` to cluster ``key``'s: a profile is saved with them (and
        applied when the save lands), another connection restarts with them."""
        watch = self.watches.get(key)
        if watch is None:
            return
        known = set(endpoint_urls(watch.endpoints))
        added = [e for e in endpoint_urls(endpoints) if e not in known]
        if not added:
            return
        profile = self.watched_profiles.get(key)
        if profile is not None:
            updated = profile.model_copy(update={"endpoints": [*profile.endpoints, *added]})
            self.profile_service.save(profile.name, updated, {})
            self.window.statusBar().showMessage(
                f"Saving profile {profile.name} with {', '.join(added)}…", 10_000
            )
            return
        merged = parse_endpoints([*watch.endpoints, *added])
        old = watch.make_config
        watch.make_config = lambda: dataclasses.replace(old(), endpoints=merged)
        watch.endpoints = [e.url for e in merged]
        if watch.session is not None:
            watch.session = SessionEntry.for_endpoints(watch.endpoints, watch.title)
            self.watchesChanged.emit()
        self._restart(key)
        self.window.statusBar().showMessage(
            f"{watch.title}: added {', '.join(added)}; reconnected.", 10_000
        )

    # -- dialogs backed by a service thread --------------------------------------------

    @staticmethod
    def _wire_service_dialog(dialog: QObject, service: QObject) -> None:
        """Requests from the dialog to the service, answers back, matched by name
        (``saveRequested`` -> ``save``; ``saved`` -> ``show_saved``...)."""
        for name in ("load", "save", "delete", "test", "move"):
            getattr(dialog, f"{name}Requested").connect(getattr(service, name))
        answers = ("present", "missing", "loaded", "moved", "saved", "deleted", "tested", "failed")
        for name in answers:
            getattr(service, name).connect(getattr(dialog, f"show_{name}"))

    def _share_secrets(self) -> None:
        """Profiles, channels and the team history keep their secrets in one
        ``SecretStore``: a move from either dialog takes them all along (the store
        switches backend for every service at once); then About and both dialogs show
        where the secrets are now."""
        profiles, channels = self.profile_service, self.channel_service
        profiles.service.share_secrets_with(channels.service.store, self.team_secrets)
        channels.service.share_secrets_with(profiles.service.store, self.team_secrets)

        def moved(_info: object, _summary: str) -> None:
            self.window.set_about_details(describe_backend(self.secrets.info))
            for handle in (profiles, channels):
                handle.load()

        profiles.moved.connect(moved)
        channels.moved.connect(moved)

    @staticmethod
    def _raise(dialog: QWidget) -> None:
        dialog.show()
        dialog.raise_()
        dialog.activateWindow()

    def show_profiles(self) -> ProfileManagerDialog:
        """Open (or raise) the profile manager; it loads the profiles when shown."""
        if self.profile_dialog is None:
            self.profile_dialog = ProfileManagerDialog(self.window)
            dialog, service = self.profile_dialog, self.profile_service
            self._wire_service_dialog(dialog, service)
            dialog.connectRequested.connect(self.connect_profile)
            # Only profiles import and export (``import`` is a keyword: no name match).
            dialog.importRequested.connect(service.import_file)
            dialog.exportRequested.connect(service.export_file)
            for answer in ("imported", "clashed", "exported"):
                getattr(service, answer).connect(getattr(dialog, f"show_{answer}"))
        self._raise(self.profile_dialog)
        return self.profile_dialog

    def show_channels(self) -> ChannelsDialog:
        """Open (or raise) the channels dialog; it loads the channels when shown."""
        if self.channels_dialog is None:
            self.channels_dialog = ChannelsDialog(channel_registry.kinds(), self.window)
            self._wire_service_dialog(self.channels_dialog, self.channel_service)
            self.delivery_log.delivery.connect(self.channels_dialog.show_delivery)
        self._raise(self.channels_dialog)
        return self.channels_dialog

    # -- benchmark --------------------------------------------------------------------

    def _shown_cluster(self, key: str | None, what: str, choose: str) -> str | None:
        """``key``, or the cluster shown; None, said in the status bar and a banner,
        when there is none to act on."""
        key = key or self.window.current_key()
        if key is not None and key in self.config_factories:
            return key
        text = (
            "No cluster is shown: connect to one (File → Connect… or a profile) "
            f"and select it, then choose {choose}."
        )
        self.window.statusBar().showMessage(f"{what}: {text}", 10_000)
        self.window.notification_banner.show_notification(what, text, Severity.WARNING)
        return None

    def show_benchmark(self, key: str | None = None) -> BenchDialog | None:
        """Open (or raise) the benchmark dialog of the cluster shown (or ``key``).

        Refuses, in the status bar and a banner, when no cluster is shown.
        """
        key = self._shown_cluster(key, "Benchmark", "Tools → Benchmark…")
        if key is None:
            return None
        dialog = self.bench_dialogs.get(key)
        if dialog is None:
            profile = self.watched_profiles.get(key)
            title = profile.name if profile is not None else key
            choices = {name: (p, check_perf_spec(p)) for name, p in PRESETS.items()}
            dialog = BenchDialog(
                key,
                title,
                choices,
                production_name=profile.name
                if profile is not None and profile.production
                else None,
                parent=self.window,
            )
            dialog.startRequested.connect(
                lambda spec, preset, typed, k=key: self._start_bench(k, spec, preset, typed)
            )
            dialog.cancelRequested.connect(self.bench.cancel)
            dialog.exportRequested.connect(self.bench.export_csv)
            self.bench.started.connect(dialog.show_started)
            self.bench.progress.connect(dialog.show_progress)
            self.bench.judged.connect(dialog.show_verdict)
            self.bench.finished.connect(dialog.show_result)
            self.bench.failed.connect(dialog.show_failed)
            self.bench.exported.connect(dialog.show_exported)
            self.bench.exportFailed.connect(dialog.show_export_failed)
            dialog.storedRunsRequested.connect(self._ask_bench_runs)
            self.bench_dialogs[key] = dialog
        self._raise(dialog)
        return dialog

    def _start_bench(
        self, key: str, spec: BenchSpec, preset: CheckPerfPreset | None, typed: str
    ) -> None:
        dialog = self.bench_dialogs[key]
        if self._shut:
            return
        if key not in self.config_factories:
            dialog.show_refused("This cluster was disconnected: connect to it again first.")
            return
        if self.bench.busy:
            other = self.bench_dialogs.get(self.bench.busy_key or "")
            name = other.cluster_title if other is not None else self.bench.busy_key
            dialog.show_refused(f"A benchmark of {name} is still running; one runs at a time.")
            return
        running = self.ops.running.get(key)
        if running is not None:
            dialog.show_refused(
                f"Maintenance ({running.kind.title.lower()}) is running on "
                f"{dialog.cluster_title}; a benchmark waits until it ends."
            )
            return
        profile = self.watched_profiles.get(key)
        request = BenchRequest(
            key=key,
            spec=spec,
            make_config=self.config_factories[key],
            profile_name=profile.name if profile is not None else "",
            tags=tuple(profile.tags) if profile is not None else (),
            typed=typed or None,
            check_preset=preset,
        )
        if self.bench.run(request):
            dialog.show_queued(key)

    # -- maintenance ------------------------------------------------------------------

    def _build_ops(self) -> None:
        """The maintenance workers (a thread per cluster, from its first plan); every
        run recorded in the history's ops log from the worker's thread, then listed."""
        self.ops = OpsHandle(audit=self.history.record_op, parent=self)
        self.ops_dialogs: dict[str, MaintenanceDialog] = {}
        self.ops.recorded.connect(self._ops_recorded)
        self.history.submit(
            lambda backend, _progress: backend.ops_log(limit=OPS_LOG_LISTED),
            tag=(_OPS_LOG, None),
        )

    def show_maintenance(
        self, key: str | None = None, kind: OpKind | None = None, member: str | None = None
    ) -> MaintenanceDialog | None:
        """Open (or raise) the maintenance dialog of the cluster shown (or ``key``),
        ``kind`` and ``member`` (hex id) preselected. Refuses when no cluster is shown."""
        key = self._shown_cluster(key, "Maintenance", "an entry of the Maintenance menu")
        if key is None:
            return None
        dialog = self.ops_dialogs.get(key)
        if dialog is None:
            profile = self.watched_profiles.get(key)
            dialog = MaintenanceDialog(
                key,
                self.watches[key].title,
                production_name=profile.name
                if profile is not None and profile.production
                else None,
                defrag_threshold_bytes=DEFAULT_DEFRAG_THRESHOLD,
                parent=self.window,
            )
            dialog.planRequested.connect(
                lambda kind, params, k=key: self._plan_ops(k, kind, params)
            )
            dialog.runRequested.connect(lambda typed, k=key: self._run_ops(k, typed))
            dialog.cancelRequested.connect(lambda k=key: self.ops.cancel(k))
            dialog.discardRequested.connect(lambda k=key: self.ops.discard(k))
            self.ops.planned.connect(dialog.show_plan)
            self.ops.started.connect(dialog.show_started)
            self.ops.progress.connect(dialog.show_progress)
            self.ops.finished.connect(dialog.show_result)
            self.ops.refused.connect(dialog.show_refused)
            self.ops.failed.connect(dialog.show_failed)
            self.ops_dialogs[key] = dialog
        dialog.set_snapshot(self.window.latest_snapshot(key))
        dialog.select(kind, member)
        self._raise(dialog)
        return dialog

    def _ops_blocked(self, key: str) -> str | None:
        """Why no maintenance may start on ``key`` now, or None."""
        if self._shut:
            return "etcdmon-gui is closing."
        if key not in self.config_factories:
            return "This cluster was disconnected: connect to it again first."
        if self.bench.busy_key == key:
            return (
                "A benchmark is running on this cluster; maintenance waits until it ends "
                "(Tools → Benchmark… shows it)."
            )
        running = self.ops.running.get(key)
        if running is not None:
            return (
                f"{running.kind.title} is already running on this cluster; one operation at a time."
            )
        return None

    def _plan_ops(self, key: str, kind: OpKind, params: dict[str, Any]) -> None:
        dialog = self.ops_dialogs[key]
        why = self._ops_blocked(key)
        if why is None:
            profile = self.watched_profiles.get(key)
            request = OpsRequest(
                key=key,
                kind=kind,
                params=dict(params),
                make_config=self.config_factories[key],
                cluster_name=self.watches[key].title,
                profile_name=profile.name if profile is not None else "",
                tags=tuple(profile.tags) if profile is not None else (),
            )
            if not self.ops.plan(request):
                why = "An operation is already running on this cluster; one at a time."
        if why is not None:
            dialog.show_refused_request(why)

    def _run_ops(self, key: str, typed: str) -> None:
        dialog = self.ops_dialogs[key]
        why = self._ops_blocked(key)
        if why is None and not self.ops.confirm(key, typed):
            why = "The plan is gone (the cluster changed or it ran already): press Plan again."
        if why is not None:
            self.ops.discard(key)
            dialog.show_refused_request(why)

    def _ops_recorded(self, key: str, rec: AuditRecord, note: str) -> None:
        self.window.maintenance_log.add_record(rec)
        text = f"Maintenance: {rec.kind.title} on {rec.cluster_name or rec.cluster}: {rec.result}"
        if note:
            text += f" ({note})"
        self.window.statusBar().showMessage(text, 15_000)

    # -- sandbox ----------------------------------------------------------------------

    def start_sandbox(self, members: int) -> SandboxWorker:
        """Start the local sandbox, once: asked again (the welcome page, after its
        cluster was closed), the one starting is waited for and the one running is
        watched again; only one that failed is replaced."""
        running = self.sandbox
        if running is not None:
            if running.qthread.isRunning():
                self.window.statusBar().showMessage("The sandbox is still starting…", 10_000)
                return running
            if running.sandbox is not None:
                self._sandbox_ready(running.sandbox.endpoints, running.sandbox.version)
                return running
            running.shutdown()  # it failed: its thread has ended, nothing runs
        self.sandbox = SandboxWorker(members)
        self.window.statusBar().showMessage(f"Starting a local {members}-member etcd sandbox…")
        self.sandbox.ready.connect(self._sandbox_ready)
        self.sandbox.failed.connect(
            lambda msg: self.window.notification_banner.show_notification(
                "Sandbox", f"The sandbox did not start: {msg}", Severity.CRITICAL
            )
        )
        self.sandbox.start()
        return self.sandbox

    def _sandbox_ready(self, endpoints: list[str], version: str) -> None:
        if self._shut:  # quit while it started: its answer is queued behind shutdown()
            return
        config = ConnectionConfig(parse_endpoints(endpoints))
        # Its ports change every run: a next start has nothing to reopen.
        self.watch_config(config, f"sandbox (etcd {version})", remember=False)

    # -- export -----------------------------------------------------------------------

    def show_export(self) -> ExportDialog:
        """Open (or raise) File → Export…; shown, it asks for the clusters. Its questions
        run as history jobs: the clusters, a row count, the export itself (written
        whole by ``reports.write_export``, cancellable, its path checked in the job)."""
        if self.export_dialog is None:
            dialog = ExportDialog(HISTORY_SIGNAL_DEFS, self.history_limits, parent=self.window)
            dialog.clustersRequested.connect(self._ask_export_clusters)
            dialog.countRequested.connect(self._ask_export_count)
            dialog.exportRequested.connect(self._start_export)
            dialog.cancelRequested.connect(self._cancel_export)
            self.history.done.connect(self._export_answered)
            self.history.failed.connect(self._export_failed)
            self.history.progress.connect(self._export_progress)
            self.export_dialog = dialog
        self._raise(self.export_dialog)
        return self.export_dialog

    def _ask_export_clusters(self) -> None:
        def job(
            backend: HistoryBackend, _progress: Progress
        ) -> tuple[list[ClusterRecord], list[MemberRecord]]:
            return backend.clusters(), backend.members()

        self.history.submit(job, tag=(_EXPORT_CLUSTERS, None))

    def _ask_export_count(self, request: ExportRequest) -> None:
        def job(backend: HistoryBackend, progress: Progress) -> int:
            now = time.time()
            report = request.report(now)
            if report.kind is ReportKind.METRICS:
                return backend.count_points(report.metrics_query())
            if report.kind is ReportKind.ALERTS:
                q = dataclasses.replace(report.alert_query(), limit=NO_LIMIT)
                return len(backend.alert_events(q))
            # The inventory and the runs are short lists: counted as the export filters.
            export, _note = _bound_export(backend, request, now, None)
            return export(io.StringIO())

        self.history.submit(job, tag=(_EXPORT_COUNT, request))

    def _start_export(self, request: ExportRequest) -> None:
        if self._export_tag is not None or self._shut:
            return

        def job(backend: HistoryBackend, progress: Progress) -> _Exported | _Refused:
            try:
                check_output_path(request.path, _EXPORT_WHAT)  # before any reading
                export, note = _bound_export(backend, request, time.time(), progress)
                rows = write_export(request.path, export, what=_EXPORT_WHAT)
            except ExportCancelled:
                raise JobCancelled() from None
            except ConfigError as exc:  # the file: a readable sentence, not a crash
                return _Refused(str(exc))
            return _Exported(request.path, rows, note)

        self._export_tag = (_EXPORT, next(self._export_tags))
        self.history.submit(job, tag=self._export_tag)

    def _cancel_export(self) -> None:
        if self._export_tag is not None:
            self.history.cancel(self._export_tag)

    def _export_answered(self, tag: object, result: Any) -> None:
        dialog = self.export_dialog
        if dialog is None or not isinstance(tag, tuple) or len(tag) != 2:
            return
        kind, what = tag
        if kind == _EXPORT_CLUSTERS:
            dialog.show_clusters(*result)
        elif kind == _EXPORT_COUNT:
            dialog.show_count(what, result)
        elif tag == self._export_tag:
            self._export_tag = None
            if isinstance(result, _Refused):
                dialog.show_export_failed(result.message)
            else:
                dialog.show_exported(result.path, result.rows, result.note)

    def _export_failed(self, tag: object, message: str) -> None:
        dialog = self.export_dialog
        if dialog is None or not isinstance(tag, tuple) or len(tag) != 2:
            return
        kind, what = tag
        if kind == _EXPORT_CLUSTERS:
            dialog.show_clusters_failed(message)
        elif kind == _EXPORT_COUNT:
            dialog.show_count_failed(what, message)
        elif tag == self._export_tag:
            self._export_tag = None
            if message == "cancelled":
                dialog.show_export_cancelled()
            else:
                dialog.show_export_failed(f"{_EXPORT_WHAT} failed: {message}")

    def _export_progress(self, tag: object, done: int, total: int | None) -> None:
        if self.export_dialog is not None and tag == self._export_tag:
            self.export_dialog.show_progress(done, total)

    # -- shutdown ---------------------------------------------------------------------

    def shutdown(self) -> None:
        """Stop every worker thread, then the sandbox. Safe to call twice."""
        if self._shut:
            return
        self._shut = True
        self.profile_service.service.abort()  # a connection test in progress ends now
        self.bench.worker.abort()  # the load stops now; its cleanup runs in its thread
        for runner in self.ops.runners.values():
            runner.worker.abort()  # stops after the step in flight; recorded in its thread
        for handle in self.workers.values():
            handle.worker.abort()  # all connections closed at once, sweeps end now
        for handle in [*self.workers.values(), *self.retiring]:
            handle.shutdown()
        self.profile_service.shutdown()
        self.desktop.shutdown()  # after the last change to the watches: saved
        self.bench.shutdown(timeout_s=20)  # after cancel: delete + compact the keys
        self.ops.shutdown(timeout_s=20)  # a step in flight ends with its closed session
        for dialog in self.bench_dialogs.values():
            dialog.running = False  # nothing more will come; closing must not cancel
        if self._export_tag is not None:
            self.history.cancel(self._export_tag)  # no file: the export stops at once
        self.history.shutdown()  # after the monitors and the benchmark: what they sent is kept
        self.channel_service.shutdown()
        self.delivery_log.detach()  # before close(): no relayed delivery after this
        self.alert_handle.shutdown()
        self.dispatcher.close()  # what still waits stays in the queue for the next start
        if self.delivery_queue is not None:
            self.delivery_queue.close()
        self.tray.hide()
        if self.sandbox is not None:
            self.sandbox.shutdown()

    # -- history ----------------------------------------------------------------------

    def _build_history(
        self, path: Path | None, limits: HistoryLimits | None, team: PgSettings | None = None
    ) -> None:
        """Snapshots and benchmark runs to the history file (its own thread), and the
        thread that answers the views' questions of it (or of the ``team`` history)."""
        self.history_limits = limits or HistoryLimits()
        self.history = HistoryHandle(
            path,
            limits,
            parent=self,
            team=team_history(team, self.team_secrets) if team is not None else None,
        )
        self.history.problem.connect(self.window.show_history_problem)
        self.history.reading.connect(self._history_reading)
        self._verdicts: dict[str, CheckPerfResult] = {}
        self.bench.judged.connect(self._verdicts.__setitem__)
        self.bench.finished.connect(self._bench_finished)
        # The views' questions: the alert History tab, the benchmark comparison.
        self.window.alerts.historyRequested.connect(self._ask_alert_history)
        self.alert_handle.alertEvents.connect(self.window.alerts.note_alert_events)
        self.history.done.connect(self._history_answered)
        self.history.failed.connect(self._history_failed)
        # Chart ranges beyond the live buffers (7 d, 30 d, custom, zoom and pan).
        self.chart_history = ChartHistoryLoader(self.history, HISTORY_SIGNALS, self)
        self.chart_history.loaded.connect(self._chart_history_loaded)
        self.chart_history.failed.connect(self._chart_history_failed)
        self.chart_history.progress.connect(self._chart_history_progress)
        self.history.start()

    def _history_reading(self, where: str, problem: str) -> None:
        """Where the history views read (Help → About), and why not the team history."""
        if (desktop := getattr(self, "desktop", None)) is not None:
            desktop.show_history_source(where, problem)
        if problem and self.history.error is None:  # "History off" says more
            self.window.show_history_problem(problem, state="Team history off")

    def _wire_chart_history(self, key: str) -> None:
        """A cluster's charts ask the history for what their buffers do not hold."""
        charts = self.window.charts(key)
        charts.historyRequested.connect(
            lambda rid, start, end, points, k=key: self.chart_history.request(
                k, rid, start, end, points
            )
        )
        charts.set_history_available(True)

    def _charts_of(self, key: str) -> ChartsWidget | None:
        """Cluster ``key``'s charts, unless they went (disconnected meanwhile)."""
        return self.window.charts(key) if key in self.window.cluster_keys() else None

    def _chart_history_loaded(self, key: str, request_id: int, result: ChartHistory) -> None:
        if (charts := self._charts_of(key)) is not None:
            charts.show_history(request_id, result.series, result.names)

    def _chart_history_failed(self, key: str, request_id: int, message: str) -> None:
        if (charts := self._charts_of(key)) is not None:
            charts.history_failed(request_id, message)

    def _chart_history_progress(
        self, key: str, request_id: int, done: int, total: int | None
    ) -> None:
        if (charts := self._charts_of(key)) is not None:
            charts.show_history_progress(request_id, done, total)

    def _bench_finished(self, key: str, result: BenchResult) -> None:
        verdict = self._verdicts.pop(key, None)
        dialog = self.bench_dialogs.get(key)
        name = dialog.cluster_title if dialog is not None else key
        self.history.add_bench_run(run_record(result, verdict, name))

    def _ask_alert_history(self, q: AlertQuery) -> None:
        def job(
            backend: HistoryBackend, _progress: object
        ) -> tuple[list[AlertEvent], list[ClusterRecord]]:
            return backend.alert_events(q), backend.clusters()

        self.history.submit(job, tag=(_ALERT_HISTORY, q))

    def _ask_bench_runs(self, key: str) -> None:
        def job(backend: HistoryBackend, _progress: object) -> list[BenchRunRecord]:
            return backend.bench_runs(key, limit=BENCH_RUNS_LISTED)

        self.history.submit(job, tag=(_BENCH_RUNS, key))

    def _history_answered(self, tag: object, result: Any) -> None:
        if not isinstance(tag, tuple) or len(tag) != 2:
            return
        kind, what = tag
        if kind == _ALERT_HISTORY:
            events, clusters = result
            self.window.alerts.show_history(what, events, clusters)
        elif kind == _BENCH_RUNS and (dialog := self.bench_dialogs.get(what)) is not None:
            dialog.show_stored_runs(result)
        elif kind == _OPS_LOG:
            self.window.maintenance_log.set_records(result)

    def _history_failed(self, tag: object, message: str) -> None:
        if not isinstance(tag, tuple) or len(tag) != 2:
            return
        kind, what = tag
        if kind == _ALERT_HISTORY:
            self.window.alerts.show_history_failed(what, message)
        elif kind == _BENCH_RUNS and (dialog := self.bench_dialogs.get(what)) is not None:
            dialog.show_stored_runs_failed(message)
        elif kind == _OPS_LOG:
            self.window.maintenance_log.show_note(f"earlier runs not shown: {message}")

    # -- alerts -----------------------------------------------------------------------

    def _build_alerting(self, data_dir: Path | None, history_path: Path | None) -> None:
        """Alert worker (rules, history) -> dispatcher (channels) and the views; the
        channel service (settings, tests) and the delivery log beside the dispatcher."""
        channel_store = ChannelStore(data_dir / "channels.yaml" if data_dir else None)
        try:
            channels = channel_store.load()
        except ChannelStoreError as exc:
            channels = []
            self.window.statusBar().showMessage(f"Notification channels not loaded: {exc}")
        # Alert deliveries wait in the history file until delivered, superseded or given
        # up (after a day), across restarts; a file that cannot be opened costs only that.
        self.delivery_queue: DeliveryQueueStore | None = None
        try:
            self.delivery_queue = DeliveryQueueStore(history_path, owner="app")
        except Exception as exc:  # sqlite3.Error, OSError
            log.error("the notification queue cannot be used: %s", exc)
            self.window.statusBar().showMessage(
                f"Notifications waiting at exit will not be sent after a restart: {exc}"
            )
        # Desktop channels show through the tray, which already pops up every alert
        # transition; what it adds is the channel's "Send test notification".
        self.dispatcher = NotificationDispatcher(
            self.secrets, channels, desktop=self.desktopEvent.emit, queue=self.delivery_queue
        )
        self.channel_service = SettingsServiceHandle(
            SettingsService(
                ChannelSettings(channel_store, self.secrets),
                ChannelTester(self.dispatcher),
                on_change=self.dispatcher.set_channels,
            ),
            "channels",
            self,
        )
        self.channel_service.start()
        self.delivery_log = DeliveryRelay(self.dispatcher, self)
        deliveries = self.window.deliveries
        self.delivery_log.delivery.connect(deliveries.add_attempt)
        self.delivery_log.history.connect(deliveries.set_history)
        self.delivery_log.queue.connect(deliveries.set_queue)
        self.delivery_log.attach()
        self.dispatcher.resume()  # what the last run left waiting, shown as it is tried
        self.delivery_log.load_history()
        self.alert_handle = AlertHandle(
            AlertWorker(
                lambda: AlertHistory(history_path),
                sinks=[self.dispatcher],
                rules_path=(data_dir / "rules.yaml") if data_dir else user_rules_path(),
            ),
            self,
        )
        self.tray = AlertTray(self)
        table = self.window.alerts
        self.alert_handle.alertsChanged.connect(table.set_alerts)
        self.alert_handle.alertsChanged.connect(self.tray.set_alerts)
        self.alert_handle.alertEvents.connect(self.tray.notify)
        self.desktopEvent.connect(self._desktop_test)
        self.alert_handle.rulesProblem.connect(
            lambda text: self.window.notification_banner.show_notification(
                "Alert rules", text, Severity.WARNING
            )
        )
        table.silenceRequested.connect(self.alert_handle.requestSilence)
        table.unsilenceRequested.connect(self.alert_handle.requestUnsilence)
        table.acknowledgeRequested.connect(self.alert_handle.requestAcknowledge)
        table.silenceCreated.connect(self.alert_handle.requestAddSilence)
        table.silenceExpireRequested.connect(self.alert_handle.requestExpireSilence)
        self.alert_handle.silencesChanged.connect(table.set_silences)
        self.tray.inWindowNotification.connect(self.window.notification_banner.show_notification)
        self.tray.showRequested.connect(self._show_window)
        self.tray.quitRequested.connect(self.qapp.quit)
        if self.qapp.platformName() != "offscreen":
            self.tray.show()
        self.alert_handle.start()

    def _desktop_test(self, event: AlertEvent) -> None:
        if event.alert.rule == TEST_RULE:  # real transitions reach the tray already
            self.tray.notify([event])

    def _show_window(self) -> None:
        self.window.showNormal()
        self.window.raise_()
        self.window.activateWindow()
        self.window.show_alerts_tab()
