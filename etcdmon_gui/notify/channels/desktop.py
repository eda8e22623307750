"""A popup through whatever notifier the desktop session provides (the tray)."""

from __future__ import annotations

from typing import ClassVar, Literal

from etcdmon_gui.model.alerts import AlertEvent
from etcdmon_gui.notify.base import Channel, ChannelBase, DesktopNotifier, SecretReader
from etcdmon_gui.notify.errors import ChannelError
from etcdmon_gui.notify.registry import ChannelKind


class DesktopChannelConfig(ChannelBase):
    """A popup through whatever notifier the desktop session provides."""

    unused_settings: ClassVar[tuple[str, ...]] = ("timeout_s",)  # no network

    type: Literal["desktop"] = "desktop"


class DesktopChannel(Channel):
    """Hands the event to the desktop notifier (a tray popup); no network."""

    config: DesktopChannelConfig

    def __init__(
        self,
        config: ChannelBase,
        secrets: SecretReader | None = None,
        *,
        desktop: DesktopNotifier | None = None,
    ) -> None:
        super().__init__(config, secrets)
        self._notifier = desktop

    def send(self, event: AlertEvent) -> None:
        if self._notifier is None:
            raise ChannelError(
                "no desktop notifier in this session (running headless?)", permanent=True
            )
        try:
            self._notifier(event)
        except ChannelError:
            raise
        except Exception as exc:  # the GUI's callback: report, never kill the worker
            raise ChannelError(
                f"the desktop notifier failed: {type(exc).__name__}: {exc}", permanent=True
            ) from None


KIND = ChannelKind(
    settings=DesktopChannelConfig,
    sender=DesktopChannel,
    title="Desktop",
    badge="▣",
    order=50,
    description="Shows a popup through the desktop's notifications.",
)
