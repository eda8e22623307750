"""Ordinary calls to one cluster on grpcio: the benchmark's checks and cleanup, and the
maintenance operations (``ops/``).

Nothing here is on a hot path, so it uses grpcio's synchronous stubs like the rest of
the project: one channel per endpoint with a local subchannel pool, the auth token as
per-call metadata (fetched again once when it expires), a deadline on every call, and
failures turned into readable ``EtcdError``s by ``errors.from_rpc_error``.

Calls that concern one member (Status, Defragment, HashKV, Snapshot) take that member's
endpoint; MoveLeader must be sent to the current leader's. Cluster-wide calls (Range,
Compact, Alarm, Member*) go to the first configured endpoint that answers.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf.message import Message
from pyetcd import etcdrpc

from etcdmon_gui.etcd import messages
from etcdmon_gui.etcd import tls as tls_mod
from etcdmon_gui.etcd.errors import from_rpc_error
from etcdmon_gui.etcd.tls_inspect import cert_info
from etcdmon_gui.model.connection import ConnectionConfig, Endpoint, parse_endpoint
from etcdmon_gui.model.errors import (
    AuthenticationError,
    EtcdError,
    PermissionDeniedError,
    ServerError,
    UnreachableError,
)
from etcdmon_gui.model.raw import MemberInfo, StatusAnswer
from etcdmon_gui.model.snapshot import AlarmInfo

log = logging.getLogger(__name__)

CLEANUP_TIMEOUT_S = 120.0  # deleting millions of keys or defragmenting takes a while
DEFRAG_TIMEOUT_S = 600.0  # etcd rewrites the whole database file; GBs take minutes
COMPACT_TIMEOUT_S = 120.0  # physical compaction waits for the backend
MOVE_LEADER_TIMEOUT_S = 30.0  # etcd gives the transfer an election timeout or so
SNAPSHOT_MIN_TIMEOUT_S = 60.0
SNAPSHOT_MIN_RATE = 5_000_000  # bytes/s: a slower stream is a stuck one
ALARM_NAMES = {1: "NOSPACE", 2: "CORRUPT"}
# etcd's answers that another member may not give (this one is busy or was cut off).
_TRY_ELSEWHERE = ("leader changed", "timed out", "not capable", "too many requests", "stopped")
ALARM_TYPES = {name: number for number, name in ALARM_NAMES.items()}


def alarm_name(number: int) -> str:
    return ALARM_NAMES.get(number, f"UNKNOWN({number})")


def snapshot_timeout(db_size: int | None) -> float:
    """A deadline for streaming a snapshot of ``db_size`` bytes (a slow disk's rate)."""
    return SNAPSHOT_MIN_TIMEOUT_S + (db_size or 0) / SNAPSHOT_MIN_RATE


@dataclass(frozen=True, slots=True)
class HashKVAnswer:
    member_id: int
    hash: int
    compact_revision: int
    revision: int  # the member's current revision (header)


@dataclass(frozen=True, slots=True)
class SnapshotChunk:
    """One message of the Snapshot stream: ``blob`` and what is left after it."""

    blob: bytes
    remaining_bytes: int
    revision: int | None  # the header's revision, when the server fills it (3.6+)


class ControlClient:
    """Ordinary calls to one cluster. Use from one thread at a time; ``close()`` after.

    ``cluster_id`` is etcd's cluster id as the last answer's header gave it (0 before
    any answer)."""

    def __init__(self, config: ConnectionConfig) -> None:
        self.config = config
        self._creds = tls_mod.grpc_credentials(config.tls) if config.uses_tls else None
        self._channels: dict[str, grpc.Channel] = {}
        self._lock = threading.Lock()  # close() may come from another thread (shutdown)
        self._closed = False
        self.token: str | None = None
        self.cluster_id = 0

    # -- plumbing ----------------------------------------------------------------------

    def _channel(self, ep: Endpoint) -> grpc.Channel:
        ch = self._channels.get(ep.url)
        if ch is None:
            options: list[tuple[str, Any]] = [
                ("grpc.use_local_subchannel_pool", 1),
                *tls_mod.grpc_options(self.config.tls),
            ]
            tls = self.config.tls
            if ep.secure and tls is not None and tls.insecure_skip_verify:
                # gRPC cannot switch verification off: trust exactly the certificate the
                # member presents now, under the name it carries (as the probe does).
                try:
                    pem = tls_mod.fetch_server_certificate(
                        ep.host, ep.port, tls, self.config.timeout_s
                    )
                except (OSError, ValueError) as exc:
                    raise UnreachableError(
                        f"cannot read the certificate of {ep.target}: {exc}"
                    ) from None
                name = tls.server_name or next(iter(cert_info(pem).sans), None) or ep.host
                options.append(("grpc.ssl_target_name_override", name))
                creds = grpc.ssl_channel_credentials(
                    root_certificates=pem, private_key=tls.key, certificate_chain=tls.cert
                )
                ch = grpc.secure_channel(ep.target, creds, options=options)
            elif ep.secure:
                assert self._creds is not None
                ch = grpc.secure_channel(ep.target, self._creds, options=options)
            else:
                ch = grpc.insecure_channel(ep.target, options=options)
            with self._lock:
                if self._closed:  # closed meanwhile: a call now fails, as after close()
                    ch.close()
                    raise UnreachableError(f"the connection to {ep.target} was closed")
                self._channels[ep.url] = ch
        return ch

    def _metadata(self) -> tuple[tuple[str, str], ...] | None:
        return (("token", self.token),) if self.token else None

    def _invoke(
        self,
        ep: Endpoint,
        method: Callable[[grpc.Channel], Any],
        request: Message,
        timeout: float | None,
    ) -> Any:
        """One unary call with a deadline; an expired token is renewed once."""
        timeout = timeout or self.config.timeout_s
        for attempt in (1, 2):
            try:
                resp = method(self._channel(ep))(
                    request, timeout=timeout, metadata=self._metadata()
                )
            except grpc.RpcError as exc:
                error = from_rpc_error(exc, ep.target, user=self.config.user, timeout=timeout)
                if (
                    attempt == 1
                    and self.token
                    and isinstance(error, AuthenticationError)
                    and "invalid auth token" in str(error)
                ):
                    self.authenticate()
                    continue
                raise error from None
            except ValueError:  # "Cannot invoke RPC on closed channel!"
                raise EtcdError("the connection has been closed") from None
            header = getattr(resp, "header", None)
            if header is not None and header.cluster_id:
                self.cluster_id = int(header.cluster_id)
            return resp
        raise AssertionError("unreachable")

    def _call(
        self,
        ep: Endpoint,
        stub_cls: Any,
        method: str,
        request: Message,
        timeout: float | None = None,
    ) -> Any:
        return self._invoke(ep, lambda ch: getattr(stub_cls(ch), method), request, timeout)

    def _any(
        self, stub_cls: Any, method: str, request: Message, timeout: float | None = None
    ) -> Any:
        """The first endpoint's answer, trying the others when one cannot be reached."""
        return self._first(lambda ep: self._call(ep, stub_cls, method, request, timeout))

    def _first(self, call: Callable[[Endpoint], Any]) -> Any:
        """``call`` on the first endpoint that answers; an answer that is etcd's own
        refusal ("future revision", "too many learners") is not asked of the others."""
        errors: list[EtcdError] = []
        for ep in self.config.endpoints:
            try:
                return call(ep)
            except (AuthenticationError, PermissionDeniedError):
                raise
            except ServerError as exc:
                if not any(t in str(exc) for t in _TRY_ELSEWHERE):
                    raise
                errors.append(exc)
            except EtcdError as exc:
                errors.append(exc)
        raise errors[0]

    @staticmethod
    def endpoint(url: str) -> Endpoint:
        """A member's client URL as an endpoint (``BadEndpointError`` if unusable)."""
        return parse_endpoint(url)

    # -- reads and writes ----------------------------------------------------------------

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

    def revision(self) -> int:
        """The cluster's current revision (a linearizable read of one key)."""
        req = etcdrpc.RangeRequest(key=self.config.probe_key, limit=1, count_only=True)
        return int(self._any(etcdrpc.KVStub, "Range", req).header.revision)

    def get(self, key: bytes) -> bytes | None:
        """The value of ``key`` (linearizable), None if there is none."""
        resp = self._any(etcdrpc.KVStub, "Range", etcdrpc.RangeRequest(key=key))
        return bytes(resp.kvs[0].value) if resp.kvs else None

    def put(self, key: bytes, value: bytes) -> int:
        """Write ``key``; the revision of the write."""
        resp = self._any(etcdrpc.KVStub, "Put", etcdrpc.PutRequest(key=key, value=value))
        return int(resp.header.revision)

    def delete(self, prefix: bytes, end: bytes = b"") -> tuple[int, int]:
        """Delete [prefix, end) (only ``prefix`` when ``end`` is empty); the number
        deleted and the revision after."""
        resp = self._any(
            etcdrpc.KVStub,
            "DeleteRange",
            etcdrpc.DeleteRangeRequest(key=prefix, range_end=end),
            CLEANUP_TIMEOUT_S,
        )
        return int(resp.deleted), int(resp.header.revision)

    def compact(self, revision: int, *, physical: bool = False) -> bool:
        """Compact history up to ``revision``; False if it was compacted already.
        ``physical``: answer only once the members' backends have compacted."""
        try:
            self._any(
                etcdrpc.KVStub,
                "Compact",
                etcdrpc.CompactionRequest(revision=revision, physical=physical),
                COMPACT_TIMEOUT_S if physical else CLEANUP_TIMEOUT_S,
            )
        except EtcdError as exc:
            if "compacted" in str(exc):
                return False
            raise
        return True

    # -- maintenance ---------------------------------------------------------------------

    def status(self, ep: Endpoint, timeout: float | None = None) -> StatusAnswer:
        """The member at ``ep``: its id, DB size and use, raft index, leader, errors, and
        its current revision."""
        started = time.perf_counter()
        resp = self._call(ep, etcdrpc.MaintenanceStub, "Status", etcdrpc.StatusRequest(), timeout)
        return messages.status_answer(resp, time.perf_counter() - started)

    def known_cluster_id(self) -> int:
        """etcd's cluster id: from the answers so far, else asked (MemberList)."""
        if not self.cluster_id:
            self.member_list()
        return self.cluster_id

    def member_list(self) -> list[MemberInfo]:
        resp = self._any(etcdrpc.ClusterStub, "MemberList", etcdrpc.MemberListRequest())
        return [messages.member_info(m, int(resp.header.cluster_id)) for m in resp.members]

    def alarm_list(self) -> list[AlarmInfo]:
        """Every active alarm, each with the member that raised it."""
        resp = self._any(
            etcdrpc.MaintenanceStub, "Alarm", etcdrpc.AlarmRequest(action=etcdrpc.AlarmRequest.GET)
        )
        return [
            AlarmInfo(int(a.memberID), alarm_name(int(a.alarm)))
            for a in resp.alarms
            if int(a.alarm) != 0
        ]

    def alarms(self) -> list[str]:
        """Active alarms in words, e.g. ``["NOSPACE on member 8e9e05c52164694d"]``."""
        return [f"{a.alarm} on member {a.member_id:x}" for a in self.alarm_list()]

    def alarm_disarm(self, member_id: int, alarm: str = "NOSPACE") -> list[AlarmInfo]:
        """Deactivate ``alarm`` raised by ``member_id``; the alarms the answer names."""
        req = etcdrpc.AlarmRequest(
            action=etcdrpc.AlarmRequest.DEACTIVATE, memberID=member_id, alarm=ALARM_TYPES[alarm]
        )
        resp = self._any(etcdrpc.MaintenanceStub, "Alarm", req)
        return [AlarmInfo(int(a.memberID), alarm_name(int(a.alarm))) for a in resp.alarms]

    def defragment_member(self, ep: Endpoint, timeout: float = DEFRAG_TIMEOUT_S) -> None:
        """Defragment the member at ``ep``; it serves nothing until this returns."""
        self._call(ep, etcdrpc.MaintenanceStub, "Defragment", etcdrpc.DefragmentRequest(), timeout)

    def defragment(self) -> list[str]:
        """Defragment every configured member, one at a time; the endpoints done."""
        done = []
        for ep in self.config.endpoints:
            self.defragment_member(ep, CLEANUP_TIMEOUT_S)
            done.append(ep.url)
        return done

    def hash_kv(self, ep: Endpoint, revision: int, timeout: float | None = None) -> HashKVAnswer:
        """The hash of the member's key space up to ``revision`` (0: its latest)."""
        resp = self._call(
            ep,
            etcdrpc.MaintenanceStub,
            "HashKV",
            etcdrpc.HashKVRequest(revision=revision),
            timeout or max(self.config.timeout_s, 30.0),
        )
        return HashKVAnswer(
            int(resp.header.member_id),
            int(resp.hash),
            int(resp.compact_revision),
            int(resp.header.revision),
        )

    def move_leader(self, leader: Endpoint, target_id: int) -> None:
        """Hand leadership to ``target_id``; must be sent to the current leader."""
        self._call(
            leader,
            etcdrpc.MaintenanceStub,
            "MoveLeader",
            etcdrpc.MoveLeaderRequest(targetID=target_id),
            MOVE_LEADER_TIMEOUT_S,
        )

    def snapshot(self, ep: Endpoint, timeout: float) -> Iterator[SnapshotChunk]:
        """The member's database as a stream, ending with its SHA-256 (32 bytes), as
        etcd sends it; the whole stream within ``timeout``. Closing the iterator early
        cancels the call."""
        stub = etcdrpc.MaintenanceStub(self._channel(ep))
        try:
            call = stub.Snapshot(
                etcdrpc.SnapshotRequest(), timeout=timeout, metadata=self._metadata()
            )
        except ValueError:
            raise EtcdError("the connection has been closed") from None
        try:
            for resp in call:
                revision = int(resp.header.revision) if resp.HasField("header") else None
                yield SnapshotChunk(bytes(resp.blob), int(resp.remaining_bytes), revision or None)
        except grpc.RpcError as exc:
            raise from_rpc_error(exc, ep.target, user=self.config.user, timeout=timeout) from None
        finally:
            call.cancel()

    # -- membership ----------------------------------------------------------------------

    def member_add(
        self, peer_urls: list[str], *, is_learner: bool = False
    ) -> tuple[MemberInfo, list[MemberInfo]]:
        """Add a member (a learner when asked; etcd 3.4+); the new member and all."""
        extra = messages.MEMBER_ADD_IS_LEARNER if is_learner else b""

        def method(ch: grpc.Channel) -> Any:
            return ch.unary_unary(
                "/etcdserverpb.Cluster/MemberAdd",
                request_serializer=lambda r: r.SerializeToString() + extra,
                response_deserializer=etcdrpc.MemberAddResponse.FromString,
            )

        req = etcdrpc.MemberAddRequest(peerURLs=peer_urls)
        resp = self._first(lambda ep: self._invoke(ep, method, req, None))
        cid = int(resp.header.cluster_id)
        return (
            messages.member_info(resp.member, cid),
            [messages.member_info(m, cid) for m in resp.members],
        )

    def member_promote(self, member_id: int) -> list[MemberInfo]:
        """Make a caught-up learner a voting member (etcd 3.4+); the members after."""

        def method(ch: grpc.Channel) -> Any:
            return ch.unary_unary(
                messages.MEMBER_PROMOTE_PATH,
                request_serializer=etcdrpc.MemberRemoveRequest.SerializeToString,
                response_deserializer=etcdrpc.MemberRemoveResponse.FromString,
            )

        req = etcdrpc.MemberRemoveRequest(ID=member_id)
        resp = self._first(lambda ep: self._invoke(ep, method, req, None))
        return self._members(resp)

    def member_remove(self, member_id: int) -> list[MemberInfo]:
        resp = self._any(
            etcdrpc.ClusterStub, "MemberRemove", etcdrpc.MemberRemoveRequest(ID=member_id)
        )
        return self._members(resp)

    def member_update(self, member_id: int, peer_urls: list[str]) -> list[MemberInfo]:
        resp = self._any(
            etcdrpc.ClusterStub,
            "MemberUpdate",
            etcdrpc.MemberUpdateRequest(ID=member_id, peerURLs=peer_urls),
        )
        return self._members(resp)

    @staticmethod
    def _members(resp: Any) -> list[MemberInfo]:
        cid = int(resp.header.cluster_id)
        return [messages.member_info(m, cid) for m in resp.members]

    # -- life cycle ----------------------------------------------------------------------

    def close(self) -> None:
        """Close every channel, ending calls in flight; safe from any thread, twice too."""
        with self._lock:
            self._closed = True
            channels, self._channels = list(self._channels.values()), {}
        for ch in channels:
            ch.close()

    def __enter__(self) -> ControlClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
