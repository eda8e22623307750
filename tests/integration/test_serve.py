"""``etcdmon serve`` as a real process against a real 3-member etcd 3.5 cluster: every
REST endpoint, the token rules, problem+json, SIGHUP reloads, SIGTERM, JSON logs.

One sandbox and one server for the module (1 s sweeps); the tests that change the
server (reloads) come last, in file order. The server's SIGTERM is checked in the
module fixture's teardown (clean exit, every log line JSON), so any test or ``-k``
selection runs against a live server. A few short-lived servers check what is
refused at start-up.
"""

from __future__ import annotations

import json
import os
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from etcdmon_gui.bench.report import result_json
from etcdmon_gui.etcd.sandbox import Sandbox, free_ports
from etcdmon_gui.model.alerts import Alert, AlertEvent, AlertState, EventKind, Severity
from etcdmon_gui.model.bench import BenchResult, BenchSpec
from etcdmon_gui.reports.snapshot_json import snapshot_json
from etcdmon_gui.server.config import load_config
from etcdmon_gui.store.history import AlertHistory
from tests.pki import Pki
from tests.processes import Lines, poll
from tests.support import find_binary, monitor_for

TOKEN = "serve-test-token-0123456789abcdef"
EXAMPLE = Path(__file__).parents[2] / "packaging" / "serve" / "etcdmon-serve.example.yaml"
RULES = """\
schema_version: 1
rules:
  - name: testQuorumHeld
    scope: cluster
    signal: quorum_lost
    op: "=="
    threshold: 0
    for: 0s
    severity: info
    summary: "{cluster} holds its quorum (a test rule that always fires)"
"""


def env_for(home: Path) -> dict[str, str]:
    env = {**os.environ}
    for name in ("CONFIG", "DATA", "STATE", "CACHE"):
        (home / name.lower()).mkdir(parents=True, exist_ok=True)
        env[f"XDG_{name}_HOME"] = str(home / name.lower())
    env.pop("ETCDMON_PROFILES", None)
    return env


def serve(*argv: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "etcdmon_gui.cli", "serve", *argv],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def close(proc: subprocess.Popen[str]) -> None:
    """Kill ``proc`` if it still runs, and close its pipe (its reader saw the end)."""
    if proc.poll() is None:
        proc.kill()
    proc.wait(10)
    if proc.stderr is not None:
        proc.stderr.close()


@dataclass
class Server:
    proc: subprocess.Popen[str]
    log: Lines
    base: str
    config: Path
    history: Path
    cluster: Sandbox
    settings: dict[str, Any]

    def get(self, path: str, **kw: Any) -> httpx.Response:
        return httpx.get(self.base + path, timeout=10, **kw)

    def call(self, method: str, path: str, token: str | None = TOKEN, **kw: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.request(method, self.base + path, headers=headers, timeout=10, **kw)

    def json_lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in list(self.log.lines)]

    def write_config(self, text: str) -> None:
        self.config.write_text(text)


@pytest.fixture(scope="module")
def cluster() -> Iterator[Sandbox]:
    with Sandbox(3, binary=find_binary("3.5")) as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def server(cluster: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    home = tmp_path_factory.mktemp("serve")
    token = home / "token"
    token.write_text(TOKEN + "\n")
    token.chmod(0o600)
    rules = home / "rules.yaml"
    rules.write_text(RULES)
    history = home / "history.sqlite"
    settings: dict[str, Any] = {
        "port": free_ports(1)[0],
        "token_file": "token",  # relative: to the configuration's folder
        "log_format": "json",
        "interval": "1s",
        "rules": "rules.yaml",
        "channels": "none",
        "secrets": "memory",
        "history": {"sqlite": str(history)},
        "clusters": {
            "profiles": [],
            "endpoints": [{"name": "main", "endpoints": cluster.endpoints, "timeout_s": 1}],
        },
    }
    config = home / "serve.yaml"
    config.write_text(yaml.safe_dump(settings))
    proc = serve("--config", str(config), env=env_for(home))
    srv = Server(
        proc,
        Lines(proc.stderr),
        f"http://127.0.0.1:{settings['port']}",
        config,
        history,
        cluster,
        settings,
    )

    def swept() -> bool | None:
        assert proc.poll() is None, f"serve exited: {srv.log.lines}"
        try:
            body = srv.get("/api/v1/clusters").json()
        except httpx.TransportError:
            return None
        return True if body["clusters"][0]["verdict"] == "healthy" else None

    try:
        poll("a first healthy sweep of the cluster", swept)
        yield srv
        stops_cleanly_and_logs_json(srv)
    finally:
        close(proc)


def stops_cleanly_and_logs_json(server: Server) -> None:
    """SIGTERM: exit 0 within 8 s, every log line JSON, no token, no unexpected ERROR."""
    assert server.proc.poll() is None, f"serve exited early: {server.log.lines[-20:]}"
    started = time.monotonic()
    server.proc.send_signal(signal.SIGTERM)
    assert server.proc.wait(10) == 0
    assert time.monotonic() - started < 8
    server.log.wait_for('"message": "stopped"', timeout=5)  # the runtime's last line
    lines = server.json_lines()
    assert {"time", "level", "logger", "thread", "message", "exception"} <= set(lines[0])
    assert any(x["logger"] == "uvicorn.access" for x in lines)
    assert all(x["time"].endswith("Z") for x in lines)
    assert not any(TOKEN in json.dumps(x) for x in lines)
    errors = [x for x in lines if x["level"] == "ERROR" and "in force stays" not in x["message"]]
    assert not errors


# -- the server itself --------------------------------------------------------------------


def test_health_and_cluster_list(server: Server) -> None:
    r = server.get("/health")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok" and body["clusters_watched"] == 1
    assert body["clusters_stalled"] == 0 and body["clusters"][0]["stalled"] is False
    assert body["last_sweep_age_s"] < 5 and body["uptime_s"] > 0 and body["version"]
    assert body["history"]["state"] == "ok" and body["history"]["error"] is None
    clusters = server.get("/api/v1/clusters").json()["clusters"]
    assert [(c["name"], c["verdict"], c["production"], c["stale"]) for c in clusters] == [
        ("main", "healthy", False, False)
    ]
    assert 0 <= clusters[0]["last_sweep_age_s"] < 5
    assert server.get("/openapi.json").json()["paths"]["/api/v1/clusters/{name}/cluster/status"]


def test_prometheus_metrics_page(server: Server) -> None:
    r = server.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    assert 'etcdmon_cluster_quorum{cluster="main"} 1.0' in r.text
    assert 'etcdmon_cluster_stale{cluster="main"} 0.0' in r.text
    assert 'etcdmon_cluster_last_sweep_age_seconds{cluster="main"}' in r.text
    assert "etcdmon_sweep_duration_seconds_bucket" in r.text


# -- the cluster's state --------------------------------------------------------------------


def test_status_is_the_status_json_model(server: Server) -> None:
    monitor, probe = monitor_for(server.cluster.endpoints)
    with probe:
        expected = snapshot_json(monitor.sweep())
    body = server.get("/api/v1/clusters/main/cluster/status").json()
    assert set(body) == {*expected, "name", "stale", "last_sweep_age_s"}
    assert body["stale"] is False and body["last_sweep_age_s"] < 5
    assert body["verdict"] == "healthy" and body["voters"] == 3 and body["has_quorum"]
    assert body["cluster_id"] == expected["cluster_id"]
    assert {m["id"] for m in body["members"]} == {m["id"] for m in expected["members"]}
    assert set(body["members"][0]) == set(expected["members"][0])
    # the unprefixed form is the first cluster's
    first = server.get("/api/v1/cluster/status").json()
    assert first["cluster_id"] == body["cluster_id"] and first["name"] == "main"


def test_leader_and_members(server: Server) -> None:
    leader = server.get("/api/v1/clusters/main/cluster/leader").json()
    assert leader["leader"]["is_leader"] and leader["leader"]["id"] == leader["leader_id"]
    members = server.get("/api/v1/cluster/members").json()["members"]
    assert len(members) == 3 and sum(m["is_leader"] for m in members) == 1
    assert all(m["reachable"] for m in members)
    assert {"id", "name", "endpoint", "raft_index", "metrics", "db_size"} <= set(members[0])


def test_current_metrics_and_latency(server: Server) -> None:
    current = server.get("/api/v1/clusters/main/metrics/current").json()
    assert len(current["members"]) == 3
    assert all("db_size_bytes" in m["signals"] for m in current["members"])
    assert current["cluster"]["voters"] == 3

    def quantiles() -> dict[str, Any] | None:
        body = server.get("/api/v1/metrics/latency").json()
        ok = all(m["probe_s"] and m["wal_fsync_s"] for m in body["members"])
        return body if ok else None

    body = poll("probe and fsync quantiles for every member", quantiles)
    for m in body["members"]:
        assert set(m["probe_s"]) == {"p50", "p95", "p99"}
        assert 0 < m["probe_s"]["p50"] <= m["probe_s"]["p99"] < 5


def test_metrics_history(server: Server) -> None:
    members = server.get("/api/v1/cluster/members").json()["members"]
    name = members[0]["name"]

    def series() -> list[dict[str, Any]] | None:
        r = server.get(
            "/api/v1/clusters/main/metrics/history",
            params={"signal": "db_size_bytes", "member": name, "from": time.time() - 600},
        )
        assert r.status_code == 200, r.text
        found = r.json()["series"]
        return found if found and len(found[0]["ts"]) >= 2 else None

    found = poll("two stored samples of db_size_bytes", series)
    assert [(s["member"], s["signal"]) for s in found] == [(members[0]["id"], "db_size_bytes")]
    assert all(v > 0 for v in found[0]["avg"]) and found[0]["ts"] == sorted(found[0]["ts"])
    # RFC 3339 works as well as UNIX seconds, and a step rolls up
    r = server.get(
        "/api/v1/metrics/history",
        params={"signal": "db_size_bytes", "from": "2020-01-01T00:00:00Z", "step": "1h"},
    )
    assert r.status_code == 400  # more than 400 days
    r = server.get("/api/v1/metrics/history", params={"from": "2099-01-01T00:00:00+00:00"})
    assert r.status_code == 400 and "before" in r.json()["detail"]


# -- alerts and silences ------------------------------------------------------------------


def firing(server: Server) -> dict[str, Any]:
    def found() -> dict[str, Any] | None:
        alerts = server.get("/api/v1/clusters/main/alerts").json()["alerts"]
        return next((a for a in alerts if a["rule"] == "testQuorumHeld"), None)

    return poll("the always-firing test rule", found)


def test_active_alerts_and_acknowledge(server: Server) -> None:
    alert = firing(server)
    assert alert["state"] == "firing" and alert["cluster"] == "main"
    assert alert["first_seen"] <= alert["last_seen"] and not alert["acknowledged"]
    path = f"/api/v1/clusters/main/alerts/{alert['fingerprint']}/ack"
    refused = server.call("POST", path, token=None)
    assert refused.status_code == 401
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["status"] == 401 and "Bearer" in refused.json()["detail"]
    wrong = server.call("POST", path, token="not-the-token-at-all")
    assert wrong.status_code == 401 and TOKEN not in wrong.text
    done = server.call("POST", path)
    assert done.status_code == 200 and done.json()["acknowledged"]
    assert firing(server)["acknowledged"]
    missing = server.call("POST", "/api/v1/alerts/0123456789abcdef/ack")
    assert missing.status_code == 404 and missing.json()["instance"].endswith("/ack")


def test_silences(server: Server) -> None:
    alert = firing(server)
    body = {"id": "serve-test-1", "rule": "testQuorumHeld", "duration": "1h", "reason": "a test"}
    assert server.call("POST", "/api/v1/silences", token=None, json=body).status_code == 401
    r = server.call("POST", "/api/v1/clusters/main/silences", json=body)
    assert r.status_code == 201, r.text
    silence = r.json()
    retried = server.call("POST", "/api/v1/clusters/main/silences", json=body)
    assert retried.status_code == 200 and retried.json()["id"] == silence["id"] == body["id"]
    assert silence["active"] and silence["cluster"] == "main" and silence["rule"] == body["rule"]
    poll(
        "the alert muted by the silence",
        lambda: True if firing(server)["silenced_by"] == silence["id"] else None,
    )
    listed = server.get("/api/v1/clusters/main/silences").json()["silences"]
    assert [s["id"] for s in listed].count(silence["id"]) == 1
    ended = server.call("DELETE", f"/api/v1/clusters/main/silences/{silence['id']}")
    assert ended.status_code == 200 and ended.json()["expired"]
    assert server.call("DELETE", "/api/v1/silences/nope").status_code == 404
    bad = server.call("POST", "/api/v1/silences", json={"reason": "no end"})
    assert bad.status_code == 400 and "duration" in bad.json()["detail"]
    assert alert["fingerprint"]


def test_alert_history_pages(server: Server) -> None:
    key = server.get("/api/v1/clusters").json()["clusters"][0]["key"]
    base = time.time() - 100
    events = [
        AlertEvent(
            EventKind.FIRING,
            Alert(
                f"fp{i}",
                f"pagedRule{i}",
                Severity.INFO,
                key,
                "main",
                None,
                AlertState.FIRING,
                1.0,
                "paged",
                base + i // 2,
            ),
            base + i // 2,  # pairs share a time: the cursor must not lose or repeat them
        )
        for i in range(7)
    ]
    history = AlertHistory(server.history)
    history.record(events)
    history.close()
    seen: list[tuple[float, str]] = []
    cursor = None
    params: dict[str, Any] = {"from": base - 1, "to": base + 10, "limit": 2}
    for _ in range(10):
        r = server.get(
            "/api/v1/clusters/main/alerts/history",
            params={**params, "cursor": cursor} if cursor else params,
        )
        assert r.status_code == 200, r.text
        page = r.json()
        assert len(page["events"]) <= 2
        seen += [(e["at"], e["alert"]["rule"]) for e in page["events"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen, key=lambda x: x[1]) == [(base + i // 2, f"pagedRule{i}") for i in range(7)]
    assert [at for at, _ in seen] == sorted((at for at, _ in seen), reverse=True)
    bad = server.get("/api/v1/alerts/history", params={"cursor": "garbage!"})
    assert bad.status_code == 400 and bad.headers["content-type"] == "application/problem+json"


# -- benchmarks -----------------------------------------------------------------------------


def test_benchmark_run(server: Server) -> None:
    spec = {"workload": "put", "total": 300, "clients": 4, "prefix": "/serve-bench/"}
    assert (
        server.call("POST", "/api/v1/performance/benchmark", token=None, json=spec).status_code
        == 401
    )
    r = server.call("POST", "/api/v1/clusters/main/performance/benchmark", json=spec)
    assert r.status_code == 202, r.text
    run = r.json()
    busy = server.call("POST", "/api/v1/performance/benchmark", json=spec)
    assert busy.status_code in (202, 409)  # 409 while the first runs; it may be done already

    def done() -> dict[str, Any] | None:
        body = server.get(run["href"]).json()
        assert body["state"] != "failed", body
        return body if body["state"] == "done" else None

    body = poll("the benchmark's report", done)
    report = body["report"]
    assert report["total"] == 300 and report["errors"] == 0 and report["workload"] == "put"
    empty = BenchResult("k", BenchSpec(), 0.0, 0, 0, (), 0.0, 0.0, None, (), ())
    assert set(report) == set(result_json(empty))  # bench --json's model
    assert server.get(f"/api/v1/clusters/main/performance/benchmark/{'0' * 16}").status_code == 404
    invalid = server.call("POST", "/api/v1/performance/benchmark", json={"clients": 0})
    assert invalid.status_code == 422 and "clients" in invalid.json()["detail"]


# -- bad requests ---------------------------------------------------------------------------


def test_problems_for_bad_requests(server: Server) -> None:
    r = server.get("/api/v1/clusters/nope/cluster/status")
    assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert set(body) >= {"type", "title", "status", "detail", "instance"}
    assert "main" in body["detail"]
    r = server.get("/api/v1/metrics/history", params={"from": "yesterday"})
    assert r.status_code == 400 and "RFC 3339" in r.json()["detail"]
    r = server.get("/api/v1/metrics/history", params={"signal": "db_sise_bytes"})
    assert r.status_code == 400 and "db_size_bytes" in r.json()["detail"]
    r = server.get("/api/v1/metrics/history", params={"member": "no-such-member"})
    assert r.status_code == 400
    r = server.get("/api/v1/alerts/history", params={"limit": 0})
    assert r.status_code == 422 and r.json()["errors"][0]["where"] == "query.limit"
    r = server.get("/no/such/path")
    assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"


# -- reloads ---------------------------------------------------------------------------------


def names(server: Server) -> list[str]:
    return [c["name"] for c in server.get("/api/v1/clusters").json()["clusters"]]


def hup_and_wait(server: Server, pattern: str) -> None:
    before = len(server.log.lines)
    server.proc.send_signal(signal.SIGHUP)
    poll(
        f"a log line matching {pattern!r} after SIGHUP",
        lambda: True if any(pattern in line for line in server.log.lines[before:]) else None,
    )


def test_sighup_with_a_malformed_config_keeps_the_old_one(server: Server) -> None:
    good = server.config.read_text()
    server.write_config(good + "interval: [oops\n")
    hup_and_wait(server, "the one in force stays")
    assert names(server) == ["main"]
    server.write_config(good + "intervall: 2s\n")
    hup_and_wait(server, "intervall")
    line = next(x for x in server.json_lines() if "intervall" in x["message"])
    assert str(server.config) in line["message"] and "line" in line["message"]
    assert line["level"] == "ERROR"
    server.write_config(good)


def test_sighup_adds_and_removes_a_cluster(server: Server) -> None:
    settings = json.loads(json.dumps(server.settings))
    settings["clusters"]["endpoints"].append(
        {"name": "second", "endpoints": server.cluster.endpoints[1:2], "timeout_s": 1}
    )
    server.write_config(yaml.safe_dump(settings))
    hup_and_wait(server, "configuration reloaded")
    assert names(server) == ["main", "second"]
    poll(
        "a sweep of the added cluster",
        lambda: (
            True
            if server.get("/api/v1/clusters/second/cluster/status").status_code == 200
            else None
        ),
    )
    server.write_config(yaml.safe_dump(server.settings))
    hup_and_wait(server, "removed: second")
    assert names(server) == ["main"]
    assert server.get("/api/v1/clusters/second/alerts").status_code == 404


# -- what is refused at start-up -----------------------------------------------------------


def test_beyond_loopback_needs_a_token(tmp_path: Path) -> None:
    proc = serve("--host", "0.0.0.0", "--endpoints", "127.0.0.1:1", env=env_for(tmp_path))
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 2 and "--token-file" in err and "0.0.0.0" in err


def test_a_token_others_can_read_is_refused(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text(TOKEN)
    token.chmod(0o644)
    proc = serve("--token-file", str(token), "--endpoints", "127.0.0.1:1", env=env_for(tmp_path))
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 2 and "chmod 600" in err and TOKEN not in err


def test_bad_tls_files_are_refused(tmp_path: Path) -> None:
    pki = Pki.create(tmp_path)
    argv = ["--tls-cert", str(tmp_path / "server.pem"), "--tls-key", str(tmp_path / "ca.pem")]
    proc = serve(*argv, "--endpoints", "127.0.0.1:1", env=env_for(tmp_path))
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 2 and "cannot be used for HTTPS" in err and pki


def test_https_without_a_token_refuses_changes(tmp_path: Path) -> None:
    Pki.create(tmp_path)
    (port,) = free_ports(1)
    config = tmp_path / "serve.yaml"
    config.write_text(
        f"port: {port}\nsecrets: memory\nchannels: none\nclusters: {{profiles: []}}\n"
        f"history: {{sqlite: {tmp_path / 'h.sqlite'}}}\n"
        "tls_cert: server.pem\ntls_key: server-key.pem\n"
    )
    proc = serve("--config", str(config), env=env_for(tmp_path))
    log = Lines(proc.stderr)
    try:
        base = f"https://127.0.0.1:{port}"
        ca = ssl.create_default_context(cafile=str(tmp_path / "ca.pem"))
        with httpx.Client(verify=ca, timeout=5) as client:

            def up() -> httpx.Response | None:
                assert proc.poll() is None, log.lines
                try:
                    return client.get(base + "/health")
                except httpx.TransportError:
                    return None

            health = poll("the server answering over HTTPS", up)
            assert health.status_code == 503 and health.json()["clusters_watched"] == 0
            r = client.post(base + "/api/v1/silences", json={"reason": "x", "duration": "1h"})
            assert r.status_code == 403 and "--token-file" in r.json()["detail"]
            assert client.get(base + "/api/v1/clusters").json() == {"clusters": []}
        with pytest.raises(httpx.TransportError):
            httpx.get(f"http://127.0.0.1:{port}/health", timeout=5)  # no plain HTTP
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
        log.wait_for("stopped$", timeout=5)
        close(proc)


def test_the_example_configuration_is_valid() -> None:
    config = load_config(EXAMPLE)
    assert config.port == 9479 and config.host == "127.0.0.1" and config.interval == 5


def test_a_reload_that_drops_the_token_beyond_loopback_is_refused(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text(TOKEN + "\n")
    token.chmod(0o600)
    (port,) = free_ports(1)
    common = (
        f"port: {port}\nsecrets: memory\nchannels: none\nlog_format: json\n"
        f"history: {{sqlite: {tmp_path / 'h.sqlite'}}}\n"
        "clusters: {profiles: [], endpoints: [{name: closed, endpoints: '127.0.0.1:1'}]}\n"
    )
    config = tmp_path / "serve.yaml"
    config.write_text(common + "host: 0.0.0.0\ntoken_file: token\n")
    proc = serve("--config", str(config), env=env_for(tmp_path))
    log = Lines(proc.stderr)
    base = f"http://127.0.0.1:{port}"
    auth = {"Authorization": f"Bearer {TOKEN}"}
    try:

        def up() -> httpx.Response | None:
            assert proc.poll() is None, log.lines
            try:
                return httpx.get(base + "/api/v1/clusters", headers=auth, timeout=5)
            except httpx.TransportError:
                return None

        assert poll("the server answering", up).status_code == 200
        # the new file drops the token and moves to loopback, which applies at a restart only
        config.write_text(common + "host: 127.0.0.1\n")
        before = len(log.lines)
        proc.send_signal(signal.SIGHUP)
        poll(
            "the reload refused",
            lambda: True if any("in force stays" in x for x in log.lines[before:]) else None,
        )
        refusal = next(json.loads(x) for x in log.lines[before:] if "in force stays" in x)
        assert refusal["level"] == "ERROR" and "0.0.0.0" in refusal["message"]
        assert "token_file" in refusal["message"]
        assert httpx.get(base + "/api/v1/clusters", headers=auth, timeout=5).status_code == 200
        assert httpx.get(base + "/api/v1/clusters", timeout=5).status_code == 401
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
        close(proc)
    assert not any(TOKEN in line for line in log.lines)
