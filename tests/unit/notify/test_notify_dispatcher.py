"""The dispatcher's promises, with in-process channels that fail on cue.

The protocols themselves are tested against real receivers in
tests/integration/test_notify.py; here the channel is a script, so retries, ordering,
shutdown and the delivery log can be checked exactly and fast.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator

import pytest

from etcdmon_gui.model.alerts import AlertEvent, EventKind, Severity
from etcdmon_gui.model.delivery import AttemptOutcome, DeliveryAttempt, DeliveryRecord
from etcdmon_gui.model.delivery import DeliveryStatus as S
from etcdmon_gui.notify.base import Channel, ChannelBase, DesktopNotifier, SecretReader
from etcdmon_gui.notify.channels.desktop import DesktopChannelConfig
from etcdmon_gui.notify.channels.log import LogChannelConfig
from etcdmon_gui.notify.dispatcher import NotificationDispatcher
from etcdmon_gui.notify.errors import ChannelError
from etcdmon_gui.notify.payloads import TEST_RULE
from etcdmon_gui.notify.registry import build_channel
from etcdmon_gui.notify.retry import RetryPolicy
from etcdmon_gui.store.secrets import SecretStore
from tests.unit.notify.notify_events import EventFactory

FAST = RetryPolicy(attempts=3, base_delay_s=0.02, max_delay_s=0.5, factor=2.0, jitter=0.0)
WAIT = 5.0

Step = BaseException | threading.Event | None


class Scripted(Channel):
    """Plays ``script`` one step per send: None succeeds, an exception is raised, an
    Event is waited for (then the send succeeds). Past the script, sends succeed."""

    def __init__(
        self, config: ChannelBase, script: list[Step] | None = None, secret: str | None = None
    ) -> None:
        super().__init__(config)
        self.script = list(script or [])
        self.sent: list[tuple[EventKind, str, float]] = []
        self.tests: list[AlertEvent] = []
        self.entered = threading.Event()  # set when a send begins
        if secret:
            self._seen.add(secret)

    def send(self, event: AlertEvent) -> None:
        step = self.script.pop(0) if self.script else None
        self.sent.append((event.kind, event.alert.fingerprint, time.monotonic()))
        self.entered.set()
        if isinstance(step, threading.Event):
            assert step.wait(WAIT)
        elif step is not None:
            raise step

    def send_test(self, event: AlertEvent) -> None:
        self.tests.append(event)
        self.send(event)


def waited(entry: DeliveryAttempt) -> float:
    """The back-off chosen after a failed try (its time from the end of that try)."""
    assert entry.next_attempt_at is not None
    return entry.next_attempt_at - entry.at - entry.duration_s


def channel(cid: str = "c1", script: list[Step] | None = None, **kw: object) -> Scripted:
    return Scripted(LogChannelConfig(id=cid, name=f"chan {cid}", **kw), script)  # type: ignore[arg-type]


class Fixture:
    def __init__(self) -> None:
        self.channels: dict[str, Channel] = {}
        self.dispatcher: NotificationDispatcher | None = None
        self.log: list[tuple[DeliveryAttempt, DeliveryRecord]] = []
        self._logged = threading.Condition()

    def _append(self, attempt: DeliveryAttempt, record: DeliveryRecord) -> None:
        with self._logged:
            self.log.append((attempt, record))
            self._logged.notify_all()

    def wait_log(self, count: int) -> None:
        """Wait until the subscriber has seen ``count`` delivery-log entries."""
        with self._logged:
            assert self._logged.wait_for(lambda: len(self.log) >= count, WAIT)

    def start(
        self, *channels: Channel, policy: RetryPolicy = FAST, workers: int = 2
    ) -> NotificationDispatcher:
        self.channels = {c.id: c for c in channels}

        def factory(
            config: ChannelBase, secrets: SecretReader | None, desktop: DesktopNotifier | None
        ) -> Channel:
            return self.channels.get(config.id) or build_channel(config, secrets, desktop)

        self.dispatcher = NotificationDispatcher(
            SecretStore.memory(),
            [c.config for c in channels],
            policy=policy,
            workers=workers,
            channel_factory=factory,
        )
        self.dispatcher.subscribe(self._append)
        return self.dispatcher


@pytest.fixture
def fx() -> Iterator[Fixture]:
    f = Fixture()
    yield f
    if f.dispatcher is not None:
        f.dispatcher.close()


def test_retries_with_exponential_backoff_then_delivers(fx: Fixture, event: EventFactory) -> None:
    ch = channel(script=[ChannelError("HTTP 503"), ChannelError("HTTP 503"), None])
    d = fx.start(ch, policy=FAST.model_copy(update={"attempts": 5}))
    (future,) = d.notify(event())
    record = future.result(WAIT)
    assert record.status is S.DELIVERED and record.attempts == 3 and record.error is None
    entries = d.attempts()
    assert [e.outcome for e in entries] == [
        AttemptOutcome.RETRYING,
        AttemptOutcome.RETRYING,
        AttemptOutcome.DELIVERED,
    ]
    assert [e.attempt for e in entries] == [1, 2, 3]
    assert entries[0].error == "HTTP 503" and entries[2].error is None
    # The waits double: 0.02 s, then 0.04 s.
    assert waited(entries[0]) == pytest.approx(0.02, abs=0.01)
    assert waited(entries[1]) == pytest.approx(0.04, abs=0.01)
    starts = [t for _, _, t in ch.sent]
    assert starts[1] - starts[0] >= 0.02 - 1e-3 and starts[2] - starts[1] >= 0.04 - 1e-3
    assert [a for a, _ in fx.log] == entries
    assert d.records() == [record]


def test_gives_up_after_the_configured_attempts(fx: Fixture, event: EventFactory) -> None:
    ch = channel(script=[ChannelError("connection refused")] * 10)
    d = fx.start(ch)
    record = d.notify(event())[0].result(WAIT)
    assert record.status is S.FAILED and record.attempts == 3
    assert record.error == "connection refused (gave up after 3 attempts)"
    assert len(ch.sent) == 3
    assert [e.outcome for e in d.attempts()][-1] is AttemptOutcome.FAILED
    assert d.records(S.FAILED) == [record] and d.records(S.DELIVERED) == []


def test_a_permanent_error_is_not_retried(fx: Fixture, event: EventFactory) -> None:
    ch = channel(script=[ChannelError("401 Unauthorized", permanent=True)])
    record = fx.start(ch).notify(event())[0].result(WAIT)
    assert record.status is S.FAILED and record.attempts == 1
    assert record.error == "401 Unauthorized"


def test_retry_after_is_honoured_within_the_cap(fx: Fixture, event: EventFactory) -> None:
    ch = channel(
        script=[ChannelError("429", retry_after=0.15), ChannelError("429", retry_after=60.0)]
    )
    d = fx.start(ch, policy=FAST.model_copy(update={"max_delay_s": 0.25}))
    assert d.notify(event())[0].result(WAIT).status is S.DELIVERED
    first, second, _ = d.attempts()
    assert waited(first) == pytest.approx(0.15, abs=0.01)
    assert waited(second) == pytest.approx(0.25, abs=0.01)  # 60 s asked, capped


def test_one_alert_keeps_its_order_while_retrying(fx: Fixture, event: EventFactory) -> None:
    ch = channel(script=[ChannelError("503"), ChannelError("503")])
    d = fx.start(ch, workers=4)
    futures = d.notify(event(EventKind.FIRING)) + d.notify(event(EventKind.RESOLVED))
    assert [f.result(WAIT).status for f in futures] == [S.DELIVERED, S.DELIVERED]
    assert [k for k, _, _ in ch.sent] == [EventKind.FIRING] * 3 + [EventKind.RESOLVED]


def test_a_stuck_delivery_does_not_hold_up_other_alerts(fx: Fixture, event: EventFactory) -> None:
    gate = threading.Event()
    ch = channel(script=[gate])
    d = fx.start(ch, workers=2)
    (stuck,) = d.notify(event(fingerprint="a"))
    (other,) = d.notify(event(fingerprint="b"))
    assert other.result(WAIT).status is S.DELIVERED
    assert not stuck.done()
    gate.set()
    assert stuck.result(WAIT).status is S.DELIVERED
    assert d.wait_idle(WAIT)


def test_unknown_channel_is_a_failed_delivery_not_silence(fx: Fixture, event: EventFactory) -> None:
    d = fx.start(channel())
    (future,) = d.notify(event(), ["gone"])
    record = future.result(0)
    assert record.status is S.FAILED and "no channel with id 'gone'" in (record.error or "")
    assert fx.log and fx.log[0][1] == record
    assert d.attempts()[0].outcome is AttemptOutcome.FAILED


def test_a_profile_may_name_channels_by_id_or_by_name(fx: Fixture, event: EventFactory) -> None:
    d = fx.start(channel("a"), channel("b"), channel("c"))
    records = [f.result(WAIT) for f in d.notify(event(), ["a", "chan b"])]
    assert sorted(r.channel_id for r in records) == ["a", "b"]
    assert all(r.status is S.DELIVERED for r in records)


def test_channel_filters(fx: Fixture, event: EventFactory) -> None:
    quiet = channel("quiet", min_severity="critical", send_resolved=False)
    off = channel("off", enabled=False)
    every = channel("every")
    d = fx.start(quiet, off, every)
    assert [f.result(WAIT).channel_id for f in d.notify(event(severity=Severity.WARNING))] == [
        "every"
    ]
    assert [f.result(WAIT).channel_id for f in d.notify(event(EventKind.RESOLVED))] == ["every"]
    assert [f.result(WAIT).channel_id for f in d.notify(event(fingerprint="z"))] == [
        "quiet",
        "every",
    ]
    assert [f.result(WAIT).channel_id for f in d.notify(event(fingerprint="y"), ["every"])] == [
        "every"
    ]


def test_close_fails_what_is_queued_and_is_idempotent(fx: Fixture, event: EventFactory) -> None:
    ch = channel(script=[ChannelError("503")])
    d = fx.start(ch, policy=FAST.model_copy(update={"base_delay_s": 30.0, "max_delay_s": 60}))
    (waiting,) = d.notify(event(fingerprint="a"))
    (behind,) = d.notify(event(EventKind.RESOLVED, fingerprint="a"))
    fx.wait_log(1)  # the first try failed; its retry is 30 s away
    started = time.monotonic()
    d.close(timeout=2.0)
    d.close()
    assert time.monotonic() - started < 1.0
    for future in (waiting, behind):
        record = future.result(0)
        assert record.status is S.FAILED
        assert "shut down before it could be delivered" in (record.error or "")
    late = d.notify(event(fingerprint="b"))[0].result(0)
    assert late.status is S.FAILED and "shut down" in (late.error or "")
    assert d.send_test("c1").result(0).status is S.FAILED


def test_close_is_bounded_when_a_send_hangs(fx: Fixture, event: EventFactory) -> None:
    gate = threading.Event()
    ch = channel(script=[gate])
    d = fx.start(ch)
    (future,) = d.notify(event())
    assert ch.entered.wait(WAIT)
    started = time.monotonic()
    d.close(timeout=0.1)
    assert time.monotonic() - started < 1.0
    record = future.result(0)
    assert record.status is S.FAILED and "unknown" in (record.error or "")
    gate.set()  # the hung send returns; its late outcome is not recorded twice
    for thread in threading.enumerate():
        if thread.name.startswith("notify-"):
            thread.join(WAIT)
    assert [r.status for r in d.records()] == [S.FAILED]


def test_subscribers_may_fail_and_unsubscribe(
    fx: Fixture, event: EventFactory, caplog: pytest.LogCaptureFixture
) -> None:
    d = fx.start(channel())
    seen: list[int] = []

    def broken(attempt: DeliveryAttempt, record: DeliveryRecord) -> None:
        raise RuntimeError("subscriber bug")

    d.subscribe(broken)
    stop = d.subscribe(lambda a, r: seen.append(a.delivery_id))
    assert d.notify(event(fingerprint="a"))[0].result(WAIT).status is S.DELIVERED
    stop()
    assert d.notify(event(fingerprint="b"))[0].result(WAIT).status is S.DELIVERED
    assert len(seen) == 1
    assert "subscriber failed" in caplog.text


def test_a_channel_bug_is_reported_without_its_secrets(
    fx: Fixture, event: EventFactory, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "https://hooks.example/T0/B0/s3cr3tPATH"
    ch = Scripted(
        LogChannelConfig(id="c1", name="buggy"),
        [RuntimeError(f"boom at {secret}")] * 3,
        secret=secret,
    )
    d = fx.start(ch)
    record = d.notify(event())[0].result(WAIT)
    assert record.status is S.FAILED
    assert (
        record.error is not None and "RuntimeError: boom at https://hooks.example/…" in record.error
    )
    assert "s3cr3tPATH" not in caplog.text and "Traceback" in caplog.text
    assert all("s3cr3tPATH" not in repr(x) for x in [*d.attempts(), *d.records()])


def test_send_test(fx: Fixture) -> None:
    ch = channel()
    d = fx.start(ch, policy=FAST.model_copy(update={"attempts": 5}))
    record = d.send_test("c1").result(WAIT)
    assert record.test and record.status is S.DELIVERED and record.rule == TEST_RULE
    assert ch.tests and ch.tests[0].alert.rule == TEST_RULE
    # Tried once by default, so the button answers at once.
    ch.script = [ChannelError("503")] * 5
    failed = d.send_test("c1").result(WAIT)
    assert failed.status is S.FAILED and failed.attempts == 1
    ch.script = [ChannelError("503")]
    assert d.send_test("c1", retry=True).result(WAIT).attempts == 2
    # A channel being edited, not saved yet, can be tested too.
    unsaved = LogChannelConfig(id="new", name="new one")
    assert d.send_test(unsaved).result(WAIT).status is S.DELIVERED
    assert d.send_test("nope").result(0).status is S.FAILED


def test_desktop_channel_calls_the_gui_notifier(fx: Fixture, event: EventFactory) -> None:
    desk = DesktopChannelConfig(id="desk", name="Desktop")
    d = NotificationDispatcher(None, [desk], policy=FAST)
    fx.dispatcher = d
    record = d.notify(event())[0].result(WAIT)
    assert record.status is S.FAILED and record.attempts == 1
    assert "no desktop notifier" in (record.error or "")
    shown: list[AlertEvent] = []
    d.set_desktop_notifier(shown.append)
    assert d.notify(event(fingerprint="x"))[0].result(WAIT).status is S.DELIVERED
    assert [e.alert.fingerprint for e in shown] == ["x"]


def test_log_channel_logs_at_its_level(
    fx: Fixture, event: EventFactory, caplog: pytest.LogCaptureFixture
) -> None:
    d = NotificationDispatcher(None, [LogChannelConfig(id="l", name="log", level="warning")])
    fx.dispatcher = d
    with caplog.at_level(logging.INFO, logger="etcdmon_gui.notify.channels"):
        assert d.notify(event())[0].result(WAIT).status is S.DELIVERED
    (line,) = [r for r in caplog.records if r.name == "etcdmon_gui.notify.channels"]
    assert line.levelno == logging.WARNING
    assert "FIRING critical: etcdNoLeader on prod / etcd-1" in line.getMessage()


def test_set_channels_applies_to_new_deliveries(fx: Fixture, event: EventFactory) -> None:
    d = fx.start(channel("a"))
    assert [c.id for c in d.channels()] == ["a"]
    fx.channels["b"] = channel("b")
    d.set_channels([fx.channels["b"].config])
    assert [f.result(WAIT).channel_id for f in d.notify(event())] == ["b"]
    with pytest.raises(ValueError, match="share the id"):
        d.set_channels([fx.channels["b"].config, fx.channels["b"].config])
