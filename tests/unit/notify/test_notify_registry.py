"""The channel registry: every type's module is found and declares itself whole, and a
type declared in one module (here, this one) works everywhere channels are handled."""

from __future__ import annotations

import pkgutil
from collections.abc import Iterator
from typing import ClassVar, Literal

import pytest
import yaml
from pydantic import Field, ValidationError

from etcdmon_gui.model.alerts import AlertEvent
from etcdmon_gui.model.delivery import DeliveryStatus
from etcdmon_gui.notify import channels as channels_package
from etcdmon_gui.notify import registry
from etcdmon_gui.notify.base import Channel, ChannelBase, SecretField
from etcdmon_gui.notify.dispatcher import NotificationDispatcher
from etcdmon_gui.store.secrets import SecretStore, known_fields
from tests.unit.notify.notify_events import EventFactory

BUILT_IN = ["email", "slack", "pagerduty", "alertmanager", "webhook", "desktop", "log"]


def test_every_module_of_the_channels_package_is_a_registered_type() -> None:
    modules = sorted(m.name for m in pkgutil.iter_modules(channels_package.__path__))
    kinds = registry.kinds()
    assert sorted(k.settings.__module__.rsplit(".", 1)[1] for k in kinds) == modules
    assert [k.name for k in kinds] == BUILT_IN  # the Add menu's order
    for kind in kinds:
        assert kind.sender.__module__ == kind.settings.__module__, kind.name
        assert kind.title and kind.description and kind.mark, kind.name
        assert registry.kind(kind.name) is kind


def test_every_secret_is_declared_with_title_and_hint_and_known_to_the_store() -> None:
    declared = {k.name: k.settings.secret_names() for k in registry.kinds()}
    assert declared == {
        "email": ("smtp_password",),
        "slack": ("slack_webhook",),
        "pagerduty": ("pagerduty_routing_key",),
        "alertmanager": ("alertmanager_password", "alertmanager_token"),
        "webhook": ("webhook_url", "webhook_secret"),
        "desktop": (),
        "log": (),
    }
    for kind in registry.kinds():
        for spec in kind.secret_fields:
            assert spec.title and spec.hint and spec.phrase, spec
            assert spec.name not in kind.settings.model_fields  # never in channels.yaml
    assert set(registry.secret_names()) <= set(known_fields())
    store = SecretStore.memory()
    for name in registry.secret_names():
        store.set("c1", name, "value-1")
    assert store.present("c1") == list(registry.secret_names())


def test_secrets_are_needed_only_with_the_setting_they_depend_on() -> None:
    email = registry.kind("email").settings
    base = {"name": "m", "host": "h", "sender": "a@b", "recipients": ["c@d"]}
    assert email.model_validate(base).needed_secrets() == ()
    assert email.model_validate({**base, "username": "u"}).needed_secrets() == ("smtp_password",)
    webhook = registry.kind("webhook").settings
    assert webhook(name="w").needed_secrets() == ("webhook_url",)
    assert webhook(name="w", sign=True).needed_secrets() == ("webhook_url", "webhook_secret")
    assert webhook.model_construct(sign=True).needed_secrets() == (  # an unvalidated form
        "webhook_url",
        "webhook_secret",
    )


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("https://hooks.example/T0/abc", None),
        ("hooks.example/T0/abc", "expected an http:// or https:// URL with a host"),
        ("https://hooks.example/a b", "a URL has no spaces"),
        ("http://[::1", "not a valid URL"),
    ],
)
def test_url_secrets_are_checked_without_repeating_them(value: str, problem: str | None) -> None:
    spec = registry.kind("slack").settings.secret_field("slack_webhook")
    assert spec.problem(value) == problem
    password = registry.kind("email").settings.secret_field("smtp_password")
    assert password.clean(" pass word ") == " pass word "  # a password is taken as typed
    assert spec.clean(" https://x/y ") == "https://x/y"


# -- a type declared only here -----------------------------------------------------------


class PagerSettings(ChannelBase):
    """A pager gateway: a number to call, and an API token."""

    secret_fields: ClassVar[tuple[SecretField, ...]] = (
        SecretField("pager_token", "API token", "The gateway's API token"),
    )

    type: Literal["pager"] = "pager"
    number: str = Field(title="Number", min_length=3)


class PagerChannel(Channel):
    config: PagerSettings
    sent: ClassVar[list[tuple[str, str, str]]] = []

    def send(self, event: AlertEvent) -> None:
        token = self._secret("pager_token")
        PagerChannel.sent.append((self.config.number, token, event.alert.rule))


PAGER = registry.ChannelKind(
    settings=PagerSettings,
    sender=PagerChannel,
    title="Pager",
    description="Calls a pager.",
    order=200,
)


@pytest.fixture
def pager() -> Iterator[registry.ChannelKind]:
    registry.register(PAGER)
    PagerChannel.sent.clear()
    yield PAGER
    registry.unregister("pager")


def test_a_type_declared_in_one_module_round_trips_and_sends(
    pager: registry.ChannelKind, event: EventFactory
) -> None:
    assert registry.kinds()[-1] is pager and registry.kind("pager") is pager
    channels = [
        PagerSettings(id="p1", name="Night pager", number="+100", min_severity="critical"),
        registry.kind("log").settings(id="l1", name="Log"),
    ]
    text = yaml.safe_dump(registry.dump_channels(channels), sort_keys=False)
    assert "token" not in text
    assert registry.parse_channels(yaml.safe_load(text)) == channels
    with pytest.raises(ValidationError, match="at least 3 characters"):
        registry.parse_channel({"type": "pager", "name": "p", "number": "1"})

    # Its secret is one the store accepts, and its sender is what the dispatcher builds.
    secrets = SecretStore.memory()
    secrets.set("p1", "pager_token", "t0ken-123")
    assert "pager_token" in known_fields()
    with NotificationDispatcher(secrets, channels[:1]) as d:
        record = d.notify(event())[0].result(5)
    assert record.status is DeliveryStatus.DELIVERED, record.error
    assert PagerChannel.sent == [("+100", "t0ken-123", "etcdNoLeader")]


def test_an_unregistered_type_is_unknown_again(pager: registry.ChannelKind) -> None:
    registry.unregister("pager")
    with pytest.raises(ValidationError, match="does not match any of the expected tags"):
        registry.parse_channel({"type": "pager", "name": "p", "number": "123"})
    assert "pager_token" not in known_fields()
    registry.register(pager)  # for the fixture's teardown


def test_inconsistent_declarations_are_refused() -> None:
    class Orphan(ChannelBase):
        secret_fields: ClassVar[tuple[SecretField, ...]] = (
            SecretField("orphan_key", "Key", "k", only_with="no_such_setting"),
        )
        type: Literal["orphan"] = "orphan"

    class Untyped(ChannelBase):
        pass

    with pytest.raises(TypeError, match="not one of its settings"):
        registry.register(registry.ChannelKind(Orphan, PagerChannel, "O", "o"))
    with pytest.raises(TypeError, match="needs a field type"):
        registry.register(registry.ChannelKind(Untyped, PagerChannel, "U", "u"))
    with pytest.raises(ValueError, match="two channel types are named 'email'"):
        registry.register(
            registry.ChannelKind(registry.kind("email").settings, PagerChannel, "E", "e")
        )
