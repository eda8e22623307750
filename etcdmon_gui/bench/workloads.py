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


def _field(tag: int, body: bytes) -> bytes:
    """A length-delimited protobuf field: its tag byte, length and bytes."""
    return bytes((tag,)) + uvarint(len(body)) + body


class _TxnPuts:
    """Encodes the ``success`` entries of a ``TxnRequest`` (``RequestOp{request_put:
    PutRequest{key, value}}``) by hand: every key has the same length, so all but the
    key number is a constant prefix and suffix.

    Building these as protobuf objects cost ~4.5 µs per one-put txn (~11 µs for four)
    against ~0.15 µs for a cached put message, on a client that spends ~18 µs per
    request in all: the reason txn-put ran behind put.
    """

    _SUCCESS, _REQUEST_PUT, _KEY, _VALUE = 0x12, 0x12, 0x0A, 0x12  # fields 2, 2, 1, 2

    def __init__(self, spec: BenchSpec) -> None:
        self._prefix = spec.prefix.encode()
        self._key_size = spec.key_size
        value = os.urandom(spec.val_size)
        self._tail = _field(self._VALUE, value) if value else b""
        key_len = len(self._prefix) + spec.key_size
        put_len = 1 + len(uvarint(key_len)) + key_len + len(self._tail)
        op_len = 1 + len(uvarint(put_len)) + put_len
        self.op_size = 1 + len(uvarint(op_len)) + op_len
        self._head = (
            bytes((self._SUCCESS,))
            + uvarint(op_len)
            + bytes((self._REQUEST_PUT,))
            + uvarint(put_len)
            + bytes((self._KEY,))
            + uvarint(key_len)
        )

    def op(self, n: int) -> bytes:
        """The ``success`` entry that puts key number ``n``."""
        return self._head + numbered_key(self._prefix, n, self._key_size) + self._tail


class TxnPutSource:
    """``txn-put``: ``txn_ops`` puts per transaction, keys cycling through the space
    (``tools/benchmark``'s key number ``(i * txn_ops + j) % key_space_size``).

    Request ``i``'s message depends only on its first key number, so messages are
    cached by it while the key space is small enough (one message for a space of 1).
    """

    def __init__(self, spec: BenchSpec) -> None:
        self._ops = spec.txn_ops
        self._space = spec.key_space_size
        self._puts = _TxnPuts(spec)
        size = spec.txn_ops * self._puts.op_size + 5
        self._cache: list[bytes | None] | None = (
            [None] * self._space if self._space * size <= _CACHE_BYTES else None
        )

    def _message(self, first: int) -> bytes:
        op, space = self._puts.op, self._space
        return grpc_message(b"".join(op((first + j) % space) for j in range(self._ops)))

    def request(self, i: int) -> tuple[str, bytes, str]:
        first = (i * self._ops) % self._space
        cache = self._cache
        if cache is None:
            return KV_TXN, self._message(first), "txn"
        message = cache[first]
        if message is None:
            message = cache[first] = self._message(first)
        return KV_TXN, message, "txn"


class TxnMixedSource:
    """``txn-mixed``: reads (a limited range over the prefix) and writes in a txn each,
    reads with probability rw/(1+rw)."""

    def __init__(self, spec: BenchSpec, rng: random.Random) -> None:
        self._spec = spec
        self._rng = rng
        self._puts = _TxnPuts(spec)
        self._writes: list[bytes | None] | None = (
            [None] * spec.key_space_size
            if spec.key_space_size * (self._puts.op_size + 5) <= _CACHE_BYTES
            else None
        )
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
        n = i % self._spec.key_space_size
        writes = self._writes
        if writes is None:
            return KV_TXN, grpc_message(self._puts.op(n)), "write"
        message = writes[n]
        if message is None:
            message = writes[n] = grpc_message(self._puts.op(n))
        return KV_TXN, message, "write"


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
