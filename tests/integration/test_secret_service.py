"""Secrets through a real Secret Service: gnome-keyring on a private D-Bus session."""

from __future__ import annotations

from keyring.backends import SecretService

from etcdmon_gui.store.secrets import SecretStore


def test_store_read_update_delete_through_secret_service(secret_service: None) -> None:
    store = SecretStore.system()
    assert store.info.persistent and store.info.secure, store.info
    assert isinstance(store._backend, SecretService.Keyring)
    store.set("prof1", "password", "first-pw-value")
    assert store.get("prof1", "password") == "first-pw-value"
    store.set("prof1", "password", "second-pw-value")
    # A separate store (as after a restart) reads what the first one saved.
    assert SecretStore.system().get("prof1", "password") == "second-pw-value"
    assert store.delete("prof1", "password")
    assert store.get("prof1", "password") is None
