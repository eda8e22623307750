"""A lean gRPC-over-HTTP/2 client on asyncio, for load generation only.

Why not grpcio's own ``grpc.aio``: on this project's 2-core machines a put through
``grpc.aio`` costs about 100 µs of client CPU (a Task, several futures and a trip
through gRPC's completion-queue thread per call), which caps a Python load generator at
~8,000 puts/s while etcd itself could take three times that. This client costs ~15 µs
per call because it does only what a benchmark needs:

- one ``asyncio.Protocol`` per TCP connection; every frame that arrives in one read
  is handled in one pass and every frame to send is written with one ``write``;
- requests are prebuilt bytes: a constant HPACK block per method (no dynamic table,
  no Huffman) and a protobuf body the caller serialised;
- completions are plain callbacks (no coroutine or future per call); response bodies
  are skipped unless the caller asks for them;
- response header blocks, which in steady state are the same few bytes every time, are
  decoded once and then recognised (see ``hpack``).

It is still a correct HTTP/2 client for what etcd sends: SETTINGS (stream limit,
window, frame size), flow control in both directions, PING acks, GOAWAY, RST_STREAM,
CONTINUATION, padding, TLS with ALPN ``h2``, per-call deadlines (``grpc-timeout`` for
the server, and a client-side sweep that cancels late streams), and server-streaming
calls (Watch). Control operations (auth, delete, compact, defragment) stay on grpcio.

Nothing here is thread-safe: everything runs on one event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import struct
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import grpc

from etcdmon_gui.bench.hpack import HeaderDecoder, HpackError, encode_headers
from etcdmon_gui.model.errors import (
    ConnectionRefusedEtcdError,
    DeadlineError,
    EtcdError,
    TLSError,
    UnreachableError,
)

log = logging.getLogger(__name__)

STATUS_NAMES: dict[int, str] = {int(c.value[0]): c.name for c in grpc.StatusCode}
CANCELLED, UNKNOWN, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED = 1, 2, 4, 8  # OK is 0
INTERNAL, UNAVAILABLE, UNAUTHENTICATED, PERMISSION_DENIED, UNIMPLEMENTED = 13, 14, 16, 7, 12

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
_DATA, _HEADERS, _RST, _SETTINGS, _PUSH, _PING, _GOAWAY, _WINDOW, _CONT = 0, 1, 3, 4, 5, 6, 7, 8, 9
_END_STREAM, _ACK, _END_HEADERS, _PADDED, _PRIORITY = 0x1, 0x1, 0x4, 0x8, 0x20
_MAX_WINDOW = 2**31 - 1
_RECV_UPDATE_AT = 2**30  # give the server more window once it has used this much
_U32 = struct.Struct(">I")
_MAX_STREAM_ID = 2**31 - 1
_DATA_END, _DATA_MORE = bytes((_DATA, _END_STREAM)), bytes((_DATA, 0))

# gRPC's mapping of HTTP status to gRPC code, for answers that are not gRPC at all.
_HTTP_TO_GRPC = {
    400: INTERNAL,
    401: UNAUTHENTICATED,
    403: PERMISSION_DENIED,
    404: UNIMPLEMENTED,
    429: UNAVAILABLE,
    502: UNAVAILABLE,
    503: UNAVAILABLE,
    504: UNAVAILABLE,
}
# HTTP/2 error codes in RST_STREAM / GOAWAY.
_H2_ERRORS = {
    0: "NO_ERROR",
    1: "PROTOCOL_ERROR",
    2: "INTERNAL_ERROR",
    3: "FLOW_CONTROL_ERROR",
    4: "SETTINGS_TIMEOUT",
    5: "STREAM_CLOSED",
    6: "FRAME_SIZE_ERROR",
    7: "REFUSED_STREAM",
    8: "CANCEL",
    9: "COMPRESSION_ERROR",
    10: "CONNECT_ERROR",
    11: "ENHANCE_YOUR_CALM",
    12: "INADEQUATE_SECURITY",
    13: "HTTP_1_1_REQUIRED",
}


def _frame(ftype: int, flags: int, sid: int, payload: bytes = b"") -> bytes:
    return len(payload).to_bytes(3, "big") + bytes((ftype, flags)) + _U32.pack(sid) + payload


def grpc_message(body: bytes) -> bytes:
    """A protobuf body in gRPC's length-prefixed message framing (uncompressed)."""
    return b"\x00" + _U32.pack(len(body)) + body


def grpc_timeout(seconds: float) -> str:
    """``grpc-timeout`` header value: at most 8 digits and a unit."""
    ms = max(1, int(seconds * 1000))
    return f"{ms}m" if ms < 10**8 else f"{max(1, int(seconds))}S"


Chunk = bytes | memoryview
DoneCallback = Callable[["Call", int, str, float], None]
MessageCallback = Callable[[bytes, float], None]


class Call:
    """One gRPC call in flight: what to send, when it started, whom to tell when it ends.

    ``done(call, status, message, now)`` is called exactly once, with the gRPC status
    code (0 = OK), the server's message, and ``time.perf_counter()`` of the read that
    completed it. ``on_message(body, now)``, if set, receives each response message;
    without it response bodies are not even reassembled.
    """

    __slots__ = (
        "deadline",
        "done",
        "end_stream",
        "on_message",
        "path",
        "pending",
        "rbuf",
        "recv_unacked",
        "send_window",
        "sid",
        "start",
        "tag",
    )

    def __init__(
        self,
        path: str,
        message: bytes,
        done: DoneCallback,
        start: float,
        deadline: float,
        *,
        end_stream: bool = True,
        on_message: MessageCallback | None = None,
        tag: Any = None,
    ) -> None:
        self.path = path
        self.pending: bytes | memoryview = message
        self.done = done
        self.start = start
        self.deadline = deadline  # perf_counter; float("inf") for long-lived streams
        self.end_stream = end_stream
        self.on_message = on_message
        self.tag = tag  # the caller's, e.g. its client slot
        self.sid = 0
        self.send_window = 0
        self.recv_unacked = 0
        self.rbuf: bytearray | None = bytearray() if on_message is not None else None


@dataclass(frozen=True, slots=True)
class H2Target:
    """Where and how to connect: one endpoint, its TLS context and HTTP/2 authority."""

    host: str
    port: int
    authority: str
    ssl: ssl.SSLContext | None = None
    server_hostname: str | None = None

    @property
    def name(self) -> str:
        return f"{'https' if self.ssl else 'http'}://{self.authority}"


class H2Connection(asyncio.Protocol):
    """One HTTP/2 connection to one etcd member, carrying many gRPC calls at once.

    ``ready`` resolves when the server's first SETTINGS arrive (so stream limits are
    known before the first call). ``on_closed`` is called once when the connection can
    take no more calls (lost, or GOAWAY), with a readable reason.
    """

    def __init__(
        self,
        target: H2Target,
        headers: dict[str, str],
        on_closed: Callable[[H2Connection, str], None] | None = None,
    ) -> None:
        self.target = target
        self._headers = dict(headers)
        self._blocks: dict[str, tuple[bytes, bytes]] = {}  # path -> (frame head, block)
        self._on_closed = on_closed
        self.transport: asyncio.Transport | None = None
        loop = asyncio.get_running_loop()
        self.ready: asyncio.Future[None] = loop.create_future()
        self.lost: asyncio.Future[None] = loop.create_future()  # the socket is closed
        self.calls: dict[int, Call] = {}  # streams with a deadline, in the order opened
        self.streams: dict[int, Call] = {}  # long-lived streams (no deadline)
        self._waiting: deque[Call] = deque()  # beyond the server's stream limit
        self._blocked: deque[Call] = deque()  # opened, data waiting for flow-control window
        self._decoder = HeaderDecoder()
        self._buf = b""
        self._cont_sid = 0
        self._cont_flags = 0
        self._cont_parts: list[bytes] = []
        self._out: list[Chunk] | None = None
        self._next_sid = 1
        self.max_streams = 2**31  # until the server's SETTINGS say otherwise
        self._peer_window = 65535  # initial window of each new stream we send on
        self.send_window = 65535  # connection-level window we may send
        self._max_frame = 16384
        self._recv_unacked = 0
        self.closed = False
        self.going_away = False
        self.close_reason = ""

    # -- set-up ----------------------------------------------------------------------

    def set_header(self, name: str, value: str | None) -> None:
        """Change a request header (e.g. a fresh auth token) for calls started later."""
        if value is None:
            self._headers.pop(name, None)
        else:
            self._headers[name] = value
        self._blocks.clear()

    def _block(self, path: str) -> tuple[bytes, bytes]:
        block = self._blocks.get(path)
        if block is None:
            fields = [
                (":method", "POST"),
                (":scheme", "https" if self.target.ssl else "http"),
                (":path", path),
                (":authority", self.target.authority),
                ("content-type", "application/grpc"),
                ("te", "trailers"),
                *self._headers.items(),
            ]
            payload = encode_headers(fields)
            head = len(payload).to_bytes(3, "big") + bytes((_HEADERS, _END_HEADERS))
            block = self._blocks[path] = (head, payload)
        return block

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        settings = struct.pack(">HIHI", 2, 0, 4, _MAX_WINDOW)  # no push; big stream windows
        transport.write(
            PREFACE
            + _frame(_SETTINGS, 0, 0, settings)
            + _frame(_WINDOW, 0, 0, _U32.pack(_MAX_WINDOW - 65535))
        )

    def connection_lost(self, exc: Exception | None) -> None:
        reason = f"connection to {self.target.name} lost" + (f": {exc}" if exc else "")
        self._shutdown(self.close_reason or reason)
        if not self.lost.done():
            self.lost.set_result(None)

    # -- starting calls ----------------------------------------------------------------

    @property
    def in_flight(self) -> int:
        return len(self.calls) + len(self.streams) + len(self._waiting)

    def start(self, call: Call) -> None:
        """Send a call now, or queue it behind the server's stream limit."""
        if self.closed or self.going_away:
            call.done(
                call, UNAVAILABLE, self.close_reason or "connection closed", time.perf_counter()
            )
            return
        if len(self.calls) + len(self.streams) >= self.max_streams:
            self._waiting.append(call)
        else:
            self._open(call)

    def _open(self, call: Call) -> None:
        sid = self._next_sid
        if sid > _MAX_STREAM_ID:
            self.going_away = True
            self.close_reason = "stream ids exhausted on this connection"
            call.done(call, UNAVAILABLE, self.close_reason, time.perf_counter())
            self._notify_closed()
            return
        self._next_sid = sid + 2
        call.sid = sid
        call.send_window = self._peer_window
        if call.deadline == float("inf"):
            self.streams[sid] = call
        else:
            self.calls[sid] = call
        sidb = _U32.pack(sid)
        head, block = self._blocks.get(call.path) or self._block(call.path)
        message = call.pending
        size = len(message)
        if (
            not self._blocked
            and size <= self.send_window
            and size <= call.send_window
            and size <= self._max_frame
        ):
            out = [
                head,
                sidb,
                block,
                size.to_bytes(3, "big"),
                _DATA_END if call.end_stream else _DATA_MORE,
                sidb,
                message,
            ]
            self.send_window -= size
            call.send_window -= size
            call.pending = b""
        else:
            out = [head, sidb, block]  # the data waits for window
            self._blocked.append(call)
        if self._out is not None:
            self._out.extend(out)
        else:
            self._write(out)
        if self._blocked and self.send_window > 0:
            self._flush_blocked()

    def _write(self, chunks: list[Chunk]) -> None:
        if self._out is not None:
            self._out.extend(chunks)
        elif self.transport is not None and not self.closed:
            self.transport.write(b"".join(chunks))

    def _flush_blocked(self) -> None:
        out: list[Chunk] = []
        for _ in range(len(self._blocked)):
            if self.send_window <= 0:
                break
            call = self._blocked.popleft()
            if call.sid not in self.calls and call.sid not in self.streams:
                continue  # finished or cancelled meanwhile
            pending = memoryview(call.pending)
            sidb = _U32.pack(call.sid)
            while pending and self.send_window > 0 and call.send_window > 0:
                size = min(len(pending), self.send_window, call.send_window, self._max_frame)
                last = size == len(pending)
                flags = _END_STREAM if (last and call.end_stream) else 0
                out.append(size.to_bytes(3, "big") + bytes((_DATA, flags)) + sidb)
                out.append(bytes(pending[:size]))
                pending = pending[size:]
                self.send_window -= size
                call.send_window -= size
            call.pending = pending if pending else b""
            if pending:
                self._blocked.append(call)
        if out:
            self._write(out)

    # -- receiving ---------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        now = time.perf_counter()
        buf = self._buf + data if self._buf else data
        out: list[Chunk] = []
        self._out = out
        pos, size = 0, len(buf)
        unpack = _U32.unpack_from
        try:
            while size - pos >= 9:
                head = unpack(buf, pos)[0]
                end = pos + 9 + (head >> 8)
                if end > size:
                    break
                ftype = head & 0xFF
                flags = buf[pos + 4]
                sid = unpack(buf, pos + 5)[0] & 0x7FFFFFFF
                if self._cont_sid and ftype != _CONT:
                    raise _ProtocolError("expected CONTINUATION")
                if ftype == _HEADERS:
                    if flags & (_END_HEADERS | _PADDED | _PRIORITY) == _END_HEADERS:
                        self._on_header_block(sid, flags, buf[pos + 9 : end], now)
                    else:
                        self._on_headers(sid, flags, buf[pos + 9 : end], now)
                elif ftype == _DATA:
                    self._on_data(sid, flags, buf, pos + 9, end, now)
                else:
                    self._on_control(ftype, sid, flags, buf[pos + 9 : end], now)
                pos = end
            self._buf = buf[pos:]
        except (HpackError, _ProtocolError) as exc:
            self._fatal(f"protocol error from {self.target.name}: {exc}")
        finally:
            self._out = None
        if out and self.transport is not None and not self.closed:
            self.transport.write(b"".join(out))

    def _find(self, sid: int) -> Call | None:
        call = self.calls.get(sid)
        return call if call is not None else self.streams.get(sid)

    def _on_data(self, sid: int, flags: int, buf: bytes, start: int, end: int, now: float) -> None:
        length = end - start
        self._recv_unacked += length
        if self._recv_unacked >= _RECV_UPDATE_AT:
            self._write([_frame(_WINDOW, 0, 0, _U32.pack(self._recv_unacked))])
            self._recv_unacked = 0
        call = self._find(sid)
        if call is None:
            return
        if call.rbuf is not None:
            if flags & _PADDED:
                start, end = start + 1, end - buf[start]
            call.rbuf += buf[start:end]
            self._deliver(call, now)
            call.recv_unacked += length
            if call.recv_unacked >= _RECV_UPDATE_AT and not flags & _END_STREAM:
                self._write([_frame(_WINDOW, 0, sid, _U32.pack(call.recv_unacked))])
                call.recv_unacked = 0
        if flags & _END_STREAM:
            self._finish(call, INTERNAL, "the server ended the stream without a gRPC status", now)

    def _deliver(self, call: Call, now: float) -> None:
        rbuf = call.rbuf
        assert rbuf is not None and call.on_message is not None
        while len(rbuf) >= 5:
            length = _U32.unpack_from(rbuf, 1)[0]
            if len(rbuf) < 5 + length:
                return
            if rbuf[0]:
                raise _ProtocolError("compressed message, but no compression was offered")
            message = bytes(rbuf[5 : 5 + length])
            del rbuf[: 5 + length]
            call.on_message(message, now)

    def _on_headers(self, sid: int, flags: int, payload: bytes, now: float) -> None:
        if flags & _PADDED:
            pad = payload[0]
            payload = payload[1 : len(payload) - pad]
        if flags & _PRIORITY:
            payload = payload[5:]
        if not flags & _END_HEADERS:
            self._cont_sid, self._cont_flags, self._cont_parts = sid, flags, [payload]
            return
        self._on_header_block(sid, flags, payload, now)

    def _on_header_block(self, sid: int, flags: int, block: bytes, now: float) -> None:
        headers = self._decoder.decode(block)  # always: keeps the dynamic table in step
        call = self._find(sid)
        if call is None:
            return
        if flags & _END_STREAM:
            status = headers.grpc_status
            if status is None:
                status = (
                    INTERNAL
                    if headers.http_status in (None, 200)
                    else _HTTP_TO_GRPC.get(headers.http_status, UNKNOWN)
                )
                message = headers.grpc_message or (
                    f"HTTP status {headers.http_status} without a gRPC status"
                )
                self._finish(call, status, message, now)
                return
            self._finish(call, status, headers.grpc_message, now)
        elif headers.http_status not in (None, 200):
            code = _HTTP_TO_GRPC.get(headers.http_status, UNKNOWN)
            self._reset(call, 8)
            self._finish(call, code, f"HTTP status {headers.http_status} from the server", now)

    def _on_control(self, ftype: int, sid: int, flags: int, payload: bytes, now: float) -> None:
        if ftype == _CONT:
            if sid != self._cont_sid:
                raise _ProtocolError("CONTINUATION for another stream")
            self._cont_parts.append(payload)
            if flags & _END_HEADERS:
                block = b"".join(self._cont_parts)
                first_flags = self._cont_flags
                self._cont_sid, self._cont_parts = 0, []
                self._on_header_block(sid, first_flags, block, now)
        elif ftype == _SETTINGS:
            if not flags & _ACK:
                self._apply_settings(payload)
                self._write([_frame(_SETTINGS, _ACK, 0)])
                if not self.ready.done():
                    self.ready.set_result(None)
        elif ftype == _WINDOW:
            increment = _U32.unpack_from(payload)[0] & 0x7FFFFFFF
            if sid == 0:
                self.send_window += increment
            else:
                call = self._find(sid)
                if call is not None:
                    call.send_window += increment
            if self._blocked:
                self._flush_blocked()
        elif ftype == _PING:
            if not flags & _ACK:
                self._write([_frame(_PING, _ACK, 0, payload)])
        elif ftype == _RST:
            call = self._find(sid)
            if call is not None:
                code = _U32.unpack_from(payload)[0]
                status = {7: UNAVAILABLE, 8: CANCELLED, 11: RESOURCE_EXHAUSTED}.get(code, INTERNAL)
                self._finish(
                    call, status, f"stream reset by the server ({_H2_ERRORS.get(code, code)})", now
                )
        elif ftype == _GOAWAY:
            self._on_goaway(payload, now)
        elif ftype == _PUSH:
            raise _ProtocolError("PUSH_PROMISE although push was disabled")
        # PRIORITY and unknown frame types are ignored, as RFC 9113 asks.

    def _apply_settings(self, payload: bytes) -> None:
        for i in range(0, len(payload) - 5, 6):
            ident, value = struct.unpack_from(">HI", payload, i)
            if ident == 3:
                self.max_streams = value
            elif ident == 4:
                if value > _MAX_WINDOW:
                    raise _ProtocolError("initial window too large")
                delta = value - self._peer_window
                self._peer_window = value
                for call in (*self.calls.values(), *self.streams.values()):
                    call.send_window += delta
            elif ident == 5:
                self._max_frame = value
        self._start_waiting()

    def _on_goaway(self, payload: bytes, now: float) -> None:
        last_sid = _U32.unpack_from(payload)[0] & 0x7FFFFFFF
        code = _U32.unpack_from(payload, 4)[0]
        debug = payload[8:].decode("utf-8", "replace")
        reason = (
            f"{self.target.name} is closing the connection (GOAWAY "
            f"{_H2_ERRORS.get(code, code)}{': ' + debug if debug else ''})"
        )
        self.going_away = True
        self.close_reason = reason
        for sid in [s for s in (*self.calls, *self.streams) if s > last_sid]:
            call = self._find(sid)
            if call is not None:
                self._finish(call, UNAVAILABLE, reason, now)
        self._fail_waiting(UNAVAILABLE, reason, now)
        self._notify_closed()
        if not self.calls and not self.streams and self.transport is not None:
            self.transport.close()

    # -- ending calls ------------------------------------------------------------------

    def _finish(self, call: Call, status: int, message: str, now: float) -> None:
        if self.calls.pop(call.sid, None) is None and self.streams.pop(call.sid, None) is None:
            return
        call.done(call, status, message, now)
        if self._waiting:
            self._start_waiting()
        elif self.going_away and not self.calls and not self.streams and self.transport is not None:
            self.transport.close()

    def _start_waiting(self) -> None:
        while (
            self._waiting
            and not self.closed
            and not self.going_away
            and len(self.calls) + len(self.streams) < self.max_streams
        ):
            self._open(self._waiting.popleft())

    def _reset(self, call: Call, code: int) -> None:
        self._write([_frame(_RST, 0, call.sid, _U32.pack(code))])

    def cancel(self, call: Call, status: int = CANCELLED, message: str = "cancelled") -> None:
        """End a call from our side (RST_STREAM CANCEL); ``done`` is called at once."""
        if call in self._waiting:
            self._waiting.remove(call)
            call.done(call, status, message, time.perf_counter())
            return
        if call.sid in self.calls or call.sid in self.streams:
            self._reset(call, 8)
            self._finish(call, status, message, time.perf_counter())

    def expire(self, now: float, timeout: float) -> None:
        """Fail every call whose deadline has passed (oldest first; they are in order)."""
        while self._waiting and self._waiting[0].deadline <= now:
            call = self._waiting.popleft()
            call.done(call, DEADLINE_EXCEEDED, _late(timeout), now)
        expired = []
        for call in self.calls.values():
            if call.deadline > now:
                break
            expired.append(call)
        for call in expired:
            self._reset(call, 8)
            self._finish(call, DEADLINE_EXCEEDED, _late(timeout), now)

    def _fail_waiting(self, status: int, message: str, now: float) -> None:
        while self._waiting:
            call = self._waiting.popleft()
            call.done(call, status, message, now)

    def _fatal(self, reason: str) -> None:
        log.warning("%s", reason)
        self.close_reason = reason
        if self.transport is not None:
            self.transport.abort()
        self._shutdown(reason)

    def _shutdown(self, reason: str) -> None:
        if self.closed:
            return
        self.closed = True
        self.close_reason = self.close_reason or reason
        if not self.ready.done():
            self.ready.set_exception(UnreachableError(self.close_reason))
            self.ready.exception()  # retrieved here, so asyncio does not warn about it
        now = time.perf_counter()
        for table in (self.calls, self.streams):
            for call in list(table.values()):
                table.pop(call.sid, None)
                call.done(call, UNAVAILABLE, self.close_reason, now)
        self._fail_waiting(UNAVAILABLE, self.close_reason, now)
        self._notify_closed()

    def _notify_closed(self) -> None:
        callback, self._on_closed = self._on_closed, None
        if callback is not None:
            callback(self, self.close_reason)

    def close(self) -> None:
        """Close now; calls still open end with UNAVAILABLE (use ``cancel`` first)."""
        if self.transport is not None and not self.closed:
            self._write([_frame(_GOAWAY, 0, 0, _U32.pack(0) + _U32.pack(0))])
            self.transport.close()
        self._shutdown(self.close_reason or "connection closed by the client")


def _late(timeout: float) -> str:
    return f"no answer within the {timeout:g} s deadline"


class _ProtocolError(Exception):
    pass


async def connect(
    target: H2Target,
    headers: dict[str, str],
    timeout: float,
    on_closed: Callable[[H2Connection, str], None] | None = None,
) -> H2Connection:
    """Open a connection and wait for the server's SETTINGS; readable errors on failure."""
    loop = asyncio.get_running_loop()
    conn = H2Connection(target, headers, on_closed)
    try:
        async with asyncio.timeout(timeout):
            await loop.create_connection(
                lambda: conn,
                target.host,
                target.port,
                ssl=target.ssl,
                server_hostname=(target.server_hostname or target.host) if target.ssl else None,
            )
            if target.ssl is not None:
                assert conn.transport is not None
                ssl_object = conn.transport.get_extra_info("ssl_object")
                alpn = ssl_object.selected_alpn_protocol() if ssl_object else None
                if alpn != "h2":
                    await _discard(conn)
                    raise TLSError(
                        f"{target.name} did not agree to HTTP/2 over TLS (ALPN answer {alpn!r})"
                    )
            await conn.ready
    except TimeoutError:
        await _discard(conn)
        raise DeadlineError(f"no answer from {target.name} within {timeout:g} s") from None
    except ConnectionRefusedError:
        raise ConnectionRefusedEtcdError(f"connection refused at {target.name}") from None
    except ssl.SSLCertVerificationError as exc:
        raise TLSError(
            f"certificate verify failed at {target.name}: {exc.verify_message or exc}"
        ) from None
    except ssl.SSLError as exc:
        raise TLSError(f"TLS handshake failed at {target.name}: {exc.reason or exc}") from None
    except OSError as exc:
        raise UnreachableError(f"cannot reach {target.name}: {exc.strerror or exc}") from None
    except EtcdError:
        raise
    return conn


async def _discard(conn: H2Connection) -> None:
    conn.close()
    if conn.transport is not None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(1.0):
                await asyncio.shield(conn.lost)


class H2Channel:
    """A gRPC channel: one connection at a time to one of the endpoints, reconnecting.

    Calls started while the connection is down wait (and expire at their deadline)
    until a new connection is up, like grpcio's channels; reconnection tries the
    endpoints in turn, starting after the one that failed, with a backoff of 0.2 to 2 s.
    """

    def __init__(
        self, targets: list[H2Target], first: int, headers: dict[str, str], timeout: float
    ) -> None:
        self._targets = targets
        self._index = first % len(targets)
        self._headers = dict(headers)
        self._timeout = timeout
        self.conn: H2Connection | None = None
        self._draining: list[H2Connection] = []  # after GOAWAY, finishing their calls
        self._pending: deque[Call] = deque()
        self._reconnecting: asyncio.Task[None] | None = None
        self._closed = False
        self.last_error = ""
        self.reconnects = 0

    @property
    def target(self) -> H2Target:
        return self._targets[self._index]

    async def connect(self) -> None:
        """First connection: to this channel's endpoint, else to the others in turn."""
        errors: list[EtcdError] = []
        for _ in range(len(self._targets)):
            try:
                self.conn = await connect(self.target, self._headers, self._timeout, self._lost)
                return
            except EtcdError as exc:
                errors.append(exc)
                self._index = (self._index + 1) % len(self._targets)
        raise errors[0]

    def set_header(self, name: str, value: str | None) -> None:
        if value is None:
            self._headers.pop(name, None)
        else:
            self._headers[name] = value
        if self.conn is not None:
            self.conn.set_header(name, value)

    def start(self, call: Call) -> None:
        conn = self.conn
        if conn is not None and not conn.closed and not conn.going_away:
            conn.start(call)
        elif self._closed:
            call.done(call, UNAVAILABLE, "channel closed", time.perf_counter())
        else:
            self._pending.append(call)

    def expire(self, now: float, timeout: float) -> None:
        while self._pending and self._pending[0].deadline <= now:
            call = self._pending.popleft()
            message = _late(timeout) + (
                f" (last error: {self.last_error})" if self.last_error else ""
            )
            call.done(call, DEADLINE_EXCEEDED, message, now)
        if self.conn is not None:
            self.conn.expire(now, timeout)
        if self._draining:
            self._draining = [c for c in self._draining if not c.closed]
            for conn in self._draining:
                conn.expire(now, timeout)

    @property
    def in_flight(self) -> int:
        return len(self._pending) + (self.conn.in_flight if self.conn is not None else 0)

    def _lost(self, conn: H2Connection, reason: str) -> None:
        if conn is not self.conn or self._closed:
            return
        if not conn.closed:
            self._draining.append(conn)  # GOAWAY: its calls may still finish
        self.last_error = reason
        log.info("%s", reason)
        if self._reconnecting is not None:
            return
        self._reconnecting = asyncio.get_running_loop().create_task(self._reconnect())

    async def _reconnect(self) -> None:
        delay = 0.2
        try:
            while not self._closed:
                self._index = (self._index + 1) % len(self._targets)
                try:
                    conn = await connect(self.target, self._headers, self._timeout, self._lost)
                except EtcdError as exc:
                    self.last_error = str(exc)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 2.0)
                    continue
                if self._closed:
                    conn.close()
                    return
                self.conn = conn
                self.reconnects += 1
                while self._pending and not conn.closed:
                    conn.start(self._pending.popleft())
                return
        finally:
            self._reconnecting = None

    def cancel_all(self, message: str) -> None:
        """End every call of this channel now (CANCELLED)."""
        now = time.perf_counter()
        while self._pending:
            call = self._pending.popleft()
            call.done(call, CANCELLED, message, now)
        for conn in (self.conn, *self._draining):
            if conn is not None:
                for call in [*conn.calls.values(), *conn.streams.values(), *conn._waiting]:
                    conn.cancel(call, CANCELLED, message)

    def close(self) -> None:
        self._closed = True
        if self._reconnecting is not None:
            self._reconnecting.cancel()
        self.cancel_all("the benchmark is closing its connections")
        for conn in (self.conn, *self._draining):
            if conn is not None:
                conn.close()

    async def closed(self, timeout: float = 2.0) -> None:
        """Wait (briefly) until the socket is really closed, e.g. after a TLS goodbye."""
        conn = self.conn
        if conn is not None and conn.transport is not None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await asyncio.shield(conn.lost)
