"""Sends alert events to channels off the caller's thread, retrying with back-off.

``NotificationDispatcher`` owns a few worker threads (plain threads, no Qt). Each
``notify`` call queues one *delivery* per chosen channel and returns at once. A
delivery is tried until it is accepted, it fails permanently (a 4xx answer, a refused
login, a missing secret), or it has used ``RetryPolicy.attempts``; the waits between
tries grow exponentially. Every try is recorded in the delivery log
(``attempts()``), every delivery has a ``DeliveryRecord`` (``records()``), and each
finished try is passed to the subscribers. A delivery always ends DELIVERED or FAILED:
an unknown channel, a call after ``close()``, or a shutdown with deliveries still
queued all end as FAILED records with a reason, never silently.

Deliveries of one alert to one channel keep their order (a PagerDuty ``resolve`` never
overtakes the ``trigger`` it resolves, even while the trigger is being retried);
different alerts and channels proceed in parallel, so one slow server does not hold up
the others.

Subscribers are called on a worker thread; a Qt caller relays them through a signal.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import random
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from dataclasses import dataclass, field, replace

from etcdmon_gui.model.alerts import AlertEvent, EventKind
from etcdmon_gui.model.delivery import (
    AttemptOutcome,
    DeliveryAttempt,
    DeliveryRecord,
    DeliveryStatus,
)
from etcdmon_gui.notify.base import Channel, ChannelBase, DesktopNotifier, SecretReader
from etcdmon_gui.notify.errors import ChannelError
from etcdmon_gui.notify.payloads import make_test_event
from etcdmon_gui.notify.registry import build_channel
from etcdmon_gui.notify.retry import RetryPolicy

log = logging.getLogger(__name__)

Subscriber = Callable[[DeliveryAttempt, DeliveryRecord], None]
ChannelFactory = Callable[[ChannelBase, SecretReader | None, DesktopNotifier | None], Channel]


@dataclass(eq=False)
class _Job:
    record: DeliveryRecord
    channel: Channel
    event: AlertEvent
    max_attempts: int
    policy: RetryPolicy
    future: Future[DeliveryRecord]
    done: bool = False
    running: bool = False  # a worker is trying it right now
    lane: tuple[str, str] = field(init=False)

    def __post_init__(self) -> None:
        self.lane = (self.record.channel_id, self.record.fingerprint)


class NotificationDispatcher:
    """Delivers alert events to the configured channels; see the module docstring.

    Thread-safe: every public method may be called from any thread.
    """

    def __init__(
        self,
        secrets: SecretReader | None,
        channels: Iterable[ChannelBase] = (),
        *,
        policy: RetryPolicy | None = None,
        desktop: DesktopNotifier | None = None,
        workers: int = 4,
        log_size: int = 2000,
        channel_factory: ChannelFactory = build_channel,
    ) -> None:
        if workers < 1:
            raise ValueError("a dispatcher needs at least one worker")
        self._secrets = secrets
        self._policy = policy or RetryPolicy()
        self._desktop = desktop
        self._factory = channel_factory
        self._cv = threading.Condition()
        self._closed = False
        self._ids = itertools.count(1)
        self._seq = itertools.count()
        self._heap: list[tuple[float, int, _Job]] = []
        self._lanes: dict[tuple[str, str], deque[_Job]] = {}
        self._unfinished = 0
        self._attempts: deque[DeliveryAttempt] = deque(maxlen=log_size)
        self._records: dict[int, DeliveryRecord] = {}
        self._finished_ids: deque[int] = deque()
        self._log_size = log_size
        self._subscribers: list[Subscriber] = []
        self._channels: dict[str, Channel] = {}
        self.set_channels(channels)
        self._threads = [
            threading.Thread(target=self._work, name=f"notify-{i + 1}", daemon=True)
            for i in range(workers)
        ]
        for thread in self._threads:
            thread.start()

    # -- configuration --------------------------------------------------------------

    def set_channels(self, configs: Iterable[ChannelBase]) -> None:
        """Replace the channel set. Deliveries already queued finish with the channel
        as it was when they were queued."""
        built: dict[str, Channel] = {}
        for config in configs:
            if config.id in built:
                raise ValueError(f"two channels share the id {config.id!r}")
            built[config.id] = self._factory(config, self._secrets, self._call_desktop)
        with self._cv:
            self._channels = built

    def set_policy(self, policy: RetryPolicy) -> None:
        """The retry policy for deliveries queued from now on."""
        with self._cv:
            self._policy = policy

    def set_desktop_notifier(self, notifier: DesktopNotifier | None) -> None:
        """The GUI's popup callback (called on a worker thread); None when headless."""
        with self._cv:
            self._desktop = notifier

    def channels(self) -> list[ChannelBase]:
        with self._cv:
            return [c.config for c in self._channels.values()]

    def _call_desktop(self, event: AlertEvent) -> None:
        with self._cv:
            notifier = self._desktop
        if notifier is None:
            raise ChannelError(
                "no desktop notifier in this session (running headless?)", permanent=True
            )
        notifier(event)

    # -- queueing -------------------------------------------------------------------

    def notify(
        self, event: AlertEvent, channel_ids: Iterable[str] | None = None
    ) -> list[Future[DeliveryRecord]]:
        """Queue ``event`` for the given channels (default: all; a profile may name them
        by id or by name), skipping channels that are disabled, below their minimum
        severity, or not sending resolved alerts. A channel that cannot be found yields a
        FAILED record rather than nothing. Each future resolves to the delivery's final
        record; it never raises."""
        resolved = event.kind is EventKind.RESOLVED
        with self._cv:
            by_name = {c.name: cid for cid, c in self._channels.items()}
            ids = (
                list(self._channels)
                if channel_ids is None
                else [
                    cid if cid in self._channels else by_name.get(cid, cid) for cid in channel_ids
                ]
            )
            plan = [(cid, self._channels.get(cid)) for cid in dict.fromkeys(ids)]
        futures: list[Future[DeliveryRecord]] = []
        for channel_id, channel in plan:
            if channel is None:
                futures.append(
                    self._reject(
                        event,
                        channel_id,
                        None,
                        False,
                        f"no channel with id {channel_id!r} (deleted from the settings?)",
                    )
                )
            elif channel.config.wants(event.alert.severity, resolved):
                futures.append(self._queue(channel, event, None, False))
        return futures

    def send_test(
        self,
        channel: str | ChannelBase,
        *,
        retry: bool = False,
        secrets: SecretReader | None = None,
    ) -> Future[DeliveryRecord]:
        """Send a clearly labelled test notification through ``channel`` (a configured
        channel's id, or a config being edited that need not be saved yet, whose secrets
        may come from ``secrets`` instead of the dispatcher's store). By default it is
        tried once, so the button answers quickly; ``retry`` uses the policy.
        A PagerDuty test triggers and then resolves its incident."""
        if isinstance(channel, str):
            with self._cv:
                target = self._channels.get(channel)
            if target is None:
                return self._reject(
                    make_test_event(channel, time.time()),
                    channel,
                    None,
                    True,
                    f"no channel with id {channel!r}",
                )
        else:
            target = self._factory(channel, secrets or self._secrets, self._call_desktop)
        return self._queue(
            target, make_test_event(target.id, time.time()), None if retry else 1, True
        )

    def _new_record(
        self, event: AlertEvent, channel_id: str, channel: Channel | None, test: bool
    ) -> DeliveryRecord:
        a = event.alert
        return DeliveryRecord(
            delivery_id=next(self._ids),
            channel_id=channel_id,
            channel_name=channel.name if channel else channel_id,
            channel_type=channel.type_name if channel else "unknown",
            fingerprint=a.fingerprint,
            rule=a.rule,
            cluster_name=a.cluster_name,
            member=a.member,
            event_kind=event.kind,
            test=test,
            status=DeliveryStatus.PENDING,
            attempts=0,
            created_at=time.time(),
        )

    def _reject(
        self, event: AlertEvent, channel_id: str, channel: Channel | None, test: bool, reason: str
    ) -> Future[DeliveryRecord]:
        """A delivery that cannot even be tried: one FAILED entry and record."""
        now = time.time()
        with self._cv:
            record = replace(
                self._new_record(event, channel_id, channel, test),
                status=DeliveryStatus.FAILED,
                attempts=1,
                finished_at=now,
                error=reason,
            )
            entry = DeliveryAttempt(
                delivery_id=record.delivery_id,
                channel_id=channel_id,
                channel_name=record.channel_name,
                channel_type=record.channel_type,
                fingerprint=record.fingerprint,
                event_kind=event.kind,
                test=test,
                attempt=1,
                max_attempts=1,
                at=now,
                duration_s=0.0,
                outcome=AttemptOutcome.FAILED,
                error=reason,
            )
            self._store(record)
            self._attempts.append(entry)
        log.error(
            "notification to %r (%s, %s) FAILED: %s",
            record.channel_name,
            record.fingerprint,
            event.kind.value,
            reason,
        )
        self._publish(entry, record)
        future: Future[DeliveryRecord] = Future()
        future.set_result(record)
        return future

    def _queue(
        self, channel: Channel, event: AlertEvent, attempts: int | None, test: bool
    ) -> Future[DeliveryRecord]:
        """Add a delivery to its lane; it runs when it heads the lane."""
        with self._cv:
            if not self._closed:
                policy = self._policy
                job = _Job(
                    self._new_record(event, channel.id, channel, test),
                    channel,
                    event,
                    attempts or policy.attempts,
                    policy,
                    Future(),
                )
                self._store(job.record)
                self._unfinished += 1
                lane = self._lanes.setdefault(job.lane, deque())
                lane.append(job)
                if len(lane) == 1:
                    self._schedule(job, time.monotonic())
                return job.future
        return self._reject(
            event, channel.id, channel, test, "not sent: notifications are shut down"
        )

    def _schedule(self, job: _Job, due: float) -> None:
        """Put ``job`` on the timeline at ``due`` (time.monotonic(); lock held)."""
        heapq.heappush(self._heap, (due, next(self._seq), job))
        self._cv.notify()

    def _store(self, record: DeliveryRecord) -> None:
        """Keep the record (lock held); forget the oldest finished beyond ``log_size``."""
        self._records[record.delivery_id] = record
        if record.status is not DeliveryStatus.PENDING:
            self._finished_ids.append(record.delivery_id)
            while len(self._finished_ids) > self._log_size:
                self._records.pop(self._finished_ids.popleft(), None)

    # -- the workers ----------------------------------------------------------------

    def _next_job(self) -> _Job | None:
        with self._cv:
            while not self._closed:
                now = time.monotonic()
                if self._heap and self._heap[0][0] <= now:
                    job = heapq.heappop(self._heap)[2]
                    job.running = True
                    return job
                self._cv.wait(self._heap[0][0] - now if self._heap else None)
            return None

    def _work(self) -> None:
        while (job := self._next_job()) is not None:
            try:
                self._attempt(job)
            except Exception:  # a bug here must not end the worker or lose the delivery
                log.error(
                    "notification worker error:\n%s", job.channel.scrub(traceback.format_exc())
                )
                self._finish(
                    job, AttemptOutcome.FAILED, "internal error (see the log)", time.time(), 0.0
                )

    def _attempt(self, job: _Job) -> None:
        number = job.record.attempts + 1
        started = time.time()
        clock = time.monotonic()
        error: ChannelError | None = None
        try:
            if job.record.test:
                job.channel.send_test(job.event)
            else:
                job.channel.send(job.event)
        except ChannelError as exc:
            error = exc
        except Exception as exc:  # a channel bug: report it like a failure, scrubbed
            log.error(
                "channel %r raised:\n%s",
                job.channel.name,
                job.channel.scrub(traceback.format_exc()),
            )
            error = ChannelError(f"{type(exc).__name__}: {exc}")
        duration = time.monotonic() - clock
        if error is None:
            self._finish(job, AttemptOutcome.DELIVERED, None, started, duration)
            return
        reason = job.channel.scrub(str(error)) or type(error).__name__
        if error.permanent or number >= job.max_attempts:
            if not error.permanent and job.max_attempts > 1:
                reason = f"{reason} (gave up after {number} attempts)"
            self._finish(job, AttemptOutcome.FAILED, reason, started, duration)
            return
        delay = job.policy.delay(number, random.random())
        if error.retry_after is not None:
            delay = max(delay, min(error.retry_after, job.policy.max_delay_s))
        self._retry(job, reason, started, duration, delay)

    def _attempt_entry(
        self,
        job: _Job,
        outcome: AttemptOutcome,
        error: str | None,
        started: float,
        duration: float,
        next_at: float | None = None,
    ) -> DeliveryAttempt:
        r = job.record
        return DeliveryAttempt(
            delivery_id=r.delivery_id,
            channel_id=r.channel_id,
            channel_name=r.channel_name,
            channel_type=r.channel_type,
            fingerprint=r.fingerprint,
            event_kind=r.event_kind,
            test=r.test,
            attempt=r.attempts + 1,
            max_attempts=job.max_attempts,
            at=started,
            duration_s=duration,
            outcome=outcome,
            error=error,
            next_attempt_at=next_at,
        )

    def _retry(self, job: _Job, reason: str, started: float, duration: float, delay: float) -> None:
        with self._cv:
            job.running = False
            if job.done:
                return
            entry = self._attempt_entry(
                job, AttemptOutcome.RETRYING, reason, started, duration, time.time() + delay
            )
            job.record = replace(job.record, attempts=entry.attempt, error=reason)
            self._store(job.record)
            self._attempts.append(entry)
            record = job.record
        log.warning(
            "notification to %r (%s, %s) failed, attempt %d of %d, retrying in %.3g s: %s",
            record.channel_name,
            record.fingerprint,
            record.event_kind.value,
            entry.attempt,
            job.max_attempts,
            delay,
            reason,
        )
        self._publish(entry, record)
        with self._cv:
            if not job.done and not self._closed:
                self._schedule(job, time.monotonic() + delay)

    def _finish(
        self,
        job: _Job,
        outcome: AttemptOutcome,
        reason: str | None,
        started: float,
        duration: float,
    ) -> None:
        with self._cv:
            job.running = False
            if job.done:  # failed by close() while this try was still running
                log.info(
                    "notification %d finished after shutdown: %s",
                    job.record.delivery_id,
                    outcome.value,
                )
                return
            entry = self._attempt_entry(job, outcome, reason, started, duration)
            status = (
                DeliveryStatus.DELIVERED
                if outcome is AttemptOutcome.DELIVERED
                else DeliveryStatus.FAILED
            )
            job.record = replace(
                job.record,
                attempts=entry.attempt,
                status=status,
                finished_at=time.time(),
                error=reason,
            )
            job.done = True
            self._store(job.record)
            self._attempts.append(entry)
            record = job.record
        if status is DeliveryStatus.DELIVERED:
            log.log(
                logging.INFO if entry.attempt > 1 else logging.DEBUG,
                "notification to %r (%s, %s) delivered on attempt %d",
                record.channel_name,
                record.fingerprint,
                record.event_kind.value,
                entry.attempt,
            )
        else:
            log.error(
                "notification to %r (%s, %s) FAILED after %d attempt(s): %s",
                record.channel_name,
                record.fingerprint,
                record.event_kind.value,
                entry.attempt,
                reason,
            )
        self._publish(entry, record)
        job.future.set_result(record)
        with self._cv:
            self._release(job)

    def _release(self, job: _Job) -> None:
        """Take a finished job off its lane and start the next one (lock held)."""
        lane = self._lanes.get(job.lane)
        if lane and lane[0] is job:
            lane.popleft()
            if lane:
                if not self._closed:
                    self._schedule(lane[0], time.monotonic())
            else:
                del self._lanes[job.lane]
        self._unfinished -= 1
        self._cv.notify_all()

    # -- reading the log ------------------------------------------------------------

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Call ``callback(attempt, record)`` for every entry added to the delivery log:
        on a worker thread after each try, or on the calling thread for a delivery
        failed without a try (unknown channel, shut down). Must not block for long.
        Returns a function that unsubscribes."""
        with self._cv:
            self._subscribers.append(callback)

        def unsubscribe() -> None:
            with self._cv:
                if callback in self._subscribers:
                    self._subscribers.remove(callback)

        return unsubscribe

    def _publish(self, entry: DeliveryAttempt, record: DeliveryRecord) -> None:
        with self._cv:
            subscribers = list(self._subscribers)
        for callback in subscribers:
            try:
                callback(entry, record)
            except Exception:
                log.exception("a delivery-log subscriber failed")

    def attempts(self) -> list[DeliveryAttempt]:
        """The delivery log, oldest first (the latest ``log_size`` tries)."""
        with self._cv:
            return list(self._attempts)

    def records(self, status: DeliveryStatus | None = None) -> list[DeliveryRecord]:
        """Deliveries (pending ones, and the latest finished), oldest first."""
        with self._cv:
            return [r for r in self._records.values() if status is None or r.status is status]

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until nothing is queued or being tried; False if ``timeout`` ran out."""
        with self._cv:
            return self._cv.wait_for(lambda: self._unfinished == 0, timeout)

    # -- shutdown -------------------------------------------------------------------

    def close(self, timeout: float = 5.0) -> None:
        """Stop the workers: a try in progress may finish (each is bounded by its
        channel's timeout) within ``timeout`` seconds; everything still queued is
        recorded as FAILED. Safe to call twice."""
        with self._cv:
            first = not self._closed
            self._closed = True
            self._cv.notify_all()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(max(0.0, deadline - time.monotonic()))
        stuck = [t.name for t in self._threads if t.is_alive()]
        if stuck and first:
            log.warning("notification threads still sending at shutdown: %s", ", ".join(stuck))
        with self._cv:
            left = [
                (job, job.running) for lane in self._lanes.values() for job in lane if not job.done
            ]
        for job, running in left:
            reason = (
                "notifications were shut down while this was being sent; whether it "
                "arrived is unknown"
                if running
                else "not sent: notifications were shut down before it could be delivered"
            )
            self._finish(job, AttemptOutcome.FAILED, reason, time.time(), 0.0)

    def __enter__(self) -> NotificationDispatcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
