"""Streaming reader for pcap and pcapng captures, plain or gzip-compressed.

The reader turns a file into :class:`RawBatch` objects: one ~1 MB chunk of records and
numpy columns saying where each packet's bytes sit in it (offset, captured and wire
length), when it was captured (int64 ns) and its link type. Header fields above the
link layer are decoded in bulk by :mod:`zonewarden.traffic.decode`.

Contract:

* Memory is bounded whatever the file size: the file is read in ``chunk_size`` pieces
  (1 MB measured best, see DESIGN.md "Performance notes"); a record larger than a chunk
  is read whole, up to :data:`MAX_RECORD`.
* Bad data never raises. Everything readable is yielded; :attr:`Capture.status` then
  says where and why reading stopped (:class:`Stop`: packet number, byte offset in the
  uncompressed stream, reason) and lists recoverable oddities as warnings.
* :class:`CaptureError` (an :class:`~zonewarden.errors.InputError` naming the file) is
  raised only when the file cannot be opened or is not a pcap/pcapng file at all.

Formats: pcap in both byte orders with microsecond or nanosecond magic (and the
"modified" pcap variant with 24-byte record headers); pcapng with any number of
sections (each with its own byte order) and interfaces (each with its own link type,
``if_tsresol`` and ``if_tsoffset``), and Enhanced, Simple and obsolete Packet blocks.
gzip compression is recognised by its magic bytes, not by the file name.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np

from zonewarden.errors import InputError, Location

CHUNK_SIZE = 1 << 20
MAX_RECORD = 1 << 24  # 16 MiB: larger record or block lengths are corruption, never read into memory
PAD = 256  # zero bytes after the last record of a batch, so bulk gathers past a short packet stay in bounds
MAX_WARNINGS = 20
LINKTYPE_UNKNOWN = 0xFFFF  # packets whose pcapng interface is not defined

_PCAP_MAGICS: dict[bytes, tuple[str, int, int]] = {  # magic -> (byte order, ns per tick, record header size)
    b"\xd4\xc3\xb2\xa1": ("<", 1000, 16),
    b"\xa1\xb2\xc3\xd4": (">", 1000, 16),
    b"\x4d\x3c\xb2\xa1": ("<", 1, 16),
    b"\xa1\xb2\x3c\x4d": (">", 1, 16),
    b"\x34\xcd\xb2\xa1": ("<", 1000, 24),  # Alexey Kuznetzov's modified pcap
    b"\xa1\xb2\xcd\x34": (">", 1000, 24),
}
_SHB = 0x0A0D0D0A
_PCAPNG = _SHB.to_bytes(4, "big")  # how a pcapng file starts (the block type reads the same both ways)
_BOM_LE = b"\x4d\x3c\x2b\x1a"
_BOM_BE = b"\x1a\x2b\x3c\x4d"
_GZIP = b"\x1f\x8b"
_PADDING = bytes(PAD)


def is_capture_file(path: Path) -> bool:
    """The file starts like a pcap or pcapng capture, plain or gzip-compressed (for picking captures out of
    a folder; a file named on its own is opened and, if it is not one, reported)."""
    import gzip

    try:
        with open(path, "rb") as f:
            head = f.read(4)
            if head[:2] == _GZIP:
                f.seek(0)
                with gzip.GzipFile(fileobj=f) as inner:
                    head = inner.read(4)
    except (OSError, EOFError):
        return False
    return head in _PCAP_MAGICS or head == _PCAPNG


def windows(buf: bytes, width: int) -> np.ndarray:
    """A read-only (len - width + 1, width) view of ``buf``: row ``p`` is ``buf[p : p + width]``.

    Indexing it with an array of positions gathers ``width`` bytes per position in one
    numpy call; the cost is per row, so one wide gather beats several narrow ones.
    """
    return np.ndarray((len(buf) - width + 1, width), np.uint8, buf, 0, (1, 1))


class CaptureError(InputError):
    """The file cannot be read or is not a pcap/pcapng capture."""


@dataclass(frozen=True)
class Stop:
    """Where and why reading stopped before the end of the file."""

    packet: int  # the number the first unread packet would have had (1-based)
    offset: int  # byte offset in the (uncompressed) file
    reason: str

    def __str__(self) -> str:
        return f"packet {self.packet} at byte {self.offset}: {self.reason}"


@dataclass
class CaptureStatus:
    """What reading a capture achieved; final once :meth:`Capture.batches` is exhausted."""

    path: str
    format: str  # "pcap" or "pcapng"
    compressed: bool
    packets: int = 0
    bytes: int = 0  # uncompressed bytes consumed
    stop: Stop | None = None
    warnings: list[str] = field(default_factory=list)
    warning_count: int = 0
    linktypes: set[int] = field(default_factory=set)

    @property
    def complete(self) -> bool:
        """True when the whole file was read without a structural error."""
        return self.stop is None

    def warn(self, message: str) -> None:
        self.warning_count += 1
        if len(self.warnings) < MAX_WARNINGS:
            self.warnings.append(message)

    def describe(self) -> str:
        """One line for people: how many packets and, if any, where reading stopped."""
        head = f"{self.path}: {self.packets} packets"
        return f"{head}; stopped at {self.stop}" if self.stop else head


@dataclass(frozen=True)
class RawBatch:
    """Consecutive packets of one chunk; all columns have one row per packet.

    ``buf`` holds the records followed by :data:`PAD` zero bytes; packet ``i`` is
    ``buf[data_off[i] : data_off[i] + caplen[i]]``.
    """

    buf: bytes
    number: np.ndarray  # int64, 1-based packet number in the file
    ts_ns: np.ndarray  # int64, nanoseconds since the epoch
    linktype: np.ndarray  # int64, LINKTYPE_* value
    data_off: np.ndarray  # int64, offset of the packet bytes in buf
    caplen: np.ndarray  # int64, captured length
    wirelen: np.ndarray  # int64, length on the wire
    file_off: np.ndarray  # int64, offset of the record header / block in the uncompressed file

    def __len__(self) -> int:
        return len(self.number)

    def packet_bytes(self, i: int) -> bytes:
        """The captured bytes of row ``i``."""
        start = int(self.data_off[i])
        return self.buf[start : start + int(self.caplen[i])]


class _GzipSource:
    """Incremental gzip decompression (multi-member) that keeps whatever it could decompress."""

    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self.dec = zlib.decompressobj(wbits=31)
        self.tail = b""
        self.done = False
        self.error: str | None = None
        self.note: str | None = None

    def read(self, n: int) -> bytes:
        parts: list[bytes] = []
        got = 0
        while got < n and not self.done:
            if self.dec.eof:
                rest = self.dec.unused_data
                if len(rest) < 2:
                    rest += self.raw.read(1 << 16)
                if rest[:2] != _GZIP:
                    if rest.strip(b"\0") or self.raw.read(1):
                        self.note = "ignored trailing bytes after the compressed data"
                    self.done = True
                    break
                self.dec = zlib.decompressobj(wbits=31)
                self.tail = rest
            data = self.tail or self.raw.read(1 << 16)
            if not data:
                self.error = "the compressed data ends before its end marker"
                self.done = True
                break
            try:
                piece = self.dec.decompress(data, n - got)
            except zlib.error as exc:
                self.error = f"corrupt compressed data ({exc})"
                self.done = True
                break
            self.tail = self.dec.unconsumed_tail
            if piece:
                parts.append(piece)
                got += len(piece)
        return b"".join(parts)


class _PlainSource:
    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self.error: str | None = None
        self.note: str | None = None

    def read(self, n: int) -> bytes:
        try:
            return self.raw.read(n)
        except OSError as exc:
            self.error = f"read error ({exc.strerror or exc})"
            return b""


@dataclass
class _Interface:
    linktype: int
    snaplen: int
    tsresol: int = 6  # pcapng if_tsresol byte
    tsoffset: int = 0  # seconds

    def to_ns(self, ticks: np.ndarray) -> np.ndarray:
        """Convert uint64 timestamp ticks to int64 nanoseconds (garbage resolutions are clamped)."""
        r = self.tsresol & 0x7F
        if self.tsresol & 0x80:
            r = min(r, 63)
            sec = (ticks >> np.uint64(r)).astype(np.int64)
            frac = (ticks & np.uint64((1 << r) - 1)).astype(np.float64) * (1e9 / 2.0**r)
            ns = sec * 1_000_000_000 + frac.astype(np.int64)
        elif r <= 9:
            ns = ticks.astype(np.int64) * (10 ** (9 - r))
        else:
            ns = (ticks // np.uint64(10 ** min(r - 9, 19))).astype(np.int64)
        offset = max(min(self.tsoffset, 1 << 33), -(1 << 33))  # seconds; more is corruption
        return ns + offset * 1_000_000_000 if offset else ns


@dataclass
class _Section:
    order: str
    interfaces: list[_Interface] = field(default_factory=list)


class Capture:
    """An open capture file: iterate :meth:`batches` once, then read :attr:`status`.

    Use as a context manager (or call :meth:`close`) to release the file.
    """

    def __init__(self, path: str | Path, chunk_size: int = CHUNK_SIZE) -> None:
        self.path = str(path)
        self.chunk_size = max(int(chunk_size), 64)
        try:
            self._raw: BinaryIO = open(path, "rb")  # noqa: SIM115 - closed by close()
            self._size: int | None = Path(path).stat().st_size
            head = self._raw.read(4)
        except OSError as exc:
            raise CaptureError(f"cannot read the file ({exc.strerror or exc})", Location(self.path)) from exc
        compressed = head[:2] == _GZIP
        self._src: _GzipSource | _PlainSource
        if compressed:
            self._raw.seek(0)
            self._src = _GzipSource(self._raw)
            self._size = None
            head = self._src.read(4)
        else:
            self._src = _PlainSource(self._raw)
        self._head = head
        if head in _PCAP_MAGICS:
            fmt = "pcap"
        elif head == _PCAPNG:
            fmt = "pcapng"
        else:
            self.close()
            what = "the file is empty" if not head else f"it starts with 0x{head.hex()}"
            if compressed:
                what = f"gzip content: {self._src.error or what}"
            raise CaptureError(f"not a pcap or pcapng capture file ({what})", Location(self.path))
        self.status = CaptureStatus(path=self.path, format=fmt, compressed=compressed)
        self._used = False

    def __enter__(self) -> Capture:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._raw.close()

    def __iter__(self) -> Iterator[RawBatch]:
        return self.batches()

    def batches(self) -> Iterator[RawBatch]:
        """Yield the packets chunk by chunk; updates :attr:`status` as it goes."""
        if self._used:
            raise RuntimeError("a Capture can be iterated only once")
        self._used = True
        walk = self._pcap if self.status.format == "pcap" else self._pcapng
        try:
            yield from walk()
        finally:
            if self._src.note:
                self.status.warn(self._src.note)

    # -- shared helpers -------------------------------------------------------------------

    def _stop(self, offset: int, reason: str, packet: int | None = None) -> None:
        """Record where reading stops (``packet``: the number of the unread packet).

        The earliest damage in the file wins, whichever check found it first: the block walk
        runs ahead of the per-packet column checks, so a later block can be found bad before
        an earlier packet block is."""
        stop = self.status.stop
        if stop is None or offset < stop.offset:
            self.status.stop = Stop(packet or self.status.packets + 1, offset, reason)

    def _read(self, n: int) -> bytes:
        if self._head:
            head, self._head = self._head, b""
            return head + self._src.read(n - len(head)) if n > len(head) else head
        return self._src.read(n)

    def _pending_ok(self, at: int, header: int, declared: int, what: str) -> bool:
        """Decide whether to read on for a record at file offset ``at`` (``header`` + ``declared`` bytes)."""
        if self._size is not None and at + header + declared > self._size:
            left = max(self._size - at - header, 0)
            self._stop(at, f"{what} length {declared} exceeds the remaining file ({left} bytes left)")
            return False
        if declared > MAX_RECORD:
            self._stop(at, f"{what} length {declared} exceeds the {MAX_RECORD >> 20} MiB limit")
            return False
        return True

    def _at_eof(self, at: int, leftover: int, header: int, declared: int | None, what: str) -> None:
        """Record why reading ended with ``leftover`` unread bytes at file offset ``at``."""
        if self._src.error:
            self._stop(at, self._src.error)
        elif leftover and declared is None:
            self._stop(at, f"truncated {what} header ({leftover} bytes left)")
        elif leftover:
            left = max(leftover - header, 0)
            self._stop(at, f"{what} length {declared} exceeds the remaining file ({left} bytes left)")

    def _emit(self, buf: bytes, parts: list[tuple[np.ndarray, ...]]) -> RawBatch:
        if len(parts) == 1:
            data_off, caplen, wirelen, ts_ns, linktype, file_off = parts[0]
        else:
            data_off, caplen, wirelen, ts_ns, linktype, file_off = (np.concatenate(c) for c in zip(*parts, strict=True))
        first = self.status.packets + 1
        self.status.packets += len(data_off)
        if linktype[0] == linktype[-1] and (linktype == linktype[0]).all():
            self.status.linktypes.add(int(linktype[0]))
        else:
            self.status.linktypes.update(np.unique(linktype).tolist())
        number = np.arange(first, first + len(data_off), dtype=np.int64)
        return RawBatch(buf, number, ts_ns, linktype, data_off, caplen, wirelen, file_off)

    # -- pcap -----------------------------------------------------------------------------

    def _pcap(self) -> Iterator[RawBatch]:
        st = self.status
        hdr = self._read(24)
        if len(hdr) < 24:
            self._at_eof(0, len(hdr), 0, None, "file")
            st.bytes = len(hdr)
            return
        order, tick_ns, rec = _PCAP_MAGICS[hdr[:4]]
        snaplen, network = struct.unpack_from(order + "II", hdr, 16)
        linktype = network & 0xFFFF
        limit = min(max(snaplen, 262144), MAX_RECORD)
        unpack = struct.Struct(order + "I").unpack_from
        u4 = np.dtype(order + "u4")
        base, leftover, want = 24, b"", self.chunk_size
        while True:
            data = self._read(want)
            eof = len(data) < want
            buf = b"".join((leftover, data, _PADDING))
            n = len(buf) - PAD
            offs: list[int] = []  # offsets of the captured-length fields (record start + 8)
            append = offs.append
            # The hot loop: walk record headers only; every field is gathered below with numpy.
            # A record is complete when the next one starts within the data, so only the
            # last one collected needs a check.
            p, last = 8, n - rec + 8
            while p <= last:
                append(p)
                p += unpack(buf, p)[0] + rec
            off = p - 8
            if offs and off > n:
                off = offs.pop() - 8
            declared = unpack(buf, off + 8)[0] if off + rec <= n else None
            if offs:
                o = np.fromiter(offs, np.int64, len(offs)) - 8
                h = windows(buf, 16)[o].view(u4)
                caplen = h[:, 2].astype(np.int64)
                bad = np.flatnonzero(caplen > limit)
                if len(bad):
                    k = int(bad[0])
                    reason = f"record length {int(caplen[k])} exceeds the snapshot length {snaplen}"
                    self._stop(base + int(o[k]), reason, st.packets + 1 + k)
                    o, h, caplen = o[:k], h[:k], caplen[:k]
                if len(o):
                    ts = h[:, 0].astype(np.int64) * 1_000_000_000 + h[:, 1].astype(np.int64) * tick_ns
                    wire = h[:, 3].astype(np.int64)
                    parts: list[tuple[np.ndarray, ...]] = [
                        (o + rec, caplen, wire, ts, np.full(len(o), linktype, np.int64), o + base)
                    ]
                    yield self._emit(buf, parts)
                if st.stop:
                    st.bytes = st.stop.offset
                    return
            leftover = buf[off:n]
            base += off
            st.bytes = base
            if eof:
                self._at_eof(base, len(leftover), rec, declared, "record")
                return
            want = self.chunk_size
            if declared is not None:
                if not self._pending_ok(base, rec, declared, "record"):
                    return
                if declared > limit:
                    self._stop(base, f"record length {declared} exceeds the snapshot length {snaplen}")
                    return
                want = max(self.chunk_size, rec + declared - len(leftover))

    # -- pcapng ---------------------------------------------------------------------------

    def _pcapng(self) -> Iterator[RawBatch]:
        st = self.status
        base, leftover, want = 0, b"", self.chunk_size
        section: _Section | None = None
        while True:
            data = self._read(want)
            eof = len(data) < want
            buf = b"".join((leftover, data, _PADDING))
            n = len(buf) - PAD
            parts: list[tuple[np.ndarray, ...]] = []
            off = 0
            declared: int | None = None
            while True:
                offs: list[int] = []
                special: dict[int, tuple[int, int, int, int, int]] = {}
                first_number = st.packets + 1 + sum(len(p[0]) for p in parts)
                off, declared, section = self._walk_blocks(buf, off, n, base, section, offs, special, first_number)
                if offs and section is not None:
                    part, cut = self._blocks_to_columns(buf, base, offs, special, section, first_number)
                    if len(part[0]):
                        parts.append(part)
                    if cut is not None:
                        break
                if st.stop or declared is not None or off + 12 > n:
                    break
            if parts:
                yield self._emit(buf, parts)
            if st.stop:
                st.bytes = st.stop.offset
                return
            leftover = buf[off:n]
            base += off
            st.bytes = base
            if eof:
                self._at_eof(base, len(leftover), 0, declared if len(leftover) >= 8 else None, "block")
                return
            want = self.chunk_size
            if declared is not None:
                if not self._pending_ok(base, 0, declared, "block"):
                    return
                want = max(self.chunk_size, declared - len(leftover))

    def _walk_blocks(
        self,
        buf: bytes,
        off: int,
        n: int,
        base: int,
        section: _Section | None,
        offs: list[int],
        special: dict[int, tuple[int, int, int, int, int]],
        number: int,
    ) -> tuple[int, int | None, _Section | None]:
        """Walk blocks of one section from ``off``; collect packet block offsets in ``offs``.

        Returns (offset reached, declared length of an incomplete block or None, section).
        Stops at a new section header (after the first packet block) so that every call
        sees one byte order and one interface table.
        """
        order = section.order if section else "<"
        pair = struct.Struct(order + "II").unpack_from
        append = offs.append
        while True:
            while off + 8 <= n:  # the hot loop: Enhanced Packet Blocks of a complete chunk
                bt, bl = pair(buf, off)
                nxt = off + bl
                if bt != 6 or bl < 32 or nxt > n:
                    break
                append(off)
                off = nxt
            if off + 12 > n:
                return off, (pair(buf, off)[1] if off + 8 <= n and section else None), section
            bt, bl = pair(buf, off)
            at = base + off
            if bt == _SHB:
                if offs:
                    return off, None, section
                bom = buf[off + 8 : off + 12]
                if bom not in (_BOM_LE, _BOM_BE):
                    reason = f"section header with an invalid byte-order magic 0x{bom.hex()}"
                    self._stop(at, reason, number + len(offs))
                    return off, None, section
                order = "<" if bom == _BOM_LE else ">"
                pair = struct.Struct(order + "II").unpack_from
                bl = pair(buf, off)[1]
                if bl < 28 or bl & 3:
                    self._stop(at, f"section header block length {bl} is invalid", number + len(offs))
                    return off, None, section
                if off + bl > n:
                    return off, bl, section
                section = _Section(order)
                off += bl
                continue
            if section is None:
                self._stop(at, "the file does not start with a section header block", number + len(offs))
                return off, None, section
            if bl < 12 or bl & 3:
                self._stop(at, f"block length {bl} is invalid (block type 0x{bt:08x})", number + len(offs))
                return off, None, section
            if off + bl > n:
                return off, bl, section
            (trailer,) = struct.unpack_from(order + "I", buf, off + bl - 4)
            if trailer != bl:
                self._stop(
                    at,
                    f"block type 0x{bt:08x}: total length {bl} differs from its trailing copy {trailer}",
                    number + len(offs),
                )
                return off, None, section
            if bt == 1 and bl >= 20:
                section.interfaces.append(_parse_idb(buf, off, bl, order))
            elif bt == 6:  # an Enhanced Packet Block too short to hold its own header
                self.status.warn(f"byte {at}: enhanced packet block of {bl} bytes skipped")
            elif bt == 3 and bl >= 16:  # Simple Packet Block: interface 0, no timestamp
                (wire,) = struct.unpack_from(order + "I", buf, off + 8)
                snap = section.interfaces[0].snaplen if section.interfaces else 0
                cap = min(wire, bl - 16, snap or wire)
                special[len(offs)] = (0, 0, cap, wire, off + 12)
                append(off)
            elif bt == 2 and bl >= 32:  # obsolete Packet Block
                ifid, _drops, hi, lo, cap, wire = struct.unpack_from(order + "HHIIII", buf, off + 8)
                special[len(offs)] = (ifid, (hi << 32) | lo, min(cap, bl - 32), wire, off + 28)
                append(off)
            off += bl

    def _blocks_to_columns(
        self,
        buf: bytes,
        base: int,
        offs: list[int],
        special: dict[int, tuple[int, int, int, int, int]],
        section: _Section,
        first_number: int,
    ) -> tuple[tuple[np.ndarray, ...], int | None]:
        """Gather the columns of packet blocks (Enhanced ones in bulk); cut at a corrupt block."""
        o = np.fromiter(offs, np.int64, len(offs))
        u4 = np.dtype(section.order + "u4")
        h = windows(buf, 28)[o].view(u4).astype(np.int64)
        bl = h[:, 1]
        trailer = windows(buf, 4)[np.minimum(o + bl - 4, len(buf) - 4)].view(u4).astype(np.int64)[:, 0]
        ifid = h[:, 2]
        ticks = (h[:, 3].astype(np.uint64) << np.uint64(32)) | h[:, 4].astype(np.uint64)
        caplen = np.minimum(h[:, 5], bl - 32)
        wirelen = h[:, 6]
        data_off = o + 28
        bad = (trailer != bl) | ((bl & 3) != 0)
        for i, (sp_if, sp_ticks, sp_cap, sp_wire, sp_data) in special.items():
            ifid[i], ticks[i], caplen[i], wirelen[i], data_off[i] = sp_if, sp_ticks, sp_cap, sp_wire, sp_data
            bad[i] = False
        cut: int | None = None
        if bad.any():
            cut = int(np.argmax(bad))
            k = cut
            self._stop(
                base + offs[k],
                f"block type 0x6: total length {int(bl[k])} differs from its trailing copy {int(trailer[k])}",
                first_number + k,
            )
            o, ifid, ticks, caplen, wirelen, data_off = (
                o[:k],
                ifid[:k],
                ticks[:k],
                caplen[:k],
                wirelen[:k],
                data_off[:k],
            )
        ifaces = section.interfaces
        lt_table = np.array([i.linktype for i in ifaces] + [LINKTYPE_UNKNOWN], dtype=np.int64)
        ts = np.zeros(len(o), dtype=np.int64)
        for i in np.unique(ifid).tolist():
            rows = ifid == i
            if i < len(ifaces):
                ts[rows] = ifaces[i].to_ns(ticks[rows])
            else:
                at = first_number + int(np.flatnonzero(rows)[0])
                self.status.warn(f"packet {at}: interface {i} is not defined ({int(rows.sum())} packets)")
        linktype = lt_table[np.minimum(ifid, len(ifaces))]
        return (data_off, caplen, wirelen, ts, linktype, o + base), cut


def _parse_idb(buf: bytes, off: int, bl: int, order: str) -> _Interface:
    """Interface Description Block: link type, snaplen and the timestamp options."""
    linktype, _, snaplen = struct.unpack_from(order + "HHI", buf, off + 8)
    iface = _Interface(linktype, snaplen)
    pos, end = off + 16, off + bl - 4
    while pos + 4 <= end:
        code, length = struct.unpack_from(order + "HH", buf, pos)
        if code == 0:
            break
        if code == 9 and length >= 1 and pos + 5 <= end:
            iface.tsresol = buf[pos + 4]
        elif code == 14 and length >= 8 and pos + 12 <= end:
            iface.tsoffset = struct.unpack_from(order + "q", buf, pos + 4)[0]
        pos += 4 + ((length + 3) & ~3)
    return iface


def open_capture(path: str | Path, chunk_size: int = CHUNK_SIZE) -> Capture:
    """Open a capture file (raises :class:`CaptureError` if it is not one)."""
    return Capture(path, chunk_size)
