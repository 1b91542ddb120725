"""IPv4 fragments are reassembled before dissection, in any order, and counted."""

from __future__ import annotations

import struct

from zonewarden.traffic.discover import discover

ETH = bytes.fromhex("ffffffffffff" "020000000050" "0800")


def _bacnet_i_am(instance: int, vendor: int) -> bytes:
    npdu = bytes.fromhex("0120ffff00ff")  # global broadcast, hop count 255
    apdu = bytes([0x10, 0x00, 0xC4]) + struct.pack(">I", (8 << 22) | instance)
    apdu += bytes.fromhex("220400") + bytes.fromhex("9100") + bytes([0x21, vendor])
    body = npdu + apdu
    return bytes([0x81, 0x0B]) + struct.pack(">H", 4 + len(body)) + body


def _fragments(payload: bytes, ident: int, cut: int) -> list[bytes]:
    udp = struct.pack(">HHHH", 47808, 47808, 8 + len(payload), 0) + payload
    out = []
    for offset, more in ((0, True), (cut, False)):
        piece = udp[offset : offset + cut] if more else udp[offset:]
        flags = (0x2000 if more else 0) | (offset // 8)
        ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(piece), ident, flags, 64, 17, 0,
                         bytes([192, 168, 0, 50]), bytes([192, 168, 0, 255]))  # fmt: skip
        out.append(ETH + ip + piece)
    return out


def _pcap(path, frames: list[bytes]) -> None:
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]
    for k, f in enumerate(frames):
        out.append(struct.pack("<IIII", 1_700_000_000, k, len(f), len(f)) + f)
    path.write_bytes(b"".join(out))


def test_fragmented_i_am_is_reassembled_out_of_order(tmp_path) -> None:
    first, last = _fragments(_bacnet_i_am(4711, 15), ident=0x1234, cut=16)
    cap = tmp_path / "frag.pcap"
    _pcap(cap, [last, first])  # the tail arrives first
    d = discover([cap])
    assert d.stats["ip_fragments"] == 2 and d.stats["reassembled_datagrams"] == 1
    host = next(h for h in d.hosts if h["ip"] == "192.168.0.50")
    facts = {(e["field"], e["value"], e["packet"]) for e in host["evidence"]}
    assert ("vendor_id", "15", 2) in facts  # from the packet that completed the datagram
    assert not d.problems


def test_a_lone_first_fragment_is_not_dissected_as_a_whole_packet(tmp_path) -> None:
    first, _ = _fragments(_bacnet_i_am(4711, 15), ident=0x99, cut=16)
    cap = tmp_path / "half.pcap"
    _pcap(cap, [first])
    d = discover([cap])
    assert d.stats["ip_fragments"] == 1 and d.stats["reassembled_datagrams"] == 0
    assert d.stats["dissected_packets"] == 0


def _ipv6_fragments(payload: bytes, ident: int, cut: int) -> list[bytes]:
    eth = bytes.fromhex("333300000001" "020000000050" "86dd")
    src, dst = bytes.fromhex("fd000000000000000000000000000050"), bytes.fromhex("fd0000000000000000000000000000ff")
    udp = struct.pack(">HHHH", 47808, 47808, 8 + len(payload), 0) + payload
    out = []
    for offset, more in ((0, True), (cut, False)):
        piece = udp[offset : offset + cut] if more else udp[offset:]
        frag = struct.pack(">BBHI", 17, 0, offset | (1 if more else 0), ident)
        ip6 = struct.pack(">IHBB", 0x60000000, 8 + len(piece), 44, 64) + src + dst
        out.append(eth + ip6 + frag + piece)
    return out


def test_ipv6_fragments_are_reassembled_too(tmp_path) -> None:
    first, last = _ipv6_fragments(_bacnet_i_am(77, 15), ident=0xABCDEF01, cut=16)
    cap = tmp_path / "frag6.pcap"
    _pcap(cap, [last, first])
    d = discover([cap])
    assert d.stats["reassembled_datagrams"] == 1
    host = next(h for h in d.hosts if h["ip"] == "fd00::50")
    assert ("vendor_id", "15") in {(e["field"], e["value"]) for e in host["evidence"]}
