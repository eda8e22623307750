"""The notification channel types, each declared once, in its own module.

Every module of the ``etcdmon_gui.notify.channels`` package declares one type as a
module-level ``KIND``: a ``ChannelKind`` naming its settings model (fields, titles,
secrets), its sender class, and how lists and menus show it. The registry finds them
on first use, so adding a channel type is adding one module there; a type declared
elsewhere (a plug-in, a test) joins with ``register``.

Everything that handles channels of any type asks here: ``parse_channels`` /
``dump_channels`` (channels.yaml, a discriminated union on ``type`` built from the
registered models), ``build_channel`` (the dispatcher's senders), ``secret_names``
(the fields the secret store accepts). The dialog is handed ``kinds()`` by the
composition root; this module imports no sender itself, so importing it (for the
``ChannelKind`` type) costs no network code.
"""

from __future__ import annotations

import importlib
import pkgutil
import threading
import typing
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import Field, TypeAdapter

from etcdmon_gui.notify import channels as _package
from etcdmon_gui.notify.base import (
    Channel,
    ChannelBase,
    DesktopNotifier,
    SecretField,
    SecretReader,
)


@dataclass(frozen=True, slots=True)
class ChannelKind:
    """One channel type. Its name is the default of its settings' ``type`` field."""

    settings: type[ChannelBase]
    sender: type[Channel]  # built as sender(config, secrets, desktop=notifier)
    title: str  # "E-mail"
    description: str  # what it does, one sentence (the form's note, the Add menu)
    badge: str = ""  # a short mark for its icon; default: the title's first letter
    order: int = 100  # position in menus and lists

    @property
    def name(self) -> str:
        return _type_name(self.settings)

    @property
    def secret_fields(self) -> tuple[SecretField, ...]:
        return self.settings.secret_fields

    @property
    def mark(self) -> str:
        return self.badge or self.title[:1].upper()


def _type_name(settings: type[ChannelBase]) -> str:
    field = settings.model_fields.get("type")
    args = typing.get_args(field.annotation) if field is not None else ()
    if (
        field is None
        or len(args) != 1
        or typing.get_origin(field.annotation) is not (typing.Literal)
        or field.default != args[0]
    ):
        raise TypeError(f"{settings.__name__} needs a field type: Literal['name'] = 'name'")
    return str(args[0])


_lock = threading.RLock()
_kinds: dict[str, ChannelKind] = {}
_discovered = False
_adapters: tuple[TypeAdapter[Any], TypeAdapter[list[Any]]] | None = None
_secret_names: tuple[str, ...] | None = None


def _forget_derived() -> None:
    """After a change of the types (lock held): rebuild what is derived from them."""
    global _adapters, _secret_names
    _adapters = _secret_names = None


def register(kind: ChannelKind) -> ChannelKind:
    """Add a type; its name must be new and its declarations consistent."""
    name = kind.name
    settings = kind.settings
    names = settings.secret_names()
    if len(set(names)) != len(names):
        raise TypeError(f"{settings.__name__} declares a secret twice")
    for spec in kind.secret_fields:
        if spec.only_with is not None and spec.only_with not in settings.model_fields:
            raise TypeError(
                f"secret {spec.name!r} of {settings.__name__} depends on "
                f"{spec.only_with!r}, which is not one of its settings"
            )
        if spec.name in settings.model_fields:
            raise TypeError(
                f"secret {spec.name!r} of {settings.__name__} is also a setting "
                "(a secret is never a field of channels.yaml)"
            )
    for unused in settings.unused_settings:
        if unused not in settings.model_fields:
            raise TypeError(f"{settings.__name__} hides {unused!r}, which it does not have")
    with _lock:
        known = _kinds.get(name)
        if known is not None and known != kind:
            raise ValueError(f"two channel types are named {name!r}")
        _kinds[name] = kind
        _forget_derived()
    return kind


def unregister(name: str) -> None:
    """Forget a type added with ``register`` (tests)."""
    with _lock:
        _kinds.pop(name, None)
        _forget_derived()


def _discover() -> None:
    """Import each module of the channels package once and register its ``KIND``."""
    global _discovered
    with _lock:
        if _discovered:
            return
        for info in sorted(pkgutil.iter_modules(_package.__path__), key=lambda m: m.name):
            module = importlib.import_module(f"{_package.__name__}.{info.name}")
            kind = getattr(module, "KIND", None)
            if not isinstance(kind, ChannelKind):
                raise TypeError(f"{module.__name__} declares no KIND = ChannelKind(...)")
            register(kind)
        _discovered = True


def kinds() -> list[ChannelKind]:
    """Every type, in menu order."""
    _discover()
    with _lock:
        return sorted(_kinds.values(), key=lambda k: (k.order, k.name))


def kind(name: str) -> ChannelKind:
    _discover()
    with _lock:
        found = _kinds.get(name)
    if found is None:
        raise KeyError(f"no channel type {name!r}")
    return found


def secret_names() -> tuple[str, ...]:
    """Every secret field some channel type owns, in menu order, each once."""
    global _secret_names
    with _lock:  # asked on every keyring access: kept until the types change
        if _secret_names is None:
            _secret_names = tuple(
                dict.fromkeys(name for k in kinds() for name in k.settings.secret_names())
            )
        return _secret_names


# -- channels.yaml ----------------------------------------------------------------------


def _adapter_pair() -> tuple[TypeAdapter[Any], TypeAdapter[list[Any]]]:
    global _adapters
    with _lock:
        if _adapters is None:
            models = tuple(k.settings for k in kinds())
            # One model alone is no union: pydantic takes a discriminator on unions only.
            union: Any = (
                Annotated[typing.Union[models], Field(discriminator="type")]  # noqa: UP007
                if len(models) > 1
                else models[0]
            )
            _adapters = (TypeAdapter(union), TypeAdapter(list[union]))
        return _adapters


def parse_channel(data: Any) -> ChannelBase:
    """Validate one channel mapping; raises pydantic's ``ValidationError``."""
    config: ChannelBase = _adapter_pair()[0].validate_python(data)
    return config


def parse_channels(data: Any) -> list[ChannelBase]:
    """Validate a list of channel mappings; ids must be unique."""
    channels: list[ChannelBase] = _adapter_pair()[1].validate_python(data)
    seen: set[str] = set()
    for channel in channels:
        if channel.id in seen:
            raise ValueError(f"two channels share the id {channel.id!r}")
        seen.add(channel.id)
    return channels


def dump_channels(channels: Iterable[ChannelBase]) -> list[dict[str, Any]]:
    """Plain data for YAML/JSON; never contains a secret (channels hold none)."""
    return [
        {
            "type": c.type_name,
            "id": c.id,
            "name": c.name,
            **c.model_dump(mode="json", exclude_defaults=True),
        }
        for c in channels
    ]


# -- senders ----------------------------------------------------------------------------


def build_channel(
    config: ChannelBase, secrets: SecretReader | None, desktop: DesktopNotifier | None = None
) -> Channel:
    """The sender for ``config``. ``desktop`` is the GUI's notifier (None headless)."""
    found = kind(config.type_name)
    if not isinstance(config, found.settings):
        raise TypeError(
            f"a {config.type_name} channel needs {found.settings.__name__}, "
            f"not {type(config).__name__}"
        )
    return found.sender(config, secrets, desktop=desktop)
