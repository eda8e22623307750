"""``etcdmon check-perf``: etcdctl check perf's load presets and verdict."""

from __future__ import annotations

import argparse
import json
from typing import Any

from etcdmon_gui.bench.checkperf import ALIASES, check_perf_spec, judge, preset
from etcdmon_gui.bench.report import check_perf_json, render_check_perf
from etcdmon_gui.cli.bench import _guard, _out, _run, _safety, check_outputs, write_outputs
from etcdmon_gui.cli.common import EXIT_FAIL, EXIT_OK, UNREACHABLE_CODE, USAGE_CODE, add_command
from etcdmon_gui.connection_args import add_connection_options, connection_config
from etcdmon_gui.model.errors import ConfigError


def cmd_check_perf(args: argparse.Namespace) -> int:
    _guard(args)
    try:
        chosen = preset(args.load)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    spec = check_perf_spec(
        chosen,
        prefix=args.prefix,
        duration_s=args.duration,
        compact=args.compact,
        defragment=args.defragment,
    )
    check_outputs(args)
    config = connection_config(args)
    verdict = judge(chosen, _run(config, spec))
    if args.json:
        _out(json.dumps(check_perf_json(verdict), indent=2))
    else:
        _out(render_check_perf(verdict))
    write_outputs(args, verdict.result, verdict)
    return EXIT_OK if verdict.passed else EXIT_FAIL


def register(sub: Any) -> None:
    p = add_command(
        sub,
        "check-perf",
        help="etcdctl check perf: PASS or FAIL for a load level",
        description="Run etcdctl check perf's load (s=150 writes/s with 50 clients, "
        "m=1000/200, l=8000/500, xl=15000/1000; 60 s), paced as etcdctl paces it (one "
        "producer waits on the rate limiter, so a busy client sends less, as etcdctl's "
        "does), and judge it by its rules.",
        codes=f"  0  PASS\n  1  FAIL, or the run had errors\n{USAGE_CODE}\n{UNREACHABLE_CODE}",
        example="etcdmon check-perf --endpoints 127.0.0.1:2379 --load m",
    )
    add_connection_options(p)
    p.add_argument(
        "--load",
        default="s",
        choices=sorted(ALIASES),
        metavar="s|m|l|xl",
        help="workload model (default %(default)s)",
    )
    p.add_argument(
        "--duration",
        type=float,
        metavar="SECONDS",
        help="shorter than the preset's 60 s (for quick tries and tests)",
    )
    _safety(p)
    p.set_defaults(func=cmd_check_perf)
