"""HPACK: the RFC 7541 examples, and the cache that makes steady-state responses cheap."""

from __future__ import annotations

import pytest

from etcdmon_gui.bench import hpack
from etcdmon_gui.bench.hpack import HeaderDecoder, HpackError


@pytest.mark.parametrize(("text", "coded"), [
    # RFC 7541 C.4.1-C.4.3 and C.6.1
    (b"www.example.com", "f1e3c2e5f23a6ba0ab90f4ff"),
    (b"no-cache", "a8eb10649cbf"),
    (b"custom-key", "25a849e95ba97d7f"),
    (b"custom-value", "25a849e95bb8e8b4bf"),
    (b"302", "6402"),
    (b"private", "aec3771a4b"),
    (b"Mon, 21 Oct 2013 20:13:21 GMT", "d07abe941054d444a8200595040b8166e082a62d1bff"),
    (b"https://www.example.com", "9d29ad171863c78f0b97c8e9ae82ae43d3"),
])
def test_huffman_matches_the_rfc_examples(text: bytes, coded: str) -> None:
    assert hpack.huffman_encode(text).hex() == coded
    assert hpack.huffman_decode(bytes.fromhex(coded)) == text


def test_huffman_round_trips_every_byte() -> None:
    data = bytes(range(256)) * 2
    assert hpack.huffman_decode(hpack.huffman_encode(data)) == data


def test_huffman_rejects_bad_padding() -> None:
    with pytest.raises(HpackError):
        hpack.huffman_decode(bytes.fromhex("f1e3c2e5f23a6ba0ab90f400"))


def test_decoder_follows_the_rfc_request_sequence_with_its_dynamic_table() -> None:
    # RFC 7541 C.4: three requests with Huffman coding, sharing one dynamic table.
    dec = HeaderDecoder()
    first = dec.decode_fields(bytes.fromhex("828684418cf1e3c2e5f23a6ba0ab90f4ff"))
    assert first == [(":method", "GET"), (":scheme", "http"), (":path", "/"),
                     (":authority", "www.example.com")]
    second = dec.decode_fields(bytes.fromhex("828684be5886a8eb10649cbf"))
    assert second[-2:] == [(":authority", "www.example.com"), ("cache-control", "no-cache")]
    third = dec.decode_fields(bytes.fromhex(
        "828785bf408825a849e95ba97d7f8925a849e95bb8e8b4bf"))
    assert third == [(":method", "GET"), (":scheme", "https"), (":path", "/index.html"),
                     (":authority", "www.example.com"), ("custom-key", "custom-value")]


def test_indexed_only_blocks_are_cached_until_the_table_changes() -> None:
    dec = HeaderDecoder()
    # grpc-status: 0 then grpc-message: "" added to the table (literal, incremental)
    setup = (b"\x40" + b"\x0bgrpc-status" + b"\x010" + b"\x40" + b"\x0cgrpc-message" + b"\x00")
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
    block = hpack.encode_headers([(":status", "200"), ("content-type", "application/grpc"),
                                  ("grpc-status", "8"), ("grpc-message",
                                                         "etcdserver: mvcc: database space "
                                                         "exceeded%20(NOSPACE)")])
    h = dec.decode(block)
    assert h.http_status == 200 and h.grpc_status == 8
    assert h.grpc_message == "etcdserver: mvcc: database space exceeded (NOSPACE)"


def test_encoded_request_blocks_leave_the_table_alone() -> None:
    block = hpack.encode_headers([(":method", "POST"), (":scheme", "http"),
                                  (":path", "/etcdserverpb.KV/Put"), ("te", "trailers")])
    assert block[:2] == b"\x83\x86"  # static :method POST, :scheme http
    dec = HeaderDecoder()
    assert dec.decode_fields(block)[2] == (":path", "/etcdserverpb.KV/Put")
    assert dec.decode_fields(block) == dec.decode_fields(block)


def test_truncated_blocks_are_errors() -> None:
    with pytest.raises(HpackError):
        HeaderDecoder().decode(b"\x40\x0bgrpc-sta")
    with pytest.raises(HpackError):
        HeaderDecoder().decode(b"\xff")  # an integer that never ends
    with pytest.raises(HpackError):
        HeaderDecoder().decode(b"\xbe")  # dynamic index into an empty table
