"""Which PostgreSQL failures pass (a writer keeps its batches and reconnects) and which
stay until someone acts (history off, said once): ``connect.describe``, on psycopg's own
exceptions with the texts libpq gives (those of a connection attempt carry no SQLSTATE)."""

from __future__ import annotations

import psycopg
import pytest
from psycopg import errors as pg_errors
from psycopg_pool import PoolTimeout

from etcdmon_gui.model.history import HistoryError
from etcdmon_gui.model.postgres import PgSettings, SslMode
from etcdmon_gui.store.history.postgres.connect import PgUnavailable, describe

SETTINGS = PgSettings(
    host="db.example", port=5432, dbname="etcdmon", user="watcher", sslmode=SslMode.DISABLE
)
AT = 'connection failed: connection to server at "10.0.0.5", port 5432 failed: '

PASSING = [
    pg_errors.AdminShutdown("terminating connection due to administrator command"),
    pg_errors.CrashShutdown("terminating connection because of crash of another server"),
    psycopg.OperationalError("the connection is closed"),
    psycopg.OperationalError("consuming input failed: server closed the connection unexpectedly"),
    psycopg.OperationalError(AT + "Connection refused\n\tIs the server running on that host?"),
    psycopg.OperationalError(AT + "timeout expired"),
    psycopg.OperationalError(AT + "FATAL:  the database system is starting up"),
    psycopg.OperationalError(AT + "FATAL:  sorry, too many clients already"),
    PoolTimeout("couldn't get a connection after 35.00 sec"),
    pg_errors.QueryCanceled("canceling statement due to statement timeout"),
    pg_errors.LockNotAvailable("canceling statement due to lock timeout"),
    pg_errors.DeadlockDetected("deadlock detected"),
    pg_errors.DiskFull('could not extend file "base/16384/16385": No space left on device'),
]

PERMANENT = [
    psycopg.OperationalError(AT + 'FATAL:  password authentication failed for user "watcher"'),
    psycopg.OperationalError(AT + 'FATAL:  no pg_hba.conf entry for host "10.0.0.9"'),
    psycopg.OperationalError(AT + 'FATAL:  database "etcdmon" does not exist'),
    pg_errors.InsufficientPrivilege("permission denied for table samples"),
    pg_errors.ReadOnlySqlTransaction("cannot execute INSERT in a read-only transaction"),
    pg_errors.UndefinedTable('relation "samples" does not exist'),
]


@pytest.mark.parametrize("exc", PASSING, ids=lambda e: str(e)[-40:])
def test_a_failure_that_passes_is_retried(exc: Exception) -> None:
    assert isinstance(describe(exc, SETTINGS, None), PgUnavailable)


@pytest.mark.parametrize("exc", PERMANENT, ids=lambda e: str(e)[-40:])
def test_a_failure_that_needs_someone_stays(exc: Exception) -> None:
    error = describe(exc, SETTINGS, None)
    assert isinstance(error, HistoryError) and not isinstance(error, PgUnavailable)
