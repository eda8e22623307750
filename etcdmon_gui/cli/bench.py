"""``etcdmon bench ...``: load a cluster, report like etcd's tools/benchmark.

Flags follow etcd's ``tools/benchmark`` (``--clients --conns --total --rate`` and each
workload's own) and ``etcdctl check perf --load``. Output is a ``tools/benchmark``-style
text report, or ``--json``; ``--csv FILE`` writes the per-second series and
``--summary FILE`` the settings and figures (JSON or CSV). Output paths are checked
before the load starts.

Exit codes: 0 success; 1 the run had errors or was stopped; 2 usage or connection
errors (raised to ``cli.main``, which prints them). ``check_perf`` shares the flags.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from etcdmon_gui.bench.engine import Benchmark
from etcdmon_gui.bench.output import STDOUT, check_output_path, summary_text, write_text
from etcdmon_gui.bench.report import (
    csv_text,
    render_text,
    result_json,
    run_record,
)
from etcdmon_gui.bench.safety import require_confirmation
from etcdmon_gui.cli.common import EXIT_FAIL, EXIT_OK, UNREACHABLE_CODE, USAGE_CODE, add_command
from etcdmon_gui.connection_args import add_connection_options, connection_config, profile_store
from etcdmon_gui.model.bench import (
    DEFAULT_PREFIX,
    BenchProgress,
    BenchResult,
    BenchSpec,
    CheckPerfResult,
    Workload,
)
from etcdmon_gui.model.connection import ConnectionConfig
from etcdmon_gui.model.errors import ConfigError
from etcdmon_gui.store.history.writer import HistoryWriter

CODES = (
    "  0  the run completed without errors\n  1  the run had errors or was stopped\n"
    f"{USAGE_CODE}\n{UNREACHABLE_CODE}"
)


def _out(text: str) -> None:
    sys.stdout.write(text + "\n")


def _common(p: argparse.ArgumentParser, *, total_help: str = "total number of requests") -> None:
    g = p.add_argument_group("load (as etcd's tools/benchmark)")
    g.add_argument(
        "--clients", type=int, default=1, help="requests in flight at once (default %(default)s)"
    )
    g.add_argument(
        "--conns",
        type=int,
        default=1,
        help="gRPC connections, each its own TCP connection (default %(default)s)",
    )
    bound = g.add_mutually_exclusive_group()
    bound.add_argument(
        "--total", type=int, default=10_000, help=f"{total_help} (default %(default)s)"
    )
    bound.add_argument(
        "--duration", type=float, metavar="SECONDS", help="run for this long instead of --total"
    )
    g.add_argument(
        "--call-timeout",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="deadline of every request (default %(default)s)",
    )
    g.add_argument("--seed", type=int, help="seed for the random keys (repeatable runs)")
    _safety(p)


def _safety(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("safety and output")
    g.add_argument(
        "--prefix",
        default=DEFAULT_PREFIX,
        help="every benchmark key lives under this prefix, which must be empty; "
        "its keys are deleted afterwards (default %(default)s)",
    )
    g.add_argument(
        "--compact",
        action="store_true",
        help="also compact the cluster's history after deleting the keys. Off by default, "
        "as in etcd's own tools: compaction is cluster-wide, so it ends other clients' "
        "watches that are behind that revision and drops history they may still read; "
        "use it on a cluster of your own to keep its database from growing",
    )
    g.add_argument(
        "--defragment", action="store_true", help="defragment every member after the cleanup"
    )
    g.add_argument(
        "--confirm",
        metavar="NAME",
        help="the profile's name, typed, to load a profile tagged production",
    )
    g.add_argument("--json", action="store_true", help="machine-readable result")
    g.add_argument(
        "--csv", metavar="FILE", help="write the per-second series as CSV ('-' for standard output)"
    )
    g.add_argument(
        "--summary",
        metavar="FILE",
        help="write the settings and the result's figures (every percentile, no per-second "
        "series): JSON when FILE ends in .json, else CSV with one header row (RFC 4180, "
        "UTF-8, units in the column names)",
    )
    g.add_argument(
        "--history",
        type=Path,
        metavar="PATH",
        help="keep the run in this history database (default: the desktop app's, whose "
        "benchmark dialog then lists it among the earlier runs)",
    )


def _keys(p: argparse.ArgumentParser, key_size: int = 8, val_size: int = 8) -> None:
    p.add_argument("--key-size", type=int, default=key_size, help="key size (default %(default)s)")
    p.add_argument(
        "--val-size", type=int, default=val_size, help="value size (default %(default)s)"
    )


def _consistency(p: argparse.ArgumentParser, limit: int) -> None:
    p.add_argument(
        "--consistency",
        choices=("l", "s"),
        default="l",
        help="linearizable (l) or serializable (s) reads (default %(default)s)",
    )
    p.add_argument(
        "--limit",
        type=int,
        default=limit,
        help="range result limit, 0 = none (default %(default)s)",
    )


# -- commands -------------------------------------------------------------------------


def _guard(args: argparse.Namespace) -> None:
    """A profile tagged production needs its name typed with --confirm."""
    if getattr(args, "profile", None):
        profile = profile_store(args).get(args.profile)
        require_confirmation(profile.name, profile.tags, args.confirm)


def spec_from_args(args: argparse.Namespace) -> BenchSpec:
    """The ``BenchSpec`` a ``bench`` command line asks for."""
    kind: Workload = args.workload_kind
    key = args.range_key.encode() if getattr(args, "range_key", None) else None
    end = args.range_end.encode() if getattr(args, "range_end", None) else None
    if kind is Workload.TXN_MIXED and args.end_key:
        end = args.end_key.encode()
    opt = vars(args).get
    return BenchSpec(
        workload=kind,
        clients=args.clients,
        conns=args.conns,
        total=args.total,
        duration_s=args.duration,
        rate=float(opt("rate", 0.0)),
        key_size=opt("key_size", 8),
        val_size=opt("val_size", 8),
        key_space_size=opt("key_space_size", 1),
        sequential_keys=opt("sequential_keys", False),
        prefix=args.prefix,
        range_key=key if kind is Workload.RANGE else None,
        range_end=end,
        linearizable=opt("consistency", "l") == "l",
        limit=opt("limit", 0),
        count_only=opt("count_only", False),
        txn_ops=opt("txn_ops", 1),
        rw_ratio=opt("rw_ratio", 1.0),
        put_rate=opt("put_rate", 100.0),
        call_timeout_s=args.call_timeout,
        compact=args.compact,
        defragment=args.defragment,
        seed=args.seed,
    )


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
        line = f"\r{p.phase.value}: {done}, {p.requests_per_s:,.0f}/s{lat}, {p.errors} errors{eta}"
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


def check_outputs(args: argparse.Namespace) -> None:
    """Refuse unusable --csv / --summary paths before any load (a run can take minutes)."""
    csv_file: str | None = args.csv
    summary: str | None = args.summary
    if csv_file and csv_file != STDOUT:
        check_output_path(csv_file, "--csv")
    if summary:
        if summary == STDOUT:
            raise ConfigError(
                "--summary needs a file name (ending in .json for JSON, else CSV); "
                "--json prints the result on standard output"
            )
        check_output_path(summary, "--summary")
        if csv_file and Path(csv_file).resolve() == Path(summary).resolve():
            raise ConfigError("--csv and --summary name the same file; give each its own")


def write_outputs(
    args: argparse.Namespace, result: BenchResult, verdict: CheckPerfResult | None = None
) -> None:
    """The --csv series and the --summary, as checked by ``check_outputs``."""
    if args.csv == STDOUT:
        sys.stdout.write(csv_text(result))
    elif args.csv:
        write_text(args.csv, csv_text(result), "--csv")
    if args.summary:
        write_text(args.summary, summary_text(args.summary, result, verdict), "--summary")
    keep_run(args, result, verdict)


def keep_run(
    args: argparse.Namespace, result: BenchResult, verdict: CheckPerfResult | None
) -> None:
    """Keep the run in the history; one that cannot be used is said, and changes nothing
    else (the result is out already)."""
    name = getattr(args, "profile", None) or ""
    writer = HistoryWriter(
        args.history,
        problems=lambda text: print(
            f"etcdmon: the run is not kept in the history: {text}", file=sys.stderr
        ),
    ).start()
    writer.add_bench_run(run_record(result, verdict, name))
    writer.close()


def cmd_bench(args: argparse.Namespace) -> int:
    _guard(args)
    spec = spec_from_args(args)
    check_outputs(args)
    config = connection_config(args)
    result = _run(config, spec)
    if args.json:
        _out(json.dumps(result_json(result), indent=2))
        if result.stop_reason and not result.cancelled:
            sys.stderr.write(f"etcdmon: {result.stop_reason}\n")
    else:
        _out(render_text(result))
    write_outputs(args, result)
    return EXIT_OK if result.ok else EXIT_FAIL


def register(sub: Any) -> None:
    """``bench put|range|txn-put|txn-mixed|watch-latency``."""
    bench = add_command(
        sub,
        "bench",
        help="load a cluster like etcd's tools/benchmark",
        description="Load a cluster like etcd's tools/benchmark. Keys live under --prefix "
        "and are deleted afterwards; --compact also compacts the history.",
        codes=CODES,
        example="etcdmon bench put --endpoints 127.0.0.1:2379 --clients 100 "
        "--conns 10 --total 50000",
    )
    workloads = bench.add_subparsers(dest="workload", required=True, metavar="WORKLOAD")

    p = _workload(
        workloads,
        Workload.PUT,
        "benchmark put",
        "--clients 100 --conns 10 --total 50000 --val-size 256",
    )
    _common(p)
    _keys(p)
    _rate(p, "puts")
    _key_space(p)
    p.add_argument("--sequential-keys", action="store_true", help="use sequential keys")

    p = _workload(
        workloads,
        Workload.RANGE,
        "benchmark range (reads only; writes nothing)",
        "/etcdmon-bench/ --total 10000",
    )
    # own destinations: "key" would be the TLS --key option's (the client key file)
    p.add_argument(
        "range_key", nargs="?", metavar="KEY", help="first key (default: the whole --prefix)"
    )
    p.add_argument(
        "range_end", nargs="?", metavar="END", help="end of the range (default: KEY alone)"
    )
    _common(p)
    _rate(p, "range requests")
    _consistency(p, 0)
    p.add_argument("--count-only", action="store_true", help="ask for the count only")

    p = _workload(workloads, Workload.TXN_PUT, "benchmark txn-put", "--txn-ops 4 --total 10000")
    _common(p)
    _keys(p)
    _rate(p, "txns")
    p.add_argument("--txn-ops", type=int, default=1, help="puts per txn (default %(default)s)")
    _key_space(p)

    p = _workload(
        workloads,
        Workload.TXN_MIXED,
        "benchmark a mixed load of txn-put & txn-range",
        "--rw-ratio 4 --total 10000",
    )
    _common(p)
    _keys(p)
    _rate(p, "txns")
    _key_space(p)
    p.add_argument(
        "--rw-ratio", type=float, default=1.0, help="read/write ops ratio (default %(default)s)"
    )
    p.add_argument("--end-key", help="end of the read range (default: the end of --prefix)")
    _consistency(p, 1000)

    p = _workload(
        workloads,
        Workload.WATCH_LATENCY,
        "benchmark put-to-watch-event latency",
        "--put-rate 100 --total 1000",
    )
    _common(p, total_help="total number of puts")
    _keys(p, 32, 32)
    p.add_argument(
        "--put-rate", type=float, default=100, help="puts per second (default %(default)s)"
    )


def _workload(workloads: Any, kind: Workload, help: str, example: str) -> argparse.ArgumentParser:
    """One ``bench WORKLOAD`` parser with the connection options."""
    name = kind.value
    p = add_command(
        workloads,
        name,
        help=help,
        codes=CODES,
        example=f"etcdmon bench {name} --endpoints 127.0.0.1:2379 {example}",
    )
    add_connection_options(p)
    p.set_defaults(func=cmd_bench, workload_kind=kind)
    return p


def _rate(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--rate", type=float, default=0, help=f"maximum {what} per second (0 = none)")


def _key_space(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--key-space-size", type=int, default=1, help="maximum possible keys (default %(default)s)"
    )
