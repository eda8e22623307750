"""Profiles and notification channels, read, written and tested off the GUI thread.

``SettingsService`` moves the requests of a settings dialog into its own ``QThread``
and runs them one at a time through a ``store.settings.SettingsStore``, which owns the
rules (load; save and delete with their secrets); a ``Tester`` tries settings that need
not be saved (one health sweep for a profile, a test notification for a channel). The
dialog only sends requests and renders the answers, through ``SettingsServiceHandle``.
Every listing says which secrets each item lacks; ``move`` takes every secret of every
profile and channel to another backend (the OS keyring, the encrypted file).
``import_file`` and ``export_file`` read and write a shared file of items (settings
that have one: profiles) here too, never on the GUI thread.

Nothing here logs a secret or puts one in a signal other than the request that carries
it in: results carry items (which hold no secret), test results and readable messages.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from PySide6.QtCore import QObject, Signal, Slot

from etcdmon_gui.bugs import report_bug
from etcdmon_gui.model.errors import EtcdError
from etcdmon_gui.model.secrets import MoveTarget, SecretEdits, SecretStoreError
from etcdmon_gui.store.secrets import Owners, SecretStore
from etcdmon_gui.store.settings import (
    ImportClash,
    ImportRefused,
    SecretsFailed,
    SettingsError,
    SettingsStore,
)
from etcdmon_gui.workers.thread_owner import ThreadOwner

log = logging.getLogger(__name__)

#: ``done(result, error)``: a test's result, or None and why there is none.
TestDone = Callable[[object, str], None]


class Tester(Protocol):
    """Tries an item's settings with the secrets given. ``test`` runs in the service's
    thread; it calls ``done`` exactly once, then or later, from any thread, and may
    raise instead when nothing could be tried. ``abort`` (any thread) ends a test in
    progress at once."""

    def test(self, item: Any, secrets: SecretStore, done: TestDone) -> None: ...

    def abort(self) -> None: ...


class SettingsService(QObject):
    """Every settings and secret I/O of one dialog, one request at a time, in its thread.

    Requests (slots, queued from the GUI thread through the handle):
        load(), save(old_key, item, SecretEdits), delete(key), test(item, SecretEdits),
        move(MoveTarget), import_file(path, replace), export_file(path, keys).
    ``old_key`` names the item an edit replaces (None to add one), as the store names
    items (a profile's name, a channel's id).

    Signals:
        present(dict[str, list[str]]): item id -> secret fields actually stored;
            emitted just before every ``loaded``.
        missing(dict[str, list[str]]): item id -> secret fields its settings need but
            the store lacks (only such items); emitted after ``present``.
        loaded(listing, BackendInfo): the file as it is now (the store's listing); the
            info names a working OS keyring when the secrets are elsewhere.
        moved(BackendInfo, str summary): every secret was moved (then ``loaded``).
        saved(item): an item was written (after the ``loaded`` that lists it).
        deleted(str key): an item and its secrets are gone (after ``loaded``).
        tested(object result, str error): a test's result (a snapshot, a delivery
            record), or None and why no test ran.
        imported(result): a file's items were added (for profiles a
            ``model.profile.ImportResult``: names added and replaced, the secrets to
            enter, notices); after the ``loaded`` that lists them.
        clashed(str path, list[str] names): nothing was imported, as items of these
            names exist: ask, then import again with ``replace``.
        exported(str path, int count): ``count`` items were written to ``path``.
        failed(str message): a request could not be carried out. A refused save,
            delete or import changes nothing; when only the secrets failed, ``failed``
            follows ``saved``/``deleted`` and says so. A failed move leaves every
            secret where it was; a failed export leaves an older file as it was.
    """

    present = Signal(object)
    missing = Signal(object)
    loaded = Signal(object, object)
    moved = Signal(object, str)
    saved = Signal(object)
    deleted = Signal(str)
    tested = Signal(object, str)
    imported = Signal(object)
    clashed = Signal(str, object)
    exported = Signal(str, int)
    failed = Signal(str)

    def __init__(
        self,
        store: SettingsStore[Any, Any],
        tester: Tester,
        on_change: Callable[[Sequence[Any]], None] | None = None,
    ) -> None:
        """``on_change(items)`` is called (in this thread) after a save or a delete,
        with the items now in the file: new settings take effect there."""
        super().__init__()
        self.store = store
        self.tester = tester
        self.on_change = on_change
        self._aborted = False
        self.testing = False  # a test is in progress (read from any thread)
        # Other settings whose items own secrets in the same store: a move takes theirs.
        self.peers: list[SettingsStore[Any, Any]] = []
        self.open_target: Callable[[MoveTarget], SecretStore] = SecretStore.target

    def share_secrets_with(self, *peers: SettingsStore[Any, Any]) -> None:
        """``peers`` keep their items' secrets in this store's ``SecretStore`` too; a
        move (from either side) takes them along. Call it before the thread starts
        moving, from the composition root."""
        for peer in peers:
            if peer.secrets is not self.store.secrets:
                raise ValueError(f"the {peer.plural} keep their secrets in another store")
        self.peers = list(peers)

    # -- requests, run in the service's thread ----------------------------------------

    @Slot()
    def load(self) -> None:
        self._reload()

    @Slot(object, object, object)
    def save(self, old_key: str | None, item: Any, edits: SecretEdits) -> None:
        noun = self.store.noun
        problem = None
        try:
            self.store.save(old_key, item, edits)
        except SecretsFailed as exc:
            problem = exc.__cause__ or exc
        except Exception as exc:
            self._fail(f"{noun} {item.name!r} was not saved", exc)
            return
        self._changed()
        self.saved.emit(item)
        if problem is not None:  # after saved, so the view shows it last
            self._fail(f"{noun} {item.name!r} was saved, but not all of its secrets", problem)

    @Slot(str)
    def delete(self, key: str) -> None:
        noun = self.store.noun
        problem = None
        try:
            gone = self.store.delete(key)
        except SecretsFailed as exc:
            gone, problem = exc.item, exc.__cause__ or exc
        except Exception as exc:
            self._fail(f"{noun} {self.store.label(key)!r} was not deleted", exc)
            return
        self._changed()
        self.deleted.emit(key)
        if problem is not None:
            self._fail(
                f"{noun} {getattr(gone, 'name', key)!r} was deleted, but its secrets were not",
                problem,
            )

    @Slot(object, object)
    def test(self, item: Any, edits: SecretEdits) -> None:
        """Try the given (possibly unsaved) settings; the secrets go into a throw-away
        in-memory store: the stored ones, overridden by the new values."""
        self.testing = True
        try:
            if self._aborted:
                raise SettingsError("the test was cancelled: etcdmon-gui is closing")
            self.tester.test(item, self.store.scratch(item, edits), self._tested)
        except Exception as exc:
            log.info("test of %s %r not run: %s", self.store.noun, item.name, _reason(exc))
            self._tested(None, _reason(exc))

    @Slot(object)
    def move(self, target: MoveTarget) -> None:
        """Every secret of every item (this store's and the peers') to ``target``: the
        new backend is opened here (a master password's key derivation takes a while),
        the secrets copied and read back, the shared store switched, the old copies
        deleted. Any failure before the switch leaves all of them where they were."""
        secrets = self.store.secrets
        old = secrets.info.name
        try:
            new = self.open_target(target)
            count, leftovers = secrets.move_to(new, self._owners, lambda: self._aborted)
        except Exception as exc:
            self._fail(f"the secrets were not moved (they are all still in {old})", exc)
            return
        moved = f"{count} secret{'s' if count != 1 else ''}"
        summary = f"Moved {moved} from {old} to {secrets.info.name}."
        if leftovers:
            summary += f" Not all could be removed from {old}: {leftovers[0]}"
        log.info("%s", summary)
        self.moved.emit(secrets.info, summary)
        self._reload()

    @Slot(str, bool)
    def import_file(self, path: str, replace: bool) -> None:
        """Add the items of the file at ``path`` (``replace``: those of the same name
        too); all or nothing."""
        try:
            result = self.store.import_file(path, replace)
        except ImportClash as exc:
            self.clashed.emit(path, list(exc.names))
            return
        except ImportRefused as exc:
            message = "\n".join([str(exc), *exc.notices])
            log.warning("%s", message)
            self.failed.emit(message)
            return
        except Exception as exc:
            self._fail(f"nothing imported from {path}", exc)
            return
        self._changed()
        self.imported.emit(result)

    @Slot(str, object)
    def export_file(self, path: str, keys: Sequence[str]) -> None:
        """Write the items ``keys`` (all when empty) to ``path``, whole."""
        try:
            count = self.store.export_file(path, list(keys))
        except Exception as exc:
            self._fail(f"the {self.store.plural} were not exported", exc)
            return
        log.info("exported %d %s to %s", count, self.store.plural, path)
        self.exported.emit(path, count)

    def _owners(self) -> Owners:
        """Every item of every settings file sharing the store (read under its lock)."""
        out: list[tuple[str, tuple[str, ...]]] = []
        for store in (self.store, *self.peers):
            try:
                out += store.owners()
            except Exception as exc:
                raise SettingsError(f"could not list the {store.plural}: {_reason(exc)}") from None
        return out

    def _tested(self, result: object, error: str) -> None:
        """A test's end, in this thread or in the tester's."""
        self.testing = False
        if not self._aborted:  # nobody listens after shutdown
            self.tested.emit(result, error)

    # -- safe from any thread -----------------------------------------------------------

    def abort(self) -> None:
        """End a test in progress at once, and a move before its next secret (undone);
        no result is reported after this (shutdown)."""
        self._aborted = True
        self.tester.abort()

    # -- helpers -------------------------------------------------------------------------

    def _changed(self) -> None:
        """After a save or a delete: the views, then whoever applies the settings."""
        listing = self._reload()
        if listing is not None and self.on_change is not None:
            try:
                self.on_change(self.store.items(listing))
            except Exception as exc:
                self._fail(f"the {self.store.plural} were saved but are not in use yet", exc)

    def _reload(self) -> object | None:
        """Emit ``present`` and ``loaded``; returns the listing (None if it failed)."""
        try:
            listing: object = self.store.load()
        except Exception as exc:
            self._fail(f"could not load the {self.store.plural}", exc)
            return None
        items = self.store.items(listing)
        present, problem = self.store.present(items)
        self.present.emit(present)
        self.missing.emit(self.store.missing(items, present))
        self.loaded.emit(listing, self.store.secrets.describe())
        if problem is not None:
            self._fail("could not tell which secrets are stored", problem)
        return listing

    def _fail(self, what: str, exc: BaseException) -> None:
        message = f"{what}: {_reason(exc)}"
        log.warning("%s", message)
        if not isinstance(exc, _READABLE):  # a bug
            report_bug(exc, f"the {self.store.noun} settings ({what})")
        self.failed.emit(message)


_READABLE = (SettingsError, SecretStoreError, EtcdError, ValueError)


def _reason(exc: BaseException) -> str:
    """A readable sentence for the user; our own errors already are one. Other
    exceptions are named by type only: their text might quote a secret."""
    if isinstance(exc, _READABLE):
        return str(exc)
    if isinstance(exc, OSError):
        return f"{exc.strerror or type(exc).__name__}" + (
            f": {exc.filename}" if exc.filename else ""
        )
    return f"unexpected {type(exc).__name__} (see the log)"


#: The service's answers, which the handle re-emits in the GUI thread.
ANSWERS = (
    "present", "missing", "loaded", "moved", "saved", "deleted", "tested", "imported",
    "clashed", "exported", "failed",
)  # fmt: skip


class SettingsServiceHandle(ThreadOwner):
    """The service with its thread, owned by the GUI thread; ``shutdown`` is idempotent.

    Signals:
        present, missing, loaded, moved, saved, deleted, tested, imported, clashed,
            exported, failed: the service's signals, re-emitted in the GUI thread.
        requestLoad(), requestSave(old_key, item, SecretEdits), requestDelete(str),
        requestTest(item, SecretEdits), requestMove(MoveTarget),
        requestImport(str path, bool replace), requestExport(str path, list keys):
            queued into the service's thread (``load()``, ``save()``... emit them).
    """

    present = Signal(object)
    missing = Signal(object)
    loaded = Signal(object, object)
    moved = Signal(object, str)
    saved = Signal(object)
    deleted = Signal(str)
    tested = Signal(object, str)
    imported = Signal(object)
    clashed = Signal(str, object)
    exported = Signal(str, int)
    failed = Signal(str)
    requestLoad = Signal()
    requestSave = Signal(object, object, object)
    requestDelete = Signal(str)
    requestTest = Signal(object, object)
    requestMove = Signal(object)
    requestImport = Signal(str, bool)
    requestExport = Signal(str, object)

    def __init__(self, service: SettingsService, name: str, parent: QObject | None = None) -> None:
        super().__init__(service, name, parent)
        self.service = service
        self.relay(*ANSWERS)
        self.requestLoad.connect(service.load)
        self.requestSave.connect(service.save)
        self.requestDelete.connect(service.delete)
        self.requestTest.connect(service.test)
        self.requestMove.connect(service.move)
        self.requestImport.connect(service.import_file)
        self.requestExport.connect(service.export_file)

    def _interrupt(self) -> None:
        self.service.abort()  # a test in progress ends now

    # -- requests (GUI thread): what the dialogs' request signals carry ------------------

    def load(self) -> None:
        self.requestLoad.emit()

    def save(
        self,
        old_key: str | None,
        item: object,
        secrets: Mapping[str, str],
        files: Mapping[str, str] | None = None,
        copy_from: str | None = None,
    ) -> None:
        self.requestSave.emit(old_key, item, _edits(secrets, files, copy_from))

    def delete(self, key: str) -> None:
        self.requestDelete.emit(key)

    def test(
        self,
        item: object,
        secrets: Mapping[str, str],
        files: Mapping[str, str] | None = None,
        copy_from: str | None = None,
    ) -> None:
        self.requestTest.emit(item, _edits(secrets, files, copy_from))

    def move(self, target: MoveTarget) -> None:
        self.requestMove.emit(target)

    def import_file(self, path: str, replace: bool) -> None:
        self.requestImport.emit(path, replace)

    def export_file(self, path: str, keys: Sequence[str]) -> None:
        self.requestExport.emit(path, list(keys))


def _edits(
    secrets: Mapping[str, str], files: Mapping[str, str] | None, copy_from: str | None
) -> SecretEdits:
    return SecretEdits(dict(secrets), dict(files or {}), copy_from)
