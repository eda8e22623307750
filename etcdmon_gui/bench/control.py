"""The benchmark's own refusal. The ordinary calls around a run (auth, checks, cleanup)
are ``etcd.control.ControlClient``'s, shared with the maintenance operations."""

from __future__ import annotations

from etcdmon_gui.model.errors import EtcdError


class BenchError(EtcdError):
    """The benchmark cannot or may not run (non-empty prefix, active alarm, ...)."""
