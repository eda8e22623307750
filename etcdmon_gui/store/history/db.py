"""The history file: where it is, opening it, its schema and migrations, and what its
failures mean to the user.

One SQLite database (WAL, incremental auto-vacuum) holds everything the history keeps;
``PRAGMA user_version`` is the schema version and each step below brings a file one
version up, in one transaction that takes the write lock first, so the app and
``etcdmon watch`` opening one file at once migrate it once.

- 1: ``alert_events`` (transitions), ``alert_states`` (each fingerprint's current
  alert, filled once from its newest event), ``silences``.
- 2: ``delivery_queue``, the notification dispatcher's durable queue.
- 3: metrics and inventory: ``clusters``, ``series`` (cluster, member, signal -> id),
  ``samples`` (raw values; the newest minute in ``recent``, both read as
  ``raw_samples``), ``rollup_1m`` / ``rollup_1h`` (n, min, avg, max, last per
  period), ``rollup_done`` (how far each roll-up has got), ``members`` (inventory),
  ``member_events`` (joined, left, ...), ``bench_runs``; and an index on alert times
  for the History view. A file from before is vacuumed once into incremental
  auto-vacuum, so pruning can give space back.
- 4: ``ops_log``: the maintenance audit log, one row per run of an operation (refused
  and cancelled ones too): when, who, which cluster, what, how it ended.

Times are UNIX milliseconds in the metrics tables (integers), seconds elsewhere.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

from pydantic import ByteSize, TypeAdapter, ValidationError

from etcdmon_gui.model.errors import ConfigError
from etcdmon_gui.model.history import (
    KEEP_RAW_RANGE_S,
    MIN_HISTORY_BYTES,
    HistoryError,
    HistoryLimits,
)
from etcdmon_gui.monitor.alert_rules import parse_duration
from etcdmon_gui.store.files import data_dir

SCHEMA_VERSION = 4
BUSY_TIMEOUT_S = 5.0


def default_path() -> Path:
    return data_dir() / "history.sqlite3"


def limits(
    keep_raw: str | None = None,
    max_size: str | None = None,
    default: HistoryLimits | None = None,
) -> HistoryLimits:
    """The history's limits from what a user typed: how long raw samples are kept (a
    duration such as ``24h`` or ``3d``, 1 h to 30 days) and the most the file may hold
    (``2GiB``, ``500MB``, at least 10 MB); ``None`` keeps ``default``'s (the app's
    settings, or the built-in limits). Raises ``ConfigError`` saying what is wrong."""
    default = default or HistoryLimits()
    raw_s = default.raw_s
    if keep_raw is not None:
        try:
            raw_s = parse_duration(keep_raw)
        except ValueError:
            raw_s = math.nan
        if not KEEP_RAW_RANGE_S[0] <= raw_s <= KEEP_RAW_RANGE_S[1]:
            raise ConfigError(
                f"keep raw samples for {keep_raw!r}? Give a duration from 1h to 30d, e.g. 24h"
            )
    max_bytes = default.max_bytes
    if max_size is not None:
        try:
            max_bytes = int(TypeAdapter(ByteSize).validate_python(max_size))
        except ValidationError:
            max_bytes = -1
        if max_bytes < MIN_HISTORY_BYTES:
            raise ConfigError(
                f"history size limit {max_size!r}? Give a size of at least 10MB, e.g. 2GiB"
            )
    return dataclasses.replace(default, raw_s=raw_s, max_bytes=max_bytes)


def describe(exc: sqlite3.Error | OSError, path: Path) -> HistoryError:
    """What a failure of the history file means, in a sentence that says what to do."""
    text = str(exc)
    low = text.lower()
    where = os.fspath(path)
    if "locked" in low or "busy" in low:
        msg = (
            f"the history file {where} is locked by another program (another etcdmon-gui "
            "or etcdmon watch busy with it, or a tool holding it open); close it, or "
            "give this one its own file with --history"
        )
    elif "readonly" in low or "read-only" in low or isinstance(exc, PermissionError):
        msg = (
            f"the history file {where} is read-only: make it and its folder writable "
            "(chmod u+w), or use another file with --history"
        )
    elif "full" in low or getattr(exc, "errno", None) == 28:
        msg = (
            f"the disk holding the history file {where} is full: free some space, or "
            "lower the history size limit"
        )
    elif "not a database" in low or "malformed" in low or "corrupt" in low:
        msg = (
            f"the history file {where} is damaged ({text}); it was left as it is. Move "
            "it away (for example to history.sqlite3.damaged) and a new history starts"
        )
    elif "unable to open" in low:
        msg = (
            f"the history file {where} cannot be opened: check that its folder exists "
            "and is writable, or use another file with --history"
        )
    else:
        msg = f"the history file {where} cannot be used: {text}"
    return HistoryError(msg, path=where)


@contextlib.contextmanager
def translated(path: Path) -> Iterator[None]:
    """Turn sqlite and file-system failures inside into ``HistoryError``."""
    try:
        yield
    except (sqlite3.Error, OSError) as exc:
        raise describe(exc, path) from exc


def connect(path: Path, *, shared: bool = False) -> sqlite3.Connection:
    """A connection to the history file, its schema brought up to date. ``shared``: for
    use from several threads (the caller serialises the calls). Raises ``HistoryError``."""
    with translated(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, check_same_thread=not shared)
        try:
            _prepare(db)
            migrate(db, path)
        except BaseException:
            db.close()
            raise
    return db


def check_writable(db: sqlite3.Connection, path: Path) -> None:
    """Raise ``HistoryError`` if the file cannot be written: a read-only file in a
    writable folder opens (and reads) without complaint and fails at its first write;
    a writer wants to say so when it starts. A write rolled back: the file is unchanged."""
    with translated(path):
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        finally:
            db.rollback()


def _prepare(db: sqlite3.Connection) -> None:
    (auto_vacuum,) = db.execute("PRAGMA auto_vacuum").fetchone()
    if auto_vacuum != 2:  # a new file, or one from before schema 3: vacuum it once
        db.execute("PRAGMA auto_vacuum = INCREMENTAL")
        (tables,) = db.execute("SELECT count(*) FROM sqlite_master").fetchone()
        if tables:
            db.execute("VACUUM")
    db.execute("PRAGMA journal_mode = WAL")
    # Commits are not synced on every transaction (WAL with synchronous=NORMAL): the
    # file stays sound after a crash or kill -9; a power cut may lose the last ones.
    db.execute("PRAGMA synchronous = NORMAL")


def migrate(db: sqlite3.Connection, path: Path) -> None:
    """Bring the schema to ``SCHEMA_VERSION``, or refuse a newer one."""
    db.execute("BEGIN IMMEDIATE")
    try:
        (version,) = db.execute("PRAGMA user_version").fetchone()
        if version > SCHEMA_VERSION:
            raise HistoryError(
                f"the history file {os.fspath(path)} was written by a newer etcdmon-gui "
                f"(schema {version}; this one knows up to {SCHEMA_VERSION}): upgrade, or "
                "use another file with --history",
                path=os.fspath(path),
            )
        for step in _STEPS[version:]:
            step(db)
        if version < SCHEMA_VERSION:
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        db.commit()
    except BaseException:
        db.rollback()
        raise


def _schema_1(db: sqlite3.Connection) -> None:
    from etcdmon_gui.store.history.alerts import fill_states_from_events

    db.execute(
        "CREATE TABLE IF NOT EXISTS alert_events ("
        " id INTEGER PRIMARY KEY, at REAL NOT NULL, kind TEXT NOT NULL,"
        " fingerprint TEXT NOT NULL, cluster TEXT NOT NULL, rule TEXT NOT NULL,"
        " severity TEXT NOT NULL, alert TEXT NOT NULL)"
    )
    db.execute("CREATE INDEX IF NOT EXISTS alert_events_fp ON alert_events (fingerprint, at)")
    db.execute(
        "CREATE TABLE IF NOT EXISTS alert_states ("
        " fingerprint TEXT PRIMARY KEY, cluster TEXT NOT NULL, rule TEXT NOT NULL,"
        " state TEXT NOT NULL, updated_at REAL NOT NULL, alert TEXT NOT NULL)"
    )
    db.execute(
        "CREATE TABLE IF NOT EXISTS silences ("
        " id TEXT PRIMARY KEY, rule TEXT, cluster TEXT, member TEXT,"
        " starts REAL NOT NULL, ends REAL NOT NULL, reason TEXT NOT NULL,"
        " created_at REAL NOT NULL, cluster_name TEXT)"
    )
    fill_states_from_events(db)


def _schema_2(db: sqlite3.Connection) -> None:
    """The dispatcher's durable queue; ``seq`` keeps the order of first saves."""
    db.execute(
        "CREATE TABLE IF NOT EXISTS delivery_queue ("
        " seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, owner TEXT NOT NULL,"
        " channel_id TEXT NOT NULL, fingerprint TEXT NOT NULL, kind TEXT NOT NULL,"
        " at REAL NOT NULL, alert TEXT NOT NULL, created_at REAL NOT NULL,"
        " attempts INTEGER NOT NULL, next_attempt_at REAL NOT NULL, error TEXT)"
    )
    db.execute("CREATE INDEX IF NOT EXISTS delivery_queue_owner ON delivery_queue (owner, seq)")


_ROLLUP_COLUMNS = (
    "series INTEGER NOT NULL, ts INTEGER NOT NULL, n INTEGER NOT NULL, min REAL NOT NULL,"
    " avg REAL NOT NULL, max REAL NOT NULL, last REAL NOT NULL, PRIMARY KEY (series, ts)"
)


def _schema_3(db: sqlite3.Connection) -> None:
    """Metrics over time, member inventory, benchmark runs."""
    for sql in (
        "CREATE INDEX IF NOT EXISTS alert_events_at ON alert_events (at)",
        "CREATE TABLE IF NOT EXISTS clusters (key TEXT PRIMARY KEY, name TEXT NOT NULL,"
        " cluster_id TEXT, first_seen REAL NOT NULL, last_seen REAL NOT NULL)",
        "CREATE TABLE IF NOT EXISTS series (id INTEGER PRIMARY KEY, cluster TEXT NOT NULL,"
        " member TEXT NOT NULL, signal TEXT NOT NULL, UNIQUE (cluster, signal, member))",
        "CREATE TABLE IF NOT EXISTS samples (series INTEGER NOT NULL, ts INTEGER NOT NULL,"
        " value REAL NOT NULL, PRIMARY KEY (series, ts)) WITHOUT ROWID",
        # The newest raw samples, in time order: see metrics.move_recent.
        "CREATE TABLE IF NOT EXISTS recent (ts INTEGER NOT NULL, series INTEGER NOT NULL,"
        " value REAL NOT NULL, PRIMARY KEY (ts, series)) WITHOUT ROWID",
        "CREATE VIEW IF NOT EXISTS raw_samples AS SELECT series, ts, value FROM samples"
        " UNION ALL SELECT series, ts, value FROM recent",
        f"CREATE TABLE IF NOT EXISTS rollup_1m ({_ROLLUP_COLUMNS}) WITHOUT ROWID",
        f"CREATE TABLE IF NOT EXISTS rollup_1h ({_ROLLUP_COLUMNS}) WITHOUT ROWID",
        "CREATE TABLE IF NOT EXISTS rollup_done (step_s INTEGER PRIMARY KEY,"
        " until_ms INTEGER NOT NULL)",
        "CREATE TABLE IF NOT EXISTS members (cluster TEXT NOT NULL, member TEXT NOT NULL,"
        " name TEXT NOT NULL, peer_urls TEXT NOT NULL, client_urls TEXT NOT NULL,"
        " version TEXT, role TEXT NOT NULL, db_size INTEGER, first_seen REAL NOT NULL,"
        " last_seen REAL NOT NULL, PRIMARY KEY (cluster, member))",
        "CREATE TABLE IF NOT EXISTS member_events (id INTEGER PRIMARY KEY, at REAL NOT NULL,"
        " cluster TEXT NOT NULL, member TEXT NOT NULL, name TEXT NOT NULL,"
        " change TEXT NOT NULL, detail TEXT NOT NULL)",
        "CREATE INDEX IF NOT EXISTS member_events_at ON member_events (cluster, at)",
        "CREATE TABLE IF NOT EXISTS bench_runs (id INTEGER PRIMARY KEY, cluster TEXT NOT NULL,"
        " cluster_name TEXT NOT NULL, started_at REAL NOT NULL, label TEXT NOT NULL,"
        " workload TEXT NOT NULL, requests_per_s REAL NOT NULL, p50_ms REAL, p99_ms REAL,"
        " errors INTEGER NOT NULL, verdict TEXT, summary TEXT NOT NULL)",
        "CREATE INDEX IF NOT EXISTS bench_runs_at ON bench_runs (cluster, started_at)",
    ):
        db.execute(sql)


def _schema_4(db: sqlite3.Connection) -> None:
    """The maintenance audit log (``ops_log``)."""
    db.execute(
        "CREATE TABLE IF NOT EXISTS ops_log (id INTEGER PRIMARY KEY, at REAL NOT NULL,"
        " ended_at REAL, user TEXT NOT NULL, cluster TEXT NOT NULL,"
        " cluster_name TEXT NOT NULL, kind TEXT NOT NULL, summary TEXT NOT NULL,"
        " result TEXT NOT NULL, detail TEXT NOT NULL)"
    )
    db.execute("CREATE INDEX IF NOT EXISTS ops_log_at ON ops_log (cluster, at)")


_STEPS: tuple[Callable[[sqlite3.Connection], None], ...] = (
    _schema_1,
    _schema_2,
    _schema_3,
    _schema_4,
)


def stored_bytes(db: sqlite3.Connection) -> int:
    """What the file holds, free pages left out (what the size limit is about)."""
    (pages,) = db.execute("PRAGMA page_count").fetchone()
    (free,) = db.execute("PRAGMA freelist_count").fetchone()
    (size,) = db.execute("PRAGMA page_size").fetchone()
    return int((pages - free) * size)
