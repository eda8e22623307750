"""A generic webhook receiving Alertmanager's webhook JSON (version 4), optionally
signed with HMAC-SHA256. The URL (its path often acts as a password) and the signing
key are the channel's secrets."""

from __future__ import annotations

import hashlib
import hmac
from typing import ClassVar, Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator

from etcdmon_gui.model.alerts import AlertEvent
from etcdmon_gui.notify.base import Channel, ChannelBase, SecretField, SecretWriter, http_url
from etcdmon_gui.notify.errors import redact_url
from etcdmon_gui.notify.http import post
from etcdmon_gui.notify.payloads import alertmanager_payload, json_body
from etcdmon_gui.notify.registry import ChannelKind


class WebhookChannelConfig(ChannelBase):
    """A generic webhook receiving Alertmanager's webhook JSON (version 4). The URL is
    the ``webhook_url`` secret. With ``sign`` set, the body is signed with HMAC-SHA256
    using the ``webhook_secret`` secret of this channel (its shared signing key)."""

    secret_fields: ClassVar[tuple[SecretField, ...]] = (
        SecretField(
            "webhook_url",
            "Webhook URL",
            "Where the JSON is POSTed; its path often acts as a password",
            kind="url",
            noun="webhook URL",
        ),
        SecretField(
            "webhook_secret",
            "Signing secret",
            "The shared key of the HMAC-SHA256 signature",
            noun="signing secret",
            only_with="sign",
            unused="only when signing the body",
        ),
    )

    type: Literal["webhook"] = "webhook"
    receiver: str = Field(
        default="etcdmon",
        title="Receiver name",
        min_length=1,
        description="The payload's 'receiver' field",
    )
    external_url: str = Field(
        default="",
        title="External URL",
        description="The payload's 'externalURL' field (may be empty)",
        json_schema_extra={"placeholder": "optional, e.g. https://etcdmon.example.com"},
    )
    sign: bool = Field(default=False, title="Sign the body (HMAC-SHA256)")
    signature_header: str = Field(
        default="X-Etcdmon-Signature",
        title="Signature header",
        pattern=r"^[A-Za-z0-9-]{1,64}$",
        description="Header carrying sha256=<hex HMAC of the body>",
    )
    verify_tls: bool = Field(default=True, title="Verify the server's certificate")

    @field_validator("external_url")
    @classmethod
    def _external_url(cls, value: str) -> str:
        return http_url(value) if value else value


def signature(secret: str, body: bytes) -> str:
    """``sha256=<hex>``: HMAC-SHA256 of the exact request body, keyed by ``secret``."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify_signature(secret: str, body: bytes, header: str) -> bool:
    """What a receiver does: recompute and compare in constant time."""
    return hmac.compare_digest(signature(secret, body), header)


class WebhookChannel(Channel):
    config: WebhookChannelConfig

    def body(self, event: AlertEvent) -> bytes:
        c = self.config
        return json_body(alertmanager_payload([event], c.receiver, c.external_url))

    def send(self, event: AlertEvent) -> None:
        c = self.config
        url = self._secret("webhook_url")
        body = self.body(event)
        headers = {}
        if c.sign:
            headers[c.signature_header] = signature(self._secret("webhook_secret"), body)
        post(url, body, timeout=c.timeout_s, headers=headers, verify=c.verify_tls)


def adhoc_webhook(url: str, secrets: SecretWriter, number: int = 1) -> WebhookChannelConfig:
    """A generic webhook channel from a bare URL (``etcdmon watch --webhook URL``). The
    URL is stored in ``secrets`` (typically ``SecretStore.memory()``) under the new
    channel's id, like any webhook URL, so it stays out of logs and records."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) URL: {redact_url(url)}")
    config = WebhookChannelConfig(id=f"cli-webhook-{number}", name=f"webhook {number}")
    secrets.set(config.id, "webhook_url", url)
    return config


KIND = ChannelKind(
    settings=WebhookChannelConfig,
    sender=WebhookChannel,
    title="Webhook",
    badge="{}",
    order=40,
    description="POSTs Alertmanager's webhook JSON (version 4) to a URL.",
)
