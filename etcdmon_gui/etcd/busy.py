"""One maintenance operation or benchmark per cluster at a time, process-wide.

``ops`` (the operation runner) and ``bench`` (the engine) are sibling layers that must
not know each other, so the claim they both take lives here, below both. A cluster is
named by every key it is known by: the connection key (profile or endpoint list) and,
once an answer gave it, etcd's cluster id, so two profiles of one cluster collide too.

    with busy.claim(busy.keys_for(config.key, cluster_id), "defragment"):
        ...

A claim held elsewhere raises ``ClusterBusyError`` naming what holds it and since when.
Claims are kept in memory for this process and, for the others on this machine
(``etcdmon ops`` beside the desktop app), as an advisory lock (``flock``) on a file per
key in the user's runtime folder, which the system releases when a process ends, even
killed. Another machine's etcdmon is not seen: the cluster itself holds no lock.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from etcdmon_gui.model.errors import EtcdError

try:
    import fcntl
except ImportError:  # Windows: claims are this process's only
    fcntl = None  # type: ignore[assignment]


class ClusterBusyError(EtcdError):
    """Another operation or a benchmark already runs on the cluster."""


@dataclass(frozen=True, slots=True)
class Claim:
    what: str  # "defragment", "a benchmark", ...
    keys: tuple[str, ...]
    since: float  # time.time()


_lock = threading.Lock()
_held: dict[str, Claim] = {}


def keys_for(connection_key: str, cluster_id: int | None = None) -> tuple[str, ...]:
    """The names a cluster is claimed under."""
    keys = [f"connection:{connection_key}"] if connection_key else []
    if cluster_id:
        keys.append(f"cluster:{cluster_id:x}")
    return tuple(keys)


def holder(keys: Iterable[str]) -> Claim | None:
    """What holds any of ``keys`` now, if anything."""
    with _lock:
        return next((_held[k] for k in keys if k in _held), None)


def _busy(what: str, since: float, where: str = "") -> ClusterBusyError:
    ago = max(0.0, time.time() - since)
    return ClusterBusyError(
        f"{what} is already running on this cluster{where} (for {ago:.0f} s); "
        "one operation or benchmark per cluster at a time: wait for it to end"
    )


def lock_dir() -> Path:
    """Where the lock files are: the user's runtime folder (``XDG_RUNTIME_DIR`` on
    Linux), else a private folder in the temp one."""
    if not (sys.platform.startswith("linux") and not os.environ.get("XDG_RUNTIME_DIR")):
        with contextlib.suppress(OSError):
            return platformdirs.user_runtime_path("etcdmon-gui", ensure_exists=True)
    folder = Path(tempfile.gettempdir()) / f"etcdmon-gui-{os.getuid()}"
    folder.mkdir(mode=0o700, exist_ok=True)
    return folder


def _lock_files(keys: tuple[str, ...], what: str, since: float) -> list[int]:
    """Take the file lock of every key (none taken if one is held: ``ClusterBusyError``
    naming the other process and what it runs); the open descriptors."""
    if fcntl is None:
        return []
    folder = lock_dir()
    held: list[int] = []
    try:
        for key in keys:
            name = hashlib.sha256(key.encode()).hexdigest()[:24] + ".lock"
            fd = os.open(folder / name, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                other = os.pread(fd, 4096, 0).decode("utf-8", "replace").split("\n")
                os.close(fd)
                pid, when, doing = [*other, "", "", ""][:3]
                started = float(when) if when.replace(".", "", 1).isdigit() else time.time()
                raise _busy(doing or "another etcdmon", started, f" (process {pid})") from None
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n{since}\n{what}\n".encode(), 0)
            held.append(fd)
    except BaseException:
        _unlock(held)
        raise
    return held


def _unlock(fds: list[int]) -> None:
    for fd in fds:
        with contextlib.suppress(OSError):
            os.close(fd)  # closing the descriptor releases its flock


@contextmanager
def claim(keys: Iterable[str], what: str) -> Iterator[Claim]:
    """Hold the cluster named by ``keys`` for ``what`` until the block ends."""
    wanted = tuple(dict.fromkeys(keys))
    with _lock:
        taken = next((_held[k] for k in wanted if k in _held), None)
        if taken is not None:
            raise _busy(taken.what, taken.since)
        mine = Claim(what, wanted, time.time())
        files = _lock_files(wanted, what, mine.since)
        for k in wanted:
            _held[k] = mine
    try:
        yield mine
    finally:
        with _lock:
            for k in wanted:
                if _held.get(k) is mine:
                    del _held[k]
            _unlock(files)
