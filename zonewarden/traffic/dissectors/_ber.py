"""A minimal BER (ASN.1 basic encoding rules) TLV walker for the MMS and GOOSE dissectors.

Every parse error raises :class:`Truncated`, so the ``guarded`` wrapper turns it into a
``malformed`` observation (not an internal error).
"""

from __future__ import annotations

from collections.abc import Iterator

from zonewarden.traffic.dissectors._common import Truncated


def ber_tlv(data: bytes, pos: int, end: int | None = None) -> tuple[int, int, int, int]:
    """(tag class+constructed first byte, tag number, value start, value end) of the TLV at ``pos``."""
    end = len(data) if end is None else min(end, len(data))
    if pos >= end:
        raise Truncated("BER: no tag")
    first = data[pos]
    pos += 1
    number = first & 0x1F
    if number == 0x1F:  # high-tag-number form
        number = 0
        for _ in range(4):
            if pos >= end:
                raise Truncated("BER: tag cut")
            byte = data[pos]
            pos += 1
            number = (number << 7) | (byte & 0x7F)
            if not byte & 0x80:
                break
        else:
            raise Truncated("BER: tag too long")
    if pos >= end:
        raise Truncated("BER: no length")
    length = data[pos]
    pos += 1
    if length & 0x80:
        count = length & 0x7F
        if count == 0 or count > 4 or pos + count > end:
            raise Truncated("BER: bad length")
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    if pos + length > end:
        raise Truncated(f"BER: value of {length} bytes cut")
    return first, number, pos, pos + length


def ber_children(data: bytes, start: int, end: int) -> Iterator[tuple[int, int, int, int]]:
    """The TLVs between ``start`` and ``end``."""
    pos = start
    while pos < end:
        tlv = ber_tlv(data, pos, end)
        yield tlv
        pos = tlv[3]


def ber_int(raw: bytes) -> int:
    return int.from_bytes(raw[:8], "big", signed=True) if raw else 0
