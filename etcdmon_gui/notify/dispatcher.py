"""Sends alert events to channels off the caller's thread, retrying with back-off.

``NotificationDispatcher`` owns a few worker threads (plain threads, no Qt). Each
``notify`` call queues one *delivery* per chosen channel and returns at once. A
delivery is tried until it is accepted, it fails permanently (a 4xx answer, a refused
login, a missing secret), or its time runs out: an alert's delivery is retried for
``RetryPolicy.retry_for_s`` (a day) from when it was queued, the waits growing
exponentially up to ``max_delay_s`` (five minutes); a test notification gets
``RetryPolicy.attempts`` tries. Every try is recorded in the delivery log
(``attempts()``), every delivery has a ``DeliveryRecord`` (``records()``), and each
finished try is passed to the subscribers. A delivery ends DELIVERED, FAILED or
SUPERSEDED: an unknown channel or a call after ``close()`` end as FAILED records with a
reason, never silently.

Durable queue: given a ``DeliveryQueue`` (the history file's), an alert's delivery is
saved there before its first try, updated after each failed one and removed when it is
delivered, given up or superseded. ``close()`` leaves what still waits in the queue
(its record stays PENDING) and ``resume()``, at the next start, takes it back and tries
it at once, then with the back-off its tries so far call for, until its retry time
(counted from when it was first queued) runs out. A try cut short by ``kill -9`` is
made again: delivery is at least once. Test notifications are never kept.

Latest state wins (as in Alertmanager, where a receiver is told an alert's current
state, not its history): a new event of an alert for a channel supersedes that alert's
deliveries to the channel that still wait (queued, or failed and waiting for a retry),
so FIRING then RESOLVED while a receiver is down sends only the RESOLVED (its startsAt
and endsAt say that it fired), and a REPEAT replaces a FIRING not yet delivered (it
says that the alert fires). A delivery being tried at that moment finishes its try; if
that fails, it is superseded rather than retried. A channel that does not send
resolved alerts gets no RESOLVED to supersede with, so its FIRING still goes out.

Deliveries of one alert to one channel keep their order (a PagerDuty ``resolve`` never
overtakes the ``trigger`` it resolves, even while the trigger is being retried), and
``resume()`` queues what it takes back in the order it was first queued; different
alerts and channels proceed in parallel, so one slow server does not hold up the others.

Logging: a delivery's first failure is a WARNING (with how long it will be retried),
each later failed try a DEBUG line with its next try's time, giving up an ERROR, and a
delivery after failures an INFO line: one warning per delivery, not per try.

Re-sending while firing: a channel with a ``resend_s`` (Alertmanager's, which lets an
alert lapse unless it keeps hearing of it) is sent the latest FIRING/REPEAT event of
each firing alert again every ``resend_s``, until that alert's RESOLVED is notified (to
any of its channels' plans, wanted or not), the channel goes (``set_channels``) or the
dispatcher closes. A re-send takes its turn in the alert's lane, so it never overtakes
a RESOLVED; it is skipped while a delivery of that alert to that channel waits or is
tried (that one says the same). Re-sends are best effort: one try each, never in the
durable queue, the delivery log or the records; a failing one is logged once (a
WARNING) until one succeeds again (INFO). A FIRING/REPEAT taken back by ``resume()``
is re-sent too. The engine says which alerts fire: an acknowledged or silenced firing
alert is still re-sent. After each evaluation ``firing`` hands the dispatcher the
cluster's firing alerts: re-sends of the others end with one best-effort RESOLVED (an
alert resolved while silenced has no RESOLVED event of its own), and firing alerts
restored after a restart are re-sent again before the receiver lets them lapse.

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
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field, replace

from etcdmon_gui.bugs import report_bug
from etcdmon_gui.formatting import fmt_elapsed, fmt_stamp
from etcdmon_gui.model.alerts import Alert, AlertEvent, AlertState, EventKind
from etcdmon_gui.model.delivery import (
    AttemptOutcome,
    DeliveryAttempt,
    DeliveryRecord,
    DeliveryStatus,
    QueuedDelivery,
)
from etcdmon_gui.notify.base import (
    Channel,
    ChannelBase,
    DeliveryQueue,
    DesktopNotifier,
    SecretReader,
)
from etcdmon_gui.notify.errors import ChannelError
from etcdmon_gui.notify.payloads import make_test_event
from etcdmon_gui.notify.registry import build_channel
from etcdmon_gui.notify.retry import RetryPolicy

log = logging.getLogger(__name__)

Subscriber = Callable[[DeliveryAttempt, DeliveryRecord], None]
ChannelFactory = Callable[[ChannelBase, SecretReader | None, DesktopNotifier | None], Channel]

_STATUS = {
    AttemptOutcome.DELIVERED: DeliveryStatus.DELIVERED,
    AttemptOutcome.FAILED: DeliveryStatus.FAILED,
    AttemptOutcome.SUPERSEDED: DeliveryStatus.SUPERSEDED,
}


@dataclass(eq=False)
class _Resend:
    """A firing alert sent again to a channel every ``channel.resend_s``: the timer's
    entry on the timeline, current while ``_resends`` holds this very object."""

    channel: Channel
    event: AlertEvent
    failing: bool = False  # its last re-send failed (said once)
    final: bool = False  # a RESOLVED the engine never sent (silenced): sent once

    @property
    def key(self) -> tuple[str, str]:
        return (self.channel.id, self.event.alert.fingerprint)


@dataclass(eq=False)
class _Job:
    record: DeliveryRecord
    channel: Channel
    event: AlertEvent
    max_attempts: int | None  # a test's tries; None: an alert's, bounded by ``deadline``
    policy: RetryPolicy
    future: Future[DeliveryRecord]
    deadline: float | None = None  # UNIX time: a failure from then on is final
    queued: QueuedDelivery | None = None  # its row in the durable queue, if it has one
    done: bool = False
    running: bool = False  # a worker is trying it right now
    scheduled: bool = False  # on the timeline, waiting for its turn
    superseded_by: _Job | None = None  # a newer event came during a try: do not retry
    warned: bool = False  # its first failure was logged; later ones go to debug
    resend: _Resend | None = None  # a best-effort re-send of a firing alert
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
        queue: DeliveryQueue | None = None,
    ) -> None:
        if workers < 1:
            raise ValueError("a dispatcher needs at least one worker")
        self._secrets = secrets
        self._policy = policy or RetryPolicy()
        self._desktop = desktop
        self._factory = channel_factory
        self._queue_store = queue
        # Serialises the queue's writes with the check that a delivery is not done yet,
        # so a late update never brings back a row that was removed.
        self._queue_lock = threading.Lock()
        self._queue_broken = False  # the queue's last write failed (said once)
        self._resumed = False
        self._early: set[str] = set()  # queue ids this run saved before resume() read
        self._early_open = True
        self._cv = threading.Condition()
        self._closed = False
        self._ids = itertools.count(1)
        self._seq = itertools.count()
        self._heap: list[tuple[float, int, _Job | _Resend]] = []
        self._resends: dict[tuple[str, str], _Resend] = {}
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
            for key, entry in list(self._resends.items()):
                channel = built.get(key[0])
                if channel is None or not channel.resend_s:
                    del self._resends[key]
                elif channel is not entry.channel:  # its new settings from the next one
                    self._track(channel, entry.event)

    def set_policy(self, policy: RetryPolicy) -> None:
        """The retry policy for deliveries queued (or resumed) from now on."""
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
        record (PENDING if ``close()`` left it in the durable queue); it never raises."""
        resolved = event.kind is EventKind.RESOLVED
        with self._cv:
            plan = self._plan(channel_ids)
            for _, target in plan:
                if target is not None:
                    self._track(target, event)
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
        tried once, so the button answers quickly; ``retry`` gives it the policy's
        ``attempts``. A test is never kept in the durable queue and never supersedes.
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

    def resume(self) -> int:
        """Take back the deliveries the durable queue kept from an earlier run (those of
        channels configured now), in the order they were first queued, each tried at
        once; a later event of an alert supersedes an earlier one as usual. Deliveries to
        a channel that is not configured stay in the queue (a channel file that failed to
        load is no reason to drop them) until their retry time has run out: the next
        start may have the channel again. Call it once the subscribers are in place; it
        acts once per dispatcher (later calls return 0). Returns how many deliveries were
        taken back."""
        with self._cv:
            if self._queue_store is None or self._resumed:
                return 0
            self._resumed = True
        try:
            items = self._queue_store.pending()
        except Exception as exc:  # an unreadable queue: said, never fatal
            log.error("the notification queue cannot be read, nothing resumed: %s", exc)
            return 0
        now = time.time()
        with self._cv:
            if self._closed:
                return 0
            channels = dict(self._channels)
            policy = self._policy
            # This run's own rows, saved before pending() was read.
            taken, self._early, self._early_open = self._early, set(), False
        missing: Counter[str] = Counter()
        resumed = 0
        for item in items:
            if item.queue_id in taken:
                continue
            channel = channels.get(item.channel_id)
            deadline = item.created_at + policy.retry_for_s
            if channel is None:
                if now < deadline:
                    missing[item.channel_id] += 1
                else:
                    self._drop_row(item.queue_id)
                    log.error(
                        "notification for channel id %r (%s, %s) given up: no such channel "
                        "since it was queued at %s",
                        item.channel_id,
                        item.event.alert.fingerprint,
                        item.event.kind.value,
                        fmt_stamp(item.created_at),
                    )
                continue
            record = replace(
                self._new_record(item.event, channel.id, channel, False),
                attempts=item.attempts,
                created_at=item.created_at,
                error=item.error,
                next_attempt_at=now,
            )
            job = _Job(
                record, channel, item.event, None, policy, Future(), deadline=deadline, queued=item
            )
            if not self._enqueue(job):
                break  # closed meanwhile: the rest stays in the queue
            with self._cv:
                self._track(channel, item.event)
            resumed += 1
        for channel_id, count in missing.items():
            log.warning(
                "%d queued notification(s) for channel id %r kept but not sent: no such "
                "channel is configured now",
                count,
                channel_id,
            )
        if resumed:
            log.info("resumed %d queued notification(s)", resumed)
        return resumed

    def _new_record(
        self,
        event: AlertEvent,
        channel_id: str,
        channel: Channel | None,
        test: bool,
        *,
        numbered: bool = True,
    ) -> DeliveryRecord:
        a = event.alert
        return DeliveryRecord(
            delivery_id=next(self._ids) if numbered else 0,
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
            self._remember(record)
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
        """Save an alert's delivery in the durable queue, then add it to its lane; it
        runs when it heads the lane."""
        with self._cv:
            closed, policy = self._closed, self._policy
        if not closed:
            record = self._new_record(event, channel.id, channel, test)
            if test:
                job = _Job(record, channel, event, attempts or policy.attempts, policy, Future())
            else:
                job = _Job(
                    record,
                    channel,
                    event,
                    None,
                    policy,
                    Future(),
                    deadline=record.created_at + policy.retry_for_s,
                )
                if self._queue_store is not None:
                    item = QueuedDelivery(
                        queue_id=uuid.uuid4().hex,
                        channel_id=channel.id,
                        event=event,
                        created_at=record.created_at,
                        attempts=0,
                        next_attempt_at=record.created_at,
                    )
                    with self._cv:
                        if self._early_open:
                            self._early.add(item.queue_id)
                    if self._write_queue(lambda q: q.save(item)):  # before the first try
                        job.queued = item
            if self._enqueue(job):
                return job.future
            if job.queued is not None:
                self._drop_row(job.queued.queue_id)
        return self._reject(
            event, channel.id, channel, test, "not sent: notifications are shut down"
        )

    def _enqueue(self, job: _Job) -> bool:
        """Add ``job`` to its lane, superseding what waits there (an alert's delivery);
        False when the dispatcher is closed."""
        with self._cv:
            if self._closed:
                return False
            lane = self._lanes.setdefault(job.lane, deque())
            superseded: list[_Job] = []
            if not job.record.test:
                for old in lane:
                    if old.done or old.record.test or old.resend is not None:
                        continue  # a re-send (always being tried) just goes first
                    if old.running:
                        old.superseded_by = job  # its try goes on; a failure is final
                    else:
                        old.done = True  # claimed: no worker will start it now
                        superseded.append(old)
                for old in superseded:
                    lane.remove(old)
            lane.append(job)
            self._remember(job.record)
            self._unfinished += 1
        # The superseded end first (their rows go), then the newer one is tried.
        for old in superseded:
            self._finish(
                old,
                AttemptOutcome.SUPERSEDED,
                f"replaced by a newer {job.event.kind.value} event before it was sent",
                time.time(),
                0.0,
                claimed=True,
            )
        with self._cv:
            now_lane = self._lanes.get(job.lane)
            if now_lane and now_lane[0] is job and not job.done and not self._closed:
                self._schedule(job, time.monotonic())
        return True

    def _schedule(self, job: _Job, due: float) -> None:
        """Put ``job`` on the timeline at ``due`` (time.monotonic(); lock held), unless it
        is there already or being tried."""
        if job.scheduled or job.running:
            return
        job.scheduled = True
        heapq.heappush(self._heap, (due, next(self._seq), job))
        self._cv.notify()

    def _remember(self, record: DeliveryRecord) -> None:
        """Keep the record (lock held); forget the oldest finished beyond ``log_size``."""
        self._records[record.delivery_id] = record
        if record.status is not DeliveryStatus.PENDING:
            self._finished_ids.append(record.delivery_id)
            while len(self._finished_ids) > self._log_size:
                self._records.pop(self._finished_ids.popleft(), None)

    # -- the durable queue ----------------------------------------------------------

    def _write_queue(self, write: Callable[[DeliveryQueue], None], job: _Job | None = None) -> bool:
        """Run one write on the durable queue, unless ``job`` is done by then (so a late
        update never brings back a removed row). A failed write is logged once until a
        write succeeds again: the delivery goes on in memory."""
        store = self._queue_store
        if store is None:
            return False
        with self._queue_lock:
            if job is not None and job.done:
                return False
            try:
                write(store)
            except Exception as exc:
                if not self._queue_broken:
                    log.error(
                        "the notification queue cannot be written (%s): notifications "
                        "still go out, but a restart may lose those waiting",
                        exc,
                    )
                else:
                    log.debug("the notification queue still cannot be written: %s", exc)
                self._queue_broken = True
                return False
            if self._queue_broken:
                log.warning("the notification queue can be written again")
                self._queue_broken = False
            return True

    def _drop_row(self, queue_id: str) -> None:
        self._write_queue(lambda q: q.remove(queue_id))

    # -- the workers ----------------------------------------------------------------

    def _next_job(self) -> _Job | None:
        with self._cv:
            while not self._closed:
                now = time.monotonic()
                if self._heap and self._heap[0][0] <= now:
                    item = heapq.heappop(self._heap)[2]
                    if isinstance(item, _Resend):
                        resend = self._resend_job(item, now)
                        if resend is not None:
                            return resend
                        continue
                    job = item
                    job.scheduled = False
                    if job.done:  # superseded while it waited
                        continue
                    job.running = True
                    return job
                self._cv.wait(self._heap[0][0] - now if self._heap else None)
            return None

    def _work(self) -> None:
        while (job := self._next_job()) is not None:
            try:
                self._attempt(job)
            except Exception as exc:  # a bug here must not end the worker or lose the delivery
                log.error(
                    "notification worker error:\n%s", job.channel.scrub(traceback.format_exc())
                )
                report_bug(exc, "the notification dispatcher", logged=True)
                self._finish(
                    job, AttemptOutcome.FAILED, "internal error (see the log)", time.time(), 0.0
                )

    def _attempt(self, job: _Job) -> None:
        if job.resend is not None:
            self._resend_attempt(job, job.resend)
            return
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
            report_bug(exc, f"the notification channel {job.channel.name!r}", logged=True)
            error = ChannelError(f"{type(exc).__name__}: {exc}")
        duration = time.monotonic() - clock
        if error is None:
            self._finish(job, AttemptOutcome.DELIVERED, None, started, duration)
            return
        reason = job.channel.scrub(str(error)) or type(error).__name__
        now = time.time()
        with self._cv:
            newer = job.superseded_by
        if error.permanent:
            self._finish(job, AttemptOutcome.FAILED, reason, started, duration)
        elif newer is not None:
            self._finish(
                job,
                AttemptOutcome.SUPERSEDED,
                f"{reason} (not retried: replaced by a newer {newer.event.kind.value} event)",
                started,
                duration,
            )
        elif job.max_attempts is not None and number >= job.max_attempts:
            if job.max_attempts > 1:
                reason = f"{reason} (gave up after {number} attempts)"
            self._finish(job, AttemptOutcome.FAILED, reason, started, duration)
        elif job.deadline is not None and now >= job.deadline:
            spent = fmt_elapsed(now - job.record.created_at)
            reason = f"{reason} (gave up after {number} attempts over {spent})"
            self._finish(job, AttemptOutcome.FAILED, reason, started, duration)
        else:
            delay = job.policy.delay(number, random.random())
            if error.retry_after is not None:
                delay = max(delay, min(error.retry_after, job.policy.max_delay_s))
            if job.deadline is not None:  # the last try is at the deadline
                delay = min(delay, max(0.0, job.deadline - now))
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
        # A delivery superseded while it waited was not tried this time.
        tried = outcome is not AttemptOutcome.SUPERSEDED or job.running
        return DeliveryAttempt(
            delivery_id=r.delivery_id,
            channel_id=r.channel_id,
            channel_name=r.channel_name,
            channel_type=r.channel_type,
            fingerprint=r.fingerprint,
            event_kind=r.event_kind,
            test=r.test,
            attempt=r.attempts + 1 if tried else r.attempts,
            max_attempts=job.max_attempts,
            at=started,
            duration_s=duration,
            outcome=outcome,
            error=error,
            next_attempt_at=next_at,
        )

    def _retry(self, job: _Job, reason: str, started: float, duration: float, delay: float) -> None:
        next_at = started + duration + delay  # the wait counts from the end of the try
        with self._cv:
            if job.done:
                job.running = False
                return
            # Still "running" until it is back on the timeline: a newer event meanwhile
            # marks it superseded rather than ending it under this code's feet.
            entry = self._attempt_entry(
                job, AttemptOutcome.RETRYING, reason, started, duration, next_at
            )
            job.record = replace(
                job.record, attempts=entry.attempt, error=reason, next_attempt_at=next_at
            )
            self._remember(job.record)
            self._attempts.append(entry)
            record = job.record
            first = not job.warned
            job.warned = True
        if job.queued is not None:
            job.queued = replace(
                job.queued, attempts=entry.attempt, next_attempt_at=next_at, error=reason
            )
            item = job.queued
            self._write_queue(lambda q: q.save(item), job)
        what = (record.channel_name, record.fingerprint, record.event_kind.value)
        if first:
            until = (
                f"retrying until {fmt_stamp(job.deadline)}"
                if job.deadline is not None
                else f"retrying, {job.max_attempts} attempts at most"
            )
            log.warning(
                "notification to %r (%s, %s) failed: %s; %s (further failures at debug level)",
                *what,
                reason,
                until,
            )
        log.debug(
            "notification to %r (%s, %s): attempt %d failed, next try at %s (in %.3g s): %s",
            *what,
            entry.attempt,
            fmt_stamp(next_at),
            delay,
            reason,
        )
        self._publish(entry, record)
        with self._cv:
            job.running = False
            newer = job.superseded_by if not job.done else None
            if newer is not None:
                job.done = True  # claimed: ended below, not retried
            elif not job.done and not self._closed:
                self._schedule(job, time.monotonic() + delay)
            self._cv.notify_all()  # flush() waits for a first try to end
        if newer is not None:
            self._finish(
                job,
                AttemptOutcome.SUPERSEDED,
                f"replaced by a newer {newer.event.kind.value} event before its retry",
                time.time(),
                0.0,
                claimed=True,
            )

    def _finish(
        self,
        job: _Job,
        outcome: AttemptOutcome,
        reason: str | None,
        started: float,
        duration: float,
        *,
        claimed: bool = False,
    ) -> None:
        """End a delivery: its record, log entry, future; its queue row goes. ``claimed``:
        the caller already marked it done (superseded while it waited)."""
        with self._cv:
            late = job.done and not claimed  # ended by close() while this try was running
        if late:
            log.info(
                "notification %d finished after shutdown: %s",
                job.record.delivery_id,
                outcome.value,
            )
            if outcome is AttemptOutcome.DELIVERED and job.queued is not None:
                queue_id = job.queued.queue_id  # it arrived after all: not again next time
                self._write_queue(lambda q: q.remove(queue_id))
            return
        with self._cv:
            entry = self._attempt_entry(job, outcome, reason, started, duration)
            job.running = False
            status = _STATUS[outcome]
            job.record = replace(
                job.record,
                attempts=entry.attempt,
                status=status,
                finished_at=time.time(),
                error=reason,
                next_attempt_at=None,
            )
            job.done = True
            self._remember(job.record)
            self._attempts.append(entry)
            record = job.record
        if job.queued is not None:
            queue_id = job.queued.queue_id
            self._write_queue(lambda q: q.remove(queue_id))
        what = (record.channel_name, record.fingerprint, record.event_kind.value)
        if status is DeliveryStatus.DELIVERED:
            log.log(
                logging.INFO if entry.attempt > 1 else logging.DEBUG,
                "notification to %r (%s, %s) delivered on attempt %d",
                *what,
                entry.attempt,
            )
        elif status is DeliveryStatus.SUPERSEDED:
            log.info("notification to %r (%s, %s) not sent: %s", *what, reason)
        else:
            log.error(
                "notification to %r (%s, %s) FAILED after %d attempt(s): %s",
                *what,
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
        if lane is not None:
            head = bool(lane) and lane[0] is job
            if job in lane:
                lane.remove(job)
            if not lane:
                del self._lanes[job.lane]
            elif head and not self._closed:
                self._schedule(lane[0], time.monotonic())
        self._unfinished -= 1
        self._cv.notify_all()

    def _plan(self, channel_ids: Iterable[str] | None) -> list[tuple[str, Channel | None]]:
        """The channels ``channel_ids`` name (by id or name; None: all), each once, with
        None for one that cannot be found (lock held)."""
        by_name = {c.name: cid for cid, c in self._channels.items()}
        ids = (
            list(self._channels)
            if channel_ids is None
            else [cid if cid in self._channels else by_name.get(cid, cid) for cid in channel_ids]
        )
        return [(cid, self._channels.get(cid)) for cid in dict.fromkeys(ids)]

    # -- re-sending firing alerts ----------------------------------------------------

    def firing(
        self, cluster: str, alerts: Sequence[Alert], channel_ids: Iterable[str] | None = None
    ) -> None:
        """``cluster``'s firing alerts now, as its alert engine says after each
        evaluation: re-sends of its alerts no longer among them end with one RESOLVED
        (an alert resolved while silenced has no RESOLVED event, and the receiver would
        show it firing until it lapses), and a firing alert no re-send knows of
        (restored after a restart) starts being re-sent, unless it is silenced."""
        now = time.time()
        current = {a.fingerprint for a in alerts}
        with self._cv:
            for key, entry in list(self._resends.items()):
                alert = entry.event.alert
                if entry.final or alert.cluster != cluster or alert.fingerprint in current:
                    continue
                if not entry.channel.config.wants(alert.severity, True):
                    del self._resends[key]  # it takes no RESOLVED: the re-sends just end
                    continue
                # Stopped firing without a RESOLVED (it was silenced): the receiver
                # still shows it firing until it lapses, so it is told once.
                ended = replace(alert, state=AlertState.RESOLVED, since=now, resolved_at=now)
                last = _Resend(entry.channel, AlertEvent(EventKind.RESOLVED, ended, now))
                last.final = True
                self._resends[key] = last
                heapq.heappush(self._heap, (time.monotonic(), next(self._seq), last))
                self._cv.notify()
            for _, channel in self._plan(channel_ids):
                if channel is None or not channel.resend_s:
                    continue
                for alert in alerts:
                    muted = alert.silenced_until is not None or alert.silenced_by is not None
                    if not muted and (channel.id, alert.fingerprint) not in self._resends:
                        self._track(channel, AlertEvent(EventKind.FIRING, alert, now))

    def _track(self, channel: Channel, event: AlertEvent) -> None:
        """Note ``event`` for ``channel``'s re-sends (lock held): a FIRING/REPEAT the
        channel takes is re-sent from ``resend_s`` on; a RESOLVED (even one it does not
        take) ends them."""
        key = (channel.id, event.alert.fingerprint)
        resolved = event.kind is EventKind.RESOLVED
        if (
            self._closed
            or resolved
            or not channel.resend_s
            or not channel.config.wants(event.alert.severity, resolved)
        ):
            self._resends.pop(key, None)
            return
        entry = self._resends[key] = _Resend(channel, event)
        heapq.heappush(self._heap, (time.monotonic() + channel.resend_s, next(self._seq), entry))
        self._cv.notify()

    def _resend_job(self, entry: _Resend, now: float) -> _Job | None:
        """A due re-send (lock held): the job to try now, None if it is no longer wanted
        or a delivery of its alert is already in the lane. Its next one is scheduled."""
        key = entry.key
        interval = entry.channel.resend_s
        if self._resends.get(key) is not entry or not interval:
            return None  # resolved, replaced by a newer event, or its channel changed
        if not entry.final:
            heapq.heappush(self._heap, (now + interval, next(self._seq), entry))
        if self._lanes.get(key):
            if entry.final:  # after the delivery waiting in the lane, not instead of it
                heapq.heappush(self._heap, (now + 1.0, next(self._seq), entry))
            return None  # a delivery of this alert waits or is being tried: it says as much
        record = self._new_record(
            entry.event, entry.channel.id, entry.channel, False, numbered=False
        )
        job = _Job(record, entry.channel, entry.event, 1, self._policy, Future(), resend=entry)
        job.running = True
        self._lanes[key] = deque([job])
        self._unfinished += 1
        return job

    def _resend_attempt(self, job: _Job, entry: _Resend) -> None:
        """One try of a re-send; its failure is logged, never retried or recorded."""
        error: str | None = None
        try:
            job.channel.send(job.event)
        except ChannelError as exc:
            error = job.channel.scrub(str(exc)) or type(exc).__name__
        except Exception as exc:  # a channel bug: reported, the re-sends go on
            log.error(
                "channel %r raised:\n%s",
                job.channel.name,
                job.channel.scrub(traceback.format_exc()),
            )
            report_bug(exc, f"the notification channel {job.channel.name!r}", logged=True)
            error = f"{type(exc).__name__}: {job.channel.scrub(str(exc))}"
        what = (job.channel.name, job.event.alert.fingerprint)
        if entry.final:
            if error is not None:
                log.warning(
                    "telling %r that the alert %s resolved (while silenced) failed: %s; "
                    "the receiver lets it lapse instead",
                    *what,
                    error,
                )
        elif error is None:
            if entry.failing:
                log.info("re-sending the firing alert to %r (%s) works again", *what)
            entry.failing = False
        elif not entry.failing:
            entry.failing = True
            log.warning(
                "re-sending the firing alert to %r (%s) failed: %s; tried again every %g s "
                "(further failures at debug level)",
                *what,
                error,
                job.channel.resend_s,
            )
        else:
            log.debug("re-sending the firing alert to %r (%s) failed again: %s", *what, error)
        with self._cv:
            job.done = True
            job.running = False
            if entry.final and self._resends.get(entry.key) is entry:
                del self._resends[entry.key]
            self._release(job)

    # -- reading the log ------------------------------------------------------------

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Call ``callback(attempt, record)`` for every entry added to the delivery log:
        on a worker thread after each try, or on the calling thread for a delivery
        failed without a try (unknown channel, shut down) or superseded while it
        waited. Must not block for long. Returns a function that unsubscribes."""
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
            except Exception as exc:
                log.exception("a delivery-log subscriber failed")
                report_bug(exc, "a delivery-log subscriber", logged=True)

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

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every delivery that can be tried now has been tried at least once
        and none is being tried (those failing wait for their retry, in the durable
        queue: what a shutdown waits for); False if ``timeout`` ran out."""

        def settled() -> bool:
            return all(
                not lane[0].running and lane[0].record.attempts > 0 for lane in self._lanes.values()
            )

        with self._cv:
            return self._cv.wait_for(settled, timeout)

    # -- shutdown -------------------------------------------------------------------

    def close(self, timeout: float = 5.0) -> None:
        """Stop the workers: a try in progress may finish (each is bounded by its
        channel's timeout) within ``timeout`` seconds. What is still queued stays in the
        durable queue for the next start (its record stays PENDING and says so); without
        a queue, or for a test, it is recorded as FAILED. Safe to call twice."""
        with self._cv:
            first = not self._closed
            self._closed = True
            self._resends.clear()
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
                (job, job.running)
                for lane in self._lanes.values()
                for job in lane
                if not job.done and job.resend is None  # a re-send in progress just ends
            ]
        kept = 0
        for job, running in left:
            if job.superseded_by is not None:
                self._finish(
                    job,
                    AttemptOutcome.SUPERSEDED,
                    f"replaced by a newer {job.superseded_by.event.kind.value} event",
                    time.time(),
                    0.0,
                )
            elif job.queued is not None:
                kept += self._keep(job, running)
            else:
                reason = (
                    "notifications were shut down while this was being sent; whether it "
                    "arrived is unknown"
                    if running
                    else "not sent: notifications were shut down before it could be delivered"
                )
                self._finish(job, AttemptOutcome.FAILED, reason, time.time(), 0.0)
        if kept:
            log.info("%d notification(s) kept in the queue for the next start", kept)

    def _keep(self, job: _Job, running: bool) -> int:
        """Leave a durable delivery in the queue at shutdown: its future resolves to its
        record, still PENDING."""
        with self._cv:
            if job.done:
                return 0
            job.done = True
            job.record = replace(
                job.record,
                error=(
                    "kept in the queue for the next start"
                    + ("; whether the try in progress arrived is unknown" if running else "")
                    + (f" (last failure: {job.record.error})" if job.record.error else "")
                ),
            )
            self._remember(job.record)
            record = job.record
        job.future.set_result(record)
        with self._cv:
            self._release(job)
        return 1

    def __enter__(self) -> NotificationDispatcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
