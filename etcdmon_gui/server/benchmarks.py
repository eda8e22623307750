"""Benchmarks the REST API starts: ``bench.engine`` with ``etcdmon bench``'s safety
rules, one run per cluster, each kept in memory (the latest ``KEEP`` runs) for its
progress and report, and in the history like the CLI's runs.

The production guard: a cluster tagged production is refused unless the server's
configuration says ``allow_production_benchmarks: true``, and even then the request
must name the cluster in ``confirm`` (what ``--confirm NAME`` is on the command line).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from etcdmon_gui.bench.control import BenchError
from etcdmon_gui.bench.engine import Benchmark
from etcdmon_gui.bench.report import result_json, run_record
from etcdmon_gui.bugs import report_bug
from etcdmon_gui.etcd import busy
from etcdmon_gui.model.bench import BenchProgress, BenchResult, BenchSpec
from etcdmon_gui.model.errors import EtcdError
from etcdmon_gui.model.safety import BENCHMARK_RISK
from etcdmon_gui.server.clusters import ClusterTarget
from etcdmon_gui.server.history import HistorySink

log = logging.getLogger(__name__)

KEEP = 50  # finished runs kept for GET


class BenchRefused(Exception):
    """The run may not start: ``status`` (403, 409, 422) and the reason."""

    def __init__(self, status: int, title: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail = status, title, detail


@dataclass
class _Run:
    id: str
    cluster: str  # name
    key: str
    bench: Benchmark
    created_at: float
    state: str = "running"  # running, done, failed
    progress: BenchProgress | None = None
    result: BenchResult | None = None
    error: str | None = None
    thread: threading.Thread | None = field(default=None, repr=False)


def progress_json(p: BenchProgress | None) -> dict[str, Any] | None:
    if p is None:
        return None
    return {
        "phase": p.phase.value,
        "done": p.done,
        "total": p.total,
        "fraction": p.fraction,
        "elapsed_s": p.elapsed_s,
        "duration_s": p.duration_s,
        "errors": p.errors,
        "requests_per_s": p.requests_per_s,
        "latency_p99_s": p.latency_p99_s,
        "eta_s": p.eta_s,
        "message": p.message,
    }


class BenchmarkRuns:
    """Thread-safe: the API starts and reads runs from its threadpool."""

    def __init__(self, history: HistorySink | None, allow_production: bool) -> None:
        self.allow_production = allow_production
        self._history = history
        self._lock = threading.Lock()
        self._runs: OrderedDict[str, _Run] = OrderedDict()
        self._closed = False

    def start(
        self, target: ClusterTarget, cluster_id: int | None, spec: BenchSpec, confirm: str | None
    ) -> str:
        """Start a run on ``target``; its id. Raises ``BenchRefused``."""
        if target.production:
            if not self.allow_production:
                raise BenchRefused(
                    403,
                    "Production cluster",
                    f"cluster {target.name!r} is tagged production: {BENCHMARK_RISK}. This "
                    "server refuses it unless its configuration says "
                    "allow_production_benchmarks: true",
                )
            if confirm != target.name:
                raise BenchRefused(
                    403,
                    "Confirmation required",
                    f"cluster {target.name!r} is tagged production: {BENCHMARK_RISK}. Give "
                    f'its name in "confirm" to go ahead',
                )
        try:
            bench = Benchmark(target.config, spec, on_progress=lambda p: self._progress(run_id, p))
        except (BenchError, ValueError) as exc:
            raise BenchRefused(422, "Invalid benchmark", str(exc)) from None
        with self._lock:
            if self._closed:
                raise BenchRefused(409, "Stopping", "the server is stopping")
            running = next(
                (r for r in self._runs.values() if r.key == target.key and r.state == "running"),
                None,
            )
            if running is not None:
                raise BenchRefused(
                    409,
                    "Cluster busy",
                    f"benchmark {running.id} is still running on {target.name!r}; one run per "
                    "cluster at a time",
                )
            try:  # another process's benchmark or maintenance (etcd.busy), said now
                with busy.claim(busy.keys_for(target.key, cluster_id), "a benchmark"):
                    pass
            except busy.ClusterBusyError as exc:
                raise BenchRefused(409, "Cluster busy", str(exc)) from None
            run_id = uuid.uuid4().hex[:16]
            run = _Run(run_id, target.name, target.key, bench, time.time())
            run.thread = threading.Thread(
                target=self._run, args=(run,), name=f"bench-{run_id}", daemon=True
            )
            self._runs[run_id] = run
            finished = [k for k, r in self._runs.items() if r.state != "running"]
            for k in finished[: max(0, len(self._runs) - KEEP)]:
                del self._runs[k]
        run.thread.start()
        log.info("benchmark %s started on %s (%s)", run_id, target.name, spec.workload.value)
        return run_id

    def _progress(self, run_id: str, p: BenchProgress) -> None:
        with self._lock:
            run = self._runs.get(run_id)
            if run is not None:
                run.progress = p

    def _run(self, run: _Run) -> None:
        result: BenchResult | None = None
        error: str | None = None
        try:
            result = run.bench.run()
        except EtcdError as exc:
            error = str(exc)
        except Exception as exc:
            log.exception("benchmark %s failed", run.id)
            report_bug(exc, f"benchmark {run.id}", logged=True)
            error = "internal error; see the server's log"
        with self._lock:
            run.result, run.error = result, error
            run.state = "done" if result is not None else "failed"
        if result is not None:
            log.info(
                "benchmark %s on %s: %.0f requests/s, %d errors",
                run.id,
                run.cluster,
                result.requests_per_s,
                result.errors,
            )
            if self._history is not None:
                self._history.add_bench_run(run_record(result, None, run.cluster))
        else:
            log.warning("benchmark %s on %s failed: %s", run.id, run.cluster, error)

    def get(self, key: str, run_id: str) -> dict[str, Any] | None:
        """The run's state, progress and (once done) its report as ``bench --json``."""
        with self._lock:
            run = self._runs.get(run_id)
            if run is None or run.key != key:
                return None
            state, progress, result, error = run.state, run.progress, run.result, run.error
        return {
            "id": run.id,
            "cluster": run.cluster,
            "state": state,
            "created_at": run.created_at,
            "progress": progress_json(progress),
            "error": error,
            "report": None if result is None else result_json(result),
        }

    def close(self, timeout: float = 5.0) -> None:
        """Cancel every run (their cleanup still runs) and wait for them."""
        with self._lock:
            self._closed = True
            runs = list(self._runs.values())
        for run in runs:
            run.bench.cancel()
        deadline = time.monotonic() + timeout
        for run in runs:
            if run.thread is not None:
                run.thread.join(max(0.0, deadline - time.monotonic()))
