"""``HistoryReader``: the questions the views, the reports and the forecast ask of the
history, on a connection of its own (one per thread: the history worker's, the CLI's).

``HistoryBackend`` is what any history store answers; the SQLite file is the one
there is, and a server database (issue 12) will be another.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol

from etcdmon_gui.model.alerts import AlertEvent
from etcdmon_gui.model.history import (
    AlertQuery,
    BenchRunRecord,
    ClusterRecord,
    HistoryError,
    HistoryLimits,
    MemberEvent,
    MemberRecord,
    MetricsQuery,
    Series,
)
from etcdmon_gui.model.ops import AuditRecord
from etcdmon_gui.store.history import alerts, metrics, ops_log
from etcdmon_gui.store.history.db import connect, default_path, translated

log = logging.getLogger(__name__)


class HistoryBackend(Protocol):
    def clusters(self) -> list[ClusterRecord]: ...
    def series(self, q: MetricsQuery, max_points: int | None = None) -> list[Series]: ...
    def points(self, q: MetricsQuery) -> Iterator[tuple[float, str, str, float]]: ...
    def count_points(self, q: MetricsQuery) -> int: ...
    def alert_events(self, q: AlertQuery) -> list[AlertEvent]: ...
    def members(self, cluster: str | None = None) -> list[MemberRecord]: ...
    def member_events(
        self, cluster: str | None, since: float = ..., until: float = ...
    ) -> list[MemberEvent]: ...
    def bench_runs(self, cluster: str | None = None, limit: int = 1000) -> list[BenchRunRecord]: ...
    def ops_log(self, cluster: str | None = None, limit: int = 1000) -> list[AuditRecord]: ...
    def db_size_points(
        self, cluster: str, since: float
    ) -> list[tuple[float, float, float | None]]: ...
    def close(self) -> None: ...


class HistoryReader:
    """Raises ``HistoryError`` (from the constructor and every query) when the file
    cannot be read; a file that does not exist yet is created empty."""

    def __init__(
        self,
        path: Path | None = None,
        *,
        limits: HistoryLimits | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = path or default_path()
        self.limits = limits or HistoryLimits()
        self._clock = clock
        self._db: sqlite3.Connection = connect(self.path)

    def clusters(self) -> list[ClusterRecord]:
        with translated(self.path):
            return metrics.clusters(self._db)

    def series(self, q: MetricsQuery, max_points: int | None = None) -> list[Series]:
        with translated(self.path):
            return metrics.read_series(self._db, q, self._clock(), self.limits, max_points)

    def points(self, q: MetricsQuery) -> Iterator[tuple[float, str, str, float]]:
        with translated(self.path):
            yield from metrics.iter_points(self._db, q, self._clock(), self.limits)

    def count_points(self, q: MetricsQuery) -> int:
        with translated(self.path):
            return metrics.count_points(self._db, q, self._clock(), self.limits)

    def alert_events(self, q: AlertQuery) -> list[AlertEvent]:
        with translated(self.path):
            return alerts.alert_events(self._db, q)

    def members(self, cluster: str | None = None) -> list[MemberRecord]:
        with translated(self.path):
            return metrics.members(self._db, cluster)

    def member_events(
        self, cluster: str | None, since: float = float("-inf"), until: float = float("inf")
    ) -> list[MemberEvent]:
        with translated(self.path):
            return metrics.member_events(self._db, cluster, since, until)

    def bench_runs(self, cluster: str | None = None, limit: int = 1000) -> list[BenchRunRecord]:
        with translated(self.path):
            return metrics.bench_runs(self._db, cluster, limit)

    def ops_log(self, cluster: str | None = None, limit: int = 1000) -> list[AuditRecord]:
        """Maintenance runs (the audit log), the newest first."""
        with translated(self.path):
            return ops_log.records(self._db, cluster, limit)

    def db_size_points(self, cluster: str, since: float) -> list[tuple[float, float, float | None]]:
        with translated(self.path):
            return metrics.db_size_points(self._db, cluster, since)

    def close(self) -> None:
        self._db.close()


def db_sizes_since(
    open_reader: Callable[[], HistoryBackend], cluster: str, since: float
) -> list[tuple[float, float, float | None]]:
    """``cluster``'s DB size since ``since`` (per minute: time, largest member's size,
    quota) to seed its quota forecast at start, read by a reader ``open_reader`` opens
    (and this closes); empty, and logged, when the history cannot be read (the
    forecast then starts from nothing)."""
    try:
        reader = open_reader()
    except HistoryError as exc:
        log.warning("quota forecast starts without history: %s", exc)
        return []
    try:
        return reader.db_size_points(cluster, since)
    except HistoryError as exc:
        log.warning("quota forecast starts without history: %s", exc)
        return []
    finally:
        reader.close()


def recent_db_sizes(
    path: Path | None, cluster: str, span_s: float = 86_400.0
) -> list[tuple[float, float, float | None]]:
    """``db_sizes_since`` of the last ``span_s``, from the history file at ``path``."""
    return db_sizes_since(lambda: HistoryReader(path), cluster, time.time() - span_s)
