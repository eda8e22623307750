"""REST latency of ``etcdmon serve`` under concurrent clients.

A real ``etcdmon serve`` (sweeps every 5 s) watches a real 3-member etcd sandbox;
``--concurrency`` clients (50) send ``--requests`` GETs (5,000) of
``/api/v1/clusters/{name}/cluster/status`` over keep-alive connections. Prints p50 /
p90 / p99 / max latency, requests per second and serve's CPU, measured twice:

* with a Python client (one asyncio event loop, a keep-alive connection per client, a
  minimal HTTP/1.1 exchange on asyncio streams: httpx.AsyncClient's pool alone cost
  ~130 ms per request at this concurrency): each latency includes the client's own
  time, so the same client is also run against a minimal asyncio HTTP server answering
  the same bytes (in a process of its own): that is the client's floor;
* with ``wrk`` (Debian's ``wrk``; ``apt-get install wrk``) when it is installed: a C
  client, far cheaper per request, also run against the minimal server.

On a 2-core machine every client shares the cores with serve, and serve's single
uvicorn worker shares its process with the sweeps. Usage:
``.venv/bin/python benchmarks/serve_rest_latency.py [--requests N] [--concurrency C]
[--wrk-seconds S] [--no-wrk]``.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import re
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import psutil
from serve_support import Serve, etcd_binary, pct

from etcdmon_gui.etcd.sandbox import Sandbox

NAME = "bench"
PATH = f"/api/v1/clusters/{NAME}/cluster/status"


@dataclass
class Figures:
    latencies_ms: list[float]
    seconds: float
    errors: int
    serve_cpu_percent: float | None

    def line(self, who: str) -> str:
        lat = self.latencies_ms
        return (
            f"{who}: {len(lat)} requests, {len(lat) / self.seconds:,.0f} req/s; latency p50 "
            f"{pct(lat, 0.5):.1f} ms, p90 {pct(lat, 0.9):.1f} ms, p99 {pct(lat, 0.99):.1f} ms, "
            f"max {max(lat):.1f} ms; errors {self.errors}"
            + (
                ""
                if self.serve_cpu_percent is None
                else f"; serve CPU {self.serve_cpu_percent:.0f} % of one core"
            )
        )


async def _connection(host: str, port: int, request: bytes, jobs: list[int], out: Figures) -> None:
    """One keep-alive connection sending ``request`` while jobs are left: a minimal
    HTTP/1.1 client (status line, content-length), so the figures are the server's."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while jobs:
            jobs.pop()
            t0 = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))  # type: ignore[union-attr]
            await reader.readexactly(length)
            if head.startswith(b"HTTP/1.1 200"):
                out.latencies_ms.append((time.perf_counter() - t0) * 1000)
            else:
                out.errors += 1
    finally:
        writer.close()


async def _load(url: str, requests: int, concurrency: int) -> Figures:
    parts = urlsplit(url)
    request = f"GET {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\nAccept: */*\r\n\r\n".encode()
    out = Figures([], 0.0, 0, None)
    jobs = list(range(requests))
    t0 = time.perf_counter()
    await asyncio.gather(
        *(
            _connection(parts.hostname or "", parts.port or 80, request, jobs, out)
            for _ in range(concurrency)
        )
    )
    out.seconds = time.perf_counter() - t0
    return out


def python_client(
    url: str, requests: int, concurrency: int, proc: psutil.Process | None
) -> Figures:
    cpu0 = sum(proc.cpu_times()[:2]) if proc else 0.0
    figures = asyncio.run(_load(url, requests, concurrency))
    if proc:
        figures.serve_cpu_percent = (sum(proc.cpu_times()[:2]) - cpu0) / figures.seconds * 100
    return figures


def wrk(url: str, seconds: int, concurrency: int, proc: psutil.Process | None) -> str:
    cpu0 = sum(proc.cpu_times()[:2]) if proc else 0.0
    t0 = time.perf_counter()
    out = subprocess.run(
        ["wrk", "-t2", f"-c{concurrency}", f"-d{seconds}s", "--latency", url],
        capture_output=True,
        text=True,
        timeout=seconds + 30,
        check=True,
    ).stdout
    cpu = (sum(proc.cpu_times()[:2]) - cpu0) / (time.perf_counter() - t0) * 100 if proc else None
    dist = dict(re.findall(r"^\s+(\d+)%\s+(\S+)$", out, re.MULTILINE))
    rate = re.search(r"Requests/sec:\s+(\S+)", out)
    total = re.search(r"(\d+) requests in", out)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)", out)
    text = (
        f"{total.group(1) if total else '?'} requests, {rate.group(1) if rate else '?'} req/s; "
        f"latency p50 {dist.get('50')}, p90 {dist.get('90')}, p99 {dist.get('99')}; "
        f"non-2xx {errors.group(1) if errors else 0}"
    )
    if socket_errors:
        text += f"; socket errors {socket_errors.group(1)}"
    if cpu is not None:
        text += f"; serve CPU {cpu:.0f} % of one core"
    return text


def _floor_server(body: bytes, sock: socket.socket) -> None:
    """The least an HTTP server can do: the same bytes for every request, keep-alive."""
    head = (
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
        b"content-length: " + str(len(body)).encode() + b"\r\n\r\n"
    )

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while await reader.readuntil(b"\r\n\r\n"):
                writer.write(head + body)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def main() -> None:
        server = await asyncio.start_server(handle, sock=sock, backlog=512)
        await server.serve_forever()

    asyncio.run(main())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--wrk-seconds", type=int, default=10)
    parser.add_argument("--no-wrk", action="store_true", help="only the Python client")
    args = parser.parse_args()
    use_wrk = not args.no_wrk and shutil.which("wrk") is not None
    if not args.no_wrk and not use_wrk:
        print("wrk not found (apt-get install wrk): Python client only")

    with (
        Sandbox(3, binary=etcd_binary()) as etcd,
        Serve({NAME: etcd.endpoints}, interval="5s") as serve,
    ):
        url = serve.url + PATH
        deadline = time.monotonic() + 30
        while (response := serve.client.get(url)).status_code != 200:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{PATH} still answers {response.status_code}")
            time.sleep(0.2)
        body = response.content
        proc = psutil.Process(serve.proc.pid)
        print(
            f"etcdmon serve watching 1 cluster of 3 members (etcd {etcd.version}), sweeps every "
            f"5 s; GET {PATH} ({len(body)} bytes), {args.concurrency} concurrent clients, "
            f"{psutil.cpu_count()} CPUs"
        )

        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        floor_url = f"http://127.0.0.1:{sock.getsockname()[1]}{PATH}"
        floor = multiprocessing.get_context("fork").Process(
            target=_floor_server, args=(body, sock), daemon=True
        )
        floor.start()
        sock.close()
        try:
            python_client(url, 500, args.concurrency, None)  # warm-up
            print(python_client(url, args.requests, args.concurrency, proc).line("python/serve"))
            floor_figures = python_client(floor_url, args.requests, args.concurrency, None)
            print(floor_figures.line("python/floor (the client's own cost)"))
            if use_wrk:
                print("wrk/serve:", wrk(url, args.wrk_seconds, args.concurrency, proc))
                print("wrk/floor:", wrk(floor_url, max(3, args.wrk_seconds // 3), 50, None))
        finally:
            floor.terminate()
            floor.join(timeout=5)


if __name__ == "__main__":
    main()
