"""Notification channels on disk: ``channels.yaml`` beside the profiles, no secrets.

Same rules as the profiles file: validated on load with the problem located, written
atomically, never overwritten when it did not load cleanly. Secrets of a channel (SMTP
password, webhook URLs, routing keys) live in the keyring under the channel's id;
``ChannelSettings`` keeps the two together (see ``store.settings``). Which types exist,
and which secrets each owns, the channel registry says.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

import yaml
from pydantic import ValidationError

from etcdmon_gui.model.secrets import SecretEdits
from etcdmon_gui.notify.base import ChannelBase
from etcdmon_gui.notify.registry import dump_channels, parse_channels
from etcdmon_gui.store.files import atomic_write, config_dir
from etcdmon_gui.store.secrets import SecretStore
from etcdmon_gui.store.settings import SettingsError, SettingsStore

SCHEMA_VERSION = 1


class ChannelStoreError(SettingsError):
    pass


class ChannelStore:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path or config_dir() / "channels.yaml"

    def load(self) -> list[ChannelBase]:
        """All channels; raises ``ChannelStoreError`` naming the file and the problem."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        except (OSError, UnicodeDecodeError) as exc:
            raise ChannelStoreError(f"{self.path}: cannot read: {exc}") from None
        try:
            data = yaml.safe_load(text) or {}
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f", line {mark.line + 1}" if mark else ""
            raise ChannelStoreError(f"{self.path}{where}: not valid YAML") from None
        if not isinstance(data, dict) or data.get("schema_version", SCHEMA_VERSION) != (
            SCHEMA_VERSION
        ):
            raise ChannelStoreError(
                f"{self.path}: expected schema_version {SCHEMA_VERSION} and a channels list"
            )
        try:
            return parse_channels(data.get("channels") or [])
        except (ValidationError, ValueError) as exc:
            raise ChannelStoreError(f"{self.path}: {exc}") from None

    def save(self, channels: Sequence[ChannelBase]) -> None:
        self.load()  # a file that does not load cleanly is left for the user to fix
        body = {"schema_version": SCHEMA_VERSION, "channels": dump_channels(channels)}
        atomic_write(self.path, yaml.safe_dump(body, sort_keys=False, allow_unicode=True))

    def add(self, config: ChannelBase) -> None:
        channels = self.load()
        if any(c.id == config.id for c in channels):
            raise ChannelStoreError(f"a channel with the id {config.id!r} already exists")
        self._save_named([*channels, config], config)

    def replace(self, channel_id: str, config: ChannelBase) -> None:
        channels = self.load()
        index = next((i for i, c in enumerate(channels) if c.id == channel_id), None)
        if index is None:
            raise ChannelStoreError("it is no longer in the channels file (deleted meanwhile?)")
        if config.id != channel_id:
            raise ChannelStoreError("a channel's identifier cannot change")
        channels[index] = config
        self._save_named(channels, config)

    def remove(self, channel_id: str) -> ChannelBase:
        channels = self.load()
        gone = next((c for c in channels if c.id == channel_id), None)
        if gone is None:
            raise ChannelStoreError("it is no longer in the channels file")
        self.save([c for c in channels if c.id != channel_id])
        return gone

    def _save_named(self, channels: Sequence[ChannelBase], config: ChannelBase) -> None:
        """Save, unless another channel already has ``config``'s name (any case)."""
        clash = next(
            (
                c
                for c in channels
                if c.id != config.id and c.name.casefold() == config.name.casefold()
            ),
            None,
        )
        if clash is not None:
            raise ChannelStoreError(f"another channel is already named {clash.name!r}")
        self.save(channels)


class ChannelSettings(SettingsStore[ChannelBase, list[ChannelBase]]):
    """The channels file and the channels' secrets; requests name a channel by id."""

    noun: ClassVar[str] = "channel"
    plural: ClassVar[str] = "notification channels"

    def __init__(self, store: ChannelStore, secrets: SecretStore) -> None:
        super().__init__(secrets)
        self.store = store

    def load(self) -> list[ChannelBase]:
        return self.store.load()

    def items(self, listing: list[ChannelBase]) -> list[ChannelBase]:
        return listing

    def _write(self, old_key: str | None, item: ChannelBase) -> None:
        if old_key is None:
            self.store.add(item)
        else:
            self.store.replace(old_key, item)

    def _remove(self, key: str) -> ChannelBase:
        return self.store.remove(key)

    def owned_secrets(self, item: ChannelBase) -> tuple[str, ...]:
        return item.secret_names()

    def needed_secrets(self, item: ChannelBase) -> tuple[str, ...]:
        return item.needed_secrets()

    def missing_secret(self, item: ChannelBase, field: str) -> str:
        return (
            f"enter the {item.secret_field(field).phrase}: none is stored in "
            f"{self.secrets.info.name} yet"
        )

    def new_secrets(self, item: ChannelBase, edits: SecretEdits) -> dict[str, str]:
        """The values given, each checked; one the type does not own is refused."""
        new: dict[str, str] = {}
        for field, value in edits.values.items():
            try:
                spec = item.secret_field(field)
            except KeyError:
                raise ChannelStoreError(f"a {item.type_name} channel has no {field}") from None
            if not value:
                continue
            problem = spec.problem(value)
            if problem is not None:
                raise ChannelStoreError(f"{spec.title}: {problem}")
            new[field] = value
        return new

    def label(self, key: str) -> str:
        """The channel's name, if the file still says it."""
        with contextlib.suppress(ChannelStoreError):
            for c in self.store.load():
                if c.id == key:
                    return c.name
        return key
