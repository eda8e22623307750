"""The last HashKV check of each cluster, for the ``etcdMemberDataInconsistent`` rule.

A sweep cannot know whether the members' data agree: HashKV hashes a member's whole
key space, far too costly for every few seconds. So the check is an operation
(``ops.hashkv``) that publishes its result here, keyed by etcd's cluster id (so it
reaches the cluster's monitor whatever connection key either side uses), and each
``ClusterMonitor`` attaches the latest one to its snapshots. A mismatch therefore stays
on the snapshot, and the alert fires, until a later check agrees.

Process-wide and in memory: the desktop app's checks reach the app's monitors; a
check run by another process (``etcdmon ops hashkv`` beside ``etcdmon watch``) does
not reach this one, and a restart forgets it.
"""

from __future__ import annotations

import threading

from etcdmon_gui.model.ops import ConsistencyCheck

_lock = threading.Lock()
_latest: dict[int, ConsistencyCheck] = {}


def publish(check: ConsistencyCheck) -> None:
    """Keep ``check`` as its cluster's latest (an older one never replaces a newer)."""
    with _lock:
        held = _latest.get(check.cluster_id)
        if held is None or held.checked_at <= check.checked_at:
            _latest[check.cluster_id] = check


def latest(cluster_id: int | None) -> ConsistencyCheck | None:
    if cluster_id is None:
        return None
    with _lock:
        return _latest.get(cluster_id)


def forget(cluster_id: int) -> None:
    with _lock:
        _latest.pop(cluster_id, None)
