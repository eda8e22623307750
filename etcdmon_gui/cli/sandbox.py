"""``etcdmon sandbox``: a local etcd cluster on loopback until Ctrl-C.

Ctrl-C or SIGTERM stops the members and removes their data; a second signal only says
it is still stopping, a third kills the members at once and exits (see
``etcd.sandbox.SignalStop``). No burst of signals leaves a member or a data directory
behind.
"""

from __future__ import annotations

import argparse
from typing import Any

from etcdmon_gui.cli.common import EXIT_OK, USAGE_CODE, add_command
from etcdmon_gui.etcd.sandbox import Sandbox, SandboxCancelledError, SignalStop


def cmd_sandbox(args: argparse.Namespace) -> int:
    with SignalStop("etcdmon", stopping="still stopping the sandbox") as signals:
        sandbox = Sandbox(args.members)
        try:
            sandbox.start(stop=signals.event)
        except SandboxCancelledError:
            print("stopped before the sandbox was up; nothing is left behind", flush=True)
            return EXIT_OK
        try:
            print(f"etcd {sandbox.version} sandbox with {args.members} member(s) is up.")
            print(f"  endpoints: {sandbox.endpoints_arg}")
            print(f"  try:       etcdmon status --endpoints {sandbox.endpoints_arg}")
            print("Press Ctrl-C to stop it.", flush=True)
            signals.event.wait()
            print("stopping the sandbox ...", flush=True)
        finally:
            sandbox.stop()
    return EXIT_OK


def register(sub: Any) -> None:
    p = add_command(
        sub,
        "sandbox",
        help="run a local etcd cluster until Ctrl-C",
        codes="  0  stopped by Ctrl-C or SIGTERM\n"
        f"{USAGE_CODE}, or the local cluster could not start (e.g. no etcd binary)\n"
        "  130/143  a third Ctrl-C/SIGTERM while stopping: members killed, data removed",
        example="etcdmon sandbox --members 3",
    )
    p.add_argument("--members", type=int, default=3, help="number of members (default 3)")
    p.set_defaults(func=cmd_sandbox)
