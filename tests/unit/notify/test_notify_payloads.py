"""What each channel sends, checked on the built payloads (no network)."""

from __future__ import annotations

import json
import re
from email import message_from_bytes, policy

import pytest

from etcdmon_gui.model.alerts import EventKind, Severity
from etcdmon_gui.notify import payloads
from etcdmon_gui.notify.channels import email as email_channel
from etcdmon_gui.notify.channels import pagerduty, slack, webhook
from tests.unit.notify.notify_events import T0, EventFactory

RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


def test_rfc3339_is_utc_with_z() -> None:
    assert payloads.rfc3339(T0) == "2024-05-01T12:00:00.000Z"
    assert payloads.rfc3339(T0 + 0.25) == "2024-05-01T12:00:00.250Z"


def test_alertmanager_payload_while_firing(event: EventFactory) -> None:
    body = payloads.alertmanager_payload(
        [event(labels={"team": "db"})], "etcdmon", "https://etcdmon.example"
    )
    assert body["version"] == "4"
    assert body["status"] == "firing"
    assert body["receiver"] == "etcdmon"
    assert body["externalURL"] == "https://etcdmon.example"
    assert body["truncatedAlerts"] == 0
    (alert,) = body["alerts"]
    assert alert["status"] == "firing"
    assert alert["labels"] == {
        "alertname": "etcdNoLeader",
        "severity": "critical",
        "cluster": "prod",
        "member": "etcd-1",
        "team": "db",
    }
    assert alert["annotations"]["summary"] == "member etcd-1 has no leader"
    assert alert["startsAt"] == "2024-05-01T12:00:00.000Z"
    assert alert["endsAt"] == "0001-01-01T00:00:00Z"  # what Alertmanager sends while firing
    assert alert["fingerprint"] == "3f1c9a7e5d2b4c60"
    assert "generatorURL" in alert
    assert body["groupLabels"] == {
        "alertname": "etcdNoLeader",
        "cluster": "prod",
        "member": "etcd-1",
    }
    assert body["groupKey"] == '{}:{alertname="etcdNoLeader", cluster="prod", member="etcd-1"}'
    assert body["commonLabels"] == alert["labels"]
    assert body["commonAnnotations"]["summary"] == alert["annotations"]["summary"]
    json.dumps(body)  # plain JSON types only


def test_alertmanager_payload_resolved_and_repeat(event: EventFactory) -> None:
    resolved = payloads.alertmanager_payload([event(EventKind.RESOLVED, at=T0 + 90)], "r")
    assert resolved["status"] == "resolved"
    (alert,) = resolved["alerts"]
    assert alert["status"] == "resolved"
    assert alert["startsAt"] == "2024-05-01T12:00:00.000Z"
    assert alert["endsAt"] == "2024-05-01T12:01:30.000Z"
    assert RFC3339.match(alert["endsAt"])
    repeat = payloads.alertmanager_payload([event(EventKind.REPEAT)], "r")
    assert repeat["status"] == "firing"
    assert repeat["alerts"][0]["endsAt"] == payloads.ZERO_TIME


def test_alertmanager_labels_core_labels_win_and_cluster_wide_has_no_member(
    event: EventFactory,
) -> None:
    e = event(member=None, labels={"alertname": "spoofed", "severity": "", "zone": "a"})
    (alert,) = payloads.alertmanager_payload([e], "r")["alerts"]
    assert alert["labels"] == {
        "alertname": "etcdNoLeader",
        "severity": "critical",
        "cluster": "prod",
        "zone": "a",
    }


def test_alertmanager_group_of_several(event: EventFactory) -> None:
    body = payloads.alertmanager_payload(
        [
            event(fingerprint="a", member="etcd-1"),
            event(EventKind.RESOLVED, fingerprint="b", member="etcd-2"),
        ],
        "r",
    )
    assert body["status"] == "firing"  # any alert still firing
    assert body["commonLabels"] == {
        "alertname": "etcdNoLeader",
        "severity": "critical",
        "cluster": "prod",
    }
    assert body["groupKey"] == '{}:{alertname="etcdNoLeader", cluster="prod"}'
    assert [a["fingerprint"] for a in body["alerts"]] == ["a", "b"]
    with pytest.raises(ValueError, match="at least one"):
        payloads.alertmanager_payload([], "r")


def test_signature_is_hmac_sha256_of_the_body() -> None:
    body = b'{"version":"4"}'
    header = webhook.signature("s3cret", body)
    # echo -n '{"version":"4"}' | openssl dgst -sha256 -hmac s3cret
    assert header == "sha256=afa6c091d9d41c83d3deb28420d4e0e40b2c2d4c81a8a9f4364255fe6a69f15a"
    assert webhook.verify_signature("s3cret", body, header)
    assert not webhook.verify_signature("other", body, header)
    assert not webhook.verify_signature("s3cret", body + b" ", header)


@pytest.mark.parametrize(
    ("severity", "colour"),
    [
        (Severity.CRITICAL, "#E01E5A"),
        (Severity.WARNING, "#ECB22E"),
        (Severity.INFO, "#36C5F0"),
    ],
)
def test_slack_colour_by_severity(event: EventFactory, severity: Severity, colour: str) -> None:
    (attachment,) = slack.slack_payload(event(severity=severity))["attachments"]
    assert attachment["color"] == colour
    resolved = slack.slack_payload(event(EventKind.RESOLVED, severity=severity))
    assert resolved["attachments"][0]["color"] == payloads.RESOLVED_COLOUR


def test_slack_message_text_and_fields(event: EventFactory) -> None:
    body = slack.slack_payload(event(summary="fsync p99 <1s> & rising", value=0.734))
    assert body["text"] == "FIRING critical: etcdNoLeader on prod / etcd-1"
    (attachment,) = body["attachments"]
    assert attachment["text"] == "fsync p99 &lt;1s&gt; &amp; rising"
    fields = {f["title"]: f["value"] for f in attachment["fields"]}
    assert fields == {
        "Severity": "critical",
        "Cluster": "prod",
        "Member": "etcd-1",
        "Value": "0.734",
    }
    assert attachment["ts"] == int(T0 + 60)
    assert attachment["fallback"]


def test_pagerduty_trigger_and_resolve(event: EventFactory) -> None:
    trigger = pagerduty.pagerduty_event(event(severity=Severity.WARNING), "R0UTINGKEY")
    assert trigger["event_action"] == "trigger"
    assert trigger["routing_key"] == "R0UTINGKEY"
    assert trigger["dedup_key"] == "3f1c9a7e5d2b4c60"
    p = trigger["payload"]
    assert p["severity"] == "warning"
    assert p["source"] == "prod / etcd-1"
    assert p["summary"].startswith("etcdNoLeader on prod / etcd-1: ")
    assert p["timestamp"] == "2024-05-01T12:00:00.000Z"
    assert p["custom_details"]["labels"]["alertname"] == "etcdNoLeader"
    assert pagerduty.pagerduty_event(event(EventKind.REPEAT), "k")["event_action"] == "trigger"
    resolve = pagerduty.pagerduty_event(event(EventKind.RESOLVED), "R0UTINGKEY")
    assert resolve == {
        "routing_key": "R0UTINGKEY",
        "event_action": "resolve",
        "dedup_key": "3f1c9a7e5d2b4c60",
    }
    long = pagerduty.pagerduty_event(event(summary="x" * 5000), "k", source="etcd.example")
    assert len(long["payload"]["summary"]) == 1024
    assert long["payload"]["source"] == "etcd.example"


def test_email_has_plain_and_html_parts(event: EventFactory) -> None:
    msg = email_channel.email_message(
        event(summary="quota <95%> & climbing"),
        "etcdmon@example.org",
        ["ops@example.org", "db@example.org"],
        "[etcdmon]",
    )
    parsed = message_from_bytes(msg.as_bytes(), policy=policy.default)
    assert parsed["Subject"] == "[etcdmon] FIRING critical: etcdNoLeader on prod / etcd-1"
    assert parsed["To"] == "ops@example.org, db@example.org"
    assert parsed.get_content_type() == "multipart/alternative"
    plain = parsed.get_body(("plain",))
    rich = parsed.get_body(("html",))
    assert plain is not None and rich is not None
    text = plain.get_content()
    assert "quota <95%> & climbing" in text and "Fingerprint: 3f1c9a7e5d2b4c60" in text
    markup = rich.get_content()
    assert "quota &lt;95%&gt; &amp; climbing" in markup and "<table>" in markup
    resolved = email_channel.email_message(event(EventKind.RESOLVED), "a@b.c", ["d@e.f"], "")
    assert resolved["Subject"] == "RESOLVED critical: etcdNoLeader on prod / etcd-1"
    assert "STILL FIRING" in email_channel.email_subject(event(EventKind.REPEAT), "")


def test_test_event_is_labelled() -> None:
    e = payloads.make_test_event("chan1", T0)
    assert e.kind is EventKind.FIRING
    assert e.alert.rule == payloads.TEST_RULE
    assert e.alert.fingerprint.startswith("test-chan1-")
    assert e.alert.labels == {"test": "true"}
