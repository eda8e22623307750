"""Bursts of SIGINT and SIGTERM against the real `etcdmon sandbox` and `etcdmon watch`.

Issue 15: a handler that called ``threading.Event.set()`` deadlocked when a second signal
arrived inside it, so a burst hung the process for good and a hung sandbox orphaned its
etcd members and their data directories. Now a burst always ends the process quickly;
afterwards no etcd member it started is alive and no data directory is left.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psutil
import pytest

from etcdmon_gui.etcd.sandbox import Sandbox
from tests.processes import sandbox_members

BURSTS = 4  # the old handler hung in about one burst of five
SIGNALS = (signal.SIGINT, signal.SIGTERM)


def start(
    args: list[str], tmp_path: Path, etcd_binary: Path | None = None
) -> subprocess.Popen[str]:
    env = {**os.environ, "TMPDIR": str(tmp_path)}  # the sandbox's data dirs land here
    if etcd_binary is not None:
        env["ETCDMON_ETCD_BIN"] = str(etcd_binary)
    return subprocess.Popen(
        [sys.executable, "-m", "etcdmon_gui.cli", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def wait_for_line(proc: subprocess.Popen[str], text: str, timeout: float = 60) -> None:
    """Read stdout until a line contains ``text``, failing if the process dies first."""
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if text in line:
            return
        if not line and proc.poll() is not None:
            pytest.fail(f"exited {proc.returncode}: {proc.stderr.read() if proc.stderr else ''}")
    pytest.fail(f"no {text!r} within {timeout} s")


def burst(pid: int, count: int) -> None:
    """``count`` signals as fast as they can be sent, SIGINT and SIGTERM alternating."""
    for i in range(count):
        try:
            os.kill(pid, SIGNALS[i % 2])
        except ProcessLookupError:
            return


def finish(proc: subprocess.Popen[str], timeout: float = 20) -> tuple[int, str]:
    try:
        code = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        stack = Path(f"/proc/{proc.pid}/wchan").read_text()
        for member in sandbox_members(proc.pid):  # what a hung sandbox would orphan
            member.kill()
        proc.kill()
        proc.wait()
        pytest.fail(f"still running {timeout} s after the signals (blocked in {stack})")
    assert proc.stderr is not None
    return code, proc.stderr.read()


def assert_gone(members: list[psutil.Process], tmp_path: Path) -> None:
    alive = [p.pid for p in members if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert alive == [], f"etcd members left running: {alive}"
    assert list(tmp_path.glob("etcdmon-sandbox-*")) == []


def test_bursts_of_signals_stop_the_sandbox_and_leave_nothing(
    etcd_binary: Path, tmp_path: Path
) -> None:
    for round_ in range(BURSTS):
        scratch = tmp_path / f"round{round_}"
        scratch.mkdir()
        with start(["sandbox", "--members", "3"], scratch, etcd_binary) as proc:
            wait_for_line(proc, "Press Ctrl-C")
            members = sandbox_members(proc.pid)
            assert len(members) == 3
            burst(proc.pid, 300)
            code, stderr = finish(proc)
        # Stopped normally (0) or, after a third signal, forced (128 + the signal).
        assert code in (0, 130, 143), stderr
        assert "Traceback" not in stderr, stderr
        assert_gone(members, scratch)


def test_two_signals_stop_the_sandbox_normally(etcd_binary: Path, tmp_path: Path) -> None:
    with start(["sandbox", "--members", "1"], tmp_path, etcd_binary) as proc:
        wait_for_line(proc, "Press Ctrl-C")
        members = sandbox_members(proc.pid)
        proc.send_signal(signal.SIGINT)
        proc.send_signal(signal.SIGINT)
        code, stderr = finish(proc)
    assert code == 0, stderr
    assert_gone(members, tmp_path)


def test_a_signal_during_start_up_stops_at_once_and_leaves_nothing(
    etcd_binary: Path, tmp_path: Path
) -> None:
    """A member that never becomes healthy (stopped with SIGSTOP as soon as it exists)
    held the start-up for its whole 30 s timeout before a signal was acted on."""
    with start(["sandbox", "--members", "3"], tmp_path, etcd_binary) as proc:
        deadline = time.monotonic() + 30
        while not (members := sandbox_members(proc.pid)):
            assert time.monotonic() < deadline and proc.poll() is None
        members[0].suspend()
        while len(members := sandbox_members(proc.pid)) < 3:
            assert time.monotonic() < deadline and proc.poll() is None
        proc.send_signal(signal.SIGTERM)
        code, stderr = finish(proc, timeout=10)
        assert proc.stdout is not None
        said = proc.stdout.read()
    assert code == 0, stderr
    assert said == "stopped before the sandbox was up; nothing is left behind\n"
    assert_gone(members, tmp_path)


class HangingReceiver(ThreadingHTTPServer):
    """A webhook receiver that accepts every POST and never answers it."""

    daemon_threads = True

    def __init__(self) -> None:
        self.posted = threading.Event()
        self.release = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                receiver.posted.set()
                receiver.release.wait(60)

            def log_message(self, *args: object) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)


@pytest.fixture
def hanging_receiver() -> Iterator[HangingReceiver]:
    server = HangingReceiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.release.set()
    server.shutdown()
    server.server_close()


def _watch(shared_cluster: Sandbox, tmp_path: Path, *extra: str) -> subprocess.Popen[str]:
    rules = tmp_path / "rules.yaml"
    # Fires at once on a healthy cluster, so there is an alert to deliver.
    rules.write_text(
        "schema_version: 1\nrules:\n- name: etcdDatabaseQuotaLowSpace\n  threshold: 0\n  for: 0s\n"
    )
    return start(
        [
            "watch", "--endpoints", shared_cluster.endpoints[0], "--interval", "1s",
            "--rules", str(rules), "--history", str(tmp_path / "history.sqlite3"), *extra,
        ],
        tmp_path,
    )  # fmt: skip


def test_bursts_of_signals_stop_watch(shared_cluster: Sandbox, tmp_path: Path) -> None:
    for round_ in range(BURSTS):
        scratch = tmp_path / f"round{round_}"
        scratch.mkdir()
        with _watch(shared_cluster, scratch) as proc:
            wait_for_line(proc, " STATE ")
            burst(proc.pid, 300)
            code, stderr = finish(proc)
        assert code in (0, 130, 143), stderr
        assert "Traceback" not in stderr, stderr


def test_watch_stuck_delivering_stops_on_the_third_signal(
    shared_cluster: Sandbox, tmp_path: Path, hanging_receiver: HangingReceiver
) -> None:
    """The last alerts cannot go out (the receiver never answers): the first SIGTERM
    starts a stop that waits for them, the second only says so, the third exits now."""
    url = f"http://127.0.0.1:{hanging_receiver.server_address[1]}/hook"
    with _watch(shared_cluster, tmp_path, "--webhook", url) as proc:
        assert proc.stderr is not None
        assert proc.stderr.readline().startswith("watching ")
        wait_for_line(proc, " FIRING ")
        assert hanging_receiver.posted.wait(30)  # its delivery hangs for 10 s from now
        # One at a time: two SIGTERMs sent at once may arrive as one.
        proc.send_signal(signal.SIGTERM)
        assert proc.stderr.readline() == "etcdmon: stopping\n"
        proc.send_signal(signal.SIGTERM)
        assert proc.stderr.readline() == (
            "etcdmon: still stopping: sending the last alerts; a third signal forces an "
            "immediate exit\n"
        )
        assert proc.poll() is None  # two signals: still stopping, not forced
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code, stderr = finish(proc, timeout=5)
        assert time.monotonic() - started < 3
    assert code == 128 + signal.SIGTERM, stderr
    assert stderr == "etcdmon: forced exit\n"
