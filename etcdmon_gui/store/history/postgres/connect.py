"""Connections to a PostgreSQL history, with deadlines, and what their failures mean.

Every connection has a ``connect_timeout``, a ``statement_timeout`` and TCP keepalives
with a ``tcp_user_timeout`` (a server that stops answering, or a network that drops
its packets, costs a deadline, never a hung thread). The password is passed beside
the settings, registered with ``scrub.remember_secret`` and never put in a text: not in
a conninfo string that could be logged, not in an error (libpq's messages do not carry
it; ``describe`` scrubs them all the same).

``describe`` tells the failures that pass (``PgUnavailable``: the server is down,
restarting, failing over, unreachable for now, too busy, out of disk space) from those
that stay until someone acts (a refused password, no such database, a permission, a
read-only standby, a newer schema): a writer keeps its batches and reconnects through
the first kind, and turns history off on the second.
"""

from __future__ import annotations

import contextlib
import getpass
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool, PoolTimeout

from etcdmon_gui.model.history import HistoryError
from etcdmon_gui.model.postgres import PgSettings, SslMode
from etcdmon_gui.scrub import remember_secret, scrub, scrub_text
from etcdmon_gui.store.secret_file import SecretFileError, read_secret_file

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 5
STATEMENT_TIMEOUT_S = 30.0
APPLICATION_NAME = "etcdmon"
# A silent peer is found within idle + interval * count seconds.
KEEPALIVES = {
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
}
# Lock wait, serialization, deadlock, too many connections, out of memory: try again.
_PASSING_STATES = {"55P03", "40001", "40P01", "53300", "53200"}


class PgUnavailable(HistoryError):
    """The PostgreSQL server cannot be used for now (down, restarting, failing over,
    unreachable, too busy, out of disk space): trying again later may work."""


def read_password_file(path: Path) -> str:
    """The password kept in ``path``, by ``store.secret_file``'s rule (its first line; a
    file others may read, or an empty one, is refused); ``HistoryError`` saying why not."""
    try:
        return read_secret_file(path, "the PostgreSQL password file")
    except SecretFileError as exc:
        raise HistoryError(str(exc)) from None


#: What names a PostgreSQL history: settings (a YAML config, the settings dialog), or a
#: libpq connection string / URI without a password (``etcdmon serve``'s ``dsn``).
PgTarget = PgSettings | str


def settings_of(target: PgTarget) -> PgSettings:
    """The settings ``target`` names (of a connection string: what libpq would use, for
    the texts that say which database); ``HistoryError`` for a malformed string or one
    holding a password."""
    if isinstance(target, PgSettings):
        return target
    try:
        params = conninfo_to_dict(target)
    except psycopg.Error as exc:
        raise HistoryError(
            f"the PostgreSQL connection string is malformed ({scrub_text(str(exc))}): give "
            "host=... dbname=... user=..., or postgresql://user@host:port/dbname"
        ) from None
    if params.get("password"):
        raise HistoryError(
            "the PostgreSQL connection string holds a password: give it apart (a password "
            "file or the keyring), so it is in no config file or log"
        )
    env = os.environ
    host = str(params.get("host") or env.get("PGHOST") or "localhost").split(",")[0]
    port = str(params.get("port") or env.get("PGPORT") or "5432").split(",")[0]
    user = str(params.get("user") or env.get("PGUSER") or getpass.getuser())
    sslmode = str(params.get("sslmode") or env.get("PGSSLMODE") or "prefer")
    return PgSettings.model_construct(
        host=host,
        port=int(port) if port.isdigit() else 5432,
        dbname=str(params.get("dbname") or env.get("PGDATABASE") or user),
        user=user,
        sslmode=SslMode(sslmode) if sslmode in set(SslMode) else SslMode.PREFER,
        sslrootcert=params.get("sslrootcert"),
    )


def connect_kwargs(
    target: PgTarget,
    password: str | None,
    *,
    read_only: bool = False,
    connect_timeout_s: int = CONNECT_TIMEOUT_S,
    statement_timeout_s: float = STATEMENT_TIMEOUT_S,
) -> tuple[str, dict[str, Any]]:
    """libpq's connection string and the parameters added to it (the password among
    them, so never log these). Without a password, libpq's own ways apply
    (``~/.pgpass``, ``PGPASSWORD``)."""
    options = f"-c statement_timeout={round(statement_timeout_s * 1000)}"
    if read_only:
        options += " -c default_transaction_read_only=on"
    connect_s = max(2, int(connect_timeout_s))  # libpq's least
    kw: dict[str, Any] = {
        "connect_timeout": connect_s,
        "application_name": APPLICATION_NAME,
        "options": options,
        **KEEPALIVES,
        # Data the server does not acknowledge for this long: the connection is dead.
        "tcp_user_timeout": round((statement_timeout_s + connect_s) * 1000),
    }
    conninfo = ""
    if isinstance(target, PgSettings):
        kw |= {
            "host": target.host,
            "port": target.port,
            "dbname": target.dbname,
            "user": target.user,
            "sslmode": target.sslmode.value,
        }
        if target.sslrootcert:
            kw["sslrootcert"] = target.sslrootcert
    else:
        settings_of(target)  # refuses a malformed one, or one with a password
        conninfo = target
    if password:
        remember_secret(password)
        kw["password"] = password
    return conninfo, kw


def describe(exc: BaseException, target: PgTarget, password: str | None) -> HistoryError:
    """What a failure of the PostgreSQL history means, in a sentence that says what to do;
    the password (if it ever appears) scrubbed out. ``PgUnavailable`` when it may pass."""
    settings = settings_of(target)
    text = scrub(scrub_text(str(exc).strip()), [password] if password else [])
    first = text.splitlines()[0] if text else type(exc).__name__
    low = text.lower()
    sqlstate = getattr(exc, "sqlstate", None)
    at, where, user = settings.address, settings.where, settings.user
    passing = False
    if sqlstate == "28P01" or "password authentication failed" in low:
        msg = (
            f"PostgreSQL at {at} refused user {user!r}: authentication failed. Check the "
            "password kept for it (keyring or password file) and the server's pg_hba.conf"
        )
    elif sqlstate == "28000" or "no pg_hba.conf entry" in low or "no password supplied" in low:
        msg = (
            f"PostgreSQL at {at} refused user {user!r} ({first}): give the password, or "
            "ask the database's administrator to allow this host in pg_hba.conf"
        )
    elif sqlstate == "3D000" or ("database" in low and "does not exist" in low):
        msg = (
            f"the database {settings.dbname!r} does not exist on the PostgreSQL server at "
            f"{at}: create it (createdb -O {user} {settings.dbname}) or fix the name"
        )
    elif sqlstate == "42501" or "permission denied" in low or "must be owner" in low:
        msg = (
            f"user {user!r} lacks a permission in the PostgreSQL history {where} ({first}): "
            f"a writer needs to own the history's tables (GRANT CREATE ON DATABASE, or "
            "let the tables' owner run it); a viewer needs SELECT on them"
        )
    elif sqlstate == "25006" or "read-only transaction" in low:
        msg = (
            f"the PostgreSQL history {where} is read-only here ({first}): point writers at "
            "the primary server, not a standby, and not with a read-only setting"
        )
    elif sqlstate == "57014" or "statement timeout" in low:
        msg = (
            f"the PostgreSQL history {where} took too long to answer ({first}): the server "
            "is overloaded or a lock is held; try again, or ask its administrator"
        )
        passing = True
    elif sqlstate == "53100" or "could not extend" in low or "no space left" in low:
        msg = (
            f"the PostgreSQL server at {at} is out of disk space ({first}): free some "
            "space there, or keep raw samples for less time"
        )
        passing = True
    elif isinstance(exc, PoolTimeout | psycopg.OperationalError) and (
        sqlstate is None or sqlstate.startswith("08") or sqlstate.startswith("57P")
    ):
        msg = (
            f"cannot reach the PostgreSQL server at {at} ({first}): check that it runs "
            "and accepts connections there (listen_addresses, the port, a firewall)"
        )
        passing = True
    elif sqlstate in _PASSING_STATES:
        msg = f"the PostgreSQL history {where} is busy ({first}): try again"
        passing = True
    else:
        msg = f"the PostgreSQL history {where} cannot be used: {first}"
    return (PgUnavailable if passing else HistoryError)(msg, path=f"postgresql://{where}")


@contextlib.contextmanager
def translated(target: PgTarget, password: str | None) -> Iterator[None]:
    """Turn psycopg's and the pool's failures inside into ``HistoryError``."""
    try:
        yield
    except (psycopg.Error, PoolTimeout) as exc:
        raise describe(exc, target, password) from None


def connect(
    target: PgTarget,
    password: str | None,
    *,
    read_only: bool = False,
    connect_timeout_s: int = CONNECT_TIMEOUT_S,
    statement_timeout_s: float = STATEMENT_TIMEOUT_S,
) -> psycopg.Connection[tuple[Any, ...]]:
    """One connection in autocommit mode (the caller opens transactions); raises
    ``HistoryError`` saying what is wrong."""
    conninfo, kw = connect_kwargs(
        target,
        password,
        read_only=read_only,
        connect_timeout_s=connect_timeout_s,
        statement_timeout_s=statement_timeout_s,
    )
    with translated(target, password):
        return psycopg.connect(conninfo, autocommit=True, **kw)


def open_pool(
    target: PgTarget,
    password: str | None,
    *,
    read_only: bool,
    size: int,
    connect_timeout_s: int = CONNECT_TIMEOUT_S,
    statement_timeout_s: float = STATEMENT_TIMEOUT_S,
) -> ConnectionPool[psycopg.Connection[tuple[Any, ...]]]:
    """A pool of up to ``size`` connections for readers in several threads; a borrowed
    connection is checked first (a server restarted meanwhile costs a reconnect, not a
    failed query). Raises ``HistoryError`` when none can be made within the deadline."""
    conninfo, kw = connect_kwargs(
        target,
        password,
        read_only=read_only,
        connect_timeout_s=connect_timeout_s,
        statement_timeout_s=statement_timeout_s,
    )
    pool: ConnectionPool[psycopg.Connection[tuple[Any, ...]]] = ConnectionPool(
        conninfo,
        kwargs={**kw, "autocommit": True},
        min_size=1,
        max_size=max(1, size),
        open=False,
        name="etcdmon-history",
        timeout=connect_timeout_s + statement_timeout_s,
        reconnect_timeout=60.0,
        check=ConnectionPool.check_connection,
    )
    try:
        with translated(target, password):
            pool.open(wait=True, timeout=connect_timeout_s + 1)
    except BaseException:
        pool.close(timeout=1.0)
        raise
    return pool


__all__ = [
    "CONNECT_TIMEOUT_S",
    "STATEMENT_TIMEOUT_S",
    "PgSettings",
    "PgTarget",
    "PgUnavailable",
    "SslMode",
    "connect",
    "connect_kwargs",
    "describe",
    "open_pool",
    "read_password_file",
    "settings_of",
    "translated",
]
