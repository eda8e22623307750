"""What every ``etcdmon`` subcommand shares: its exit codes, and a parser whose help
ends with them and an example.

Which exception means which code is decided in one place, ``cli.exit_code``.
"""

from __future__ import annotations

import argparse
from typing import Any

# Exit codes of every subcommand. Each subcommand's --help says which it uses.
EXIT_OK = 0  # healthy, done, PASS
EXIT_FAIL = 1  # degraded or worse, a run with errors, FAIL, a profiles file with problems
EXIT_USAGE = 2  # a usage or configuration error (argparse's own code for bad flags)
EXIT_UNREACHABLE = 3  # the cluster could not be reached or refused us

#: The lines of an epilog's "exit codes:" for the codes every command means alike.
USAGE_CODE = (
    f"  {EXIT_USAGE}  a usage or configuration error: bad flags or endpoint, an unreadable file,\n"
    "     a malformed profiles, rules or channels file, an unknown profile, no usable\n"
    "     secret store"
)
UNREACHABLE_CODE = (
    f"  {EXIT_UNREACHABLE}  the cluster could not be reached or refused us: connection refused,\n"
    "     no answer in time, TLS handshake or authentication failure"
)


def add_command(
    sub: Any, name: str, *, help: str, codes: str, example: str, description: str | None = None
) -> argparse.ArgumentParser:
    """A subcommand parser whose help ends with its exit codes and an example."""
    parser: argparse.ArgumentParser = sub.add_parser(
        name,
        help=help,
        description=description or help[:1].upper() + help[1:] + ".",
        epilog=f"exit codes:\n{codes}\n\nexample:\n  {example}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    return parser
