"""Slack: a message through an incoming webhook, whose URL is the channel's secret.

The message is a plain ``text`` line (also the notification text) and one attachment
with the summary and fields, coloured by severity (green once resolved).
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from etcdmon_gui.model.alerts import AlertEvent
from etcdmon_gui.notify.base import Channel, ChannelBase, SecretField
from etcdmon_gui.notify.http import post
from etcdmon_gui.notify.payloads import (
    CLIENT_NAME,
    colour,
    describe,
    format_value,
    headline,
    json_body,
    severity_name,
)
from etcdmon_gui.notify.registry import ChannelKind


class SlackChannelConfig(ChannelBase):
    """A Slack incoming webhook. Its URL is the ``slack_webhook`` secret."""

    secret_fields: ClassVar[tuple[SecretField, ...]] = (
        SecretField(
            "slack_webhook",
            "Slack webhook URL",
            "The incoming webhook's URL (https://hooks.slack.com/services/…)",
            kind="url",
        ),
    )

    type: Literal["slack"] = "slack"


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_payload(event: AlertEvent) -> dict[str, Any]:
    """An incoming-webhook message: a plain ``text`` line (also the notification
    text) and one attachment with the summary and fields, coloured by severity."""
    a = event.alert
    line = _escape(headline(event))
    fields = [
        {"title": "Severity", "value": severity_name(a.severity), "short": True},
        {"title": "Cluster", "value": _escape(a.cluster_name), "short": True},
    ]
    if a.member:
        fields.append({"title": "Member", "value": _escape(a.member), "short": True})
    value = format_value(a.value)
    if value is not None:
        fields.append({"title": "Value", "value": value, "short": True})
    return {
        "text": line,
        "attachments": [
            {
                "color": colour(event),
                "fallback": _escape(describe(event)),
                "title": line,
                "text": _escape(a.summary),
                "fields": fields,
                "footer": f"{CLIENT_NAME} · {a.fingerprint}",
                "ts": int(event.at),
            }
        ],
    }


class SlackChannel(Channel):
    config: SlackChannelConfig

    def send(self, event: AlertEvent) -> None:
        url = self._secret("slack_webhook")
        post(url, json_body(slack_payload(event)), timeout=self.config.timeout_s)


KIND = ChannelKind(
    settings=SlackChannelConfig,
    sender=SlackChannel,
    title="Slack",
    badge="S",
    order=20,
    description="Posts to a Slack channel through an incoming webhook.",
)
