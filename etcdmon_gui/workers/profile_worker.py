"""Profiles and their secrets, read and written off the GUI thread.

``ProfileService`` owns every disk and keyring access the profile manager needs and
runs them one at a time in its own ``QThread``: loading the profiles file, saving a
profile with its secrets, deleting one, and testing a connection with one health sweep.
The dialog only sends requests and renders the answers, through ``ProfileServiceHandle``.

Nothing here logs a secret or puts one in a signal other than the request that carries
it in: results carry profiles (which hold no secret), snapshots and readable messages.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from PySide6.QtCore import QObject, Signal, Slot

from etcdmon_gui.etcd.endpoints import read_file
from etcdmon_gui.etcd.errors import EtcdError
from etcdmon_gui.etcd.probe import ClusterProbe
from etcdmon_gui.monitor.cluster_monitor import ClusterMonitor
from etcdmon_gui.store.profiles import (
    Profile,
    ProfileStore,
    ProfileStoreError,
    connection_config,
    secret_fields,
)
from etcdmon_gui.store.secrets import SecretStore, SecretStoreError
from etcdmon_gui.workers.thread_owner import ThreadOwner

log = logging.getLogger(__name__)

#: The TLS materials a profile may import into the keyring: key in ``tls_files``,
#: the secret field it is stored under, and how to name it in a message.
TLS_MATERIALS = (("ca", "tls_ca", "CA certificate"),
                 ("cert", "tls_cert", "client certificate"),
                 ("key", "tls_key", "client key"))

#: Every secret field a profile can own (what ``delete`` removes).
PROFILE_SECRET_FIELDS = ("password", *(field for _, field, _ in TLS_MATERIALS))


class ProfileService(QObject):
    """Every profile and secret I/O, one request at a time, in its own thread.

    Requests (slots, queued from the GUI thread through the handle):
        load(), save(old_name, profile, secrets, tls_files, secrets_from),
        delete(name), test(profile, secrets, tls_files, secrets_from).
    ``secrets`` maps secret fields ("password", "tls_ca", ...) to new values; a field
    not given keeps what is stored. ``tls_files`` maps "ca"/"cert"/"key" to a PEM file
    to read here and import into the keyring. ``secrets_from`` is the id of the profile
    whose stored secrets a new one starts from (a clone); by default its own id.

    Signals:
        present(dict[str, list[str]]): profile id -> secret fields actually stored;
            emitted just before every ``loaded``.
        loaded(LoadResult, BackendInfo): the profiles file as it is now.
        saved(Profile): a profile was written (after the ``loaded`` that lists it).
        deleted(str name): a profile and its secrets are gone (after ``loaded``).
        tested(ClusterSnapshot | None, str error): one sweep's result, or why none ran.
        failed(str message): a request could not be carried out. A refused save or
            delete changes nothing; when only the secrets failed, ``failed`` follows
            ``saved``/``deleted`` and says so.
    """

    present = Signal(object)
    loaded = Signal(object, object)
    saved = Signal(object)
    deleted = Signal(str)
    tested = Signal(object, str)
    failed = Signal(str)

    def __init__(self, profiles: ProfileStore, secrets: SecretStore) -> None:
        super().__init__()
        self.profiles = profiles
        self.secrets = secrets
        self._probe: ClusterProbe | None = None  # the test in progress, for abort()
        self._aborted = False
        self.testing = False  # a connection test is in progress (read from any thread)

    # -- requests, run in the service's thread ----------------------------------------

    @Slot()
    def load(self) -> None:
        self._reload()

    @Slot(object, object, object, object, object)
    def save(self, old_name: str | None, profile: Profile, secrets: Mapping[str, str],
             tls_files: Mapping[str, str] | None = None,
             secrets_from: str | None = None) -> Profile | None:
        """Add (``old_name`` None) or replace a profile, then store its secrets.

        Files to import are read and missing secrets detected before anything is
        written, so a refused save changes nothing.
        """
        try:
            new_secrets = self._gather(profile, secrets, tls_files or {}, secrets_from)
            if old_name is None:
                self.profiles.add(profile)
            else:
                self.profiles.replace(old_name, profile)
        except Exception as exc:
            self._fail(f"profile {profile.name!r} was not saved", exc)
            return None
        problem = None
        try:
            for field, value in new_secrets.items():
                self.secrets.set(profile.id, field, value)
            wanted = set(secret_fields(profile))
            for field in PROFILE_SECRET_FIELDS:
                if field not in wanted:  # e.g. the user name was removed
                    self.secrets.delete(profile.id, field)
        except Exception as exc:
            problem = exc
        self._reload()
        self.saved.emit(profile)
        if problem is not None:  # after saved, so the view shows it last
            self._fail(f"profile {profile.name!r} was saved, but not all of its secrets",
                       problem)
        return profile

    @Slot(str)
    def delete(self, name: str) -> None:
        try:
            gone = self.profiles.remove(name)
        except Exception as exc:
            self._fail(f"profile {name!r} was not deleted", exc)
            return
        problem = None
        try:
            self.secrets.delete_owner(gone.id, PROFILE_SECRET_FIELDS)
        except Exception as exc:
            problem = exc
        self._reload()
        self.deleted.emit(name)
        if problem is not None:
            self._fail(f"profile {name!r} was deleted, but its secrets were not", problem)

    @Slot(object, object, object, object)
    def test(self, profile: Profile, secrets: Mapping[str, str],
             tls_files: Mapping[str, str] | None = None,
             secrets_from: str | None = None) -> None:
        """One health sweep with the given (possibly unsaved) settings.

        The secrets go into a throw-away in-memory store: the stored ones of the
        profile (or of ``secrets_from``), overridden by the new values.
        """
        probe = None
        self.testing = True
        try:
            scratch = SecretStore.memory()
            for field, value in self._gather(profile, secrets, tls_files or {},
                                             secrets_from, all_fields=True).items():
                scratch.set(profile.id, field, value)
            probe = ClusterProbe(connection_config(profile, scratch))
            self._probe = probe
            if self._aborted:
                raise EtcdError("the test was cancelled: etcdmon-gui is closing")
            snapshot = ClusterMonitor(probe, f"profile:{profile.id}").sweep()
        except Exception as exc:
            log.info("test of profile %r failed: %s", profile.name, _reason(exc))
            self.tested.emit(None, _reason(exc))
            return
        finally:
            self._probe = None
            if probe is not None:
                probe.close()
            self.testing = False
        self.tested.emit(snapshot, "")

    # -- safe from any thread -----------------------------------------------------------

    def abort(self) -> None:
        """End a test in progress at once (its channels close); used at shutdown."""
        self._aborted = True
        probe = self._probe
        if probe is not None:
            probe.close()

    # -- helpers -------------------------------------------------------------------------

    def _reload(self) -> None:
        try:
            self._emit_loaded()
        except Exception as exc:
            self._fail("could not reload the profiles", exc)

    def _emit_loaded(self) -> None:
        result = self.profiles.load()
        present: dict[str, list[str]] = {}
        problem = None
        for p in result.profiles:
            try:
                present[p.id] = self.secrets.present(p.id, PROFILE_SECRET_FIELDS)
            except SecretStoreError as exc:  # e.g. a locked keyring: still list them
                problem = problem or exc
        self.present.emit(present)
        self.loaded.emit(result, self.secrets.info)
        if problem is not None:
            self._fail("could not tell which secrets are stored", problem)

    def _gather(self, profile: Profile, secrets: Mapping[str, str],
                tls_files: Mapping[str, str], secrets_from: str | None,
                all_fields: bool = False) -> dict[str, str]:
        """The secrets ``profile`` will own: given values, imported files, and (for a
        clone, or with ``all_fields``) stored ones; raises when a needed one is missing.
        """
        owner = secrets_from or profile.id
        new: dict[str, str] = {}
        for what, field, title in TLS_MATERIALS:
            path = tls_files.get(what)
            if path:
                try:
                    new[field] = read_file(path, title).decode("utf-8")
                except UnicodeDecodeError:
                    raise ProfileStoreError(f"the {title} file {path!r} is not PEM text "
                                            "(it is not even UTF-8)") from None
        for field, value in secrets.items():
            if value:
                new[field] = value
        for field in secret_fields(profile):
            if field in new:
                continue
            if all_fields or owner != profile.id:
                stored = self.secrets.get(owner, field)
                if stored is not None:
                    new[field] = stored
                    continue
            elif self.secrets.get(owner, field) is not None:
                continue  # kept as it is
            raise ProfileStoreError(_missing(profile, field, self.secrets))
        return new

    def _fail(self, what: str, exc: Exception) -> None:
        message = f"{what}: {_reason(exc)}"
        log.warning("%s", message, exc_info=not isinstance(exc, _READABLE))
        self.failed.emit(message)


_READABLE = (ProfileStoreError, SecretStoreError, EtcdError)


def _reason(exc: Exception) -> str:
    """A readable sentence for the user; our own errors already are one."""
    if isinstance(exc, _READABLE):
        return str(exc)
    if isinstance(exc, OSError):
        return f"{exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else "")
    return f"unexpected {type(exc).__name__}: {exc}"


def _missing(profile: Profile, field: str, secrets: SecretStore) -> str:
    if field == "password":
        return (f"enter the password of user {profile.username!r}: none is stored in "
                f"{secrets.info.name} yet")
    title = next(t for _, f, t in TLS_MATERIALS if f == field)
    return (f"the {title} is to be kept in the keyring but none is stored in "
            f"{secrets.info.name}: choose its file to import it")


class ProfileServiceHandle(ThreadOwner):
    """The service with its thread, owned by the GUI thread; ``shutdown`` is idempotent.

    Signals:
        present, loaded, saved, deleted, tested, failed: the service's signals,
            re-emitted in the GUI thread.
        requestLoad(), requestSave(old_name, Profile, secrets, tls_files, secrets_from),
        requestDelete(str), requestTest(Profile, secrets, tls_files, secrets_from):
            queued into the service's thread (``load()``, ``save()``... emit them).
    """

    present = Signal(object)
    loaded = Signal(object, object)
    saved = Signal(object)
    deleted = Signal(str)
    tested = Signal(object, str)
    failed = Signal(str)
    requestLoad = Signal()
    requestSave = Signal(object, object, object, object, object)
    requestDelete = Signal(str)
    requestTest = Signal(object, object, object, object)

    def __init__(self, service: ProfileService, parent: QObject | None = None) -> None:
        super().__init__(service, "profiles", parent)
        self.service = service
        self.relay("present", "loaded", "saved", "deleted", "tested", "failed")
        self.requestLoad.connect(service.load)
        self.requestSave.connect(service.save)
        self.requestDelete.connect(service.delete)
        self.requestTest.connect(service.test)

    def _interrupt(self) -> None:
        self.service.abort()  # a connection test in progress ends now

    # -- requests (GUI thread) ----------------------------------------------------------

    def load(self) -> None:
        self.requestLoad.emit()

    def save(self, old_name: str | None, profile: Profile, secrets: Mapping[str, str],
             tls_files: Mapping[str, str] | None = None,
             secrets_from: str | None = None) -> None:
        self.requestSave.emit(old_name, profile, dict(secrets), dict(tls_files or {}),
                              secrets_from)

    def delete(self, name: str) -> None:
        self.requestDelete.emit(name)

    def test(self, profile: Profile, secrets: Mapping[str, str],
             tls_files: Mapping[str, str] | None = None,
             secrets_from: str | None = None) -> None:
        self.requestTest.emit(profile, dict(secrets), dict(tls_files or {}), secrets_from)
