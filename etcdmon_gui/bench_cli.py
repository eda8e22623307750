"""``etcdmon bench ...`` and ``etcdmon check-perf``: load a cluster, report like etcd's tools.

Flags follow etcd's ``tools/benchmark`` (``--clients --conns --total --rate`` and each
workload's own) and ``etcdctl check perf --load``. Output is a ``tools/benchmark``-style
text report, or ``--json``; ``--csv FILE`` writes the per-second series.

Exit codes: 0 success (check-perf: PASS); 1 the run had errors, was stopped, or FAILed;
2 usage or connection errors (raised to ``cli.main``, which prints them).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

from etcdmon_gui.bench.checkperf import ALIASES, check_perf_spec, judge, preset
from etcdmon_gui.bench.engine import Benchmark
from etcdmon_gui.bench.report import (
    check_perf_json,
    csv_text,
    render_check_perf,
    render_text,
    result_json,
)
from etcdmon_gui.bench.safety import require_confirmation
from etcdmon_gui.etcd.endpoints import ConnectionConfig
from etcdmon_gui.etcd.errors import ConfigError
from etcdmon_gui.model.bench import DEFAULT_PREFIX, BenchProgress, BenchResult, BenchSpec, Workload
from etcdmon_gui.profile_cli import profile_store

EXIT_OK, EXIT_FAIL = 0, 1

AddOptions = Callable[[argparse.ArgumentParser], None]
MakeConfig = Callable[[argparse.Namespace], ConnectionConfig]


def _out(text: str) -> None:
    sys.stdout.write(text + "\n")


def _common(p: argparse.ArgumentParser, *, total_help: str = "total number of requests") -> None:
    g = p.add_argument_group("load (as etcd's tools/benchmark)")
    g.add_argument("--clients", type=int, default=1, help="requests in flight at once "
                   "(default %(default)s)")
    g.add_argument("--conns", type=int, default=1,
                   help="gRPC connections, each its own TCP connection (default %(default)s)")
    bound = g.add_mutually_exclusive_group()
    bound.add_argument("--total", type=int, default=10_000,
                       help=f"{total_help} (default %(default)s)")
    bound.add_argument("--duration", type=float, metavar="SECONDS",
                       help="run for this long instead of --total")
    g.add_argument("--call-timeout", type=float, default=10.0, metavar="SECONDS",
                   help="deadline of every request (default %(default)s)")
    g.add_argument("--seed", type=int, help="seed for the random keys (repeatable runs)")
    _safety(p)


def _safety(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("safety and output")
    g.add_argument("--prefix", default=DEFAULT_PREFIX,
                   help="every benchmark key lives under this prefix, which must be empty; "
                   "it is deleted and compacted afterwards (default %(default)s)")
    g.add_argument("--defragment", action="store_true",
                   help="defragment every member after the cleanup")
    g.add_argument("--confirm", metavar="NAME",
                   help="the profile's name, typed, to load a profile tagged production")
    g.add_argument("--json", action="store_true", help="machine-readable result")
    g.add_argument("--csv", metavar="FILE", help="write the per-second series as CSV "
                   "('-' for standard output)")


def _keys(p: argparse.ArgumentParser, key_size: int = 8, val_size: int = 8) -> None:
    p.add_argument("--key-size", type=int, default=key_size, help="key size (default %(default)s)")
    p.add_argument("--val-size", type=int, default=val_size,
                   help="value size (default %(default)s)")


def _consistency(p: argparse.ArgumentParser, limit: int) -> None:
    p.add_argument("--consistency", choices=("l", "s"), default="l",
                   help="linearizable (l) or serializable (s) reads (default %(default)s)")
    p.add_argument("--limit", type=int, default=limit,
                   help="range result limit, 0 = none (default %(default)s)")


def add_bench_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser],
                       add_connection_options: AddOptions, connection_config: MakeConfig) -> None:
    """Register ``bench put|range|txn-put|txn-mixed|watch-latency`` and ``check-perf``."""

    def bench_cmd(args: argparse.Namespace) -> int:
        return cmd_bench(args, connection_config)

    def check_cmd(args: argparse.Namespace) -> int:
        return cmd_check_perf(args, connection_config)

    bench = sub.add_parser("bench", help="load a cluster like etcd's tools/benchmark",
                           description="Load a cluster like etcd's tools/benchmark. Keys live "
                           "under --prefix and are deleted and compacted afterwards.")
    workloads = bench.add_subparsers(dest="workload", required=True, metavar="WORKLOAD")

    p = workloads.add_parser("put", help="benchmark put")
    add_connection_options(p)
    _common(p)
    _keys(p)
    p.add_argument("--rate", type=float, default=0, help="maximum puts per second (0 = none)")
    p.add_argument("--key-space-size", type=int, default=1, help="maximum possible keys "
                   "(default %(default)s)")
    p.add_argument("--sequential-keys", action="store_true", help="use sequential keys")
    p.set_defaults(func=bench_cmd, workload_kind=Workload.PUT)

    p = workloads.add_parser("range", help="benchmark range (reads only; writes nothing)")
    add_connection_options(p)
    p.add_argument("key", nargs="?", help="first key (default: the whole --prefix)")
    p.add_argument("end", nargs="?", help="end of the range (default: KEY alone)")
    _common(p)
    p.add_argument("--rate", type=float, default=0,
                   help="maximum range requests per second (0 = none)")
    _consistency(p, 0)
    p.add_argument("--count-only", action="store_true", help="ask for the count only")
    p.set_defaults(func=bench_cmd, workload_kind=Workload.RANGE)

    p = workloads.add_parser("txn-put", help="benchmark txn-put")
    add_connection_options(p)
    _common(p)
    _keys(p)
    p.add_argument("--rate", type=float, default=0, help="maximum txns per second (0 = none)")
    p.add_argument("--txn-ops", type=int, default=1, help="puts per txn (default %(default)s)")
    p.add_argument("--key-space-size", type=int, default=1, help="maximum possible keys "
                   "(default %(default)s)")
    p.set_defaults(func=bench_cmd, workload_kind=Workload.TXN_PUT)

    p = workloads.add_parser("txn-mixed", help="benchmark a mixed load of txn-put & txn-range")
    add_connection_options(p)
    _common(p)
    _keys(p)
    p.add_argument("--rate", type=float, default=0, help="maximum txns per second (0 = none)")
    p.add_argument("--key-space-size", type=int, default=1, help="maximum possible keys "
                   "(default %(default)s)")
    p.add_argument("--rw-ratio", type=float, default=1.0,
                   help="read/write ops ratio (default %(default)s)")
    p.add_argument("--end-key", help="end of the read range (default: the end of --prefix)")
    _consistency(p, 1000)
    p.set_defaults(func=bench_cmd, workload_kind=Workload.TXN_MIXED)

    p = workloads.add_parser("watch-latency", help="benchmark put-to-watch-event latency")
    add_connection_options(p)
    _common(p, total_help="total number of puts")
    _keys(p, 32, 32)
    p.add_argument("--put-rate", type=float, default=100,
                   help="puts per second (default %(default)s)")
    p.set_defaults(func=bench_cmd, workload_kind=Workload.WATCH_LATENCY)

    p = sub.add_parser("check-perf", help="etcdctl check perf: PASS or FAIL for a load level",
                       description="Run etcdctl check perf's load (s=150 writes/s with 50 "
                       "clients, m=1000/200, l=8000/500, xl=15000/1000; 60 s) and judge it "
                       "by its rules.")
    add_connection_options(p)
    p.add_argument("--load", default="s", choices=sorted(ALIASES), metavar="s|m|l|xl",
                   help="workload model (default %(default)s)")
    p.add_argument("--duration", type=float, metavar="SECONDS",
                   help="shorter than the preset's 60 s (for quick tries and tests)")
    _safety(p)
    p.set_defaults(func=check_cmd)


# -- commands -------------------------------------------------------------------------


def _guard(args: argparse.Namespace) -> None:
    """A profile tagged production needs its name typed with --confirm."""
    if getattr(args, "profile", None):
        profile = profile_store(args).get(args.profile)
        require_confirmation(profile.name, profile.tags, args.confirm)


def spec_from_args(args: argparse.Namespace) -> BenchSpec:
    """The ``BenchSpec`` a ``bench`` command line asks for."""
    kind: Workload = args.workload_kind
    key = args.key.encode() if getattr(args, "key", None) else None
    end = args.end.encode() if getattr(args, "end", None) else None
    if kind is Workload.TXN_MIXED and args.end_key:
        end = args.end_key.encode()
    opt = vars(args).get
    return BenchSpec(
        workload=kind, clients=args.clients, conns=args.conns, total=args.total,
        duration_s=args.duration, rate=float(opt("rate", 0.0)), key_size=opt("key_size", 8),
        val_size=opt("val_size", 8), key_space_size=opt("key_space_size", 1),
        sequential_keys=opt("sequential_keys", False), prefix=args.prefix,
        range_key=key if kind is Workload.RANGE else None, range_end=end,
        linearizable=opt("consistency", "l") == "l", limit=opt("limit", 0),
        count_only=opt("count_only", False), txn_ops=opt("txn_ops", 1),
        rw_ratio=opt("rw_ratio", 1.0), put_rate=opt("put_rate", 100.0),
        call_timeout_s=args.call_timeout, defragment=args.defragment, seed=args.seed)


class _Progress:
    """One updating line on a terminal's stderr; nothing when stderr is not a terminal."""

    def __init__(self) -> None:
        self.enabled = sys.stderr.isatty()
        self.shown = False

    def __call__(self, p: BenchProgress) -> None:
        if not self.enabled:
            return
        done = f"{p.done}/{p.total}" if p.total else f"{p.elapsed_s:.0f}/{p.duration_s:g} s"
        lat = f", p99 {p.latency_p99_s * 1000:.1f} ms" if p.latency_p99_s is not None else ""
        eta = f", ETA {p.eta_s:.0f} s" if p.eta_s is not None else ""
        line = (f"\r{p.phase.value}: {done}, {p.requests_per_s:,.0f}/s{lat}, "
                f"{p.errors} errors{eta}")
        sys.stderr.write(line.ljust(79)[:200])
        sys.stderr.flush()
        self.shown = True

    def end(self) -> None:
        if self.shown:
            sys.stderr.write("\n")
            sys.stderr.flush()


def _run(config: ConnectionConfig, spec: BenchSpec) -> BenchResult:
    progress = _Progress()
    try:
        return Benchmark(config, spec, on_progress=progress).run()
    finally:
        progress.end()


def _write_csv(target: str | None, result: BenchResult) -> None:
    if not target:
        return
    text = csv_text(result)
    if target == "-":
        sys.stdout.write(text)
        return
    try:
        Path(target).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot write the CSV file {target!r}: {exc.strerror}") from None


def cmd_bench(args: argparse.Namespace, connection_config: MakeConfig) -> int:
    _guard(args)
    spec = spec_from_args(args)
    config = connection_config(args)
    result = _run(config, spec)
    if args.json:
        _out(json.dumps(result_json(result), indent=2))
        if result.stop_reason and not result.cancelled:
            sys.stderr.write(f"etcdmon: {result.stop_reason}\n")
    else:
        _out(render_text(result))
    _write_csv(args.csv, result)
    return EXIT_OK if result.ok else EXIT_FAIL


def cmd_check_perf(args: argparse.Namespace, connection_config: MakeConfig) -> int:
    _guard(args)
    try:
        chosen = preset(args.load)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    spec = check_perf_spec(chosen, prefix=args.prefix, duration_s=args.duration,
                           defragment=args.defragment)
    config = connection_config(args)
    verdict = judge(chosen, _run(config, spec))
    if args.json:
        _out(json.dumps(check_perf_json(verdict), indent=2))
    else:
        _out(render_check_perf(verdict))
    _write_csv(args.csv, verdict.result)
    return EXIT_OK if verdict.passed else EXIT_FAIL
