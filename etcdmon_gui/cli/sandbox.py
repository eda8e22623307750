"""``etcdmon sandbox``: a local etcd cluster on loopback until Ctrl-C."""

from __future__ import annotations

import argparse
import signal
import threading
from typing import Any

from etcdmon_gui.cli.common import EXIT_OK, USAGE_CODE, add_command
from etcdmon_gui.etcd.sandbox import Sandbox


def cmd_sandbox(args: argparse.Namespace) -> int:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    with Sandbox(args.members) as sandbox:
        print(f"etcd {sandbox.version} sandbox with {args.members} member(s) is up.")
        print(f"  endpoints: {sandbox.endpoints_arg}")
        print(f"  try:       etcdmon status --endpoints {sandbox.endpoints_arg}")
        print("Press Ctrl-C to stop it.", flush=True)
        stop.wait()
        print("stopping the sandbox ...", flush=True)
    return EXIT_OK


def register(sub: Any) -> None:
    p = add_command(
        sub,
        "sandbox",
        help="run a local etcd cluster until Ctrl-C",
        codes="  0  stopped by Ctrl-C or SIGTERM\n"
        f"{USAGE_CODE}, or the local cluster could not start (e.g. no etcd binary)",
        example="etcdmon sandbox --members 3",
    )
    p.add_argument("--members", type=int, default=3, help="number of members (default 3)")
    p.set_defaults(func=cmd_sandbox)
