"""The real `etcdmon-gui --sandbox` under a burst of SIGINT and SIGTERM: it ends quickly,
through its shutdown or, after the third signal, a forced exit, and either way its
sandbox's etcd members are gone and their data directories removed."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

from tests.processes import app_env, sandbox_members


def test_a_burst_of_signals_ends_the_app_and_its_sandbox(tmp_path: Path) -> None:
    env = app_env(tmp_path)
    with subprocess.Popen(
        [sys.executable, "-m", "etcdmon_gui.app", "--sandbox"],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        try:
            deadline = time.monotonic() + 60
            while len(members := sandbox_members(proc.pid)) < 3:
                assert time.monotonic() < deadline, "the sandbox did not start"
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                time.sleep(0.1)
            for i in range(300):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid, (signal.SIGINT, signal.SIGTERM)[i % 2])
            code = proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
        assert proc.stderr is not None
        stderr = proc.stderr.read()
    assert code in (0, 128 + signal.SIGINT, 128 + signal.SIGTERM), stderr
    assert "Traceback" not in stderr, stderr
    alive = [p.pid for p in members if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert alive == [], f"etcd members left running: {alive}"
    assert list(tmp_path.glob("etcdmon-sandbox-*")) == []
