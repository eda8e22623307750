"""A real Prometheus Alertmanager on loopback for the tests, and the webhook receiver it
relays to.

``running_alertmanager`` starts Debian's ``prometheus-alertmanager`` (0.25) on free
127.0.0.1 ports, clustering off, its storage in a temporary folder, basic auth on
unless asked (a bcrypt hash of ``PASSWORD`` in its web config), routing every alert to a
``WebhookReceiver`` with short group timers and ``send_resolved``; it waits for
``/-/ready`` with a deadline. A missing binary fails the test with the install command.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from etcdmon_gui.etcd.sandbox import free_ports

BINARY = "/usr/bin/prometheus-alertmanager"
HOW = "apt-get install prometheus-alertmanager (Debian's Alertmanager 0.25)"
USER = "etcdmon"
PASSWORD = "am-s3cret-pw"
# bcrypt (cost 4, the least: the tests log in on every request) of PASSWORD, made once with
# crypt.crypt(PASSWORD, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16)).
PASSWORD_HASH = "$2b$04$R5f.7gX4hjE2cmcGeDpumuqiIwxnZIImf3YP9UsiDJ2MwlIR1VRai"
WAIT = 30.0


def find_alertmanager() -> Path:
    found = Path(BINARY) if Path(BINARY).is_file() else None
    other = shutil.which("alertmanager")
    path = found or (Path(other) if other else None)
    if path is None:
        pytest.fail(f"Alertmanager is needed by this test but was not found: {HOW}", pytrace=False)
    return path


class WebhookReceiver(ThreadingHTTPServer):
    """Keeps every Alertmanager webhook body it is POSTed."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.cond = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with receiver.cond:
                    receiver.bodies.append(body)
                    receiver.cond.notify_all()
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hook"

    def wait_alert(
        self, status: str, match: Callable[[dict[str, Any]], bool], timeout: float = WAIT
    ) -> dict[str, Any]:
        """The first relayed alert with ``status`` that ``match`` accepts."""

        def found() -> dict[str, Any] | None:
            return next(
                (
                    a
                    for body in self.bodies
                    for a in body["alerts"]
                    if a["status"] == status and match(a)
                ),
                None,
            )

        with self.cond:
            assert self.cond.wait_for(lambda: found() is not None, timeout), (
                f"no {status} alert relayed; received: {self.bodies}"
            )
            alert = found()
        assert alert is not None
        return alert


@dataclass
class Alertmanager:
    url: str
    receiver: WebhookReceiver
    process: subprocess.Popen[bytes]
    log: Path
    auth: bool

    def client(self) -> httpx.Client:
        login = (USER, PASSWORD) if self.auth else None
        return httpx.Client(base_url=self.url, auth=login, timeout=5.0)

    def alerts(self) -> list[dict[str, Any]]:
        """GET /api/v2/alerts: what it holds now (active, silenced and inhibited)."""
        with self.client() as client:
            answer = client.get("/api/v2/alerts")
        answer.raise_for_status()
        alerts: list[dict[str, Any]] = answer.json()
        return alerts

    def wait_held(
        self, match: Callable[[dict[str, Any]], bool], timeout: float = WAIT
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            held = [a for a in self.alerts() if match(a)]
            if held:
                return held[0]
            assert time.monotonic() < deadline, f"no such alert held: {self.alerts()}"
            time.sleep(0.1)  # polling an HTTP API for a change, with a deadline

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


def _config(receiver_url: str) -> str:
    return json.dumps(  # YAML is a superset of JSON
        {
            "route": {
                "receiver": "hook",
                "group_by": ["alertname", "cluster", "member"],
                "group_wait": "1s",
                "group_interval": "1s",
                "repeat_interval": "1h",
            },
            "receivers": [
                {"name": "hook", "webhook_configs": [{"url": receiver_url, "send_resolved": True}]}
            ],
        }
    )


@contextlib.contextmanager
def running_alertmanager(folder: Path, *, auth: bool = True) -> Iterator[Alertmanager]:
    binary = find_alertmanager()
    folder.mkdir(parents=True, exist_ok=True)
    receiver = WebhookReceiver()
    serving = threading.Thread(target=receiver.serve_forever, args=(0.05,), daemon=True)
    serving.start()
    config = folder / "alertmanager.yml"
    config.write_text(_config(receiver.url))
    web = folder / "web.yml"
    web.write_text(json.dumps({"basic_auth_users": {USER: PASSWORD_HASH}} if auth else {}))
    (port,) = free_ports(1)
    log = folder / "alertmanager.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                str(binary),
                f"--config.file={config}",
                f"--web.config.file={web}",
                f"--storage.path={folder / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--cluster.listen-address=",
                "--log.level=warn",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "HOME": str(folder)},
        )
    am = Alertmanager(f"http://127.0.0.1:{port}", receiver, process, log, auth)
    try:
        _wait_ready(am)
        yield am
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
        receiver.shutdown()
        receiver.server_close()
        serving.join(5)


def _wait_ready(am: Alertmanager) -> None:
    deadline = time.monotonic() + WAIT
    with am.client() as client:
        while True:
            if am.process.poll() is not None:
                pytest.fail(
                    f"Alertmanager exited with {am.process.returncode}:\n{am.log_text()}",
                    pytrace=False,
                )
            with contextlib.suppress(httpx.HTTPError):
                if client.get("/-/ready", timeout=1.0).status_code == 200:
                    return
            if time.monotonic() > deadline:
                pytest.fail(f"Alertmanager not ready after {WAIT:g} s:\n{am.log_text()}")
            time.sleep(0.05)  # polling a starting server, with a deadline
