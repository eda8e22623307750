"""Every test runs with its own empty config, data and state directories, so nothing a
test writes (profiles, alert history, settings) lands in the user's real ones."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def private_user_dirs(tmp_path_factory: pytest.TempPathFactory,
                      monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path_factory.mktemp("user")
    for name in ("CONFIG", "DATA", "STATE", "CACHE"):
        path = Path(home, name.lower())
        path.mkdir()
        monkeypatch.setenv(f"XDG_{name}_HOME", str(path))
    monkeypatch.delenv("ETCDMON_PROFILES", raising=False)
