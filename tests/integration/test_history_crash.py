"""Crash safety of the history: a writer killed with SIGKILL in the middle of its batches
leaves a file that opens, passes ``PRAGMA integrity_check`` and holds every batch it
reported committed, in full, and no part of the one it was writing; a new writer goes on
with the same file. Three kills in a row, on one file."""

from __future__ import annotations

import functools
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from etcdmon_gui.model.history import MetricsQuery
from etcdmon_gui.monitor.history_signals import snapshot_samples
from etcdmon_gui.store.history.reader import HistoryReader
from tests.builders import member, snap
from tests.processes import Lines

ROOT = Path(__file__).resolve().parents[2]
T0 = 1_699_999_200.0
PER_BATCH = 100  # snapshots of a 5-member cluster per batch, one second apart
COMMITTED = 4  # batches reported before the kill

# Writes numbered batches through a HistoryWriter until killed: batch b is PER_BATCH
# snapshots at base + b * PER_BATCH + i seconds, every member's raft index = b; after
# each flush (the batch committed) it prints b. The writer's clock is an hour before the
# data: maintenance runs (every 0.2 s, a kill may land in it) but has nothing to do.
CHILD = """
import dataclasses, sys
from pathlib import Path
from etcdmon_gui.store.history.writer import HistoryWriter
from tests.builders import member, snap

path, base, per_batch = Path(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
writer = HistoryWriter(path, clock=lambda: base - 3600, batch_s=30.0, maintain_every_s=0.2)
writer.start()
if writer.wait_ready() is not None:
    sys.exit(f"history: {writer.error}")
batch = 0
while True:
    batch += 1
    members = [dataclasses.replace(member(i), raft_index=batch) for i in range(1, 6)]
    for i in range(per_batch):
        writer.add_snapshot(snap(base + batch * per_batch + i, members), "crash")
    if not writer.flush(timeout=60):
        sys.exit(f"flush failed: {writer.error}")
    print(batch, flush=True)
"""


def per_snapshot() -> int:
    return len(snapshot_samples(snap(T0, [member(i) for i in range(1, 6)])))


def run_and_kill(path: Path, base: float) -> int:
    """Start a writer, let it report COMMITTED batches, SIGKILL it part of the way into
    the next; the last batch number it printed."""
    with subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path), str(base), str(PER_BATCH)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as child:
        try:
            out, err = Lines(child.stdout), Lines(child.stderr)
            out.wait_for(r"^1$", timeout=60)
            first = time.monotonic()
            out.wait_for(rf"^{COMMITTED}$", timeout=60)
            per_batch_s = (time.monotonic() - first) / (COMMITTED - 1)
            time.sleep(random.uniform(0.2, 0.8) * per_batch_s)  # inside the next batch
        finally:
            child.send_signal(signal.SIGKILL)  # no shutdown code runs
            child.wait(timeout=30)
        time.sleep(0.2)  # the readers take the last lines before the pipes close
    assert child.returncode == -signal.SIGKILL, err.lines
    printed = [int(line) for line in out.lines if line.strip()]
    assert printed == list(range(1, len(printed) + 1)), (printed, err.lines)
    return printed[-1]


def batches_in_file(db: sqlite3.Connection, base: float) -> dict[int, tuple[int, set[float]]]:
    """Per batch of one run: the samples kept, and the raft indexes they carry."""
    lo = round(base * 1000)
    width = PER_BATCH * 1000
    found: dict[int, tuple[int, set[float]]] = {}
    for batch, n in db.execute(
        "SELECT (ts - ?) / ?, count(*) FROM raw_samples WHERE ts >= ? AND ts < ? GROUP BY 1",
        (lo, width, lo, lo + 10_000_000),
    ):
        raft = db.execute(
            "SELECT DISTINCT value FROM raw_samples JOIN series ON series.id = raw_samples.series"
            " WHERE signal = 'raft_index' AND ts >= ? AND ts < ?",
            (lo + batch * width, lo + (batch + 1) * width),
        ).fetchall()
        found[batch] = (n, {v for (v,) in raft})
    return found


def test_a_killed_writer_loses_at_most_its_last_batch(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    full = PER_BATCH * per_snapshot()
    kept_before: dict[int, int] = {}
    for run in range(3):
        base = T0 + run * 10_000
        last = run_and_kill(path, base)
        assert Path(f"{path}-wal").exists()  # killed: nothing was checkpointed or closed

        db = sqlite3.connect(path)
        try:
            assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
            found = batches_in_file(db, base)
            # Every batch reported is there in full; the one being written is there in
            # full (committed, killed before it was printed) or not at all.
            assert set(range(1, last + 1)) <= set(found) <= set(range(1, last + 2)), found
            for batch, (n, raft) in found.items():
                assert n == full, (run, batch, n, full)
                assert raft == {float(batch)}
            # Earlier runs' batches are untouched.
            for prev, count in kept_before.items():
                lo = round((T0 + prev * 10_000) * 1000)
                (n,) = db.execute(
                    "SELECT count(*) FROM raw_samples WHERE ts >= ? AND ts < ?",
                    (lo, lo + 10_000_000),
                ).fetchone()
                assert n == count
            kept_before[run] = sum(n for n, _ in found.values())
        finally:
            db.close()

        # The app opens it as usual and reads what was kept.
        reader = HistoryReader(path, clock=functools.partial(float, base + 2000))
        try:
            q = MetricsQuery("c1", base, base + (last + 1) * PER_BATCH, signals=("raft_index",))
            series = reader.series(q)
            assert len(series) == 5
            assert {s.member for s in series} == {f"{i:x}" for i in range(1, 6)}
            assert all(len(s) >= last * PER_BATCH for s in series)
            assert {m.member for m in reader.members("c1")} == {f"{i:x}" for i in range(1, 6)}
        finally:
            reader.close()
