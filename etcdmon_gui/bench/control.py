"""The few ordinary calls around a benchmark, on grpcio: auth, checks, cleanup.

These are not on the hot path, so they use grpcio's synchronous stubs like the rest
of the project (one channel per endpoint with a local subchannel pool, the auth token
as per-call metadata, a deadline on every call) and turn failures into readable
``EtcdError``s.
"""

from __future__ import annotations

import logging
from typing import Any

import grpc
from google.protobuf.message import Message
from pyetcd import etcdrpc

from etcdmon_gui.etcd import tls as tls_mod
from etcdmon_gui.etcd.errors import from_rpc_error
from etcdmon_gui.model.connection import ConnectionConfig, Endpoint
from etcdmon_gui.model.errors import AuthenticationError, EtcdError

log = logging.getLogger(__name__)

CLEANUP_TIMEOUT_S = 120.0  # deleting millions of keys or defragmenting takes a while
_ALARMS = {1: "NOSPACE", 2: "CORRUPT"}


class BenchError(EtcdError):
    """The benchmark cannot or may not run (non-empty prefix, active alarm, ...)."""


class ControlClient:
    """Ordinary calls to one cluster. Use from one thread at a time; ``close()`` after."""

    def __init__(self, config: ConnectionConfig) -> None:
        self.config = config
        self._creds = tls_mod.grpc_credentials(config.tls) if config.uses_tls else None
        self._channels: dict[str, grpc.Channel] = {}
        self.token: str | None = None

    def _channel(self, ep: Endpoint) -> grpc.Channel:
        ch = self._channels.get(ep.url)
        if ch is None:
            options: list[tuple[str, Any]] = [
                ("grpc.use_local_subchannel_pool", 1),
                *tls_mod.grpc_options(self.config.tls),
            ]
            if ep.secure:
                assert self._creds is not None
                ch = grpc.secure_channel(ep.target, self._creds, options=options)
            else:
                ch = grpc.insecure_channel(ep.target, options=options)
            self._channels[ep.url] = ch
        return ch

    def _call(
        self,
        ep: Endpoint,
        stub_cls: Any,
        method: str,
        request: Message,
        timeout: float | None = None,
    ) -> Any:
        timeout = timeout or self.config.timeout_s
        metadata = (("token", self.token),) if self.token else None
        try:
            return getattr(stub_cls(self._channel(ep)), method)(
                request, timeout=timeout, metadata=metadata
            )
        except grpc.RpcError as exc:
            raise from_rpc_error(exc, ep.target, user=self.config.user, timeout=timeout) from None

    def _any(
        self, stub_cls: Any, method: str, request: Message, timeout: float | None = None
    ) -> Any:
        """The first endpoint's answer, trying the others when one cannot be reached."""
        errors: list[EtcdError] = []
        for ep in self.config.endpoints:
            try:
                return self._call(ep, stub_cls, method, request, timeout)
            except (AuthenticationError, BenchError):
                raise
            except EtcdError as exc:
                errors.append(exc)
        raise errors[0]

    # -- the calls ---------------------------------------------------------------------

    def authenticate(self) -> str | None:
        """Get a token when the connection has a user and password; None otherwise."""
        if not self.config.user or self.config.password is None:
            return None
        self.token = None
        req = etcdrpc.AuthenticateRequest(name=self.config.user, password=self.config.password)
        self.token = self._any(etcdrpc.AuthStub, "Authenticate", req).token
        return self.token

    def count(self, prefix: bytes, end: bytes) -> tuple[int, int]:
        """Keys in [prefix, end) and the current revision (linearizable)."""
        resp = self._any(
            etcdrpc.KVStub,
            "Range",
            etcdrpc.RangeRequest(key=prefix, range_end=end, count_only=True),
        )
        return int(resp.count), int(resp.header.revision)

    def alarms(self) -> list[str]:
        """Active alarms, e.g. ``["NOSPACE on member 8e9e05c52164694d"]``."""
        resp = self._any(
            etcdrpc.MaintenanceStub, "Alarm", etcdrpc.AlarmRequest(action=etcdrpc.AlarmRequest.GET)
        )
        return [
            f"{_ALARMS.get(int(a.alarm), str(a.alarm))} on member {a.memberID:x}"
            for a in resp.alarms
            if int(a.alarm) != 0
        ]

    def delete(self, prefix: bytes, end: bytes) -> tuple[int, int]:
        """Delete [prefix, end); the number deleted and the revision after."""
        resp = self._any(
            etcdrpc.KVStub,
            "DeleteRange",
            etcdrpc.DeleteRangeRequest(key=prefix, range_end=end),
            CLEANUP_TIMEOUT_S,
        )
        return int(resp.deleted), int(resp.header.revision)

    def compact(self, revision: int) -> bool:
        """Compact history up to ``revision``; False if it was compacted already."""
        try:
            self._any(
                etcdrpc.KVStub,
                "Compact",
                etcdrpc.CompactionRequest(revision=revision),
                CLEANUP_TIMEOUT_S,
            )
        except EtcdError as exc:
            if "compacted" in str(exc):
                return False
            raise
        return True

    def defragment(self) -> list[str]:
        """Defragment every configured member, one at a time; the endpoints done."""
        done = []
        for ep in self.config.endpoints:
            self._call(
                ep,
                etcdrpc.MaintenanceStub,
                "Defragment",
                etcdrpc.DefragmentRequest(),
                CLEANUP_TIMEOUT_S,
            )
            done.append(ep.url)
        return done

    def close(self) -> None:
        for ch in self._channels.values():
            ch.close()
        self._channels.clear()

    def __enter__(self) -> ControlClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
