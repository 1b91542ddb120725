"""Passive discovery: captures in, inventory, flows and communication map out.

The pipeline per batch of packets: bulk header decoding (numpy), the flow table
(bulk), recognition by content of flows on ports that name no service
(:mod:`~zonewarden.traffic.recognize`), the repeat filter (bulk), then per-packet
dissection only for the packets on an industrial protocol's port or EtherType that are
not repeats. Identity facts and operations feed the inventory; IP-to-MAC bindings come
from the Ethernet headers in bulk; the flows feed it in bulk at the end.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from zonewarden.model.protocols import port_tables
from zonewarden.perf import paused_gc
from zonewarden.traffic.capture import CaptureError, open_capture
from zonewarden.traffic.decode import ETHERNET_LIKE, TRANSPORT_NAMES, _v4_text, decode, mac_text
from zonewarden.traffic.dissection import EPHEMERAL, Dissection
from zonewarden.traffic.dissectors import (
    ETHERTYPES,
    PORT_LOOKUPS,
    TCP_PORTS,
    UDP_PORTS,
    for_packet,
    service_sides,
)
from zonewarden.traffic.dissectors.base import Observation
from zonewarden.traffic.events import Event, EventLog, repeat
from zonewarden.traffic.flows import FlowRecords, FlowTable
from zonewarden.traffic.fragments import Reassembler
from zonewarden.traffic.inventory import InventoryBuilder
from zonewarden.traffic.recognize import Recognizer
from zonewarden.traffic.repeats import RepeatFilter

ROUTER_MAC_IPS = 4  # a MAC seen as the source of more IPs than this is a router: not the hosts' own MAC
_TCP_SIDES, _UDP_SIDES = PORT_LOOKUPS[6], PORT_LOOKUPS[17]
_ETH_BOUND = np.zeros(65536, dtype=bool)
_ETH_BOUND[list(ETHERTYPES)] = True


@dataclass
class Discovery:
    """Everything one discovery run found."""

    hosts: list[dict[str, Any]]
    flows: FlowRecords  # made on demand: iterate, do not hold them all
    stats: dict[str, Any]
    problems: list[dict[str, Any]]
    observations: list[Observation] = field(default_factory=list)  # kept only when asked (tests, debugging)
    events: list[Event] = field(default_factory=list)  # observations aggregated per hosts and function


def discover(
    paths: Iterable[str | Path],
    progress: Callable[[int], None] | None = None,
    keep_observations: bool = False,
    skip_repeats: bool = True,
) -> Discovery:
    """Read every capture; ``progress`` is called with the bytes consumed so far per batch.

    ``skip_repeats``: packets that repeat an earlier one of their flow (see
    :mod:`zonewarden.traffic.repeats`) are counted, not dissected again; the hosts and
    events are the same. ``keep_observations`` (one observation per packet) dissects every packet.
    """
    with paused_gc():
        return _discover(list(paths), progress, keep_observations, skip_repeats and not keep_observations)


def _discover(
    paths: list[str | Path], progress: Callable[[int], None] | None, keep: bool, skip_repeats: bool
) -> Discovery:
    table = FlowTable()
    builder = InventoryBuilder()
    macs: dict[int, Macs] = {}  # IPv4 (int) -> its source MAC(s) (int)
    problems: list[dict[str, Any]] = []
    kept: list[Observation] = []
    log = EventLog()
    per_protocol: dict[str, int] = defaultdict(int)
    files: list[dict[str, Any]] = []
    fragments = {"fragments": 0, "reassembled": 0}
    tunnels: dict[str, int] = defaultdict(int)  # packets taken out of remote-SPAN and other tunnels, per kind
    repeats = RepeatFilter({6: TCP_PORTS, 17: UDP_PORTS, 0: ETHERTYPES}) if skip_repeats else None
    reassembler = Reassembler()
    recognizer = Recognizer()  # protocols recognised by content on unknown ports, per flow of the table
    first_rows: dict[Any, int] = {}  # fragmented datagram -> the flow row of its first fragment
    stage = Dissection(builder, log, table.app_protocol, per_protocol, memo=skip_repeats, keep=kept if keep else None)

    def account(name: str, keep_recent: bool = False) -> None:
        """Add the repeats counted so far to the inventory and the events."""
        if repeats is None:
            return
        for grp, count in repeats.flush(keep_recent):
            for obs in grp.templates:
                builder.add_observation(obs, count, repeat=True)
                per_protocol[obs.protocol] += count
            for ev in grp.events:
                repeat(ev, count, grp.last_packet, grp.last_time)

    for path in paths:
        name = str(path)
        try:
            cap = open_capture(path)
        except CaptureError as exc:
            problems.append({"file": name, "packet": None, "offset": None, "problem": exc.message, "unreadable": True})
            continue
        with cap:
            for batch in cap.batches():
                h = decode(batch)
                for kind, count in h.tunnels.items():
                    tunnels[kind] += count
                rows = table.update(h)
                _client_ports(h, rows, table)
                recognizer.apply(h, rows, table)
                _bind_macs(h, macs)
                picked = np.flatnonzero(_dissector_bound(h))
                first: dict[int, Any] = {}
                if repeats is not None:
                    picked, first = repeats.split(h, picked, rows)
                    if repeats.held >= repeats.max_groups:
                        account(name, keep_recent=True)
                extra = _reassembled(h, rows, reassembler, first_rows) if h.fragment.any() else []
                _feed(stage, name, h, picked, rows, first, extra)
                if progress is not None:
                    progress(cap.status.bytes)
        account(name)
        stage.account()
        for problem in reassembler.problems:
            problems.append({"file": name, "packet": problem.packet, "offset": None, "problem": problem.detail})
        fragments["fragments"] += reassembler.counts["fragments"]
        fragments["reassembled"] += reassembler.counts["completed"]
        reassembler, first_rows = Reassembler(), {}
        status = cap.status
        files.append(
            {
                "file": name,
                "format": status.format,
                "compressed": status.compressed,
                "packets": status.packets,
                "complete": status.complete,
                "linktypes": sorted(status.linktypes),
            }
        )
        if status.stop is not None:
            problems.append(
                {
                    "file": name,
                    "packet": status.stop.packet,
                    "offset": status.stop.offset,
                    "problem": status.stop.reason,
                }
            )
        for warning in status.warnings:
            problems.append({"file": name, "packet": None, "offset": None, "problem": warning})
    stage.close()
    table.guess_app_protocols(*port_tables())
    flows = FlowRecords(table)
    for traffic in flows.host_traffic():  # what add_flow takes of every flow, in bulk: host by host
        builder.add_traffic(*traffic)
    for use in flows.protocol_use(*port_tables()):  # ... and per client, server and protocol
        builder.add_use(*use)
    _add_macs(builder, macs)
    hosts = builder.result(consume=True)
    stats = {
        "files": files,
        "packets": sum(f["packets"] for f in files),
        "flows": len(flows),
        "hosts": len(hosts),
        "dissected_packets": stage.dissected,
        "memo_packets": stage.from_memo,
        "replayed_packets": stage.replayed,
        "repeated_packets": repeats.repeats if repeats is not None else 0,
        "ip_fragments": fragments["fragments"],
        "reassembled_datagrams": fragments["reassembled"],
        "tunnelled_packets": dict(sorted(tunnels.items())),
        "recognized_flows": dict(sorted(recognizer.found.items())),  # by content (see traffic.recognize)
        "observations": dict(sorted(per_protocol.items())),
    }
    return Discovery(hosts, flows, stats, problems, kept, log.result())


def _client_ports(h: Any, rows: np.ndarray, table: FlowTable) -> None:
    """A TCP connection whose SYN was seen has a known server port: its client's port is ephemeral even
    when it is an industrial one (a Windows XP HMI's ports run 1025-5000, across 2404, 4840, 5007, ...).
    Such client ports become EPHEMERAL in ``h`` (after the flow table counted the batch), so that the
    dissectors, the repeat filter and the bound mask all go by the server's port."""
    tcp = np.flatnonzero((h.proto == 6) & (rows >= 0))
    if not len(tcp):
        return
    known = table.initiator_syn(rows[tcp])
    tcp = tcp[known]
    from_client = table.from_initiator[tcp]
    client_port = np.where(from_client, h.sport[tcp], h.dport[tcp])
    server_port = np.where(from_client, h.dport[tcp], h.sport[tcp])
    collide = _TCP_SIDES[0][client_port] & (client_port != server_port)
    if collide.any():
        h.sport[tcp[collide & from_client]] = EPHEMERAL
        h.dport[tcp[collide & ~from_client]] = EPHEMERAL


def _dissector_bound(h: Any) -> np.ndarray:
    """Packets with a payload, not IP fragments, on a dissector's TCP/UDP service port (see
    dissectors.service_port) or EtherType."""
    is_tcp, is_udp = h.proto == 6, h.proto == 17
    mask = np.zeros(len(h), dtype=bool)
    for sel, sides in ((is_tcp, _TCP_SIDES), (is_udp, _UDP_SIDES)):
        rows = np.flatnonzero(sel)
        if len(rows):
            by_dst, by_src = service_sides(sides, h.sport[rows], h.dport[rows])
            mask[rows] = by_dst | by_src
    mask |= (h.ip_version == 0) & _ETH_BOUND[h.ethertype]
    mask &= (h.payload_len > 0) & ~h.fragment
    return mask


def _reassembled(h: Any, rows: np.ndarray, reassembler: Reassembler, first_rows: dict[Any, int]) -> list[Any]:
    """IPv4 and IPv6 fragments of the batch into the reassembler; for each datagram completed whose
    transport ports have a dissector, (batch row, flow row, the arguments of Dissection.packet after
    the flow row)."""
    out: list[Any] = []
    buf = h.raw.buf
    for i in np.flatnonzero(h.fragment).tolist():
        version, proto = int(h.ip_version[i]), int(h.proto[i])
        ids = _ids(h, i)
        key = (version, ids[0], ids[1], proto, int(h.ip_id[i]))
        offset = int(h.frag_offset[i])
        if offset == 0:
            first_rows[key] = int(rows[i])
        payload = buf[int(h.l4_off[i]) : int(h.ip_end[i])]
        more = bool(h.more_fragments[i])
        whole = reassembler.add(key, offset, more, payload, float(h.ts_ns[i]) / 1e9, int(h.number[i]))
        if whole is None or proto not in (6, 17):
            continue
        row = first_rows.pop(key, -1)
        header = (((whole[12] >> 4) * 4) if len(whole) > 12 else 20) if proto == 6 else 8
        if len(whole) < max(header, 8):
            continue
        sport, dport = int.from_bytes(whole[0:2], "big"), int.from_bytes(whole[2:4], "big")
        transport = "tcp" if proto == 6 else "udp"
        if not for_packet(transport, sport, dport):
            continue
        ethertype = 0x0800 if version == 4 else 0x86DD
        number, time = int(h.number[i]), float(h.ts_ns[i]) / 1e9
        out.append((i, row, (number, time, transport, sport, dport, ethertype, whole[header:], ids)))
    return out


def _ids(h: Any, i: int) -> tuple[Any, Any, Any, Any]:
    """(source, destination, source MAC, destination MAC) address ids of row ``i`` (see address_text)."""
    src_mac, dst_mac = (int(m[i]) for m in h.macs())  # the batch's MAC columns (kept once gathered)
    sm = -src_mac - 1 if src_mac else None
    dm = -dst_mac - 1 if dst_mac else None
    version = int(h.ip_version[i])
    if version == 4:
        return int(h.src4[i]), int(h.dst4[i]), sm, dm
    if version == 6:
        s6, d6 = h.src6[i].tolist(), h.dst6[i].tolist()
        return (int(s6[0]), int(s6[1])), (int(d6[0]), int(d6[1])), sm, dm
    return sm, dm, sm, dm


def _feed(
    stage: Dissection, name: str, h: Any, picked: np.ndarray, rows: np.ndarray, first: dict[int, Any], extra: list[Any]
) -> None:
    """The picked packets (and datagrams reassembled from fragments) to the dissection stage, in packet order.

    Columns are gathered in bulk and converted to Python values once."""
    packet = stage.packet
    pending = sorted(extra, key=lambda e: e[0])
    if len(picked):
        src_mac, dst_mac = h.macs(picked)
        version = h.ip_version[picked]
        smacs = [-m - 1 if m else None for m in src_mac.tolist()]
        dmacs = [-m - 1 if m else None for m in dst_mac.tolist()]
        sport, dport = h.sport[picked].tolist(), h.dport[picked].tolist()
        ends = list(zip(h.src4[picked].tolist(), h.dst4[picked].tolist(), smacs, dmacs, sport, dport, strict=True))
        transports = [TRANSPORT_NAMES.get(p, "ip") for p in h.proto[picked].tolist()]
        for k in np.flatnonzero(version != 4).tolist():  # IPv6 and non-IP frames: few, one at a time
            i = int(picked[k])
            ends[k] = (*_ids(h, i), sport[k], dport[k])
            if version[k] != 6:
                transports[k] = "eth" if int(h.linktype[i]) in ETHERNET_LIKE else "raw"
        offsets = h.payload_off[picked]
        buf = h.raw.buf
        payloads = [buf[o:e] for o, e in zip(offsets.tolist(), (offsets + h.payload_len[picked]).tolist(), strict=True)]
        columns = zip(
            picked.tolist(), rows[picked].tolist(), h.raw.number[picked].tolist(), (h.raw.ts_ns[picked] / 1e9).tolist(),
            transports, h.ethertype[picked].tolist(), payloads, ends, strict=True,
        )  # fmt: skip
        if not pending and not first:
            for _, row, number, time, transport, ethertype, payload, end in columns:
                packet(name, row, number, time, transport, ethertype, payload, end)
        else:
            for i, row, number, time, transport, ethertype, payload, end in columns:
                while pending and pending[0][0] < i:
                    j, r, args = pending.pop(0)
                    _datagram(packet, name, r, args, first.get(j))
                packet(name, row, number, time, transport, ethertype, payload, end, first.get(i))
    for j, r, args in pending:
        _datagram(packet, name, r, args, first.get(j))


def _datagram(packet: Callable[..., None], name: str, row: int, args: tuple[Any, ...], group: Any) -> None:
    """A datagram reassembled from fragments to the dissection stage."""
    number, time, transport, sport, dport, ethertype, payload, ids = args
    packet(name, row, number, time, transport, ethertype, payload, (*ids, sport, dport), group)


Macs = int | set[int]  # one MAC (nearly every address: a set costs 216 bytes, a scan has 100,000s), or several


def _each(found: Macs) -> Iterable[int]:
    return (found,) if isinstance(found, int) else found


def _bind_macs(h: Any, macs: dict[int, Macs]) -> None:
    v4 = np.flatnonzero(h.ip_version == 4)
    if not len(v4):
        return
    src_mac = h.macs()[0][v4]  # all rows, kept: the dissection stage gathers them again
    ips = h.src4[v4].astype(np.uint64)
    good = src_mac != 0
    if not good.any():
        return
    # distinct (IPv4, MAC) pairs: 80 bits do not pack into one word, so sort by both and keep changes
    ip, mac = ips[good], src_mac[good].astype(np.uint64)
    order = np.lexsort((mac, ip))
    ip, mac = ip[order], mac[order]
    new = np.ones(len(ip), dtype=bool)
    new[1:] = (ip[1:] != ip[:-1]) | (mac[1:] != mac[:-1])
    for a, m in zip(ip[new].tolist(), mac[new].tolist(), strict=True):
        have = macs.get(a)
        if have is None:
            macs[a] = m
        elif isinstance(have, set):
            have.add(m)
        elif have != m:
            macs[a] = {have, m}


def _add_macs(builder: InventoryBuilder, macs: dict[int, Macs]) -> None:
    ips_per_mac: dict[int, int] = defaultdict(int)
    for found in macs.values():
        for mac in _each(found):
            ips_per_mac[mac] += 1
    routed = [k for k in builder.hosts if "@" in k]
    if routed:
        # a device behind a protocol router is named "<address>@<router>"; when the router spoke from a MAC
        # that belongs to one IPv4 address only, the IP name is the one to keep (both may have been seen)
        ip_of_mac = {
            mac_text(mac): _v4_text(ip) for ip, found in macs.items() for mac in _each(found) if ips_per_mac[mac] == 1
        }
        for key in routed:
            where, _, router = key.rpartition("@")
            if router in ip_of_mac:
                builder.rename(key, f"{where}@{ip_of_mac[router]}")
    hosts = builder.hosts
    for ip, found in macs.items():
        host = hosts.get(_v4_text(ip))
        if host is None:
            continue
        for mac in _each(found):
            if ips_per_mac[mac] <= ROUTER_MAC_IPS:
                host.macs.add(mac_text(mac))
