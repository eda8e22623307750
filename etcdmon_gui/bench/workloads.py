"""The requests each workload sends, built as ready-to-send gRPC message bytes.

Key shapes follow etcd's ``tools/benchmark`` (3.5): a key is ``key_size`` zero bytes
with Go's ``binary.PutVarint`` of its number written at the front, here always after
the benchmark's prefix so that every key written can be found and deleted. Values are
random bytes, the same for every request of a run, except check perf's, which are
zeros as ``etcdctl check perf`` sends.

A source's ``request(i)`` returns ``(method path, message, kind)`` for request number
``i``; ``kind`` names the recorder its latency goes to.
"""

from __future__ import annotations

import logging
import os
import random

from pyetcd import etcdrpc

from etcdmon_gui.bench.grpc_h2 import grpc_message
from etcdmon_gui.model.bench import BenchSpec, Workload
from etcdmon_gui.model.errors import ConfigError

log = logging.getLogger(__name__)

KV_PUT = "/etcdserverpb.KV/Put"
KV_RANGE = "/etcdserverpb.KV/Range"
KV_TXN = "/etcdserverpb.KV/Txn"
WATCH = "/etcdserverpb.Watch/Watch"

_CACHE_BYTES = 64 * 2**20  # prebuilt messages for small key spaces, up to this size
MAX_VALUE_SIZE = 1_500_000  # etcd's default --max-request-bytes is 1.5 MiB


def uvarint(n: int) -> bytes:
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def go_varint(n: int) -> bytes:
    """Go's ``binary.PutVarint``: zig-zag, then unsigned varint."""
    return uvarint((n << 1) ^ (n >> 63) if n < 0 else n << 1)


def numbered_key(prefix: bytes, n: int, size: int) -> bytes:
    """``prefix`` + ``size`` bytes with ``n`` as a Go varint at the front."""
    head = go_varint(n)
    if len(head) > size:
        raise ConfigError(
            f"key size {size} is too small for key number {n} "
            f"(needs {len(head)} bytes): raise --key-size"
        )
    return prefix + head + bytes(size - len(head))


def prefix_end(prefix: bytes) -> bytes:
    """The end of the range holding every key that starts with ``prefix`` (etcd's rule)."""
    trimmed = bytearray(prefix)
    while trimmed:
        if trimmed[-1] < 0xFF:
            trimmed[-1] += 1
            return bytes(trimmed)
        trimmed.pop()
    return b"\x00"  # every key


def validate(spec: BenchSpec) -> None:
    """Refuse parameters that ``tools/benchmark`` refuses, and unsafe prefixes."""
    problems = []
    if spec.clients < 1:
        problems.append(f"--clients must be at least 1, got {spec.clients}")
    if spec.conns < 1:
        problems.append(f"--conns must be at least 1, got {spec.conns}")
    if spec.duration_s is None and spec.total < 1:
        problems.append(f"--total must be at least 1, got {spec.total}")
    if spec.duration_s is not None and spec.duration_s <= 0:
        problems.append(f"--duration must be positive, got {spec.duration_s:g}")
    if spec.rate < 0:
        problems.append(f"--rate must be 0 (no limit) or positive, got {spec.rate:g}")
    if spec.key_space_size < 1:
        problems.append(f"expected positive --key-space-size, got {spec.key_space_size}")
    if spec.key_size < 1 or spec.val_size < 0:
        problems.append("--key-size must be positive and --val-size not negative")
    if spec.val_size > MAX_VALUE_SIZE:
        problems.append(
            f"--val-size {spec.val_size} exceeds etcd's default request limit "
            f"({MAX_VALUE_SIZE} bytes)"
        )
    if spec.txn_ops < 1:
        problems.append(f"expected positive --txn-ops, got {spec.txn_ops}")
    if spec.workload is Workload.TXN_PUT and spec.txn_ops > spec.key_space_size:
        problems.append(
            f"expected --txn-ops no larger than --key-space-size, got txn-ops"
            f"({spec.txn_ops}) key-space-size({spec.key_space_size})"
        )
    if spec.rw_ratio < 0:
        problems.append(f"--rw-ratio must not be negative, got {spec.rw_ratio:g}")
    if spec.workload is Workload.WATCH_LATENCY and spec.put_rate <= 0:
        problems.append(f"--put-rate must be positive, got {spec.put_rate:g}")
    if spec.call_timeout_s <= 0:
        problems.append("the call deadline must be positive")
    if len(spec.prefix.strip("/")) < 1 or not spec.prefix.endswith("/"):
        problems.append(
            f"the prefix {spec.prefix!r} could cover other keys (/app also holds "
            "/apple...): benchmark keys need a dedicated prefix that ends with "
            "'/', such as /etcdmon-bench/"
        )
    if problems:
        raise ConfigError("; ".join(problems))
    if spec.workload.writes and not spec.random_keys:
        last = max(spec.key_space_size - 1, 0)
        numbered_key(b"", last, spec.key_size)  # raises if keys cannot be numbered


class PutSource:
    """``put``: sequential or random keys from the key space, or check perf's keys."""

    def __init__(self, spec: BenchSpec, rng: random.Random) -> None:
        self._spec = spec
        self._rng = rng
        self._prefix = spec.prefix.encode()
        value = bytes(spec.val_size) if spec.random_keys else os.urandom(spec.val_size)
        self._value_field = b"\x12" + uvarint(len(value)) + value if value else b""
        size = len(self._prefix) + spec.key_size + spec.val_size + 16
        self._cache: list[bytes | None] | None = (
            [None] * spec.key_space_size
            if not spec.random_keys and spec.key_space_size * size <= _CACHE_BYTES
            else None
        )

    def _message(self, n: int) -> bytes:
        key = numbered_key(self._prefix, n, self._spec.key_size)
        return grpc_message(b"\x0a" + uvarint(len(key)) + key + self._value_field)

    def request(self, i: int) -> tuple[str, bytes, str]:
        spec = self._spec
        if spec.random_keys:
            return KV_PUT, self._message(self._rng.getrandbits(63)), "put"
        if spec.key_space_size == 1:
            n = 0
        elif spec.sequential_keys:
            n = i % spec.key_space_size
        else:
            n = self._rng.randrange(spec.key_space_size)
        cache = self._cache
        if cache is None:
            return KV_PUT, self._message(n), "put"
        message = cache[n]
        if message is None:
            message = cache[n] = self._message(n)
        return KV_PUT, message, "put"


def range_request(spec: BenchSpec) -> etcdrpc.RangeRequest:
    prefix = spec.prefix.encode()
    if spec.range_key is None:
        key, end = prefix, prefix_end(prefix)
    else:
        key, end = spec.range_key, spec.range_end or b""
    return etcdrpc.RangeRequest(
        key=key,
        range_end=end,
        limit=spec.limit,
        serializable=not spec.linearizable,
        count_only=spec.count_only,
    )


class RangeSource:
    """``range``: the same Range request every time (the whole prefix by default)."""

    def __init__(self, spec: BenchSpec) -> None:
        self._message = grpc_message(range_request(spec).SerializeToString())

    def request(self, i: int) -> tuple[str, bytes, str]:
        return KV_RANGE, self._message, "range"


class TxnPutSource:
    """``txn-put``: ``txn_ops`` puts per transaction, keys cycling through the space."""

    def __init__(self, spec: BenchSpec) -> None:
        self._spec = spec
        self._prefix = spec.prefix.encode()
        self._value = os.urandom(spec.val_size)

    def request(self, i: int) -> tuple[str, bytes, str]:
        spec = self._spec
        ops = [
            etcdrpc.RequestOp(
                request_put=etcdrpc.PutRequest(
                    key=numbered_key(
                        self._prefix, ((i * spec.txn_ops) + j) % spec.key_space_size, spec.key_size
                    ),
                    value=self._value,
                )
            )
            for j in range(spec.txn_ops)
        ]
        return KV_TXN, grpc_message(etcdrpc.TxnRequest(success=ops).SerializeToString()), "txn"


class TxnMixedSource:
    """``txn-mixed``: reads (a limited range over the prefix) and writes in a txn each,
    reads with probability rw/(1+rw)."""

    def __init__(self, spec: BenchSpec, rng: random.Random) -> None:
        self._spec = spec
        self._rng = rng
        self._prefix = spec.prefix.encode()
        self._value = os.urandom(spec.val_size)
        prefix = spec.prefix.encode()
        read = etcdrpc.RangeRequest(
            key=prefix,
            range_end=spec.range_end or prefix_end(prefix),
            limit=spec.limit,
            serializable=not spec.linearizable,
        )
        self._read = grpc_message(
            etcdrpc.TxnRequest(success=[etcdrpc.RequestOp(request_range=read)]).SerializeToString()
        )
        self._read_share = spec.rw_ratio / (1 + spec.rw_ratio)

    def request(self, i: int) -> tuple[str, bytes, str]:
        if self._rng.random() < self._read_share:
            return KV_TXN, self._read, "read"
        key = numbered_key(self._prefix, i % self._spec.key_space_size, self._spec.key_size)
        put = etcdrpc.RequestOp(request_put=etcdrpc.PutRequest(key=key, value=self._value))
        return KV_TXN, grpc_message(etcdrpc.TxnRequest(success=[put]).SerializeToString()), "write"


Source = PutSource | RangeSource | TxnPutSource | TxnMixedSource


def source_for(spec: BenchSpec, rng: random.Random) -> Source:
    if spec.workload is Workload.PUT:
        return PutSource(spec, rng)
    if spec.workload is Workload.RANGE:
        return RangeSource(spec)
    if spec.workload is Workload.TXN_PUT:
        return TxnPutSource(spec)
    if spec.workload is Workload.TXN_MIXED:
        return TxnMixedSource(spec, rng)
    raise ValueError(f"{spec.workload.value} has no request source (it is not a unary load)")


def kinds_for(spec: BenchSpec) -> tuple[str, ...]:
    return {
        Workload.PUT: ("put",),
        Workload.RANGE: ("range",),
        Workload.TXN_PUT: ("txn",),
        Workload.TXN_MIXED: ("read", "write"),
        Workload.WATCH_LATENCY: ("event", "put"),
    }[spec.workload]
