"""What ``etcdmon serve`` costs per watched cluster, and how many one core can watch.

1. CPU (% of one core) and RSS of one serve process watching ``--clusters`` (20) real
   3-member etcd sandboxes every 5 s, measured over ``--window`` (60 s) after
   ``--warmup`` (20 s), and whether the sweeps kept time (as below).
2. Capacity: serve pinned to one CPU (``os.sched_setaffinity``), the etcd members to
   the others, watching more and more clusters (``--steps``, default 20, 40, 60, 80,
   100, 120) every 5 s, until a step runs late: on time means that over the step's
   window no cluster's last finished sweep (``/health``'s ``last_sweep_age_s``, polled
   every 0.5 s) was older than the interval plus ``--late`` (1 s; the runtime sweeps
   at a fixed rate, so an on-time age stays under the interval) and at least 90 % of
   the sweeps due were made (the exporter's sweep duration histogram counts them).
   Prints the largest number of clusters on time. Above ``--clusters`` the sandboxes
   are watched several times each, under names of their own with their endpoints in
   another order (each order is another connection key, so another watched cluster
   with its own probe, scrapes, rules and history): serve's work is the same, etcd's
   grows, so the members' CPU is printed too.

The sweep durations come from the exporter's histogram. Usage:
``.venv/bin/python benchmarks/serve_scale.py [--clusters N] [--steps 20,40,...]
[--window S] [--warmup S] [--step-window S] [--no-capacity]``. Everything it starts
(sandboxes in /tmp, serve) is stopped at the end. Other processes on the machine skew
it: run it on a quiet one.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass

import psutil
from serve_support import Serve, pct, sandboxes

from etcdmon_gui.etcd.sandbox import Sandbox

INTERVAL_S = 5.0
POLL_S = 0.5


@dataclass
class Step:
    clusters: int
    cpu_percent: float
    rss_mib: float
    threads: int
    ages: list[float]  # /health's last sweep age of every cluster at every poll (s)
    sweeps_done: float  # sweeps made in the window / sweeps an on-time server makes
    sweep_p50_ms: float | None
    sweep_mean_ms: float | None
    etcd_cpu_percent: float
    load: float  # the machine's 1-minute load average at the end: others' work skews it

    def on_time(self, late_s: float) -> bool:
        return bool(self.ages) and max(self.ages) <= INTERVAL_S + late_s and self.sweeps_done >= 0.9

    def line(self, late_s: float) -> str:
        ages = self.ages or [float("nan")]
        verdict = "on time" if self.on_time(late_s) else "LATE"
        sweep = (
            ""
            if self.sweep_mean_ms is None
            else f"; sweep mean {self.sweep_mean_ms:.0f} ms (histogram P50 <= "
            f"{self.sweep_p50_ms:.0f} ms)"
        )
        return (
            f"{self.clusters:4d} clusters: serve CPU {self.cpu_percent:5.1f} % of one core, "
            f"RSS {self.rss_mib:.0f} MiB, {self.threads} threads; last sweep age p50 "
            f"{pct(ages, 0.5):.2f} s, p99 {pct(ages, 0.99):.2f} s, max {max(ages):.2f} s; "
            f"{100 * self.sweeps_done:.0f} % of the sweeps due{sweep}; etcd members' CPU "
            f"{self.etcd_cpu_percent:.0f} %; load average {self.load:.1f} -> {verdict}"
        )


def targets(pool: Sequence[Sandbox], n: int) -> dict[str, list[str]]:
    """``n`` watched clusters over ``pool``: each sandbox once, then again with its
    endpoints in another order (6 orders of 3 members), round robin."""
    orders = list(itertools.permutations(range(3)))
    if n > len(pool) * len(orders):
        raise SystemExit(f"{n} clusters need at least {-(-n // len(orders))} sandboxes")
    out: dict[str, list[str]] = {}
    for i in range(n):
        sandbox, order = pool[i % len(pool)], orders[i // len(pool)]
        out[f"c{i:03d}"] = [sandbox.endpoints[j] for j in order]
    return out


def _histogram(serve: Serve) -> tuple[dict[float, float], float, float]:
    """The sweep duration histogram summed over clusters: buckets, sum, count."""
    samples = serve.metrics()
    buckets: dict[float, float] = {}
    for labels, value in samples.get("etcdmon_sweep_duration_seconds_bucket", {}).items():
        le = float(dict(labels)["le"])
        buckets[le] = buckets.get(le, 0.0) + value
    total = sum(samples.get("etcdmon_sweep_duration_seconds_sum", {}).values())
    count = sum(samples.get("etcdmon_sweep_duration_seconds_count", {}).values())
    return buckets, total, count


def _etcd_cpu(members: list[psutil.Process]) -> float:
    total = 0.0
    for p in members:
        with contextlib.suppress(psutil.Error):
            total += sum(p.cpu_times()[:2])
    return total


def measure(
    pool: Sequence[Sandbox],
    n: int,
    *,
    warmup: float,
    window: float,
    cpu: int | None,
    members: list[psutil.Process],
) -> Step:
    with Serve(targets(pool, n), interval=f"{INTERVAL_S:g}s", cpu=cpu) as serve:
        proc = psutil.Process(serve.proc.pid)
        serve.wait_swept(n)
        time.sleep(warmup)  # connections up, histogram windows filling, imports done
        ages: list[float] = []
        buckets0, sum0, count0 = _histogram(serve)
        cpu0, etcd0, t0 = sum(proc.cpu_times()[:2]), _etcd_cpu(members), time.monotonic()
        rss = 0
        while time.monotonic() - t0 < window:
            health = serve.client.get(f"{serve.url}/health").json()
            ages += [c["last_sweep_age_s"] or 0.0 for c in health["clusters"]]
            rss = max(rss, proc.memory_info().rss)
            time.sleep(POLL_S)
        elapsed = time.monotonic() - t0
        cpu_percent = (sum(proc.cpu_times()[:2]) - cpu0) / elapsed * 100
        etcd_percent = (_etcd_cpu(members) - etcd0) / elapsed * 100
        buckets1, sum1, count1 = _histogram(serve)
        threads = proc.num_threads()
    swept = count1 - count0
    p50 = None
    if swept > 0:
        half = [le for le in sorted(buckets1) if buckets1[le] - buckets0.get(le, 0) >= swept / 2]
        p50 = half[0] * 1000 if half else None
    return Step(
        clusters=n,
        cpu_percent=cpu_percent,
        rss_mib=rss / 2**20,
        threads=threads,
        ages=ages,
        sweeps_done=swept / (n * elapsed / INTERVAL_S),
        sweep_p50_ms=p50,
        sweep_mean_ms=(sum1 - sum0) / swept * 1000 if swept > 0 else None,
        etcd_cpu_percent=etcd_percent,
        load=os.getloadavg()[0],
    )


def etcd_members() -> list[psutil.Process]:
    """The sandbox members this process started."""
    found = []
    for p in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            if any(arg.startswith("--name=") for arg in p.cmdline()):
                found.append(p)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clusters", type=int, default=20, help="sandboxes (3 members each)")
    parser.add_argument("--steps", default="20,40,60,80,100,120")
    parser.add_argument("--window", type=float, default=60.0)
    parser.add_argument("--warmup", type=float, default=20.0)
    parser.add_argument("--step-window", type=float, default=30.0)
    parser.add_argument("--late", type=float, default=1.0, help="seconds late that count")
    parser.add_argument("--no-capacity", action="store_true")
    args = parser.parse_args()
    cpus = sorted(os.sched_getaffinity(0))
    print(f"{len(cpus)} CPUs; {args.clusters} sandboxes of 3 members starting ...")
    t0 = time.monotonic()
    with sandboxes(args.clusters) as pool:
        members = etcd_members()
        print(
            f"{len(members)} etcd members ({pool[0].version}) up in {time.monotonic() - t0:.0f} s"
        )
        print(f"1. serve watching {args.clusters} clusters every {INTERVAL_S:g} s, any CPU:")
        step = measure(
            pool, args.clusters, warmup=args.warmup, window=args.window, cpu=None, members=members
        )
        print("  ", step.line(args.late))
        if args.no_capacity or len(cpus) < 2:
            return
        serve_cpu, etcd_cpus = cpus[-1], set(cpus[:-1])
        for p in members:
            p.cpu_affinity(sorted(etcd_cpus))
        print(f"2. serve pinned to CPU {serve_cpu}, etcd to CPU(s) {sorted(etcd_cpus)}:")
        best = 0
        for n in (int(s) for s in args.steps.split(",")):
            step = measure(
                pool,
                n,
                warmup=min(args.warmup, 15.0),
                window=args.step_window,
                cpu=serve_cpu,
                members=members,
            )
            print("  ", step.line(args.late))
            if not step.on_time(args.late):
                break
            best = n
        print(
            f"largest number of clusters watched on time at {INTERVAL_S:g} s on one core: "
            f"{best}"
            + (" (the largest step tried)" if best == int(args.steps.split(",")[-1]) else "")
        )


if __name__ == "__main__":
    main()
