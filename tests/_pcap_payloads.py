"""Test helper: the TCP/UDP payloads of a capture file, read with dpkt.

dpkt is a test-time peer only (the product reads captures with its own reader). This
helper handles pcap and pcapng files with Ethernet (VLAN tags included), BSD
null/loopback, raw IP and Linux cooked (SLL and SLL2) link types, and yields one
:class:`Packet` of the dissector contract per TCP segment or UDP datagram that carries
a payload (no reassembly, no deduplication of retransmissions).
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import dpkt

from zonewarden.traffic.dissectors.base import Dissector, Observation, Packet

PCAPS = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "pcaps"

_DLT_NULL, _DLT_EN10MB, _DLT_RAW, _DLT_LOOP, _DLT_LINUX_SLL, _DLT_RAW2, _DLT_SLL2 = 0, 1, 12, 108, 113, 101, 276


def _ip_text(raw: bytes) -> str:
    return socket.inet_ntop(socket.AF_INET6 if len(raw) == 16 else socket.AF_INET, raw)


def _network_layer(linktype: int, frame: bytes) -> object | None:
    if linktype == _DLT_EN10MB:
        return dpkt.ethernet.Ethernet(frame).data
    if linktype in (_DLT_NULL, _DLT_LOOP):
        return dpkt.loopback.Loopback(frame).data
    if linktype == _DLT_LINUX_SLL:
        return dpkt.sll.SLL(frame).data
    if linktype == _DLT_SLL2:
        return dpkt.sll2.SLL2(frame).data
    if linktype in (_DLT_RAW, _DLT_RAW2):
        return dpkt.ip6.IP6(frame) if frame[:1] and frame[0] >> 4 == 6 else dpkt.ip.IP(frame)
    return None


def _reader(handle):  # type: ignore[no-untyped-def]
    head = handle.read(4)
    handle.seek(0)
    return dpkt.pcapng.Reader(handle) if head == b"\x0a\x0d\x0d\x0a" else dpkt.pcap.Reader(handle)


def packets(path: str | Path) -> Iterator[Packet]:
    """Yield the TCP/UDP packets with a non-empty payload of a capture, numbered from 1."""
    path = Path(path)
    if not path.is_absolute():
        path = PCAPS / path
    with path.open("rb") as handle:
        reader = _reader(handle)
        linktype = reader.datalink()
        for number, (stamp, frame) in enumerate(reader, start=1):
            try:
                ip = _network_layer(linktype, frame)
            except (dpkt.UnpackError, IndexError, ValueError):
                continue
            if not isinstance(ip, dpkt.ip.IP | dpkt.ip6.IP6):
                continue
            l4 = ip.data
            if isinstance(l4, dpkt.tcp.TCP):
                transport = "tcp"
            elif isinstance(l4, dpkt.udp.UDP):
                transport = "udp"
            else:
                continue
            payload = bytes(l4.data)
            if not payload:
                continue
            yield Packet(
                number=number,
                time=float(stamp),
                src=_ip_text(ip.src),
                dst=_ip_text(ip.dst),
                sport=l4.sport,
                dport=l4.dport,
                transport=transport,
                payload=payload,
            )


def observe(dissector: Dissector, path: str | Path) -> list[Observation]:
    """Run a dissector over every packet on its ports, one state dict per flow, as the pipeline does."""
    states: dict[tuple[str, str, int, int, str], dict] = {}
    out: list[Observation] = []
    for packet in packets(path):
        ports = dissector.tcp_ports if packet.transport == "tcp" else dissector.udp_ports
        if packet.sport not in ports and packet.dport not in ports:
            continue
        ends = sorted([(packet.src, packet.sport), (packet.dst, packet.dport)])
        key = (ends[0][0], ends[1][0], ends[0][1], ends[1][1], packet.transport)
        out.extend(dissector.dissect(packet, states.setdefault(key, {})))
    return out


def payloads(path: str | Path, ports: tuple[int, ...]) -> list[bytes]:
    """The payloads to or from the given ports (fuzz seeds)."""
    return [p.payload for p in packets(path) if p.sport in ports or p.dport in ports]
