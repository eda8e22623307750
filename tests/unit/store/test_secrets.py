"""The secret store's rules, with the memory and the encrypted-file backends."""

from __future__ import annotations

from pathlib import Path

import pytest

from etcdmon_gui.store import secrets as mod
from etcdmon_gui.store.secrets import SecretStore, SecretStoreError


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
