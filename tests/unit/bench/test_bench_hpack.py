"""HPACK: request blocks that leave the server's table alone, and the response cache.

The coding itself is the ``hpack`` package's; these tests check what this project
builds on it: the decoder follows a server that indexes everything (Huffman,
evictions), the cache never answers with a stale meaning, and errors close the
connection as ``HpackError``.
"""

from __future__ import annotations

import pytest
from hpack import Decoder, Encoder

from etcdmon_gui.bench.hpack import HeaderDecoder, HpackError, encode_headers


def test_decoder_follows_the_rfc_response_sequence_with_evictions() -> None:
    # RFC 7541 C.6: three responses with Huffman coding and a 256-byte dynamic table.
    dec = HeaderDecoder(max_table_size=256)
    blocks = [
        "488264025885aec3771a4b6196d07abe941054d444a8200595040b8166e082a62d1bff6e919d29ad"
        "171863c78f0b97c8e9ae82ae43d3",
        "4883640effc1c0bf",
        "88c16196d07abe941054d444a8200595040b8166e084a62d1bffc05a839bd9ab77ad94e7821dd7f2"
        "e6c7b335dfdfcd5b3960d5af27087f3672c1ab270fb5291f9587316065c003ed4ee5b1063d5007",
    ]
    assert [dec.decode(bytes.fromhex(b)).http_status for b in blocks] == [302, 307, 200]
    with pytest.raises(HpackError):
        dec.decode(b"\xc1")  # :status 307 was evicted; only three entries are left


def test_decoder_keeps_step_with_a_server_that_indexes_everything() -> None:
    server = Encoder()  # like Go's: every field indexed, Huffman, evictions at 4 KiB
    dec = HeaderDecoder()
    for i in range(300):
        head = dec.decode(server.encode([(":status", "200"), ("content-type", "application/grpc")]))
        assert (head.http_status, head.content_type) == (200, "application/grpc")
        code, message = (0, "") if i % 3 else (i % 17, f"error%20number {i}")
        trailers = dec.decode(
            server.encode([("grpc-status", str(code)), ("grpc-message", message)])
        )
        assert (trailers.grpc_status, trailers.grpc_message) == (code, message.replace("%20", " "))


def test_indexed_only_blocks_are_cached_until_the_table_changes() -> None:
    dec = HeaderDecoder()
    # grpc-status: 0 then grpc-message: "" added to the table (literal, incremental)
    setup = b"\x40" + b"\x0bgrpc-status" + b"\x010" + b"\x40" + b"\x0cgrpc-message" + b"\x00"
    trailers = dec.decode(setup)
    assert (trailers.grpc_status, trailers.grpc_message) == (0, "")
    indexed = bytes((0x80 | 63, 0x80 | 62))  # both fields again, now by index
    assert dec.decode(indexed) is dec.decode(indexed)  # remembered
    # A new entry shifts the indexes: the same bytes now mean something else.
    changed = dec.decode(b"\x40" + b"\x0bgrpc-status" + b"\x0213")
    assert changed.grpc_status == 13
    again = dec.decode(indexed)
    assert again.grpc_status == 13 and again.grpc_message == ""  # index 62 is the new entry


def test_error_trailers_are_percent_decoded() -> None:
    dec = HeaderDecoder()
    block = encode_headers(
        [
            (":status", "200"),
            ("content-type", "application/grpc"),
            ("grpc-status", "8"),
            ("grpc-message", "etcdserver: mvcc: database space exceeded%20(NOSPACE)"),
        ]
    )
    h = dec.decode(block)
    assert h.http_status == 200 and h.grpc_status == 8
    assert h.grpc_message == "etcdserver: mvcc: database space exceeded (NOSPACE)"


def test_encoded_request_blocks_leave_the_table_alone() -> None:
    fields = [
        (":method", "POST"),
        (":scheme", "http"),
        (":path", "/etcdserverpb.KV/Put"),
        ("te", "trailers"),
        ("token", "secret.42"),
    ]
    block = encode_headers(fields)
    assert block[:2] == b"\x83\x86"  # static :method POST, :scheme http
    assert block == encode_headers(fields)  # the same bytes for every request
    server = Decoder()
    for _ in range(2):
        assert server.decode(block) == fields
    assert not server.header_table.dynamic_entries


def test_malformed_blocks_are_errors() -> None:
    with pytest.raises(HpackError):
        HeaderDecoder().decode(b"\x40\x0bgrpc-sta")  # truncated string
    with pytest.raises(HpackError):
        HeaderDecoder().decode(b"\xff")  # an integer that never ends
    with pytest.raises(HpackError):
        HeaderDecoder().decode(b"\xbe")  # dynamic index into an empty table
    with pytest.raises(HpackError):  # RFC 7541 C.4.1's authority, padded with zeros
        HeaderDecoder().decode(bytes.fromhex("018cf1e3c2e5f23a6ba0ab90f400"))
    with pytest.raises(HpackError):
        HeaderDecoder().decode(b"\x3f\xe9\x26")  # table size update to 5000 > 4096
