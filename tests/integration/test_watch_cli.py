"""`etcdmon watch` against a real cluster: a member stops, an alert fires, then resolves."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

from etcdmon_gui.etcd.sandbox import Sandbox


class Lines:
    """Reads a process's stdout on a thread; ``wait_for`` blocks until a line matches."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self._thread.start()

    def _read(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            with self._cond:
                self.lines.append(line.rstrip("\n"))
                self._cond.notify_all()

    def wait_for(self, pattern: str, timeout: float = 30.0) -> re.Match[str]:
        regex = re.compile(pattern)

        def first() -> re.Match[str] | None:
            return next((m for line in self.lines if (m := regex.search(line))), None)

        with self._cond:
            assert self._cond.wait_for(lambda: first() is not None, timeout), (
                f"no line matching {pattern!r} in {self.lines}")
            found = first()
            assert found is not None
            return found


def test_member_down_fires_then_resolves_with_the_same_fingerprint(
    cluster: Sandbox, tmp_path: Path
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text("schema_version: 1\nrules:\n- name: etcdMembersDown\n  for: 2s\n")
    with subprocess.Popen(
        [sys.executable, "-m", "etcdmon_gui.cli", "watch", "--endpoints",
         cluster.endpoints[0], "--interval", "1s", "--rules", str(rules), "--timeout", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ),
    ) as proc:
        try:
            lines = Lines(proc)
            cluster.stop_member(2)
            fired = lines.wait_for(
                r"FIRING +warning +etcdMembersDown cluster=\S+ member=m2 "
                r"fingerprint=(\w+): etcd member m2 of \S+ is down: connection refused")
            cluster.restart_member(2)
            resolved = lines.wait_for(r"RESOLVED +warning +etcdMembersDown .*fingerprint=(\w+)")
            assert resolved.group(1) == fired.group(1)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=15)
        assert proc.returncode == 0, proc.stderr.read() if proc.stderr else ""


def test_malformed_rules_file_is_refused(shared_cluster: Sandbox, tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text("rules:\n- name: etcdMembersDown\n  for: whenever\n")
    out = subprocess.run(
        [sys.executable, "-m", "etcdmon_gui.cli", "watch", "--endpoints",
         shared_cluster.endpoints[0], "--rules", str(rules)],
        capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL,
    )
    assert out.returncode == 2
    assert f"{rules}: rule etcdMembersDown: field for: 'whenever' is not a duration" in out.stderr
