"""How current a cluster's picture is, and what the window title, the tray and the badge
make of the verdicts and the alerts. No widgets here.

A cluster's data is *live* while sweeps arrive, *paused* while the user paused them and
*stale* once the last finished sweep is older than ``stale_intervals`` sweep intervals
(a hung sweep, a worker that keeps failing): then its verdict is only what was true
then, and every view that shows it says so instead of looking live. A sweep that takes
longer than the interval (a member that answers only at its deadline) stretches the
interval it is judged by, so slow but steady sweeps do not flicker between the two.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from etcdmon_gui.formatting import fmt_clock
from etcdmon_gui.model.alerts import Alert, Severity
from etcdmon_gui.model.snapshot import Verdict
from etcdmon_gui.ui.alert_text import counts_as_firing

__all__ = [
    "DEFAULT_STALE_INTERVALS",
    "ClusterState",
    "Freshness",
    "badge_count",
    "freshness",
    "verdict_severity",
    "window_title",
    "worst_live_verdict",
]

DEFAULT_STALE_INTERVALS = 2.0


class Freshness(enum.Enum):
    WAITING = "waiting"  # no sweep has finished yet
    LIVE = "live"
    PAUSED = "paused"
    STALE = "stale"


@dataclass(frozen=True, slots=True)
class ClusterState:
    """One watched cluster as the tray and the window title see it."""

    key: str
    title: str
    verdict: Verdict | None  # None: no sweep has finished yet
    freshness: Freshness
    last_sweep: float | None = None  # when the last finished sweep ended (UNIX time)

    @property
    def live(self) -> bool:
        return self.freshness is Freshness.LIVE

    def status_text(self) -> str:
        """``Degraded``, ``Healthy · paused``, ``Healthy · stale since 12:03:04``."""
        verdict = self.verdict.name.capitalize() if self.verdict is not None else "connecting…"
        note = freshness_note(self.freshness, self.last_sweep)
        return f"{verdict} · {note}" if note else verdict


def freshness(
    *,
    paused: bool,
    last_sweep: float | None,
    interval_s: float,
    now: float,
    stale_intervals: float = DEFAULT_STALE_INTERVALS,
    sweep_s: float = 0.0,
) -> Freshness:
    """Paused first (the user's choice explains the age), then stale by age: older than
    ``stale_intervals`` times the interval, or than the last sweep took if longer."""
    if paused:
        return Freshness.PAUSED
    if last_sweep is None:
        return Freshness.WAITING
    if now - last_sweep > stale_intervals * max(interval_s, sweep_s):
        return Freshness.STALE
    return Freshness.LIVE


def freshness_note(state: Freshness, last_sweep: float | None) -> str:
    """``paused``, ``stale since 12:03:04``; empty while live or waiting."""
    if state is Freshness.PAUSED:
        return "paused"
    if state is Freshness.STALE and last_sweep is not None:
        return f"stale since {fmt_clock(last_sweep)}"
    return ""


def verdict_severity(verdict: Verdict | None) -> Severity | None:
    """The alert severity a verdict is as bad as: Degraded is a warning (amber)."""
    if verdict is None or verdict is Verdict.HEALTHY:
        return None
    return Severity.WARNING if verdict is Verdict.DEGRADED else Severity.CRITICAL


def worst_live_verdict(states: Iterable[ClusterState]) -> Verdict | None:
    """The worst verdict among clusters whose data is live."""
    return max((s.verdict for s in states if s.live and s.verdict is not None), default=None)


def badge_count(alerts: Iterable[Alert], now: float) -> int:
    """Alerts that count as firing and nobody acknowledged yet: the number on the badge."""
    return sum(counts_as_firing(a, now) and not a.acknowledged for a in alerts)


def window_title(state: ClusterState | None, badge: int, app: str = "etcdmon") -> str:
    """``(2) prod — Degraded — etcdmon``: the badge, the cluster shown and its state."""
    prefix = f"({badge}) " if badge else ""
    if state is None:
        return f"{prefix}{app}"
    return f"{prefix}{state.title} — {state.status_text()} — {app}"


def summary_lines(states: Sequence[ClusterState]) -> list[str]:
    """One line per cluster for a tooltip: ``prod: Degraded · stale since 12:03:04``."""
    return [f"{s.title}: {s.status_text()}" for s in states]
