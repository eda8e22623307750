"""``etcdmon``: the command-line face of the monitoring core, for people and scripts.

One module per subcommand, each with ``register(subparsers)``; adding a subcommand is a
new module listed in ``COMMANDS``. Every error is one readable line on stderr; no
traceback unless ``--debug``.

Exit codes, the same for every subcommand (each one's ``--help`` lists those it uses):

- 0: healthy, done, PASS;
- 1: degraded or worse, a run with errors, FAIL, a profiles file with problems;
- 2: a usage or configuration error: bad flags (argparse's own code) or endpoint, an
  unreadable file, a malformed profiles, rules or channels file, an unknown profile, no
  usable secret store;
- 3: the cluster could not be reached or refused us: an unreachable verdict, connection
  refused, no answer in time, a TLS handshake or authentication failure.

A command returns 0 or 1 (``status`` also 3 for an unreachable verdict); an error it
raises gets its code from ``exit_code``, the one place that maps error types to codes.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from etcdmon_gui import __version__
from etcdmon_gui.cli import (
    bench,
    check_perf,
    desktop,
    ops,
    profile,
    report,
    sandbox,
    serve,
    status,
    watch,
)
from etcdmon_gui.cli.common import (
    EXIT_UNREACHABLE,
    EXIT_USAGE,
    UNREACHABLE_CODE,
    USAGE_CODE,
)
from etcdmon_gui.connection_args import UsageError
from etcdmon_gui.etcd.sandbox import SandboxError
from etcdmon_gui.model.errors import BadEndpointError, ConfigError, EtcdError
from etcdmon_gui.model.history import HistoryError
from etcdmon_gui.model.safety import ConfirmationRequiredError
from etcdmon_gui.monitor.alert_rules import RulesError
from etcdmon_gui.store.channels import ChannelStoreError
from etcdmon_gui.store.logs import ScrubFilter
from etcdmon_gui.store.profiles import ProfileStoreError
from etcdmon_gui.store.secrets import SecretStoreError

COMMANDS = (status, watch, serve, profile, bench, check_perf, sandbox, report, ops, desktop)

#: The exit code of each readable error; the first type that matches wins, so a
#: subclass comes before its base. Errors of other types are bugs: a traceback.
EXIT_CODES: tuple[tuple[type[Exception], int], ...] = (
    # what the user typed or configured
    (UsageError, EXIT_USAGE),
    (BadEndpointError, EXIT_USAGE),
    (ConfigError, EXIT_USAGE),  # inconsistent settings, an unreadable TLS file
    (ConfirmationRequiredError, EXIT_USAGE),  # a production profile without --confirm
    (ProfileStoreError, EXIT_USAGE),
    (ChannelStoreError, EXIT_USAGE),
    (RulesError, EXIT_USAGE),
    (SecretStoreError, EXIT_USAGE),  # locked keyring, wrong master password
    (SandboxError, EXIT_USAGE),  # no etcd binary to run a local cluster with
    (HistoryError, EXIT_USAGE),  # the history file: locked, read-only, damaged, newer
    # the cluster: refused, unreachable, deadline, TLS, authentication, permission, no
    # leader, etcd declined (a benchmark's checks: an alarm, a non-empty prefix)
    (EtcdError, EXIT_UNREACHABLE),
)

_READABLE = tuple(kind for kind, _ in EXIT_CODES)


def exit_code(exc: Exception) -> int:
    """The exit code that ``exc``, an error for the user, means."""
    return next(code for kind, code in EXIT_CODES if isinstance(exc, kind))


EPILOG = f"""exit codes (each command's --help says which it uses):
  0  healthy, done, PASS
  1  degraded or worse; a run with errors; FAIL; a profiles file with problems
{USAGE_CODE}
{UNREACHABLE_CODE}

examples:
  etcdmon status --endpoints 10.0.0.1:2379
  etcdmon watch --profile prod --webhook https://hooks.example/etcd
  etcdmon bench put --endpoints 127.0.0.1:2379 --clients 100 --conns 10 --total 50000
  etcdmon report alerts --profile prod --from -7d --csv alerts.csv
  etcdmon ops defrag --profile prod --dry-run
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
        format="%(levelname)s %(name)s: %(message)s"
        if args.debug
        else "etcdmon: %(levelname)s: %(message)s",
    )
    for handler in logging.getLogger().handlers:  # the app's scrubbing, on stderr too
        handler.addFilter(ScrubFilter())
    try:
        return int(args.func(args))
    except _READABLE as exc:
        if args.debug:
            raise
        print(f"etcdmon: {exc}", file=sys.stderr)
        return exit_code(exc)
