"""Capture reading and bulk decoding: real captures, synthetic files, hostile bytes.

Every shared capture (../shared/data/pcaps, MANIFEST.tsv) must be read completely with
the MANIFEST's packet count, or be listed in MALFORMED with the exact stop reason.
Decoded 5-tuples are cross-checked against dpkt. Synthetic files built here cover the
formats and link types the shared captures lack; hypothesis feeds random, mutated and
truncated files, which must never raise and must say where reading stopped.
"""

from __future__ import annotations

import csv
import gzip
import socket
import struct
from dataclasses import dataclass
from pathlib import Path

import dpkt
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zonewarden.traffic.capture import Capture, CaptureError, CaptureStatus, open_capture
from zonewarden.traffic.decode import Headers, decode, ip_text, packet_views, packets
from zonewarden.traffic.dissectors.base import Packet

PCAPS = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "pcaps"
MANIFEST = PCAPS / "MANIFEST.tsv"
needs_shared = pytest.mark.skipif(not MANIFEST.exists(), reason="shared captures not present")
SETTINGS = settings(
    max_examples=int(__import__("os").environ.get("ZW_HYPOTHESIS_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

# Checked by hand with dpkt: the file ends 95 bytes into a record whose header declares
# 157 bytes; dpkt silently returns the partial record as a 2042nd packet, tshark (the
# MANIFEST's count) reports 2041 packets and "cut short in the middle of a packet".
MALFORMED = {
    "melsec/melsoft_129_clean.pcap": "packet 2042 at byte 331665: record length 157 exceeds the remaining file "
    "(95 bytes left)",
}


def manifest() -> list[dict[str, str]]:
    if not MANIFEST.exists():
        return []
    with MANIFEST.open(encoding="utf-8") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def read_all(path: Path | str, chunk_size: int = 1 << 20) -> tuple[list[Headers], CaptureStatus]:
    with open_capture(path, chunk_size) as cap:
        batches = [decode(b) for b in cap.batches()]
    return batches, cap.status


def rows(batches: list[Headers]) -> list[tuple]:
    """(number, ts_ns, frame bytes, wirelen, linktype) for every packet."""
    out = []
    for h in batches:
        for i in range(len(h)):
            out.append((int(h.number[i]), int(h.ts_ns[i]), h.raw.packet_bytes(i), int(h.wirelen[i]),
                        int(h.linktype[i])))  # fmt: skip
    return out


def tuples(batches: list[Headers]) -> list[tuple | None]:
    out: list[tuple | None] = []
    for h in batches:
        for i in range(len(h)):
            if h.ip_version[i]:
                out.append((ip_text(h, i, True), ip_text(h, i, False), int(h.sport[i]), int(h.dport[i]),
                            int(h.proto[i])))  # fmt: skip
            else:
                out.append(None)
    return out


# -- frame and file builders ----------------------------------------------------------------


def ipv4(src: str, dst: str, proto: int, payload: bytes, frag: int = 0, options: bytes = b"", ident: int = 1) -> bytes:
    ihl = 5 + len(options) // 4
    total = ihl * 4 + len(payload)
    head = struct.pack(">BBHHHBBH4s4s", 0x40 | ihl, 0, total, ident, frag, 64, proto, 0,
                       socket.inet_aton(src), socket.inet_aton(dst))  # fmt: skip
    return head + options + payload


def ipv6(src: str, dst: str, nh: int, payload: bytes) -> bytes:
    return (
        struct.pack(">IHBB", 0x60000000, len(payload), nh, 64)
        + socket.inet_pton(socket.AF_INET6, src)
        + socket.inet_pton(socket.AF_INET6, dst)
        + payload
    )


def tcp(sport: int, dport: int, flags: int, payload: bytes = b"", options: bytes = b"") -> bytes:
    off = 5 + len(options) // 4
    return (
        struct.pack(">HHIIBBHHH", sport, dport, 1, 0, (off << 4) | (flags >> 8), flags & 0xFF, 8192, 0, 0)
        + options
        + payload
    )


def udp(sport: int, dport: int, payload: bytes = b"") -> bytes:
    return struct.pack(">HHHH", sport, dport, 8 + len(payload), 0) + payload


MAC_A = bytes.fromhex("001122334455")
MAC_B = bytes.fromhex("66778899aabb")


def eth(payload: bytes, etype: int = 0x0800, vlans: tuple[int, ...] = (), tpids: tuple[int, ...] = ()) -> bytes:
    tags = b"".join(
        struct.pack(">HH", tpid, vid) for tpid, vid in zip(tpids or (0x8100,) * len(vlans), vlans, strict=True)
    )
    return MAC_B + MAC_A + tags + struct.pack(">H", etype) + payload


def pcap(frames: list[tuple[int, bytes]], linktype: int = 1, order: str = "<", nano: bool = False,
         snaplen: int = 65535, cut: int | None = None) -> bytes:  # fmt: skip
    """A pcap file; ``frames`` are (ts_ns, bytes); ``cut`` keeps only that many bytes of each."""
    magic = 0xA1B23C4D if nano else 0xA1B2C3D4
    out = [struct.pack(order + "IHHiIII", magic, 2, 4, 0, 0, snaplen, linktype)]
    for ts, frame in frames:
        data = frame[:cut] if cut is not None else frame
        frac = ts % 1_000_000_000 if nano else ts % 1_000_000_000 // 1000
        out.append(struct.pack(order + "IIII", ts // 1_000_000_000, frac, len(data), len(frame)) + data)
    return b"".join(out)


def ng_block(order: str, btype: int, body: bytes) -> bytes:
    body += b"\0" * (-len(body) % 4)
    length = 12 + len(body)
    return struct.pack(order + "II", btype, length) + body + struct.pack(order + "I", length)


def ng_shb(order: str) -> bytes:
    return ng_block(order, 0x0A0D0D0A, struct.pack(order + "IHHq", 0x1A2B3C4D, 1, 0, -1))


def ng_idb(order: str, linktype: int, tsresol: int | None = None, tsoffset: int | None = None) -> bytes:
    opts = b""
    if tsresol is not None:
        opts += struct.pack(order + "HH", 9, 1) + bytes([tsresol]) + b"\0\0\0"
    if tsoffset is not None:
        opts += struct.pack(order + "HHq", 14, 8, tsoffset)
    if opts:
        opts += struct.pack(order + "HH", 0, 0)
    return ng_block(order, 1, struct.pack(order + "HHI", linktype, 0, 0) + opts)


def ng_epb(order: str, ifid: int, ticks: int, frame: bytes) -> bytes:
    return ng_block(
        order, 6, struct.pack(order + "IIIII", ifid, ticks >> 32, ticks & 0xFFFFFFFF, len(frame), len(frame)) + frame
    )


def write(tmp_path: Path, data: bytes, name: str = "f.pcap") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


# -- the shared captures ----------------------------------------------------------------------


@needs_shared
@pytest.mark.parametrize("row", manifest(), ids=lambda r: r["path"])
def test_every_shared_capture_reads_completely_or_reports_its_malformation(row: dict[str, str]) -> None:
    batches, status = read_all(PCAPS / row["path"])
    assert status.packets == sum(len(h) for h in batches) == int(row["packets"])
    if row["path"] in MALFORMED:
        assert str(status.stop) == MALFORMED[row["path"]]
    else:
        assert status.complete, status.stop
        assert status.bytes == (PCAPS / row["path"]).stat().st_size


def _dpkt_tuples(path: Path) -> tuple[int, list[tuple[float, tuple | None]]]:
    with path.open("rb") as f:
        ng = f.read(4) == b"\x0a\x0d\x0d\x0a"
        f.seek(0)
        reader = dpkt.pcapng.Reader(f) if ng else dpkt.pcap.Reader(f)
        linktype = reader.datalink()
        out = []
        for ts, buf in reader:
            layer = {1: dpkt.ethernet.Ethernet, 0: dpkt.loopback.Loopback, 113: dpkt.sll.SLL}[linktype](buf)
            ip = layer.data
            t: tuple | None = None
            if isinstance(ip, dpkt.ip.IP | dpkt.ip6.IP6) and ip.v in (4, 6):
                fam = socket.AF_INET if ip.v == 4 else socket.AF_INET6
                l4 = ip.data
                ports = (l4.sport, l4.dport) if isinstance(l4, dpkt.tcp.TCP | dpkt.udp.UDP) else (0, 0)
                t = (socket.inet_ntop(fam, ip.src), socket.inet_ntop(fam, ip.dst), *ports, ip.p)
            out.append((float(ts), t))
    return linktype, out


@needs_shared
@pytest.mark.parametrize(
    "name",
    [
        "modbus/modbus_test.pcap",  # Ethernet
        "enip/enip_cip_example.pcap",
        "dnp3/opendnp3_8.9.1.2_dump.pcap",  # BSD null / loopback
        "opcua/open62541_client-server_minimal.pcap",
        "s7commplus/s7comm_plus.pcap",  # Linux cooked (SLL)
        "c37.118/wrapup.pcapng",  # pcapng
        "ads/beckoffiplink.pcapng",
        "melsec/melsoft_UDP_unclean_1.pcap",  # IPv6 with hop-by-hop options
    ],
)
def test_five_tuples_and_times_match_dpkt(name: str) -> None:
    batches, _status = read_all(PCAPS / name)
    linktype, expected = _dpkt_tuples(PCAPS / name)
    ours = tuples(batches)
    times = [int(t) for h in batches for t in h.ts_ns]
    assert len(ours) == len(expected)
    assert {int(lt) for h in batches for lt in h.linktype} == {linktype}
    for i, (mine, (ts, theirs)) in enumerate(zip(ours, expected, strict=True)):
        assert mine == theirs, f"packet {i + 1}"
        assert abs(times[i] / 1e9 - ts) < 1e-6


@needs_shared
@pytest.mark.parametrize(
    "name",
    ["modbus/modbus_test_2.pcap", "profinet/profinet_io_cm_connect.pcapng", "melsec/melsoft_129_clean.pcap"],
)
def test_tiny_chunks_give_the_same_packets(name: str) -> None:
    big, big_status = read_all(PCAPS / name)
    small, small_status = read_all(PCAPS / name, chunk_size=97)
    assert rows(big) == rows(small)
    assert tuples(big) == tuples(small)
    assert str(big_status.stop) == str(small_status.stop)


@needs_shared
def test_per_interface_resolution_in_pcapng() -> None:
    # Interface 0 has if_tsresol 9, interface 1 (used by the packets) the default 6:
    # the first packet is from October 2010, not January 1970.
    batches, status = read_all(PCAPS / "profinet/profinet_io_cm_connect.pcapng")
    assert status.complete
    assert int(batches[0].ts_ns[0]) == 1375458865311733000


@needs_shared
def test_gzip_is_recognised_by_its_magic(tmp_path: Path) -> None:
    src = PCAPS / "modbus/modbus_test.pcap"
    path = write(tmp_path, gzip.compress(src.read_bytes()), "no-extension")
    gz, status = read_all(path, chunk_size=4096)
    plain, _ = read_all(src)
    assert status.compressed and status.complete
    assert rows(gz) == rows(plain)
    truncated = write(tmp_path, gzip.compress(src.read_bytes())[:20000], "cut.pcap")
    part, cut_status = read_all(truncated)
    assert 0 < cut_status.packets < status.packets
    assert cut_status.stop is not None and "compressed data ends" in cut_status.stop.reason
    assert rows(part) == rows(plain)[: cut_status.packets]


@needs_shared
def test_packet_views_carry_the_application_payload() -> None:
    path = PCAPS / "modbus/modbus_test.pcap"
    batches, _ = read_all(path)
    _, expected = _dpkt_tuples(path)
    with path.open("rb") as f:
        payloads = [bytes(dpkt.ethernet.Ethernet(buf).data.data.data) for _ts, buf in dpkt.pcap.Reader(f)]
    seen = 0
    for h in batches:
        mask = (h.sport == 502) | (h.dport == 502)
        for view in packet_views(h, mask):
            assert view.transport == "tcp"
            assert view.payload == payloads[view.number - 1]
            assert (view.src, view.dst, view.sport, view.dport, 6) == expected[view.number - 1][1]
            assert view.src_mac and view.dst_mac and view.ethertype == 0x0800
            seen += 1
        for packet in packets(h, mask & (h.payload_len > 0)):
            assert isinstance(packet, Packet)
            assert packet.payload[2:4] == b"\0\0"  # Modbus/TCP protocol identifier
    assert seen > 1000


# -- synthetic files --------------------------------------------------------------------------


@dataclass
class Pkt:
    ts: int
    sport: int
    dport: int
    payload: bytes


packets_strategy = st.lists(
    st.builds(
        Pkt,
        ts=st.integers(0, 2**32 - 1).map(lambda s: s * 1_000_000_000) | st.integers(0, 2**62),
        sport=st.integers(0, 65535),
        dport=st.integers(0, 65535),
        payload=st.binary(max_size=300),
    ),
    max_size=40,
)


@SETTINGS
@given(
    pkts=packets_strategy, order=st.sampled_from("<>"), nano=st.booleans(), chunk=st.sampled_from([64, 333, 1 << 20])
)
def test_synthetic_pcap_round_trip(tmp_path: Path, pkts: list[Pkt], order: str, nano: bool, chunk: int) -> None:
    pkts = [Pkt(p.ts % (2**32 * 1_000_000_000), p.sport, p.dport, p.payload) for p in pkts]
    frames = [(p.ts, eth(ipv4("10.0.0.1", "192.168.1.2", 17, udp(p.sport, p.dport, p.payload)))) for p in pkts]
    path = write(tmp_path, pcap(frames, order=order, nano=nano))
    batches, status = read_all(path, chunk)
    assert status.complete and status.packets == len(pkts)
    got = [(int(h.ts_ns[i]), int(h.sport[i]), int(h.dport[i]), h.payload(i)) for h in batches for i in range(len(h))]
    want = [(p.ts if nano else p.ts // 1000 * 1000, p.sport, p.dport, p.payload) for p in pkts]
    assert got == want


def test_pcapng_sections_interfaces_and_block_kinds(tmp_path: Path) -> None:
    frame = eth(ipv4("10.1.1.1", "10.1.1.2", 6, tcp(1234, 502, 0x18, b"hello")))
    raw = ipv4("10.9.9.9", "10.8.8.8", 17, udp(47808, 47808, b"bacnet"))
    le, be = "<", ">"
    data = (
        ng_shb(le)
        + ng_idb(le, 1)  # default microseconds
        + ng_idb(le, 101, tsresol=9, tsoffset=100)  # raw IP, nanoseconds, +100 s
        + ng_epb(le, 0, 1_700_000_000_123_456, frame)
        + ng_epb(le, 1, 5_000_000_001, raw)
        + ng_block(le, 5, b"\0" * 8)  # an interface statistics block: skipped
        + ng_block(le, 3, struct.pack("<I", len(frame)) + frame)  # simple packet block, interface 0
        + ng_shb(be)  # a new section in the other byte order: interface numbers restart
        + ng_idb(be, 0, tsresol=0x80 | 10)  # BSD null, 2^-10 s
        + ng_epb(be, 0, 3 * 1024 + 512, struct.pack("<I", 2) + raw)
        + ng_block(
            be, 2, struct.pack(">HHIIII", 0, 0, 0, 2048, len(raw) + 4, len(raw) + 4) + struct.pack(">I", 2) + raw
        )
    )
    path = write(tmp_path, data, "x.pcapng")
    for chunk in (40, 1 << 20):
        batches, status = read_all(path, chunk)
        assert status.complete and status.format == "pcapng" and status.packets == 5
        assert [int(x) for h in batches for x in h.ts_ns] == [
            1_700_000_000_123_456_000, 105_000_000_001, 0, 3_500_000_000, 2_000_000_000,
        ]  # fmt: skip
        assert [int(x) for h in batches for x in h.linktype] == [1, 101, 1, 0, 0]
        assert tuples(batches) == [
            ("10.1.1.1", "10.1.1.2", 1234, 502, 6),
            ("10.9.9.9", "10.8.8.8", 47808, 47808, 17),
            ("10.1.1.1", "10.1.1.2", 1234, 502, 6),
            ("10.9.9.9", "10.8.8.8", 47808, 47808, 17),
            ("10.9.9.9", "10.8.8.8", 47808, 47808, 17),
        ]


def test_pcapng_undefined_interface_is_a_warning(tmp_path: Path) -> None:
    frame = eth(ipv4("10.1.1.1", "10.1.1.2", 17, udp(1, 2)))
    path = write(tmp_path, ng_shb("<") + ng_idb("<", 1) + ng_epb("<", 3, 10, frame), "x.pcapng")
    batches, status = read_all(path)
    assert status.complete and status.packets == 1
    assert int(batches[0].linktype[0]) == 0xFFFF
    assert "interface 3 is not defined" in status.warnings[0]


def _one(tmp_path: Path, frame: bytes, linktype: int = 1) -> Headers:
    batches, status = read_all(write(tmp_path, pcap([(0, frame)], linktype=linktype)))
    assert status.complete and len(batches) == 1
    return batches[0]


@pytest.mark.parametrize(
    ("linktype", "prefix"),
    [
        (0, struct.pack("<I", 2)),  # BSD null, little-endian AF_INET
        (0, struct.pack(">I", 2)),  # ... captured on a big-endian machine
        (108, struct.pack(">I", 2)),  # OpenBSD loop
        (101, b""),
        (228, b""),
        (12, b""),
        (14, b""),
        (113, struct.pack(">HHH8sH", 0, 1, 6, MAC_A + b"\0\0", 0x0800)),  # Linux cooked
        (276, struct.pack(">HHIHBB8s", 0x0800, 0, 3, 1, 0, 6, MAC_A + b"\0\0")),  # SLL2
    ],
)
def test_link_types_ipv4(tmp_path: Path, linktype: int, prefix: bytes) -> None:
    h = _one(tmp_path, prefix + ipv4("1.2.3.4", "5.6.7.8", 6, tcp(20000, 102, 0x02)), linktype)
    assert tuples([h]) == [("1.2.3.4", "5.6.7.8", 20000, 102, 6)]
    assert int(h.tcp_flags[0]) == 0x02
    if linktype in (113, 276):
        assert int(h.macs()[0][0]) == int.from_bytes(MAC_A, "big")


@pytest.mark.parametrize(
    ("linktype", "prefix"),
    [(0, struct.pack("<I", af)) for af in (24, 28, 30)]
    + [(0, struct.pack(">I", 30)), (108, struct.pack(">I", 24)), (229, b""), (101, b"")],
)
def test_link_types_ipv6(tmp_path: Path, linktype: int, prefix: bytes) -> None:
    h = _one(tmp_path, prefix + ipv6("2001:db8::1", "fe80::2", 17, udp(5353, 53, b"q")), linktype)
    assert tuples([h]) == [("2001:db8::1", "fe80::2", 5353, 53, 17)]
    assert h.payload(0) == b"q"


def test_vlan_and_qinq(tmp_path: Path) -> None:
    packet = ipv4("10.0.0.1", "10.0.0.2", 17, udp(2222, 44818))
    for vlans, tpids, outer, inner in [
        ((100,), (0x8100,), 100, 0),
        ((0x2000 | 7, 42), (0x88A8, 0x8100), 7, 42),
        ((5, 6), (0x9100, 0x8100), 5, 6),
    ]:
        h = _one(tmp_path, eth(packet, vlans=vlans, tpids=tpids))
        assert (int(h.vlan[0]), int(h.inner_vlan[0]), int(h.ethertype[0])) == (outer, inner, 0x0800)
        assert tuples([h]) == [("10.0.0.1", "10.0.0.2", 2222, 44818, 17)]


def test_ipv4_fragments(tmp_path: Path) -> None:
    body = udp(1000, 2000, b"x" * 40)
    frames = [
        (0, eth(ipv4("10.0.0.1", "10.0.0.2", 17, body[:24], frag=0x2000))),  # first fragment: MF
        (1000, eth(ipv4("10.0.0.1", "10.0.0.2", 17, body[24:], frag=3))),  # offset 24: no UDP header
        (2000, eth(ipv4("10.0.0.1", "10.0.0.2", 17, body, frag=0x4000))),  # DF only: not a fragment
    ]
    batches, _ = read_all(write(tmp_path, pcap(frames)))
    h = batches[0]
    assert h.fragment.tolist() == [True, True, False]
    assert h.sport.tolist() == [1000, 0, 1000]
    assert h.proto.tolist() == [17, 17, 17]
    assert h.payload(1) == body[24:]


def test_ipv6_extension_headers(tmp_path: Path) -> None:
    inner = tcp(40000, 4840, 0x12, b"OPC")
    hop = bytes([44, 0]) + b"\0" * 6  # hop-by-hop -> fragment
    first = bytes([43, 0, 0, 1]) + b"\0\0\0\x09"  # fragment, offset 0, M set -> routing
    routing = bytes([6, 0]) + b"\0" * 6  # routing -> TCP
    later = bytes([6, 0, 0, 0x18]) + b"\0\0\0\x09"  # fragment at offset 3 (x8): no TCP header
    frames = [
        (0, eth(ipv6("::1", "::2", 0, hop + first + routing + inner), 0x86DD)),
        (0, eth(ipv6("::1", "::2", 44, later + b"tail"), 0x86DD)),
        (0, eth(ipv6("::1", "::2", 60, bytes([58, 0]) + b"\0" * 6 + b"\x80\0\0\0"), 0x86DD)),
    ]
    batches, _ = read_all(write(tmp_path, pcap(frames)))
    h = batches[0]
    assert tuples(batches) == [("::1", "::2", 40000, 4840, 6), ("::1", "::2", 0, 0, 6), ("::1", "::2", 0, 0, 58)]
    assert h.fragment.tolist() == [True, True, False]
    assert int(h.tcp_flags[0]) == 0x12 and h.payload(0) == b"OPC" and h.payload(1) == b"tail"


def test_arp_icmp_options_padding_and_snaplen(tmp_path: Path) -> None:
    arp = struct.pack(">HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, MAC_A, socket.inet_aton("10.0.0.1"), b"\0" * 6,
                      socket.inet_aton("10.0.0.9"))  # fmt: skip
    icmp = ipv4("10.0.0.1", "10.0.0.2", 1, b"\x08\0\0\0\0\1\0\1")
    small = ipv4("10.0.0.1", "10.0.0.2", 6, tcp(1, 2, 0x10, b"ab", options=b"\x01\x01\x01\x00"), options=b"\x01" * 4)
    frames = [(0, eth(arp, 0x0806)), (0, eth(icmp)), (0, eth(small) + b"\0" * 10), (0, eth(small))]
    path = write(tmp_path, pcap(frames[:3]) + pcap([frames[3]], cut=40)[24:])
    batches, status = read_all(path)
    assert status.complete
    h = batches[0]
    assert h.ethertype.tolist() == [0x0806, 0x0800, 0x0800, 0x0800]
    assert (ip_text(h, 0, True), int(h.ip_version[0])) == ("", 0)
    assert [int(h.src4[0]), int(h.dst4[0])] == [0x0A000001, 0x0A000009]  # ARP sender and target
    assert int(h.proto[1]) == 1 and int(h.sport[1]) == 0
    assert h.payload(2) == b"ab"  # IP options, TCP options and Ethernet padding all skipped
    assert bool(h.truncated[3]) and not h.truncated[:3].any()
    assert int(h.caplen[3]) == 40 and int(h.wirelen[3]) == len(eth(small))
    views = list(packet_views(h, np.ones(len(h), bool)))
    assert [v.transport for v in views] == ["eth", "icmp", "tcp", "tcp"]
    assert views[0].src == "00:11:22:33:44:55" and views[0].payload == arp


# -- errors and hostile input -----------------------------------------------------------------


def test_not_a_capture_file(tmp_path: Path) -> None:
    for data in (b"", b"hello world, not a capture", gzip.compress(b"plain text")):
        path = write(tmp_path, data, "x.pcap")
        with pytest.raises(CaptureError) as info:
            Capture(path)
        assert str(path) in str(info.value) and "not a pcap or pcapng" in str(info.value)
    with pytest.raises(CaptureError, match="cannot read"):
        Capture(tmp_path / "missing.pcap")


@pytest.mark.parametrize(
    ("data", "stop"),
    [
        (pcap([])[:10], "packet 1 at byte 0: truncated file header (10 bytes left)"),
        (pcap([(0, b"x" * 20)]) + struct.pack("<IIII", 0, 0, 0xFFFFFFFF, 60) + b"x" * 30,
         "packet 2 at byte 60: record length 4294967295 exceeds the remaining file (30 bytes left)"),
        (pcap([(0, b"x" * 20)]) + b"\0" * 7, "packet 2 at byte 60: truncated record header (7 bytes left)"),
        (pcap([(0, b"x" * 20), (0, b"y" * 300000)], snaplen=65535),
         "packet 2 at byte 60: record length 300000 exceeds the snapshot length 65535"),
        (ng_shb("<") + ng_idb("<", 1) + ng_block("<", 6, b"\0" * 40)[:-4] + b"\x99\0\0\0",
         "packet 1 at byte 48: block type 0x6: total length 52 differs from its trailing copy 153"),
        (ng_shb("<") + struct.pack("<II", 1, 13) + b"\0" * 8,
         "packet 1 at byte 28: block length 13 is invalid (block type 0x00000001)"),
        (ng_shb("<") + ng_idb("<", 1) + struct.pack("<II", 6, 1000) + b"\0" * 50,
         "packet 1 at byte 48: block length 1000 exceeds the remaining file (58 bytes left)"),
    ],
)  # fmt: skip
def test_where_and_why_reading_stopped(tmp_path: Path, data: bytes, stop: str) -> None:
    _batches, status = read_all(write(tmp_path, data, "bad.pcapng" if data[:1] == b"\n" else "bad.pcap"))
    assert str(status.stop) == stop


def _check_never_raises(path: Path, size: int) -> None:
    try:
        cap = Capture(path, chunk_size=256)
    except CaptureError as exc:
        assert exc.location is not None and str(path) in str(exc)
        return
    with cap:
        from zonewarden.traffic.flows import FlowTable

        table = FlowTable()
        total = 0
        for batch in cap.batches():
            h = decode(batch)
            table.update(h)
            list(packet_views(h, h.payload_len >= 0))
            total += len(h)
            assert (batch.data_off + batch.caplen <= len(batch.buf)).all()
        table.records()
    status = cap.status
    assert status.packets == total
    if not status.complete:
        assert status.stop is not None and status.stop.packet == total + 1
        assert 0 <= status.stop.offset <= (size if not status.compressed else 1 << 40) and status.stop.reason


@SETTINGS
@given(data=st.binary(max_size=2000))
def test_random_bytes_never_raise(tmp_path: Path, data: bytes) -> None:
    for prefix in (b"", pcap([]), ng_shb("<") + ng_idb("<", 1), b"\xa1\xb2\xc3\xd4"):
        path = write(tmp_path, prefix + data)
        _check_never_raises(path, len(prefix + data))


def _shared_samples() -> list[bytes]:
    names = [
        "modbus/modbusSmall.pcap",
        "bacnet/BACnet-exception-schedule-property-1.pcapng",
        "s7commplus/s7comm_plus.pcap",
        "dnp3/opendnp3_6.5.2_dump.pcap",
        "profinet/profinet_io_cm_read.pcapng",
    ]
    return [(PCAPS / n).read_bytes()[:6000] for n in names if (PCAPS / n).exists()]


@needs_shared
@SETTINGS
@given(
    pick=st.integers(0, 100),
    cut=st.integers(0, 6000),
    flips=st.lists(st.tuples(st.integers(0, 5999), st.integers(0, 255)), max_size=8),
    compress=st.booleans(),
)
def test_mutated_and_truncated_real_files_never_raise(
    tmp_path: Path, pick: int, cut: int, flips: list[tuple[int, int]], compress: bool
) -> None:
    samples = _shared_samples()
    data = bytearray(samples[pick % len(samples)][:cut])
    for pos, value in flips:
        if pos < len(data):
            data[pos] = value
    blob = gzip.compress(bytes(data)) if compress else bytes(data)
    _check_never_raises(write(tmp_path, blob), len(data))


def test_modified_pcap_with_24_byte_record_headers(tmp_path: Path) -> None:
    frame = eth(ipv4("10.0.0.1", "10.0.0.2", 17, udp(161, 162, b"snmp")))
    head = struct.pack("<IHHiIII", 0xA1B2CD34, 2, 4, 0, 0, 65535, 1)
    record = struct.pack("<IIII", 7, 5, len(frame), len(frame)) + struct.pack("<IHBB", 2, 0x0800, 0, 0) + frame
    batches, status = read_all(write(tmp_path, head + record * 3))
    assert status.complete and status.packets == 3
    assert tuples(batches) == [("10.0.0.1", "10.0.0.2", 161, 162, 17)] * 3
    assert int(batches[0].ts_ns[0]) == 7_000_005_000 and batches[0].payload(2) == b"snmp"
