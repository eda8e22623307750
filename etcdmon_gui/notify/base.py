"""What every notification channel type is made of: a settings model and a sender.

A type's *settings* are a ``ChannelBase`` subclass: validated, frozen, holding no secret,
its fields titled and described so that a form can be built from them. The secrets it
owns are declared beside the fields as ``SecretField``s (title, hint, how a value is
checked, when it is needed); their values live in the keyring under the channel's
``id``, so renaming a channel keeps its secrets. Its *sender* is a ``Channel``: it sends
one alert event, once, or raises ``ChannelError``.

This module is pure (pydantic and the standard library): the views build a channel's
form from these declarations without importing any network code. Each type's module
under ``notify/channels`` adds its sender and payload; ``notify.registry`` finds them.

A sender does no retrying and keeps no queue (that is the dispatcher's job, with a
``DeliveryQueue`` that keeps what waits across a restart); it reads
its secrets at send time through a ``SecretReader``, so an edited secret applies to the
next delivery, and it bounds every network call by its settings' ``timeout_s``. Its
errors are readable and hold no secret: ``Channel.scrub`` removes every secret it has
read from any text.
"""

from __future__ import annotations

import threading
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar, Literal, Protocol
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

from etcdmon_gui.model.alerts import AlertEvent, Severity
from etcdmon_gui.model.delivery import QueuedDelivery
from etcdmon_gui.model.secrets import BackendInfo, SecretStoreError
from etcdmon_gui.model.validators import plain_name
from etcdmon_gui.notify.errors import ChannelError, scrub

SeverityName = Literal["info", "warning", "critical"]

#: How a secret's value is taken: a password exactly as typed; a URL stripped, checked,
#: and only ever shown redacted; any other token (a key) stripped.
SecretKind = Literal["password", "url", "token"]

DesktopNotifier = Callable[[AlertEvent], None]


def http_url(value: str) -> str:
    """A field validator: ``value`` if it is an http(s) URL with a host."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("expected an http:// or https:// URL with a host")
    return value


@dataclass(frozen=True, slots=True)
class SecretField:
    """One secret a channel type owns, kept under ``<channel id>/<name>`` in the keyring.

    ``only_with`` names the setting without which the secret is not read (a password
    only with a user name); the form puts its row right after that setting's and shows
    ``unused`` as its placeholder while it is not needed.
    """

    name: str
    title: str  # the form's label
    hint: str  # what to enter: the form's tooltip
    kind: SecretKind = "token"
    noun: str = ""  # how a sentence names it ("no webhook URL is stored"); default: title
    only_with: str | None = None
    unused: str = "not used"

    @property
    def phrase(self) -> str:
        return self.noun or self.title

    def clean(self, value: str) -> str:
        """The value as it will be stored."""
        return value if self.kind == "password" else value.strip()

    def problem(self, value: str) -> str | None:
        """What is wrong with a new value, in words that never repeat the value."""
        if self.kind != "url":
            return None
        try:
            parts = urlsplit(value)
            host = parts.hostname
        except ValueError:
            return "not a valid URL"
        if parts.scheme not in ("http", "https") or not host:
            return "expected an http:// or https:// URL with a host"
        if any(c.isspace() for c in value):
            return "a URL has no spaces"
        return None


def _new_id() -> str:
    return uuid.uuid4().hex


class ChannelBase(BaseModel):
    """What every channel's settings have. A subclass adds ``type`` (a one-value
    ``Literal`` with that value as default: the type's name in channels.yaml), its own
    fields, and declares its secrets in ``secret_fields``.

    A field's ``json_schema_extra`` may carry ``placeholder`` (what a blank field means)
    and ``choices`` (a label per value of a ``Literal``) for the form.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: The secrets this type owns, in the order its form shows them.
    secret_fields: ClassVar[tuple[SecretField, ...]] = ()
    #: Settings this type inherits but does not use (its form leaves them out).
    unused_settings: ClassVar[tuple[str, ...]] = ()

    id: str = Field(
        default_factory=_new_id,
        title="Identifier",
        pattern=r"^[A-Za-z0-9_-]{1,64}$",
        description="Stable; owns the channel's secrets in the keyring",
    )
    name: str = Field(title="Name", min_length=1, max_length=100)
    enabled: bool = Field(default=True, title="Enabled")
    min_severity: SeverityName = Field(
        default="info",
        title="Minimum severity",
        description="Alerts below this severity are not sent to this channel",
    )
    send_resolved: bool = Field(
        default=True, title="Send resolved", description="Also notify when an alert resolves"
    )
    timeout_s: float = Field(
        default=10.0,
        gt=0,
        le=120,
        title="Timeout (s)",
        description="Limit for one delivery attempt's network calls",
    )

    _plain_name = field_validator("name")(plain_name)

    @property
    def type_name(self) -> str:
        value: str = getattr(self, "type")  # noqa: B009 - every subclass declares it
        return value

    @classmethod
    def secret_names(cls) -> tuple[str, ...]:
        return tuple(s.name for s in cls.secret_fields)

    @classmethod
    def secret_field(cls, name: str) -> SecretField:
        for spec in cls.secret_fields:
            if spec.name == name:
                return spec
        raise KeyError(f"a {cls.__name__} has no secret {name!r}")

    def needed_secrets(self) -> tuple[str, ...]:
        """The secrets this channel reads when it sends. Works on a ``model_construct``-ed
        config too (a form asks before validation succeeds)."""
        return tuple(
            s.name
            for s in self.secret_fields
            if s.only_with is None or getattr(self, s.only_with, None)
        )

    def wants(self, severity: Severity, resolved: bool) -> bool:
        """Whether an alert of ``severity`` (resolving or not) goes to this channel."""
        if not self.enabled or (resolved and not self.send_resolved):
            return False
        return severity >= Severity[self.min_severity.upper()]


class SecretReader(Protocol):
    """Where a channel reads its secrets (``store.secrets.SecretStore`` is one). ``get``
    raises ``SecretStoreError`` when the backend cannot answer (a locked keyring)."""

    @property
    def info(self) -> BackendInfo: ...

    def get(self, owner: str, field: str) -> str | None: ...


class SecretWriter(SecretReader, Protocol):
    def set(self, owner: str, field: str, value: str) -> None: ...


class DeliveryQueue(Protocol):
    """Where alert deliveries wait, durably, until they are delivered, given up or
    superseded (``store.history.DeliveryQueueStore`` is one). The dispatcher saves each
    one before its first try and after every failed one, removes it when it is done, and
    takes back ``pending()`` at the start of the next run. Each call is one transaction
    and may raise (a full disk): the dispatcher then goes on in memory and says so.
    Thread-safe: the dispatcher calls it from its notification threads."""

    def save(self, item: QueuedDelivery) -> None:
        """Add ``item``, or replace the one with its ``queue_id`` (keeping its place)."""
        ...

    def remove(self, queue_id: str) -> None: ...

    def pending(self) -> list[QueuedDelivery]:
        """What waits, in the order it was first saved."""
        ...


class Channel(ABC):
    """One configured channel, ready to send. Every sender is built the same way,
    ``Sender(config, secrets, desktop=notifier)``; only the desktop channel uses the
    GUI's notifier, which must be safe to call from another thread."""

    def __init__(
        self,
        config: ChannelBase,
        secrets: SecretReader | None = None,
        *,
        desktop: DesktopNotifier | None = None,
    ) -> None:
        self.config = config
        self._secrets = secrets
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    @property
    def id(self) -> str:
        return self.config.id

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def type_name(self) -> str:
        return self.config.type_name

    @property
    def resend_s(self) -> float | None:
        """How often the dispatcher sends a firing alert's latest FIRING/REPEAT event
        again, until its RESOLVED (None: never). For receivers that let an alert lapse
        unless they keep hearing of it, as Alertmanager does."""
        return None

    @abstractmethod
    def send(self, event: AlertEvent) -> None:
        """Deliver ``event`` once; raise ``ChannelError`` if it was not accepted."""

    def send_test(self, event: AlertEvent) -> None:
        """Deliver a test notification (by default, like any event)."""
        self.send(event)

    def scrub(self, text: str) -> str:
        """``text`` without any secret this channel has read."""
        with self._lock:
            seen = list(self._seen)
        return scrub(text, seen)

    def _secret(self, field: str) -> str:
        """A secret of this channel, or a permanent ``ChannelError`` naming what to set."""
        try:
            what = type(self.config).secret_field(field).phrase
        except KeyError:
            what = field
        if self._secrets is None:
            raise ChannelError(f"no secret store to read the {what} from", permanent=True)
        try:
            value = self._secrets.get(self.id, field)
        except SecretStoreError as exc:  # e.g. a locked keyring: it may be unlocked later
            raise ChannelError(str(exc)) from None
        if not value:
            raise ChannelError(
                f"no {what} is stored for channel {self.name!r} in "
                f"{self._secrets.info.name}: enter it in the channel's settings",
                permanent=True,
            )
        with self._lock:
            self._seen.add(value)
        return value
