"""Every secret the application keeps, and the only module that talks to ``keyring``.

Secrets (passwords, client keys, imported certificates, SMTP passwords, webhook URLs,
PagerDuty routing keys) live under one service name, keyed ``<owner id>/<field>``.
``SecretStore`` knows which backend it uses and whether that backend is a real OS
keyring. When none is usable it says so (``BackendInfo.problem``) and never falls back
to plaintext on its own: the caller may choose the encrypted-file backend (a master
password, asked once per session) or session-only memory.

Every service of the application shares one ``SecretStore``; "Move secrets…" copies
every secret to another backend, then swaps the backend behind that shared store (so
the profiles, the channels, the dispatcher and the watched clusters all use the new one
at once), and only then deletes the old copies (``move_to``).

Nothing here logs a secret or puts one in an exception message, and every value read
or written is registered with ``etcdmon_gui.scrub`` (``remember_secret``), so that the
log and crash reports replace it wherever it turns up.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import keyring
import keyring.backend
import keyring.errors

from etcdmon_gui.model.secrets import BackendInfo, MoveTarget
from etcdmon_gui.model.secrets import SecretStoreError as SecretStoreError  # re-exported
from etcdmon_gui.notify import registry as channel_registry
from etcdmon_gui.scrub import remember_secret
from etcdmon_gui.store.files import data_dir

log = logging.getLogger(__name__)

SERVICE = "etcdmon-gui"

#: The secret fields a profile may own (``store.profiles`` says which one needs).
PROFILE_FIELDS = ("password", "tls_key", "tls_cert", "tls_ca")

#: What ``copy_to`` copies: owner id -> the fields it may own.
Owners = Iterable[tuple[str, Iterable[str]]]
MEMORY_NAME = "memory (this session only)"


def known_fields() -> tuple[str, ...]:
    """Every field a secret may be kept under: a profile's, or one that a notification
    channel type declares (the channel registry knows them)."""
    return (*PROFILE_FIELDS, *channel_registry.secret_names())


# The OS keyrings. Anything else keyring may discover (files, plaintext, keyrings.cryptfile
# prompting on a terminal) is only used when the user chooses it explicitly.
_OS_KEYRINGS = (
    "keyring.backends.SecretService",
    "keyring.backends.libsecret",
    "keyring.backends.kwallet",
    "keyring.backends.macOS",
    "keyring.backends.Windows",
)


def secrets_file_path() -> Path:
    """The encrypted secrets file (keyrings.cryptfile), used when the user chooses it."""
    return data_dir() / "secrets.cfg"


class MemoryKeyring(keyring.backend.KeyringBackend):
    """Session-only secrets, gone when the application exits."""

    priority = 0  # never picked by keyring's own discovery

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._data: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self._data.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self._data[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self._data.pop((service, username), None) is None:
            raise keyring.errors.PasswordDeleteError("no such secret")


def system_backend() -> tuple[keyring.backend.KeyringBackend | None, str | None]:
    """The best available OS keyring, or ``None`` and the reason there is none."""
    keyring.backend.get_all_keyring()  # loads keyring's backend plugins (cached)
    # Ask each OS backend now whether it works: keyring caches its own answer for the
    # process, and a keyring unlocked (or a D-Bus session started) later would be missed.
    viable = []
    for cls in keyring.backend.KeyringBackend.get_viable_backends():
        if cls.__module__.startswith(_OS_KEYRINGS):
            with contextlib.suppress(TypeError):  # needs constructor arguments
                viable.append(cls())
    if not viable:
        return None, (
            "no usable OS keyring was found (on Linux: a Secret Service such as "
            "gnome-keyring or KWallet, unlocked in this session). Secrets can instead be "
            "kept in an encrypted file protected by a master password, or in memory for "
            "this session only."
        )
    best: keyring.backend.KeyringBackend = max(viable, key=lambda b: b.priority)
    return best, None


def _backend_name(backend: keyring.backend.KeyringBackend) -> str:
    return str(getattr(backend, "name", type(backend).__name__))


def encrypted_file_backend(path: Path, master_password: str) -> keyring.backend.KeyringBackend:
    """keyrings.cryptfile's AES-encrypted file, unlocked with ``master_password``."""
    try:
        from keyrings.cryptfile.cryptfile import CryptFileKeyring
    except ImportError as exc:  # pragma: no cover - declared dependency
        raise SecretStoreError(
            "keyrings.cryptfile is not installed: pip install keyrings.cryptfile"
        ) from exc
    path.parent.mkdir(parents=True, exist_ok=True)
    backend = CryptFileKeyring()
    backend.file_path = str(path)
    try:
        backend.keyring_key = master_password  # unlocks (or creates) the file
    except ValueError:  # the MAC check of the file's reference entry failed
        raise SecretStoreError(
            f"wrong master password for the encrypted secrets file {path}"
        ) from None
    result: keyring.backend.KeyringBackend = backend
    return result


class SecretStore:
    """Secrets of profiles and channels, in one keyring backend chosen at start-up (and
    perhaps moved to another later: ``move_to``). Safe to share between threads: each
    call, and a whole move, holds the store's lock."""

    def __init__(self, backend: keyring.backend.KeyringBackend, info: BackendInfo) -> None:
        self._backend = backend
        self.info = info
        self._lock = threading.RLock()

    @classmethod
    def system(cls) -> SecretStore:
        """The OS keyring, or session memory with ``info.problem`` saying why."""
        backend, problem = system_backend()
        if backend is None:
            log.info("no OS keyring: secrets are kept for this session only")
            return cls(
                MemoryKeyring(), BackendInfo(MEMORY_NAME, False, False, problem, kind="memory")
            )
        return cls(backend, BackendInfo(_backend_name(backend), True, True))

    @classmethod
    def memory(cls) -> SecretStore:
        return cls(MemoryKeyring(), BackendInfo(MEMORY_NAME, False, False, kind="memory"))

    @classmethod
    def encrypted_file(cls, path: Path, master_password: str) -> SecretStore:
        return cls(
            encrypted_file_backend(path, master_password),
            BackendInfo(f"encrypted file {path}", True, True, kind="encrypted-file"),
        )

    @classmethod
    def target(cls, target: MoveTarget, path: Path | None = None) -> SecretStore:
        """The store "Move secrets…" asked for: the OS keyring (refused when none
        works) or the encrypted file at ``path`` (default ``secrets_file_path()``)."""
        if target.kind == "encrypted-file":
            if not target.master_password:
                raise SecretStoreError("the encrypted file needs a master password")
            return cls.encrypted_file(path or secrets_file_path(), target.master_password)
        store = cls.system()
        if store.info.kind != "keyring":
            raise SecretStoreError(store.info.problem or "no usable OS keyring was found")
        return store

    def describe(self) -> BackendInfo:
        """``info``, with the name of an OS keyring that works now when the secrets are
        elsewhere (asks keyring which backends work: call it off the GUI thread)."""
        info = self.info
        if info.kind == "keyring":
            return info
        backend, _ = system_backend()
        return dataclasses.replace(
            info, os_keyring=_backend_name(backend) if backend is not None else None
        )

    @classmethod
    def open(cls, kind: str, master_password: Callable[[], str]) -> SecretStore:
        """The store a user chose by name: ``keyring`` (the OS keyring), ``encrypted-file``
        (its master password from ``ETCDMON_MASTER_PASSWORD``, else ``master_password()``)
        or ``memory``."""
        if kind == "memory":
            return cls.memory()
        if kind == "encrypted-file":
            master = os.environ.get("ETCDMON_MASTER_PASSWORD")
            return cls.encrypted_file(
                secrets_file_path(), master if master is not None else master_password()
            )
        return cls.system()

    @staticmethod
    def key(owner: str, field: str) -> str:
        if field not in known_fields():
            raise ValueError(f"unknown secret field {field!r}")
        if not owner or "/" in owner:
            raise ValueError(f"bad secret owner id {owner!r}")
        return f"{owner}/{field}"

    def get(self, owner: str, field: str) -> str | None:
        key = self.key(owner, field)
        with self._lock:
            try:
                value = self._backend.get_password(SERVICE, key)
            except keyring.errors.KeyringError as exc:
                raise SecretStoreError(self._failure("read", field, exc)) from None
        remember_secret(value)  # scrubbed from logs and crash reports from now on
        return value

    def set(self, owner: str, field: str, value: str) -> None:
        key = self.key(owner, field)
        remember_secret(value)
        with self._lock:
            try:
                self._backend.set_password(SERVICE, key, value)
            except keyring.errors.KeyringError as exc:
                raise SecretStoreError(self._failure("save", field, exc)) from None

    def delete(self, owner: str, field: str) -> bool:
        """Remove one secret; False if there was none."""
        key = self.key(owner, field)
        with self._lock:
            try:
                self._backend.delete_password(SERVICE, key)
            except keyring.errors.PasswordDeleteError:
                return False
            except keyring.errors.KeyringError as exc:
                raise SecretStoreError(self._failure("delete", field, exc)) from None
            return True

    def delete_owner(self, owner: str, fields: Iterable[str] | None = None) -> None:
        for field in known_fields() if fields is None else fields:
            self.delete(owner, field)

    def present(self, owner: str, fields: Iterable[str] | None = None) -> list[str]:
        """Which of ``fields`` (default: every known one) hold a secret for ``owner``."""
        return [
            f
            for f in (known_fields() if fields is None else fields)
            if self.get(owner, f) is not None
        ]

    # -- moving every secret to another backend ------------------------------------------

    def copy_to(
        self,
        other: SecretStore,
        owners: Owners,
        cancelled: Callable[[], bool] | None = None,
    ) -> list[tuple[str, str]]:
        """Copy each secret of ``owners`` (owner id -> its fields) into ``other`` and
        read it back; returns the (owner, field) pairs copied. On any failure, or when
        ``cancelled()`` turns true between two secrets (each costs the encrypted file
        about a second), ``other`` is put back as it was (what was there before is
        restored) and the error is raised; this store is never changed."""
        if self._same_place(other):
            raise SecretStoreError(f"the secrets are already kept in {other.info.name}")
        copied: list[tuple[str, str, str | None]] = []  # owner, field, other's old value
        with self._lock, other._lock:
            try:
                for owner, fields in owners:
                    for field in fields:
                        if cancelled is not None and cancelled():
                            raise SecretStoreError("the move was cancelled")
                        value = self.get(owner, field)
                        if value is None:
                            continue
                        before = other.get(owner, field)
                        copied.append((owner, field, before))
                        other.set(owner, field, value)
                        if other.get(owner, field) != value:
                            raise SecretStoreError(
                                f"the {field} read back from {other.info.name} differs from "
                                "the one written"
                            )
            except Exception:
                other._undo(copied)
                raise
        return [(owner, field) for owner, field, _ in copied]

    def move_to(
        self,
        other: SecretStore,
        owners: Callable[[], Owners],
        cancelled: Callable[[], bool] | None = None,
    ) -> tuple[int, list[str]]:
        """Move every secret of ``owners()`` (listed under the lock, so that no save in
        another thread slips between the listing and the switch) into ``other``:
        ``copy_to``, then this store uses ``other``'s backend from now on (every service
        sharing it follows), then the old copies are deleted.

        Returns how many secrets moved, and the problems of deleting the old copies
        (they are then left behind, and said so). A failure before the switch changes
        nothing here and raises a ``SecretStoreError``.
        """
        with self._lock:
            copied = self.copy_to(other, list(owners()), cancelled)
            old = SecretStore(self._backend, self.info)
            self._backend, self.info = other._backend, other.info
            log.info("secrets moved from %s to %s", old.info.name, self.info.name)
            problems: list[str] = []
            for owner, field in copied:
                try:
                    old.delete(owner, field)
                except SecretStoreError as exc:
                    problems.append(str(exc))
            return len(copied), list(dict.fromkeys(problems))

    def _same_place(self, other: SecretStore) -> bool:
        """Whether ``other`` keeps its secrets where this store does (two handles on one
        OS keyring or one file): a move there would delete what it copied."""
        if other._backend is self._backend:
            return True
        mine, theirs = self.info, other.info
        return mine.kind == theirs.kind != "memory" and (
            mine.kind == "keyring" or mine.name == theirs.name
        )

    def _undo(self, written: Sequence[tuple[str, str, str | None]]) -> None:
        """Best effort: put back what ``copy_to`` overwrote, delete what it added."""
        for owner, field, before in reversed(written):
            try:
                if before is None:
                    self.delete(owner, field)
                else:
                    self.set(owner, field, before)
            except SecretStoreError as exc:  # the copy's own failure is what to tell
                log.warning("could not undo a partial copy: %s", exc)

    def _failure(self, action: str, field: str, exc: Exception) -> str:
        kind = type(exc).__name__
        hint = ""
        if "locked" in str(exc).lower() or isinstance(exc, keyring.errors.KeyringLocked):
            hint = ": the keyring is locked; unlock it (log in to the desktop) and retry"
        return f"could not {action} the {field} in {self.info.name} ({kind}){hint}"
