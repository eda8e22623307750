"""One maintenance operation or benchmark per cluster at a time, process-wide.

``ops`` (the operation runner) and ``bench`` (the engine) are sibling layers that must
not know each other, so the claim they both take lives here, below both. A cluster is
named by every key it is known by: the connection key (profile or endpoint list) and,
once an answer gave it, etcd's cluster id, so two profiles of one cluster collide too.

    with busy.claim(busy.keys_for(config.key, cluster_id), "defragment"):
        ...

A claim held elsewhere raises ``ClusterBusyError`` naming what holds it and since when.
Claims are in memory: another process (``etcdmon ops`` beside the desktop app) is not
seen.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from etcdmon_gui.model.errors import EtcdError


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


@contextmanager
def claim(keys: Iterable[str], what: str) -> Iterator[Claim]:
    """Hold the cluster named by ``keys`` for ``what`` until the block ends."""
    wanted = tuple(dict.fromkeys(keys))
    with _lock:
        taken = next((_held[k] for k in wanted if k in _held), None)
        if taken is not None:
            ago = max(0.0, time.time() - taken.since)
            raise ClusterBusyError(
                f"{taken.what} is already running on this cluster (for {ago:.0f} s); "
                f"one operation or benchmark per cluster at a time: wait for it to end"
            )
        mine = Claim(what, wanted, time.time())
        for k in wanted:
            _held[k] = mine
    try:
        yield mine
    finally:
        with _lock:
            for k in wanted:
                if _held.get(k) is mine:
                    del _held[k]
