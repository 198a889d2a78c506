"""Response header blocks without the HPACK dynamic table, so each field's bytes can be cached.

hpack's Encoder searches and grows its dynamic table for every field of every response: for a
static plan (/status/503: ten fields) that was the largest cost of an HTTP/2 answer (bench/h2.py
profile). Encoding every field as an indexed static entry or a literal *without indexing*
(RFC 7541 §6.1, §6.2.2) makes a field's encoding independent of what was sent before, so it is
computed once and reused: a block is a join of cached bytes. The price is a few bytes per field
on the wire (no dynamic-table references); the peer's decoder state never changes.
"""

from __future__ import annotations

from collections.abc import Iterable

from hpack import Encoder
from hpack.hpack import encode_integer
from hpack.huffman import HuffmanEncoder
from hpack.huffman_constants import REQUEST_CODES, REQUEST_CODES_LENGTH
from hpack.table import HeaderTable

_HUFFMAN = HuffmanEncoder(REQUEST_CODES, REQUEST_CODES_LENGTH)
_STATIC_FULL: dict[tuple[bytes, bytes], int] = {}
_STATIC_NAME: dict[bytes, int] = {}
for _index, (_name, _value) in enumerate(HeaderTable.STATIC_TABLE, start=1):
    _STATIC_FULL.setdefault((_name, _value), _index)
    _STATIC_NAME.setdefault(_name, _index)

_CACHE: dict[tuple[bytes, bytes], bytes] = {}
_CACHE_MAX = 8192  # distinct fields cached (dates add one per second); cleared when full


def _string(data: bytes) -> bytes:
    """RFC 7541 §5.2: Huffman-coded when that is shorter."""
    coded = _HUFFMAN.encode(data)
    if len(coded) < len(data):
        length = encode_integer(len(coded), 7)
        length[0] |= 0x80
        return bytes(length) + coded
    return bytes(encode_integer(len(data), 7)) + data


def encode_field(name: bytes, value: bytes) -> bytes:
    """One field: a static-table index (§6.1), else a literal without indexing (§6.2.2)."""
    index = _STATIC_FULL.get((name, value))
    if index is not None:
        head = encode_integer(index, 7)
        head[0] |= 0x80
        return bytes(head)
    index = _STATIC_NAME.get(name)
    if index is not None:
        return bytes(encode_integer(index, 4)) + _string(value)
    return b"\x00" + _string(name) + _string(value)


class StaticEncoder(Encoder):
    """An hpack Encoder for h2 that never indexes: cached per-field bytes, joined."""

    def encode(self, headers: Iterable[tuple[bytes, bytes]], huffman: bool = True) -> bytes:  # type: ignore[override]
        parts = []
        if self.header_table.resized:
            # §4.2: a size change the peer's SETTINGS asked for is signalled first.
            parts.append(self._encode_table_size_change())
            self.header_table.resized = False
        cache = _CACHE
        for field in headers:
            key = (field[0], field[1])
            block = cache.get(key)
            if block is None:
                name, value = key
                if isinstance(name, str):
                    name = name.encode("utf-8")
                if isinstance(value, str):
                    value = value.encode("utf-8")
                block = encode_field(name, value)
                if len(cache) >= _CACHE_MAX:
                    cache.clear()
                cache[key] = block
            parts.append(block)
        return b"".join(parts)
