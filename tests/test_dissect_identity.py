"""Identity dissectors (LLDP, CDP, DHCP, NetBIOS NS, SNMP, HTTP Server): synthetic frames built
here, facts of real captures (checked against tshark 4.0 by hand) and fuzzing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from _pcap import capture, frames, make_packet, mutated, packet, robust, run
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zonewarden.traffic.dissectors import cdp, dhcp, http_server, lldp, netbios, snmp
from zonewarden.traffic.dissectors._describe import parse_description
from zonewarden.traffic.dissectors.base import Dissector, Observation

SWITCH_MAC = "00:1b:1b:aa:bb:cc"
LLDP_MULTICAST = "01:80:c2:00:00:0e"


def eth(d: Dissector, payload: bytes, ethertype: int, src: str = SWITCH_MAC) -> list[Observation]:
    p = make_packet(payload, "eth", sport=0, src=src, dst=LLDP_MULTICAST, ethertype=ethertype)
    return robust(d, p._replace(src_mac=src, dst_mac=LLDP_MULTICAST))


def udp(d: Dissector, payload: bytes, sport: int, dport: int, src: str = "10.0.0.1", dst: str = "10.0.0.2") -> Any:
    return robust(d, make_packet(payload, "udp", sport=sport, dport=dport, src=src, dst=dst))


# --- descriptions -------------------------------------------------------------------------------


def test_parse_description_known_layouts() -> None:
    assert parse_description("Siemens, SIMATIC NET, SCALANCE X208, 6GK5 208-0BA10-2AA3, HW: 6, FW: V4.1.0") == {
        "vendor": "Siemens",
        "model": "SCALANCE X208",
        "order_number": "6GK5 208-0BA10-2AA3",
        "hardware": "6",
        "firmware": "V4.1.0",
    }
    cisco = parse_description(
        "Cisco IOS Software, C2960 Software (C2960-LANBASEK9-M), Version 15.2(4)E10, RELEASE SOFTWARE (fc2)\n"
        "Technical Support: http://www.cisco.com/techsupport"
    )
    assert cisco == {"vendor": "Cisco", "platform": "Cisco IOS", "firmware": "15.2(4)E10", "model": "C2960"}
    assert parse_description("Hirschmann Railswitch") == {"vendor": "Hirschmann", "model": "Railswitch"}
    assert parse_description("Dell Inc. OptiPlex 990,01,G22XB2S + HMI") == {}
    assert parse_description("Linux plc 4.19.0") == {"platform": "Linux"}
    assert parse_description("") == {}


# --- LLDP ---------------------------------------------------------------------------------------


def tlv(kind: int, value: bytes) -> bytes:
    return ((kind << 9) | len(value)).to_bytes(2, "big") + value


SCALANCE = b"Siemens, SIMATIC NET, SCALANCE X208, 6GK5 208-0BA10-2AA3, HW: 6, FW: V4.1.0"


def lldpdu(desc: bytes = SCALANCE, caps: bytes = b"\x00\x14\x00\x04") -> bytes:
    return b"".join(
        [
            tlv(1, b"\x04" + bytes.fromhex("001b1baabbcc")),
            tlv(2, b"\x07port-003"),
            tlv(3, b"\x00\x14"),
            tlv(5, b"sw-cell-1"),
            tlv(6, desc),
            tlv(7, caps),
            tlv(8, b"\x05\x01" + bytes([192, 168, 0, 250]) + b"\x02\x00\x00\x00\x01\x00"),
            tlv(127, b"\x00\x0e\xcf\x02\x00\x00"),
            tlv(0, b""),
        ]
    )


def test_lldp_scalance_announcement() -> None:
    (o,) = eth(lldp.DISSECTOR, lldpdu(), 0x88CC)
    assert (o.protocol, o.message, o.client, o.identity_of) == ("lldp", "announce", SWITCH_MAC, SWITCH_MAC)
    assert o.identity == {
        "vendor": "Siemens",
        "model": "SCALANCE X208",
        "order_number": "6GK5 208-0BA10-2AA3",
        "hardware": "6",
        "firmware": "V4.1.0",
        "description": SCALANCE.decode(),
        "name": "sw-cell-1",
        "device_type": "bridge",
        "ip": "192.168.0.250",
    }
    assert o.details["chassis_id"] == SWITCH_MAC and o.details["port_id"] == "port-003"
    assert o.details["capabilities"] == ["bridge", "router"] and o.details["enabled_capabilities"] == ["bridge"]
    assert o.details["org_tlvs"] == {"00:0e:cf": 1} and o.details["ttl"] == 20


def test_lldp_router_and_cisco_description() -> None:
    desc = b"Cisco IOS Software, IE4000 Software (IE4000-UNIVERSALK9-M), Version 15.2(4)EA7, RELEASE SOFTWARE (fc2)"
    (o,) = eth(lldp.DISSECTOR, lldpdu(desc, b"\x00\x14\x00\x14"), 0x88CC)
    assert o.identity["device_type"] == "router" and o.identity["firmware"] == "15.2(4)EA7"
    assert o.identity["model"] == "IE4000" and o.identity["vendor"] == "Cisco"


def test_lldp_malformed() -> None:
    assert eth(lldp.DISSECTOR, b"", 0x88CC) == []
    (o,) = eth(lldp.DISSECTOR, tlv(1, b"\x04\x00\x1b") + b"\x0c\x20abc", 0x88CC)
    assert o.message == "malformed" and "truncated" in o.details["reason"]
    (o,) = eth(lldp.DISSECTOR, tlv(5, b"name") + tlv(0, b""), 0x88CC)
    assert o.message == "malformed" and o.details["reason"] == "no chassis ID TLV"


def test_lldp_real_capture() -> None:
    obs = run(lldp.DISSECTOR, capture("profinet/profinet_io_cm_mixed_2.pcapng"))
    assert obs and all(o.message == "announce" for o in obs)
    first = {o.identity_of: o for o in reversed(obs)}
    scalance = first["00:0e:8c:ef:75:c9"]
    assert scalance.identity["description"] == "Siemens AG SIMATIC S7 MULTIPORT SCALANCE X 200 FAM"
    assert scalance.identity["vendor"] == "Siemens" and "ip" not in scalance.identity  # 0.0.0.0 dropped
    assert scalance.details["port_id"] == "port-004"
    assert first["00:09:91:43:e0:68"].identity == {"ip": "192.168.1.2"}
    pc = run(lldp.DISSECTOR, capture("profinet/Profinet_Failed.pcap"))[0]
    assert pc.identity["name"] == "SCADA-PC-060839" and pc.identity["ip"] == "10.10.10.70"
    assert pc.identity["device_type"] == "station"


# --- CDP ----------------------------------------------------------------------------------------


def cdp_tlv(kind: int, value: bytes) -> bytes:
    return kind.to_bytes(2, "big") + (len(value) + 4).to_bytes(2, "big") + value


CISCO_SW = (
    b"Cisco IOS Software, C2960 Software (C2960-LANBASEK9-M), Version 15.2(4)E10, RELEASE SOFTWARE (fc2)\n"
    b"Copyright (c) 1986-2020 by Cisco Systems, Inc."
)


def cdp_pdu() -> bytes:
    address = b"\x00\x00\x00\x01" + b"\x01\x01\xcc\x00\x04" + bytes([10, 1, 1, 2])
    body = b"".join(
        [
            cdp_tlv(1, b"ot-sw-01.plant.local"),
            cdp_tlv(2, address),
            cdp_tlv(3, b"GigabitEthernet0/1"),
            cdp_tlv(4, b"\x00\x00\x00\x28"),
            cdp_tlv(5, CISCO_SW),
            cdp_tlv(6, b"cisco WS-C2960-24TT-L"),
            cdp_tlv(0x0A, b"\x00\x0a"),
        ]
    )
    return b"\x02\xb4\x00\x00" + body


def test_cdp_via_llc_snap_and_ethertype_0x2000() -> None:
    for payload, ethertype in ((cdp.SNAP_CDP + cdp_pdu(), 0), (cdp_pdu(), 0x2000)):
        (o,) = eth(cdp.DISSECTOR, payload, ethertype)
        assert (o.protocol, o.message, o.identity_of) == ("cdp", "announce", SWITCH_MAC)
        assert o.identity == {
            "name": "ot-sw-01.plant.local",
            "vendor": "Cisco",
            "platform": "cisco WS-C2960-24TT-L",
            "firmware": "15.2(4)E10",
            "model": "WS-C2960-24TT-L",
            "description": (
                "Cisco IOS Software, C2960 Software (C2960-LANBASEK9-M), Version 15.2(4)E10, RELEASE SOFTWARE (fc2) "
                "Copyright (c) 1986-2020 by Cisco Systems, Inc."
            ),
            "device_type": "switch",
            "ip": "10.1.1.2",
        }
        assert o.details["port_id"] == "GigabitEthernet0/1" and o.details["native_vlan"] == 10
        assert o.details["capabilities"] == ["switch", "igmp"]


def test_cdp_parse_and_other_llc() -> None:
    parsed = cdp.parse_cdp(cdp_pdu())
    assert parsed["version"] == 2 and parsed["ttl"] == 180 and parsed["addresses"] == ["10.1.1.2"]
    stp = b"\x42\x42\x03\x00\x00\x00\x00\x00"  # STP BPDU on LLC: not CDP, nothing
    assert eth(cdp.DISSECTOR, stp, 0) == []
    (o,) = eth(cdp.DISSECTOR, cdp.SNAP_CDP + b"\x02\xb4\x00\x00\x00\x01\x00\x02", 0)
    assert o.message == "malformed"


def test_cdp_real_capture() -> None:
    path = capture("enip/EIP-FirmwareChangeFailure.pcap")
    obs = []
    for frame in frames(path):  # the production reader gives 802.3/LLC frames EtherType 0
        if frame.transport == "eth" and frame.ethertype is not None and frame.ethertype < 0x600:
            obs.extend(robust(cdp.DISSECTOR, packet(frame._replace(ethertype=0)), {}))
    assert obs and all(o.message == "announce" for o in obs)
    o = next(o for o in obs if o.packet == 5737)
    assert o.identity_of == "00:1e:f6:73:59:81"
    assert {k: o.identity[k] for k in ("name", "platform", "firmware", "device_type", "ip")} == {
        "name": "Ns5gt",
        "platform": "cisco WS-CE500-24TT",
        "firmware": "12.2(25)SEG4",
        "device_type": "switch",
        "ip": "192.168.10.253",
    }
    assert o.details["port_id"] == "GigabitEthernet1" and o.details["native_vlan"] == 3


# --- DHCP ---------------------------------------------------------------------------------------

PLC_MAC = bytes.fromhex("001b1b123456")


def bootp(op: int, options: bytes, yiaddr: bytes = b"\0\0\0\0", chaddr: bytes = PLC_MAC) -> bytes:
    head = bytes([op, 1, 6, 0]) + b"\x12\x34\x56\x78" + b"\0" * 4 + b"\0" * 4 + yiaddr + b"\0" * 8
    return head + chaddr.ljust(16, b"\0") + b"\0" * 192 + dhcp.MAGIC + options + b"\xff"


def opt(code: int, value: bytes) -> bytes:
    return bytes([code, len(value)]) + value


def test_dhcp_discover_and_ack() -> None:
    discover = bootp(
        1,
        opt(53, b"\x01")
        + opt(12, b"PLC-LINE3")
        + opt(60, b"Siemens S7-1500")
        + opt(61, b"\x01" + PLC_MAC)
        + opt(55, b"\x01\x03\x06\x0f")
        + opt(50, bytes([10, 0, 0, 50])),
    )
    (o,) = udp(dhcp.DISSECTOR, discover, 68, 67, "0.0.0.0", "255.255.255.255")
    assert (o.function, o.message, o.client, o.identity_of) == (
        "DHCP Discover",
        "request",
        "0.0.0.0",
        "00:1b:1b:12:34:56",
    )
    assert o.identity == {"name": "PLC-LINE3", "vendor_class": "Siemens S7-1500"}
    assert o.details["client_id"] == "00:1b:1b:12:34:56" and o.details["parameter_request_list"] == "1,3,6,15"
    assert o.details["requested_ip"] == "10.0.0.50" and o.details["xid"] == "0x12345678"
    ack = bootp(2, opt(53, b"\x05") + opt(81, b"\x00\x00\x00\x03plc\x05plant\x00"), yiaddr=bytes([10, 0, 0, 50]))
    (o,) = udp(dhcp.DISSECTOR, ack, 67, 68, "10.0.0.1", "10.0.0.50")
    assert (o.function, o.message, o.client, o.server) == ("DHCP ACK", "response", "10.0.0.50", "10.0.0.1")
    assert o.identity == {"name": "plc.plant", "ip": "10.0.0.50"} and o.identity_of == "00:1b:1b:12:34:56"
    (o,) = udp(dhcp.DISSECTOR, b"\x01\x01\x06", 68, 67)
    assert o.message == "malformed"


def test_dhcp_real_capture() -> None:
    obs = run(dhcp.DISSECTOR, capture("profinet/profinet_io_cm_mixed_2.pcapng"))
    named = {o.identity_of: o.identity for o in obs if o.identity}
    assert named["00:0e:8c:ef:75:c5"] == {"name": "siemens-x208-switch"}
    assert named["e4:11:5b:5a:d9:73"] == {"name": "LT-US-DSWANSON", "vendor_class": "MSFT 5.0"}
    # a BOOTP reply (no DHCP options) assigning an address to a Rockwell module
    obs = run(dhcp.DISSECTOR, capture("enip/EIP-FirmwareChange.pcap"))
    assert [(o.packet, o.function, o.identity_of, o.identity) for o in obs] == [
        (10643, "BOOTP Request", None, {}),
        (10644, "BOOTP Reply", "00:00:bc:3e:eb:e4", {"ip": "192.168.10.120"}),
    ]


# --- NetBIOS name service -------------------------------------------------------------------------


def nb_name(name: str, suffix: int) -> bytes:
    raw = name.upper().ljust(15).encode() + bytes([suffix])
    return b"\x20" + bytes(c for b in raw for c in (0x41 + (b >> 4), 0x41 + (b & 15))) + b"\x00"


def test_netbios_registration_query_response_and_node_status() -> None:
    header = b"\x80\x01" + b"\x29\x10" + b"\x00\x01\x00\x00\x00\x00\x00\x01"
    record = b"\xc0\x0c\x00\x20\x00\x01\x00\x04\x93\xe0\x00\x06\x00\x00" + bytes([192, 168, 1, 20])
    reg = header + nb_name("HMI-STATION", 0) + b"\x00\x20\x00\x01" + record
    (o,) = udp(netbios.DISSECTOR, reg, 137, 137, "192.168.1.20", "192.168.1.255")
    assert (o.protocol, o.message, o.function) == ("netbios-ns", "announce", "Name Registration")
    assert o.identity == {"name": "HMI-STATION"} and o.identity_of == "192.168.1.20"
    group_record = record[:12] + b"\x80\x00" + record[14:]
    (o,) = udp(netbios.DISSECTOR, header + nb_name("PLANT", 0) + b"\x00\x20\x00\x01" + group_record, 137, 137)
    assert o.identity == {} and o.details["group"] == "PLANT"
    query = b"\x80\x02\x01\x10\x00\x01\x00\x00\x00\x00\x00\x00" + nb_name("ENG-WS", 0x20) + b"\x00\x20\x00\x01"
    (o,) = udp(netbios.DISSECTOR, query, 137, 137)
    assert o.message == "request" and o.identity == {} and o.details["question"] == "ENG-WS<20>"
    answer = b"\x80\x02\x85\x00\x00\x00\x00\x01\x00\x00\x00\x00" + nb_name("ENG-WS", 0x20)
    answer += b"\x00\x20\x00\x01\x00\x04\x93\xe0\x00\x06\x00\x00" + bytes([10, 0, 0, 7])
    (o,) = udp(netbios.DISSECTOR, answer, 137, 137, "10.0.0.7", "10.0.0.9")
    assert o.message == "response" and o.identity == {"name": "ENG-WS"} and o.identity_of == "10.0.0.7"
    table = b"\x02" + b"ENG-WS         \x00" + b"\x04\x00" + b"PLANT          \x00" + b"\x84\x00"
    table += bytes.fromhex("001b1b0a0b0c") + b"\x00" * 40
    status = b"\x00\x03\x84\x00\x00\x00\x00\x01\x00\x00\x00\x00" + b"\x20" + b"CK" + b"AA" * 15 + b"\x00"
    status += b"\x00\x21\x00\x01\x00\x00\x00\x00" + len(table).to_bytes(2, "big") + table
    (o,) = udp(netbios.DISSECTOR, status, 137, 50000, "10.0.0.7", "10.0.0.9")
    assert o.function == "Node Status response" and o.identity == {"name": "ENG-WS"} and o.identity_of == "10.0.0.7"
    assert o.details["mac"] == "00:1b:1b:0a:0b:0c" and o.details["group"] == "PLANT"
    assert o.details["names"] == ["ENG-WS<00>", "PLANT<00> (group)"]
    (o,) = udp(netbios.DISSECTOR, b"\x00\x01\x00", 137, 137)
    assert o.message == "malformed"


def test_netbios_real_captures() -> None:
    obs = run(netbios.DISSECTOR, capture("profinet/profinet_io_cm_mixed_2.pcapng"))
    reg = next(o for o in obs if o.packet == 94)
    assert (reg.identity, reg.identity_of) == ({"name": "KW-VLIPC"}, "192.168.1.1")
    assert next(o for o in obs if o.packet == 96).details["group"] == "WORKGROUP"
    obs = run(netbios.DISSECTOR, capture("enip/EIP-ControlProtocolChangeAttempt.pcap"))
    resp = next(o for o in obs if o.packet == 840)
    assert (resp.identity, resp.identity_of) == ({"name": "DBLICENSESERVER"}, "192.168.10.105")


# --- SNMP ---------------------------------------------------------------------------------------


def ber(tag: int, value: bytes) -> bytes:
    n = len(value)
    length = bytes([n]) if n < 128 else bytes([0x81, n]) if n < 256 else bytes([0x82]) + n.to_bytes(2, "big")
    return bytes([tag]) + length + value


def oid(text: str) -> bytes:
    parts = [int(p) for p in text.split(".")]
    out = bytearray([parts[0] * 40 + parts[1]])
    for p in parts[2:]:
        chunk = [p & 0x7F]
        p >>= 7
        while p:
            chunk.append(0x80 | (p & 0x7F))
            p >>= 7
        out += bytes(reversed(chunk))
    return ber(0x06, bytes(out))


def snmp_msg(pdu_tag: int, varbinds: list[tuple[str, bytes]], community: bytes = b"public", version: int = 1) -> bytes:
    binds = b"".join(ber(0x30, oid(o) + v) for o, v in varbinds)
    pdu = ber(0x02, b"\x01\x02") + ber(0x02, b"\x00") + ber(0x02, b"\x00") + ber(0x30, binds)
    return ber(0x30, ber(0x02, bytes([version])) + ber(0x04, community) + ber(pdu_tag, pdu))


SYSDESCR = b"Siemens, SIMATIC NET, SCALANCE XC208, 6GK5 208-0BA00-2AC2, HW: Version 1, FW: Version V04.03.01"


def test_snmp_get_and_response_identity() -> None:
    get = snmp_msg(0xA0, [(snmp.SYS_DESCR, b"\x05\x00"), (snmp.SYS_NAME, b"\x05\x00")])
    (o,) = udp(snmp.DISSECTOR, get, 40000, 161, "10.0.0.5", "10.0.0.9")
    assert (o.function, o.operation, o.message, o.server) == ("GetRequest", "read", "request", "10.0.0.9")
    assert o.details["default_community"] == "public" and o.details["version"] == "v2c" and o.identity == {}
    resp = snmp_msg(
        0xA2,
        [
            (snmp.SYS_DESCR, ber(0x04, SYSDESCR)),
            (snmp.SYS_OBJECT_ID, oid("1.3.6.1.4.1.4329.6.1.2")),
            (snmp.SYS_NAME, ber(0x04, b"xc208-cell2")),
            (snmp.SYS_LOCATION, ber(0x04, b"Hall 2")),
            ("1.3.6.1.2.1.1.3.0", ber(0x43, b"\x01\x00")),
        ],
        community=b"s3cr3t-c0mmunity",
    )
    (o,) = udp(snmp.DISSECTOR, resp, 161, 40000, "10.0.0.9", "10.0.0.5")
    assert (o.function, o.message, o.client, o.server, o.identity_of) == (
        "GetResponse",
        "response",
        "10.0.0.5",
        "10.0.0.9",
        "10.0.0.9",
    )
    assert o.identity["name"] == "xc208-cell2" and o.identity["description"] == SYSDESCR.decode()
    assert o.identity["vendor"] == "Siemens" and o.identity["model"] == "SCALANCE XC208"
    assert o.identity["sys_object_id"] == "1.3.6.1.4.1.4329.6.1.2"
    assert o.details["default_community"] is False and o.details["location"] == "Hall 2"
    assert "s3cr3t" not in repr(o)  # a non-default community is never stored


def test_snmp_set_trap_v3_and_malformed() -> None:
    (o,) = udp(snmp.DISSECTOR, snmp_msg(0xA3, [(snmp.SYS_NAME, ber(0x04, b"x"))], b"private", 0), 40000, 161)
    assert o.operation == "write" and o.details["default_community"] == "private" and o.details["version"] == "v1"
    trap_pdu = (
        oid("1.3.6.1.4.1.9.1.1")
        + ber(0x40, bytes([10, 0, 0, 77]))
        + ber(0x02, b"\x06")
        + ber(0x02, b"\x01")
        + ber(0x43, b"\x10")
        + ber(0x30, ber(0x30, oid(snmp.SYS_NAME) + ber(0x04, b"rtu-7")))
    )
    trap = ber(0x30, ber(0x02, b"\x00") + ber(0x04, b"public") + ber(0xA4, trap_pdu))
    (o,) = udp(snmp.DISSECTOR, trap, 40001, 162, "10.0.0.77", "10.0.0.5")
    assert (o.message, o.function, o.identity_of, o.identity) == ("event", "Trap", "10.0.0.77", {"name": "rtu-7"})
    assert o.details["enterprise"] == "1.3.6.1.4.1.9.1.1" and o.details["generic_trap"] == 6
    v3 = ber(0x30, ber(0x02, b"\x03") + ber(0x30, b"\x02\x01\x00"))
    (o,) = udp(snmp.DISSECTOR, v3, 40000, 161)
    assert o.details == {"version": "v3"} and o.function == "SNMPv3"
    (o,) = udp(snmp.DISSECTOR, b"\x30\x10\x02\x01", 40000, 161)
    assert o.message == "malformed"
    assert snmp.oid_text(oid("1.3.6.1.4.1.4329.6.1.2")[2:]) == "1.3.6.1.4.1.4329.6.1.2"


# --- HTTP ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("server", "vendor"),
    [("Siemens S7-1200 web server", "Siemens"), ("Boa/0.94.13", None), ("GoAhead-Webs", None)],
)
def test_http_server_header(server: str, vendor: str | None) -> None:
    head = f'HTTP/1.1 401 Unauthorized\r\nServer: {server}\r\nWWW-Authenticate: Basic realm="1756-EN2T"\r\n\r\n'
    response = make_packet(head.encode(), "tcp", sport=80, dport=50000, src="10.0.0.9", dst="10.0.0.5")
    (o,) = robust(http_server.DISSECTOR, response)
    assert (o.protocol, o.message, o.function, o.server, o.identity_of) == (
        "http",
        "response",
        "HTTP 401",
        "10.0.0.9",
        "10.0.0.9",
    )
    expected = {"platform": server} | ({"vendor": vendor} if vendor else {})
    assert o.identity == expected and o.details["realm"] == "1756-EN2T"


def test_http_requests_bodies_and_real_capture() -> None:
    req = b"GET /Portal/Portal.mwsl HTTP/1.1\r\nHost: 10.0.0.9:8080\r\nUser-Agent: x\r\n\r\n"
    (o,) = robust(http_server.DISSECTOR, make_packet(req, "tcp", sport=50000, dport=8080))
    assert (o.message, o.function, o.identity) == ("request", "GET", {})
    assert o.details == {"method": "GET", "path": "/Portal/Portal.mwsl", "host": "10.0.0.9:8080"}
    assert robust(http_server.DISSECTOR, make_packet(b"<html>body</html>", "tcp", sport=80, dport=50000)) == []
    obs = run(http_server.DISSECTOR, capture("mms/m-send-req.mms.pcap"))
    assert [(o.message, o.identity) for o in obs] == [("request", {}), ("response", {"platform": "Mu Dynamics"})]


# --- robustness ---------------------------------------------------------------------------------

ALL = (lldp, cdp, dhcp, netbios, snmp, http_server)
POOL = [
    lldpdu(),
    cdp.SNAP_CDP + cdp_pdu(),
    bootp(1, opt(53, b"\x01") + opt(12, b"PLC")),
    snmp_msg(0xA2, [(snmp.SYS_DESCR, ber(0x04, SYSDESCR))]),
    b"HTTP/1.0 200 OK\r\nServer: Boa/0.94\r\n\r\n",
    b"\x80\x01\x29\x10\x00\x01\x00\x00\x00\x00\x00\x01" + nb_name("HMI", 0) + b"\x00\x20\x00\x01",
]


def _feed(module: Any, payload: bytes) -> None:
    d = module.DISSECTOR
    if d.ethertypes:
        for ethertype in d.ethertypes:
            eth(d, payload, ethertype)
    for port in d.udp_ports:
        udp(d, payload, port, 50000)
        udp(d, payload, 50000, port)
    for port in d.tcp_ports:
        robust(d, make_packet(payload, "tcp", sport=port, dport=50000))
        robust(d, make_packet(payload, "tcp", sport=50000, dport=port))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=600))
def test_fuzz_random_bytes(payload: bytes) -> None:
    for module in ALL:
        _feed(module, payload)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated(POOL))
def test_fuzz_mutated_payloads(payload: bytes) -> None:
    for module in ALL:
        _feed(module, payload)


def test_contract_and_every_listed_capture_dissects_cleanly() -> None:
    assert lldp.DISSECTOR.ethertypes == (0x88CC,) and cdp.DISSECTOR.ethertypes == (0, 0x2000)
    assert dhcp.DISSECTOR.udp_ports == (67, 68) and netbios.DISSECTOR.udp_ports == (137,)
    assert snmp.DISSECTOR.udp_ports == (161, 162) and http_server.DISSECTOR.tcp_ports == (80, 8080)
    names = [
        "profinet/profinet_io_cm_mixed_2.pcapng",
        "profinet/Profinet_Failed.pcap",
        "enip/EIP-FirmwareChange.pcap",
        "enip/EIP-ControlProtocolChangeAttempt.pcap",
        "c37.118/c37118_1100_unclean.pcap",
        "c37.118/wrapup.pcapng",
    ]
    for name in names:
        path: Path = capture(name)
        for module in ALL:
            for o in run(module.DISSECTOR, path):
                assert not o.details.get("internal_error"), (name, o.details)
