"""What each channel sends, built from alert events by pure functions (no I/O).

- ``alertmanager_payload``: the JSON body of Alertmanager's webhook receiver (version
  "4"), so existing Alertmanager webhook receivers work unchanged.
- ``slack_payload``: an incoming-webhook message with one attachment coloured by
  severity (green once resolved).
- ``pagerduty_event``: an Events API v2 event; ``trigger`` on FIRING/REPEAT,
  ``resolve`` on RESOLVED, the alert fingerprint as ``dedup_key``.
- ``email_message``: a multipart/alternative message with plain-text and HTML parts.

None of these take or return a secret except ``pagerduty_event`` (the routing key
belongs in the body) and ``signature`` (the HMAC of a body).
"""

from __future__ import annotations

import hashlib
import hmac
import html
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from etcdmon_gui import __version__
from etcdmon_gui.model.alerts import Alert, AlertEvent, AlertState, EventKind, Severity

CLIENT_NAME = "etcdmon-gui"
USER_AGENT = f"{CLIENT_NAME}/{__version__}"

# Alertmanager's endsAt for an alert that has not ended (Go's zero time).
ZERO_TIME = "0001-01-01T00:00:00Z"

SLACK_COLOURS: dict[Severity, str] = {
    Severity.CRITICAL: "#E01E5A",
    Severity.WARNING: "#ECB22E",
    Severity.INFO: "#36C5F0",
}
SLACK_RESOLVED_COLOUR = "#2EB67D"

PAGERDUTY_SEVERITY: dict[Severity, str] = {
    Severity.CRITICAL: "critical",
    Severity.WARNING: "warning",
    Severity.INFO: "info",
}

TEST_RULE = "EtcdmonTestNotification"


def rfc3339(ts: float) -> str:
    """UTC RFC 3339 with milliseconds, e.g. ``2024-05-01T12:00:00.250Z``."""
    text = datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


def _human_time(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def severity_name(severity: Severity) -> str:
    return severity.name.lower()


def is_resolved(event: AlertEvent) -> bool:
    return event.kind is EventKind.RESOLVED


def where(alert: Alert) -> str:
    """``cluster`` or ``cluster / member``: what a person reads first."""
    return f"{alert.cluster_name} / {alert.member}" if alert.member else alert.cluster_name


def status_word(event: AlertEvent) -> str:
    return {EventKind.FIRING: "FIRING", EventKind.RESOLVED: "RESOLVED",
            EventKind.REPEAT: "STILL FIRING"}[event.kind]


def format_value(value: float | None) -> str | None:
    return None if value is None else f"{value:.6g}"


def headline(event: AlertEvent) -> str:
    """One line: ``FIRING critical: etcdNoLeader on prod / etcd-1``."""
    a = event.alert
    return f"{status_word(event)} {severity_name(a.severity)}: {a.rule} on {where(a)}"


def describe(event: AlertEvent) -> str:
    """The headline and the summary, for a log line or a desktop popup."""
    return f"{headline(event)}: {event.alert.summary}"


# -- Alertmanager webhook (version 4) --------------------------------------------------


def alert_labels(alert: Alert) -> dict[str, str]:
    """The alert's extra labels, then ``alertname``, ``severity``, ``cluster`` and
    (for a per-member rule) ``member``, which always win. A cluster-wide alert has no
    ``member`` label: Prometheus treats an empty label as absent."""
    labels = {k: v for k, v in alert.labels.items() if v}
    labels.update(alertname=alert.rule, severity=severity_name(alert.severity),
                  cluster=alert.cluster_name)
    if alert.member:
        labels["member"] = alert.member
    return labels


def _started(event: AlertEvent) -> float:
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
        "startsAt": rfc3339(_started(event)),
        "endsAt": rfc3339(ended) if resolved else ZERO_TIME,
        "generatorURL": generator_url,
        "fingerprint": a.fingerprint,
    }


def alertmanager_payload(events: Sequence[AlertEvent], receiver: str,
                         external_url: str = "") -> dict[str, Any]:
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
    group_labels = {k: v for k, v in common_labels.items()
                    if k in ("alertname", "cluster", "member")}
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


def signature(secret: str, body: bytes) -> str:
    """``sha256=<hex>``: HMAC-SHA256 of the exact request body, keyed by ``secret``."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify_signature(secret: str, body: bytes, header: str) -> bool:
    """What a receiver does: recompute and compare in constant time."""
    return hmac.compare_digest(signature(secret, body), header)


# -- Slack ---------------------------------------------------------------------------


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_colour(event: AlertEvent) -> str:
    return SLACK_RESOLVED_COLOUR if is_resolved(event) else SLACK_COLOURS[event.alert.severity]


def slack_payload(event: AlertEvent) -> dict[str, Any]:
    """An incoming-webhook message: a plain ``text`` line (also the notification
    text) and one attachment with the summary and fields, coloured by severity."""
    a = event.alert
    line = _slack_escape(headline(event))
    fields = [
        {"title": "Severity", "value": severity_name(a.severity), "short": True},
        {"title": "Cluster", "value": _slack_escape(a.cluster_name), "short": True},
    ]
    if a.member:
        fields.append({"title": "Member", "value": _slack_escape(a.member), "short": True})
    value = format_value(a.value)
    if value is not None:
        fields.append({"title": "Value", "value": value, "short": True})
    return {
        "text": line,
        "attachments": [{
            "color": slack_colour(event),
            "fallback": _slack_escape(describe(event)),
            "title": line,
            "text": _slack_escape(a.summary),
            "fields": fields,
            "footer": f"{CLIENT_NAME} · {a.fingerprint}",
            "ts": int(event.at),
        }],
    }


# -- PagerDuty Events API v2 ------------------------------------------------------------


def pagerduty_action(event: AlertEvent) -> str:
    return "resolve" if is_resolved(event) else "trigger"


def pagerduty_event(event: AlertEvent, routing_key: str, source: str | None = None,
                    action: str | None = None) -> dict[str, Any]:
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
            "timestamp": rfc3339(_started(event)),
            "component": a.member or "cluster",
            "group": a.cluster_name,
            "class": a.rule,
            "custom_details": details,
        },
        client=CLIENT_NAME,
    )
    return body


# -- e-mail ---------------------------------------------------------------------------


def _facts(event: AlertEvent) -> list[tuple[str, str]]:
    a = event.alert
    facts = [("Status", status_word(event)), ("Severity", severity_name(a.severity)),
             ("Rule", a.rule), ("Cluster", a.cluster_name)]
    if a.member:
        facts.append(("Member", a.member))
    value = format_value(a.value)
    if value is not None:
        facts.append(("Value", value))
    facts.append(("Since", _human_time(_started(event))))
    if is_resolved(event):
        facts.append(("Resolved", _human_time(a.resolved_at or event.at)))
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
    colour = slack_colour(event)
    rows = "\n".join(
        f'<tr><th align="left" style="padding-right:1em">{html.escape(k)}</th>'
        f"<td>{html.escape(v)}</td></tr>" for k, v in _facts(event))
    return (
        "<!DOCTYPE html>\n<html><body>\n"
        f'<h2 style="border-left:6px solid {colour};padding-left:8px">'
        f"{html.escape(headline(event))}</h2>\n"
        f"<p>{html.escape(event.alert.summary)}</p>\n"
        f"<table>\n{rows}\n</table>\n"
        f'<p style="color:#888">sent by {CLIENT_NAME}</p>\n'
        "</body></html>\n"
    )


def email_message(event: AlertEvent, sender: str, recipients: Sequence[str],
                  prefix: str = "[etcdmon]") -> EmailMessage:
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
