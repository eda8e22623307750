"""Fetch-free parse cost of one etcd ``/metrics`` page: full parse vs filter + parse.

Reads the recorded pages in ``tests/fixtures/metrics`` and prints, per page, its size and
sample counts and the median wall time over ``--runs`` runs of:

* ``full``: ``prometheus_client`` parsing the whole page (every sample materialised);
* ``filter``: ``filter_page`` alone;
* ``filter+parse (all grpc)``: ``filter_page(keep_zero_grpc=True)`` then parsing;
* ``parse_page``: what the scraper does (filter, zero gRPC series dropped, parse,
  build the ``RawScrape``).

Usage: ``python benchmarks/metrics_parse.py [--runs N]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from etcdmon_gui.etcd.metrics_scrape import filter_page, parse_page  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "metrics"


def count_samples(text: str) -> int:
    return sum(len(family.samples) for family in text_string_to_metric_families(text))


def filter_then_parse_all(text: str) -> int:
    return count_samples(filter_page(text, keep_zero_grpc=True))


def median_ms(fn: Callable[[], object], runs: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50, help="runs per measurement")
    args = parser.parse_args()
    runs: int = args.runs

    print(f"median of {runs} runs, Python {sys.version.split()[0]}")
    header = (
        f"{'page':<20} {'bytes':>7} {'lines':>6} {'samples':>8} {'kept':>5} "
        f"{'full ms':>8} {'filter ms':>9} {'f+p all ms':>10} {'parse_page ms':>13} "
        f"{'speed-up':>8}"
    )
    print(header)
    print("-" * len(header))
    for path in sorted(FIXTURES.glob("etcd-*-a.txt")):
        text = path.read_text()
        samples = count_samples(text)
        kept = count_samples(filter_page(text))
        full = median_ms(partial(count_samples, text), runs)
        filt = median_ms(partial(filter_page, text), runs)
        all_grpc = median_ms(partial(filter_then_parse_all, text), runs)
        scrape = median_ms(partial(parse_page, text, 0.0), runs)
        print(
            f"{path.name:<20} {len(text.encode()):>7} {len(text.splitlines()):>6} "
            f"{samples:>8} {kept:>5} {full:>8.2f} {filt:>9.2f} {all_grpc:>10.2f} "
            f"{scrape:>13.2f} {full / scrape:>7.1f}x"
        )


if __name__ == "__main__":
    main()
