"""HPACK (RFC 7541) for the benchmark's gRPC client: the ``hpack`` package and a cache.

The package does the coding (integers, Huffman, the dynamic table); this module adds
what keeps it off the hot path, where its decoder would cost ~20 µs per response.

Requests are encoded once per method and connection, every field never-indexed and
without Huffman coding, so the client never touches the server's dynamic table and
every request of a run carries the same header block bytes.

Responses must be decoded in full because the server's encoder (Go's) indexes every
field in its dynamic table: the package's decoder keeps that table in step. In a
steady run the server then sends the same few bytes for every response (``:status
200`` and ``content-type`` as two indexed fields, ``grpc-status: 0`` and
``grpc-message`` as two more), so ``HeaderDecoder.decode`` remembers blocks that left
the table as it was and answers them with one dictionary look-up (~0.2 µs). The memory
is dropped whenever a block changes the table, because an index then may mean another
field.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import unquote

from hpack import Decoder, Encoder, HeaderTuple, HPACKError


class HpackError(ValueError):
    """A header block that cannot be decoded: the connection must be closed."""


def encode_headers(headers: list[tuple[str, str]]) -> bytes:
    """A header block that leaves the peer's dynamic table alone.

    Fields in the static table are sent indexed; everything else as a never-indexed
    literal (with an indexed name where one exists) without Huffman coding. A fresh
    encoder each time: its table stays empty anyway, and a block is made once per
    method and connection.
    """
    return Encoder().encode([(name, value, True) for name, value in headers], huffman=False)


@dataclass(frozen=True, slots=True)
class ResponseHeaders:
    """What a gRPC client needs from one response header block."""

    http_status: int | None  # ``:status``; None in trailers
    grpc_status: int | None  # ``grpc-status``; None in the leading headers of a stream
    grpc_message: str  # ``grpc-message``, percent-decoded
    content_type: str | None


_CACHE_LIMIT = 64


class HeaderDecoder:
    """HPACK decoder for one connection, with its dynamic table (not thread-safe)."""

    def __init__(self, max_table_size: int = 4096) -> None:
        self._decoder = Decoder()
        self._decoder.max_allowed_table_size = max_table_size
        self._decoder.header_table_size = max_table_size
        self._cache: dict[bytes, ResponseHeaders] = {}

    def decode(self, block: bytes) -> ResponseHeaders:
        """Decode one complete header block (HEADERS + CONTINUATION payloads joined)."""
        cached = self._cache.get(block)
        if cached is not None:
            return cached
        table = self._decoder.header_table
        before = (table.maxsize, tuple(table.dynamic_entries))
        try:
            fields = self._decoder.decode(block, raw=True)
        except HPACKError as exc:
            raise HpackError(str(exc)) from exc
        result = _summarise(fields)
        if (table.maxsize, tuple(table.dynamic_entries)) != before:
            self._cache.clear()
        elif len(self._cache) < _CACHE_LIMIT:
            self._cache[block] = result
        return result


def _summarise(fields: Iterable[HeaderTuple]) -> ResponseHeaders:
    http_status: int | None = None
    grpc_status: int | None = None
    message = ""
    content_type: str | None = None
    for name, value in fields:
        if name == b":status":
            http_status = int(value) if value.isdigit() else 0
        elif name == b"grpc-status":
            grpc_status = int(value) if value.isdigit() else 2  # UNKNOWN
        elif name == b"grpc-message":
            message = unquote(value.decode("latin-1"))
        elif name == b"content-type":
            content_type = value.decode("latin-1")
    return ResponseHeaders(http_status, grpc_status, message, content_type)
