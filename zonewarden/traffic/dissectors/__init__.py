"""The dissector table: one module per protocol, registered here and nowhere else.

Look-ups by TCP port, UDP port or EtherType give the dissectors to try for a packet.
Each module exposes ``DISSECTOR``; add a protocol by writing its module and listing it below.
"""

from __future__ import annotations

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
UDP_PORTS = _table("udp_ports")
ETHERTYPES = _table("ethertypes")


def for_packet(transport: str, sport: int, dport: int, ethertype: int | None = None) -> list[Dissector]:
    """The dissectors to try for a packet: by either port (TCP/UDP) or by EtherType."""
    if transport == "tcp":
        return TCP_PORTS.get(dport) or TCP_PORTS.get(sport) or []
    if transport == "udp":
        return UDP_PORTS.get(dport) or UDP_PORTS.get(sport) or []
    if transport == "eth" and ethertype is not None:
        return ETHERTYPES.get(ethertype, [])
    return []


__all__ = ["DISSECTORS", "ETHERTYPES", "TCP_PORTS", "UDP_PORTS", "Dissector", "Observation", "Packet", "for_packet"]
