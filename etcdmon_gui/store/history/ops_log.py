"""The maintenance audit log in the history file: one row per run of an operation
(``model.ops.AuditRecord``: refused and cancelled runs too), newest first when read.

``record`` / ``records`` take the connection (the caller owns its thread and
transactions, as in ``metrics``); ``OpsLog(path)`` is a connection of its own for a
caller that has none (``etcdmon ops``), each ``record`` one transaction. Rows are never
pruned: a run is a few hundred bytes, and the log is what tells who did what.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from etcdmon_gui.model.ops import AuditRecord, OpKind
from etcdmon_gui.store.history.db import connect, default_path, translated

log = logging.getLogger(__name__)

_COLUMNS = "at, ended_at, user, cluster, cluster_name, kind, summary, result, detail"


def record(db: sqlite3.Connection, rec: AuditRecord) -> int:
    """Append ``rec``; its row id."""
    cur = db.execute(
        f"INSERT INTO ops_log ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            rec.at,
            rec.ended_at,
            rec.user,
            rec.cluster,
            rec.cluster_name,
            rec.kind.value,
            rec.summary,
            rec.result,
            rec.detail,
        ),
    )
    return int(cur.lastrowid or 0)


def records(
    db: sqlite3.Connection, cluster: str | None = None, limit: int = 1000
) -> list[AuditRecord]:
    """The runs (of ``cluster``, or of every cluster), the newest first. A row of an
    operation this version does not know (written by a newer one) is left out."""
    sql = f"SELECT {_COLUMNS} FROM ops_log"
    args: list[object] = []
    if cluster is not None:
        sql += " WHERE cluster = ?"
        args.append(cluster)
    rows = db.execute(sql + " ORDER BY at DESC, id DESC LIMIT ?", (*args, limit))
    return [rec for row in rows if (rec := from_row(row)) is not None]


def from_row(row: Sequence[Any]) -> AuditRecord | None:
    """A row of ``_COLUMNS`` as a record; None for an operation this version does not
    know (written by a newer one)."""
    at, ended_at, user, c, name, kind, summary, result, detail = row
    try:
        op = OpKind(kind)
    except ValueError:
        log.debug("ops_log: an operation of a newer version (%r) left out", kind)
        return None
    return AuditRecord(at, user, c, name, op, summary, result, detail, ended_at)


class OpsLog:
    """The audit log of the history file at ``path`` (default: the app's). Raises
    ``HistoryError`` (from the constructor and each call) when the file cannot be used;
    a file that does not exist yet is created."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or default_path()
        self._db = connect(self.path)

    def record(self, rec: AuditRecord) -> int:
        with translated(self.path), self._db:
            return record(self._db, rec)

    def records(self, cluster: str | None = None, limit: int = 1000) -> list[AuditRecord]:
        with translated(self.path):
            return records(self._db, cluster, limit)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> OpsLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
