"""Insert throughput of samples into the PostgreSQL history, against a throwaway
PostgreSQL this script starts (``tests/pg_support.start_postgres``: initdb in a
temporary folder, 127.0.0.1, a free port, fsync off) and removes at the end.

Prints:

* the writer's path (``PgHistoryWriter``: snapshots queued, ``snapshot_samples``, series
  ids, binary COPY, members, one transaction per batch) for sweeps of 20 clusters of 3
  members with every signal, as ``etcdmon serve`` would queue them: samples/s and
  sweeps/s, and the same with ``batch_s`` 0 (a transaction per snapshot);
* the COPY alone (``metrics.copy_samples`` of prebuilt rows, one transaction per
  100 000): what the database takes, Python's snapshot work left out.

fsync is off on the throwaway server: the figures are the CPU's, not a disk's.
Usage: ``python benchmarks/pg_insert.py [--sweeps N]``; about half a minute.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from etcdmon_gui.store.history.postgres import PgHistoryWriter  # noqa: E402
from etcdmon_gui.store.history.postgres import metrics as pg_metrics  # noqa: E402
from etcdmon_gui.store.history.postgres.connect import connect  # noqa: E402
from etcdmon_gui.store.history.postgres.schema import Partitions, day_of  # noqa: E402
from tests.builders import chart_member, chart_snapshot  # noqa: E402
from tests.pg_support import PgServer, start_postgres  # noqa: E402

CLUSTERS, MEMBERS = 20, 3
T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z


def writer_path(pg: PgServer, sweeps: int, batch_s: float) -> tuple[float, int]:
    """(seconds, samples) to write ``sweeps`` sweeps of every cluster."""
    settings = pg.create_database(f"w{round(batch_s * 1000)}")
    writer = PgHistoryWriter(
        settings, pg.password, batch_s=batch_s, maintain_every_s=3600, clock=lambda: T0
    ).start()
    assert writer.wait_ready(30) is None, writer.error
    snaps = [
        [
            chart_snapshot(
                T0 + i * 5,
                [chart_member(m, 1.0 + (i + c + m) % 9) for m in range(MEMBERS)],
                key=f"cluster-{c:02d}",
            )
            for c in range(CLUSTERS)
        ]
        for i in range(sweeps)
    ]
    # The first sweep makes the series ids and the members: left out of the timing.
    for snap in snaps[0]:
        writer.add_snapshot(snap, snap.key)
    assert writer.flush(60), writer.error
    before = writer.samples_written
    started = time.perf_counter()
    for sweep in snaps[1:]:
        for snap in sweep:
            writer.add_snapshot(snap, snap.key)
    assert writer.flush(600), writer.error
    elapsed = time.perf_counter() - started
    writer.close()
    return elapsed, writer.samples_written - before


def copy_only(pg: PgServer, rows: int) -> float:
    """Seconds to COPY ``rows`` prebuilt samples (100 000 per transaction)."""
    settings = pg.create_database("copy")
    PgHistoryWriter(settings, pg.password).start().close()  # the schema
    conn = connect(settings, pg.password)
    try:
        Partitions().ensure(conn, [day_of(round(T0 * 1000))])
        step = 100_000
        data = [(1 + i % 2000, round(T0 * 1000) + i // 2000 * 5000, float(i)) for i in range(rows)]
        started = time.perf_counter()
        for lo in range(0, rows, step):
            with conn.transaction():
                pg_metrics.copy_samples(conn, data[lo : lo + step])
        return time.perf_counter() - started
    finally:
        conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sweeps", type=int, default=60, help="sweeps of 20 clusters to write")
    args = parser.parse_args()
    pg = start_postgres()
    try:
        per_sweep = 0
        for batch_s in (1.0, 0.0):
            elapsed, samples = writer_path(pg, args.sweeps, batch_s)
            per_sweep = samples // max(1, args.sweeps - 1)
            print(
                f"writer, batch_s={batch_s:g}: {samples / elapsed:,.0f} samples/s"
                f" ({(args.sweeps - 1) / elapsed:,.1f} sweeps/s of {CLUSTERS} clusters x"
                f" {MEMBERS} members, {per_sweep:,} samples a sweep; {samples:,} in"
                f" {elapsed:.2f} s)",
                flush=True,
            )
        rows = 1_000_000
        elapsed = copy_only(pg, rows)
        print(f"COPY alone: {rows / elapsed:,.0f} samples/s ({rows:,} rows in {elapsed:.2f} s)")
        print(f"a serve watching {CLUSTERS} clusters at 5 s writes {per_sweep / 5:,.0f} samples/s")
    finally:
        pg.stop()


if __name__ == "__main__":
    main()
