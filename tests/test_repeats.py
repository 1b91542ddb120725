"""Repeated packets skipped in bulk give the same inventory and events as dissecting every packet."""

from __future__ import annotations

import json
import struct

import pytest
from conftest import SHARED

from zonewarden.traffic.discover import discover

PCAPS = SHARED / "pcaps"
CAPTURES = sorted(p for p in PCAPS.rglob("*") if p.suffix in (".pcap", ".pcapng", ".gz")) if PCAPS.is_dir() else []


def _events(d):
    return sorted(
        (e.file, e.protocol, e.client, e.server, e.message, e.operation or "", e.function or "")
        + (e.count, e.first_packet, e.last_packet)
        for e in d.events
    )


def _hosts(d):
    return json.dumps(d.hosts, sort_keys=True, default=str)


@pytest.mark.skipif(not CAPTURES, reason="../shared/data/pcaps is not here")
def test_same_result_on_every_shared_capture() -> None:
    skipped = 0
    for path in CAPTURES:
        every = discover([path], skip_repeats=False)
        fast = discover([path])
        assert _events(fast) == _events(every), path.name
        assert _hosts(fast) == _hosts(every), path.name
        s = fast.stats
        assert s["dissected_packets"] + s["memo_packets"] + s["repeated_packets"] == every.stats["dissected_packets"]
        skipped += fast.stats["repeated_packets"]
    assert skipped > 10_000  # the corpus is full of polling: the filter must find it


@pytest.mark.skipif(not CAPTURES, reason="../shared/data/pcaps is not here")
def test_same_result_when_the_filter_overflows(monkeypatch) -> None:
    """A full filter accounts its repeats and keeps only the keys in use: the results stay exact."""
    import zonewarden.traffic.repeats as repeats

    monkeypatch.setattr(repeats, "MAX_GROUPS", 4)
    biggest = sorted(CAPTURES, key=lambda p: p.stat().st_size)[-6:]
    for path in biggest:
        every = discover([path], skip_repeats=False)
        fast = discover([path])
        assert _events(fast) == _events(every), path.name
        assert _hosts(fast) == _hosts(every), path.name


def _modbus_capture(path, polls: int, writes: int = 0) -> None:
    """A client polling holding registers, the values changing in every answer, and one write; before the
    polls, ``writes`` writes to a new register each (answered by their echo)."""
    eth = bytes.fromhex("0200000000020200000000010800")
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]

    def frame(src: int, dst: int, sport: int, dport: int, payload: bytes, seq: int) -> bytes:
        tcp = struct.pack(">HHIIBBHHH", sport, dport, seq, 0, 0x50, 0x18, 8192, 0, 0)
        total = 20 + len(tcp) + len(payload)
        addresses = bytes([10, 0, 0, src]), bytes([10, 0, 0, dst])
        ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, total, 0, 0, 64, 6, 0, *addresses)
        return eth + ip + tcp + payload

    frames = []
    for i in range(writes):
        write = struct.pack(">HHHBBHH", i, 0, 6, 1, 6, 1000 + i, i)  # a register of its own: never a repeat
        frames.append(frame(1, 2, 40000, 502, write, i * 12))
        frames.append(frame(2, 1, 502, 40000, write, i * 12))
    for i in range(polls):
        req = struct.pack(">HHHBBHH", i, 0, 6, 1, 3, 0, 2)
        rsp = struct.pack(">HHHBBB", i, 0, 7, 1, 3, 4) + struct.pack(">HH", i, i * 7 & 0xFFFF)
        frames.append(frame(1, 2, 40000, 502, req, i * 12))
        frames.append(frame(2, 1, 502, 40000, rsp, i * 13))
    frames.append(frame(1, 2, 40000, 502, struct.pack(">HHHBBHH", 9999, 0, 6, 1, 6, 10, 42), 99999))
    for k, f in enumerate(frames):
        out.append(struct.pack("<IIII", 1_700_000_000 + k, 0, len(f), len(f)) + f)
    path.write_bytes(b"".join(out))


def test_polling_is_counted_not_dissected(tmp_path) -> None:
    cap = tmp_path / "poll.pcap"
    _modbus_capture(cap, 500)
    fast = discover([cap])
    every = discover([cap], skip_repeats=False)
    assert fast.stats["dissected_packets"] < 10 and fast.stats["repeated_packets"] > 990
    assert _events(fast) == _events(every)
    reads = [e for e in fast.events if e.operation == "read" and e.message == "request"]
    assert [(e.count, e.first_packet, e.last_packet) for e in reads] == [(500, 1, 999)]
    writes = [e for e in fast.events if e.operation == "write"]
    assert [(e.count, e.first_packet) for e in writes] == [(1, 1001)]  # a write among the polls is never lost
    host = next(h for h in fast.hosts if h["ip"] == "10.0.0.1")
    assert host == next(h for h in every.hosts if h["ip"] == "10.0.0.1")


def test_keys_that_never_repeat_stop_being_created_until_repeats_come_back(tmp_path, monkeypatch) -> None:
    """Writes to ever new registers (nothing repeats), then polling: the filter stops creating keys during the
    writes, creates again on a probe batch once the polling starts, and the results stay exact."""
    import functools

    import zonewarden.traffic.discover as discover_module
    import zonewarden.traffic.repeats as repeats
    from zonewarden.traffic.capture import open_capture

    monkeypatch.setattr(repeats, "PAYS_WINDOW", 64)
    monkeypatch.setattr(repeats, "PROBE_BATCHES", 4)
    monkeypatch.setattr(discover_module, "open_capture", functools.partial(open_capture, chunk_size=2048))
    decisions: list[bool] = []
    creates = repeats.RepeatFilter._creates

    def spy(self):
        decisions.append(creates(self))
        return decisions[-1]

    monkeypatch.setattr(repeats.RepeatFilter, "_creates", spy)
    cap = tmp_path / "writes-then-polls.pcap"
    _modbus_capture(cap, 400, writes=300)
    fast, every = discover([cap]), discover([cap], skip_repeats=False)
    assert _events(fast) == _events(every) and _hosts(fast) == _hosts(every)
    assert False in decisions and decisions[-1] is True  # stopped during the writes, creating again at the end
    assert fast.stats["repeated_packets"] > 600


def test_observations_kept_means_every_packet_dissected(tmp_path) -> None:
    cap = tmp_path / "poll.pcap"
    _modbus_capture(cap, 20)
    d = discover([cap], keep_observations=True)
    assert d.stats["repeated_packets"] == 0 and len(d.observations) == 41


# Property: whatever the payloads (valid, damaged or random), skipping repeats changes nothing.
# A small pool of payloads per port makes repeats likely; headers are seeded with each protocol's
# magic so the specs' framing paths are taken, and then damaged at random.
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_SEEDS = {
    502: bytes.fromhex("000100000006010300000002"),
    102: (
        bytes.fromhex("0300001f02f080320100000001000e00000401120a10020001000084000000"),
        # S7 userdata: an SZL read, and an answer with more data units to follow (kept by the dissector)
        bytes.fromhex("0300002102f080320700000100000800080001120411440100ff09000400110000"),
        bytes.fromhex("0300002902f080320700000100000c000c000112081284010100010000ff0900080011000000140001"),
        # several whole PDUs in one segment: two read requests; two read answers (values don't-care);
        # a COTP data unit without its end mark, then the rest of the TSDU
        bytes.fromhex("0300001f02f080320100000001000e00000401120a10020001000084000000" * 2),
        bytes.fromhex("0300001b02f0803203000000010002000600000401ff0400101234" * 2),
        bytes.fromhex("0300000c02f00032010000000300001a02f08001000e00000401120a10020001000084000000"),
    ),
    44818: (
        bytes.fromhex("6f00160001020304000000000102030405060708000000000000000000020000000000b2000600"),
        # several whole PDUs in one segment: two ListIdentity; two unconnected requests (paired); both
        bytes.fromhex("630000000000000000000000010203040506070800000000" * 2),
        bytes.fromhex(
            "6f0018000102030400000000010203040506070800000000000000000000020000000000b20008000e03200124013001" * 2
        ),
        bytes.fromhex(
            "630000000000000000000000010203040506070800000000"
            "6f0018000102030400000000010203040506070800000000000000000000020000000000b20008000e03200124013001"
        ),
    ),
    # ADS (AMS/TCP): a ReadState request, and two in one segment
    48898: (
        bytes.fromhex("000020000000c0a8000101015303c0a800020101208004000400000000000000000001000000"),
        bytes.fromhex("000020000000c0a8000101015303c0a800020101208004000400000000000000000001000000" * 2),
    ),
    # C37.118 over TCP: a data frame and a command frame in one segment
    4712: (
        bytes.fromhex("aa01001000015f000000000000000000"),
        bytes.fromhex("aa01001000015f000000000000000000aa41001200015f0000000000000000020000"),
    ),
    20000: bytes.fromhex("056405c4010002006c6f"),  # with its header CRC
    47808: bytes.fromhex("810a001101040005010c0c00000001194d"),
    2404: (
        bytes.fromhex("680e00000000640101000100000014"),
        # spontaneous data and an S-format ack in one segment
        bytes.fromhex("681002000000090103000100010000e80300680401000400"),
    ),
    5007: bytes.fromhex("500000ffff03000c00100001040000000000a80100"),
    4713: bytes.fromhex("aa0100120001"),
}


def _tcp_frame(src: int, dst: int, sport: int, dport: int, payload: bytes, udp: bool) -> bytes:
    eth = bytes.fromhex("0200000000020200000000010800")
    if udp:
        l4 = struct.pack(">HHHH", sport, dport, 8 + len(payload), 0)
    else:
        l4 = struct.pack(">HHIIBBHHH", sport, dport, 1, 1, 0x50, 0x18, 8192, 0, 0)
    total = 20 + len(l4) + len(payload)
    addresses = bytes([10, 0, 0, src]), bytes([10, 0, 0, dst])
    ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, total, 0, 0, 64, 17 if udp else 6, 0, *addresses)
    return eth + ip + l4 + payload


@st.composite
def _traffic(draw, moved=False):
    """Frames of the seeds' protocols, mutated; ``moved``: each server listens on a port no dissector claims
    (recognised by content, see traffic.recognize), the same for every flow of a protocol."""
    pool = {}
    for port, seeds in _SEEDS.items():
        variants = []
        for k in range(draw(st.integers(1, 3))):
            seed = draw(st.sampled_from(seeds)) if isinstance(seeds, tuple) else seeds
            if moved and k == 0:  # whole, so that the flows are recognised
                variants.append(seed)
                continue
            body = bytearray(seed + draw(st.binary(max_size=24)))
            for _ in range(draw(st.integers(0, 3))):
                body[draw(st.integers(0, len(body) - 1))] = draw(st.integers(0, 255))
            variants.append(bytes(body[: draw(st.integers(1, len(body)))]))
        pool[port] = variants
    packets = []
    for _ in range(draw(st.integers(1, 60))):
        port = draw(st.sampled_from(sorted(pool)))
        payload = draw(st.sampled_from(pool[port]))
        client, server = draw(st.sampled_from([(1, 2), (3, 2), (1, 4)]))
        to_server = draw(st.booleans())
        udp = port in (47808, 4713) or (port in (20000, 5007) and draw(st.booleans()))
        at = 30000 + sorted(pool).index(port) if moved else port
        if to_server:
            packets.append(_tcp_frame(client, server, 40000 + client, at, payload, udp))
        else:
            packets.append(_tcp_frame(server, client, at, 40000 + client, payload, udp))
    return packets


def _both(tmp_path_factory, frames):
    """discover of the frames as a capture: skipping repeats, and dissecting every packet."""
    cap = tmp_path_factory.mktemp("prop") / "t.pcap"
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]
    out += [struct.pack("<IIII", 1_700_000_000 + k, 0, len(f), len(f)) + f for k, f in enumerate(frames)]
    cap.write_bytes(b"".join(out))
    return discover([cap]), discover([cap], skip_repeats=False)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(frames=_traffic())
def test_skipping_repeats_never_changes_the_result(tmp_path_factory, frames) -> None:
    fast, every = _both(tmp_path_factory, frames)
    assert _events(fast) == _events(every)
    assert _hosts(fast) == _hosts(every)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(frames=_traffic(moved=True))
def test_skipping_repeats_never_changes_the_result_on_unusual_ports(tmp_path_factory, frames) -> None:
    """The same with the protocols recognised by content (their ports rewritten in the batch)."""
    fast, every = _both(tmp_path_factory, frames)
    assert fast.stats["recognized_flows"] == every.stats["recognized_flows"]
    assert _events(fast) == _events(every)
    assert _hosts(fast) == _hosts(every)


def test_an_identity_request_does_not_stop_skipping(tmp_path) -> None:
    """A whole FC 43 request is always dissected, but it leaves no carried bytes: the polls after it in
    the same direction are still skipped (before, one identity request tainted its direction for good)."""
    eth = bytes.fromhex("0200000000020200000000010800")
    frames = []
    for i in range(200):
        payload = (
            struct.pack(">HHHBBBBB", 1, 0, 5, 1, 43, 14, 1, 0)
            if i == 0
            else struct.pack(">HHHBBHH", i, 0, 6, 1, 3, 0, 2)
        )
        tcp = struct.pack(">HHIIBBHHH", 40000, 502, i, 0, 0x50, 0x18, 8192, 0, 0)
        hosts = bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2])
        ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 40 + len(payload), 0, 0, 64, 6, 0, *hosts)
        frames.append(eth + ip + tcp + payload)
    cap = tmp_path / "identity.pcap"
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]
    out += [struct.pack("<IIII", 1_700_000_000 + k, 0, len(f), len(f)) + f for k, f in enumerate(frames)]
    cap.write_bytes(b"".join(out))
    fast, every = discover([cap]), discover([cap], skip_repeats=False)
    assert _events(fast) == _events(every) and _hosts(fast) == _hosts(every)
    assert fast.stats["repeated_packets"] == 198


def test_payoff_judges_the_recent_uses() -> None:
    """The rule the memo and the filter share: yes while there is too little to go by or hits keep up;
    otherwise only on probe ticks; hits coming back make it pay again; old uses weigh less."""
    from zonewarden.traffic.payoff import Payoff

    p = Payoff(window=64, ratio=4, probe=8)
    p.uses = 31
    assert all(p.pays(t) for t in range(1, 8))  # under half the window: nothing to judge on
    p.uses, p.hits = 40, 10
    assert p.pays(1)  # one hit per 4 uses
    p.hits = 9
    assert [t for t in range(1, 17) if p.pays(t)] == [8, 16]  # below the ratio: the probe ticks only
    p.uses, p.hits = 64, 0
    p.pays(1)
    assert (p.uses, p.hits) == (32, 0)  # a full window is halved
    p.hits = 8
    assert p.pays(3)
