"""``etcdmon``: the command-line face of the monitoring core, for people and scripts.

One module per subcommand, each with ``register(subparsers)``; adding a subcommand is a
new module listed in ``COMMANDS``. Every error is one readable line on stderr; no
traceback unless ``--debug``.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from etcdmon_gui import __version__
from etcdmon_gui.cli import bench, check_perf, profile, sandbox, status, watch
from etcdmon_gui.cli.common import EXIT_ERROR
from etcdmon_gui.connection_args import UsageError
from etcdmon_gui.etcd.sandbox import SandboxError
from etcdmon_gui.model.errors import EtcdError
from etcdmon_gui.monitor.alert_rules import RulesError
from etcdmon_gui.store.channels import ChannelStoreError
from etcdmon_gui.store.profiles import ProfileStoreError
from etcdmon_gui.store.secrets import SecretStoreError

COMMANDS = (status, watch, profile, bench, check_perf, sandbox)

_READABLE = (
    UsageError,
    EtcdError,
    SandboxError,
    ProfileStoreError,
    SecretStoreError,
    RulesError,
    ChannelStoreError,
)

EPILOG = """exit codes (each command's --help says which it uses):
  0  healthy, done, PASS
  1  degraded or worse; a run with errors; FAIL; a profiles file with problems
  2  unreachable, or a connection, usage or configuration error

examples:
  etcdmon status --endpoints 10.0.0.1:2379
  etcdmon watch --profile prod --webhook https://hooks.example/etcd
  etcdmon bench put --endpoints 127.0.0.1:2379 --clients 100 --conns 10 --total 50000
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="etcdmon",
        description="Watch etcd clusters' health.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"etcdmon {__version__}")
    parser.add_argument("--debug", action="store_true", help="log details and show tracebacks")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.func(args))
    except _READABLE as exc:
        if args.debug:
            raise
        print(f"etcdmon: {exc}", file=sys.stderr)
        return EXIT_ERROR
