"""Every secret the application keeps, and the only module that talks to ``keyring``.

Secrets (passwords, client keys, imported certificates, SMTP passwords, webhook URLs,
PagerDuty routing keys) live under one service name, keyed ``<owner id>/<field>``.
``SecretStore`` knows which backend it uses and whether that backend is a real OS
keyring. When none is usable it says so (``BackendInfo.problem``) and never falls back
to plaintext on its own: the caller may choose the encrypted-file backend (a master
password, asked once per session) or session-only memory.

Nothing here logs a secret or puts one in an exception message.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Iterable
from pathlib import Path

import keyring
import keyring.backend
import keyring.errors

from etcdmon_gui.model.secrets import BackendInfo
from etcdmon_gui.model.secrets import SecretStoreError as SecretStoreError  # re-exported
from etcdmon_gui.notify import registry as channel_registry
from etcdmon_gui.store.files import data_dir

log = logging.getLogger(__name__)

SERVICE = "etcdmon-gui"

#: The secret fields a profile may own (``store.profiles`` says which one needs).
PROFILE_FIELDS = ("password", "tls_key", "tls_cert", "tls_ca")


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
    """Secrets of profiles and channels, in one keyring backend chosen at start-up."""

    def __init__(self, backend: keyring.backend.KeyringBackend, info: BackendInfo) -> None:
        self._backend = backend
        self.info = info

    @classmethod
    def system(cls) -> SecretStore:
        """The OS keyring, or session memory with ``info.problem`` saying why."""
        backend, problem = system_backend()
        if backend is None:
            log.info("no OS keyring: secrets are kept for this session only")
            return cls(
                MemoryKeyring(), BackendInfo("memory (this session only)", False, False, problem)
            )
        return cls(
            backend, BackendInfo(str(getattr(backend, "name", type(backend).__name__)), True, True)
        )

    @classmethod
    def memory(cls) -> SecretStore:
        return cls(MemoryKeyring(), BackendInfo("memory (this session only)", False, False))

    @classmethod
    def encrypted_file(cls, path: Path, master_password: str) -> SecretStore:
        return cls(
            encrypted_file_backend(path, master_password),
            BackendInfo(f"encrypted file {path}", True, True),
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
        try:
            return self._backend.get_password(SERVICE, self.key(owner, field))
        except keyring.errors.KeyringError as exc:
            raise SecretStoreError(self._failure("read", field, exc)) from None

    def set(self, owner: str, field: str, value: str) -> None:
        try:
            self._backend.set_password(SERVICE, self.key(owner, field), value)
        except keyring.errors.KeyringError as exc:
            raise SecretStoreError(self._failure("save", field, exc)) from None

    def delete(self, owner: str, field: str) -> bool:
        """Remove one secret; False if there was none."""
        try:
            self._backend.delete_password(SERVICE, self.key(owner, field))
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

    def _failure(self, action: str, field: str, exc: Exception) -> str:
        kind = type(exc).__name__
        hint = ""
        if "locked" in str(exc).lower() or isinstance(exc, keyring.errors.KeyringLocked):
            hint = ": the keyring is locked; unlock it (log in to the desktop) and retry"
        return f"could not {action} the {field} in {self.info.name} ({kind}){hint}"
