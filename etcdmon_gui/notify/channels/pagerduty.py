"""PagerDuty Events API v2: ``trigger`` on FIRING/REPEAT, ``resolve`` on RESOLVED, the
alert's fingerprint as ``dedup_key``. The routing (integration) key is the channel's
secret; it belongs in the body, so the body is never logged."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator

from etcdmon_gui.model.alerts import AlertEvent, Severity
from etcdmon_gui.notify.base import Channel, ChannelBase, SecretField, http_url
from etcdmon_gui.notify.errors import ChannelError
from etcdmon_gui.notify.http import post
from etcdmon_gui.notify.payloads import (
    CLIENT_NAME,
    alert_labels,
    format_value,
    is_resolved,
    json_body,
    rfc3339,
    started,
    where,
)
from etcdmon_gui.notify.registry import ChannelKind

PAGERDUTY_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"

PAGERDUTY_SEVERITY: dict[Severity, str] = {
    Severity.CRITICAL: "critical",
    Severity.WARNING: "warning",
    Severity.INFO: "info",
}


class PagerDutyChannelConfig(ChannelBase):
    """PagerDuty Events API v2. The routing (integration) key is the
    ``pagerduty_routing_key`` secret; ``events_url`` only changes for a proxy or a test."""

    secret_fields: ClassVar[tuple[SecretField, ...]] = (
        SecretField(
            "pagerduty_routing_key",
            "Routing key",
            "The integration key of the PagerDuty service",
            noun="PagerDuty routing key",
        ),
    )

    type: Literal["pagerduty"] = "pagerduty"
    events_url: str = Field(default=PAGERDUTY_EVENTS_URL, title="Events API URL")
    source: str | None = Field(
        default=None,
        title="Source",
        description="payload.source (default: cluster and member)",
        json_schema_extra={"placeholder": "cluster and member"},
    )

    @field_validator("events_url")
    @classmethod
    def _events_url(cls, value: str) -> str:
        return http_url(value)


def pagerduty_action(event: AlertEvent) -> str:
    return "resolve" if is_resolved(event) else "trigger"


def pagerduty_event(
    event: AlertEvent, routing_key: str, source: str | None = None, action: str | None = None
) -> dict[str, Any]:
    """An Events API v2 alert event. ``action`` overrides the one the event implies
    (a test notification triggers, then resolves)."""
    a = event.alert
    action = action or pagerduty_action(event)
    body: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": action,
        "dedup_key": a.fingerprint[:255],
    }
    if action != "trigger":
        return body
    details: dict[str, Any] = {"fingerprint": a.fingerprint, "labels": alert_labels(a)}
    value = format_value(a.value)
    if value is not None:
        details["value"] = value
    body.update(
        payload={
            "summary": f"{a.rule} on {where(a)}: {a.summary}"[:1024],
            "source": source or where(a),
            "severity": PAGERDUTY_SEVERITY[a.severity],
            "timestamp": rfc3339(started(event)),
            "component": a.member or "cluster",
            "group": a.cluster_name,
            "class": a.rule,
            "custom_details": details,
        },
        client=CLIENT_NAME,
    )
    return body


class PagerDutyChannel(Channel):
    config: PagerDutyChannelConfig

    def _event(self, event: AlertEvent, action: str | None = None) -> None:
        key = self._secret("pagerduty_routing_key")
        body = pagerduty_event(event, key, self.config.source, action)
        post(self.config.events_url, json_body(body), timeout=self.config.timeout_s)

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
                permanent=True,
            ) from None


KIND = ChannelKind(
    settings=PagerDutyChannelConfig,
    sender=PagerDutyChannel,
    title="PagerDuty",
    badge="PD",
    order=30,
    description="Triggers and resolves PagerDuty incidents (Events API v2).",
)
