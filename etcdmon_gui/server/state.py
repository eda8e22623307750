"""What the server knows about each watched cluster at one instant: the one type the
runtime publishes and the REST API and the Prometheus exporter read (no I/O here)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from etcdmon_gui.model.alerts import Alert
from etcdmon_gui.model.snapshot import ClusterSnapshot


@dataclass(frozen=True, slots=True)
class ClusterView:
    """One watched cluster as the server sees it now."""

    name: str  # the profile's name, or the endpoints' key for --endpoints
    key: str  # ConnectionConfig.key: the history's and the alert engine's cluster key
    snapshot: ClusterSnapshot | None  # the latest sweep; None before the first
    alerts: tuple[Alert, ...]  # active: pending and firing (silenced, acknowledged too)
    production: bool = False  # the profile is tagged production
    # The runtime's verdict at read time: no sweep has ended within its stall limit
    # (a hung sweep thread), so ``snapshot`` is the last one known, not the present.
    stale: bool = False
    last_sweep_age_s: float | None = None  # since the latest sweep ended; None before one


class ServerState(Protocol):
    """The runtime, as its readers see it: thread-safe, never blocking on the network."""

    def clusters(self) -> Sequence[ClusterView]: ...
