"""What became of each notification: one record per delivery, one entry per attempt.

A *delivery* is one alert event (or one test notification) sent to one channel. It is
tried one or more times; every try is a ``DeliveryAttempt`` in the delivery log, and the
delivery as a whole is summed up by a ``DeliveryRecord`` whose status ends as DELIVERED,
FAILED or SUPERSEDED (a newer event of the same alert to the same channel replaced it),
never silently dropped. While an alert's delivery waits, it is a ``QueuedDelivery`` in
the durable queue, so a restart takes it back. None of these types ever holds a
secret: channels are named by id and name, URLs appear only redacted
(``scheme://host/…``) inside error texts.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from etcdmon_gui.model.alerts import AlertEvent, EventKind


class AttemptOutcome(enum.Enum):
    DELIVERED = "delivered"
    RETRYING = "retrying"  # this try failed; another one is scheduled
    FAILED = "failed"  # this try failed and it was the last one: the delivery failed
    # not tried again: a newer event of the same alert to the same channel replaced it
    SUPERSEDED = "superseded"


class DeliveryStatus(enum.Enum):
    PENDING = "pending"  # queued, being sent, or waiting for its next try
    DELIVERED = "delivered"
    FAILED = "failed"
    SUPERSEDED = "superseded"  # replaced by a newer event of its alert, never sent


@dataclass(frozen=True, slots=True)
class DeliveryAttempt:
    """One try at sending one event to one channel."""

    delivery_id: int
    channel_id: str
    channel_name: str
    channel_type: str  # "email", "slack", "pagerduty", "webhook", "desktop", "log"
    fingerprint: str
    event_kind: EventKind
    test: bool  # a "send test notification", not a real alert
    attempt: int  # 1-based (SUPERSEDED: the tries made before it was replaced, maybe 0)
    max_attempts: int | None  # None: an alert's delivery, bounded by time, not by tries
    at: float  # UNIX time the try started
    duration_s: float
    outcome: AttemptOutcome
    error: str | None = None  # readable reason, free of secrets
    next_attempt_at: float | None = None  # UNIX time of the retry, when RETRYING


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    """The state of one delivery after its latest attempt."""

    delivery_id: int
    channel_id: str
    channel_name: str
    channel_type: str
    fingerprint: str
    rule: str
    cluster_name: str
    member: str | None
    event_kind: EventKind
    test: bool
    status: DeliveryStatus
    attempts: int  # tries made so far
    created_at: float  # UNIX time it was queued
    finished_at: float | None = None  # UNIX time it was delivered or given up
    error: str | None = None  # the latest failure's reason, free of secrets
    next_attempt_at: float | None = None  # UNIX time of the next try, while PENDING


@dataclass(frozen=True, slots=True)
class QueuedDelivery:
    """An alert's delivery to one channel as the durable queue keeps it, from before its
    first try until it is delivered, given up or superseded (``notify.base.DeliveryQueue``).
    Holds the channel's id, never its secrets; ``error`` is already scrubbed."""

    queue_id: str  # unique across processes sharing one queue file
    channel_id: str
    event: AlertEvent
    created_at: float  # UNIX time it was first queued: the retry time counts from here
    attempts: int  # tries made so far
    next_attempt_at: float  # UNIX time of the next try
    error: str | None = None  # the latest failure's reason
