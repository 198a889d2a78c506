"""The static HPACK encoder: what it writes decodes to the fields given, and never touches the
peer's dynamic table (so cached bytes stay valid whatever was sent before)."""

from __future__ import annotations

from hpack import Decoder

from mockstatus.wire.h2_hpack import StaticEncoder, encode_field

FIELDS = [
    (b":status", b"503"),
    (b":status", b"200"),  # a full static-table entry
    (b"retry-after", b"120"),  # a static name, our value
    (b"x-mockstatus", b"caf\xc3\xa9"),  # neither
    (b"content-type", b"text/plain; charset=utf-8"),
]


def test_blocks_decode_to_the_fields_and_leave_the_dynamic_table_empty() -> None:
    encoder, decoder = StaticEncoder(), Decoder()
    for _ in range(3):  # the same block again: identical bytes, the same fields
        block = encoder.encode(FIELDS)
        assert decoder.decode(block, raw=True) == FIELDS
        assert len(decoder.header_table.dynamic_entries) == 0
    assert encoder.encode(FIELDS) == block


def test_a_full_static_match_is_one_indexed_byte() -> None:
    assert encode_field(b":status", b"200") == bytes([0x80 | 8])  # RFC 7541 Appendix A, index 8


def test_a_table_size_change_is_signalled_first() -> None:
    encoder, decoder = StaticEncoder(), Decoder()
    encoder.header_table_size = 0  # the peer's SETTINGS_HEADER_TABLE_SIZE
    block = encoder.encode(FIELDS[:1])
    assert block[0] == 0x20  # §6.3: dynamic table size update to 0
    assert decoder.decode(block, raw=True) == FIELDS[:1]
    assert encoder.encode(FIELDS[:1])[0] != 0x20  # only once
