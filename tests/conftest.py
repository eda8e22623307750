"""Every test runs with its own empty config, data and state directories, so nothing a
test writes (profiles, alert history, settings) lands in the user's real ones, and no
test may leave a notification thread running."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def private_user_dirs(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path_factory.mktemp("user")
    for name in ("CONFIG", "DATA", "STATE", "CACHE"):
        path = Path(home, name.lower())
        path.mkdir()
        monkeypatch.setenv(f"XDG_{name}_HOME", str(path))
    monkeypatch.delenv("ETCDMON_PROFILES", raising=False)


@pytest.fixture(autouse=True)
def no_leaked_notify_threads() -> Iterator[None]:
    """A dispatcher's workers must be gone when its test ends (close() joins them)."""
    before = set(threading.enumerate())
    yield
    leaked = [
        t.name
        for t in threading.enumerate()
        if t not in before and t.is_alive() and t.name.startswith("notify-")
    ]
    assert not leaked, f"notification threads still running after the test: {leaked}"
