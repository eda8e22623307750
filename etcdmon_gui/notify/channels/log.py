"""A line in the application's log per alert event."""

from __future__ import annotations

import logging
from typing import ClassVar, Literal

from pydantic import Field

from etcdmon_gui.model.alerts import AlertEvent
from etcdmon_gui.notify.base import Channel, ChannelBase
from etcdmon_gui.notify.payloads import describe
from etcdmon_gui.notify.registry import ChannelKind

# The logger users filter on; it named the module all channels lived in, and stays.
LOGGER = "etcdmon_gui.notify.channels"
log = logging.getLogger(LOGGER)


class LogChannelConfig(ChannelBase):
    """A line in the application's log (logger ``etcdmon_gui.notify.channels``)."""

    unused_settings: ClassVar[tuple[str, ...]] = ("timeout_s",)  # no network

    type: Literal["log"] = "log"
    level: Literal["debug", "info", "warning", "error"] = Field(default="info", title="Log level")


class LogChannel(Channel):
    """One line per event in the application log."""

    config: LogChannelConfig

    def send(self, event: AlertEvent) -> None:
        level = logging.getLevelName(self.config.level.upper())
        log.log(level, "alert %s (fingerprint %s)", describe(event), event.alert.fingerprint)


KIND = ChannelKind(
    settings=LogChannelConfig,
    sender=LogChannel,
    title="Log",
    badge="≡",
    order=60,
    description="Writes a line to etcdmon-gui's log.",
)
