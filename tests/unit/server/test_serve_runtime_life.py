"""``ServerRuntime``'s life: one sweep thread per cluster whatever the order of start
and reloads, and a stop that waits for a reload in flight, after which a reload applies
nothing (no work queued on the shut alert thread, no sweep thread left running).

The clusters are a closed port on loopback: these tests are about threads, not etcd
(the served runtime against a real cluster is tests/integration/test_serve.py)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from etcdmon_gui.etcd.sandbox import free_ports
from etcdmon_gui.server.clusters import Resolved, resolve
from etcdmon_gui.server.config import load_config
from etcdmon_gui.server.history import open_history
from etcdmon_gui.server.runtime import ServerRuntime
from tests.processes import poll


def sweep_threads() -> list[str]:
    return sorted(t.name for t in threading.enumerate() if t.name.startswith("sweep-life-"))


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("CONFIG", "DATA", "STATE", "CACHE"):
        monkeypatch.setenv(f"XDG_{name}_HOME", str(tmp_path / name.lower()))
    monkeypatch.delenv("ETCDMON_PROFILES", raising=False)
    return tmp_path


def resolved(home: Path, *names: str) -> Resolved:
    ports = dict(zip(names, free_ports(len(names)), strict=True))
    endpoints = [
        {"name": f"life-{n}", "endpoints": f"127.0.0.1:{ports[n]}", "timeout_s": 0.5} for n in names
    ]
    return resolve(
        load_config(
            None,
            {
                "secrets": "memory",
                "channels": "none",
                "interval": "1s",
                "clusters": {"profiles": [], "endpoints": endpoints},
                "history": {"sqlite": str(home / "h.sqlite")},
            },
        )
    )


@pytest.fixture
def runtime(home: Path) -> Iterator[ServerRuntime]:
    first = resolved(home, "a")
    rt = ServerRuntime(first, open_history(first.config.history, print))
    try:
        yield rt
    finally:
        rt.stop()
    poll("every sweep thread ended", lambda: True if not sweep_threads() else None)


def test_a_reload_before_start_applies_nothing_and_start_watches_once(
    runtime: ServerRuntime, home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    assert runtime.reload(resolved(home, "a", "b")) is None
    assert "has not started yet" in caplog.text
    runtime.start()
    runtime.start()  # twice: nothing more
    assert sweep_threads() == ["sweep-life-a"]
    # a cluster watched already is refused: never two sweep threads for one cluster
    assert not runtime._watch(runtime.targets()[0])
    assert sweep_threads() == ["sweep-life-a"]
    summary = runtime.reload(resolved(home, "b"))
    assert summary is not None and "added: life-b" in summary and "removed: life-a" in summary
    poll("the removed cluster's thread ended", lambda: sweep_threads() == ["sweep-life-b"] or None)


def test_stop_waits_for_a_reload_in_flight_and_a_later_reload_applies_nothing(
    runtime: ServerRuntime, home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="etcdmon_gui.server.runtime")
    runtime.start()
    later = resolved(home, "a", "c")
    runtime._life.acquire()  # a reload in flight
    stopper = threading.Thread(target=runtime.stop, name="test-stop")
    stopper.start()
    poll("stop marked the runtime stopping", lambda: runtime._stopped or None)
    stopper.join(0.3)
    assert stopper.is_alive(), "stop went on alongside a reload in flight"
    assert not runtime._watch(later.targets[1])  # stopping: nothing starts any more
    runtime._life.release()
    stopper.join(15)
    assert not stopper.is_alive() and "stopped" in caplog.text
    assert runtime.reload(later) is None  # the alert thread is shut: no RuntimeError
    assert "the server is stopping: the new configuration is not applied" in caplog.text
    poll("every sweep thread ended", lambda: True if not sweep_threads() else None)
