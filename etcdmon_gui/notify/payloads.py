"""What the channels send have in common, built from alert events by pure functions.

How an alert reads (``headline``, ``describe``, ``where``), its labels and times
(``alert_labels``, ``started``, ``rfc3339``), the colour of its severity, the test
notification (``make_test_event``), and Alertmanager's webhook body
(``alertmanager_payload``, version "4"), so that existing Alertmanager receivers work
unchanged. Each channel type's own payload (a Slack message, a PagerDuty event, an
e-mail) is built in its module under ``notify/channels``. Nothing here takes or returns
a secret.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from etcdmon_gui import __version__
from etcdmon_gui.model.alerts import Alert, AlertEvent, AlertState, EventKind, Severity

CLIENT_NAME = "etcdmon-gui"
USER_AGENT = f"{CLIENT_NAME}/{__version__}"

# Alertmanager's endsAt for an alert that has not ended (Go's zero time).
ZERO_TIME = "0001-01-01T00:00:00Z"

# A message's accent colour (Slack's attachment bar, the e-mail's heading): Slack's own
# palette, green once resolved.
SEVERITY_COLOURS: dict[Severity, str] = {
    Severity.CRITICAL: "#E01E5A",
    Severity.WARNING: "#ECB22E",
    Severity.INFO: "#36C5F0",
}
RESOLVED_COLOUR = "#2EB67D"

TEST_RULE = "EtcdmonTestNotification"


def json_body(data: Mapping[str, Any]) -> bytes:
    """A JSON payload as sent: UTF-8, non-ASCII text kept as it is."""
    return json.dumps(data, ensure_ascii=False).encode()


def rfc3339(ts: float) -> str:
    """UTC RFC 3339 with milliseconds, e.g. ``2024-05-01T12:00:00.250Z``."""
    text = datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


def human_time(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def severity_name(severity: Severity) -> str:
    return severity.name.lower()


def is_resolved(event: AlertEvent) -> bool:
    return event.kind is EventKind.RESOLVED


def where(alert: Alert) -> str:
    """``cluster`` or ``cluster / member``: what a person reads first."""
    return f"{alert.cluster_name} / {alert.member}" if alert.member else alert.cluster_name


def status_word(event: AlertEvent) -> str:
    return {
        EventKind.FIRING: "FIRING",
        EventKind.RESOLVED: "RESOLVED",
        EventKind.REPEAT: "STILL FIRING",
    }[event.kind]


def format_value(value: float | None) -> str | None:
    return None if value is None else f"{value:.6g}"


def headline(event: AlertEvent) -> str:
    """One line: ``FIRING critical: etcdNoLeader on prod / etcd-1``."""
    a = event.alert
    return f"{status_word(event)} {severity_name(a.severity)}: {a.rule} on {where(a)}"


def colour(event: AlertEvent) -> str:
    """The accent colour of a message about ``event``."""
    return RESOLVED_COLOUR if is_resolved(event) else SEVERITY_COLOURS[event.alert.severity]


def describe(event: AlertEvent) -> str:
    """The headline and the summary, for a log line or a desktop popup."""
    return f"{headline(event)}: {event.alert.summary}"


# -- Alertmanager webhook (version 4) --------------------------------------------------


def alert_labels(alert: Alert) -> dict[str, str]:
    """The alert's extra labels, then ``alertname``, ``severity``, ``cluster`` and
    (for a per-member rule) ``member``, which always win. A cluster-wide alert has no
    ``member`` label: Prometheus treats an empty label as absent."""
    labels = {k: v for k, v in alert.labels.items() if v}
    labels.update(
        alertname=alert.rule, severity=severity_name(alert.severity), cluster=alert.cluster_name
    )
    if alert.member:
        labels["member"] = alert.member
    return labels


def started(event: AlertEvent) -> float:
    """When the alert began, as Alertmanager's ``startsAt`` counts it."""
    a = event.alert
    if a.fired_at is not None:
        return a.fired_at
    if a.state is AlertState.FIRING or event.kind is not EventKind.RESOLVED:
        return a.since
    return a.active_at if a.active_at is not None else event.at


def _label_set(labels: Mapping[str, str]) -> str:
    inner = ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    return "{" + inner + "}"


def _common(maps: Sequence[Mapping[str, str]]) -> dict[str, str]:
    if not maps:
        return {}
    first = maps[0]
    return {k: v for k, v in first.items() if all(m.get(k) == v for m in maps[1:])}


def alertmanager_alert(event: AlertEvent, generator_url: str = "") -> dict[str, Any]:
    a = event.alert
    resolved = is_resolved(event)
    annotations = {"summary": a.summary}
    value = format_value(a.value)
    if value is not None:
        annotations["value"] = value
    ended = a.resolved_at if a.resolved_at is not None else event.at
    return {
        "status": "resolved" if resolved else "firing",
        "labels": alert_labels(a),
        "annotations": annotations,
        "startsAt": rfc3339(started(event)),
        "endsAt": rfc3339(ended) if resolved else ZERO_TIME,
        "generatorURL": generator_url,
        "fingerprint": a.fingerprint,
    }


def alertmanager_payload(
    events: Sequence[AlertEvent], receiver: str, external_url: str = ""
) -> dict[str, Any]:
    """Alertmanager's webhook body for one group of events.

    The group is keyed by the labels every alert shares among ``alertname``,
    ``cluster`` and ``member``; with one event (what the dispatcher sends) that is the
    alert's identity, so ``groupKey`` is as stable as its fingerprint.
    """
    if not events:
        raise ValueError("a webhook message needs at least one alert")
    alerts = [alertmanager_alert(e) for e in events]
    labels = [a["labels"] for a in alerts]
    common_labels = _common(labels)
    group_labels = {
        k: v for k, v in common_labels.items() if k in ("alertname", "cluster", "member")
    }
    firing = any(a["status"] == "firing" for a in alerts)
    return {
        "version": "4",
        "groupKey": "{}:" + _label_set(group_labels),
        "truncatedAlerts": 0,
        "status": "firing" if firing else "resolved",
        "receiver": receiver,
        "groupLabels": group_labels,
        "commonLabels": common_labels,
        "commonAnnotations": _common([a["annotations"] for a in alerts]),
        "externalURL": external_url,
        "alerts": alerts,
    }


# -- test notifications ---------------------------------------------------------------


def make_test_event(channel_id: str, now: float) -> AlertEvent:
    """A harmless, clearly labelled event for the "send test notification" button."""
    alert = Alert(
        fingerprint=f"test-{channel_id}-{int(now * 1000)}",
        rule=TEST_RULE,
        severity=Severity.INFO,
        cluster="test",
        cluster_name="etcdmon test",
        member=None,
        state=AlertState.FIRING,
        value=None,
        summary="Test notification from etcdmon-gui: this channel can deliver alerts.",
        since=now,
        active_at=now,
        fired_at=now,
        labels={"test": "true"},
    )
    return AlertEvent(kind=EventKind.FIRING, alert=alert, at=now)
