"""Which port's dissectors a packet goes to: never a client's ephemeral port that happens to be an
industrial one when its peer is a lower service port; the bulk rule (discover, repeat filter) and the
per-packet one (for_packet) agree."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from test_capture import eth, ipv4, pcap, tcp, udp, write

from zonewarden.traffic.discover import discover
from zonewarden.traffic.dissectors import (
    TCP_PORTS,
    TCP_SERVICES,
    UDP_PORTS,
    UDP_SERVICES,
    for_packet,
    port_lookups,
    service_port,
    service_sides,
)

INTERESTING = sorted({*TCP_PORTS, *UDP_PORTS, 0, 53, 80, 123, 443, 1023, 1024, 49152, 65535})
ports = st.one_of(st.sampled_from(INTERESTING), st.integers(0, 65535))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(ports, ports), min_size=1, max_size=50))
def test_bulk_and_per_packet_rules_agree(pairs):
    sport = np.array([s for s, _ in pairs], dtype=np.uint16)
    dport = np.array([d for _, d in pairs], dtype=np.uint16)
    for table, services in ((TCP_PORTS, TCP_SERVICES), (UDP_PORTS, UDP_SERVICES)):
        by_dst, by_src = service_sides(port_lookups(table, services), sport, dport)
        expected = [service_port(table, services, s, d) for s, d in pairs]
        got = [d if a else s if b else None for (s, d), a, b in zip(pairs, by_dst, by_src, strict=True)]
        assert got == expected


def test_the_service_side_wins():
    assert for_packet("udp", 9600, 53) == [] and for_packet("udp", 53, 9600) == []  # DNS from port 9600
    assert for_packet("tcp", 80, 44818)[0].name == "http"  # an HTTP answer to port 44818 is not EtherNet/IP
    assert for_packet("tcp", 50000, 502)[0].name == "modbus" and for_packet("tcp", 502, 50000)[0].name == "modbus"
    assert for_packet("udp", 47808, 47808)[0].name == "bacnet"
    assert for_packet("udp", 68, 67)[0].name == for_packet("udp", 67, 68)[0].name == "dhcp"


def test_dns_from_industrial_ephemeral_ports_is_not_industrial(tmp_path):
    """A Linux or Windows client's ephemeral port can be 9600 (FINS), 44818 (EtherNet/IP), 47808 (BACnet):
    its DNS queries and their answers are not those protocols, and make no SCADA client."""
    query = bytes.fromhex("123401000001000000000000037777770765786d706c6503636f6d0000010001")
    frames, t = [], 1_000_000_000
    for port in (9600, 44818, 47808, 2222, 20000, 5094):
        frames.append((t, eth(ipv4("10.0.0.5", "10.0.0.53", 17, udp(port, 53, query)))))
        frames.append((t + 1000, eth(ipv4("10.0.0.53", "10.0.0.5", 17, udp(53, port, query)))))
        t += 1_000_000
    frames.append((t, eth(ipv4("10.0.0.5", "10.0.0.80", 6, tcp(44818, 80, 0x18, b"GET / HTTP/1.0\r\n\r\n")))))
    result = discover([write(tmp_path, pcap(frames), "dns.pcap")])
    assert result.stats["observations"] == {"http": 1} and result.stats["dissected_packets"] == 1  # the GET
    for host in result.hosts:
        assert set(host["roles"]) <= {"it-host"} and set(host["protocols"]) <= {"dns", "http"}, host


def test_a_connection_goes_by_its_server_port_whatever_the_client_port(tmp_path):
    """A Windows XP SCADA master's ephemeral ports run 1025-5000, across IEC 104's 2404 and OPC UA's
    4840: its DNP3 connection from port 2404 is DNP3 (the SYN names the server), not IEC 104."""
    from test_dissect_dnp3 import frame

    read_class_0 = frame(0xC4, 10, 1, bytes([0xC0, 0xC1, 0x01, 0x3C, 0x01, 0x06]))
    frames = [
        (1_000_000_000, eth(ipv4("10.0.0.5", "10.0.0.9", 6, tcp(2404, 20000, 0x02)))),
        (1_000_100_000, eth(ipv4("10.0.0.9", "10.0.0.5", 6, tcp(20000, 2404, 0x12)))),
        (1_000_200_000, eth(ipv4("10.0.0.5", "10.0.0.9", 6, tcp(2404, 20000, 0x18, read_class_0)))),
    ]
    for skip_repeats in (True, False):
        result = discover([write(tmp_path, pcap(frames), "xp.pcap")], skip_repeats=skip_repeats)
        assert set(result.stats["observations"]) == {"dnp3"}, result.stats
        hosts = {h["ip"]: h for h in result.hosts}
        assert hosts["10.0.0.9"]["serves"] == ["dnp3"] and hosts["10.0.0.5"]["uses"] == ["dnp3"]
