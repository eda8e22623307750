"""What one health sweep costs, against real local clusters.

Prints, for clusters of 1, 3 and 5 members:
* sweep wall time (median, p95) next to the slowest member's own Status round trip in
  the same sweep (median): the sweep should cost little more than its slowest member;
* CPU milliseconds per sweep + scrape (process time, all threads, divided by sweeps);
* ``/metrics`` fetch and parse time per member (median);
and, for 3 members with one SIGSTOPped, the sweep wall time against the deadline.

Usage: ``python benchmarks/sweep.py [--sweeps N]``. Uses the etcd that ``find_etcd``
picks (``ETCDMON_ETCD_BIN`` to choose).
"""

from __future__ import annotations

import argparse
import statistics
import time

from etcdmon_gui.etcd.metrics_scrape import MetricsScraper, parse_page
from etcdmon_gui.etcd.probe import ClusterProbe
from etcdmon_gui.etcd.sandbox import Sandbox
from etcdmon_gui.model.connection import ConnectionConfig, parse_endpoints
from etcdmon_gui.monitor.cluster_monitor import ClusterMonitor


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def measure(size: int, sweeps: int) -> None:
    with Sandbox(size) as sandbox:
        config = ConnectionConfig(parse_endpoints(sandbox.endpoints[0]))
        with ClusterProbe(config) as probe:
            mon = ClusterMonitor(probe, config.key)
            for _ in range(3):
                mon.sweep()  # connections up, caches warm
            walls, slowest = [], []
            cpu0 = time.process_time()
            for _ in range(sweeps):
                t0 = time.perf_counter()
                snap = mon.sweep()
                walls.append((time.perf_counter() - t0) * 1000)
                slowest.append(max(m.rtt_ms or 0.0 for m in snap.members))
            cpu_ms = (time.process_time() - cpu0) * 1000 / sweeps
            assert all(m.reachable for m in snap.members)
        fetch, parse = [], []
        with MetricsScraper(timeout=2.0) as scraper:
            url = f"{sandbox.endpoints[0]}/metrics"
            for _ in range(sweeps):
                t0 = time.perf_counter()
                text = scraper.fetch_text(url)
                t1 = time.perf_counter()
                parse_page(text, t1)
                fetch.append((t1 - t0) * 1000)
                parse.append((time.perf_counter() - t1) * 1000)
        print(
            f"{size} member(s), etcd {sandbox.version}: sweep wall median "
            f"{statistics.median(walls):.1f} ms, p95 {pct(walls, 0.95):.1f} ms; slowest "
            f"member Status RTT median {statistics.median(slowest):.1f} ms; CPU "
            f"{cpu_ms:.1f} ms/sweep; /metrics fetch {statistics.median(fetch):.1f} ms, "
            f"parse {statistics.median(parse):.1f} ms per member"
        )


def measure_paused(timeout: float) -> None:
    with Sandbox(3) as sandbox:
        config = ConnectionConfig(parse_endpoints(sandbox.endpoints_arg), timeout_s=timeout)
        with ClusterProbe(config) as probe:
            mon = ClusterMonitor(probe, config.key)
            mon.sweep()
            sandbox.pause_member(2)
            walls = []
            try:
                for _ in range(5):
                    t0 = time.perf_counter()
                    mon.sweep()
                    walls.append(time.perf_counter() - t0)
            finally:
                sandbox.resume_member(2)
    print(
        f"3 members, one SIGSTOPped, deadline {timeout:g} s: sweep wall median "
        f"{statistics.median(walls):.3f} s, max {max(walls):.3f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sweeps", type=int, default=50)
    args = parser.parse_args()
    for size in (1, 3, 5):
        measure(size, args.sweeps)
    measure_paused(2.0)


if __name__ == "__main__":
    main()
