"""Notification channels on disk: ``channels.yaml`` beside the profiles, no secrets.

Same rules as the profiles file: validated on load with the problem located, written
atomically, never overwritten when it did not load cleanly. Secrets of a channel (SMTP
password, webhook URLs, routing keys) live in the keyring under the channel's id.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import yaml
from pydantic import ValidationError

from etcdmon_gui.notify.config import ChannelBase, ChannelConfig, dump_channels, parse_channels
from etcdmon_gui.store.profiles import atomic_write, config_dir

SCHEMA_VERSION = 1


class ChannelStoreError(Exception):
    pass


class ChannelStore:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path or config_dir() / "channels.yaml"

    def load(self) -> list[ChannelConfig]:
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
                SCHEMA_VERSION):
            raise ChannelStoreError(f"{self.path}: expected schema_version {SCHEMA_VERSION} "
                                    "and a channels list")
        try:
            return parse_channels(data.get("channels") or [])
        except (ValidationError, ValueError) as exc:
            raise ChannelStoreError(f"{self.path}: {exc}") from None

    def save(self, channels: Sequence[ChannelBase]) -> None:
        self.load()  # a file that does not load cleanly is left for the user to fix
        body = {"schema_version": SCHEMA_VERSION, "channels": dump_channels(channels)}
        atomic_write(self.path, yaml.safe_dump(body, sort_keys=False, allow_unicode=True))
