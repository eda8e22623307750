"""The history: one SQLite file in the user data directory (``db.default_path``) that
the desktop app and ``etcdmon watch`` share.

- ``db``: opening, schema and migrations, what a failure means (``HistoryError``);
- ``alerts``: alert transitions, states and silences (``AlertHistory``) and the
  dispatcher's durable queue (``DeliveryQueueStore``);
- ``metrics``: samples of every signal, roll-ups, retention and the size limit,
  inventory and benchmark runs, and the queries over them;
- ``ops_log``: the maintenance audit log (``OpsLog``);
- ``writer``: ``HistoryWriter``, the one thread that writes metrics, in batches;
- ``reader``: ``HistoryReader``, the queries the views, reports and forecasts ask.

``HistoryBackend`` (``reader``) is the interface a server database will implement too.
"""

from etcdmon_gui.store.history.alerts import AlertHistory, DeliveryQueueStore
from etcdmon_gui.store.history.db import SCHEMA_VERSION, default_path

__all__ = ["SCHEMA_VERSION", "AlertHistory", "DeliveryQueueStore", "default_path"]
