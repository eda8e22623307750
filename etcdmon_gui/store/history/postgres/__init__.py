"""The history in a PostgreSQL database that several ``etcdmon serve`` write to at once
and desktops read (read-only): the SQLite store's twin, the same answers for the same
data (``levels`` reads both). The SQLite file stays the default.

- ``connect``: connections and a pool with deadlines, the password given apart (never
  stored, scrubbed from texts), failures as ``HistoryError`` sentences;
- ``schema``: migrations under an advisory lock, day partitions (or TimescaleDB
  hypertables), retention by dropping whole days;
- ``metrics``: series ids, samples by COPY, roll-ups in SQL, the primitive reads;
- ``writer``: ``PgHistoryWriter`` (``HistoryWriter``'s interface and thread; through a
  lost server it keeps its batches in memory and reconnects: ``retrying``);
- ``reader``: ``PgHistoryReader`` (``HistoryBackend``);
- ``alerts``: ``PgAlertHistory`` (``AlertStore``, for ``AlertService``);
- ``server``: ``open_server_history``, all of it as ``etcdmon serve`` wants it.

``PgSettings`` (``model.postgres``) or a libpq connection string without a password
names the database (``PgTarget``); the password is handed beside it.
"""

from etcdmon_gui.model.postgres import PgSettings, SslMode
from etcdmon_gui.store.history.postgres.alerts import PgAlertHistory
from etcdmon_gui.store.history.postgres.connect import PgTarget, PgUnavailable, read_password_file
from etcdmon_gui.store.history.postgres.reader import PgHistoryReader
from etcdmon_gui.store.history.postgres.schema import SCHEMA_VERSION
from etcdmon_gui.store.history.postgres.server import ServerHistory, open_server_history
from etcdmon_gui.store.history.postgres.writer import PgHistoryWriter

__all__ = [
    "SCHEMA_VERSION",
    "PgAlertHistory",
    "PgHistoryReader",
    "PgHistoryWriter",
    "PgSettings",
    "PgTarget",
    "PgUnavailable",
    "ServerHistory",
    "SslMode",
    "open_server_history",
    "read_password_file",
]
