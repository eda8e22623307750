"""The application's own files (its settings, the last session), saved off the GUI
thread, and the profiles read for the welcome page.

``AppSettingsWorker`` runs ``AppSettingsStore.save`` and ``SessionStore.save`` in its
own ``QThread``, one save at a time in the order asked. It also reads the profiles
file once for the welcome page: apart from the profile service, whose answers go to
the profile dialog. ``AppSettingsHandle`` owns it from the GUI thread and re-emits its
answers there. A failed save changes nothing on disk (the writes are atomic) and says
why; a session that cannot be saved is only logged (it is a comfort: the next start
offers less to reopen). The team history's password goes to the secret store after the
file (``store.app_settings.TeamHistorySecrets``); whether one is stored is asked here
too, since reading a keyring may take a while.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, QThread, Signal, Slot

from etcdmon_gui.model.app_settings import AppSettings
from etcdmon_gui.model.profile import LoadResult
from etcdmon_gui.model.secrets import SecretStoreError
from etcdmon_gui.model.session import LastSession
from etcdmon_gui.store.app_settings import AppSettingsError, AppSettingsStore, TeamHistorySecrets
from etcdmon_gui.store.profiles import ProfileStore
from etcdmon_gui.store.secrets import SecretStore
from etcdmon_gui.store.session import SessionStore
from etcdmon_gui.workers.thread_owner import ThreadOwner

log = logging.getLogger(__name__)


class AppSettingsWorker(QObject):
    """Saves settings in its thread.

    Signals:
        saved(AppSettings, str note): written; ``note`` says the old file (which did
            not load cleanly) was kept as a ``.bad-`` copy, or is "".
        failed(str message): not written, and why (the file on disk is unchanged);
            or, after ``saved``, why the team history's password was not.
        teamPassword(bool stored, str problem): whether the team history's password is
            stored (``problem``: why that cannot be told, or "").
    """

    saved = Signal(object, str)
    failed = Signal(str)
    profilesRead = Signal(object)
    teamPassword = Signal(bool, str)

    def __init__(
        self,
        store: AppSettingsStore,
        sessions: SessionStore | None = None,
        team: TeamHistorySecrets | None = None,
    ) -> None:
        super().__init__()
        self.store = store
        self.sessions = sessions or SessionStore()
        self.team = team

    @Slot(object, object)
    def save(self, settings: AppSettings, team_password: str | None = None) -> None:
        try:
            note = self.store.save(settings)
        except AppSettingsError as exc:
            log.warning("%s", exc)
            self.failed.emit(str(exc))
            return
        except Exception as exc:  # never die silently
            log.exception("saving the settings failed")
            self.failed.emit(
                f"the settings were not saved: unexpected {type(exc).__name__} (see the log)"
            )
            return
        log.info("settings saved to %s", self.store.path)
        self.saved.emit(settings, note or "")
        if self.team is None:
            return
        try:
            self.team.keep(settings, team_password)
        except SecretStoreError as exc:
            message = f"the settings were saved, but not the team history's password: {exc}"
            log.warning("%s", message)
            self.failed.emit(message)
        self.ask_team_password()

    @Slot()
    def ask_team_password(self) -> None:
        """``teamPassword``: whether the team history's password is stored now."""
        if self.team is None:
            self.teamPassword.emit(False, "")
            return
        try:
            stored = self.team.stored()
        except SecretStoreError as exc:
            self.teamPassword.emit(False, str(exc))
            return
        self.teamPassword.emit(stored, "")

    @Slot(object)
    def save_session(self, session: LastSession) -> None:
        try:
            self.sessions.save(session)
        except OSError as exc:
            log.warning("%s: the open clusters were not saved: %s", self.sessions.path, exc)

    @Slot(object, object)
    def read_profiles(self, profiles: ProfileStore, secrets: SecretStore) -> None:
        """``profilesRead(LoadResult)``: the profiles file as it is (its problems are
        the profile dialog's to show; a password an older version left in it goes to
        this session's ``secrets``, as the profile service would move it)."""
        try:
            result = profiles.load(secrets)
        except Exception as exc:  # the welcome page lists none; the dialog will say why
            log.warning("%s: profiles not read for the welcome page: %s", profiles.path, exc)
            result = LoadResult()
        self.profilesRead.emit(result)

    @Slot()
    def stop(self) -> None:
        """End the thread, after every save asked before (queued in order)."""
        thread = QThread.currentThread()
        if thread is not None:
            thread.quit()


class AppSettingsHandle(ThreadOwner):
    """The worker with its thread, owned by the GUI thread; ``start()`` it before the
    first save. ``shutdown`` is idempotent and writes every save asked before it (a
    save at exit is not lost), then ends the thread.

    Signals:
        saved(AppSettings, str note), failed(str), profilesRead(LoadResult),
            teamPassword(bool stored, str problem): the worker's, in the GUI thread.
        requestSave(AppSettings, str | None team password), requestSaveSession(
            LastSession), requestTeamPassword(), requestStop(): queued into the
            worker's thread.
    """

    saved = Signal(object, str)
    failed = Signal(str)
    profilesRead = Signal(object)
    teamPassword = Signal(bool, str)
    requestSave = Signal(object, object)
    requestTeamPassword = Signal()
    requestProfiles = Signal(object, object)
    requestSaveSession = Signal(object)
    requestStop = Signal()

    def __init__(
        self,
        store: AppSettingsStore | None = None,
        parent: QObject | None = None,
        *,
        sessions: SessionStore | None = None,
        team: TeamHistorySecrets | None = None,
    ) -> None:
        self.worker = AppSettingsWorker(store or AppSettingsStore(), sessions, team)
        super().__init__(self.worker, "app-settings", parent)
        self.relay("saved", "failed", "profilesRead", "teamPassword")
        self.requestProfiles.connect(self.worker.read_profiles)
        self.requestSave.connect(self.worker.save)
        self.requestTeamPassword.connect(self.worker.ask_team_password)
        self.requestSaveSession.connect(self.worker.save_session)
        self.requestStop.connect(self.worker.stop)

    @property
    def store(self) -> AppSettingsStore:
        return self.worker.store

    def save(self, settings: AppSettings, team_password: str | None = None) -> None:
        """Write ``settings`` in the worker's thread, then the team history's new
        password (None: keep the stored one); ``saved`` or ``failed`` answers."""
        self.requestSave.emit(settings, team_password)

    def ask_team_password(self) -> None:
        """Whether the team history's password is stored; ``teamPassword`` answers."""
        self.requestTeamPassword.emit()

    def save_session(self, session: LastSession) -> None:
        """Write the clusters open now, for the next start, in the worker's thread."""
        self.requestSaveSession.emit(session)

    def read_profiles(self, profiles: ProfileStore, secrets: SecretStore) -> None:
        """Read the profiles file in the worker's thread; ``profilesRead`` answers."""
        self.requestProfiles.emit(profiles, secrets)

    def _end_thread(self) -> None:
        if self.qthread.isRunning():
            self.requestStop.emit()  # after the saves already queued
