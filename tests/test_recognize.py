"""Protocols recognised by content on TCP ports no dissector listens on (traffic.recognize).

Checked on the shared captures: the three that carry an industrial protocol or HTTP on an
unusual port, the same inventory when a capture's server port is moved to an unclaimed
one, and no recogniser that disagrees with the port on any TCP payload of the corpus."""

from __future__ import annotations

import struct
from collections import Counter
from pathlib import Path

import pytest
from _pcap import PCAPS, capture, frames, mutated, seeds
from hypothesis import given, settings
from hypothesis import strategies as st
from test_capture import eth, ipv4, pcap, tcp, write
from test_flows import ACK, PSH, SYN

from zonewarden.traffic import recognize
from zonewarden.traffic.capture import open_capture
from zonewarden.traffic.decode import decode
from zonewarden.traffic.discover import discover
from zonewarden.traffic.dissectors import RECOGNIZERS, TCP_PORTS, UDP_RECOGNIZERS

READ_ONE_REGISTER = bytes.fromhex("000100000006010300000001")


def _inventory(path: Path | str) -> tuple[dict[str, tuple], Counter[str]]:
    found = discover([path])
    hosts = {a["key"]: (a["roles"], a["protocols"], a["identity"]) for a in found.hosts}
    return hosts, Counter(found.stats["observations"])


@pytest.mark.parametrize(
    ("relative", "protocol", "port", "server", "role"),
    [
        ("dnp3/dnp3_read_p20001.pcap", "dnp3", 20001, "130.126.140.229", "rtu"),
        ("opcua/open62541_client-server_mainloop-not-localhost-non-standard-port.pcap", "opcua", 48010,
         "192.168.224.102", "opc-server"),
        ("c37.118/c37118_1100_unclean.pcap", "http", 8765, "192.168.0.21", "it-host"),  # a WebSocket upgrade
    ],
)  # fmt: skip
def test_shared_captures_on_unusual_ports(relative: str, protocol: str, port: int, server: str, role: str) -> None:
    found = discover([capture(relative)])
    assert set(found.stats["recognized_flows"]) == {protocol}
    served = [f for f in found.flows if f["server_port"] == port]
    assert served and all(f["app_protocol"] == protocol and f["server"] == server for f in served)
    host = next(a for a in found.hosts if a["ip"] == server)
    assert protocol in host["serves"] and role in host["roles"]
    if protocol == "opcua":
        assert host["identity"]["product_uri"] == "http://open62541.org"


def _moved(path: Path, port: int, to: int, out: Path) -> Path:
    """The capture with TCP and UDP port ``port`` replaced by ``to`` on both sides (as pcap, link types kept)."""
    records, linktype = [], None
    with open_capture(path) as cap:
        for batch in cap.batches():
            h = decode(batch)
            buf = bytearray(batch.buf)
            for i in range(len(h)):
                if h.proto[i] in (6, 17) and h.ip_version[i] in (4, 6) and not h.fragment[i]:
                    at = int(h.l4_off[i])
                    sport, dport = struct.unpack_from("!HH", buf, at)
                    struct.pack_into("!HH", buf, at, to if sport == port else sport, to if dport == port else dport)
                start, size = int(batch.data_off[i]), int(batch.caplen[i])
                linktype = int(batch.linktype[i])
                records.append((int(batch.ts_ns[i]), bytes(buf[start : start + size])))
    with open(out, "wb") as sink:
        sink.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1 if linktype is None else linktype))
        for ns, data in records:
            sink.write(struct.pack("<IIII", ns // 10**9, ns % 10**9 // 1000, len(data), len(data)) + data)
    return out


@pytest.mark.parametrize(
    ("relative", "port"),
    [
        ("modbus/modbus_test.pcap", 502),
        ("s7comm/s7ident.pcap", 102),
        ("s7comm/S7-1200-Uploading-OB1-TIAV12.pcap", 102),
        ("iec104/090813_diverse.pcap", 2404),
        ("dnp3/dnp3_read.pcap", 20000),
        ("enip/EIP-FirmwareChange.pcap", 44818),
        ("opcua/open62541_client-server_mainloop-not-localhost.pcap", 4840),
        ("mms/" + (sorted(p.name for p in (PCAPS / "mms").glob("*.pcap*")) or ["none"])[0], 102),
        ("bacnet/bacnet_services.pcap", 47808),  # UDP: a second BACnet network's port (47809-47823)
        ("hart-ip/hart_ip.pcap", 5094),
    ],
)
def test_a_server_moved_to_an_unclaimed_port_is_found_the_same(tmp_path: Path, relative: str, port: int) -> None:
    """The same hosts, roles, protocols, identities and observations when the server listens on 40123
    (BACnet: on 47809)."""
    original = capture(relative)
    moved = _moved(original, port, 47809 if port == 47808 else 40123, tmp_path / "moved.pcap")
    assert _inventory(moved) == _inventory(original)
    assert discover([moved]).stats["recognized_flows"]


@pytest.mark.parametrize(
    ("relative", "client_port", "to"),
    [
        ("enip/EIP-FirmwareChange.pcap", 1057, 2404),  # joined late: a Windows XP HMI's port is IEC 104's
        ("enip/EIP-FirmwareChange.pcap", 1057, 4840),  # ... or OPC UA's
    ],
)
def test_a_client_port_that_collides_with_another_protocols_is_found_the_same(
    tmp_path: Path, relative: str, client_port: int, to: int
) -> None:
    """A connection caught without its SYN whose client port happens to be another dissector's lower port:
    the content decides (EtherNet/IP on 44818), not the lower port."""
    original = capture(relative)
    moved = _moved(original, client_port, to, tmp_path / "moved.pcap")
    assert _inventory(moved) == _inventory(original)
    found = discover([moved])
    (flow,) = [f for f in found.flows if to in (f["client_port"], f["server_port"])]
    assert (flow["client_port"], flow["server_port"], flow["app_protocol"]) == (to, 44818, "enip")


def _exchange(tmp_path: Path, client_port: int, server_port: int, request: bytes, response: bytes) -> Path:
    """A TCP handshake, then a request and its response, as a capture."""
    c, s_ = "10.0.0.5", "10.0.0.1"
    frames_ = [
        (1_000_000_000, eth(ipv4(c, s_, 6, tcp(client_port, server_port, SYN)))),
        (1_000_100_000, eth(ipv4(s_, c, 6, tcp(server_port, client_port, SYN | ACK)))),
        (2_000_000_000, eth(ipv4(c, s_, 6, tcp(client_port, server_port, PSH | ACK, request)))),
        (2_000_100_000, eth(ipv4(s_, c, 6, tcp(server_port, client_port, PSH | ACK, response)))),
    ]
    return write(tmp_path, pcap(frames_))


def test_slmp_and_mqtt_on_configured_ports(tmp_path: Path) -> None:
    """SLMP ports are set per PLC (here 6000); an MQTT broker may listen on another port (here 11883)."""
    read_cpu_model = bytes.fromhex("500000ffff03000600100001010000")  # 3E binary, data length 6
    model = bytes.fromhex("d00000ffff030014000000") + b"Q03UDVCPU       " + bytes.fromhex("6803")
    found = discover([_exchange(tmp_path, 50123, 6000, read_cpu_model, model)])
    assert found.stats["recognized_flows"] == {"melsec": 1}
    plc = next(a for a in found.hosts if a["ip"] == "10.0.0.1")
    assert plc["model"] == "Q03UDVCPU" and "melsec" in plc["serves"]
    connect = b"\x10\x0c\x00\x04MQTT\x04\x02\x00\x3c\x00\x00"
    found = discover([_exchange(tmp_path, 50124, 11883, connect, b"\x20\x02\x00\x00")])
    assert found.stats["recognized_flows"] == {"mqtt": 1}
    assert next(a for a in found.hosts if a["ip"] == "10.0.0.1")["serves"] == ["mqtt"]


def test_recognisers_agree_with_the_ports_on_every_tcp_payload_of_the_corpus() -> None:
    """On the shared captures, a recogniser that matches a TCP payload on a dissector's port stands for
    that port (S7comm's stands for 102, which MMS shares): no protocol is taken for another."""
    if not PCAPS.is_dir():
        pytest.skip("../shared/data/pcaps is not present")
    matched: Counter[str] = Counter()
    for path in sorted(p for p in PCAPS.glob("*/*") if p.is_file()):
        for f in frames(path):
            if f.transport != "tcp" or not f.payload:
                continue
            claimed = {port for port in (f.sport, f.dport) if port in TCP_PORTS}
            if not claimed:
                continue
            for d in RECOGNIZERS:
                if d.matches(f.payload):
                    assert d.tcp_ports[0] in claimed, (path.name, f.number, d.name, claimed)
                    matched[d.name] += 1
                    break
    assert {"modbus", "s7", "dnp3", "enip", "iec104", "opcua", "http", "ads"} <= set(matched)


def _segments(payloads: list[bytes]) -> list[tuple[int, bytes]]:
    frames_ = [
        (1_000_000_000, eth(ipv4("10.0.0.5", "10.0.0.1", 6, tcp(50000, 5020, SYN)))),
        (1_000_100_000, eth(ipv4("10.0.0.1", "10.0.0.5", 6, tcp(5020, 50000, SYN | ACK)))),
    ]
    for k, payload in enumerate(payloads):
        frames_.append((2_000_000_000 + k, eth(ipv4("10.0.0.5", "10.0.0.1", 6, tcp(50000, 5020, PSH | ACK, payload)))))
    return frames_


@pytest.mark.parametrize("garbage", [recognize.MAX_TRIES - 1, recognize.MAX_TRIES])
def test_a_flow_is_given_up_after_max_tries_payloads(tmp_path: Path, garbage: int) -> None:
    """Modbus on 5020 after some payloads nothing recognises: found within MAX_TRIES, not after."""
    path = write(tmp_path, pcap(_segments([b"\x00garbage"] * garbage + [READ_ONE_REGISTER] * 3)))
    found = discover([path])
    expected = {"modbus": 1} if garbage < recognize.MAX_TRIES else {}
    assert found.stats["recognized_flows"] == expected
    assert found.stats["observations"].get("modbus", 0) >= (3 if expected else 0)  # the garbage too: malformed
    (flow,) = found.flows
    assert flow["server_port"] == 5020 and flow["app_protocol"] == ("modbus" if expected else None)


def test_a_flow_whose_payloads_no_lead_fits_is_given_up(tmp_path: Path) -> None:
    """Payloads the bulk filter drops (no recogniser's leading bytes) spend the flow's tries as the ones
    the recognisers read do: after MAX_TRIES the flow is given up, and later payloads are not looked at."""
    from zonewarden.traffic.flows import FlowTable

    path = write(tmp_path, pcap(_segments([b"\x17\x03\x03" + bytes(40)] * recognize.MAX_TRIES + [READ_ONE_REGISTER])))
    recognizer, table = recognize.Recognizer(), FlowTable()
    with open_capture(path) as cap:
        for batch in cap.batches():
            h = decode(batch)
            recognizer.apply(h, table.update(h), table)
    assert recognizer.state[0] == -1 and recognizer.tries[0] == recognize.MAX_TRIES and not recognizer.found


TCP_SEEDS = [
    s
    for folder in (
        "modbus",
        "s7comm",
        "dnp3",
        "enip",
        "iec104",
        "opcua",
        "ads",
        "omron-fins",
        "niagara-fox",
        "bacnet",
        "hart-ip",
        "melsec",
    )
    for s in seeds(folder, None, limit=60)
]


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.binary(max_size=300), mutated(TCP_SEEDS)))
def test_recognisers_never_raise_and_keep_to_their_leads(payload: bytes) -> None:
    """matches and from_server never raise; a payload matches only if one of the dissector's leads is in it
    (the bulk filter before matches must never drop what matches would take)."""
    for d in (*RECOGNIZERS, *UDP_RECOGNIZERS):
        if d.matches(payload) is True:
            assert d.from_server(payload) in (True, False, None)
            assert any(payload[at : at + len(lead)] == lead for at, lead in d.leads), d.name
        else:
            assert d.matches(payload) is False
