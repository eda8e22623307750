"""A PostgreSQL history that outlives its server's restarts, against a real PostgreSQL
(a throwaway cluster for the module, stopped with ``pg_ctl stop -m fast`` and started
again on the same port and data): the writer keeps in memory what it could not write
and writes it when the server is back (before, during and after the outage: all in
the database), a writer started while the server is down waits for it, the memory
kept is bounded, ``close`` never waits long for a dead server (even one that accepts
connections and never answers), the alert history and a reader work again after the
restart, and a refused password stays what it was: history off, said once."""

from __future__ import annotations

import contextlib
import itertools
import logging
import math
import socket
import time
from collections.abc import Callable, Iterator

import pytest

from etcdmon_gui.model.alerts import AlertEvent, AlertState, EventKind
from etcdmon_gui.model.history import HistoryError, MetricsQuery
from etcdmon_gui.model.postgres import PgSettings
from etcdmon_gui.monitor.history_signals import snapshot_samples
from etcdmon_gui.store.history.postgres import (
    PgAlertHistory,
    PgHistoryReader,
    PgHistoryWriter,
    PgUnavailable,
)
from etcdmon_gui.store.history.writer import Keep
from tests.builders import chart_member, chart_snapshot
from tests.integration.test_pg_history import alert
from tests.pg_support import PgServer, postgres_server
from tests.processes import poll

FAST = Keep(min_s=0.05, max_s=0.2)  # reconnect at once in a test
ROLE_PASSWORD = "r3connect-Pa55-for-etcdmon"
KEY = "cluster-a"
MEMBER = f"{chart_member(0).id:x}"
_names = itertools.count()


@pytest.fixture(scope="module")
def pg() -> Iterator[PgServer]:
    yield from postgres_server()


def new_db(pg: PgServer, owner: str = "postgres") -> PgSettings:
    return pg.create_database(f"r{next(_names)}", owner)


@contextlib.contextmanager
def server_down(pg: PgServer) -> Iterator[None]:
    """The server stopped for the block (its sessions ended), started again after it."""
    pg.shut_down()
    try:
        yield
    finally:
        pg.start_again()


def until(check: Callable[[], object], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def add(writer: PgHistoryWriter, t0: float, steps: range) -> None:
    """One sweep a second, ``up`` reading 1 and every value ``i + 1``."""
    for i in steps:
        writer.add_snapshot(chart_snapshot(t0 + i, value=float(i + 1)), "a")


def written(reader: PgHistoryReader, t0: float) -> list[float]:
    """The times of member 0's ``up`` samples in the database."""
    got = reader.series(MetricsQuery(KEY, t0 - 1, t0 + 60, members=(MEMBER,), signals=("up",)))
    return [] if not got else [float(t) for t in got[0].ts]


def per_snapshot() -> int:
    return sum(1 for s in snapshot_samples(chart_snapshot(0.0)) if math.isfinite(s.value))


def test_history_before_during_and_after_a_restart_is_all_written(
    pg: PgServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    settings = new_db(pg)
    problems: list[str] = []
    writer = PgHistoryWriter(
        settings, pg.password, problems=problems.append, batch_s=0.02, keep=FAST
    ).start()
    assert writer.wait_ready() is None
    reader = PgHistoryReader(settings, pg.password, read_only=True)
    alerts = PgAlertHistory(settings, pg.password)
    t0 = float(int(time.time()) - 60)  # whole seconds: times are kept in ms
    try:
        add(writer, t0, range(10))
        assert writer.flush()
        alerts.record([AlertEvent(EventKind.FIRING, alert(AlertState.FIRING, t0), t0)])
        assert written(reader, t0) == [t0 + i for i in range(10)]

        with server_down(pg):
            add(writer, t0, range(10, 20))
            started = time.monotonic()
            assert not writer.flush(timeout=0.5)  # kept in memory, not written
            assert time.monotonic() - started < 1.5
            assert writer.retrying and writer.kept == 10 * per_snapshot()
            assert writer.dropped == 0 and writer.error is None
            with pytest.raises(HistoryError, match="cannot reach the PostgreSQL server"):
                alerts.record([AlertEvent(EventKind.RESOLVED, alert(AlertState.RESOLVED, t0), t0)])
            started = time.monotonic()  # the next calls fail at once until the next try
            with pytest.raises(HistoryError, match="the next try is in"):
                alerts.record([AlertEvent(EventKind.RESOLVED, alert(AlertState.RESOLVED, t0), t0)])
            assert time.monotonic() - started < 0.5
            (problem,) = problems
            assert f"cannot reach the PostgreSQL server at {settings.address}" in problem
            assert "kept in memory" in problem
        add(writer, t0, range(20, 30))
        assert writer.flush(timeout=15)
        assert not writer.retrying and writer.kept == 0 and writer.dropped == 0
        assert problems == [problem]  # said once, however many attempts
        assert len([r for r in caplog.records if " is back after " in r.getMessage()]) == 1

        # Everything, in order, read by the reader opened before the restart.
        assert written(reader, t0) == [t0 + i for i in range(30)]
        (db_size,) = reader.series(
            MetricsQuery(KEY, t0 - 1, t0 + 60, members=(MEMBER,), signals=("db_size_bytes",))
        )
        assert db_size.last.tolist() == [(i + 1) * 1e6 for i in range(30)]
        # The alert history's first call after its next try's time reconnects.
        later = t0 + 20
        back(
            lambda: alerts.record(
                [AlertEvent(EventKind.RESOLVED, alert(AlertState.RESOLVED, later), later)]
            )
        )
        assert [e.at for e in alerts.events()] == [later, t0]
    finally:
        writer.close()
        reader.close()
        alerts.close()
    assert writer.error is None


def back(call: Callable[[], object]) -> None:
    """``call`` once the alert history tries the server again (a few seconds at most)."""

    def tried() -> bool | None:
        try:
            call()
        except PgUnavailable:
            return None
        return True

    poll("the alert history reconnecting", tried, timeout=10)


def test_a_writer_started_while_the_server_is_down_waits_for_it(pg: PgServer) -> None:
    settings = new_db(pg)
    problems: list[str] = []
    t0 = float(int(time.time()) - 60)  # whole seconds: times are kept in ms
    with server_down(pg):
        writer = PgHistoryWriter(
            settings, pg.password, problems=problems.append, batch_s=0.02, keep=FAST
        ).start()
        alerts = PgAlertHistory(settings, pg.password)  # connects at its first call
        assert writer.wait_ready() is None and writer.retrying
        add(writer, t0, range(5))
    try:
        assert writer.flush(timeout=15) and not writer.retrying
        back(
            lambda: alerts.record([AlertEvent(EventKind.FIRING, alert(AlertState.FIRING, t0), t0)])
        )
        assert [e.at for e in alerts.events()] == [t0]
        reader = PgHistoryReader(settings, pg.password, read_only=True)
        try:
            assert written(reader, t0) == [t0 + i for i in range(5)]
        finally:
            reader.close()
        assert len(problems) == 1 and "kept in memory" in problems[0]
    finally:
        writer.close()
        alerts.close()


def test_memory_is_bounded_and_close_never_waits_for_a_dead_server(
    pg: PgServer, caplog: pytest.LogCaptureFixture
) -> None:
    settings = new_db(pg)
    per = per_snapshot()
    keep = Keep(min_s=0.05, max_s=0.2, samples=4 * per)
    writer = PgHistoryWriter(
        settings, pg.password, batch_s=0.0, keep=keep, connect_timeout_s=2
    ).start()
    assert writer.wait_ready() is None
    t0 = float(int(time.time()) - 60)  # whole seconds: times are kept in ms
    with server_down(pg):
        for i in range(10):  # a batch each
            add(writer, t0, range(i, i + 1))

            def taken(n: int = (i + 1) * per) -> bool:
                return writer.kept + writer.dropped == n

            until(taken)
        assert writer.retrying and writer.kept == 4 * per and writer.dropped == 6 * per
        full = [r for r in caplog.records if "the oldest samples are dropped" in r.getMessage()]
        assert len(full) == 1  # said once

        # A server that takes connections and never answers: each attempt costs the
        # connect timeout (2 s), close costs its own.
        with socket.socket() as silent:
            silent.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            silent.bind((settings.host, settings.port))
            silent.listen(16)
            started = time.monotonic()
            writer.close(timeout=0.5)
            assert time.monotonic() - started < 1.0
            until(lambda: not writer._thread.is_alive())  # the attempt's deadline
    lost = [r for r in caplog.records if "kept in memory are lost" in r.getMessage()]
    assert len(lost) == 1 and f"{4 * per} samples" in lost[0].getMessage()


def test_a_refused_password_stays_permanent_at_start_and_after_a_lost_connection(
    pg: PgServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    pg.create_role("etcdmon", ROLE_PASSWORD)
    settings = new_db(pg, owner="etcdmon")
    problems: list[str] = []
    writer = PgHistoryWriter(settings, "not-the-Pa55word", problems=problems.append, keep=FAST)
    error = writer.start().wait_ready()
    writer.close()
    assert error is not None and "authentication failed" in str(error)
    assert problems == [str(error)] and not writer.retrying

    # The password changes while the writer is connected; its connection is then lost.
    problems.clear()
    writer = PgHistoryWriter(
        settings, ROLE_PASSWORD, problems=problems.append, batch_s=0.02, keep=FAST
    ).start()
    try:
        assert writer.wait_ready() is None
        t0 = float(int(time.time()) - 60)  # whole seconds: times are kept in ms
        add(writer, t0, range(3))
        assert writer.flush()
        with pg.admin() as conn:
            conn.execute("ALTER ROLE etcdmon PASSWORD 'chang3d-Pa55-for-etcdmon'")
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'etcdmon'"
            )
        add(writer, t0, range(3, 6))
        until(lambda: writer.error is not None)
        assert not writer.retrying and not writer.flush(timeout=1)
    finally:
        writer.close()
    assert len(problems) == 2, problems  # lost (retrying), then refused (history off)
    assert "kept in memory" in problems[0]
    assert "refused user 'etcdmon': authentication failed" in problems[1]
    assert str(writer.error) == problems[1]
    texts = [*problems, caplog.text]
    assert not any(pw in t for t in texts for pw in (ROLE_PASSWORD, "chang3d-Pa55", pg.password))
