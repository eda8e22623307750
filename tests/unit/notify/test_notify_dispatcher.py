"""The dispatcher's promises, with in-process channels that fail on cue.

The protocols themselves are tested against real receivers in
tests/integration/test_notify.py; here the channel is a script, so retries, ordering,
superseding, shutdown, the durable queue (a real SQLite file) and the delivery log can
be checked exactly and fast.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from etcdmon_gui.model.alerts import AlertEvent, EventKind, Severity
from etcdmon_gui.model.delivery import (
    AttemptOutcome,
    DeliveryAttempt,
    DeliveryRecord,
    QueuedDelivery,
)
from etcdmon_gui.model.delivery import DeliveryStatus as S
from etcdmon_gui.notify.base import Channel, ChannelBase, DesktopNotifier, SecretReader
from etcdmon_gui.notify.channels.desktop import DesktopChannelConfig
from etcdmon_gui.notify.channels.log import LogChannelConfig
from etcdmon_gui.notify.dispatcher import NotificationDispatcher
from etcdmon_gui.notify.errors import ChannelError
from etcdmon_gui.notify.payloads import TEST_RULE
from etcdmon_gui.notify.registry import build_channel
from etcdmon_gui.notify.retry import RetryPolicy
from etcdmon_gui.store.history import DeliveryQueueStore
from etcdmon_gui.store.secrets import SecretStore
from tests.unit.notify.notify_events import EventFactory

FAST = RetryPolicy(attempts=3, base_delay_s=0.02, max_delay_s=0.5, factor=2.0, jitter=0.0)
#: The first retry only after a minute: a failed delivery waits, visibly, for the test.
SLOW = FAST.model_copy(update={"base_delay_s": 60.0, "max_delay_s": 60.0})
WAIT = 5.0


@dataclass
class Gated:
    """A script step: wait for ``gate``, then fail with ``error``."""

    gate: threading.Event
    error: ChannelError


Step = BaseException | threading.Event | Gated | None


class Scripted(Channel):
    """Plays ``script`` one step per send: None succeeds, an exception is raised, an
    Event is waited for (then the send succeeds), a ``Gated`` waits and then fails.
    Past the script, sends succeed."""

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
        elif isinstance(step, Gated):
            assert step.gate.wait(WAIT)
            raise step.error
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
        self,
        *channels: Channel,
        policy: RetryPolicy = FAST,
        workers: int = 2,
        queue: DeliveryQueueStore | None = None,
    ) -> NotificationDispatcher:
        """A dispatcher over ``channels``; one started before is closed first (a
        restart)."""
        if self.dispatcher is not None:
            self.dispatcher.close()
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
            queue=queue,
        )
        self.dispatcher.subscribe(self._append)
        return self.dispatcher

    def outcomes(self, fingerprint: str) -> list[AttemptOutcome]:
        with self._logged:
            return [a.outcome for a, _ in self.log if a.fingerprint == fingerprint]


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


def test_an_alert_is_retried_past_the_old_five_tries_until_it_is_delivered(
    fx: Fixture, event: EventFactory
) -> None:
    """The receiver is down for 12 tries (5 used to be all): it still gets the alert, and
    the waits grow to the cap and stay there."""
    ch = channel(script=[ChannelError("connection refused")] * 12)
    policy = FAST.model_copy(update={"base_delay_s": 0.002, "max_delay_s": 0.01})
    record = fx.start(ch, policy=policy).notify(event())[0].result(WAIT)
    assert record.status is S.DELIVERED and record.attempts == 13
    entries = [a for a, _ in fx.log]
    assert [e.outcome for e in entries] == [AttemptOutcome.RETRYING] * 12 + [
        AttemptOutcome.DELIVERED
    ]
    assert {e.max_attempts for e in entries} == {None}  # bounded by time, not by tries
    waits = [waited(e) for e in entries[:-1]]
    assert waits[:3] == pytest.approx([0.002, 0.004, 0.008], abs=1e-3)
    assert waits[3:] == pytest.approx([0.01] * 9, abs=1e-3)  # capped


def test_an_alert_is_given_up_when_its_retry_time_runs_out(
    fx: Fixture, event: EventFactory
) -> None:
    ch = channel(script=[ChannelError("connection refused")] * 1000)
    policy = FAST.model_copy(update={"retry_for_s": 0.3, "max_delay_s": 0.05})
    d = fx.start(ch, policy=policy)
    record = d.notify(event())[0].result(WAIT)
    assert record.status is S.FAILED
    assert record.error is not None
    assert record.error.startswith(f"connection refused (gave up after {record.attempts} attempts")
    assert record.attempts == len(ch.sent) >= 4
    # The last try is made when the time is up, not before it.
    assert ch.sent[-1][2] - ch.sent[0][2] >= 0.3 - 0.01
    assert [e.outcome for e in d.attempts()][-1] is AttemptOutcome.FAILED
    assert d.records(S.FAILED) == [record] and d.records(S.DELIVERED) == []


def test_each_failing_delivery_is_logged_once_its_retries_at_debug_level(
    fx: Fixture, event: EventFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="etcdmon_gui.notify.dispatcher")
    ch = channel(script=[ChannelError("HTTP 503")] * 4)
    d = fx.start(ch, policy=FAST.model_copy(update={"base_delay_s": 0.005}))
    assert d.notify(event())[0].result(WAIT).status is S.DELIVERED
    lines = [(r.levelno, r.getMessage()) for r in caplog.records]
    warnings = [text for level, text in lines if level >= logging.WARNING]
    assert len(warnings) == 1, lines
    assert "failed: HTTP 503; retrying until " in warnings[0]
    retries = [text for level, text in lines if level == logging.DEBUG and "next try at" in text]
    assert len(retries) == 4
    assert [text for level, text in lines if level == logging.INFO] == [
        "notification to 'chan c1' (3f1c9a7e5d2b4c60, firing) delivered on attempt 5"
    ]


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


def test_one_alert_keeps_its_order_while_a_try_is_in_flight(
    fx: Fixture, event: EventFactory
) -> None:
    gate = threading.Event()
    ch = channel(script=[gate])
    d = fx.start(ch, workers=4)
    (firing,) = d.notify(event(EventKind.FIRING))
    assert ch.entered.wait(WAIT)
    (resolved,) = d.notify(event(EventKind.RESOLVED))  # must not overtake the trigger
    assert not resolved.done()
    gate.set()
    assert [f.result(WAIT).status for f in (firing, resolved)] == [S.DELIVERED, S.DELIVERED]
    assert [k for k, _, _ in ch.sent] == [EventKind.FIRING, EventKind.RESOLVED]


def test_the_latest_state_supersedes_deliveries_waiting_for_a_retry(
    fx: Fixture, event: EventFactory
) -> None:
    """FIRING fails and waits; a REPEAT replaces it, fails and waits; the RESOLVED
    replaces that and is what the receiver gets. Another alert is left alone."""
    ch = channel(script=[ChannelError("503")] * 3)
    d = fx.start(ch, policy=SLOW)
    (firing,) = d.notify(event(EventKind.FIRING))
    (other,) = d.notify(event(EventKind.FIRING, fingerprint="other"))
    fx.wait_log(2)
    (repeat,) = d.notify(event(EventKind.REPEAT))
    assert firing.result(WAIT).status is S.SUPERSEDED
    fx.wait_log(4)  # the FIRING's end, the REPEAT's failed try
    (resolved,) = d.notify(event(EventKind.RESOLVED))
    assert resolved.result(WAIT).status is S.DELIVERED
    superseded = repeat.result(0)
    assert superseded.status is S.SUPERSEDED and superseded.attempts == 1
    assert superseded.error == "replaced by a newer resolved event before it was sent"
    assert [k for k, fp, _ in ch.sent if fp != "other"] == [
        EventKind.FIRING,
        EventKind.REPEAT,
        EventKind.RESOLVED,
    ]
    assert not other.done()  # still waiting for its retry
    assert fx.outcomes("3f1c9a7e5d2b4c60") == [
        AttemptOutcome.RETRYING,
        AttemptOutcome.SUPERSEDED,
        AttemptOutcome.RETRYING,
        AttemptOutcome.SUPERSEDED,
        AttemptOutcome.DELIVERED,
    ]
    # A superseded delivery's entry counts the tries it had, not one more.
    ends = [(a.event_kind, a.attempt) for a, _ in fx.log if a.outcome is AttemptOutcome.SUPERSEDED]
    assert ends == [(EventKind.FIRING, 1), (EventKind.REPEAT, 1)]


def test_a_try_in_flight_that_fails_after_a_newer_event_is_not_retried(
    fx: Fixture, event: EventFactory
) -> None:
    gate = threading.Event()
    ch = channel(script=[Gated(gate, ChannelError("HTTP 503"))])
    d = fx.start(ch, policy=SLOW)
    (firing,) = d.notify(event(EventKind.FIRING))
    assert ch.entered.wait(WAIT)
    (resolved,) = d.notify(event(EventKind.RESOLVED))
    gate.set()
    record = firing.result(WAIT)
    assert record.status is S.SUPERSEDED and record.attempts == 1
    assert record.error == "HTTP 503 (not retried: replaced by a newer resolved event)"
    assert resolved.result(WAIT).status is S.DELIVERED
    assert [k for k, _, _ in ch.sent] == [EventKind.FIRING, EventKind.RESOLVED]


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
    """Without a durable queue, what waits at shutdown is failed, with a reason."""
    ch = channel(script=[ChannelError("503"), ChannelError("503")])
    d = fx.start(ch, policy=SLOW)
    (waiting,) = d.notify(event(fingerprint="a"))
    (behind,) = d.notify(event(EventKind.RESOLVED, fingerprint="b"))
    fx.wait_log(2)  # both tries failed; their retries are a minute away
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
        [RuntimeError(f"boom at {secret}")] * 100,
        secret=secret,
    )
    d = fx.start(ch, policy=FAST.model_copy(update={"retry_for_s": 0.05}))
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


# -- the durable queue (a real SQLite file) --------------------------------------------


@pytest.fixture
def queue(tmp_path: Path) -> Iterator[DeliveryQueueStore]:
    store = DeliveryQueueStore(tmp_path / "history.sqlite3", owner="app")
    yield store
    store.close()


def test_a_delivery_is_kept_before_its_first_try_until_it_is_delivered(
    fx: Fixture, event: EventFactory, queue: DeliveryQueueStore
) -> None:
    gate = threading.Event()
    ch = channel(script=[gate])
    d = fx.start(ch, queue=queue)
    (future,) = d.notify(event())
    assert ch.entered.wait(WAIT)
    (item,) = queue.pending()  # saved before the try began
    assert (item.channel_id, item.event, item.attempts) == ("c1", event(), 0)
    gate.set()
    assert future.result(WAIT).status is S.DELIVERED
    assert queue.pending() == []
    # A test notification is never kept.
    gate.clear()
    ch.script = [gate]
    test = d.send_test("c1")
    assert ch.entered.wait(WAIT)
    assert queue.pending() == []
    gate.set()
    assert test.result(WAIT).status is S.DELIVERED


def test_a_failed_try_is_kept_with_its_count_and_next_try_but_no_secret(
    fx: Fixture, event: EventFactory, queue: DeliveryQueueStore
) -> None:
    secret = "https://hooks.example/T0/B0/s3cr3tPATH"
    ch = Scripted(
        LogChannelConfig(id="c1", name="hook"), [ChannelError(f"503 from {secret}")], secret
    )
    d = fx.start(ch, policy=SLOW, queue=queue)
    (future,) = d.notify(event())
    fx.wait_log(1)
    (entry, record) = fx.log[0]
    (item,) = queue.pending()
    assert item.attempts == 1 and item.next_attempt_at == entry.next_attempt_at
    assert item.error == "503 from https://hooks.example/…"
    assert record.status is S.PENDING and record.next_attempt_at == entry.next_attempt_at
    db = sqlite3.connect(queue.path)
    assert not [line for line in db.iterdump() if "s3cr3tPATH" in line]
    db.close()
    assert not future.done()


def test_a_restart_sends_what_waited_in_the_order_it_was_queued(
    fx: Fixture, event: EventFactory, queue: DeliveryQueueStore
) -> None:
    """The first run cannot deliver and is shut down; the next one, with the receiver
    back, takes the queue back and delivers all of it, oldest first."""
    down = channel(script=[ChannelError("connection refused")] * 3)
    d = fx.start(down, policy=SLOW, queue=queue)
    futures = [f for fp in "abc" for f in d.notify(event(fingerprint=fp))]
    fx.wait_log(3)
    d.close()
    kept = [f.result(0) for f in futures]
    assert [r.status for r in kept] == [S.PENDING] * 3
    assert kept[0].error == (
        "kept in the queue for the next start (last failure: connection refused)"
    )
    assert [q.event.alert.fingerprint for q in queue.pending()] == ["a", "b", "c"]

    up = channel()
    again = fx.start(up, policy=SLOW, workers=1, queue=queue)
    assert again.resume() == 3
    assert again.resume() == 0  # nothing twice
    assert again.wait_idle(WAIT)
    assert [fp for _, fp, _ in up.sent] == ["a", "b", "c"]
    records = again.records(S.DELIVERED)
    assert [r.attempts for r in records] == [2, 2, 2]  # the try before the restart counts
    assert queue.pending() == []


def test_resume_supersedes_keeps_unknown_channels_and_drops_expired_ones(
    fx: Fixture, event: EventFactory, queue: DeliveryQueueStore, caplog: pytest.LogCaptureFixture
) -> None:
    now = time.time()

    def row(qid: str, kind: EventKind, channel_id: str = "c1", age: float = 60.0) -> None:
        queue.save(
            QueuedDelivery(qid, channel_id, event(kind), now - age, 2, now - age + 10, "503")
        )

    row("q1", EventKind.FIRING)  # killed before the RESOLVED could replace it
    row("q2", EventKind.RESOLVED)
    row("q3", EventKind.FIRING, "gone")  # its channel failed to load, say
    row("q4", EventKind.FIRING, "gone", age=2 * 86_400)  # past its day
    ch = channel()
    d = fx.start(ch, queue=queue)
    assert d.resume() == 2
    assert d.wait_idle(WAIT)
    assert [k for k, _, _ in ch.sent] == [EventKind.RESOLVED]
    assert sorted(r.status.value for r in d.records()) == ["delivered", "superseded"]
    assert [q.queue_id for q in queue.pending()] == ["q3"]
    assert "1 queued notification(s) for channel id 'gone' kept but not sent" in caplog.text
    assert "given up: no such channel" in caplog.text


def test_a_resumed_delivery_past_its_retry_time_gets_one_last_try(
    fx: Fixture, event: EventFactory, queue: DeliveryQueueStore
) -> None:
    old = time.time() - 2 * 86_400
    queue.save(QueuedDelivery("q1", "c1", event(EventKind.RESOLVED), old, 40, old, "503"))
    ch = channel(script=[ChannelError("HTTP 503")])
    d = fx.start(ch, queue=queue)
    assert d.resume() == 1
    assert d.wait_idle(WAIT)
    (record,) = d.records()
    assert record.status is S.FAILED and record.attempts == 41
    assert record.error is not None and "gave up after 41 attempts over 2 days" in record.error
    assert queue.pending() == []


def test_close_keeps_a_try_in_flight_and_a_superseded_one_goes(
    fx: Fixture, event: EventFactory, queue: DeliveryQueueStore
) -> None:
    gate = threading.Event()
    ch = channel(script=[gate])
    d = fx.start(ch, queue=queue)
    (firing,) = d.notify(event(EventKind.FIRING))
    assert ch.entered.wait(WAIT)
    (resolved,) = d.notify(event(EventKind.RESOLVED))
    d.close(timeout=0.05)
    assert firing.result(0).status is S.SUPERSEDED
    record = resolved.result(0)
    assert record.status is S.PENDING and "kept in the queue" in (record.error or "")
    assert [q.event.kind for q in queue.pending()] == [EventKind.RESOLVED]
    gate.set()
    for thread in threading.enumerate():
        if thread.name.startswith("notify-"):
            thread.join(WAIT)


def test_flush_waits_for_first_tries_not_for_retries(
    fx: Fixture, event: EventFactory, queue: DeliveryQueueStore
) -> None:
    gate = threading.Event()
    ch = channel(script=[Gated(gate, ChannelError("503"))])
    d = fx.start(ch, policy=SLOW, queue=queue)
    (future,) = d.notify(event())
    assert ch.entered.wait(WAIT)
    assert not d.flush(0.05)  # the first try is still going
    gate.set()
    started = time.monotonic()
    assert d.flush(WAIT)
    assert time.monotonic() - started < WAIT / 2  # woken when the try ended
    assert not future.done() and len(queue.pending()) == 1


def test_a_queue_that_cannot_be_written_does_not_stop_deliveries(
    fx: Fixture, event: EventFactory, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    broken = DeliveryQueueStore(tmp_path / "h.sqlite3", owner="app")
    broken.close()  # every write now fails, as on a full disk
    d = fx.start(channel(), queue=broken)
    for fp in "ab":
        assert d.notify(event(fingerprint=fp))[0].result(WAIT).status is S.DELIVERED
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "notification queue cannot be written" in errors[0].getMessage()
    assert d.resume() == 0  # unreadable: nothing resumed, nothing raised


def test_what_this_run_queued_before_resume_is_not_taken_back_again(
    fx: Fixture, event: EventFactory, queue: DeliveryQueueStore
) -> None:
    gate = threading.Event()
    ch = channel(script=[gate])
    d = fx.start(ch, queue=queue)
    (early,) = d.notify(event(fingerprint="early"))
    assert ch.entered.wait(WAIT)  # its row is in the queue while it is being sent
    assert d.resume() == 0
    gate.set()
    assert early.result(WAIT).status is S.DELIVERED
    assert d.wait_idle(WAIT)
    assert [fp for _, fp, _ in ch.sent] == ["early"]


def test_an_event_queued_while_a_failure_is_reported_supersedes_it_in_order(
    fx: Fixture, event: EventFactory
) -> None:
    """A newer event arrives while a failed try is being reported (from a subscriber,
    here): the log still reads retrying, superseded, then the newer one's outcome."""
    ch = channel(script=[ChannelError("503")])
    d = fx.start(ch, policy=SLOW)

    def resolve_now(attempt: DeliveryAttempt, record: DeliveryRecord) -> None:
        if attempt.outcome is AttemptOutcome.RETRYING and attempt.event_kind is EventKind.FIRING:
            d.notify(event(EventKind.RESOLVED))

    d.subscribe(resolve_now)
    seen: list[tuple[EventKind, AttemptOutcome]] = []
    d.subscribe(lambda a, r: seen.append((a.event_kind, a.outcome)))
    (firing,) = d.notify(event(EventKind.FIRING))
    assert firing.result(WAIT).status is S.SUPERSEDED
    assert d.wait_idle(WAIT)
    assert seen == [
        (EventKind.FIRING, AttemptOutcome.RETRYING),
        (EventKind.FIRING, AttemptOutcome.SUPERSEDED),
        (EventKind.RESOLVED, AttemptOutcome.DELIVERED),
    ]
