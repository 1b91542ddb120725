"""Remote SPAN: frames that arrive inside ERSPAN (types I, II, III), VXLAN, GRE or TZSP are decoded as
the frames they carry, so that a capture taken on a collector finds what a local SPAN port would."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest
from conftest import SHARED
from hypothesis import given, settings
from hypothesis import strategies as st

from zonewarden.traffic.capture import open_capture
from zonewarden.traffic.decode import decode
from zonewarden.traffic.discover import discover

PCAPS = SHARED / "pcaps"
CHOSEN = ["modbus", "s7comm", "enip", "dnp3"]
_OUTER_MACS = bytes.fromhex("0200000000aa0200000000bb")


def _ipv4(proto: int, body: bytes) -> bytes:
    header = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(body), 7, 0, 64, proto, 0, bytes([10, 99, 0, 1]),
                         bytes([10, 99, 0, 2]))  # fmt: skip
    return _OUTER_MACS + b"\x08\x00" + header + body


def wrap(frame: bytes, kind: str) -> bytes:
    """``frame`` (Ethernet) as a collector receives it over ``kind``."""
    if kind == "erspan1":  # GRE without sequence number, no ERSPAN header
        return _ipv4(47, struct.pack(">HH", 0, 0x88BE) + frame)
    if kind == "erspan2":  # GRE with sequence number, 8-byte ERSPAN II header
        return _ipv4(47, struct.pack(">HHI", 0x1000, 0x88BE, 5) + struct.pack(">HHI", 0x1064, 0x0001, 0) + frame)
    if kind == "erspan3":  # GRE with sequence number, ERSPAN III header with its 8-byte platform subheader
        header = struct.pack(">HHIHH", 0x2064, 0x0001, 123456, 0, 0x0001) + bytes(8)
        return _ipv4(47, struct.pack(">HHI", 0x1000, 0x22EB, 9) + header + frame)
    if kind == "gretap":  # GRE with key and checksum, transparent Ethernet bridging
        return _ipv4(47, struct.pack(">HHHHI", 0xA000, 0x6558, 0, 0, 42) + frame)
    if kind == "vxlan":
        body = struct.pack(">II", 0x08000000, 77 << 8) + frame
        return _ipv4(17, struct.pack(">HHHH", 54321, 4789, 8 + len(body), 0) + body)
    if kind == "tzsp":  # version 1, received, Ethernet; padding, a signal-strength tag (10), the end tag
        body = bytes.fromhex("01000001000a01c401") + frame
        return _ipv4(17, struct.pack(">HHHH", 54322, 37008, 8 + len(body), 0) + body)
    return frame


def _frames(dirs: list[str]) -> list[tuple[int, bytes, int]]:
    out = []
    for d in dirs:
        for path in sorted((PCAPS / d).glob("*.pcap*"))[:6]:
            with open_capture(path) as cap:
                for batch in cap.batches():
                    for i in range(len(batch)):
                        if int(batch.linktype[i]) == 1:
                            out.append((int(batch.ts_ns[i]), batch.packet_bytes(i), int(batch.wirelen[i])))
    return out


def _write(path, frames) -> None:
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1)]
    for k, (_, frame, wire) in enumerate(frames):
        out.append(struct.pack("<IIII", 1_700_000_000 + k // 1000, k % 1000, len(frame), wire) + frame)
    path.write_bytes(b"".join(out))


def _events(d) -> list:
    return sorted(
        (e.protocol, e.client, e.server, e.message, e.operation or "", e.function or "", e.count, e.first_packet)
        for e in d.events
    )


@pytest.mark.skipif(not PCAPS.is_dir(), reason="../shared/data/pcaps is not here")
def test_tunnelled_capture_finds_what_the_plain_one_does(tmp_path) -> None:
    frames = _frames(CHOSEN)
    assert len(frames) > 1000
    kinds = ["erspan1", "erspan2", "erspan3", "gretap", "vxlan", "tzsp", "plain"]
    wrapped = []
    for k, (ts, frame, wire) in enumerate(frames):
        outer = wrap(frame, kinds[k % len(kinds)])
        wrapped.append((ts, outer, wire + len(outer) - len(frame)))
    plain_cap, tunnel_cap = tmp_path / "plain.pcap", tmp_path / "tunnel.pcap"
    _write(plain_cap, frames)
    _write(tunnel_cap, wrapped)
    plain, tunnel = discover([plain_cap]), discover([tunnel_cap])
    assert json.dumps(tunnel.hosts, sort_keys=True) == json.dumps(plain.hosts, sort_keys=True)
    assert _events(tunnel) == _events(plain)
    assert [f for f in tunnel.flows] == [f for f in plain.flows]
    assert not any(h["ip"] in ("10.99.0.1", "10.99.0.2") for h in tunnel.hosts)  # the tunnel itself is not plant
    counts = tunnel.stats["tunnelled_packets"]
    assert counts == {
        "erspan": sum(1 for k in range(len(frames)) if kinds[k % 7].startswith("erspan")),
        "gre": sum(1 for k in range(len(frames)) if kinds[k % 7] == "gretap"),
        "vxlan": sum(1 for k in range(len(frames)) if kinds[k % 7] == "vxlan"),
        "tzsp": sum(1 for k in range(len(frames)) if kinds[k % 7] == "tzsp"),
    }
    assert plain.stats["tunnelled_packets"] == {}


def test_ip_in_gre_and_nested_tunnels(tmp_path) -> None:
    """An IP packet in GRE is read as raw IP; a VXLAN frame inside ERSPAN is opened twice."""
    inner = bytes.fromhex("020000000001020000000002" "0800") + struct.pack(
        ">BBHHHBBH4s4s", 0x45, 0, 40, 1, 0, 64, 6, 0, bytes([10, 1, 0, 5]), bytes([10, 1, 0, 9])
    ) + struct.pack(">HHIIBBHHH", 40001, 502, 1, 0, 0x50, 0x02, 8192, 0, 0)  # fmt: skip
    ip_in_gre = _ipv4(47, struct.pack(">HH", 0, 0x0800) + inner[14:])
    nested = wrap(wrap(inner, "vxlan"), "erspan2")
    cap = tmp_path / "t.pcap"
    _write(cap, [(0, ip_in_gre, len(ip_in_gre)), (0, nested, len(nested))])
    with open_capture(cap) as c:
        (batch,) = list(c.batches())
    h = decode(batch)
    assert h.src4.tolist() == [0x0A010005, 0x0A010005] and h.dport.tolist() == [502, 502]
    assert h.linktype.tolist() == [101, 1] and h.tunnels == {"gre": 1, "erspan": 1, "vxlan": 1}
    assert int(h.wirelen[1]) == len(inner)


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(["erspan1", "erspan2", "erspan3", "gretap", "vxlan", "tzsp"]), st.binary(max_size=80), st.data())
def test_broken_tunnels_never_raise(tmp_path_factory, kind, junk, data) -> None:
    """Whatever follows a tunnel header (nothing, garbage, a cut frame) decodes without an exception."""
    packet = wrap(junk, kind)
    cut = data.draw(st.integers(14, len(packet)))
    cap = tmp_path_factory.mktemp("t") / "t.pcap"
    _write(cap, [(0, packet[:cut], len(packet))])
    with open_capture(cap) as c:
        for batch in c.batches():
            h = decode(batch)
            assert len(h) == 1 and np.all(h.payload_len >= 0)
    discover([cap])
