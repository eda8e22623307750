"""Real etcd clusters on loopback for integration tests, against every etcd version."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from etcdmon_gui.etcd.sandbox import Sandbox
from tests.support import VERSIONS, find_binary

HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session", params=VERSIONS, ids=lambda v: f"etcd{v}")
def etcd_binary(request: pytest.FixtureRequest) -> Path:
    return find_binary(request.param)


@pytest.fixture
def cluster(etcd_binary: Path) -> Iterator[Sandbox]:
    """A fresh 3-member cluster that the test may break as it likes."""
    with Sandbox(3, binary=etcd_binary) as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def shared_cluster(etcd_binary: Path) -> Iterator[Sandbox]:
    """A 3-member cluster shared by tests that only read."""
    with Sandbox(3, binary=etcd_binary) as sandbox:
        yield sandbox


HOW = "apt-get install gnome-keyring dbus (a real Secret Service for the keyring tests)"


@pytest.fixture
def secret_service(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A D-Bus session bus and an unlocked gnome-keyring with HOME in a temp dir."""
    for tool in ("dbus-daemon", "gnome-keyring-daemon"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} not found: {HOW}", pytrace=False)
    home = tmp_path / "home"
    runtime = tmp_path / "run"
    for d in (home, runtime):
        d.mkdir(mode=0o700)
    env = {
        **os.environ,
        "HOME": str(home),
        "XDG_RUNTIME_DIR": str(runtime),
        "XDG_DATA_HOME": str(home / ".local/share"),
    }
    bus = subprocess.run(
        ["dbus-daemon", "--session", "--fork", "--print-address=1", "--print-pid=1"],
        capture_output=True,
        text=True,
        env=env,
        timeout=10,
        check=True,
    )
    address, pid = bus.stdout.split()
    env["DBUS_SESSION_BUS_ADDRESS"] = address
    try:
        subprocess.run(
            ["gnome-keyring-daemon", "--unlock", "--components=secrets", "--daemonize"],
            input="keyring-login-pw",
            capture_output=True,
            text=True,
            env=env,
            timeout=10,
            check=True,
        )
        for name in ("HOME", "XDG_RUNTIME_DIR", "XDG_DATA_HOME", "DBUS_SESSION_BUS_ADDRESS"):
            monkeypatch.setenv(name, env[name])
        yield
    finally:
        # gnome-keyring-daemon leaves when its session bus goes away.
        os.kill(int(pid), signal.SIGTERM)
