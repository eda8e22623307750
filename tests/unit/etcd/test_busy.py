"""One operation or benchmark per cluster: in this process and across processes."""

from __future__ import annotations

import subprocess
import sys

import pytest

from etcdmon_gui.etcd import busy

HOLDER = """
import sys
from etcdmon_gui.etcd import busy
with busy.claim(busy.keys_for("profile:p1", 0xABC), "defragment"):
    print("held", flush=True)
    sys.stdin.readline()
"""


def test_a_claim_is_exclusive_in_this_process_and_released_after() -> None:
    keys = busy.keys_for("profile:p1", 0xABC)
    with busy.claim(keys, "a benchmark"):
        assert busy.holder(keys) is not None
        # Another connection key for the same etcd cluster collides too.
        with (
            pytest.raises(busy.ClusterBusyError, match="a benchmark is already running"),
            busy.claim(busy.keys_for("http://10.0.0.1:2379", 0xABC), "defragment"),
        ):
            pass
    assert busy.holder(keys) is None
    with busy.claim(keys, "defragment"):  # free again
        pass


def holder() -> subprocess.Popen[str]:
    """A process that holds the cluster until told (a line on its stdin) or killed."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_another_process_holding_the_cluster_is_seen_and_named() -> None:
    with holder() as proc:
        assert proc.stdin is not None
        try:
            with (
                pytest.raises(busy.ClusterBusyError, match=rf"defragment .*\(process {proc.pid}\)"),
                busy.claim(busy.keys_for("profile:other", 0xABC), "a benchmark"),
            ):
                pass
            assert busy.holder(busy.keys_for("profile:p1")) is None  # none left here
            proc.stdin.write("\n")
            proc.stdin.flush()
            assert proc.wait(timeout=10) == 0
        finally:
            proc.kill()
    with busy.claim(busy.keys_for("profile:p1", 0xABC), "a benchmark"):
        pass  # released when the other process let go


def test_a_killed_holder_releases_the_cluster() -> None:
    with holder() as proc:
        proc.kill()
    with busy.claim(busy.keys_for("profile:p1", 0xABC), "defragment"):
        pass
