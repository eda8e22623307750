"""The history ``etcdmon serve`` keeps, opened from its configuration: the writer the
sweeps queue snapshots and benchmark runs to, the alert history the ``AlertService``
keeps transitions, states and silences in, a reader for the REST API, and the
dispatcher's durable delivery queue.

SQLite (the default): the file the desktop app and ``etcdmon watch`` share. PostgreSQL:
``store.history.postgres``, imported only when configured; the delivery queue then
stays in the local SQLite file (it is this server's own, never shared).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from etcdmon_gui.model.history import BenchRunRecord, HistoryError, HistoryLimits
from etcdmon_gui.model.snapshot import ClusterSnapshot
from etcdmon_gui.server.config import History, ServeConfigError
from etcdmon_gui.store.history import AlertHistory, DeliveryQueueStore
from etcdmon_gui.store.history.alerts import AlertStore
from etcdmon_gui.store.history.db import default_path, limits
from etcdmon_gui.store.history.reader import HistoryBackend, HistoryReader, db_sizes_since
from etcdmon_gui.store.history.writer import HistoryWriter

log = logging.getLogger(__name__)

QUEUE_OWNER = "serve"


class HistorySink(Protocol):
    """What the runtime writes to (``HistoryWriter``'s interface)."""

    error: HistoryError | None  # history is off, and why
    retrying: bool  # the database is away: batches kept in memory, reconnecting
    kept: int  # samples kept in memory meanwhile
    dropped: int  # samples dropped from memory (the oldest), in all

    def add_snapshot(self, snapshot: ClusterSnapshot, name: str) -> None: ...
    def add_bench_run(self, run: BenchRunRecord) -> None: ...
    def close(self, timeout: float = ...) -> None: ...


@dataclass
class OpenedHistory:
    writer: HistorySink
    open_alerts: Callable[[], AlertStore | None]  # called on the thread that uses it
    open_reader: Callable[[], HistoryBackend]
    queue: DeliveryQueueStore | None
    db_sizes: Callable[[str, float], list[tuple[float, float, float | None]]]
    where: str  # for people: the file, or the database without its password


def history_limits(section: History) -> HistoryLimits:
    try:
        return limits(section.keep_raw, section.size)
    except Exception as exc:  # ConfigError: the sentence says what to give
        raise ServeConfigError(f"history: {exc}") from None


def open_history(section: History, problems: Callable[[str], object]) -> OpenedHistory:
    """Open what ``section`` names. A history that cannot be used is said through
    ``problems`` and watching goes on without it (as ``etcdmon watch`` does), except a
    PostgreSQL backend that is not installed or refuses the configuration: that is a
    ``ServeConfigError`` at start-up."""
    kept = history_limits(section)
    if section.postgres is not None:
        return _postgres(section, kept, problems)
    path = section.sqlite or default_path()
    writer = HistoryWriter(section.sqlite, limits=kept, problems=problems).start()

    def open_alerts() -> AlertStore | None:
        try:
            return AlertHistory(section.sqlite)  # a connection for the calling thread
        except Exception as exc:  # sqlite3.Error, HistoryError, OSError
            problems(f"the alert history in {path} cannot be used ({exc}); alerts are not kept")
            return None

    return OpenedHistory(
        writer=writer,
        open_alerts=open_alerts,
        open_reader=lambda: HistoryReader(section.sqlite, limits=kept),
        queue=_queue(section.sqlite, problems),
        db_sizes=lambda key, since: db_sizes_since(
            lambda: HistoryReader(section.sqlite), key, since
        ),
        where=str(path),
    )


def _queue(path: Path | None, problems: Callable[[str], object]) -> DeliveryQueueStore | None:
    try:
        return DeliveryQueueStore(path, owner=QUEUE_OWNER)
    except Exception as exc:  # sqlite3.Error, OSError: said once, never fatal
        problems(
            f"the notification queue in {path or default_path()} cannot be used ({exc}); "
            "notifications still waiting at a restart are lost"
        )
        return None


def _postgres(
    section: History, kept: HistoryLimits, problems: Callable[[str], object]
) -> OpenedHistory:
    # Imported here: psycopg is loaded only by a server that uses PostgreSQL.
    from etcdmon_gui.store.history.postgres import open_server_history, read_password_file

    pg = section.postgres
    assert pg is not None
    try:
        password = read_password_file(pg.password_file) if pg.password_file else None
        opened = open_server_history(pg.target(), password=password, limits=kept, problems=problems)
    except HistoryError as exc:
        raise ServeConfigError(f"history.postgres: {exc}") from None
    return OpenedHistory(
        writer=opened.writer,
        open_alerts=lambda: opened.alerts,
        open_reader=opened.open_reader,
        queue=_queue(None, problems),
        db_sizes=opened.db_sizes,
        where=opened.where,
    )
