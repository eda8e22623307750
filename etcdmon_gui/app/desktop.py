"""The desktop's own parts around the monitoring: the application settings and their
dialog, the welcome page and the last session, the tray's close behaviour, the Help
menu's paths and log folder, and crash reports.

``Desktop`` is built by ``Application`` and only wires: every view and store it uses
is made elsewhere (``ui.settings_dialog``, ``ui.welcome_widget``, ``store.session``,
``workers.crash_handler``...). What it decides:

- settings apply when saved: the theme and the log level at once, the tray's popup
  throttling and close behaviour at once, the sweep interval and the chart window for
  clusters opened from then on, the history limits and the team history at the next
  start (the team history's password goes to the secret store, never the file);
- Help → About says where the history views read: this computer's file, or the team
  history (and why not, when it could not be read);
- the last session is the clusters open now, saved (off the GUI thread) whenever one
  is opened or closed, but only in a run started without a cluster on the command
  line (``--sandbox``, ``--profile``, ``--endpoints``, a screenshot): such a run must
  not replace what a normal start would reopen. Sandboxes and connections that need
  TLS files or a user are not saved (plain endpoints reopen without credentials; a
  profile keeps them);
- at the start, when the setting says so and nothing was named on the command line,
  the last session reopens as soon as the profiles are read; otherwise the welcome page
  lists it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QSystemTrayIcon

from etcdmon_gui.etcd.sandbox import EtcdNotFoundError, find_etcd
from etcdmon_gui.model.alerts import Severity
from etcdmon_gui.model.app_settings import AppSettings
from etcdmon_gui.model.connection import ConnectionConfig, parse_endpoints
from etcdmon_gui.model.errors import EtcdError
from etcdmon_gui.model.profile import ImportResult, LoadResult, Profile
from etcdmon_gui.model.secrets import BackendInfo
from etcdmon_gui.model.session import LastSession, SessionEntry
from etcdmon_gui.store.app_settings import AppSettingsStore
from etcdmon_gui.store.logs import log_dir, set_level
from etcdmon_gui.store.session import FILE_NAME as SESSION_FILE
from etcdmon_gui.store.session import SessionStore
from etcdmon_gui.ui.crash_dialog import CrashDialogs
from etcdmon_gui.ui.settings_dialog import SettingsDialog
from etcdmon_gui.ui.theme import apply_theme
from etcdmon_gui.workers.app_settings_worker import AppSettingsHandle
from etcdmon_gui.workers.crash_handler import CrashHandler

if TYPE_CHECKING:
    from etcdmon_gui.app.application import Application

log = logging.getLogger(__name__)

SANDBOX_MEMBERS = 3
TRAY_NOTICE_MS = 8_000
TRAY_NOTICE = (
    "etcdmon-gui keeps watching in the tray",
    "Closing the window hid it; alerts still pop up. Open it from the tray icon; "
    "Quit from the tray's menu or with Ctrl+Q. (Settings… can make closing quit.)",
)


def open_folder(path: Path) -> None:
    """Show ``path`` in the desktop's file manager (made first: a fresh install has no
    log folder until something is logged)."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        log.warning("cannot create %s: %s", path, exc)
    QDesktopServices.openUrl(QUrl.fromLocalFile(str(path)))


@dataclass(frozen=True, slots=True)
class DesktopStart:
    """How the desktop starts: the settings ``main()`` read (and the ``problem`` with
    their file, if any), where they and the last session are saved, the crash handler
    ``main()`` installed. ``remember_session``: this run saves the last session (a start
    without a cluster on the command line); ``reopen``: reopen it at once;
    ``keep_log_level`` / ``keep_interval``: ``--debug`` / ``--interval`` win over the
    settings for this run."""

    settings_store: AppSettingsStore
    sessions: SessionStore
    settings: AppSettings = field(default_factory=AppSettings)
    problem: str | None = None
    crash: CrashHandler | None = None
    remember_session: bool = True
    reopen: bool = False
    keep_log_level: bool = False
    keep_interval: bool = False

    @classmethod
    def under(cls, data_dir: Path | None) -> DesktopStart:
        """Default settings, with the files in ``data_dir`` (None: the user's folders)."""
        if data_dir is None:
            return cls(AppSettingsStore(), SessionStore())
        return cls(
            AppSettingsStore(data_dir / "settings.yaml"), SessionStore(data_dir / SESSION_FILE)
        )


class Desktop(QObject):
    """See the module docstring."""

    def __init__(
        self,
        app: Application,
        start: DesktopStart,
        *,
        open_path: Callable[[Path], None] = open_folder,
    ) -> None:
        super().__init__(app)
        self.app = app
        self.window = app.window
        self.settings = start.settings
        self.remember_session = start.remember_session
        self.keep_log_level = start.keep_log_level
        self.keep_interval = start.keep_interval
        # A file that did not load cleanly is replaced (kept aside) only by a save the
        # user asked for, never by the program's own (the tray notice's flag).
        self.file_clean = start.problem is None
        self.open_path = open_path
        sessions, settings_store = start.sessions, start.settings_store
        self.last_session = sessions.load()  # a few lines, read at start like the profiles
        self._reopen_pending = start.reopen and not self.last_session.empty
        self._profiles: list[Profile] = []
        self.store = AppSettingsHandle(
            settings_store, self, sessions=sessions, team=app.team_secrets
        )
        self.store.saved.connect(self._settings_saved)
        self.store.failed.connect(self._settings_failed)
        self.store.start()
        self.settings_dialog: SettingsDialog | None = None

        window = self.window
        window.settingsRequested.connect(self.show_settings)
        window.quitRequested.connect(app.qapp.quit)
        window.hiddenToTray.connect(self._hidden_to_tray)
        window.logFolderRequested.connect(lambda: self.open_path(log_dir()))
        self._about_paths = {
            "Settings": str(settings_store.path),
            "Profiles": str(app.profiles.path),
            "History": str(app.history.path) if app.history.path else "(none)",
            "History views read": self._history_source_text(start.settings),
            "Last session": str(sessions.path),
            "Logs and crash reports": str(log_dir()),
        }
        window.set_about_paths(self._about_paths)
        welcome = window.welcome
        welcome.sandboxRequested.connect(lambda: app.start_sandbox(SANDBOX_MEMBERS))
        welcome.importRequested.connect(self._import_profiles)
        welcome.profileRequested.connect(self._connect_profile)
        welcome.reopenRequested.connect(self.reopen)
        welcome.set_last_session(self.last_session)
        try:
            welcome.set_sandbox(True, f"etcd: {find_etcd()}")  # a lookup, not a run
        except EtcdNotFoundError as exc:
            welcome.set_sandbox(False, str(exc))
        # The profiles for the welcome page (and a reopen): read once in this thread,
        # then followed through the profile service's answers to its dialog.
        self.store.profilesRead.connect(self._profiles_read)
        self.store.read_profiles(app.profiles, app.secrets)
        service = app.profile_service
        service.loaded.connect(lambda result, _backend: self._profiles_read(result))
        service.saved.connect(self._profile_saved)
        service.deleted.connect(self._profile_deleted)
        service.imported.connect(self._profiles_imported)
        # A move from the channels dialog moves the settings dialog's secrets too.
        app.channel_service.moved.connect(self._secrets_moved)
        app.watchesChanged.connect(self._save_session)

        self.crash_dialogs = CrashDialogs(window)
        self.crash_dialogs.openLogFolderRequested.connect(self.open_path)
        if start.crash is not None:
            start.crash.crashed.connect(self.crash_dialogs.show_report)
            start.crash.repeated.connect(self.crash_dialogs.note_repeat)
        self.apply(start.settings, start=True)
        if start.problem:
            window.notification_banner.show_notification(
                "Settings", start.problem, Severity.WARNING
            )

    # -- settings ---------------------------------------------------------------------

    def apply(self, settings: AppSettings, *, start: bool = False) -> None:
        """Put ``settings`` in force (see the module docstring for what waits); at the
        start, what main() did already (theme, log level, interval) is left alone."""
        old, self.settings = self.settings, settings
        app = self.app
        if not start:
            if settings.theme != old.theme:  # a re-polish of every widget: only if asked
                apply_theme(app.qapp, settings.theme)
            if not self.keep_log_level and settings.log_level != old.log_level:
                set_level(settings.log_level)
            if not self.keep_interval and settings.interval_s != old.interval_s:
                app.interval_s = settings.interval_s
        app.chart_window_s = settings.chart_window_s
        tray = app.tray
        tray.burst_limit = settings.popup_burst_limit
        tray.burst_window_s = float(settings.popup_burst_window_s)
        tray.mute_s = settings.mute_minutes * 60.0
        to_tray = settings.close_to_tray and tray.tray_icon.isVisible()
        self.window.set_close_to_tray(to_tray)
        app.qapp.setQuitOnLastWindowClosed(not to_tray)

    def _history_source_text(self, settings: AppSettings) -> str:
        """Where the history views read, before the reader said."""
        team = settings.team_history
        if team is None:
            return "this computer's history file"
        return f"team history {team.where} (PostgreSQL, read-only): connecting…"

    def show_history_source(self, where: str, problem: str) -> None:
        """The history reader said where the views read, and why not the team history."""
        if not where:
            text = "nothing: the history cannot be read"
        elif self.app.history.team is not None and not problem:
            text = where  # the team history
        else:
            text = "this computer's history file"
        if problem:
            text += f"; {problem}"
        self._about_paths["History views read"] = text
        self.window.set_about_paths(self._about_paths)

    def show_settings(self) -> SettingsDialog:
        """File → Settings…: one dialog, raised when open."""
        if self.settings_dialog is None:
            dialog = SettingsDialog(self.settings, self.app.secrets.info, parent=self.window)
            dialog.saveRequested.connect(self.store.save)
            self.store.saved.connect(dialog.show_saved)
            self.store.failed.connect(dialog.show_failed)
            self.store.teamPassword.connect(dialog.show_team_password)
            self.store.ask_team_password()  # a keyring read: in the store's thread
            service = self.app.profile_service
            dialog.moveRequested.connect(service.move)
            service.moved.connect(dialog.show_moved)
            service.failed.connect(dialog.show_move_failed)
            dialog.finished.connect(lambda _code: self._settings_closed(dialog))
            self.settings_dialog = dialog
        self.app._raise(self.settings_dialog)
        return self.settings_dialog

    def _settings_closed(self, dialog: SettingsDialog) -> None:
        if self.settings_dialog is dialog:
            self.settings_dialog = None
            service = self.app.profile_service
            for signal, slot in (
                (self.store.saved, dialog.show_saved),
                (self.store.failed, dialog.show_failed),
                (self.store.teamPassword, dialog.show_team_password),
                (service.moved, dialog.show_moved),
                (service.failed, dialog.show_move_failed),
            ):
                signal.disconnect(slot)
            dialog.deleteLater()

    def _settings_saved(self, settings: AppSettings, note: str) -> None:
        if self.app._shut:
            return
        self.file_clean = True
        self.apply(settings)
        if note:
            self.window.statusBar().showMessage(note, 20_000)

    def _settings_failed(self, message: str) -> None:
        if self.settings_dialog is None:  # the dialog shows its own
            self.window.notification_banner.show_notification("Settings", message, Severity.WARNING)

    def _hidden_to_tray(self) -> None:
        """The first time closing hides the window: say where it went, once ever."""
        if self.settings.tray_notice_shown:
            return
        self.app.tray.tray_icon.showMessage(
            *TRAY_NOTICE, QSystemTrayIcon.MessageIcon.Information, TRAY_NOTICE_MS
        )
        noticed = self.settings.model_copy(update={"tray_notice_shown": True})
        if self.file_clean:
            self.store.save(noticed)
        else:  # said again next time rather than the user's file set aside unasked
            self.settings = noticed

    # -- profiles, the welcome page and the last session -------------------------------

    def _profiles_read(self, result: LoadResult) -> None:
        self._show_profiles(result.profiles)
        if self._reopen_pending:
            self._reopen_pending = False
            self.reopen(self.last_session)

    def _show_profiles(self, profiles: Sequence[Profile]) -> None:
        self._profiles = list(profiles)
        self.window.welcome.set_profiles([p.name for p in self._profiles])

    def _profile_saved(self, item: object) -> None:
        if isinstance(item, Profile):
            others = [p for p in self._profiles if p.id != item.id]
            self._show_profiles([*others, item])

    def _profile_deleted(self, name: str) -> None:
        self._show_profiles([p for p in self._profiles if p.name != name])

    def _profiles_imported(self, result: ImportResult) -> None:
        """Watched profiles an import replaced are watched with their new settings (the
        service's reload, which came first, holds them); one that came with another
        id is a new watch under its new key."""
        app = self.app
        for key, old in list(app.watched_profiles.items()):
            new = next((p for p in self._profiles if p.name == old.name), None)
            if old.name not in result.replaced or new is None or new == old:
                continue
            if new.id != old.id:
                app.disconnect_cluster(key)
            app.connect_profile(new)

    def _secrets_moved(self, info: BackendInfo, _summary: str) -> None:
        if self.settings_dialog is not None:
            self.settings_dialog.show_backend(info)

    def _connect_profile(self, name: str) -> None:
        profile = next((p for p in self._profiles if p.name == name), None)
        if profile is not None:
            self.app.connect_profile(profile)

    def _import_profiles(self) -> None:
        self.app.show_profiles().start_import()

    def reopen(self, session: LastSession) -> None:
        """Watch every cluster of ``session`` again; a profile deleted since is said."""
        by_id = {p.id: p for p in self._profiles}
        gone: list[str] = []
        for entry in session.entries:
            if entry.profile_id is not None:
                profile = by_id.get(entry.profile_id)
                if profile is None:
                    gone.append(entry.title)
                else:
                    self.app.connect_profile(profile)
                continue
            try:
                config = ConnectionConfig(parse_endpoints(list(entry.endpoints)))
            except EtcdError as exc:  # written by hand since: said, the rest opens
                gone.append(f"{entry.title} ({exc})")
                continue
            self.app.watch_config(config, entry.title)
        if gone:
            self.window.notification_banner.show_notification(
                "Last session",
                "Not reopened (no longer saved as profiles): " + ", ".join(gone),
                Severity.WARNING,
            )

    def session_now(self) -> LastSession:
        """The clusters open now that a next start can reopen, in the window's order."""
        entries: list[SessionEntry] = []
        for key in self.window.cluster_keys():
            watch = self.app.watches.get(key)
            if watch is not None and watch.session is not None:
                entries.append(watch.session)
        return LastSession(tuple(entries), time.time())

    def _save_session(self) -> None:
        if self.remember_session and not self.app._shut:
            self.store.save_session(self.session_now())

    def shutdown(self) -> None:
        """Write what is queued (a last settings or session save), end the thread."""
        self.store.shutdown()
