"""The API over a real ``ServerRuntime`` in process (httpx's ASGITransport, no socket):
clusters whose sweeps stalled are said to be stale (API, ``/metrics``, ``/health``), and
expected failures are 503s, not "Internal error": an unreadable history, an alert
thread that does not answer in time (and a silence retried with its id is added once),
a cursor missing a key is a 400.

The clusters' endpoints are loopback ports nobody listens on: their sweeps end at once
(unreachable), which is all the runtime needs to stamp its views.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from etcdmon_gui.etcd.sandbox import free_ports
from etcdmon_gui.model.alerts import Silence
from etcdmon_gui.server.api import Auth, create_app
from etcdmon_gui.server.clusters import ClusterTarget, resolve
from etcdmon_gui.server.config import load_config
from etcdmon_gui.server.exporter import Exporter, ServerMetrics
from etcdmon_gui.server.history import open_history
from etcdmon_gui.server.runtime import ServerRuntime
from tests.processes import poll

T = TypeVar("T")
TOKEN = "unit-test-token-0123456789"
RULES = "schema_version: 1\nrules: []\n"


class Runtime(ServerRuntime):
    """The real runtime with knobs a test turns: how long the API waits for the alert
    thread, an event the alert thread waits for just before adding a silence, and the
    clusters whose sweeps count as stalled at once."""

    alert_wait_s = 10.0
    hold_add: threading.Event | None = None
    hung: frozenset[str] = frozenset()

    def on_alert_thread(self, job: Callable[[], T], timeout: float = 10.0) -> T:
        return super().on_alert_thread(job, min(timeout, self.alert_wait_s))

    def add_silence(self, silence: Silence) -> None:
        if self.hold_add is not None:
            self._alert(self.hold_add.wait)  # queued before the silence's job
        super().add_silence(silence)

    def stall_after(self, target: ClusterTarget) -> float:
        return 0.0 if target.name in self.hung else super().stall_after(target)


class Client:
    """Requests straight into the ASGI app."""

    def __init__(self, runtime: ServerRuntime) -> None:
        exporter = Exporter(runtime, runtime.metrics)
        self.app = create_app(runtime, Auth(TOKEN, loopback=True), exporter.render)

    def request(self, method: str, path: str, **kw: Any) -> httpx.Response:
        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://api", timeout=20
            ) as c:
                return await c.request(method, path, **kw)

        return asyncio.run(go())

    def get(self, path: str, **kw: Any) -> httpx.Response:
        return self.request("GET", path, **kw)

    def post(self, path: str, **kw: Any) -> httpx.Response:
        return self.request("POST", path, headers={"Authorization": f"Bearer {TOKEN}"}, **kw)

    def delete(self, path: str) -> httpx.Response:
        return self.request("DELETE", path, headers={"Authorization": f"Bearer {TOKEN}"})


def start_runtime(home: Path, history: Path, names: tuple[str, ...]) -> Runtime:
    (home / "rules.yaml").write_text(RULES)
    endpoints = [
        {"name": name, "endpoints": f"127.0.0.1:{port}", "timeout_s": 1}
        for name, port in zip(names, free_ports(len(names)), strict=True)
    ]
    settings = {
        "interval": "1s",
        "rules": "rules.yaml",
        "channels": "none",
        "secrets": "memory",
        "history": {"sqlite": str(history)},
        "clusters": {"profiles": [], "endpoints": endpoints},
    }
    path = home / "serve.yaml"
    path.write_text(json.dumps(settings))  # JSON is YAML
    config = load_config(path)
    opened = open_history(config.history, lambda text: logging.getLogger("test").info(text))
    return Runtime(resolve(config), opened, ServerMetrics()).start()  # type: ignore[return-value]


def swept(client: Client, *names: str) -> None:
    def done() -> bool | None:
        clusters = client.get("/api/v1/clusters").json()["clusters"]
        return True if all(c["taken_at"] for c in clusters if c["name"] in names) else None

    poll(f"a first sweep of {', '.join(names)}", done)


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runtime]:
    home = tmp_path_factory.mktemp("runtime")
    rt = start_runtime(home, home / "history.sqlite", ("a", "b"))
    try:
        yield rt
    finally:
        rt.hung = frozenset()
        rt.stop()


@pytest.fixture
def client(runtime: Runtime) -> Client:
    return Client(runtime)


def samples(page: str) -> dict[tuple[str, str], float]:
    """(sample name, cluster label) -> value."""
    return {
        (s.name, s.labels.get("cluster", "")): s.value
        for family in text_string_to_metric_families(page)
        for s in family.samples
    }


# -- stalled sweeps ---------------------------------------------------------------------


def test_stalled_sweeps_are_stale_in_the_api_metrics_and_health(
    runtime: Runtime, client: Client
) -> None:
    swept(client, "a", "b")
    health = client.get("/health")
    assert health.status_code == 200 and health.json()["status"] == "ok"
    listed = {c["name"]: c for c in client.get("/api/v1/clusters").json()["clusters"]}
    assert listed["b"]["stale"] is False and 0 <= listed["b"]["last_sweep_age_s"] < 5

    runtime.hung = frozenset({"b"})  # b's sweeps stall; a's go on
    try:
        (b,) = [v for v in runtime.clusters() if v.name == "b"]
        assert b.stale and b.snapshot is not None and b.last_sweep_age_s is not None
        health = client.get("/health")
        assert health.status_code == 200 and health.json()["status"] == "degraded"
        assert health.json()["clusters_stalled"] == 1
        status = client.get("/api/v1/clusters/b/cluster/status")
        assert status.status_code == 200  # the last snapshot, said to be stale
        assert status.json()["stale"] is True and status.json()["last_sweep_age_s"] >= 0
        assert client.get("/api/v1/clusters/a/cluster/members").json()["stale"] is False
        page = samples(client.get("/metrics").text)
        assert page[("etcdmon_cluster_stale", "b")] == 1
        assert page[("etcdmon_cluster_stale", "a")] == 0
        assert ("etcdmon_cluster_last_sweep_age_seconds", "b") in page
        assert ("etcdmon_cluster_verdict", "a") in page
        assert not [k for k in page if k[1] == "b" and k[0] == "etcdmon_cluster_verdict"]
        assert not [k for k in page if k[1] == "b" and k[0] == "etcdmon_member_reachable"]

        runtime.hung = frozenset({"a", "b"})
        health = client.get("/health")
        assert health.status_code == 503 and health.json()["status"] == "stalled"
    finally:
        runtime.hung = frozenset()
    assert client.get("/health").json()["status"] == "ok"


# -- expected failures: 503 and 400, never 500 ------------------------------------------------


def test_a_busy_alert_thread_is_503_and_a_retried_silence_is_added_once(
    runtime: Runtime, client: Client
) -> None:
    gate, busy = threading.Event(), threading.Event()

    def block() -> None:
        busy.set()
        gate.wait(30)

    silence = {"id": "retry-1", "rule": "x", "duration": "1h", "reason": "maintenance"}
    runtime.alert_wait_s = 0.5
    runtime._alert(block)
    assert busy.wait(10)
    try:  # the alert thread is busy with something else
        ack = client.post("/api/v1/clusters/a/alerts/0123abcd/ack")
        assert ack.status_code == 503 and ack.headers["content-type"] == "application/problem+json"
        assert ack.headers["retry-after"] == "5"
        assert ack.json()["detail"].startswith("the server is busy; the change may still be")
        for r in (  # nothing changed yet: the silence's id could not even be looked up
            client.get("/api/v1/clusters/a/silences"),
            client.post("/api/v1/clusters/a/silences", json=silence),
        ):
            assert r.status_code == 503 and "ask again" in r.json()["detail"]
    finally:
        gate.set()

    runtime.alert_wait_s = 2.0  # the id's lookup answers in time; the add, held, does not
    runtime.hold_add = hold = threading.Event()  # the add itself is late, and done later
    try:
        late = client.post("/api/v1/clusters/a/silences", json=silence)
        assert late.status_code == 503 and late.headers["retry-after"] == "5"
        assert "may still be applied" in late.json()["detail"]
    finally:
        runtime.hold_add = None
        hold.set()
        runtime.alert_wait_s = 10.0

    again = client.post("/api/v1/clusters/a/silences", json=silence)
    assert again.status_code == 200, again.text  # the first, applied once the thread was free
    assert again.json()["id"] == "retry-1" and again.json()["reason"] == "maintenance"
    listed = client.get("/api/v1/clusters/a/silences").json()["silences"]
    assert [s["id"] for s in listed].count("retry-1") == 1
    other = client.post("/api/v1/clusters/a/silences", json={**silence, "reason": "other"})
    assert other.status_code == 409 and "new id" in other.json()["detail"]
    elsewhere = client.post("/api/v1/clusters/b/silences", json=silence)
    assert elsewhere.status_code == 409
    bad_id = client.post("/api/v1/clusters/a/silences", json={**silence, "id": "no spaces"})
    assert bad_id.status_code == 422
    fresh = client.post("/api/v1/clusters/a/silences", json={**silence, "id": "retry-2"})
    assert fresh.status_code == 201 and fresh.json()["id"] == "retry-2"
    assert client.delete("/api/v1/clusters/a/silences/retry-2").status_code == 200
    reused = client.post("/api/v1/clusters/a/silences", json={**silence, "id": "retry-2"})
    assert reused.status_code == 409 and "has ended" in reused.json()["detail"]
    assert client.post("/api/v1/clusters/a/alerts/0123abcd/ack").status_code == 404


def cursor(data: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "data",
    [
        {"until": 1.0, "skip": 0},  # no "from"
        {"from": None, "skip": 0},
        {"from": None, "until": 1.0},
        {"from": None, "until": 1.0, "skip": 0, "more": 1},
        {"from": None, "until": 1.0, "skip": True},
        {"from": None, "until": 1.0, "skip": -1},
        {"from": None, "until": 1.0, "skip": 2**63},
        {"from": "yesterday", "until": 1.0, "skip": 0},
        {"from": None, "until": float("nan"), "skip": 0},
        [1, 2, 3],
    ],
    ids=lambda d: json.dumps(d)[:40],
)
def test_a_cursor_missing_or_bending_a_key_is_400(client: Client, data: Any) -> None:
    r = client.get("/api/v1/clusters/a/alerts/history", params={"cursor": cursor(data)})
    assert r.status_code == 400 and r.headers["content-type"] == "application/problem+json"
    assert "cursor" in r.json()["detail"]


def test_a_cursor_this_server_gives_is_accepted(client: Client) -> None:
    good = cursor({"from": None, "until": time.time(), "skip": 0})
    r = client.get("/api/v1/clusters/a/alerts/history", params={"cursor": good})
    assert r.status_code == 200 and r.json()["next_cursor"] is None


def test_an_unreadable_history_is_503_with_its_sentence(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    history = tmp_path / "history.sqlite"
    history.write_bytes(b"not a database, only text " * 8)
    rt = start_runtime(tmp_path, history, ("a",))
    try:
        client = Client(rt)
        with caplog.at_level(logging.WARNING, logger="etcdmon_gui.server.api"):
            for path in ("/api/v1/clusters/a/metrics/history", "/api/v1/alerts/history"):
                r = client.get(path)
                assert r.status_code == 503, r.text
                assert r.headers["content-type"] == "application/problem+json"
                body = r.json()
                assert body["title"] == "History unavailable"
                assert str(history) in body["detail"] and "damaged" in body["detail"]
        api = [x for x in caplog.records if x.name == "etcdmon_gui.server.api"]
        assert [x.levelname for x in api] == ["WARNING", "WARNING"]
        assert all(x.exc_info is None for x in api)
    finally:
        rt.stop()
