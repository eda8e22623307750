"""Two ``etcdmon serve`` processes keep their history in one real PostgreSQL database at
once; each answers its API from it, and the desktop's store reads both back."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from etcdmon_gui.etcd.sandbox import Sandbox, free_ports
from etcdmon_gui.model.history import MetricsQuery
from etcdmon_gui.store.history.postgres import PgHistoryReader
from tests.integration.test_serve import close, env_for, serve
from tests.pg_support import PgServer, postgres_server
from tests.processes import Lines, poll
from tests.support import find_binary


@pytest.fixture(scope="module")
def pg() -> Iterator[PgServer]:
    yield from postgres_server()


def test_two_servers_share_one_postgres_history(pg: PgServer, tmp_path: Path) -> None:
    settings = pg.create_database("etcdmon_serve")
    password_file = tmp_path / "pg-password"
    password_file.write_text(pg.password + "\n")
    password_file.chmod(0o600)
    procs = []
    with Sandbox(3, binary=find_binary("3.5")) as cluster:
        try:
            bases = []
            for i, name in enumerate(("east", "west")):
                (port,) = free_ports(1)
                config: dict[str, Any] = {
                    "port": port,
                    "interval": "1s",
                    "channels": "none",
                    "secrets": "memory",
                    "log_format": "json",
                    "clusters": {
                        "profiles": [],
                        "endpoints": [
                            {
                                "name": name,
                                "endpoints": cluster.endpoints[i : i + 1],
                                "timeout_s": 1,
                            }
                        ],
                    },
                    "history": {
                        "postgres": {
                            "host": settings.host,
                            "port": settings.port,
                            "dbname": settings.dbname,
                            "user": settings.user,
                            "sslmode": "disable",
                            "password_file": str(password_file),
                        }
                    },
                }
                path = tmp_path / f"{name}.yaml"
                path.write_text(yaml.safe_dump(config))
                proc = serve("--config", str(path), env=env_for(tmp_path / name))
                procs.append((proc, Lines(proc.stderr)))
                bases.append((name, f"http://127.0.0.1:{port}"))

            def samples(name: str, base: str) -> list[dict[str, Any]] | None:
                try:
                    r = httpx.get(
                        f"{base}/api/v1/clusters/{name}/metrics/history",
                        params={"signal": "db_size_bytes", "from": time.time() - 300},
                        timeout=5,
                    )
                except httpx.TransportError:
                    return None
                if r.status_code != 200:
                    return None
                found = r.json()["series"]
                return found if found and len(found[0]["ts"]) >= 2 else None

            keys = {}
            for name, base in bases:
                poll(
                    f"{name}'s samples read back from PostgreSQL",
                    lambda n=name, b=base: samples(n, b),
                )
                keys[name] = httpx.get(f"{base}/api/v1/clusters", timeout=5).json()["clusters"][0][
                    "key"
                ]
                health = httpx.get(f"{base}/health", timeout=5)
                assert health.status_code == 200 and health.json()["history"]["state"] == "ok"
                assert pg.password not in health.text
        finally:
            for proc, _ in procs:
                proc.send_signal(signal.SIGTERM)
            codes = [proc.wait(15) for proc, _ in procs]
            for proc, log in procs:
                close(proc)
                assert not any(pg.password in line for line in log.lines)
                assert not any('"level": "ERROR"' in line for line in log.lines), log.lines
    assert codes == [0, 0]
    reader = PgHistoryReader(settings, pg.password)  # what a desktop pointed at it reads
    try:
        assert set(keys.values()) <= {c.key for c in reader.clusters()}
        for key in keys.values():
            q = MetricsQuery(cluster=key, start=time.time() - 600, end=time.time())
            series = reader.series(q)
            assert any(s.signal == "db_size_bytes" and len(s) >= 2 for s in series)
    finally:
        reader.close()
