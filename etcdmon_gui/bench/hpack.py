"""Just enough HPACK (RFC 7541) for a gRPC client: constant request blocks, full decoding.

Requests are encoded once per method as literal fields without indexing and without
Huffman coding, so the client never touches its encoder's dynamic table and every
request of a run carries the same header block bytes.

Responses must be decoded in full because the server's encoder (Go's) indexes every
field in its dynamic table: the decoder keeps that table in step. In a steady run the
server then sends the same few bytes for every response (``:status 200`` and
``content-type`` as two indexed fields, ``grpc-status: 0`` and ``grpc-message`` as two
more), so ``HeaderDecoder.decode`` remembers blocks made only of indexed fields and
answers them with one dictionary look-up. The memory is dropped whenever a block
changes the dynamic table, because an index then may mean another field.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass
from urllib.parse import unquote

log = logging.getLogger(__name__)


class HpackError(ValueError):
    """A header block that cannot be decoded: the connection must be closed."""


STATIC_TABLE: tuple[tuple[str, str], ...] = (
    (":authority", ""), (":method", "GET"), (":method", "POST"), (":path", "/"),
    (":path", "/index.html"), (":scheme", "http"), (":scheme", "https"), (":status", "200"),
    (":status", "204"), (":status", "206"), (":status", "304"), (":status", "400"),
    (":status", "404"), (":status", "500"), ("accept-charset", ""),
    ("accept-encoding", "gzip, deflate"), ("accept-language", ""), ("accept-ranges", ""),
    ("accept", ""), ("access-control-allow-origin", ""), ("age", ""), ("allow", ""),
    ("authorization", ""), ("cache-control", ""), ("content-disposition", ""),
    ("content-encoding", ""), ("content-language", ""), ("content-length", ""),
    ("content-location", ""), ("content-range", ""), ("content-type", ""), ("cookie", ""),
    ("date", ""), ("etag", ""), ("expect", ""), ("expires", ""), ("from", ""), ("host", ""),
    ("if-match", ""), ("if-modified-since", ""), ("if-none-match", ""), ("if-range", ""),
    ("if-unmodified-since", ""), ("last-modified", ""), ("link", ""), ("location", ""),
    ("max-forwards", ""), ("proxy-authenticate", ""), ("proxy-authorization", ""),
    ("range", ""), ("referer", ""), ("refresh", ""), ("retry-after", ""), ("server", ""),
    ("set-cookie", ""), ("strict-transport-security", ""), ("transfer-encoding", ""),
    ("user-agent", ""), ("vary", ""), ("via", ""), ("www-authenticate", ""),
)

# Code lengths of RFC 7541 Appendix B, symbols 0..255 then EOS (256). The code is
# canonical, so the lengths determine every code (checked against the RFC's examples
# in the unit tests).
_HUFFMAN_LENGTHS = bytes((
    13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28,
    28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28,
    6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6,
    5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10,
    13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
    7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6,
    15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5,
    6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28,
    20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23,
    24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24,
    22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23,
    21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23,
    26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25,
    19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27,
    20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23,
    26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26,
    30,
))
_EOS = 256


def _canonical_codes(lengths: bytes) -> list[int]:
    order = sorted(range(len(lengths)), key=lambda s: (lengths[s], s))
    codes = [0] * len(lengths)
    code, previous = 0, lengths[order[0]]
    for i, sym in enumerate(order):
        if i:
            code = (code + 1) << (lengths[sym] - previous)
        previous = lengths[sym]
        codes[sym] = code
    return codes


HUFFMAN_CODES: tuple[int, ...] = tuple(_canonical_codes(_HUFFMAN_LENGTHS))
_HUFFMAN_DECODE: dict[tuple[int, int], int] = {
    (length, code): sym
    for sym, (length, code) in enumerate(zip(_HUFFMAN_LENGTHS, HUFFMAN_CODES, strict=True))
}


def huffman_encode(data: bytes) -> bytes:
    """RFC 7541 Huffman coding, padded with the EOS prefix (used by the tests)."""
    bits, count = 0, 0
    for byte in data:
        bits = (bits << _HUFFMAN_LENGTHS[byte]) | HUFFMAN_CODES[byte]
        count += _HUFFMAN_LENGTHS[byte]
    pad = -count % 8
    bits = (bits << pad) | ((1 << pad) - 1)
    return bits.to_bytes((count + pad) // 8, "big")


def huffman_decode(data: bytes) -> bytes:
    """Decode a Huffman-coded string; raises ``HpackError`` on a malformed one."""
    out = bytearray()
    code, length = 0, 0
    for byte in data:
        for shift in range(7, -1, -1):
            code = (code << 1) | ((byte >> shift) & 1)
            length += 1
            sym = _HUFFMAN_DECODE.get((length, code)) if length >= 5 else None
            if sym is not None:
                if sym == _EOS:
                    raise HpackError("EOS symbol inside a Huffman-coded string")
                out.append(sym)
                code, length = 0, 0
            elif length > 30:
                raise HpackError("invalid Huffman code")
    # Padding: fewer than 8 bits, all ones (the EOS prefix).
    if length > 7 or code != (1 << length) - 1:
        raise HpackError("bad padding in a Huffman-coded string")
    return bytes(out)


# -- encoding (requests) ---------------------------------------------------------------


def encode_integer(value: int, prefix_bits: int, first_byte_flags: int = 0) -> bytes:
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes((first_byte_flags | value,))
    out = bytearray((first_byte_flags | limit,))
    value -= limit
    while value >= 128:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _string(data: bytes) -> bytes:
    return encode_integer(len(data), 7) + data


_STATIC_INDEX = {field: i + 1 for i, field in reversed(list(enumerate(STATIC_TABLE)))}
_STATIC_NAME_INDEX = {name: i + 1 for i, (name, _) in reversed(list(enumerate(STATIC_TABLE)))}


def encode_headers(headers: list[tuple[str, str]]) -> bytes:
    """A header block that leaves the peer's dynamic table alone.

    Fields in the static table are sent indexed; everything else as a literal without
    indexing (with an indexed name where one exists) and without Huffman coding.
    """
    out = bytearray()
    for name, value in headers:
        index = _STATIC_INDEX.get((name, value))
        if index is not None:
            out += encode_integer(index, 7, 0x80)
            continue
        name_index = _STATIC_NAME_INDEX.get(name, 0)
        out += encode_integer(name_index, 4, 0x00)
        if not name_index:
            out += _string(name.encode("ascii"))
        out += _string(value.encode("latin-1"))
    return bytes(out)


# -- decoding (responses) --------------------------------------------------------------


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
        self._table: deque[tuple[str, str]] = deque()
        self._size = 0
        self._max_size = max_table_size
        self._settings_max = max_table_size
        self._cache: dict[bytes, ResponseHeaders] = {}

    def decode(self, block: bytes) -> ResponseHeaders:
        """Decode one complete header block (HEADERS + CONTINUATION payloads joined)."""
        cached = self._cache.get(block)
        if cached is not None:
            return cached
        fields, changed = self._decode_fields(block)
        result = _summarise(fields)
        if changed:
            self._cache.clear()
        elif len(self._cache) < _CACHE_LIMIT:
            self._cache[block] = result
        return result

    def decode_fields(self, block: bytes) -> list[tuple[str, str]]:
        """Every field of a block, in order (diagnostics and tests)."""
        fields, changed = self._decode_fields(block)
        if changed:
            self._cache.clear()
        return fields

    def _decode_fields(self, block: bytes) -> tuple[list[tuple[str, str]], bool]:
        fields: list[tuple[str, str]] = []
        changed = False
        pos, end = 0, len(block)
        while pos < end:
            byte = block[pos]
            if byte & 0x80:  # indexed field
                index, pos = _decode_integer(block, pos, 7)
                fields.append(self._lookup(index))
            elif byte & 0x40:  # literal with incremental indexing
                name, value, pos = self._literal(block, pos, 6)
                fields.append((name, value))
                self._add(name, value)
                changed = True
            elif byte & 0x20:  # dynamic table size update
                size, pos = _decode_integer(block, pos, 5)
                if size > self._settings_max:
                    raise HpackError(f"table size update to {size} exceeds the limit")
                self._max_size = size
                self._evict()
                changed = True
            else:  # literal without indexing / never indexed
                name, value, pos = self._literal(block, pos, 4)
                fields.append((name, value))
        return fields, changed

    def _literal(self, block: bytes, pos: int, prefix: int) -> tuple[str, str, int]:
        index, pos = _decode_integer(block, pos, prefix)
        if index:
            name = self._lookup(index)[0]
        else:
            raw, pos = _decode_string(block, pos)
            name = raw.decode("latin-1")
        raw_value, pos = _decode_string(block, pos)
        return name, raw_value.decode("latin-1"), pos

    def _lookup(self, index: int) -> tuple[str, str]:
        if 1 <= index <= len(STATIC_TABLE):
            return STATIC_TABLE[index - 1]
        dynamic = index - len(STATIC_TABLE) - 1
        if 0 <= dynamic < len(self._table):
            return self._table[dynamic]
        raise HpackError(f"header index {index} is not in the table")

    def _add(self, name: str, value: str) -> None:
        size = len(name) + len(value) + 32
        self._table.appendleft((name, value))
        self._size += size
        self._evict()

    def _evict(self) -> None:
        while self._size > self._max_size and self._table:
            name, value = self._table.pop()
            self._size -= len(name) + len(value) + 32


def _decode_integer(data: bytes, pos: int, prefix_bits: int) -> tuple[int, int]:
    limit = (1 << prefix_bits) - 1
    try:
        value = data[pos] & limit
        pos += 1
        if value < limit:
            return value, pos
        shift = 0
        while True:
            byte = data[pos]
            pos += 1
            value += (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                return value, pos
            if shift > 35:
                raise HpackError("header integer too large")
    except IndexError:
        raise HpackError("header block ends inside an integer") from None


def _decode_string(data: bytes, pos: int) -> tuple[bytes, int]:
    if pos >= len(data):
        raise HpackError("header block ends before a string")
    huffman = bool(data[pos] & 0x80)
    length, pos = _decode_integer(data, pos, 7)
    if pos + length > len(data):
        raise HpackError("header block ends inside a string")
    raw = data[pos:pos + length]
    return (huffman_decode(raw) if huffman else raw), pos + length


def _summarise(fields: list[tuple[str, str]]) -> ResponseHeaders:
    http_status: int | None = None
    grpc_status: int | None = None
    message = ""
    content_type: str | None = None
    for name, value in fields:
        if name == ":status":
            http_status = int(value) if value.isdigit() else 0
        elif name == "grpc-status":
            grpc_status = int(value) if value.isdigit() else 2  # UNKNOWN
        elif name == "grpc-message":
            message = unquote(value)
        elif name == "content-type":
            content_type = value
    return ResponseHeaders(http_status, grpc_status, message, content_type)
