"""What ``etcdmon serve`` opens of a PostgreSQL history, in one call: the writer its
sweeps queue to, the alert history of its ``AlertService``, readers for its API, and
the DB sizes that seed its quota forecasts.

A malformed target (or one holding a password) is a ``HistoryError`` from here: a
configuration error at start-up. A server that cannot be reached now (down, restarting)
is waited for: the writer keeps its batches in memory and reconnects (``retrying``),
the alert history connects at its first call that finds the server up, readers raise
``HistoryError`` per call meanwhile. A database that refuses (a password, no database,
a permission, a newer schema) is said through ``problems`` and watching goes on: the
writer turns history off, the alert history is None (alerts are not kept).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from etcdmon_gui.model.history import HistoryError, HistoryLimits
from etcdmon_gui.store.history.postgres.alerts import PgAlertHistory
from etcdmon_gui.store.history.postgres.connect import PgTarget, settings_of
from etcdmon_gui.store.history.postgres.reader import PgHistoryReader
from etcdmon_gui.store.history.postgres.writer import PgHistoryWriter
from etcdmon_gui.store.history.reader import db_sizes_since
from etcdmon_gui.store.history.writer import Keep


@dataclass
class ServerHistory:
    writer: PgHistoryWriter
    alerts: PgAlertHistory | None
    open_reader: Callable[[], PgHistoryReader]
    db_sizes: Callable[[str, float], list[tuple[float, float, float | None]]]
    where: str  # user@host:port/dbname: no password


def open_server_history(
    target: PgTarget,
    *,
    password: str | None = None,
    limits: HistoryLimits | None = None,
    problems: Callable[[str], object] = lambda text: None,
    keep: Keep | None = None,
) -> ServerHistory:
    """``keep``: the writer's reconnection back-off and memory bound (``Keep()``'s
    defaults: 1 s .. 60 s, 500 000 samples)."""
    settings = settings_of(target)  # HistoryError: malformed, or with a password
    writer = PgHistoryWriter(target, password, limits=limits, problems=problems, keep=keep).start()
    alerts: PgAlertHistory | None
    try:
        alerts = PgAlertHistory(target, password)
    except HistoryError as exc:
        problems(f"the alert history cannot be kept: {exc}")
        alerts = None

    def open_reader() -> PgHistoryReader:
        return PgHistoryReader(target, password, limits=limits, pool_size=2)

    def db_sizes(key: str, since: float) -> list[tuple[float, float, float | None]]:
        return db_sizes_since(open_reader, key, since)

    return ServerHistory(writer, alerts, open_reader, db_sizes, settings.where)
