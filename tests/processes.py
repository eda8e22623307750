"""Helpers for tests that run the real programs as subprocesses: reading what they
print, the desktop app's environment, and the etcd members a process started."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, TypeVar

import psutil
import pytest

from etcdmon_gui.etcd.sandbox import Sandbox
from tests.support import VERSIONS, find_binary

WAIT = 30.0
T = TypeVar("T")


def poll(what: str, probe: Callable[[], T | None], timeout: float = WAIT) -> T:
    """``probe()`` until it gives something, or fail saying ``what`` never happened."""
    deadline = time.monotonic() + timeout
    while True:
        found = probe()
        if found is not None:
            return found
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {timeout:g} s", pytrace=False)
        time.sleep(0.05)


class Lines:
    """Reads a stream on a thread; ``wait_for`` blocks until a line matches."""

    def __init__(self, stream: IO[str] | None) -> None:
        assert stream is not None
        self.lines: list[str] = []
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            with self._cond:
                self.lines.append(line.rstrip("\n"))
                self._cond.notify_all()

    def wait_for(self, pattern: str, timeout: float = WAIT) -> re.Match[str]:
        regex = re.compile(pattern)

        def first() -> re.Match[str] | None:
            return next((m for line in self.lines if (m := regex.search(line))), None)

        with self._cond:
            assert self._cond.wait_for(lambda: first() is not None, timeout), (
                f"no line matching {pattern!r} in {self.lines}"
            )
            found = first()
            assert found is not None
            return found


def app_env(tmp_path: Path) -> dict[str, str]:
    """The desktop app offscreen, with its own config, data and sandbox directories."""
    return {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "ETCDMON_ETCD_BIN": str(find_binary(VERSIONS[0])),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "TMPDIR": str(tmp_path),
    }


def sandbox_members(pid: int) -> list[psutil.Process]:
    """The sandbox members a process started (not a passing `etcd --version`), by
    their --name flag."""
    found = []
    for p in psutil.Process(pid).children(recursive=True):
        with contextlib.suppress(psutil.Error):
            if any(arg.startswith("--name=") for arg in p.cmdline()):
                found.append(p)
    return found


def run_watch(cluster: Sandbox, rules: Path, *extra: str) -> subprocess.Popen[str]:
    """`etcdmon watch` of ``cluster`` every second with ``rules``, its output piped."""
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "etcdmon_gui.cli",
            "watch",
            "--endpoints",
            cluster.endpoints[0],
            "--interval",
            "1s",
            "--rules",
            str(rules),
            "--timeout",
            "1",
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
