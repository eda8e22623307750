"""Moving every secret from session memory into a real OS keyring: gnome-keyring's
Secret Service on a private D-Bus session, through the settings service's move."""

from __future__ import annotations

from pathlib import Path

from etcdmon_gui.model.profile import Profile
from etcdmon_gui.model.secrets import BackendInfo, MoveTarget
from etcdmon_gui.notify.channels.webhook import WebhookChannelConfig
from etcdmon_gui.store.channels import ChannelSettings, ChannelStore
from etcdmon_gui.store.profiles import ProfileSettings, ProfileStore
from etcdmon_gui.store.secrets import SERVICE, MemoryKeyring, SecretStore
from etcdmon_gui.workers.settings_service import SettingsService
from etcdmon_gui.workers.settings_testers import ConnectionTester


def test_move_from_memory_to_the_os_keyring(secret_service: None, tmp_path: Path) -> None:
    memory = MemoryKeyring()
    secrets = SecretStore(memory, SecretStore.memory().info)
    profiles = ProfileStore(tmp_path / "profiles.yaml")
    channels = ChannelStore(tmp_path / "channels.yaml")
    profile = Profile(name="prod", endpoints=["127.0.0.1:2379"], username="root")
    hook = WebhookChannelConfig(name="hook")
    profiles.add(profile)
    channels.add(hook)
    values = {
        (profile.id, "password"): "pr0d-pw-in-memory",
        (hook.id, "webhook_url"): "https://hooks.example/T0ken-in-memory",
    }
    for (owner, field), value in values.items():
        secrets.set(owner, field, value)
    # What "Move secrets…" offers: the working OS keyring, by name.
    assert secrets.describe().os_keyring

    service = SettingsService(ProfileSettings(profiles, secrets), ConnectionTester())
    service.share_secrets_with(ChannelSettings(channels, secrets))
    moved: list[tuple[BackendInfo, str]] = []
    failed: list[str] = []
    service.moved.connect(lambda info, summary: moved.append((info, summary)))
    service.failed.connect(failed.append)
    service.move(MoveTarget("keyring"))  # in this thread: the slot the handle queues

    assert failed == []
    [(info, summary)] = moved
    assert info.kind == "keyring" and info.persistent and secrets.info == info
    assert summary == f"Moved 2 secrets from memory (this session only) to {info.name}."
    fresh = SecretStore.system()  # as after a restart
    for (owner, field), value in values.items():
        assert fresh.get(owner, field) == value
        assert memory.get_password(SERVICE, f"{owner}/{field}") is None
    # Moving again, onto the keyring it is in, is refused and deletes nothing.
    service.move(MoveTarget("keyring"))
    assert failed and "already kept in" in failed[0]
    assert all(fresh.get(o, f) == v for (o, f), v in values.items())
    for owner, field in values:
        fresh.delete(owner, field)
