"""E-mail through an SMTP server: settings, the message, and its sending.

The message is multipart/alternative, plain text and HTML. The SMTP password (needed
only with a user name) is the ``smtp_password`` secret. TLS certificates are verified
unless ``verify_tls`` is turned off.
"""

from __future__ import annotations

import html
import smtplib
import socket
import ssl
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from typing import ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from etcdmon_gui.model.alerts import AlertEvent
from etcdmon_gui.net import describe_network_error
from etcdmon_gui.notify.base import Channel, ChannelBase, SecretField
from etcdmon_gui.notify.errors import ChannelError
from etcdmon_gui.notify.payloads import (
    CLIENT_NAME,
    colour,
    format_value,
    headline,
    human_time,
    is_resolved,
    severity_name,
    started,
    status_word,
)
from etcdmon_gui.notify.registry import ChannelKind


def _check_address(value: str) -> None:
    _, address = parseaddr(value)
    local, at, domain = address.rpartition("@")
    if not (local and at and domain) or any(c.isspace() for c in address):
        raise ValueError(f"{value!r} is not an e-mail address")


class EmailChannelConfig(ChannelBase):
    """SMTP submission. The password (if ``username`` is set) is the ``smtp_password``
    secret. TLS certificates are verified unless ``verify_tls`` is turned off."""

    secret_fields: ClassVar[tuple[SecretField, ...]] = (
        SecretField(
            "smtp_password",
            "SMTP password",
            "The password of the SMTP user",
            kind="password",
            only_with="username",
            unused="only with a user name",
        ),
    )

    type: Literal["email"] = "email"
    host: str = Field(
        title="SMTP server", min_length=1, json_schema_extra={"placeholder": "smtp.example.com"}
    )
    port: int = Field(
        default=587,
        ge=1,
        le=65535,
        title="Port",
        description="587 for STARTTLS, 465 for implicit TLS",
    )
    security: Literal["starttls", "tls", "none"] = Field(
        default="starttls",
        title="Security",
        description="starttls: upgrade after connecting; tls: TLS from the start (SMTPS); "
        "none: plain text, for a relay on this machine only",
        json_schema_extra={
            "choices": {
                "starttls": "STARTTLS (upgrade after connecting)",
                "tls": "TLS from the start (SMTPS)",
                "none": "None: plain text, local relay only",
            }
        },
    )
    verify_tls: bool = Field(default=True, title="Verify the server's certificate")
    ca_file: str | None = Field(
        default=None,
        title="CA certificate",
        description="PEM bundle for a private CA (default: system)",
        json_schema_extra={"placeholder": "the system's CA certificates"},
    )
    username: str | None = Field(
        default=None, title="User name", json_schema_extra={"placeholder": "no login"}
    )
    sender: str = Field(
        title="From",
        min_length=3,
        json_schema_extra={"placeholder": "etcdmon <etcdmon@example.com>"},
    )
    recipients: list[str] = Field(
        title="To",
        min_length=1,
        json_schema_extra={"placeholder": "ops@example.com, oncall@example.com"},
    )
    subject_prefix: str = Field(default="[etcdmon]", title="Subject prefix", max_length=50)
    helo_name: str | None = Field(
        default=None,
        title="EHLO name",
        description="Name this machine gives the server",
        json_schema_extra={"placeholder": "this machine's name"},
    )

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
            raise ValueError(
                "logging in without TLS would send the password in clear text: "
                "choose starttls or tls"
            )
        return self


# -- the message --------------------------------------------------------------------------


def _facts(event: AlertEvent) -> list[tuple[str, str]]:
    a = event.alert
    facts = [
        ("Status", status_word(event)),
        ("Severity", severity_name(a.severity)),
        ("Rule", a.rule),
        ("Cluster", a.cluster_name),
    ]
    if a.member:
        facts.append(("Member", a.member))
    value = format_value(a.value)
    if value is not None:
        facts.append(("Value", value))
    facts.append(("Since", human_time(started(event))))
    if is_resolved(event):
        facts.append(("Resolved", human_time(a.resolved_at or event.at)))
    facts.append(("Fingerprint", a.fingerprint))
    return facts


def email_subject(event: AlertEvent, prefix: str) -> str:
    text = headline(event)
    return f"{prefix} {text}" if prefix else text


def email_text(event: AlertEvent) -> str:
    facts = _facts(event)
    width = max(len(k) for k, _ in facts) + 1
    lines = [event.alert.summary, ""]
    lines += [f"{k + ':':<{width}} {v}" for k, v in facts]
    lines += ["", f"-- sent by {CLIENT_NAME}"]
    return "\n".join(lines) + "\n"


def email_html(event: AlertEvent) -> str:
    rows = "\n".join(
        f'<tr><th align="left" style="padding-right:1em">{html.escape(k)}</th>'
        f"<td>{html.escape(v)}</td></tr>"
        for k, v in _facts(event)
    )
    return (
        "<!DOCTYPE html>\n<html><body>\n"
        f'<h2 style="border-left:6px solid {colour(event)};padding-left:8px">'
        f"{html.escape(headline(event))}</h2>\n"
        f"<p>{html.escape(event.alert.summary)}</p>\n"
        f"<table>\n{rows}\n</table>\n"
        f'<p style="color:#888">sent by {CLIENT_NAME}</p>\n'
        "</body></html>\n"
    )


def email_message(
    event: AlertEvent, sender: str, recipients: Sequence[str], prefix: str = "[etcdmon]"
) -> EmailMessage:
    """multipart/alternative: text/plain first, text/html preferred by mail readers."""
    msg = EmailMessage()
    msg["Subject"] = email_subject(event, prefix)
    msg["From"] = sender
    msg["To"] = ", ".join(recipients)
    msg["Date"] = formatdate(event.at, usegmt=True)
    # An explicit domain: make_msgid's default asks DNS for this machine's FQDN.
    msg["Message-ID"] = make_msgid(domain=CLIENT_NAME + ".invalid")
    msg["X-Etcdmon-Fingerprint"] = event.alert.fingerprint
    msg.set_content(email_text(event))
    msg.add_alternative(email_html(event), subtype="html")
    return msg


# -- sending ------------------------------------------------------------------------------


def _text(value: bytes | str) -> str:
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
    return " ".join(text.split())


class EmailChannel(Channel):
    config: EmailChannelConfig

    def _tls_context(self) -> ssl.SSLContext:
        c = self.config
        try:
            ctx = ssl.create_default_context(cafile=c.ca_file)
        except (OSError, ssl.SSLError) as exc:
            raise ChannelError(
                f"cannot use the CA file {c.ca_file}: {getattr(exc, 'strerror', None) or exc}",
                permanent=True,
            ) from None
        if not c.verify_tls:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        return ctx

    def send(self, event: AlertEvent) -> None:
        c = self.config
        message = email_message(event, c.sender, c.recipients, c.subject_prefix)
        password = self._secret("smtp_password") if c.username else None
        context = self._tls_context() if c.security != "none" else None
        helo = c.helo_name or socket.gethostname() or "localhost"
        where = f"SMTP {c.host}:{c.port}"
        smtp: smtplib.SMTP
        try:
            if c.security == "tls":
                smtp = smtplib.SMTP_SSL(
                    c.host, c.port, local_hostname=helo, timeout=c.timeout_s, context=context
                )
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
            listing = ", ".join(
                f"{addr} ({code} {_text(resp)})" for addr, (code, resp) in refused.items()
            )
            raise ChannelError(f"{where} refused some recipients: {listing}", permanent=True)

    def _smtp_error(self, where: str, exc: smtplib.SMTPException) -> ChannelError:
        c = self.config
        if isinstance(exc, smtplib.SMTPAuthenticationError):
            return ChannelError(
                f"{where} refused the login of {c.username!r}: "
                f"{exc.smtp_code} {_text(exc.smtp_error)}",
                permanent=True,
            )
        if isinstance(exc, smtplib.SMTPNotSupportedError):
            what = "STARTTLS" if "starttls" in str(exc).lower() else "this request"
            return ChannelError(f"{where} does not support {what} ({exc})", permanent=True)
        if isinstance(exc, smtplib.SMTPRecipientsRefused):
            listing = ", ".join(
                f"{addr} ({code} {_text(resp)})" for addr, (code, resp) in exc.recipients.items()
            )
            return ChannelError(f"{where} refused the recipients: {listing}", permanent=True)
        if isinstance(exc, smtplib.SMTPResponseException):
            permanent = 500 <= exc.smtp_code < 600
            return ChannelError(
                f"{where} answered {exc.smtp_code} {_text(exc.smtp_error)}", permanent=permanent
            )
        if isinstance(exc, smtplib.SMTPServerDisconnected):
            return ChannelError(f"{where}: the server closed the connection ({exc})")
        return ChannelError(f"{where}: {exc or type(exc).__name__}")


KIND = ChannelKind(
    settings=EmailChannelConfig,
    sender=EmailChannel,
    title="E-mail",
    badge="@",
    order=10,
    description="Sends an e-mail (HTML and plain text) through an SMTP server.",
)
