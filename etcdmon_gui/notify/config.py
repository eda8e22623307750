"""Notification channel settings: validated, frozen models that hold no secret.

Each channel has a stable ``id``; it is the owner of the channel's secrets in
``store.secrets`` (SMTP password, Slack webhook URL, generic webhook URL and signing
secret, PagerDuty routing key), so renaming a channel keeps its secrets. The ``type``
field tells the kinds apart, which lets a list of mixed channels round-trip through
YAML (``parse_channels`` / ``dump_channels``).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from email.utils import parseaddr
from typing import Annotated, Any, ClassVar, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator, model_validator

from etcdmon_gui.model.alerts import Severity

SeverityName = Literal["info", "warning", "critical"]

PAGERDUTY_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"


def _new_id() -> str:
    return uuid.uuid4().hex


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("expected an http:// or https:// URL with a host")
    return value


class ChannelBase(BaseModel):
    """What every channel has. ``secret_fields`` names the keyring fields it reads."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    secret_fields: ClassVar[tuple[str, ...]] = ()

    id: str = Field(default_factory=_new_id, title="Identifier",
                    pattern=r"^[A-Za-z0-9_-]{1,64}$",
                    description="Stable; owns the channel's secrets in the keyring")
    name: str = Field(title="Name", min_length=1, max_length=100)
    enabled: bool = Field(default=True, title="Enabled")
    min_severity: SeverityName = Field(
        default="info", title="Minimum severity",
        description="Alerts below this severity are not sent to this channel")
    send_resolved: bool = Field(default=True, title="Send resolved",
                                description="Also notify when an alert resolves")
    timeout_s: float = Field(default=10.0, gt=0, le=120, title="Timeout (s)",
                             description="Limit for one delivery attempt's network calls")

    @field_validator("name")
    @classmethod
    def _plain_name(cls, value: str) -> str:
        if value != value.strip():
            raise ValueError("a name has no leading or trailing spaces")
        return value

    @property
    def type_name(self) -> str:
        value: str = getattr(self, "type")  # noqa: B009 - every subclass declares it
        return value

    def wants(self, severity: Severity, resolved: bool) -> bool:
        """Whether an alert of ``severity`` (resolving or not) goes to this channel."""
        if not self.enabled or (resolved and not self.send_resolved):
            return False
        return severity >= Severity[self.min_severity.upper()]


class EmailChannelConfig(ChannelBase):
    """SMTP submission. The password (if ``username`` is set) is the ``smtp_password``
    secret. TLS certificates are verified unless ``verify_tls`` is turned off."""

    secret_fields: ClassVar[tuple[str, ...]] = ("smtp_password",)

    type: Literal["email"] = "email"
    host: str = Field(title="SMTP server", min_length=1)
    port: int = Field(default=587, ge=1, le=65535, title="Port",
                      description="587 for STARTTLS, 465 for implicit TLS")
    security: Literal["starttls", "tls", "none"] = Field(
        default="starttls", title="Security",
        description="starttls: upgrade after connecting; tls: TLS from the start (SMTPS); "
                    "none: plain text, for a relay on this machine only")
    verify_tls: bool = Field(default=True, title="Verify the server's certificate")
    ca_file: str | None = Field(default=None, title="CA certificate",
                                description="PEM bundle for a private CA (default: system)")
    username: str | None = Field(default=None, title="User name")
    sender: str = Field(title="From", min_length=3)
    recipients: list[str] = Field(title="To", min_length=1)
    subject_prefix: str = Field(default="[etcdmon]", title="Subject prefix", max_length=50)
    helo_name: str | None = Field(default=None, title="EHLO name",
                                  description="Name this machine gives the server")

    @field_validator("sender")
    @classmethod
    def _sender_address(cls, value: str) -> str:
        _check_address(value)
        return value

    @field_validator("recipients")
    @classmethod
    def _recipient_addresses(cls, value: list[str]) -> list[str]:
        for address in value:
            _check_address(address)
        return value

    @model_validator(mode="after")
    def _no_password_in_clear(self) -> EmailChannelConfig:
        if self.username and self.security == "none":
            raise ValueError("logging in without TLS would send the password in clear text: "
                             "choose starttls or tls")
        return self


def _check_address(value: str) -> None:
    _, address = parseaddr(value)
    local, at, domain = address.rpartition("@")
    if not (local and at and domain) or any(c.isspace() for c in address):
        raise ValueError(f"{value!r} is not an e-mail address")


class SlackChannelConfig(ChannelBase):
    """A Slack incoming webhook. Its URL is the ``slack_webhook`` secret."""

    secret_fields: ClassVar[tuple[str, ...]] = ("slack_webhook",)

    type: Literal["slack"] = "slack"


class PagerDutyChannelConfig(ChannelBase):
    """PagerDuty Events API v2. The routing (integration) key is the
    ``pagerduty_routing_key`` secret; ``events_url`` only changes for a proxy or a test."""

    secret_fields: ClassVar[tuple[str, ...]] = ("pagerduty_routing_key",)

    type: Literal["pagerduty"] = "pagerduty"
    events_url: str = Field(default=PAGERDUTY_EVENTS_URL, title="Events API URL")
    source: str | None = Field(default=None, title="Source",
                               description="payload.source (default: cluster and member)")

    @field_validator("events_url")
    @classmethod
    def _events_url(cls, value: str) -> str:
        return _http_url(value)


class WebhookChannelConfig(ChannelBase):
    """A generic webhook receiving Alertmanager's webhook JSON (version 4). The URL is
    the ``webhook_url`` secret. With ``sign`` set, the body is signed with HMAC-SHA256
    using the ``password`` secret of this channel (its shared signing secret)."""

    secret_fields: ClassVar[tuple[str, ...]] = ("webhook_url", "webhook_secret")
    signing_secret_field: ClassVar[str] = "webhook_secret"

    type: Literal["webhook"] = "webhook"
    receiver: str = Field(default="etcdmon", title="Receiver name", min_length=1,
                          description="The payload's 'receiver' field")
    external_url: str = Field(default="", title="External URL",
                              description="The payload's 'externalURL' field (may be empty)")
    sign: bool = Field(default=False, title="Sign the body (HMAC-SHA256)")
    signature_header: str = Field(default="X-Etcdmon-Signature", title="Signature header",
                                  pattern=r"^[A-Za-z0-9-]{1,64}$",
                                  description="Header carrying sha256=<hex HMAC of the body>")
    verify_tls: bool = Field(default=True, title="Verify the server's certificate")

    @field_validator("external_url")
    @classmethod
    def _external_url(cls, value: str) -> str:
        return _http_url(value) if value else value


class DesktopChannelConfig(ChannelBase):
    """A popup through whatever notifier the desktop session provides."""

    type: Literal["desktop"] = "desktop"


class LogChannelConfig(ChannelBase):
    """A line in the application's log (logger ``etcdmon_gui.notify.channels``)."""

    type: Literal["log"] = "log"
    level: Literal["debug", "info", "warning", "error"] = Field(default="info", title="Log level")


ChannelConfig = Annotated[
    EmailChannelConfig | SlackChannelConfig | PagerDutyChannelConfig | WebhookChannelConfig
    | DesktopChannelConfig | LogChannelConfig,
    Field(discriminator="type"),
]

_ONE: TypeAdapter[ChannelConfig] = TypeAdapter(ChannelConfig)
_MANY: TypeAdapter[list[ChannelConfig]] = TypeAdapter(list[ChannelConfig])


def parse_channel(data: Any) -> ChannelConfig:
    """Validate one channel mapping; raises pydantic's ``ValidationError``."""
    return _ONE.validate_python(data)


def parse_channels(data: Any) -> list[ChannelConfig]:
    """Validate a list of channel mappings; ids must be unique."""
    channels = _MANY.validate_python(data)
    seen: set[str] = set()
    for channel in channels:
        if channel.id in seen:
            raise ValueError(f"two channels share the id {channel.id!r}")
        seen.add(channel.id)
    return channels


def dump_channels(channels: Iterable[ChannelBase]) -> list[dict[str, Any]]:
    """Plain data for YAML/JSON; never contains a secret (channels hold none)."""
    return [{"type": c.type_name, "id": c.id, "name": c.name,
             **c.model_dump(mode="json", exclude_defaults=True)} for c in channels]


class RetryPolicy(BaseModel):
    """Exponential back-off: the wait before try n+1 is ``base_delay_s * factor**(n-1)``,
    spread by +-``jitter`` (a fraction) so many failed
    deliveries do not retry in lock-step, and capped at ``max_delay_s``. A server's
    Retry-After (capped too) wins."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    attempts: int = Field(default=5, ge=1, le=100, title="Attempts",
                          description="Tries per delivery, the first one included")
    base_delay_s: float = Field(default=2.0, ge=0, le=3600, title="First retry after (s)")
    max_delay_s: float = Field(default=300.0, ge=0, le=86400, title="Longest wait (s)")
    factor: float = Field(default=2.0, ge=1, le=10, title="Back-off factor")
    jitter: float = Field(default=0.1, ge=0, le=1, title="Jitter (fraction)")

    def delay(self, failures: int, fraction: float = 0.5) -> float:
        """Seconds to wait after the ``failures``-th failed try. ``fraction`` in [0, 1)
        picks the point in the jitter band (0.5: no jitter)."""
        raw = self.base_delay_s * self.factor ** max(failures - 1, 0)
        spread = 1.0 + self.jitter * (2.0 * fraction - 1.0)
        return float(min(self.max_delay_s, raw * spread))


def secret_fields(channels: Sequence[ChannelBase]) -> dict[str, tuple[str, ...]]:
    """Channel id -> the keyring fields it uses (for export notes, deletion)."""
    return {c.id: c.secret_fields for c in channels}
