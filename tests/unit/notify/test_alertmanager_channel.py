"""The ``alertmanager`` channel without a network: its postableAlert for each kind of
event, its settings' validation, channels.yaml, and how it logs in. The real
Alertmanager is in tests/integration/test_alertmanager.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from etcdmon_gui.model.alerts import EventKind
from etcdmon_gui.notify.channels.alertmanager import (
    AlertmanagerChannel,
    AlertmanagerChannelConfig,
    postable_alert,
)
from etcdmon_gui.notify.errors import ChannelError
from etcdmon_gui.notify.payloads import make_test_event, rfc3339
from etcdmon_gui.notify.registry import build_channel, parse_channel
from etcdmon_gui.store.channels import ChannelStore
from etcdmon_gui.store.secrets import SecretStore
from tests.unit.notify.notify_events import T0, EventFactory

NOW = T0 + 600


def config(**kw: object) -> AlertmanagerChannelConfig:
    data: dict[str, object] = {"name": "am", "urls": ["http://am-1:9093"], **kw}
    return AlertmanagerChannelConfig.model_validate(data)


# -- payload ---------------------------------------------------------------------------


def test_a_firing_alert_ends_four_re_sends_after_it_is_sent(event: EventFactory) -> None:
    body = postable_alert(
        event(EventKind.FIRING),
        NOW,
        60,
        generator_url="https://etcdmon.example/ui",
        labels={"env": "prod"},
    )
    assert body == {
        "labels": {
            "env": "prod",
            "alertname": "etcdNoLeader",
            "severity": "critical",
            "cluster": "prod",
            "member": "etcd-1",
        },
        "annotations": {
            "summary": "member etcd-1 has no leader",
            "description": "etcdNoLeader (critical) on prod / etcd-1: member etcd-1 has no leader",
            "etcdmon_fingerprint": "3f1c9a7e5d2b4c60",
            "value": "1",
        },
        "startsAt": rfc3339(T0),  # when it began firing
        "endsAt": rfc3339(NOW + 240),
        "generatorURL": "https://etcdmon.example/ui",
    }


def test_a_repeat_keeps_its_start_and_moves_its_end(event: EventFactory) -> None:
    first = postable_alert(event(EventKind.FIRING), NOW, 30)
    again = postable_alert(event(EventKind.REPEAT, at=NOW + 3600), NOW + 3600, 30)
    assert again["startsAt"] == first["startsAt"] == rfc3339(T0)
    assert again["endsAt"] == rfc3339(NOW + 3600 + 120)
    assert again["labels"] == first["labels"] and again["generatorURL"] == ""


def test_a_resolved_alert_ends_when_it_resolved(event: EventFactory) -> None:
    body = postable_alert(event(EventKind.RESOLVED, at=T0 + 90), NOW, 60)
    assert (body["startsAt"], body["endsAt"]) == (rfc3339(T0), rfc3339(T0 + 90))


def test_labels_the_alert_has_win_and_a_cluster_wide_one_has_no_member(
    event: EventFactory,
) -> None:
    body = postable_alert(
        event(member=None, value=None, labels={"team": "storage"}),
        NOW,
        labels={"team": "static", "env": "prod"},
    )
    assert body["labels"] == {
        "team": "storage",
        "env": "prod",
        "alertname": "etcdNoLeader",
        "severity": "critical",
        "cluster": "prod",
    }
    assert "value" not in body["annotations"]


def test_the_test_alert_ends_as_it_starts_and_never_before() -> None:
    test = make_test_event("c1", NOW)
    body = postable_alert(test, NOW, ends_at=NOW)
    assert body["startsAt"] == body["endsAt"] == rfc3339(NOW)
    assert body["labels"]["alertname"] == "EtcdmonTestNotification"
    early = postable_alert(test, NOW, ends_at=NOW - 5)  # a clock step back
    assert early["endsAt"] == early["startsAt"]


# -- settings --------------------------------------------------------------------------


def test_urls_are_base_urls_and_one_may_be_given_alone() -> None:
    c = config(urls=["https://am-1.example:9093/", "http://am-2:9093/prefix/api/v2/alerts"])
    assert c.urls == ["https://am-1.example:9093", "http://am-2:9093/prefix"]
    assert parse_channel({"type": "alertmanager", "name": "a", "urls": "http://am:9093"}).urls == [  # type: ignore[attr-defined]
        "http://am:9093"
    ]


def test_labels_may_be_a_mapping_and_are_kept_as_name_value() -> None:
    c = parse_channel(
        {"type": "alertmanager", "name": "a", "urls": ["http://am"], "labels": {"env": "prod"}}
    )
    assert isinstance(c, AlertmanagerChannelConfig)
    assert c.labels == ["env=prod"] and c.static_labels == {"env": "prod"}
    assert config(labels=[" team = db "]).static_labels == {"team": "db"}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"urls": []}, "at least 1 item"),
        ({"urls": ["am:9093"]}, "not an http:// or https:// URL with a host"),
        ({"urls": ["ftp://am"]}, "not an http:// or https:// URL"),
        ({"urls": ["http://am:99999"]}, "not a valid URL"),
        ({"urls": ["http://am/x?token=1"]}, "no query"),
        ({"urls": ["http://am", "http://am/"]}, "listed twice"),
        ({"labels": ["env"]}, "write it as name=value"),
        ({"labels": ["1env=x"]}, "not starting with a digit"),
        ({"labels": ["__name__=x"]}, "or '__'"),
        ({"labels": ["cluster=x"]}, "etcdmon sets the label 'cluster' itself"),
        ({"labels": ["env=a", "env=b"]}, "given twice"),
        ({"generator_url": "etcdmon.example"}, "http:// or https://"),
        ({"resend_s": 0.5}, "greater than or equal to 1"),
        ({"resend_s": 7200}, "less than or equal to 3600"),
        ({"username": "u", "bearer_token": True}, "not both"),
    ],
)
def test_invalid_settings_say_why(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        config(**changes)


def test_credentials_in_a_url_are_refused_without_repeating_them() -> None:
    with pytest.raises(ValidationError) as caught:
        config(urls=["https://admin:hunter2@am:9093"])
    [problem] = caught.value.errors()
    assert "give no credentials in the URL" in problem["msg"]  # what the form shows
    assert "https://am:9093/…" in problem["msg"] and "hunter2" not in problem["msg"]


def test_it_round_trips_through_channels_yaml(tmp_path: Path) -> None:
    store = ChannelStore(tmp_path / "channels.yaml")
    am = config(
        urls=["http://am-1:9093", "http://am-2:9093"],
        labels=["env=prod"],
        generator_url="https://etcdmon.example",
        resend_s=30,
        username="etcdmon",
        ca_file="/etc/ssl/private-ca.pem",
    )
    store.save([am])
    assert store.load() == [am]
    text = store.path.read_text()
    assert "type: alertmanager" in text and "password" not in text


def test_secrets_are_needed_only_for_the_way_it_logs_in() -> None:
    assert config().needed_secrets() == ()
    assert config(username="u").needed_secrets() == ("alertmanager_password",)
    assert config(bearer_token=True).needed_secrets() == ("alertmanager_token",)


# -- the sender, before any request ------------------------------------------------------


def test_it_logs_in_with_basic_auth_or_a_bearer_token() -> None:
    secrets = SecretStore.memory()
    basic = config(username="etcdmon")
    bearer = config(bearer_token=True)
    secrets.set(basic.id, "alertmanager_password", "pw:with colon")
    secrets.set(bearer.id, "alertmanager_token", "tok-123")
    sender = build_channel(basic, secrets)
    assert isinstance(sender, AlertmanagerChannel)
    # base64("etcdmon:pw:with colon")
    assert sender._headers() == {"Authorization": "Basic ZXRjZG1vbjpwdzp3aXRoIGNvbG9u"}
    assert build_channel(bearer, secrets)._headers() == {  # type: ignore[attr-defined]
        "Authorization": "Bearer tok-123"
    }
    assert build_channel(config(), secrets)._headers() == {}  # type: ignore[attr-defined]
    assert sender.resend_s == 60.0 and sender.scrub("x pw:with colon y") == "x *** y"


def test_a_missing_password_or_ca_file_fails_for_good_before_sending(
    event: EventFactory, tmp_path: Path
) -> None:
    secrets = SecretStore.memory()
    with pytest.raises(ChannelError, match="no Alertmanager password is stored") as caught:
        build_channel(config(username="u"), secrets).send(event())
    assert caught.value.permanent
    missing = tmp_path / "nope.pem"
    with pytest.raises(ChannelError, match="cannot use the CA file") as caught:
        build_channel(config(ca_file=str(missing)), secrets).send(event())
    assert caught.value.permanent
