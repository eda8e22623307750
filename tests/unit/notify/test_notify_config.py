"""Channel settings validate what a user can get wrong; secrets are never fields."""

from __future__ import annotations

import pytest
import yaml
from pydantic import ValidationError

from etcdmon_gui.model.alerts import Severity
from etcdmon_gui.notify.channels.email import EmailChannelConfig
from etcdmon_gui.notify.channels.log import LogChannelConfig
from etcdmon_gui.notify.channels.pagerduty import PAGERDUTY_EVENTS_URL, PagerDutyChannelConfig
from etcdmon_gui.notify.channels.slack import SlackChannelConfig
from etcdmon_gui.notify.channels.webhook import WebhookChannelConfig, adhoc_webhook
from etcdmon_gui.notify.errors import redact_url, scrub
from etcdmon_gui.notify.registry import dump_channels, parse_channel, parse_channels
from etcdmon_gui.notify.retry import RetryPolicy
from etcdmon_gui.store.secrets import SecretStore, known_fields


def test_channels_round_trip_through_yaml() -> None:
    channels = [
        EmailChannelConfig(
            id="mail",
            name="Mail",
            host="smtp.example.org",
            sender="etcdmon@example.org",
            recipients=["ops@example.org"],
            username="etcdmon",
        ),
        SlackChannelConfig(id="slack", name="Slack", min_severity="warning"),
        PagerDutyChannelConfig(
            id="pd", name="On call", min_severity="critical", send_resolved=True
        ),
        WebhookChannelConfig(id="hook", name="Hook", sign=True),
        LogChannelConfig(id="log", name="Log", level="warning"),
    ]
    text = yaml.safe_dump(dump_channels(channels), sort_keys=False)
    assert "password" not in text and "secret" not in text
    assert parse_channels(yaml.safe_load(text)) == channels
    assert isinstance(parse_channel({"type": "slack", "name": "S"}), SlackChannelConfig)


def test_every_secret_field_is_one_the_store_knows() -> None:
    for cls in (
        EmailChannelConfig,
        SlackChannelConfig,
        PagerDutyChannelConfig,
        WebhookChannelConfig,
    ):
        assert set(cls.secret_names()) <= set(known_fields()), cls


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"type": "sms", "name": "x"}, "does not match any of the expected tags"),
        ({"type": "slack", "name": "x", "id": "a/b"}, "should match pattern"),
        ({"type": "slack", "name": " x"}, "no leading or trailing spaces"),
        ({"type": "slack", "name": "x", "webhook": "https://hooks"}, "Extra inputs"),
        (
            {"type": "email", "name": "m", "host": "h", "sender": "nobody", "recipients": ["a@b"]},
            "not an e-mail address",
        ),
        (
            {"type": "email", "name": "m", "host": "h", "sender": "a@b", "recipients": []},
            "at least 1 item",
        ),
        (
            {
                "type": "email",
                "name": "m",
                "host": "h",
                "sender": "a@b",
                "recipients": ["c@d"],
                "security": "none",
                "username": "u",
            },
            "password in clear text",
        ),
        ({"type": "pagerduty", "name": "p", "events_url": "ftp://x"}, "http:// or https://"),
        ({"type": "webhook", "name": "w", "signature_header": "Bad Header"}, "should match"),
        ({"type": "slack", "name": "x", "timeout_s": 0}, "greater than 0"),
    ],
)
def test_invalid_channels_say_why(data: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        parse_channel(data)


def test_ids_are_unique() -> None:
    with pytest.raises(ValueError, match="share the id"):
        parse_channels(
            [{"type": "log", "id": "a", "name": "x"}, {"type": "log", "id": "a", "name": "y"}]
        )


def test_defaults() -> None:
    pd = PagerDutyChannelConfig(name="p")
    assert pd.events_url == PAGERDUTY_EVENTS_URL
    mail = EmailChannelConfig(name="m", host="h", sender="a@b", recipients=["c@d"])
    assert (mail.port, mail.security, mail.verify_tls) == (587, "starttls", True)
    assert len(pd.id) == 32 and pd.id != PagerDutyChannelConfig(name="p").id


def test_wants_filters_severity_resolved_and_disabled() -> None:
    c = SlackChannelConfig(name="s", min_severity="warning", send_resolved=False)
    assert c.wants(Severity.CRITICAL, resolved=False)
    assert c.wants(Severity.WARNING, resolved=False)
    assert not c.wants(Severity.INFO, resolved=False)
    assert not c.wants(Severity.CRITICAL, resolved=True)
    assert not c.model_copy(update={"enabled": False}).wants(Severity.CRITICAL, False)


def test_retry_policy_backs_off_exponentially_with_a_cap() -> None:
    p = RetryPolicy(attempts=6, base_delay_s=1.0, max_delay_s=5.0, factor=2.0, jitter=0.0)
    assert [p.delay(n) for n in range(1, 6)] == [1.0, 2.0, 4.0, 5.0, 5.0]
    jittery = RetryPolicy(base_delay_s=10.0, jitter=0.2)
    assert jittery.delay(1, 0.0) == pytest.approx(8.0)
    assert jittery.delay(1, 0.5) == pytest.approx(10.0)
    assert jittery.delay(1, 0.999) == pytest.approx(12.0, rel=1e-2)
    with pytest.raises(ValidationError):
        RetryPolicy(attempts=0)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://hooks.slack.com/services/T0/B0/XyZ", "https://hooks.slack.com/…"),
        ("http://127.0.0.1:8080/hook?token=abc", "http://127.0.0.1:8080/…"),
        ("https://user:pw@example.org/x", "https://example.org/…"),
        ("http://[::1]:9000/x", "http://[::1]:9000/…"),
        ("not a url", "<invalid URL>"),
        ("http://host:99999/x", "<invalid URL>"),
    ],
)
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_scrub_removes_secrets_urls_and_their_paths() -> None:
    url = "https://hooks.slack.com/services/T0/B0/XyZsecret"
    text = (
        f"POST {url} failed; server said /services/T0/B0/XyZsecret is gone; "
        "key R0UTINGKEY123 rejected; pw abc in a cabin"
    )
    out = scrub(text, [url, "R0UTINGKEY123", "abc", ""])
    assert "XyZsecret" not in out and "R0UTINGKEY123" not in out
    assert "https://hooks.slack.com/…" in out
    assert "pw *** in a cabin" in out  # a short secret goes only as a whole word


def test_adhoc_webhook_keeps_its_url_in_the_store() -> None:
    store = SecretStore.memory()
    url = "https://hooks.example/abc/def?token=s3cr3t"
    config = adhoc_webhook(url, store, 2)
    assert isinstance(config, WebhookChannelConfig) and config.id == "cli-webhook-2"
    assert store.get(config.id, "webhook_url") == url
    assert "s3cr3t" not in config.model_dump_json()
    with pytest.raises(ValueError, match=r"not an http\(s\) URL: <invalid URL>"):
        adhoc_webhook("hooks.example/s3cr3t", store)
