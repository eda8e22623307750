"""The benchmark engine: one run = checks, load, cleanup, report; no Qt.

A GUI worker (or the CLI) makes a ``Benchmark(config, spec, on_progress=...)`` and
calls ``run()`` in its own thread, or ``start()`` then ``wait()``. ``cancel()`` may be
called from any thread at any time: no new request is sent after it, requests in
flight get half a second to finish and are then abandoned, and the keys written are
still deleted (and the history compacted when the spec asks for it). ``on_progress``
receives a ``BenchProgress`` at most five times a second, from the engine's thread.

How the load is made fast (see ``grpc_h2`` for the numbers): all connections live on
one asyncio loop in the engine's thread. Each of ``clients`` client slots is a closed
loop with one request in flight; a completion is a plain callback that records the
latency (two appends) and sends the slot's next request within the same read, so the
replies to many slots that arrive together leave in one write. Slots share ``conns``
HTTP/2 connections, spread over the endpoints. A rate limiter (burst 1) delays sends
with ``call_later``: each slot waits on it before each request, as in
``tools/benchmark``, or (``BenchSpec.producer_pacing``, check perf) one producer waits
on it and hands requests to idle slots, as in ``etcdctl check perf`` (``_Producer``).
A ticker every 0.1 s expires late calls and every 0.2 s folds the recorded latencies
and reports progress.

Safety: before any load, the cluster must have no active alarm and the prefix must be
empty (for writing workloads). A ``database space exceeded`` answer (the NOSPACE
alarm) stops the load at once and says so. Afterwards every key under the prefix is
deleted. Compacting is opt-in (``BenchSpec.compact``), as in etcd's own tools: it is
cluster-wide and would end other clients' watches that are behind the revision it
compacts at. Defragmenting is optional too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from pyetcd import etcdrpc

from etcdmon_gui import __version__
from etcdmon_gui.bench import grpc_h2
from etcdmon_gui.bench.control import BenchError
from etcdmon_gui.bench.grpc_h2 import Call, H2Channel, H2Target, grpc_message
from etcdmon_gui.bench.limiter import RateLimiter
from etcdmon_gui.bench.recorder import Recorder
from etcdmon_gui.bench.workloads import (
    KV_PUT,
    WATCH,
    Source,
    kinds_for,
    prefix_end,
    source_for,
    validate,
)
from etcdmon_gui.etcd import busy
from etcdmon_gui.etcd import tls as tls_mod
from etcdmon_gui.etcd.control import ControlClient
from etcdmon_gui.model.bench import (
    BenchProgress,
    BenchResult,
    BenchSpec,
    CleanupReport,
    ErrorCount,
    KindSummary,
    Phase,
    Workload,
)
from etcdmon_gui.model.connection import ConnectionConfig
from etcdmon_gui.model.errors import EtcdError

log = logging.getLogger(__name__)

PROGRESS_INTERVAL_S = 0.2
EXPIRE_INTERVAL_S = 0.1
STOP_GRACE_S = 0.5  # after cancel: how long requests in flight may still finish
NOSPACE_REASON = (
    "etcd answered 'database space exceeded': the NOSPACE alarm is active and every write "
    "fails. The benchmark stopped and deleted its keys; to accept writes again compact the "
    "history (etcdctl compact REVISION, unless this run compacted: see its cleanup), "
    "defragment every member (etcdctl defrag) and then disarm the alarm (etcdctl alarm "
    "disarm)"
)

ProgressCallback = Callable[[BenchProgress], None]


class Benchmark:
    """One benchmark run against one cluster. Single use."""

    def __init__(
        self,
        config: ConnectionConfig,
        spec: BenchSpec,
        *,
        on_progress: ProgressCallback | None = None,
    ) -> None:
        validate(spec)
        self.config = config
        self.spec = spec
        self._on_progress = on_progress
        self._cancel = threading.Event()
        self._finished = threading.Event()
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._load: _Load | None = None
        self._thread: threading.Thread | None = None
        self._result: BenchResult | None = None
        self._error: BaseException | None = None
        self._last_progress = 0.0

    # -- public API ------------------------------------------------------------------

    def start(self) -> None:
        """Start the run in the engine's own thread and return at once."""
        with self._lock:
            if self._thread is not None:
                raise RuntimeError("a Benchmark runs once; make a new one")
            self._thread = threading.Thread(target=self._main, name="etcdmon-bench", daemon=True)
            self._thread.start()

    def cancel(self) -> None:
        """Stop the load (thread-safe, idempotent); cleanup still runs."""
        self._cancel.set()
        with self._lock:
            loop, load = self._loop, self._load
        if loop is not None and load is not None:
            with contextlib.suppress(RuntimeError):  # the loop has just closed
                loop.call_soon_threadsafe(load.stop, "cancelled by the user")

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def wait(self, timeout: float | None = None) -> BenchResult | None:
        """The result once the run is over (None on timeout); re-raises its error."""
        if not self._finished.wait(timeout):
            return None
        if self._error is not None:
            raise self._error
        assert self._result is not None
        return self._result

    def run(self) -> BenchResult:
        """Start, and wait for the result. Ctrl-C cancels (cleanup still runs)."""
        self.start()
        while True:
            try:
                result = self.wait(0.2)
            except KeyboardInterrupt:  # pragma: no cover - interactive
                self.cancel()
                continue
            if result is not None:
                return result

    # -- the engine thread -----------------------------------------------------------

    def _main(self) -> None:
        try:
            self._result = self._execute()
        except BaseException as exc:  # handed to wait()'s caller
            self._error = exc
        finally:
            self._finished.set()

    def _progress(
        self, phase: Phase, message: str = "", load: _Load | None = None, force: bool = False
    ) -> None:
        if self._on_progress is None:
            return
        now = time.monotonic()
        if not force and now - self._last_progress < PROGRESS_INTERVAL_S * 0.9:
            return
        self._last_progress = now
        progress = (
            load.progress(phase, message)
            if load is not None
            else BenchProgress(
                cluster_key=self.config.key,
                timestamp=time.time(),
                phase=phase,
                done=0,
                total=None if self.spec.duration_s else self.spec.total,
                elapsed_s=0.0,
                duration_s=self.spec.duration_s,
                errors=0,
                requests_per_s=0.0,
                latency_mean_s=None,
                latency_p99_s=None,
                latency_max_s=None,
                message=message,
            )
        )
        try:
            self._on_progress(progress)
        except Exception:
            log.exception("the progress callback failed; the benchmark goes on")

    def _execute(self) -> BenchResult:
        spec = self.spec
        prefix = spec.prefix.encode()
        end = prefix_end(prefix)
        started_at = time.time()
        warnings: list[str] = []
        if self.config.password and any(not e.secure for e in self.config.endpoints):
            warnings.append("the password and auth token travel unencrypted over plain http")
        with ControlClient(self.config) as control, contextlib.ExitStack() as held:
            self._progress(Phase.PREPARING, "connecting", force=True)
            control.authenticate()
            alarms = control.alarms()
            # One benchmark or maintenance operation per cluster at a time (etcd.busy).
            keys = busy.keys_for(self.config.key, control.known_cluster_id())
            try:
                held.enter_context(busy.claim(keys, "a benchmark"))
            except busy.ClusterBusyError as exc:
                raise BenchError(str(exc)) from None
            if alarms:
                raise BenchError(
                    f"the cluster has an active alarm ({'; '.join(alarms)}); a benchmark "
                    "would make it worse. Free space (compact, defragment) and disarm it "
                    "first"
                )
            existing, revision_before = control.count(prefix, end)
            if spec.workload.writes and spec.require_empty_prefix and existing:
                raise BenchError(
                    f"prefix {spec.prefix!r} has {existing} keys; a benchmark writes only "
                    f"under an empty prefix because it deletes everything there afterwards. "
                    f"Choose another --prefix, or delete them with "
                    f"`etcdctl del --prefix {spec.prefix}` if they are left from an earlier "
                    f"run"
                )
            load = _Load(self, control.token)
            if self._cancel.is_set():
                load.cancelled, load.stop_reason = True, "cancelled by the user"
            else:
                try:
                    asyncio.run(load.run())
                except BaseException:
                    if spec.workload.writes and spec.cleanup and load.issued:
                        self._cleanup(control, prefix, end)  # best effort, then the error
                    raise
            keys_after: int | None = None
            revision_after: int | None = None
            try:
                keys_after, revision_after = control.count(prefix, end)
            except EtcdError as exc:
                warnings.append(f"could not count the keys written: {exc}")
            cleanup = CleanupReport()
            if spec.workload.writes and spec.cleanup:
                self._progress(Phase.CLEANING, "deleting the benchmark's keys", load, force=True)
                cleanup = self._cleanup(control, prefix, end)
                if cleanup.error:
                    warnings.append(cleanup.error)
        result = load.result(
            started_at, revision_before, revision_after, keys_after, cleanup, tuple(warnings)
        )
        self._progress(Phase.DONE, "done", load, force=True)
        return result

    def _cleanup(self, control: ControlClient, prefix: bytes, end: bytes) -> CleanupReport:
        deleted, compacted, defragmented = 0, None, []
        try:
            deleted, revision = control.delete(prefix, end)
            if self.spec.compact and control.compact(revision):
                compacted = revision
            if self.spec.defragment:
                defragmented = control.defragment()
        except EtcdError as exc:
            return CleanupReport(
                deleted,
                compacted,
                tuple(defragmented),
                f"cleanup failed: {exc}; delete the keys with `etcdctl del "
                f"--prefix {self.spec.prefix}`",
            )
        return CleanupReport(deleted, compacted, tuple(defragmented))

    def _attach(self, loop: asyncio.AbstractEventLoop | None, load: _Load | None) -> None:
        with self._lock:
            self._loop, self._load = loop, load


@dataclass
class _Slot:
    """A client: one request in flight at a time, on its channel."""

    channel: H2Channel
    kind: str = ""
    timer: asyncio.TimerHandle | None = None


@dataclass
class _ErrorEntry:
    count: int
    message: str


@dataclass
class _Errors:
    """Errors by gRPC code name, with the first message seen for each."""

    by_code: dict[str, _ErrorEntry] = field(default_factory=dict)

    def add(self, status: int, message: str, count: int = 1) -> None:
        name = grpc_h2.STATUS_NAMES.get(status, str(status))
        entry = self.by_code.get(name)
        if entry is None:
            log.info("first %s error: %s", name, message)
            self.by_code[name] = _ErrorEntry(count, message)
        else:
            entry.count += count

    def counts(self) -> tuple[ErrorCount, ...]:
        return tuple(
            sorted(
                (ErrorCount(name, e.count, e.message) for name, e in self.by_code.items()),
                key=lambda e: -e.count,
            )
        )


class _Producer:
    """``etcdctl check perf``'s pacing: one producer, a buffered channel, the clients.

    etcdctl runs ``for limit.Wait(ctx) == nil { requests <- op }`` in one goroutine
    (a limiter with burst 1) and its clients take ops from ``requests``, a channel
    buffered to the number of clients. So one token is reserved at a time, at the
    moment the previous wait returned: a wake-up that comes late (a busy scheduler, a
    loaded machine) loses the time beyond one token for good, and a producer blocked
    on a full channel (every client busy, the buffer full) reserves nothing meanwhile.
    That is why etcdctl's load on a busy client delivers less than the preset's rate
    and etcd answers it faster. ``tools/benchmark --rate`` differs: each client waits
    on the limiter before each request, so reservations queue up ahead and a late
    wake-up is made up at once (``_Load._next``).

    Here the producer is a timer chain on the engine's loop; an op handed over is just
    a count (the request itself is built when a client sends it, and its latency starts
    then, as etcdctl's worker takes ``time.Now()`` after receiving the op).
    """

    def __init__(self, load: _Load, limiter: RateLimiter, loop: asyncio.AbstractEventLoop) -> None:
        self._load = load
        self._limiter = limiter
        self._loop = loop
        self._idle: deque[_Slot] = deque(load.slots)
        self._capacity = len(load.slots)  # the channel's buffer
        self.buffered = 0
        self.produced = 0
        self.blocked = False  # holding an op for a full channel
        self.done = False  # Wait failed (deadline), the total was produced, or stopped
        self._timer: asyncio.TimerHandle | None = None

    @property
    def finished(self) -> bool:
        """No op left to hand out: the producer ended and the channel is drained."""
        return self.done and not self.blocked and self.buffered == 0

    def start(self) -> None:
        self._produce()

    def _can_produce(self, now: float) -> bool:
        load = self._load
        if load.stopping:
            return False
        if load.deadline is not None:
            return now < load.deadline
        return self.produced < load.spec.total

    def _produce(self) -> None:
        """``limit.Wait`` at the current time, then hand the op over; repeat."""
        while not self.done:
            now = time.perf_counter()
            if not self._can_produce(now):
                self._end()
                return
            wait = self._limiter.reserve(now)
            if wait > 0:
                deadline = self._load.deadline
                if deadline is not None and now + wait >= deadline:
                    self._end()  # Go's Wait fails at once when it would pass the deadline
                    return
                self._timer = self._loop.call_later(wait, self._waited)
                return
            if not self._hand_over():
                return

    def _waited(self) -> None:
        self._timer = None
        if self.done:
            return
        if self._hand_over():
            self._produce()

    def _hand_over(self) -> bool:
        """``requests <- op``: False while it blocks on a full channel."""
        self.produced += 1
        if self._idle:
            self._load.issued += 1
            self._load._send(self._idle.popleft(), time.perf_counter())
        elif self.buffered < self._capacity:
            self.buffered += 1
        else:
            self.blocked = True
            return False
        return True

    def idle(self, slot: _Slot) -> None:
        """A client finished its request: it takes the next op, or waits for one."""
        if self.buffered:
            self.buffered -= 1
            self._load.issued += 1
            self._load._send(slot, time.perf_counter())
            if self.blocked:  # the held op fits in the channel now
                self.blocked = False
                self.buffered += 1
                self._produce()
        else:
            self._idle.append(slot)

    def _end(self) -> None:
        self.done = True
        self._load._check_finished()

    def stop(self) -> None:
        """No more ops: the ones buffered or held are dropped (never sent)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.done = True
        self.buffered = 0
        self.blocked = False


class _Load:
    """The asyncio side of one run. Everything here runs on the engine's loop."""

    def __init__(self, bench: Benchmark, token: str | None) -> None:
        self.bench = bench
        self.spec = bench.spec
        self.config = bench.config
        self.token = token
        self.wall_offset = time.time() - time.perf_counter()
        self.recorders = {k: Recorder(self.wall_offset) for k in kinds_for(self.spec)}
        self.errors = _Errors()
        self.issued = 0
        self.completed = 0
        self.abandoned = 0
        self.seq = 0
        self.stopping = False
        self.abandoning = False
        self.stop_reason: str | None = None
        self.cancelled = False
        self.t0 = 0.0
        self.last_done = 0.0
        self.deadline: float | None = None
        self.channels: list[H2Channel] = []
        self.slots: list[_Slot] = []
        self._last_fold = 0.0
        self._interval: tuple[float | None, float | None, float | None] = (None, None, None)
        self._rps = 0.0
        self._error_total = 0
        self._timeout = self.spec.call_timeout_s
        self._finished: asyncio.Future[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tick_handle: asyncio.TimerHandle | None = None
        self._source: Source | None = None
        self._limiter: RateLimiter | None = None
        self._producer: _Producer | None = None
        self._rng = random.Random(self.spec.seed)
        self._put_done: asyncio.Future[tuple[int, str]] | None = None
        self._events_due = 0
        self._events_done: asyncio.Future[None] | None = None
        self._put_started = 0.0
        self._watch_created = 0
        self._watch_ready: asyncio.Future[None] | None = None
        self._stopped = asyncio.Event()

    # -- set-up ----------------------------------------------------------------------

    def _targets(self) -> list[H2Target]:
        config = self.config
        ctx = None
        if config.uses_tls:
            ctx = tls_mod.ssl_context(config.tls)
            ctx.set_alpn_protocols(["h2"])
        server_name = config.tls.server_name if config.tls else None
        return [
            H2Target(
                host=ep.host,
                port=ep.port,
                authority=server_name or ep.target,
                ssl=ctx if ep.secure else None,
                server_hostname=server_name,
            )
            for ep in config.endpoints
        ]

    def _headers(self) -> dict[str, str]:
        headers = {
            "grpc-timeout": grpc_h2.grpc_timeout(self._timeout),
            "user-agent": f"etcdmon-bench/{__version__}",
        }
        if self.token:
            headers["token"] = self.token
        return headers

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        self._loop = loop
        self._finished = loop.create_future()
        spec = self.spec
        targets = self._targets()
        headers = self._headers()
        count = spec.conns + (1 if spec.workload is Workload.WATCH_LATENCY else 0)
        self.channels = [
            H2Channel(targets, i, headers, self.config.timeout_s) for i in range(count)
        ]
        self.bench._attach(loop, self)
        try:
            results = await asyncio.gather(
                *(ch.connect() for ch in self.channels), return_exceptions=True
            )
            for outcome in results:
                if isinstance(outcome, BaseException):
                    raise outcome
            if self.bench.cancelled:
                self.stop("cancelled by the user")
            self.t0 = self.last_done = time.perf_counter()
            if spec.duration_s is not None:
                self.deadline = self.t0 + spec.duration_s
            self._tick_handle = loop.call_later(EXPIRE_INTERVAL_S, self._tick)
            if spec.workload is Workload.WATCH_LATENCY:
                await self._watch_latency()
            else:
                self._start_unary()
                await self._finished
        finally:
            self.bench._attach(None, None)
            if self._tick_handle is not None:
                self._tick_handle.cancel()
            for slot in self.slots:
                if slot.timer is not None:
                    slot.timer.cancel()
            self.abandoning = True
            for ch in self.channels:
                ch.close()
            await asyncio.gather(*(ch.closed() for ch in self.channels))
            self._fold()

    # -- unary workloads: the hot path ------------------------------------------------

    def _start_unary(self) -> None:
        spec = self.spec
        self._source = source_for(spec, self._rng)
        if spec.rate > 0:
            self._limiter = RateLimiter(spec.rate, 1)
        self.slots = [_Slot(self.channels[i % spec.conns]) for i in range(spec.clients)]
        if self._limiter is not None and spec.producer_pacing:
            assert self._loop is not None
            self._producer = _Producer(self, self._limiter, self._loop)
            self._producer.start()
        else:
            for slot in self.slots:
                self._next(slot)
        self._check_finished()

    def _can_issue(self, now: float) -> bool:
        if self.stopping:
            return False
        if self.deadline is not None:
            return now < self.deadline
        return self.issued < self.spec.total

    def _next(self, slot: _Slot) -> None:
        now = time.perf_counter()
        if not self._can_issue(now):
            return
        self.issued += 1
        limiter = self._limiter
        if limiter is not None:
            wait = limiter.reserve(now)
            if wait > 0:
                if self.deadline is not None and now + wait >= self.deadline:
                    self.issued -= 1
                    return
                assert self._loop is not None
                slot.timer = self._loop.call_later(wait, self._send_later, slot)
                return
        self._send(slot, now)

    def _send_later(self, slot: _Slot) -> None:
        slot.timer = None
        if self.stopping:
            self.issued -= 1
            self._check_finished()
            return
        self._send(slot, time.perf_counter())

    def _send(self, slot: _Slot, now: float) -> None:
        assert self._source is not None
        path, message, kind = self._source.request(self.seq)
        self.seq += 1
        slot.kind = kind
        slot.channel.start(Call(path, message, self._done, now, now + self._timeout, tag=slot))

    def _done(self, call: Call, status: int, message: str, now: float) -> None:
        slot: _Slot = call.tag
        self.completed += 1
        if self.abandoning:
            self.abandoned += 1
        else:
            self.last_done = now
            rec = self.recorders[slot.kind]
            if status == 0:
                rec.starts.append(call.start)
                rec.latencies.append(now - call.start)
            else:
                rec.error_starts.append(call.start)
                self._error(status, message)
        if not self.stopping:
            if self._producer is not None:
                self._producer.idle(slot)
            else:
                self._next(slot)
        if self.completed >= self.issued:
            self._check_finished()

    def _error(self, status: int, message: str) -> None:
        self.errors.add(status, message)
        if status == grpc_h2.RESOURCE_EXHAUSTED and "space exceeded" in message:
            self.stop(NOSPACE_REASON)

    def _check_finished(self) -> None:
        fut = self._finished
        if fut is None or fut.done() or self.completed < self.issued:
            return
        if self._producer is not None and not self.stopping:
            if self._producer.finished:
                fut.set_result(None)
            return
        if self.stopping or not self._can_issue(time.perf_counter()):
            fut.set_result(None)

    def stop(self, reason: str) -> None:
        """No more requests; those in flight get ``STOP_GRACE_S``, then are abandoned."""
        if self.stopping:
            return
        log.info("stopping the load: %s", reason)
        self.stopping = True
        self.stop_reason = reason
        self._stopped.set()
        self.cancelled = self.bench.cancelled
        for slot in self.slots:
            if slot.timer is not None:
                slot.timer.cancel()
                slot.timer = None
                self.issued -= 1
        if self._producer is not None:
            self._producer.stop()
        if self._events_done is not None and not self._events_done.done():
            self._events_done.set_result(None)
        if self._watch_ready is not None and not self._watch_ready.done():
            self._watch_ready.set_result(None)
        self._check_finished()
        if self._loop is not None:
            self._loop.call_later(STOP_GRACE_S, self._abandon)

    def _abandon(self) -> None:
        if self._finished is None or self._finished.done():
            return
        self.abandoning = True
        for ch in self.channels:
            ch.cancel_all("the benchmark was stopped")
        self.completed = max(self.completed, self.issued)
        self._check_finished()

    # -- watch-latency ---------------------------------------------------------------

    async def _watch_latency(self) -> None:
        """Watchers on ``conns`` streams; ``total`` puts at ``put_rate``, each waiting
        until every watcher has its event. Latency = put sent -> event received."""
        spec = self.spec
        assert self._loop is not None
        key = spec.prefix.encode() + os.urandom(spec.key_size)
        put = grpc_message(
            etcdrpc.PutRequest(key=key, value=os.urandom(spec.val_size)).SerializeToString()
        )
        create = grpc_message(
            etcdrpc.WatchRequest(
                create_request=etcdrpc.WatchCreateRequest(key=key)
            ).SerializeToString()
        )
        self._watch_ready = self._loop.create_future()
        now = time.perf_counter()
        for c in range(spec.conns):
            watchers = len(range(c, spec.clients, spec.conns))
            if watchers:
                self.channels[c].start(
                    Call(
                        WATCH,
                        create * watchers,
                        self._watch_ended,
                        now,
                        float("inf"),
                        end_stream=False,
                        on_message=self._watch_message,
                    )
                )
        try:
            async with asyncio.timeout(max(self._timeout, 1.0)):
                await self._watch_ready
        except TimeoutError:
            raise BenchError(f"the watches were not created within {self._timeout:g} s") from None
        limiter = RateLimiter(spec.put_rate, max(1, int(spec.put_rate)))
        put_channel = self.channels[spec.conns]
        events = self.recorders["event"]
        while self._can_issue(time.perf_counter()):
            wait = limiter.reserve(time.perf_counter())
            if wait > 0:
                with contextlib.suppress(TimeoutError):  # a stop ends the wait at once
                    async with asyncio.timeout(wait):
                        await self._stopped.wait()
                if not self._can_issue(time.perf_counter()):
                    break
            self.issued += 1
            self._events_due = spec.clients
            self._events_done = self._loop.create_future()
            self._put_done = self._loop.create_future()
            start = self._put_started = time.perf_counter()
            put_channel.start(Call(KV_PUT, put, self._watch_put_done, start, start + self._timeout))
            status, message = await self._put_done
            if status == 0 and not self.stopping:
                try:
                    async with asyncio.timeout(self._timeout):
                        await self._events_done
                except TimeoutError:
                    missing = self._events_due
                    events.error_starts.extend([start] * missing)
                    self.errors.add(
                        grpc_h2.DEADLINE_EXCEEDED,
                        f"no watch event within {self._timeout:g} s of the put",
                        missing,
                    )
            elif status != 0 and not self.abandoning:
                events.error_starts.extend([start] * spec.clients)  # no event will come
                self._error(status, message)
                if spec.clients > 1:
                    self.errors.add(status, message, spec.clients - 1)
            self.completed += 1

    def _watch_put_done(self, call: Call, status: int, message: str, now: float) -> None:
        rec = self.recorders["put"]
        if status == 0:
            rec.starts.append(call.start)
            rec.latencies.append(now - call.start)
        elif not self.abandoning:
            rec.error_starts.append(call.start)
        self.last_done = now
        if self._put_done is not None and not self._put_done.done():
            self._put_done.set_result((status, message))

    def _watch_message(self, body: bytes, now: float) -> None:
        resp = etcdrpc.WatchResponse.FromString(body)
        if resp.created:
            self._watch_created += 1
            if (
                self._watch_created >= self.spec.clients
                and self._watch_ready is not None
                and not self._watch_ready.done()
            ):
                self._watch_ready.set_result(None)
        if resp.canceled:
            self.stop(f"etcd cancelled a watch (revision {resp.compact_revision})")
            return
        rec = self.recorders["event"]
        for _ in resp.events:
            if self._events_due <= 0:
                continue  # an event for a put that already timed out
            rec.starts.append(self._put_started)
            rec.latencies.append(now - self._put_started)
            self.last_done = now
            self._events_due -= 1
            if (
                self._events_due == 0
                and self._events_done is not None
                and not self._events_done.done()
            ):
                self._events_done.set_result(None)

    def _watch_ended(self, call: Call, status: int, message: str, now: float) -> None:
        if self.abandoning or self.stopping:
            return
        self.errors.add(status or grpc_h2.UNAVAILABLE, message or "the watch stream ended")
        self.stop(f"a watch stream ended: {message or grpc_h2.STATUS_NAMES.get(status, status)}")

    # -- ticker, progress, result ------------------------------------------------------

    def _tick(self) -> None:
        assert self._loop is not None
        now = time.perf_counter()
        if self.bench.cancelled and not self.stopping:
            self.stop("cancelled by the user")
        for ch in self.channels:
            ch.expire(now, self._timeout)
        if now - self._last_fold >= PROGRESS_INTERVAL_S:
            self._fold()
            self.bench._progress(
                Phase.DRAINING if self.stopping else Phase.RUNNING, self.stop_reason or "", self
            )
        if self.deadline is not None and now >= self.deadline:
            self._check_finished()
        self._tick_handle = self._loop.call_later(EXPIRE_INTERVAL_S, self._tick)

    def _fold(self) -> None:
        now = time.perf_counter()
        elapsed = now - self._last_fold if self._last_fold else now - self.t0
        self._last_fold = now
        count, errors = 0, 0
        means: list[tuple[int, float]] = []
        p99: float | None = None
        worst: float | None = None
        main = kinds_for(self.spec)
        for kind, rec in self.recorders.items():
            interval = rec.fold()
            errors += interval.errors
            if self.spec.workload is Workload.WATCH_LATENCY and kind != main[0]:
                continue
            count += interval.count
            if interval.mean_s is not None:
                means.append((interval.count, interval.mean_s))
            if interval.p99_s is not None:
                p99 = interval.p99_s if p99 is None else max(p99, interval.p99_s)
            if interval.max_s is not None:
                worst = interval.max_s if worst is None else max(worst, interval.max_s)
        self._error_total += errors
        self._rps = count / elapsed if elapsed > 0 else 0.0
        mean = (sum(n * m for n, m in means) / sum(n for n, _ in means)) if means else None
        self._interval = (mean, p99, worst)

    def _last_channel_error(self) -> str:
        return next((ch.last_error for ch in self.channels if ch.last_error), "unknown")

    def progress(self, phase: Phase, message: str) -> BenchProgress:
        spec = self.spec
        mean, p99, worst = self._interval
        elapsed = (time.perf_counter() - self.t0) if self.t0 else 0.0
        return BenchProgress(
            cluster_key=self.config.key,
            timestamp=time.time(),
            phase=phase,
            done=self.completed,
            total=None if spec.duration_s else spec.total,
            elapsed_s=elapsed,
            duration_s=spec.duration_s,
            errors=self._error_total,
            requests_per_s=self._rps,
            latency_mean_s=mean,
            latency_p99_s=p99,
            latency_max_s=worst,
            message=message,
        )

    def result(
        self,
        started_at: float,
        revision_before: int | None,
        revision_after: int | None,
        keys_after: int | None,
        cleanup: CleanupReport,
        warnings: tuple[str, ...],
    ) -> BenchResult:
        kinds = kinds_for(self.spec)
        if self.spec.workload is Workload.WATCH_LATENCY:
            overall = self.recorders["event"]
        elif len(kinds) == 1:
            overall = self.recorders[kinds[0]]
        else:
            overall = Recorder(self.wall_offset)
            for rec in self.recorders.values():
                rec.merge_into(overall)
        duration = max(self.last_done - self.t0, 1e-9) if self.t0 else 0.0
        by_kind: tuple[KindSummary, ...] = ()
        if len(kinds) > 1:
            by_kind = tuple(
                KindSummary(
                    kind,
                    rec.count + rec.errors,
                    rec.errors,
                    rec.count / duration if duration else 0.0,
                    rec.summary(),
                )
                for kind, rec in self.recorders.items()
            )
        errors = overall.errors
        reconnects = sum(ch.reconnects for ch in self.channels)
        if reconnects:
            warnings = (
                *warnings,
                f"connections were lost and re-established {reconnects} "
                f"time(s); last error: {self._last_channel_error()}",
            )
        return BenchResult(
            cluster_key=self.config.key,
            spec=self.spec,
            started_at=started_at,
            total=overall.count + errors,
            errors=errors,
            errors_by_code=self.errors.counts(),
            duration_s=duration,
            requests_per_s=overall.count / duration if duration else 0.0,
            latency=overall.summary(),
            histogram=overall.histogram(),
            series=overall.series(),
            by_kind=by_kind,
            cancelled=self.cancelled,
            stop_reason=self.stop_reason,
            abandoned=self.abandoned,
            revision_before=revision_before,
            revision_after=revision_after,
            keys_under_prefix=keys_after,
            cleanup=cleanup,
            warnings=warnings,
            endpoints=tuple(e.url for e in self.config.endpoints),
        )
