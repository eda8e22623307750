"""Who may ask what: the API's bearer-token rules in process (the served API is tested
end to end in tests/integration/test_serve.py). ``GET /health`` answers probes that
carry no token, with less, when the server listens beyond loopback."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from etcdmon_gui.server.api import Auth, create_app

TOKEN = "s3cret-token-value"


class Runtime:
    """The two answers these routes read from the runtime."""

    def health(self) -> dict[str, Any]:
        return {
            "status": "ok",
            "version": "0.1.0",
            "uptime_s": 3.0,
            "last_sweep_age_s": 0.5,
            "clusters_watched": 1,
            "clusters": [{"name": "prod-east"}],
        }

    def clusters(self) -> list[Any]:
        return []


class Client:
    """Requests straight into the ASGI app (httpx's ASGITransport): no socket."""

    def __init__(self, loopback: bool) -> None:
        self.app = create_app(Runtime(), Auth(TOKEN, loopback), lambda: (b"", "text/plain"))  # type: ignore[arg-type]

    def request(self, method: str, path: str, **kw: Any) -> httpx.Response:
        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://api") as c:
                return await c.request(method, path, **kw)

        return asyncio.run(go())

    def get(self, path: str, **kw: Any) -> httpx.Response:
        return self.request("GET", path, **kw)

    def delete(self, path: str, **kw: Any) -> httpx.Response:
        return self.request("DELETE", path, **kw)


def test_beyond_loopback_everything_but_health_needs_the_token() -> None:
    c = Client(loopback=False)
    r = c.get("/api/v1/clusters")
    assert r.status_code == 401 and r.headers["content-type"] == "application/problem+json"
    assert TOKEN not in r.text
    bad = c.get("/api/v1/clusters", headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401 and bad.json()["detail"] == "the bearer token is wrong"
    ok = c.get("/api/v1/clusters", headers={"Authorization": f"Bearer {TOKEN}"})
    assert ok.status_code == 200 and ok.json() == {"clusters": []}
    assert c.get("/metrics").status_code == 401


@pytest.mark.parametrize(
    ("loopback", "headers", "full"),
    [
        (False, {}, False),
        (False, {"Authorization": "Bearer nope"}, False),
        (False, {"Authorization": f"Bearer {TOKEN}"}, True),
        (True, {}, True),
    ],
)
def test_health_answers_probes_and_names_clusters_only_to_the_trusted(
    loopback: bool, headers: dict[str, str], full: bool
) -> None:
    r = Client(loopback).get("/health", headers=headers)
    assert r.status_code == 200 and r.json()["status"] == "ok"
    assert ("prod-east" in r.text) is full and ("version" in r.json()) is full


def test_changes_need_the_token_even_on_loopback() -> None:
    r = Client(loopback=True).delete("/api/v1/silences/x")
    assert r.status_code == 401
