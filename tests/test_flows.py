"""The bidirectional flow table: per-direction counts, initiator, VLAN in the key,
exact grouping across batches and hash collisions, cross-checked against dpkt."""

from __future__ import annotations

import json
import socket
from collections import Counter
from pathlib import Path

import dpkt
import numpy as np
import pytest
from test_capture import PCAPS, eth, ipv4, ipv6, needs_shared, pcap, tcp, udp, write

from zonewarden.traffic import flows as flows_module
from zonewarden.traffic.capture import open_capture
from zonewarden.traffic.decode import decode
from zonewarden.traffic.flows import FlowTable, flag_text, flows_from_capture

SYN, ACK, PSH, FIN = 0x02, 0x10, 0x08, 0x01
CLIENT, SERVER = "10.0.0.5", "10.0.0.1"  # the client's address sorts after the server's


def handshake(start_with_syn: bool = True) -> list[tuple[int, bytes]]:
    c2s = [(SYN, b""), (ACK, b""), (PSH | ACK, b"\0\1\0\0\0\6\1\3\0\0\0\1"), (FIN | ACK, b"")]
    s2c = [(SYN | ACK, b""), (PSH | ACK, b"\0\1\0\0\0\5\1\3\2\0\7"), (FIN | ACK, b"")]
    order = [("c", 0), ("s", 0), ("c", 1), ("c", 2), ("s", 1), ("c", 3), ("s", 2)]
    frames = []
    for t, (side, i) in enumerate(order):
        flags, data = (c2s if side == "c" else s2c)[i]
        if side == "c":
            frame = eth(ipv4(CLIENT, SERVER, 6, tcp(50000, 502, flags, data)))
        else:
            frame = eth(ipv4(SERVER, CLIENT, 6, tcp(502, 50000, flags, data)))
        frames.append((1_000_000_000 * (t + 1), frame))
    return frames if start_with_syn else frames[1:]


def table_of(tmp_path: Path, frames: list[tuple[int, bytes]], chunk: int = 1 << 20) -> FlowTable:
    table, status = flows_from_capture(write(tmp_path, pcap(frames)), chunk_size=chunk)
    assert status.complete
    return table


@pytest.mark.parametrize("chunk", [64, 1 << 20])
def test_tcp_conversation_counts_per_direction_and_initiator(tmp_path: Path, chunk: int) -> None:
    frames = handshake()
    table = table_of(tmp_path, frames, chunk)
    assert len(table) == 1
    (rec,) = table.records()
    frame_len = {t: len(f) for t, f in frames}
    assert rec["client"] == CLIENT and rec["client_port"] == 50000
    assert rec["server"] == SERVER and rec["server_port"] == 502
    assert (rec["packets_to_server"], rec["packets_to_client"]) == (4, 3)
    assert rec["bytes_to_server"] == sum(frame_len[t] for t in (1e9, 3e9, 4e9, 6e9))
    assert rec["bytes_to_client"] == sum(frame_len[t] for t in (2e9, 5e9, 7e9))
    assert (rec["first_seen"], rec["last_seen"]) == (1.0, 7.0)
    assert rec["tcp_flags_text"] == "FIN,SYN,PSH,ACK" and rec["initiator_from"] == "syn"
    assert rec["transport"] == "tcp" and rec["vlan"] == 0 and rec["first_packet"] == 1
    json.dumps(table.records())


def test_a_syn_ack_names_the_initiator_too(tmp_path: Path) -> None:
    frames = handshake(start_with_syn=False)  # the capture starts with the SYN/ACK: its receiver started
    (rec,) = table_of(tmp_path, frames).records()
    assert (rec["client"], rec["client_port"], rec["initiator_from"]) == (CLIENT, 50000, "syn")


@pytest.mark.parametrize("chunk", [64, 1 << 20])
def test_a_connection_joined_late_is_oriented_by_its_service_port(tmp_path: Path, chunk: int) -> None:
    """A capture begins in the middle of long-lived polling: the first packet seen is the PLC's answer
    (from port 502). The HMI is still the client, and the PLC the server."""
    frames = handshake()[4:]  # the server's response, then FINs: no handshake seen
    (rec,) = table_of(tmp_path, frames, chunk).records()
    assert (rec["client"], rec["client_port"], rec["server"], rec["server_port"]) == (CLIENT, 50000, SERVER, 502)
    assert rec["initiator_from"] == "service-port" and rec["packets_to_server"] == 1


def test_without_a_handshake_the_first_request_decides(tmp_path: Path) -> None:
    frames = handshake()[2:3]  # the client's request alone
    (rec,) = table_of(tmp_path, frames).records()
    assert (rec["client"], rec["server_port"], rec["initiator_from"]) == (CLIENT, 502, "first-packet")


@pytest.mark.parametrize(
    ("sport", "dport", "client_port"),
    [
        (53, 40000, 40000),  # a DNS answer: the querier is the client
        (40000, 53, 40000),
        (47808, 47808, 47808),  # the same port on both sides: the sender
        (2404, 44818, 44818),  # two service ports: the lower one is the service (the dissectors' rule)
        (44818, 2404, 44818),
        (40000, 41000, 40000),  # no service: the sender
    ],
)
def test_udp_and_port_collisions_go_by_the_dissectors_rule(
    tmp_path: Path, sport: int, dport: int, client_port: int
) -> None:
    proto = 17 if 53 in (sport, dport) or sport == dport else 6
    payload = udp(sport, dport, b"x") if proto == 17 else tcp(sport, dport, ACK | PSH, b"x")
    (rec,) = table_of(tmp_path, [(1_000_000_000, eth(ipv4(CLIENT, SERVER, proto, payload)))]).records()
    assert rec["client_port"] == client_port
    assert rec["client"] == (CLIENT if client_port == sport else SERVER)


def test_a_later_syn_names_the_initiator(tmp_path: Path) -> None:
    frames = handshake()
    frames = [frames[1], frames[0], *frames[2:]]  # SYN/ACK first, then the SYN, in another batch
    (rec,) = table_of(tmp_path, frames, chunk=64).records()
    assert (rec["client"], rec["initiator_from"], rec["packets_to_server"]) == (CLIENT, "syn", 4)


def test_vlan_is_part_of_the_key(tmp_path: Path) -> None:
    packet = ipv4("10.0.0.1", "10.0.0.2", 17, udp(2222, 2222, b"x"))
    reply = ipv4("10.0.0.2", "10.0.0.1", 17, udp(2222, 2222, b"y"))
    frames = [
        (0, eth(packet, vlans=(10,))),
        (1, eth(packet, vlans=(20,))),
        (2, eth(reply, vlans=(10,))),
        (3, eth(packet)),
    ]
    records = sorted(table_of(tmp_path, frames).records(), key=lambda r: r["vlan"])
    assert [(r["vlan"], r["packets_to_server"], r["packets_to_client"]) for r in records] == [
        (0, 1, 0),
        (10, 1, 1),
        (20, 1, 0),
    ]


def test_ipv6_layer2_icmp_and_fragment_flows(tmp_path: Path) -> None:
    goose = b"\x00\x01\x00\x10\x00\x00\x00\x00" + b"\x61\x00"
    frames = [
        (0, eth(ipv6("2001:db8::2", "2001:db8::1", 17, udp(4840, 1000, b"a")), 0x86DD)),
        (1, eth(ipv6("2001:db8::1", "2001:db8::2", 17, udp(1000, 4840, b"b")), 0x86DD)),
        (2, eth(goose, 0x88B8)),
        (3, eth(goose, 0x88B8)),
        (4, eth(ipv4("10.0.0.1", "10.0.0.2", 1, b"\x08\0\0\0\0\1\0\1"))),
        (5, eth(ipv4("10.0.0.2", "10.0.0.1", 1, b"\0\0\0\0\0\1\0\1"))),
        (6, eth(ipv4("10.0.0.1", "10.0.0.2", 17, b"rest-of-datagram", frag=5))),
    ]
    records = {(r["transport"], r["ethertype"]): r for r in table_of(tmp_path, frames).records()}
    v6 = records[("udp", 0x86DD)]
    assert (v6["client"], v6["client_port"], v6["server"], v6["server_port"]) == (
        "2001:db8::2",
        4840,
        "2001:db8::1",
        1000,
    )
    assert (v6["packets_to_server"], v6["packets_to_client"]) == (1, 1)
    l2 = records[("eth", 0x88B8)]
    assert (l2["client"], l2["server"], l2["packets_to_server"], l2["ip_protocol"]) == (
        "00:11:22:33:44:55",
        "66:77:88:99:aa:bb",
        2,
        None,
    )
    icmp = records[("icmp", 0x0800)]
    assert (icmp["packets_to_server"], icmp["packets_to_client"]) == (1, 1)
    assert records[("udp", 0x0800)]["client_port"] == 0  # a non-first fragment has no ports


def test_rows_returned_per_packet(tmp_path: Path) -> None:
    with open_capture(write(tmp_path, pcap(handshake()))) as cap:
        table = FlowTable()
        rows = [table.update(decode(b)) for b in cap.batches()]
    assert np.concatenate(rows).tolist() == [0] * 7


def _dpkt_flows(path: Path) -> Counter:
    """Packets per (canonical key, direction) computed packet by packet with dpkt."""
    counts: Counter = Counter()
    with path.open("rb") as f:
        ng = f.read(4) == b"\x0a\x0d\x0d\x0a"
        f.seek(0)
        reader = dpkt.pcapng.Reader(f) if ng else dpkt.pcap.Reader(f)
        layer = {1: dpkt.ethernet.Ethernet, 0: dpkt.loopback.Loopback, 113: dpkt.sll.SLL}[reader.datalink()]
        for _ts, buf in reader:
            ip = layer(buf).data
            if not isinstance(ip, dpkt.ip.IP | dpkt.ip6.IP6) or ip.v not in (4, 6):
                continue
            fam = socket.AF_INET if ip.v == 4 else socket.AF_INET6
            l4 = ip.data
            sp, dp = (l4.sport, l4.dport) if isinstance(l4, dpkt.tcp.TCP | dpkt.udp.UDP) else (0, 0)
            src = (socket.inet_pton(fam, socket.inet_ntop(fam, ip.src)), sp)
            dst = (socket.inet_pton(fam, socket.inet_ntop(fam, ip.dst)), dp)
            a, b = sorted([src, dst])
            key = (ip.p, socket.inet_ntop(fam, a[0]), a[1], socket.inet_ntop(fam, b[0]), b[1])
            counts[key, src == a] += 1
    return counts


@needs_shared
@pytest.mark.parametrize(
    "name",
    [
        "modbus/modbus_test_2.pcap",
        "opcua/open62541_create_monitored_items.pcap",
        "s7commplus/s7comm_plus.pcap",
        "c37.118/wrapup.pcapng",
        "melsec/melsoft_UDP_unclean_1.pcap",
    ],
)
def test_ip_flow_counts_match_dpkt(name: str) -> None:
    table, _ = flows_from_capture(PCAPS / name, chunk_size=5000)
    ours: Counter = Counter()
    for r in table.records():
        if r["ip_protocol"] is None:
            continue
        client, server = (r["client"], r["client_port"]), (r["server"], r["server_port"])
        fam = socket.AF_INET6 if ":" in client[0] else socket.AF_INET
        a, b = sorted([client, server], key=lambda e: (socket.inet_pton(fam, e[0]), e[1]))
        key = (r["ip_protocol"], a[0], a[1], b[0], b[1])
        forward = client == a
        ours[key, forward] += r["packets_to_server"]
        ours[key, not forward] += r["packets_to_client"]
    expected = _dpkt_flows(PCAPS / name)
    assert +ours == +expected


@needs_shared
def test_chunking_does_not_change_the_flows() -> None:
    name = PCAPS / "goose/Sample_File_MMS_and_GOOSE.pcap"
    big, _ = flows_from_capture(name)
    small, _ = flows_from_capture(name, chunk_size=300)
    assert big.records() == small.records()


@needs_shared
def test_grouping_stays_exact_when_every_hash_collides(monkeypatch: pytest.MonkeyPatch) -> None:
    name = PCAPS / "modbus/modbus_test_2.pcap"
    honest, _ = flows_from_capture(name, chunk_size=20000)
    real = flows_module._constants
    # seed 0 hashes every key to the same value; the table must notice and re-hash
    monkeypatch.setattr(flows_module, "_constants", lambda seed: [np.uint64(0)] * 6 if seed == 0 else real(seed))
    colliding, _ = flows_from_capture(name, chunk_size=20000)
    assert colliding._seed > 0
    assert colliding.records() == honest.records()


def test_guess_app_protocols_and_flag_text(tmp_path: Path) -> None:
    table = table_of(tmp_path, handshake())
    table.guess_app_protocols({502: "modbus"}, {})
    assert table.records()[0]["app_protocol"] == "modbus"
    assert flag_text(0x12) == "SYN,ACK" and flag_text(0x100) == "NS"


RST = 0x04


def _probe(frames: list[tuple[int, bytes]], t: int, sport: int, dport: int, replies: list[int]) -> None:
    """A SYN from CLIENT to SERVER:dport, then the server's replies (TCP flags, no payload)."""
    frames.append((t, eth(ipv4(CLIENT, SERVER, 6, tcp(sport, dport, SYN, b"")))))
    for k, flags in enumerate(replies, 1):
        frames.append((t + k, eth(ipv4(SERVER, CLIENT, 6, tcp(dport, sport, flags, b"")))))


@pytest.mark.parametrize("chunk", [64, 1 << 20])
def test_flow_states_from_what_each_side_sent(tmp_path: Path, chunk: int) -> None:
    """unanswered, rejected, bare handshake, conversations; payload bytes counted per direction, across
    batches (a 64-byte chunk holds less than one frame: every packet is its own batch)."""
    frames = [(t + 100, f) for t, f in handshake()]
    _probe(frames, 10_000_000_000, 40001, 23, [])  # nothing back: no host, or a filtered port
    _probe(frames, 11_000_000_000, 40002, 102, [RST | ACK])  # closed port
    _probe(frames, 12_000_000_000, 40003, 80, [SYN | ACK])  # open port, no data (a SYN scan)
    frames.append((13_000_000_000, eth(ipv4(CLIENT, SERVER, 17, udp(40004, 161, b"")))))  # empty UDP, no answer
    frames.append((14_000_000_000, eth(ipv4(CLIENT, SERVER, 17, udp(40005, 514, b"<13>boot")))))  # one-way telemetry
    frames.sort()
    records = {r["server_port"]: r for r in table_of(tmp_path, frames, chunk).records()}
    state = {port: r["state"] for port, r in records.items()}
    assert state == {
        502: "two-way",
        23: "unanswered",
        102: "rejected",
        80: "no-data",
        161: "unanswered",
        514: "one-way",
    }
    modbus = records[502]
    assert (modbus["payload_to_server"], modbus["payload_to_client"]) == (12, 11)
    assert (records[514]["payload_to_server"], records[514]["payload_to_client"]) == (8, 0)
    assert records[102]["tcp_flags_text"] == "SYN,RST,ACK"


def test_a_reset_after_data_is_not_a_rejection(tmp_path: Path) -> None:
    frames = handshake()
    frames.append((8_000_000_000, eth(ipv4(SERVER, CLIENT, 6, tcp(502, 50000, RST | ACK, b"")))))
    (rec,) = table_of(tmp_path, frames).records()
    assert rec["state"] == "two-way"


@needs_shared
def test_flow_records_are_made_on_demand_chunk_by_chunk(monkeypatch: pytest.MonkeyPatch) -> None:
    table, _ = flows_from_capture(PCAPS / "goose/Sample_File_MMS_and_GOOSE.pcap")
    every = table.records()
    monkeypatch.setattr(flows_module.FlowRecords, "CHUNK", 3)
    lazy = flows_module.FlowRecords(table)
    assert len(lazy) == len(every) > 3
    assert list(lazy) == every == list(lazy)  # again: made anew, the same
    assert lazy[0] == every[0] and lazy[-1] == every[-1] and lazy[1:4] == every[1:4]
    with pytest.raises(IndexError):
        lazy[len(every)]


def test_tcp_caught_after_its_syn_is_never_a_probe(tmp_path: Path) -> None:
    """A lone FIN of a connection that began before the capture (hart_ip.pcap has dozens) is not a probe:
    the server it went to was real."""
    frames = [(1_000_000_000, eth(ipv4(CLIENT, SERVER, 6, tcp(50000, 80, FIN | ACK))))]
    (rec,) = table_of(tmp_path, frames).records()
    assert rec["state"] == "one-way" and rec["initiator_from"] == "first-packet"
