"""Notification channels: each sends one alert event, once, or raises ``ChannelError``.

A channel does no retrying and keeps no queue (that is the dispatcher's job); it
reads its secrets from the ``SecretStore`` at send time, so an edited secret applies to
the next delivery, and it bounds every network call by its config's ``timeout_s``.
Its errors are readable and hold no secret: ``Channel.scrub`` removes every secret the
channel has read from any text, and URLs are shown as ``scheme://host/…``.

``send`` runs on a dispatcher thread, never the GUI thread. The desktop channel only
calls the notifier the GUI provides, which must be safe to call from another thread
(e.g. one that emits a Qt signal).
"""

from __future__ import annotations

import json
import logging
import smtplib
import socket
import ssl
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from etcdmon_gui.model.alerts import AlertEvent
from etcdmon_gui.notify import payloads
from etcdmon_gui.notify.config import (
    ChannelBase,
    ChannelConfig,
    DesktopChannelConfig,
    EmailChannelConfig,
    LogChannelConfig,
    PagerDutyChannelConfig,
    SlackChannelConfig,
    WebhookChannelConfig,
)
from etcdmon_gui.notify.errors import ChannelError, redact_url, scrub
from etcdmon_gui.notify.http import describe_network_error, post
from etcdmon_gui.store.secrets import SecretStore, SecretStoreError

log = logging.getLogger(__name__)

DesktopNotifier = Callable[[AlertEvent], None]

_SECRET_TITLES = {
    "smtp_password": "SMTP password",
    "slack_webhook": "Slack webhook URL",
    "webhook_url": "webhook URL",
    "webhook_secret": "signing secret",
    "pagerduty_routing_key": "PagerDuty routing key",
}


class Channel(ABC):
    """One configured channel, ready to send."""

    def __init__(self, config: ChannelBase, secrets: SecretStore | None = None) -> None:
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
        title = _SECRET_TITLES.get(field, field)
        if self._secrets is None:
            raise ChannelError(f"no secret store to read the {title} from", permanent=True)
        try:
            value = self._secrets.get(self.id, field)
        except SecretStoreError as exc:  # e.g. a locked keyring: it may be unlocked later
            raise ChannelError(str(exc)) from None
        if not value:
            raise ChannelError(
                f"no {title} is stored for channel {self.name!r} in "
                f"{self._secrets.info.name}: enter it in the channel's settings",
                permanent=True)
        with self._lock:
            self._seen.add(value)
        return value


# -- e-mail ---------------------------------------------------------------------------


class EmailChannel(Channel):
    config: EmailChannelConfig

    def __init__(self, config: EmailChannelConfig, secrets: SecretStore | None) -> None:
        super().__init__(config, secrets)

    def _tls_context(self) -> ssl.SSLContext:
        c = self.config
        try:
            ctx = ssl.create_default_context(cafile=c.ca_file)
        except (OSError, ssl.SSLError) as exc:
            raise ChannelError(f"cannot use the CA file {c.ca_file}: "
                               f"{getattr(exc, 'strerror', None) or exc}",
                               permanent=True) from None
        if not c.verify_tls:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        return ctx

    def send(self, event: AlertEvent) -> None:
        c = self.config
        message = payloads.email_message(event, c.sender, c.recipients, c.subject_prefix)
        password = self._secret("smtp_password") if c.username else None
        context = self._tls_context() if c.security != "none" else None
        helo = c.helo_name or socket.gethostname() or "localhost"
        where = f"SMTP {c.host}:{c.port}"
        smtp: smtplib.SMTP
        try:
            if c.security == "tls":
                smtp = smtplib.SMTP_SSL(c.host, c.port, local_hostname=helo,
                                        timeout=c.timeout_s, context=context)
            else:
                smtp = smtplib.SMTP(c.host, c.port, local_hostname=helo, timeout=c.timeout_s)
            with smtp:
                if c.security == "starttls":
                    smtp.starttls(context=context)
                if c.username and password is not None:
                    smtp.login(c.username, password)
                refused = smtp.send_message(message)
        except smtplib.SMTPException as exc:
            raise self._smtp_error(where, exc) from None
        except (OSError, ValueError) as exc:
            reason, permanent = describe_network_error(exc, c.timeout_s)
            raise ChannelError(f"{where}: {reason}", permanent=permanent) from None
        if refused:
            listing = ", ".join(f"{addr} ({code} {_text(resp)})"
                                for addr, (code, resp) in refused.items())
            raise ChannelError(f"{where} refused some recipients: {listing}", permanent=True)

    def _smtp_error(self, where: str, exc: smtplib.SMTPException) -> ChannelError:
        c = self.config
        if isinstance(exc, smtplib.SMTPAuthenticationError):
            return ChannelError(f"{where} refused the login of {c.username!r}: "
                                f"{exc.smtp_code} {_text(exc.smtp_error)}", permanent=True)
        if isinstance(exc, smtplib.SMTPNotSupportedError):
            what = "STARTTLS" if "starttls" in str(exc).lower() else "this request"
            return ChannelError(f"{where} does not support {what} ({exc})", permanent=True)
        if isinstance(exc, smtplib.SMTPRecipientsRefused):
            listing = ", ".join(f"{addr} ({code} {_text(resp)})"
                                for addr, (code, resp) in exc.recipients.items())
            return ChannelError(f"{where} refused the recipients: {listing}", permanent=True)
        if isinstance(exc, smtplib.SMTPResponseException):
            permanent = 500 <= exc.smtp_code < 600
            return ChannelError(f"{where} answered {exc.smtp_code} {_text(exc.smtp_error)}",
                                permanent=permanent)
        if isinstance(exc, smtplib.SMTPServerDisconnected):
            return ChannelError(f"{where}: the server closed the connection ({exc})")
        return ChannelError(f"{where}: {exc or type(exc).__name__}")


def _text(value: bytes | str) -> str:
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
    return " ".join(text.split())


# -- Slack ----------------------------------------------------------------------------


def _json(data: dict[str, Any]) -> bytes:
    return json.dumps(data, ensure_ascii=False).encode()


class SlackChannel(Channel):
    config: SlackChannelConfig

    def __init__(self, config: SlackChannelConfig, secrets: SecretStore | None) -> None:
        super().__init__(config, secrets)

    def send(self, event: AlertEvent) -> None:
        url = self._secret("slack_webhook")
        post(url, _json(payloads.slack_payload(event)), timeout=self.config.timeout_s)


# -- PagerDuty ------------------------------------------------------------------------


class PagerDutyChannel(Channel):
    config: PagerDutyChannelConfig

    def __init__(self, config: PagerDutyChannelConfig, secrets: SecretStore | None) -> None:
        super().__init__(config, secrets)

    def _event(self, event: AlertEvent, action: str | None = None) -> None:
        key = self._secret("pagerduty_routing_key")
        body = payloads.pagerduty_event(event, key, self.config.source, action)
        post(self.config.events_url, _json(body), timeout=self.config.timeout_s)

    def send(self, event: AlertEvent) -> None:
        self._event(event)

    def send_test(self, event: AlertEvent) -> None:
        """Trigger, then resolve at once, so the test leaves no open incident."""
        self._event(event, "trigger")
        try:
            self._event(event, "resolve")
        except ChannelError as exc:
            raise ChannelError(
                f"the test incident was triggered but resolving it failed ({exc}); "
                f"resolve it in PagerDuty (dedup key {event.alert.fingerprint})",
                permanent=True) from None


# -- generic webhook (Alertmanager format) ----------------------------------------------


class WebhookChannel(Channel):
    config: WebhookChannelConfig

    def __init__(self, config: WebhookChannelConfig, secrets: SecretStore | None) -> None:
        super().__init__(config, secrets)

    def body(self, event: AlertEvent) -> bytes:
        c = self.config
        return _json(payloads.alertmanager_payload([event], c.receiver, c.external_url))

    def send(self, event: AlertEvent) -> None:
        c = self.config
        url = self._secret("webhook_url")
        body = self.body(event)
        headers = {}
        if c.sign:
            key = self._secret(c.signing_secret_field)
            headers[c.signature_header] = payloads.signature(key, body)
        post(url, body, timeout=c.timeout_s, headers=headers, verify=c.verify_tls)


# -- desktop and log ------------------------------------------------------------------


class DesktopChannel(Channel):
    """Hands the event to the desktop notifier (a tray popup); no network."""

    config: DesktopChannelConfig

    def __init__(self, config: DesktopChannelConfig,
                 notifier: DesktopNotifier | None) -> None:
        super().__init__(config)
        self._notifier = notifier

    def send(self, event: AlertEvent) -> None:
        if self._notifier is None:
            raise ChannelError("no desktop notifier in this session (running headless?)",
                               permanent=True)
        try:
            self._notifier(event)
        except ChannelError:
            raise
        except Exception as exc:  # the GUI's callback: report, never kill the worker
            raise ChannelError(f"the desktop notifier failed: {type(exc).__name__}: {exc}",
                               permanent=True) from None


class LogChannel(Channel):
    """One line per event in the application log."""

    config: LogChannelConfig

    def __init__(self, config: LogChannelConfig) -> None:
        super().__init__(config)

    def send(self, event: AlertEvent) -> None:
        level = logging.getLevelName(self.config.level.upper())
        log.log(level, "alert %s (fingerprint %s)", payloads.describe(event),
                event.alert.fingerprint)


def adhoc_webhook(url: str, secrets: SecretStore, number: int = 1) -> WebhookChannelConfig:
    """A generic webhook channel from a bare URL (``etcdmon watch --webhook URL``). The
    URL is stored in ``secrets`` (typically ``SecretStore.memory()``) under the new
    channel's id, like any webhook URL, so it stays out of logs and records."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) URL: {redact_url(url)}")
    config = WebhookChannelConfig(id=f"cli-webhook-{number}", name=f"webhook {number}")
    secrets.set(config.id, "webhook_url", url)
    return config


def build_channel(config: ChannelConfig | ChannelBase, secrets: SecretStore | None,
                  desktop: DesktopNotifier | None = None) -> Channel:
    """The channel for ``config``. ``desktop`` is the GUI's notifier (None headless)."""
    if isinstance(config, EmailChannelConfig):
        return EmailChannel(config, secrets)
    if isinstance(config, SlackChannelConfig):
        return SlackChannel(config, secrets)
    if isinstance(config, PagerDutyChannelConfig):
        return PagerDutyChannel(config, secrets)
    if isinstance(config, WebhookChannelConfig):
        return WebhookChannel(config, secrets)
    if isinstance(config, DesktopChannelConfig):
        return DesktopChannel(config, desktop)
    if isinstance(config, LogChannelConfig):
        return LogChannel(config)
    raise TypeError(f"no channel for {type(config).__name__}")
