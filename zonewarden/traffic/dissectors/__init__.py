"""The dissector table: one module per protocol, registered here and nowhere else.

Look-ups by TCP port, UDP port or EtherType give the dissectors to try for a packet.
"""

from __future__ import annotations

from zonewarden.traffic.dissectors.base import Dissector, Observation, Packet

DISSECTORS: dict[str, Dissector] = {}


def register(dissector: Dissector) -> Dissector:
    if dissector.name in DISSECTORS:
        raise ValueError(f"dissector {dissector.name!r} registered twice")
    DISSECTORS[dissector.name] = dissector
    return dissector


def by_tcp_port() -> dict[int, list[Dissector]]:
    table: dict[int, list[Dissector]] = {}
    for d in DISSECTORS.values():
        for port in d.tcp_ports:
            table.setdefault(port, []).append(d)
    return table


def by_udp_port() -> dict[int, list[Dissector]]:
    table: dict[int, list[Dissector]] = {}
    for d in DISSECTORS.values():
        for port in d.udp_ports:
            table.setdefault(port, []).append(d)
    return table


def by_ethertype() -> dict[int, list[Dissector]]:
    table: dict[int, list[Dissector]] = {}
    for d in DISSECTORS.values():
        for ethertype in d.ethertypes:
            table.setdefault(ethertype, []).append(d)
    return table


__all__ = ["DISSECTORS", "Dissector", "Observation", "Packet", "by_ethertype", "by_tcp_port", "by_udp_port",
           "register"]
