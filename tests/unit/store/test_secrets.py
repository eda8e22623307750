"""The secret store's rules, with the memory and the encrypted-file backends."""

from __future__ import annotations

from pathlib import Path

import keyring.errors
import pytest

from etcdmon_gui.model.secrets import BackendInfo, MoveTarget
from etcdmon_gui.store import secrets as mod
from etcdmon_gui.store.secrets import MemoryKeyring, SecretStore, SecretStoreError


def test_memory_store_round_trip() -> None:
    store = SecretStore.memory()
    assert not store.info.persistent
    store.set("p1", "password", "hunter2-pw")
    assert store.get("p1", "password") == "hunter2-pw"
    assert store.present("p1", ["password", "tls_key"]) == ["password"]
    assert store.delete("p1", "password") and not store.delete("p1", "password")
    with pytest.raises(ValueError, match="unknown secret field"):
        store.get("p1", "colour")
    with pytest.raises(ValueError, match="bad secret owner"):
        store.set("a/b", "password", "x")


def test_no_os_keyring_is_said_plainly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mod, "_OS_KEYRINGS", ("no.such.keyring",))  # none of them works
    store = SecretStore.system()
    assert not store.info.persistent and not store.info.secure
    assert store.info.problem and "no usable OS keyring" in store.info.problem
    assert "encrypted file" in store.info.problem


def test_encrypted_file(tmp_path: Path) -> None:
    path = tmp_path / "secrets.cfg"
    store = SecretStore.encrypted_file(path, "master-pw-1")
    store.set("p1", "tls_key", "-----BEGIN PRIVATE KEY-----secretkeydata")
    again = SecretStore.encrypted_file(path, "master-pw-1")
    assert again.get("p1", "tls_key") == "-----BEGIN PRIVATE KEY-----secretkeydata"
    assert b"secretkeydata" not in path.read_bytes()
    with pytest.raises(SecretStoreError, match="wrong master password") as info:
        SecretStore.encrypted_file(path, "not-the-master")
    assert "not-the-master" not in str(info.value)


# -- moving every secret to another backend ---------------------------------------------

OWNERS = [("p1", ("password", "tls_key")), ("c1", ("webhook_url", "webhook_secret"))]


def filled_memory() -> SecretStore:
    store = SecretStore.memory()
    store.set("p1", "password", "pw-of-p1")
    store.set("p1", "tls_key", "-----BEGIN PRIVATE KEY-----keyofp1")
    store.set("c1", "webhook_url", "https://hooks.example/T0ken")
    return store


class LockedOn(MemoryKeyring):
    """The memory backend, refusing to write one key as a locked keyring would."""

    def __init__(self, refused: str) -> None:
        super().__init__()
        self.refused = refused

    def set_password(self, service: str, username: str, password: str) -> None:
        if username == self.refused:
            raise keyring.errors.KeyringLocked("collection is locked")
        super().set_password(service, username, password)


def test_copy_to_an_encrypted_file_reads_back_in_a_fresh_store(tmp_path: Path) -> None:
    source = filled_memory()
    path = tmp_path / "secrets.cfg"
    copied = source.copy_to(SecretStore.encrypted_file(path, "master-pw"), OWNERS)
    assert copied == [("p1", "password"), ("p1", "tls_key"), ("c1", "webhook_url")]
    fresh = SecretStore.encrypted_file(path, "master-pw")
    assert fresh.get("p1", "password") == "pw-of-p1"
    assert fresh.get("p1", "tls_key") == "-----BEGIN PRIVATE KEY-----keyofp1"
    assert fresh.get("c1", "webhook_url") == "https://hooks.example/T0ken"
    assert fresh.get("c1", "webhook_secret") is None  # never stored: not invented
    assert source.get("p1", "password") == "pw-of-p1"  # a copy changes no source
    raw = path.read_bytes()
    assert b"pw-of-p1" not in raw and b"T0ken" not in raw and b"keyofp1" not in raw


def test_a_failed_copy_puts_the_target_back_as_it_was() -> None:
    source = filled_memory()
    backend = LockedOn("c1/webhook_url")
    target = SecretStore(backend, BackendInfo("locked keyring", True, True))
    target.set("p1", "password", "older-pw")  # there before: restored, not deleted
    with pytest.raises(SecretStoreError, match="keyring is locked") as info:
        source.copy_to(target, OWNERS)
    assert "T0ken" not in str(info.value)
    assert target.get("p1", "password") == "older-pw"
    assert target.get("p1", "tls_key") is None
    assert source.present("p1") == ["password", "tls_key"]


def test_move_switches_the_shared_store_then_deletes_the_old_copies(tmp_path: Path) -> None:
    memory = MemoryKeyring()
    store = SecretStore(
        memory, BackendInfo("memory (this session only)", False, False, kind="memory")
    )
    store.set("p1", "password", "pw-of-p1")
    store.set("c1", "webhook_url", "https://hooks.example/T0ken")
    target = SecretStore.encrypted_file(tmp_path / "secrets.cfg", "master-pw")
    count, problems = store.move_to(target, lambda: OWNERS)
    assert (count, problems) == (2, [])
    assert store.info.kind == "encrypted-file" and store.info.persistent
    assert store.get("c1", "webhook_url") == "https://hooks.example/T0ken"  # the file's
    assert memory.get_password(mod.SERVICE, "p1/password") is None  # gone from memory
    assert memory.get_password(mod.SERVICE, "c1/webhook_url") is None
    # Moving it onto the place it is now would delete what it copied: refused.
    again = SecretStore.encrypted_file(tmp_path / "secrets.cfg", "master-pw")
    with pytest.raises(SecretStoreError, match="already kept in encrypted file"):
        store.move_to(again, lambda: OWNERS)
    assert store.get("p1", "password") == "pw-of-p1"


def test_a_failed_move_leaves_everything_in_the_old_store() -> None:
    memory = MemoryKeyring()
    store = SecretStore(
        memory, BackendInfo("memory (this session only)", False, False, kind="memory")
    )
    store.set("p1", "password", "pw-of-p1")
    store.set("c1", "webhook_url", "https://hooks.example/T0ken")
    target = SecretStore(LockedOn("c1/webhook_url"), BackendInfo("locked keyring", True, True))
    with pytest.raises(SecretStoreError, match="could not save the webhook_url"):
        store.move_to(target, lambda: OWNERS)
    assert store.info.name == "memory (this session only)"
    assert memory.get_password(mod.SERVICE, "p1/password") == "pw-of-p1"
    assert store.get("c1", "webhook_url") == "https://hooks.example/T0ken"


def test_move_targets(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(mod, "_OS_KEYRINGS", ("no.such.keyring",))
    with pytest.raises(SecretStoreError, match="no usable OS keyring"):
        SecretStore.target(MoveTarget("keyring"))
    with pytest.raises(SecretStoreError, match="needs a master password"):
        SecretStore.target(MoveTarget("encrypted-file"))
    opened = SecretStore.target(MoveTarget("encrypted-file", "m-pw"), tmp_path / "s.cfg")
    assert opened.info.kind == "encrypted-file" and (tmp_path / "s.cfg").exists()
    assert "m-pw" not in repr(MoveTarget("encrypted-file", "m-pw"))
    # Nowhere to offer but the file: no OS keyring works.
    assert SecretStore.memory().describe().os_keyring is None
    assert SecretStore.memory().describe().kind == "memory"
