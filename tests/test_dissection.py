"""The dissection stage's memo (one flow's findings reused by flows that say the same) changes nothing.

Oracle: ``discover(..., skip_repeats=False)`` dissects every packet with its own addresses and adds
every observation on its own. The fast path (repeats skipped, memo, aggregation) must give the
same hosts and events on a replay of the shared captures where each round has new addresses,
new client ports and new times, so that flows of later rounds follow the memo that earlier
rounds recorded, leave it where they differ, and overflow its bounds.
"""

from __future__ import annotations

import struct

import pytest
from conftest import SHARED
from test_repeats import _events, _hosts

import zonewarden.traffic.dissection as dissection
from zonewarden.traffic.capture import open_capture
from zonewarden.traffic.discover import discover

PCAPS = SHARED / "pcaps"
CAPTURES = sorted(p for p in PCAPS.rglob("*") if p.suffix in (".pcap", ".pcapng", ".gz")) if PCAPS.is_dir() else []
_V4, _V6 = b"\x08\x00", b"\x86\xdd"


def _rewrite(frame: bytes, rnd: int) -> bytes:
    """The frame with both IP addresses moved (IPv4: second octet, IPv6: second byte) and, in odd
    rounds, TCP/UDP source and destination ports above 40000 (client ports) moved too."""
    if rnd == 0 or len(frame) < 14:
        return frame
    b = bytearray(frame)
    if frame[12:14] == _V4 and len(b) >= 34:
        b[15 + 12] = (b[15 + 12] + rnd) & 0xFF
        b[15 + 16] = (b[15 + 16] + rnd) & 0xFF
        l4, proto = 14 + (b[14] & 0x0F) * 4, b[23]
    elif frame[12:14] == _V6 and len(b) >= 54:
        b[22 + 1] = (b[22 + 1] + rnd) & 0xFF
        b[38 + 1] = (b[38 + 1] + rnd) & 0xFF
        l4, proto = 54, b[20]
    else:
        return bytes(b)
    if rnd % 2 and proto in (6, 17) and len(b) >= l4 + 4:
        for at in (l4, l4 + 2):
            port = int.from_bytes(b[at : at + 2], "big")
            if port > 40000:
                b[at : at + 2] = (40001 + (port + 7 * rnd) % 20000).to_bytes(2, "big")
    return bytes(b)


def _replay(path, captures, rounds: int) -> int:
    frames = []
    for capture in captures:
        with open_capture(capture) as cap:
            for batch in cap.batches():
                for i in range(len(batch)):
                    if int(batch.linktype[i]) == 1:
                        frames.append(batch.packet_bytes(i))
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1)]
    k = 0
    for rnd in range(rounds):
        for frame in frames:
            frame = _rewrite(frame, rnd)
            out.append(struct.pack("<IIII", 1_700_000_000 + k // 1000, k % 1000, len(frame), len(frame)) + frame)
            k += 1
    path.write_bytes(b"".join(out))
    return k


def _check(cap) -> dict:
    fast, every = discover([cap]), discover([cap], skip_repeats=False)
    assert _events(fast) == _events(every)
    assert _hosts(fast) == _hosts(every)
    s = fast.stats
    assert s["dissected_packets"] + s["memo_packets"] + s["repeated_packets"] == every.stats["dissected_packets"]
    return s


@pytest.mark.skipif(not CAPTURES, reason="../shared/data/pcaps is not here")
def test_replayed_rounds_take_their_findings_from_the_memo(tmp_path) -> None:
    cap = tmp_path / "replay.pcap"
    _replay(cap, CAPTURES, 3)
    s = _check(cap)
    assert s["memo_packets"] > s["dissected_packets"]  # rounds 2 and 3 mostly follow round 1


@pytest.mark.skipif(not CAPTURES, reason="../shared/data/pcaps is not here")
def test_tiny_bounds_stay_exact(tmp_path, monkeypatch) -> None:
    """A memo that fills at once (entries no flow followed are forgotten, flows leave it and replay their
    path), counters accounted often, signatures forgotten and numbered anew."""
    monkeypatch.setattr(dissection, "MAX_MEMO", 300)
    monkeypatch.setattr(dissection, "MAX_MEMO_BYTES", 20_000)
    monkeypatch.setattr(dissection, "MAX_AGGREGATES", 40)
    monkeypatch.setattr(dissection, "MAX_SIGNATURES", 25)
    forgotten = []
    room = dissection.Dissection._room

    def spy(self, size):
        before = len(self.memo)
        out = room(self, size)
        forgotten.append(before - len(self.memo))
        return out

    monkeypatch.setattr(dissection.Dissection, "_room", spy)
    cap = tmp_path / "replay.pcap"
    chosen = [p for p in CAPTURES if p.stat().st_size < 400_000][::5]
    _replay(cap, chosen, 3)
    s = _check(cap)
    assert s["memo_packets"] and s["replayed_packets"]
    assert max(forgotten) > 0  # entries no flow followed were forgotten to make room


def test_ephemeral_ports_and_addresses_are_labels(tmp_path) -> None:
    """Two Modbus clients on different ephemeral ports polling two servers alike: the second
    conversation comes from the memo, with its own hosts, packets and times."""
    from test_repeats import _tcp_frame

    req = bytes.fromhex("000100000006010300000002")
    rsp = bytes.fromhex("00010000000701030400070008")
    frames = []
    for client, server, port in ((1, 2, 40001), (3, 4, 51234)):
        frames += [_tcp_frame(client, server, port, 502, req, False), _tcp_frame(server, client, 502, port, rsp, False)]
    cap = tmp_path / "two.pcap"
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]
    out += [struct.pack("<IIII", 1_700_000_000 + k, 0, len(f), len(f)) + f for k, f in enumerate(frames)]
    cap.write_bytes(b"".join(out))
    s = _check(cap)
    assert s["memo_packets"] == 2
    fast = discover([cap])
    reads = sorted((e.client, e.server, e.message, e.first_packet) for e in fast.events)
    assert reads == [
        ("10.0.0.1", "10.0.0.2", "request", 1),
        ("10.0.0.1", "10.0.0.2", "response", 2),
        ("10.0.0.3", "10.0.0.4", "request", 3),
        ("10.0.0.3", "10.0.0.4", "response", 4),
    ]


def _udp(src: int, dst: int, payload: bytes, port: int = 47808) -> bytes:
    """An Ethernet/IPv4/UDP frame between 10.64.0.0/16 addresses (ints), broadcast MAC to .255."""
    dst_mac = b"\xff" * 6 if dst & 0xFF == 0xFF else b"\x02\x00" + struct.pack(">I", dst)
    eth = dst_mac + b"\x02\x00" + struct.pack(">I", src) + b"\x08\x00"
    udp = struct.pack(">HHHH", port, port, 8 + len(payload), 0)
    ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 28 + len(payload), 0, 0, 64, 17, 0, *(
        struct.pack(">I", 0x0A400000 | a) for a in (src, dst)))  # fmt: skip
    return eth + ip + udp + payload


def _bacnet_devices(first: int, count: int, named_alike: bool) -> list[bytes]:
    """Each device answers a Who-Is with an I-Am, then is asked its object name; its own instance and
    name, or (``named_alike``) the same instance, vendor and name as every other."""
    station, broadcast, frames = 2, 0xFFFF, []
    for n in range(first, first + count):
        device = 0x0100 + (n // 254) * 256 + 1 + n % 254
        instance = 7 if named_alike else 1000 + n
        oid = struct.pack(">I", (8 << 22) | instance)
        i_am = bytes.fromhex("810b001401001000c4") + oid + bytes.fromhex("2205c491032105")
        read = bytes.fromhex("810a001101040005010c0c") + oid + bytes.fromhex("194d")
        name = b"AHU-%08d" % (0 if named_alike else n)
        ack = bytes.fromhex("810a0021010030010c0c") + oid + bytes.fromhex("194d3e750d00") + name + b"\x3f"
        frames += [
            _udp(station, broadcast, bytes.fromhex("810b000c0120ffff00ff1008")),
            _udp(device, broadcast, i_am),
            _udp(station, device, read),
            _udp(device, station, ack),
        ]
    return frames


def test_devices_that_each_say_their_own_are_dissected_as_they_are(tmp_path, monkeypatch) -> None:
    """Hundreds of devices that each announce and name themselves: no flow follows another, so new
    flows soon skip the memo (dissected with their own addresses); a few still try it, and when devices
    repeat each other again the memo is taken again. Hosts and events: those of dissecting every packet."""
    monkeypatch.setattr(dissection, "MEMO_WINDOW", 64)
    decided = []
    pays = dissection.Dissection._memo_pays

    def spy(self):
        decided.append(pays(self))
        return decided[-1]

    monkeypatch.setattr(dissection.Dissection, "_memo_pays", spy)
    frames = _bacnet_devices(0, 400, named_alike=False) + _bacnet_devices(400, 400, named_alike=True)
    cap = tmp_path / "devices.pcap"
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]
    out += [struct.pack("<IIII", 1_700_000_000 + k // 1000, k % 1000, len(f), len(f)) + f for k, f in enumerate(frames)]
    cap.write_bytes(b"".join(out))
    s = _check(cap)
    early, late = decided[: len(decided) // 2], decided[len(decided) // 2 :]
    assert early.count(False) > len(early) // 2  # most new flows of the first devices go as they are
    assert late[-100:].count(True) > 90  # the devices named alike follow each other through the memo again
    assert s["memo_packets"] > 300
    hosts = {h["ip"]: h for h in discover([cap]).hosts}
    assert hosts["10.64.1.1"]["name"] == "AHU-00000000" and hosts["10.64.2.2"]["name"] == "AHU-00000255"
