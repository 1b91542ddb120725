"""Test helper: read real captures with dpkt (a test-time peer only) and feed dissectors.

``frames(path)`` yields one :class:`Frame` per packet: (number, src, dst, sport, dport,
transport, payload, ethertype, macs). IP packets give their TCP/UDP payload; other
Ethernet frames give transport ``"eth"``, the MAC addresses as src/dst and the bytes
after the EtherType (VLAN tags skipped). Link types: Ethernet, BSD null/loopback,
raw IP and Linux cooked (SLL and SLL2); pcap and pcapng. A relative path is taken
inside the shared corpus (:data:`PCAPS`). No reassembly, no deduplication of
retransmissions.

``packets(path)`` gives the dissector's :class:`Packet` of every TCP/UDP frame with a
payload; ``run(dissector, path)`` feeds a dissector every frame on its ports or
EtherTypes with one state dict per flow, as the pipeline does.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import dpkt

from zonewarden.traffic.dissectors.base import Dissector, Observation, Packet

PCAPS = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "pcaps"

_DLT_LINUX_SLL2 = 276


class Frame(NamedTuple):
    number: int
    src: str
    dst: str
    sport: int
    dport: int
    transport: str
    payload: bytes
    ethertype: int | None
    macs: tuple[str, str] | None
    time: float = 0.0


def _mac(raw: bytes) -> str:
    return ":".join(f"{b:02x}" for b in raw)


def _reader(handle: Any) -> Any:
    head = handle.read(4)
    handle.seek(0)
    if head == b"\x0a\x0d\x0d\x0a":
        return dpkt.pcapng.Reader(handle)
    return dpkt.pcap.Reader(handle)


def _ip_frame(number: int, ts: float, ip: Any, ethertype: int | None, macs: tuple[str, str] | None) -> Frame | None:
    if isinstance(ip, dpkt.ip.IP):
        src, dst = socket.inet_ntop(socket.AF_INET, ip.src), socket.inet_ntop(socket.AF_INET, ip.dst)
    elif isinstance(ip, dpkt.ip6.IP6):
        src, dst = socket.inet_ntop(socket.AF_INET6, ip.src), socket.inet_ntop(socket.AF_INET6, ip.dst)
    else:
        return None
    l4 = ip.data
    if isinstance(l4, dpkt.tcp.TCP):
        return Frame(number, src, dst, l4.sport, l4.dport, "tcp", bytes(l4.data), ethertype, macs, ts)
    if isinstance(l4, dpkt.udp.UDP):
        return Frame(number, src, dst, l4.sport, l4.dport, "udp", bytes(l4.data), ethertype, macs, ts)
    return None


def _resolve(path: Path | str) -> Path:
    path = Path(path)
    return path if path.is_absolute() else PCAPS / path


def frames(path: Path | str) -> Iterator[Frame]:
    """Every TCP/UDP payload and every non-IP Ethernet frame of a capture, numbered from 1."""
    with _resolve(path).open("rb") as handle:
        reader = _reader(handle)
        linktype = reader.datalink()
        for number, (ts, buf) in enumerate(reader, start=1):
            try:
                frame = _decode(number, ts, buf, linktype)
            except (dpkt.UnpackError, ValueError, IndexError):
                continue
            if frame is not None:
                yield frame


def _decode(number: int, ts: float, buf: bytes, linktype: int) -> Frame | None:
    if linktype == dpkt.pcap.DLT_EN10MB:
        eth = dpkt.ethernet.Ethernet(buf)
        macs = (_mac(eth.src), _mac(eth.dst))
        if isinstance(eth.data, dpkt.ip.IP | dpkt.ip6.IP6):
            return _ip_frame(number, ts, eth.data, eth.type, macs)
        # the bytes after the EtherType, VLAN tags skipped
        offset, ethertype = 12, int.from_bytes(buf[12:14], "big")
        while ethertype in (0x8100, 0x88A8):
            offset += 4
            ethertype = int.from_bytes(buf[offset : offset + 2], "big")
        return Frame(number, macs[0], macs[1], 0, 0, "eth", buf[offset + 2 :], ethertype, macs, ts)
    if linktype in (dpkt.pcap.DLT_NULL, dpkt.pcap.DLT_LOOP):
        ip = dpkt.loopback.Loopback(buf).data
        return _ip_frame(number, ts, ip, None, None)
    if linktype == dpkt.pcap.DLT_LINUX_SLL:
        ip = dpkt.sll.SLL(buf).data
        return _ip_frame(number, ts, ip, None, None)
    if linktype == _DLT_LINUX_SLL2:
        ip = dpkt.sll2.SLL2(buf).data
        return _ip_frame(number, ts, ip, None, None)
    if linktype in (12, 14, 101, 228, 229):  # raw IP (DLT_RAW differs between platforms), IPv4, IPv6
        ip = dpkt.ip.IP(buf) if buf[:1] and buf[0] >> 4 == 4 else dpkt.ip6.IP6(buf)
        return _ip_frame(number, ts, ip, None, None)
    return None


def packet(frame: Frame) -> Packet:
    """The dissector's view of one frame."""
    macs = frame.macs or (None, None)
    return Packet(
        number=frame.number,
        time=frame.time,
        src=frame.src,
        dst=frame.dst,
        sport=frame.sport,
        dport=frame.dport,
        transport=frame.transport,
        payload=frame.payload,
        src_mac=macs[0],
        dst_mac=macs[1],
        ethertype=frame.ethertype,
    )


def packets(path: Path | str) -> Iterator[Packet]:
    """The TCP/UDP packets with a non-empty payload of a capture, numbered from 1."""
    for frame in frames(path):
        if frame.transport != "eth" and frame.payload:
            yield packet(frame)


def flow_key(frame: Frame) -> tuple[Any, ...]:
    a, b = (frame.src, frame.sport), (frame.dst, frame.dport)
    return (frame.transport, *sorted((a, b)))


def run(
    dissector: Dissector, path: Path | str, *, heuristic: Callable[[bytes], bool] | None = None
) -> list[Observation]:
    """Feed every matching frame of a capture to ``dissector`` (one state dict per flow).

    Frames match by the dissector's ports or EtherTypes; with ``heuristic``, also every
    TCP flow on other ports whose first payload satisfies it.
    """
    states: dict[tuple[Any, ...], dict[str, Any]] = {}
    guessed: dict[tuple[Any, ...], bool] = {}
    out: list[Observation] = []
    for frame in frames(path):
        if not frame.payload:
            continue
        key = flow_key(frame)
        if frame.transport == "eth":
            if frame.ethertype not in dissector.ethertypes:
                continue
        elif frame.transport == "tcp":
            on_port = bool({frame.sport, frame.dport} & set(dissector.tcp_ports))
            if not on_port and (heuristic is None or not guessed.setdefault(key, heuristic(frame.payload))):
                continue
        elif not {frame.sport, frame.dport} & set(dissector.udp_ports):
            continue
        state = states.setdefault(key, {})
        out.extend(dissector.dissect(packet(frame), state))
    return out


def payloads(path: Path | str, ports: tuple[int, ...] | None = None, *, transport: str | None = None) -> list[bytes]:
    """The non-empty payloads of a capture (fuzz seeds), to or from ``ports`` and over ``transport`` when given."""
    return [
        f.payload
        for f in frames(path)
        if f.payload
        and (transport is None or f.transport == transport)
        and (ports is None or f.sport in ports or f.dport in ports)
    ]


def capture(relative: str) -> Path:
    """A capture of the shared corpus; the test is skipped when the corpus is not there."""
    import pytest

    path = PCAPS / relative
    if not path.exists():
        pytest.skip(f"capture {relative} not available")
    return path


def seeds(directory: str, transport: str | None = None, limit: int = 400) -> list[bytes]:
    """Distinct real payloads of every capture in a corpus directory (fuzz seeds)."""
    found: dict[bytes, None] = {}
    folder = PCAPS / directory
    if folder.exists():
        for path in sorted(folder.iterdir()):
            for payload in payloads(path, transport=transport):
                found.setdefault(payload[:2048], None)
                if len(found) >= limit:
                    return list(found)
    return list(found) or [b""]


def make_packet(
    payload: bytes,
    transport: str = "tcp",
    sport: int = 50000,
    dport: int = 0,
    src: str = "10.0.0.1",
    dst: str = "10.0.0.2",
    number: int = 1,
    ethertype: int | None = None,
) -> Packet:
    return Packet(
        number=number,
        time=0.0,
        src=src,
        dst=dst,
        sport=sport,
        dport=dport,
        transport=transport,
        payload=payload,
        ethertype=ethertype,
    )


def mutated(pool: list[bytes]) -> Any:
    """Hypothesis strategy: a real payload with a few byte flips, overwrites, insertions or a truncation."""
    from hypothesis import strategies as st

    @st.composite
    def build(draw: Any) -> bytes:
        data = bytearray(draw(st.sampled_from(pool)))
        for _ in range(draw(st.integers(0, 6))):
            if not data:
                data += draw(st.binary(min_size=1, max_size=8))
                continue
            at = draw(st.integers(0, len(data) - 1))
            op = draw(st.integers(0, 3))
            if op == 0:
                data[at] = draw(st.integers(0, 255))
            elif op == 1:
                del data[at:]
            elif op == 2:
                data[at:at] = draw(st.binary(max_size=8))
            else:
                data[at] ^= 1 << draw(st.integers(0, 7))
        return bytes(data)

    return build()


def robust(dissector: Dissector, packet_: Packet, state: dict[str, Any] | None = None) -> list[Observation]:
    """Dissect and check the contract: a list of observations, and no dissector bug caught by the guard."""
    out = dissector.dissect(packet_, {} if state is None else state)
    assert isinstance(out, list)
    assert all(isinstance(o, Observation) for o in out)
    bugs = [o.details for o in out if o.details.get("internal_error")]
    assert not bugs, bugs
    return out
