"""What every ``etcdmon`` subcommand shares: its exit codes, and a parser whose help
ends with them and an example."""

from __future__ import annotations

import argparse
from typing import Any

# Exit codes of every subcommand. Each subcommand's --help says which it uses.
EXIT_OK = 0  # healthy, done, PASS
EXIT_FAIL = 1  # degraded or worse, a run with errors, FAIL, a profiles file with problems
EXIT_ERROR = 2  # unreachable, a connection, usage or configuration error


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
