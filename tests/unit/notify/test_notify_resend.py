"""The dispatcher's re-sends of firing alerts to a channel with ``resend_s`` (what the
Alertmanager channel asks for), with in-process channels: how often, until when, in
which order with the alert's deliveries, and that they stay out of the records and the
durable queue. Another alert that keeps firing is the clock that shows something did
not happen."""

from __future__ import annotations

import dataclasses
import logging
import math
import threading
from collections.abc import Callable, Iterator

import pytest

from etcdmon_gui.model.alerts import AlertEvent, EventKind
from etcdmon_gui.model.delivery import DeliveryStatus as S
from etcdmon_gui.notify.base import Channel, ChannelBase, DesktopNotifier, SecretReader
from etcdmon_gui.notify.channels.log import LogChannelConfig
from etcdmon_gui.notify.dispatcher import NotificationDispatcher
from etcdmon_gui.notify.errors import ChannelError
from etcdmon_gui.notify.retry import RetryPolicy
from tests.unit.notify.notify_events import EventFactory

WAIT = 5.0
INTERVAL = 0.03
SLOW = RetryPolicy(attempts=3, base_delay_s=60.0, max_delay_s=60.0, jitter=0.0)


class Resending(Channel):
    """Records each send; ``fail`` makes sends raise; ``gate`` holds a send until set."""

    def __init__(self, config: ChannelBase, resend_s: float | None = INTERVAL) -> None:
        super().__init__(config)
        self._resend_s = resend_s
        self.sent: list[AlertEvent] = []
        self.cond = threading.Condition()
        self.fail: ChannelError | None = None
        self.gate: threading.Event | None = None
        self.held = threading.Event()  # a send waits at the gate

    @property
    def resend_s(self) -> float | None:
        return self._resend_s

    def send(self, event: AlertEvent) -> None:
        gate = self.gate
        if gate is not None and event.kind is not EventKind.RESOLVED:
            self.held.set()
            assert gate.wait(WAIT)
        with self.cond:
            self.sent.append(event)
            self.cond.notify_all()
            error = self.fail
        if error is not None:
            raise error

    def count(self, fingerprint: str, kind: EventKind | None = None) -> int:
        with self.cond:
            return sum(
                1
                for e in self.sent
                if e.alert.fingerprint == fingerprint and (kind is None or e.kind is kind)
            )

    def wait_until(self, check: Callable[[], bool]) -> None:
        with self.cond:
            assert self.cond.wait_for(check, WAIT), self.sent


def resending(cid: str = "am", **kw: object) -> Resending:
    return Resending(LogChannelConfig(id=cid, name=f"chan {cid}"), **kw)  # type: ignore[arg-type]


@pytest.fixture
def start() -> Iterator[Callable[..., NotificationDispatcher]]:
    made: list[NotificationDispatcher] = []

    def make(*channels: Channel, policy: RetryPolicy | None = None) -> NotificationDispatcher:
        by_id = {c.id: c for c in channels}

        def factory(
            config: ChannelBase, secrets: SecretReader | None, desktop: DesktopNotifier | None
        ) -> Channel:
            return by_id[config.id]

        d = NotificationDispatcher(
            None, [c.config for c in channels], policy=policy, channel_factory=factory
        )
        made.append(d)
        return d

    yield make
    for d in made:
        d.close()


def test_a_firing_alert_is_re_sent_until_it_resolves_and_only_where_asked(
    start: Callable[..., NotificationDispatcher], event: EventFactory
) -> None:
    am, plain = resending(), Resending(LogChannelConfig(id="log", name="log"), resend_s=None)
    d = start(am, plain)
    firing = [f.result(WAIT) for f in d.notify(event(fingerprint="a"))]
    d.notify(event(fingerprint="clock"))
    am.wait_until(lambda: am.count("a") >= 4)
    assert {e.kind for e in am.sent if e.alert.fingerprint == "a"} == {EventKind.FIRING}
    resolved = [f.result(WAIT) for f in d.notify(event(EventKind.RESOLVED, fingerprint="a"))]
    after = am.count("a")
    clock = am.count("clock")
    am.wait_until(lambda: am.count("clock") >= clock + 3)
    assert am.count("a") == after  # not one re-send once it resolved
    assert am.sent[-1].alert.fingerprint == "clock"
    assert plain.count("a") == 2 and plain.count("clock") == 1  # no re-sends there
    # Re-sends are neither records nor entries of the delivery log.
    assert len(d.records()) == 6 and len(d.attempts()) == 6
    assert [r.delivery_id for r in d.records()] == [1, 2, 3, 4, 5, 6]
    assert all(r.status is S.DELIVERED for r in [*firing, *resolved])


def test_a_repeat_replaces_what_is_re_sent(
    start: Callable[..., NotificationDispatcher], event: EventFactory
) -> None:
    am = resending()
    d = start(am)
    d.notify(event(fingerprint="a", summary="first"))[0].result(WAIT)
    d.notify(event(EventKind.REPEAT, fingerprint="a", summary="worse"))[0].result(WAIT)
    am.wait_until(lambda: am.count("a", EventKind.REPEAT) >= 3)
    assert {e.alert.summary for e in am.sent if e.kind is EventKind.REPEAT} == {"worse"}


def test_a_re_send_in_flight_never_overtakes_the_resolved(
    start: Callable[..., NotificationDispatcher], event: EventFactory
) -> None:
    am = resending()
    d = start(am)
    d.notify(event(fingerprint="a"))[0].result(WAIT)
    am.gate = threading.Event()
    assert am.held.wait(WAIT)  # a re-send is being tried, held
    [resolved] = d.notify(event(EventKind.RESOLVED, fingerprint="a"))
    am.gate.set()
    assert resolved.result(WAIT).status is S.DELIVERED
    kinds = [e.kind for e in am.sent]
    assert len(kinds) >= 3 and set(kinds[:-1]) == {EventKind.FIRING}
    assert kinds[-1] is EventKind.RESOLVED  # after the re-send it waited for


def test_no_re_send_while_the_alert_s_delivery_waits_for_a_retry(
    start: Callable[..., NotificationDispatcher], event: EventFactory
) -> None:
    am = resending()
    am.fail = ChannelError("503")
    d = start(am, policy=SLOW)  # the FIRING's retry is a minute away
    [waiting] = d.notify(event(fingerprint="a"))
    am.wait_until(lambda: am.count("a") == 1)
    am.fail = None
    d.notify(event(fingerprint="clock"))
    am.wait_until(lambda: am.count("clock") >= 4)
    assert am.count("a") == 1  # the delivery says it fires, once it is retried
    assert not waiting.done()


def test_a_failing_re_send_is_said_once_and_its_recovery_too(
    start: Callable[..., NotificationDispatcher],
    event: EventFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="etcdmon_gui.notify.dispatcher")
    am = resending()
    d = start(am)
    d.notify(event(fingerprint="a"))[0].result(WAIT)
    am.fail = ChannelError("POST http://am:9093/…: connection refused")
    am.wait_until(lambda: am.count("a") >= 4)
    am.fail = None
    count = am.count("a")
    am.wait_until(lambda: am.count("a") >= count + 2)
    d.close()
    said = [(r.levelno, r.getMessage()) for r in caplog.records if "re-sending" in r.getMessage()]
    warnings = [text for level, text in said if level == logging.WARNING]
    assert warnings == [
        "re-sending the firing alert to 'chan am' (a) failed: POST http://am:9093/…: "
        "connection refused; tried again every 0.03 s (further failures at debug level)"
    ]
    assert [text for level, text in said if level == logging.INFO] == [
        "re-sending the firing alert to 'chan am' (a) works again"
    ]
    assert [r.status for r in d.records()] == [S.DELIVERED]


def test_re_sends_stop_with_their_channel_and_with_a_resolved_it_does_not_take(
    start: Callable[..., NotificationDispatcher], event: EventFactory
) -> None:
    quiet = Resending(LogChannelConfig(id="q", name="quiet", send_resolved=False))
    gone = resending("gone")
    stays = resending("stays")
    d = start(quiet, gone, stays)
    d.notify(event(fingerprint="a"))
    for ch in (quiet, gone, stays):
        ch.wait_until(lambda ch=ch: ch.count("a") >= 2)  # type: ignore[misc]
    assert d.notify(event(EventKind.RESOLVED, fingerprint="a"), ["q"]) == []  # not wanted
    d.set_channels([stays.config, quiet.config])
    d.notify(event(fingerprint="clock"), ["stays"])
    stays.wait_until(lambda: stays.count("clock") >= 2)  # a re-send in flight has ended
    quiet_after, gone_after = quiet.count("a"), gone.count("a")
    stays.wait_until(lambda: stays.count("clock") >= 5)
    assert (quiet.count("a"), gone.count("a")) == (quiet_after, gone_after)
    assert stays.count("a") >= 3


def test_firing_starts_re_sending_restored_alerts_and_ends_what_no_longer_fires(
    start: Callable[..., NotificationDispatcher], event: EventFactory
) -> None:
    """After a restart the engine's restored firing alerts were never notified in this
    process; an alert resolved while silenced sends no RESOLVED. ``firing`` (after each
    evaluation) covers both."""
    am = resending()
    d = start(am)
    restored = event(fingerprint="restored").alert
    muted = dataclasses.replace(event(fingerprint="muted").alert, silenced_until=math.inf)
    d.notify(event(fingerprint="silenced-later"))[0].result(WAIT)
    clock_alert = event(fingerprint="clock").alert
    d.notify(event(fingerprint="clock"))
    d.firing(
        "profile:abc", [restored, muted, event(fingerprint="silenced-later").alert, clock_alert]
    )
    am.wait_until(lambda: am.count("restored") >= 2 and am.count("silenced-later") >= 3)
    assert am.count("muted") == 0  # silenced before anyone was told: nothing to keep up
    d.firing("profile:abc", [restored, clock_alert])  # "silenced-later" resolved, silenced
    d.firing("profile:other", [])  # another cluster's evaluation ends none of these
    am.wait_until(lambda: am.count("silenced-later", EventKind.RESOLVED) == 1)
    after, clock = am.count("silenced-later"), am.count("clock")
    am.wait_until(lambda: am.count("clock") >= clock + 3)
    assert am.count("silenced-later") == after  # its one RESOLVED came first
    [ended] = [e for e in am.sent if e.kind is EventKind.RESOLVED]
    assert ended.alert.fingerprint == "silenced-later" and ended.alert.resolved_at
    assert am.count("restored") >= 4
    assert len(d.records()) == 2  # re-sends are not deliveries


def test_a_channel_taking_no_resolved_gets_no_last_resolved(
    start: Callable[..., NotificationDispatcher], event: EventFactory
) -> None:
    quiet = Resending(LogChannelConfig(id="q", name="quiet", send_resolved=False))
    clock = resending("clock")
    d = start(quiet, clock)
    d.notify(event(fingerprint="a"), ["q"])[0].result(WAIT)
    d.notify(event(fingerprint="c"), ["clock"])
    quiet.wait_until(lambda: quiet.count("a") >= 2)
    d.firing("profile:abc", [event(fingerprint="c").alert])  # "a" resolved, silenced
    after, ticks = quiet.count("a"), clock.count("c")
    clock.wait_until(lambda: clock.count("c") >= ticks + 3)
    assert quiet.count("a") == after and quiet.count("a", EventKind.RESOLVED) == 0
