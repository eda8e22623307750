"""Real etcd clusters on loopback for integration tests, against every etcd version."""

from __future__ import annotations

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
