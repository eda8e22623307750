"""`etcdmon watch` keeps what it could not deliver: a RESOLVED still being retried when
the watch is killed with SIGKILL is sent by the next run, from the history file.

A real cluster (a member stops, then comes back), the real `etcdmon watch` process,
and an Alertmanager-webhook receiver on loopback that answers 503 until told to accept.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from etcdmon_gui.etcd.sandbox import Sandbox
from tests.processes import WAIT, Lines, run_watch


class Receiver(ThreadingHTTPServer):
    """Keeps every JSON body with the status it was answered: 503 until ``accept``."""

    def __init__(self) -> None:
        self.status = 503
        self.bodies: list[tuple[int, dict[str, Any]]] = []
        self.cond = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with receiver.cond:
                    status = receiver.status
                    receiver.bodies.append((status, body))
                    receiver.cond.notify_all()
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)

    def accept(self) -> None:
        with self.cond:
            self.status = 200

    def wait_accepted(self, status: str) -> dict[str, Any]:
        def found() -> dict[str, Any] | None:
            return next(
                (b for code, b in self.bodies if code == 200 and b["status"] == status), None
            )

        with self.cond:
            assert self.cond.wait_for(lambda: found() is not None, WAIT), self.bodies
            body = found()
            assert body is not None
            return body


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def queued(history: Path) -> list[tuple[str, str]]:
    """The queue's rows (fingerprint, kind), after checking the file's integrity."""
    db = sqlite3.connect(history)
    try:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        rows = db.execute("SELECT fingerprint, kind FROM delivery_queue ORDER BY seq")
        return [(fp, kind) for fp, kind in rows]
    finally:
        db.close()


def test_a_resolved_being_retried_at_kill_9_is_sent_after_the_restart(
    cluster: Sandbox, tmp_path: Path, receiver: Receiver
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text("schema_version: 1\nrules:\n- name: etcdMembersDown\n  for: 0s\n")
    history = tmp_path / "history.sqlite3"
    url = f"http://127.0.0.1:{receiver.server_address[1]}/hooks/s3cretPATH"
    with run_watch(cluster, rules, "--history", str(history), "--webhook", url) as first:
        try:
            out, err = Lines(first.stdout), Lines(first.stderr)
            cluster.stop_member(2)
            fired = out.wait_for(r"FIRING +warning +etcdMembersDown .*member=m2 fingerprint=(\w+)")
            fp = fired.group(1)
            cluster.restart_member(2)
            out.wait_for(rf"RESOLVED +warning +etcdMembersDown .*fingerprint={fp}")
            # The receiver refused the RESOLVED; it waits for its retry.
            err.wait_for(rf"WARNING: notification to 'webhook 1' \({fp}, resolved\) failed")
        finally:
            first.kill()  # SIGKILL: no shutdown code runs
            first.wait(timeout=15)
    assert first.returncode == -signal.SIGKILL
    # Only the latest state waits (the FIRING was superseded), in a sound file.
    assert queued(history) == [(fp, "resolved")]
    assert not [line for line in err.lines if "s3cretPATH" in line]

    receiver.accept()
    with run_watch(cluster, rules, "--history", str(history), "--webhook", url) as second:
        try:
            Lines(second.stdout)
            err = Lines(second.stderr)
            gone = receiver.wait_accepted("resolved")["alerts"][0]
            assert gone["fingerprint"] == fp and gone["status"] == "resolved"
        finally:
            second.send_signal(signal.SIGTERM)
            second.wait(timeout=15)
    assert second.returncode == 0, err.lines
    assert queued(history) == []
    # The receiver never got a FIRING from the second run: the RESOLVED came from the queue.
    accepted = [b["status"] for code, b in receiver.bodies if code == 200]
    assert accepted == ["resolved"]
    db = sqlite3.connect(history)
    try:
        dump = "\n".join(db.iterdump())
    finally:
        db.close()
    assert "s3cretPATH" not in dump


@pytest.mark.parametrize("value", ["31d", "soon", "-1h"])
def test_a_retry_time_out_of_range_is_refused(value: str) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "etcdmon_gui.cli", "watch", "--endpoints", "127.0.0.1:1",
         f"--retry-for={value}"],
        capture_output=True,
        text=True,
        timeout=30,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert out.returncode == 2, out.stderr
    assert out.stderr == (
        f"etcdmon: --retry-for must be a duration up to 30 days (720h), not {value}\n"
    )
