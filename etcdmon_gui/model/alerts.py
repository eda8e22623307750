"""Alerts as the rule engine raises them and the channels deliver them.

An ``Alert`` is one fingerprint's current state (rule + cluster + member); an
``AlertEvent`` is one transition of it (firing, resolved, or a repeat while firing),
which is what notification channels send and the history keeps. A ``Silence`` mutes
every alert its matchers match for a while, as an Alertmanager silence does.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class Severity(enum.IntEnum):
    """Ordered so ``max()`` picks the worst."""

    INFO = 0
    WARNING = 1
    CRITICAL = 2


class AlertState(enum.Enum):
    INACTIVE = "inactive"
    PENDING = "pending"  # condition true, ``for`` not yet elapsed
    FIRING = "firing"
    RESOLVED = "resolved"


class EventKind(enum.Enum):
    FIRING = "firing"
    RESOLVED = "resolved"
    REPEAT = "repeat"  # still firing; the repeat interval elapsed


@dataclass(frozen=True, slots=True)
class Silence:
    """Mutes every alert its matchers match from ``starts`` until ``ends`` (UNIX times).

    A matcher that is ``None`` matches anything; each set one must equal the alert's
    value: ``rule`` its rule name, ``cluster`` its connection key, ``member`` its member
    name (so a member matcher never matches a cluster-wide alert). Expiring a silence
    moves its ``ends`` to now; it stays listed as expired.
    """

    id: str
    rule: str | None
    cluster: str | None  # the connection key, as on ``Alert.cluster``
    member: str | None
    starts: float
    ends: float
    reason: str
    created_at: float
    cluster_name: str | None = None  # what the cluster matcher reads as; display only

    def matches(self, alert: Alert) -> bool:
        return (
            (self.rule is None or self.rule == alert.rule)
            and (self.cluster is None or self.cluster == alert.cluster)
            and (self.member is None or self.member == alert.member)
        )

    def is_active(self, now: float) -> bool:
        return self.starts <= now < self.ends

    def is_expired(self, now: float) -> bool:
        return now >= self.ends


@dataclass(frozen=True, slots=True)
class Alert:
    fingerprint: str  # stable hash of rule + cluster + member
    rule: str
    severity: Severity
    cluster: str  # the connection key (profile or endpoints)
    cluster_name: str  # what a person calls it
    member: str | None  # member name (or hex id); None for a cluster-wide rule
    state: AlertState
    value: float | None  # the signal's value at the last evaluation
    summary: str
    since: float  # when the current state began (UNIX time)
    active_at: float | None = None  # when the condition first held (start of pending)
    fires_at: float | None = None  # while pending: active_at + the rule's ``for``
    fired_at: float | None = None
    resolved_at: float | None = None
    last_notified: float | None = None
    silenced_until: float | None = None  # this alert's own silence; math.inf: until resolved
    silence_reason: str | None = None
    silenced_by: Silence | None = None  # the matcher silence muting it (the engine sets it)
    acknowledged: bool = False
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AlertEvent:
    kind: EventKind
    alert: Alert
    at: float  # UNIX time of the transition
