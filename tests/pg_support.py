"""A throwaway PostgreSQL server on loopback, for the tests and ``benchmarks/pg_insert.py``.

``start_postgres`` makes a cluster with ``initdb`` in a temporary folder (a superuser
with a password, scram-sha-256 on TCP connections), starts it on 127.0.0.1 at a free
port with its socket in that folder and ``fsync=off``, and returns a ``PgServer`` whose
``stop`` kills it (``pg_ctl stop -m immediate``) and removes the folder; ``shut_down``
and ``start_again`` stop it (``-m fast``: its sessions are ended) and start it again
on the same port and data, for the tests of a server that restarts. PostgreSQL
refuses to run as root: as root, the folder belongs to the ``postgres`` user and the
programs run as it (``runuser``). A missing PostgreSQL raises ``PgMissing`` with the
install command; ``postgres_server`` (for fixtures) turns that into a test failure.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from etcdmon_gui.model.postgres import PgSettings, SslMode

HOW = "apt-get install postgresql (Debian's PostgreSQL server: initdb, pg_ctl, postgres)"
SUPERUSER = "postgres"
START_TIMEOUT_S = 30


class PgMissing(RuntimeError):
    pass


def find_bin() -> Path:
    """The folder of initdb/pg_ctl/postgres: PG_BIN, ``pg_config --bindir``, or the
    newest /usr/lib/postgresql/*/bin."""
    candidates: list[Path] = []
    if env := os.environ.get("PG_BIN"):
        candidates.append(Path(env))
    if pg_config := shutil.which("pg_config"):
        out = subprocess.run(
            [pg_config, "--bindir"], capture_output=True, text=True, timeout=10, check=False
        )
        candidates.append(Path(out.stdout.strip()))
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
        reverse=True,
    )
    candidates += versions
    for folder in candidates:
        if all((folder / tool).is_file() for tool in ("initdb", "pg_ctl", "postgres")):
            return folder
    raise PgMissing(f"PostgreSQL's initdb/pg_ctl/postgres were not found: {HOW}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PgServer:
    host: str
    port: int
    password: str  # the superuser's
    folder: Path
    bin: Path
    _as: list[str]
    options: str = ""  # the server's, for start_again

    def settings(self, dbname: str = "postgres", user: str = SUPERUSER) -> PgSettings:
        return PgSettings(
            host=self.host, port=self.port, dbname=dbname, user=user, sslmode=SslMode.DISABLE
        )

    def admin(self, dbname: str = "postgres") -> psycopg.Connection[tuple[object, ...]]:
        """A superuser connection in autocommit mode."""
        return psycopg.connect(
            host=self.host,
            port=self.port,
            dbname=dbname,
            user=SUPERUSER,
            password=self.password,
            connect_timeout=5,
            autocommit=True,
        )

    def create_database(self, name: str, owner: str = SUPERUSER) -> PgSettings:
        with self.admin() as conn:
            conn.execute(f'CREATE DATABASE "{name}" OWNER "{owner}"')
        return self.settings(name, owner)

    def create_role(self, name: str, password: str) -> None:
        with self.admin() as conn:
            conn.execute(f"CREATE ROLE \"{name}\" LOGIN PASSWORD '{password}'")

    def _pg_ctl(self, *args: str) -> None:
        done = subprocess.run(
            [*self._as, str(self.bin / "pg_ctl"), *args, "-D", str(self.folder / "data")],
            capture_output=True,
            text=True,
            timeout=START_TIMEOUT_S + 10,
            check=False,
        )
        if done.returncode != 0:
            log = (self.folder / "server.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"pg_ctl {args[0]} failed: {done.stderr}\n{log}")

    def shut_down(self, mode: str = "fast") -> None:
        """Stop the server (``fast``: sessions ended, as a restart or failover does),
        keeping its data; returns once it is down."""
        self._pg_ctl("stop", "-m", mode, "-w", "-t", str(START_TIMEOUT_S))

    def start_again(self) -> None:
        """Start the server ``shut_down`` stopped, on the same port and data; returns
        once it accepts connections."""
        self._pg_ctl(
            *("start", "-l", str(self.folder / "server.log")),
            *("-w", "-t", str(START_TIMEOUT_S), "-o", self.options),
        )

    def stop(self) -> None:
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            subprocess.run(
                [
                    *self._as,
                    *(str(self.bin / "pg_ctl"), "stop", "-D", str(self.folder / "data")),
                    *("-m", "immediate", "-w", "-t", "10"),
                ],
                capture_output=True,
                timeout=20,
                check=False,
            )
        shutil.rmtree(self.folder, ignore_errors=True)


def start_postgres(password: str = "pg-superuser-secret") -> PgServer:
    """A new PostgreSQL cluster, started; ``PgMissing`` when there is none to start."""
    bin_ = find_bin()
    folder = Path(tempfile.mkdtemp(prefix="etcdmon-pg-"))
    run_as: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL will not run as root
        if shutil.which("runuser") is None:
            raise PgMissing("runuser (util-linux) is needed to run PostgreSQL as its own user")
        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            raise PgMissing(f"there is no `postgres` user to run PostgreSQL as: {HOW}") from None
        os.chown(folder, user.pw_uid, user.pw_gid)
        run_as = ["runuser", "-u", "postgres", "--"]
    pwfile = folder / "pwfile"
    pwfile.write_text(password + "\n")
    if run_as:
        os.chown(pwfile, pwd.getpwnam("postgres").pw_uid, -1)
    try:
        subprocess.run(
            [
                *run_as,
                *(str(bin_ / "initdb"), "-D", str(folder / "data"), "-U", SUPERUSER),
                *(f"--pwfile={pwfile}", "--auth-local=trust", "--auth-host=scram-sha-256"),
                *("-E", "UTF8", "--locale=C.UTF-8", "--no-sync"),
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        pwfile.unlink()
        for _attempt in range(3):  # a free port may be taken before the server binds it
            port = _free_port()
            options = (
                f"-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories={folder}"
                " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
            )
            started = subprocess.run(
                [
                    *run_as,
                    *(str(bin_ / "pg_ctl"), "start", "-D", str(folder / "data")),
                    *("-l", str(folder / "server.log"), "-w", "-t", str(START_TIMEOUT_S)),
                    *("-o", options),
                ],
                capture_output=True,
                text=True,
                timeout=START_TIMEOUT_S + 10,
                check=False,
            )
            if started.returncode == 0:
                return PgServer("127.0.0.1", port, password, folder, bin_, run_as, options)
        log = (folder / "server.log").read_text(errors="replace")[-2000:]
        raise RuntimeError(f"PostgreSQL did not start: {started.stderr}\n{log}")
    except subprocess.CalledProcessError as exc:
        shutil.rmtree(folder, ignore_errors=True)
        raise RuntimeError(f"initdb failed: {exc.stderr}") from None
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise


def postgres_server() -> Iterator[PgServer]:
    """For a fixture: a server for the fixture's scope, or a test failure saying how to
    install PostgreSQL."""
    try:
        server = start_postgres()
    except PgMissing as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield server
    finally:
        server.stop()
