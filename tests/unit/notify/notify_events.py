"""Alert events for the notification tests."""

from __future__ import annotations

from collections.abc import Callable

from etcdmon_gui.model.alerts import Alert, AlertEvent, AlertState, EventKind, Severity

T0 = 1_714_564_800.0  # 2024-05-01T12:00:00Z

EventFactory = Callable[..., AlertEvent]


def make_event(
    kind: EventKind = EventKind.FIRING,
    *,
    fingerprint: str = "3f1c9a7e5d2b4c60",
    rule: str = "etcdNoLeader",
    severity: Severity = Severity.CRITICAL,
    member: str | None = "etcd-1",
    value: float | None = 1.0,
    summary: str = "member etcd-1 has no leader",
    at: float = T0 + 60,
    labels: dict[str, str] | None = None,
) -> AlertEvent:
    resolved = kind is EventKind.RESOLVED
    alert = Alert(
        fingerprint=fingerprint,
        rule=rule,
        severity=severity,
        cluster="profile:abc",
        cluster_name="prod",
        member=member,
        state=AlertState.RESOLVED if resolved else AlertState.FIRING,
        value=value,
        summary=summary,
        since=at if resolved else T0,
        active_at=T0 - 30,
        fired_at=T0,
        resolved_at=at if resolved else None,
        labels=labels or {},
    )
    return AlertEvent(kind=kind, alert=alert, at=at)
