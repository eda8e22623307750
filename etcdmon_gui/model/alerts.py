"""Alerts as the rule engine raises them and the channels deliver them.

An ``Alert`` is one fingerprint's current state (rule + cluster + member); an
``AlertEvent`` is one transition of it (firing, resolved, or a repeat while firing),
which is what notification channels send and the history keeps.
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
    fired_at: float | None = None
    resolved_at: float | None = None
    last_notified: float | None = None
    silenced_until: float | None = None  # math.inf: until resolved
    silence_reason: str | None = None
    acknowledged: bool = False
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AlertEvent:
    kind: EventKind
    alert: Alert
    at: float  # UNIX time of the transition
