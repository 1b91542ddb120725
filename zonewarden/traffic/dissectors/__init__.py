"""The dissector table: one module per protocol, registered here and nowhere else.

Look-ups by TCP port, UDP port or EtherType give the dissectors to try for a packet.
Each module exposes ``DISSECTOR``; add a protocol by writing its module and listing it below.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from zonewarden.model.protocols import port_tables
from zonewarden.traffic.dissectors import (
    ads,
    bacnet,
    c37118,
    cdp,
    dhcp,
    dnp3,
    enip,
    fins,
    fox,
    goose,
    hart_ip,
    http_server,
    iec104,
    lldp,
    melsec,
    mms,
    modbus,
    mqtt,
    netbios,
    opcua,
    profinet_dcp,
    rdp,
    s7comm,
    snmp,
)
from zonewarden.traffic.dissectors.base import Dissector, Observation, Packet

DISSECTORS: dict[str, Dissector] = {
    d.name: d
    for d in (
        # first: EtherType 0 (802.3/LLC frames) is shared by CDP and BACnet/Ethernet, and the repeat
        # filter (traffic/repeats.py) takes the spec of the first dissector of a key: CDP's byte-exact one
        cdp.DISSECTOR,
        modbus.DISSECTOR,
        s7comm.DISSECTOR,
        enip.DISSECTOR,
        dnp3.DISSECTOR,
        bacnet.DISSECTOR,
        iec104.DISSECTOR,
        opcua.DISSECTOR,
        profinet_dcp.DISSECTOR,
        # recognition: protocol, endpoint roles, identity where cheap
        mms.DISSECTOR,
        goose.DISSECTOR,
        hart_ip.DISSECTOR,
        fins.DISSECTOR,
        melsec.DISSECTOR,
        fox.DISSECTOR,
        ads.DISSECTOR,
        c37118.DISSECTOR,
        mqtt.DISSECTOR,
        # identity from the network around the controllers
        lldp.DISSECTOR,
        dhcp.DISSECTOR,
        netbios.DISSECTOR,
        snmp.DISSECTOR,
        http_server.DISSECTOR,
        rdp.DISSECTOR,
    )
}


def _table(attribute: str) -> dict[int, list[Dissector]]:
    table: dict[int, list[Dissector]] = {}
    for d in DISSECTORS.values():
        for key in getattr(d, attribute):
            table.setdefault(key, []).append(d)
    return table


TCP_PORTS = _table("tcp_ports")
# the dissectors that recognise their protocol by content on other TCP ports (traffic.recognize), the strictest
# signatures first: a magic or a checksum, then headers whose lengths must fill the segment
_STRICTEST = ("fins", "fox", "mqtt", "dnp3", "opcua", "ads", "enip", "melsec", "hart-ip", "s7", "iec104", "modbus")
RECOGNIZERS: tuple[Dissector, ...] = tuple(
    sorted(
        (d for d in DISSECTORS.values() if d.tcp_ports and type(d).matches is not Dissector.matches),
        key=lambda d: _STRICTEST.index(d.name) if d.name in _STRICTEST else len(_STRICTEST),
    )
)
# ... and on UDP ports, those whose datagrams the same rule reads (FINS and ADS frame UDP otherwise than TCP)
UDP_RECOGNIZERS: tuple[Dissector, ...] = tuple(
    DISSECTORS[name] for name in ("dnp3", "bacnet", "enip", "melsec", "hart-ip")
)
UDP_PORTS = _table("udp_ports")
ETHERTYPES = _table("ethertypes")


def _services(table: dict[int, list[Dissector]], named: dict[int, str]) -> frozenset[int]:
    return frozenset(table) | frozenset(named) | frozenset(range(1024))


_TCP_NAMED, _UDP_NAMED = port_tables()
# ports that name a service: ours, the protocol catalogue's, and every well-known port (below 1024)
TCP_SERVICES, UDP_SERVICES = _services(TCP_PORTS, _TCP_NAMED), _services(UDP_PORTS, _UDP_NAMED)


def service_port(table: dict[int, Any], services: frozenset[int], sport: int, dport: int) -> int | None:
    """The port whose dissectors a TCP or UDP packet goes to: the destination's, else the source's,
    when it has some; but not a port whose peer is a lower service port (a client's ephemeral port
    that happens to be an industrial one: a DNS query from port 9600 is not FINS, an HTTP answer to
    port 44818 is not EtherNet/IP). :func:`service_sides` is the same rule over numpy columns."""
    if dport in table and not (sport in services and sport < dport):
        return dport
    if sport in table and not (dport in services and dport < sport):
        return sport
    return None


def port_lookups(table: dict[int, Any], services: frozenset[int]) -> tuple[np.ndarray, np.ndarray]:
    """(has dissectors, names a service) per port: the look-up tables of :func:`service_sides`."""
    has = np.zeros(65536, dtype=bool)
    has[list(table)] = True
    known = np.zeros(65536, dtype=bool)
    known[list(services)] = True
    return has, known


# IP protocol (6, 17) -> (has dissectors, names a service) per port: built once for every bulk stage
PORT_LOOKUPS: dict[int, tuple[np.ndarray, np.ndarray]] = {
    6: port_lookups(TCP_PORTS, TCP_SERVICES),
    17: port_lookups(UDP_PORTS, UDP_SERVICES),
}


def service_sides(
    lookups: tuple[np.ndarray, np.ndarray], sport: np.ndarray, dport: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(by the destination port, by the source port) per packet: :func:`service_port` in bulk."""
    has, known = lookups
    by_dst = has[dport] & ~(known[sport] & (sport < dport))
    by_src = ~by_dst & has[sport] & ~(known[dport] & (dport < sport))
    return by_dst, by_src


def for_packet(transport: str, sport: int, dport: int, ethertype: int | None = None) -> list[Dissector]:
    """The dissectors to try for a packet: by its service port (TCP/UDP, see :func:`service_port`) or by
    EtherType."""
    if transport == "tcp":
        port = service_port(TCP_PORTS, TCP_SERVICES, sport, dport)
        return TCP_PORTS[port] if port is not None else []
    if transport == "udp":
        port = service_port(UDP_PORTS, UDP_SERVICES, sport, dport)
        return UDP_PORTS[port] if port is not None else []
    if transport == "eth" and ethertype is not None:
        return ETHERTYPES.get(ethertype, [])
    return []


__all__ = [
    "DISSECTORS",
    "ETHERTYPES",
    "PORT_LOOKUPS",
    "RECOGNIZERS",
    "TCP_PORTS",
    "TCP_SERVICES",
    "UDP_PORTS",
    "UDP_RECOGNIZERS",
    "UDP_SERVICES",
    "Dissector",
    "Observation",
    "Packet",
    "for_packet",
    "port_lookups",
    "service_port",
    "service_sides",
]
