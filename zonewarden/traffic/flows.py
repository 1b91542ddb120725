"""Bidirectional flow table, updated in bulk one decoded batch at a time.

A flow is keyed by (outer VLAN, EtherType, IP protocol, the two (address, port)
endpoints in a canonical order), so both directions of a conversation share one row.
IP packets give IP flows; non-IP frames of Ethernet-like links (ARP, GOOSE, PROFINET
RT, LLDP, ...) give layer-2 flows keyed by MAC addresses with ports 0. A non-first IP
fragment has no ports and so counts towards the flow with ports 0.

Per flow: packets, bytes (wire length), application payload bytes and TCP flags (OR)
per direction, first and last time seen, the initiator (the source of the first SYN without ACK,
or the receiver of a SYN/ACK; else of the first packet, unless that packet came from a service's
port to a client's: an answer in a connection the capture joined late) and ``app_protocol``,
which the caller fills (from dissectors or :meth:`FlowTable.guess_app_protocols`).

Implementation: each packet's key is packed into exact 64-bit words (``w``: VLAN,
protocol, family and EtherType or IPv6 ports; ``ea``/``eb``: address << 16 | port for
IPv4 and MACs, the low address half for IPv6; ``xa``/``xb``: the high IPv6 halves).
Per batch, keys are hashed and grouped with one sort; per-group sums, minima, maxima
and ORs use ``ufunc.reduceat``; groups are merged into growing numpy columns through a
numpy hash index from hash to row (:mod:`zonewarden.traffic.hashindex`). Hash collisions
are detected by comparing the full keys and resolved by re-hashing with another seed, so
grouping is exact.
"""

from __future__ import annotations

import copy
import ipaddress
from collections.abc import Iterable, Iterator, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, overload

import numpy as np

from zonewarden.traffic.capture import CHUNK_SIZE, CaptureStatus, open_capture
from zonewarden.traffic.decode import ETH_IPV6, ETHERNET_LIKE, TRANSPORT_NAMES, Headers, _v4_text, decode, mac_text
from zonewarden.traffic.hashindex import HashIndex

KEY_WORDS = ("w", "ea", "eb", "xa", "xb")
_STATS: dict[str, Any] = {
    "packets_ab": np.int64,
    "packets_ba": np.int64,
    "bytes_ab": np.int64,
    "bytes_ba": np.int64,
    "first_ns": np.int64,
    "last_ns": np.int64,
    "tcp_flags": np.int64,
    "flags_ab": np.int64,  # TCP flags sent a -> b (OR)
    "flags_ba": np.int64,
    "payload_ab": np.int64,  # application payload bytes a -> b (after the TCP/UDP header)
    "payload_ba": np.int64,
    "first_packet": np.int64,
    "initiator": np.int8,  # 0: endpoint a started the flow, 1: endpoint b
    "initiator_syn": np.bool_,  # the initiator comes from the handshake: a SYN, or the SYN/ACK that answers it
    "initiator_port": np.bool_,  # else: the first packet came from a service's port, so its receiver started
}
_FLAG_NAMES = ("FIN", "SYN", "RST", "PSH", "ACK", "URG", "ECE", "CWR", "NS")
_FAM_V4, _FAM_V6, _FAM_L2 = 0, 1, 2
_U16, _U22, _U32, _U38 = np.uint64(16), np.uint64(22), np.uint64(32), np.uint64(38)


def _constants(seed: int) -> list[np.uint64]:
    """Odd 64-bit multipliers derived from ``seed`` (splitmix64)."""
    out, x = [], (seed * 0x9E3779B97F4A7C15 + 0x632BE59BD9B4E019) & 0xFFFFFFFFFFFFFFFF
    for _ in range(len(KEY_WORDS) + 1):
        x = (x + 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF
        z = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
        out.append(np.uint64((z ^ (z >> 31)) | 1))
    return out


class FlowTable:
    """Flows of one or more captures. Feed :meth:`update` with decoded batches.

    Rows are numbered in the order of each flow's first packet, whatever the batching.

    ``app_protocol[row]`` is for the caller to fill; :meth:`records` gives plain dicts,
    :meth:`columns` numpy columns (one row per flow).
    """

    def __init__(self, include_non_ip: bool = True) -> None:
        self.include_non_ip = include_non_ip
        self._n = 0
        self._cols: dict[str, np.ndarray] = {k: np.zeros(0, np.uint64) for k in KEY_WORDS}
        self._cols.update({k: np.zeros(0, t) for k, t in _STATS.items()})
        self._index = HashIndex()  # key hash -> row
        self._seed = 0
        self._mult = _constants(0)
        self.app_protocol: list[str | None] = []
        self.packets = 0  # packets counted in flows
        self.from_initiator = np.zeros(0, dtype=bool)  # per packet of the last batch (see update)
        self._direction = np.zeros(0, dtype=np.int8)

    def __len__(self) -> int:
        return self._n

    # -- bulk update ----------------------------------------------------------------------

    def update(self, h: Headers) -> np.ndarray:
        """Count the packets of ``h``; returns each packet's flow row (-1 if in no flow). Then
        ``from_initiator`` tells, per packet of ``h``, whether its flow's initiator sent it."""
        keep = h.ip_version > 0
        if self.include_non_ip and h.single_linktype in ETHERNET_LIKE:
            keep[:] = True
        elif self.include_non_ip:
            keep |= np.isin(h.linktype, ETHERNET_LIKE)
        if keep.all():
            sel: Any = slice(None)
            count = len(h)
        else:
            sel = np.flatnonzero(keep)
            count = len(sel)
        rows_out = np.full(len(h), -1, np.int64)
        self.from_initiator = np.zeros(len(h), dtype=bool)
        if not count:
            return rows_out
        key, direction = _packet_keys(h, sel)
        while True:
            rows = self._merge(h, sel, key, direction)
            if rows is not None:
                rows_out[sel] = rows
                self._direction = np.full(len(h), -1, np.int8)  # per packet: 0 from a, 1 from b
                self._direction[sel] = direction
                self.from_initiator[sel] = direction == self._cols["initiator"][rows]
                self.packets += count
                return rows_out
            self._reseed()

    def flip(self, rows: np.ndarray) -> None:
        """The other side of these flows started them (whose initiator was a guess: see traffic.recognize)."""
        self._cols["initiator"][rows] ^= 1
        self._cols["initiator_port"][rows] = True

    def from_initiator_of(self, h: Headers, rows: np.ndarray) -> np.ndarray:
        """``from_initiator`` of the last batch (``h``, its ``rows``) again, after a :meth:`flip`."""
        out = np.zeros(len(h), dtype=bool)
        sel = np.flatnonzero(rows >= 0)
        out[sel] = self._direction[sel] == self._cols["initiator"][rows[sel]]
        self.from_initiator = out
        return out

    def _hash(self, key: dict[str, np.ndarray]) -> np.ndarray:
        m = self._mult
        with np.errstate(over="ignore"):
            acc: np.ndarray = key["w"] * m[0] + key["ea"] * m[1] + key["eb"] * m[2]
            if "xa" in key:
                acc += key["xa"] * m[3] + key["xb"] * m[4]
            acc ^= acc >> _U32
            acc *= m[5]
            acc ^= acc >> np.uint64(29)
        return acc

    def _merge(self, h: Headers, sel: Any, key: dict[str, np.ndarray], direction: np.ndarray) -> np.ndarray | None:
        """Group, check and fold one batch; None if a hash collision was found."""
        hashes = self._hash(key)
        order = np.argsort(hashes, kind="stable")
        hs = hashes[order]
        same = hs[1:] == hs[:-1]
        for col in key.values():  # packets with equal hashes must have equal keys
            cs = col[order]
            if (same & (cs[1:] != cs[:-1])).any():
                return None
        change = np.empty(len(hs), bool)
        change[0] = True
        np.logical_not(same, out=change[1:])
        starts = np.flatnonzero(change)
        gid_sorted = np.cumsum(change) - 1
        rep = order[starts]
        ghash = hs[starts]
        rows = self._index.get(ghash)
        known = rows >= 0
        cols = self._cols
        if known.any():
            kr = rows[known]
            for k, col in key.items():
                if not np.array_equal(cols[k][kr], col[rep[known]]):
                    return None
        # per-group aggregates over the sorted packets
        dir_s = direction[order]
        fwd = dir_s == 0
        wire = h.wirelen[sel][order]
        ts = h.ts_ns[sel][order]
        flag_s = h.tcp_flags[sel][order]
        count = np.diff(np.append(starts, len(order)))
        pk_ab = np.add.reduceat(fwd.astype(np.int64), starts)
        by_all = np.add.reduceat(wire, starts)
        by_ab = np.add.reduceat(wire * fwd, starts)
        first = np.minimum.reduceat(ts, starts)
        last = np.maximum.reduceat(ts, starts)
        flags = np.bitwise_or.reduceat(flag_s, starts).astype(np.int64)
        flags_ab = np.bitwise_or.reduceat(np.where(fwd, flag_s, 0), starts).astype(np.int64)
        flags_ba = np.bitwise_or.reduceat(np.where(fwd, 0, flag_s), starts).astype(np.int64)
        payload = h.payload_len[sel][order]
        pay_all = np.add.reduceat(payload, starts)
        pay_ab = np.add.reduceat(payload * fwd, starts)
        syn_dir = np.full(len(starts), -1, np.int64)  # per group: who started it, by the handshake
        handshake = flag_s & 0x12
        for kind, flip in ((0x12, 1), (0x02, 0)):  # a SYN/ACK's receiver; a SYN's sender (written last: it wins)
            pos = np.flatnonzero(handshake == kind)
            if len(pos):
                g, i = np.unique(gid_sorted[pos], return_index=True)
                syn_dir[g] = dir_s[pos[i]] ^ flip
        new = ~known
        if new.any():
            which = np.flatnonzero(new)
            which = which[np.argsort(rep[which])]  # rows in the order of each flow's first packet
            nr = self._append(key, rep[which], ghash[which])
            rows[which] = nr
            cols = self._cols
            cols["first_ns"][nr] = first[which]
            cols["last_ns"][nr] = last[which]
            cols["first_packet"][nr] = h.number[sel][rep[which]]
            sd = syn_dir[which]
            guess = dir_s[starts[which]]  # the sender of the flow's first packet, unless it answers from a service
            answer = _from_service(h, sel, rep[which]) & (sd < 0)
            cols["initiator"][nr] = np.where(sd >= 0, sd, guess ^ answer)
            cols["initiator_syn"][nr] = sd >= 0
            cols["initiator_port"][nr] = answer
        cols["packets_ab"][rows] += pk_ab
        cols["packets_ba"][rows] += count - pk_ab
        cols["bytes_ab"][rows] += by_ab
        cols["bytes_ba"][rows] += by_all - by_ab
        cols["tcp_flags"][rows] |= flags
        cols["flags_ab"][rows] |= flags_ab
        cols["flags_ba"][rows] |= flags_ba
        cols["payload_ab"][rows] += pay_ab
        cols["payload_ba"][rows] += pay_all - pay_ab
        if known.any():
            which = np.flatnonzero(known)
            kr = rows[which]
            cols["first_ns"][kr] = np.minimum(cols["first_ns"][kr], first[which])
            cols["last_ns"][kr] = np.maximum(cols["last_ns"][kr], last[which])
            late = (syn_dir[which] >= 0) & ~cols["initiator_syn"][kr]
            if late.any():  # a SYN after packets already seen: it names the initiator
                cols["initiator"][kr[late]] = syn_dir[which[late]]
                cols["initiator_syn"][kr[late]] = True
                cols["initiator_port"][kr[late]] = False
        out = np.empty(len(order), np.int64)
        out[order] = rows[gid_sorted]
        return out

    def _append(self, key: dict[str, np.ndarray], src: np.ndarray, hashes: np.ndarray) -> np.ndarray:
        start, k = self._n, len(src)
        if start + k > len(self._cols["w"]):
            cap = max(1024, (start + k) * 3 // 2)  # not 2x: a scan's million flows are 180 bytes each
            for name, col in self._cols.items():
                grown = np.zeros(cap, col.dtype)
                grown[:start] = col[:start]
                self._cols[name] = grown
        for name in KEY_WORDS:
            self._cols[name][start : start + k] = key[name][src] if name in key else 0
        self._index.put(hashes, np.arange(start, start + k))
        self._n += k
        self.app_protocol.extend([None] * k)
        return np.arange(start, start + k)

    def _reseed(self) -> None:
        """Re-hash every flow with new multipliers after a collision (vanishingly rare)."""
        keys = {k: self._cols[k][: self._n] for k in KEY_WORDS}
        while True:
            self._seed += 1
            self._mult = _constants(self._seed)
            hashes = self._hash(keys)
            if len(np.unique(hashes)) == self._n:
                self._index = HashIndex()
                self._index.put(hashes, np.arange(self._n))
                return

    # -- results --------------------------------------------------------------------------

    def initiator_syn(self, rows: np.ndarray) -> np.ndarray:
        """Per flow row: whether the flow's initiator is known from its handshake (SYN or SYN/ACK)."""
        return self._cols["initiator_syn"][rows]

    def columns(self) -> dict[str, np.ndarray]:
        """One numpy column per field, one row per flow; a/b are the canonical endpoints.

        Fields: ip_version (4, 6; 0 for layer-2 flows), vlan, ethertype, proto, a_hi, a_lo,
        a_port, b_hi, b_lo, b_port (addresses: IPv4 and MACs in ``*_lo``, IPv6 as high/low
        halves) and the counters of ``_STATS``.
        """
        c = {k: v[: self._n] for k, v in self._cols.items()}
        w = c["w"]
        fam = (w >> np.uint64(20)) & np.uint64(3)
        v6 = fam == _FAM_V6
        mask16 = np.uint64(0xFFFF)
        out = {
            "ip_version": np.select([fam == _FAM_V4, v6], [4, 6], 0),
            "vlan": (w & np.uint64(0xFFF)).astype(np.int64),
            "ethertype": np.where(v6, ETH_IPV6, (w >> _U22) & mask16).astype(np.int64),
            "proto": ((w >> np.uint64(12)) & np.uint64(0xFF)).astype(np.int64),
            "a_hi": c["xa"],
            "a_lo": np.where(v6, c["ea"], c["ea"] >> _U16),
            "a_port": np.where(v6, (w >> _U22) & mask16, c["ea"] & mask16).astype(np.int64),
            "b_hi": c["xb"],
            "b_lo": np.where(v6, c["eb"], c["eb"] >> _U16),
            "b_port": np.where(v6, (w >> _U38) & mask16, c["eb"] & mask16).astype(np.int64),
        }
        out.update({k: c[k] for k in _STATS})
        return out

    def guess_app_protocols(self, tcp: dict[int, str], udp: dict[int, str]) -> None:
        """Fill ``app_protocol`` where still unset from the server's (else the client's) port."""
        unset = np.array([p is None for p in self.app_protocol], dtype=bool)
        if not unset.any():
            return
        c = self.columns()
        names, by_port = _port_protocol_codes(tcp, udp)
        b_first = c["initiator"] == 1
        server_port = np.where(b_first, c["a_port"], c["b_port"])
        client_port = np.where(b_first, c["b_port"], c["a_port"])
        guess = np.full(self._n, -1, dtype=np.int64)
        for proto, lut in by_port.items():
            sel = np.flatnonzero(unset & (c["proto"] == proto) & (c["ip_version"] > 0))
            if len(sel):
                by_server = lut[server_port[sel]]
                guess[sel] = np.where(by_server >= 0, by_server, lut[client_port[sel]])
        for i, k in zip(np.flatnonzero(guess >= 0).tolist(), guess[guess >= 0].tolist(), strict=True):
            self.app_protocol[i] = names[k]

    def records(self) -> list[dict[str, Any]]:
        """One plain dict per flow (JSON-ready), oriented client (the initiator) -> server."""
        return list(FlowRecords(self))


class FlowRecords(Sequence[dict[str, Any]]):
    """The flow records of a table, each dict made when asked for (see :meth:`FlowTable.records`).

    A dict per flow costs about 1.6 kB: a scan that opens a million flows would hold gigabytes
    of them. This holds the table's columns (about 150 bytes per flow) and makes the dicts of
    ``CHUNK`` flows at a time while iterating; every iteration makes them again."""

    CHUNK = 8192
    PROBE_CHUNK = 1 << 17
    rows: np.ndarray  # the table rows of these records, ascending

    def __init__(self, table: FlowTable) -> None:
        c = table.columns()
        self.codes = flow_state_codes(c)  # per table row (see FLOW_STATES)
        self._all, self._app = c, table.app_protocol
        self.rows = np.arange(len(table))

    def where(self, keep: np.ndarray) -> FlowRecords:
        """The records of the flows whose ``keep`` (a mask over this sequence) is set (columns shared)."""
        out = copy.copy(self)
        out.rows = self.rows[keep]
        return out

    def conversations(self) -> FlowRecords:
        """The flows that carried data (no probes)."""
        return self.where(self.codes[self.rows] >= len(PROBE_STATES))

    def probes(self) -> FlowRecords:
        """The probes: flows without data (unanswered, rejected, a bare handshake)."""
        return self.where(self.codes[self.rows] < len(PROBE_STATES))

    def probe_traffic(self) -> Iterator[tuple[str, float, float, int, int]]:
        """What the probes among these flows say of their hosts (:meth:`host_traffic`). A scan has a probe
        per host and port."""
        return self.probes().host_traffic()

    def host_traffic(self) -> Iterator[tuple[str, float, float, int, int]]:
        """What these flows say of their hosts' traffic, in bulk: (address, first seen, last seen, packets,
        bytes) per host, for the clients and for the servers that answered (as InventoryBuilder.add_flow
        takes them: a probe says nothing else).

        Taken ``PROBE_CHUNK`` flows at a time (bounded memory): a host may come once per chunk."""
        rows = self.rows
        for lo in range(0, len(rows), self.PROBE_CHUNK):
            yield from self._probe_hosts(rows[lo : lo + self.PROBE_CHUNK])

    def protocol_use(self, tcp: dict[int, str], udp: dict[int, str]) -> Iterator[tuple[str, str, str, int]]:
        """(client, server, protocol, packets) per distinct client, server and protocol of the conversations
        among these flows, packets summed, in bulk (as InventoryBuilder.add_flow takes them). The protocol
        is the flow's application protocol, else the one its server port names in ``tcp``/``udp``; flows
        with neither are left out. Taken ``PROBE_CHUNK`` flows at a time."""
        rows = self.conversations().rows
        named = _port_protocol_codes(tcp, udp)
        for lo in range(0, len(rows), self.PROBE_CHUNK):
            yield from self._protocol_pairs(rows[lo : lo + self.PROBE_CHUNK], named)

    def _protocol_pairs(
        self, rows: np.ndarray, named: tuple[list[str], dict[int, np.ndarray]]
    ) -> list[tuple[str, str, str, int]]:
        names, by_port = named
        code_of = {name: k for k, name in enumerate(names)}
        c = self._oriented(rows)
        code = np.full(len(rows), -1, dtype=np.int64)
        for proto, table in by_port.items():
            at = np.flatnonzero(c["proto"] == proto)
            code[at] = table[c["server_port"][at]]
        apps = [self._app[r] for r in rows.tolist()]
        for k, app in enumerate(apps):
            if app:
                found = code_of.get(app)
                if found is None:
                    found = code_of[app] = len(names)
                    names.append(app)
                code[k] = found
        keep = np.flatnonzero(code >= 0)
        if not len(keep):
            return []
        ends = [c[k][keep] for k in ("ip_version", "client_hi", "client_lo", "server_hi", "server_lo")]
        packets = (c["packets_to_server"] + c["packets_to_client"])[keep]
        code = code[keep]
        order, starts = fold_groups([*ends, code])
        head = order[starts]
        version, client_hi, client_lo, server_hi, server_lo = (e[head] for e in ends)
        return list(
            zip(
                address_texts(version, client_hi, client_lo),
                address_texts(version, server_hi, server_lo),
                [names[k] for k in code[head].tolist()],
                np.add.reduceat(packets[order], starts).tolist(),
                strict=True,
            )
        )

    def _probe_hosts(self, rows: np.ndarray) -> list[tuple[str, float, float, int, int]]:
        c = self._oriented(rows)
        answered = c["state"] != FLOW_STATES.index("unanswered")
        packets = c["packets_to_server"] + c["packets_to_client"]
        size = c["bytes_to_server"] + c["bytes_to_client"]
        ends = [
            [c["ip_version"][keep], c[f"{side}_hi"][keep], c[f"{side}_lo"][keep], packets[keep], size[keep],
             c["first_ns"][keep], c["last_ns"][keep]]
            for side, keep in (("client", slice(None)), ("server", answered))
        ]  # fmt: skip
        version, hi, lo, packets, size, first_ns, last_ns = (np.concatenate(x) for x in zip(*ends, strict=True))
        order, starts = fold_groups([version, hi, lo])
        head = order[starts]
        return list(
            zip(
                address_texts(version[head], hi[head], lo[head]),
                (np.minimum.reduceat(first_ns[order], starts) / 1e9).tolist(),
                (np.maximum.reduceat(last_ns[order], starts) / 1e9).tolist(),
                np.add.reduceat(packets[order], starts).tolist(),
                np.add.reduceat(size[order], starts).tolist(),
                strict=True,
            )
        )

    def __len__(self) -> int:
        return len(self.rows)

    @overload
    def __getitem__(self, i: int) -> dict[str, Any]: ...
    @overload
    def __getitem__(self, i: slice) -> list[dict[str, Any]]: ...
    def __getitem__(self, i: int | slice) -> dict[str, Any] | list[dict[str, Any]]:
        if isinstance(i, slice):
            return [self._make(k, k + 1)[0] for k in range(*i.indices(len(self)))]
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(i)
        return self._make(i, i + 1)[0]

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for lo in range(0, len(self), self.CHUNK):
            yield from self._make(lo, min(lo + self.CHUNK, len(self)))

    def oriented(self) -> dict[str, np.ndarray]:
        """These flows as numpy columns, client (the initiator) -> server: ``ip_version``, ``proto``,
        ``vlan``, ``ethertype``, ``client_hi``/``_lo`` and ``server_hi``/``_lo`` (addresses as in
        :meth:`FlowTable.columns`), ``client_port``, ``server_port``, ``packets_to_server``/``_client``,
        ``bytes_to_*``, ``payload_to_*``, ``state`` (index in FLOW_STATES), ``first_ns``, ``last_ns``,
        ``first_packet``, ``tcp_flags``, ``initiator_syn`` and ``row`` (the table row)."""
        return self._oriented(self.rows)

    def _oriented(self, rows: np.ndarray) -> dict[str, np.ndarray]:
        c = {k: v[rows] for k, v in self._all.items()}
        b_first = c["initiator"] == 1
        out = {k: c[k] for k in ("ip_version", "proto", "vlan", "ethertype", "first_ns", "last_ns", "first_packet")}
        out.update({k: c[k] for k in ("tcp_flags", "initiator_syn", "initiator_port")})
        for a, b, client, server in (
            ("a_hi", "b_hi", "client_hi", "server_hi"),
            ("a_lo", "b_lo", "client_lo", "server_lo"),
            ("a_port", "b_port", "client_port", "server_port"),
            ("packets_ab", "packets_ba", "packets_to_server", "packets_to_client"),
            ("bytes_ab", "bytes_ba", "bytes_to_server", "bytes_to_client"),
            ("payload_ab", "payload_ba", "payload_to_server", "payload_to_client"),
        ):
            out[client], out[server] = np.where(b_first, c[b], c[a]), np.where(b_first, c[a], c[b])
        out["state"], out["row"] = self.codes[rows], rows
        return out

    def _make(self, lo: int, hi: int) -> list[dict[str, Any]]:
        """The records of flows [lo, hi): columns oriented and converted in bulk, then a dict per row."""
        rows = self.rows[lo:hi]
        c = self._oriented(rows)
        version = c["ip_version"]
        pairs = list(zip(c["proto"].tolist(), (version > 0).tolist(), strict=True))
        flags = c["tcp_flags"].tolist()
        columns = (
            c["vlan"].tolist(),
            c["ethertype"].tolist(),
            [TRANSPORT_NAMES.get(p, f"ip-{p}") if ip else "eth" for p, ip in pairs],
            [p if ip else None for p, ip in pairs],
            address_texts(version, c["client_hi"], c["client_lo"]),
            c["client_port"].tolist(),
            address_texts(version, c["server_hi"], c["server_lo"]),
            c["server_port"].tolist(),
            *(c[k].tolist() for k in RECORD_FIELDS[8:14]),  # packets, bytes and payload per direction
            _STATE_NAMES[c["state"]].tolist(),
            (c["first_ns"] / 1e9).tolist(),
            (c["last_ns"] / 1e9).tolist(),
            c["first_packet"].tolist(),
            flags,
            [flag_text(f) for f in flags],
            np.where(c["initiator_syn"], "syn", np.where(c["initiator_port"], "service-port", "first-packet")).tolist(),
            [self._app[r] for r in rows.tolist()],
        )
        return [dict(zip(RECORD_FIELDS, row, strict=True)) for row in zip(*columns, strict=True)]

    def app_protocols(self, rows: Iterable[int]) -> list[str | None]:
        """The application protocol of table rows (the ``row`` column of :meth:`oriented`)."""
        return [self._app[r] for r in rows]


RECORD_FIELDS = (
    "vlan",
    "ethertype",
    "transport",
    "ip_protocol",
    "client",
    "client_port",
    "server",
    "server_port",
    "packets_to_server",
    "packets_to_client",
    "bytes_to_server",
    "bytes_to_client",
    "payload_to_server",
    "payload_to_client",
    "state",
    "first_seen",
    "last_seen",
    "first_packet",
    "tcp_flags",
    "tcp_flags_text",
    "initiator_from",
    "app_protocol",
)


def _port_protocol_codes(tcp: dict[int, str], udp: dict[int, str]) -> tuple[list[str], dict[int, np.ndarray]]:
    """(protocol names, IP protocol -> per port the index of the name its port gives, or -1)."""
    names = sorted(set(tcp.values()) | set(udp.values()))
    index = {name: k for k, name in enumerate(names)}
    out = {}
    for proto, table in ((6, tcp), (17, udp)):
        codes = np.full(65536, -1, dtype=np.int64)
        for port, name in table.items():
            codes[port] = index[name]
        out[proto] = codes
    return names, out


def address_texts(version: np.ndarray, hi: np.ndarray, lo: np.ndarray) -> list[str]:
    """Address texts: IPv4 and MACs from ``lo``, IPv6 from both halves; each distinct one made once."""
    if not len(lo):
        return []
    key = lo if (version == 4).all() else None
    if key is not None:
        distinct, inverse = np.unique(key, return_inverse=True)
        texts = np.array([_v4_text(v) for v in distinct.tolist()], dtype=object)
        return texts[inverse].tolist()  # type: ignore[no-any-return]
    out = []
    for v, h, low in zip(version.tolist(), hi.tolist(), lo.tolist(), strict=True):
        if v == 4:
            out.append(_v4_text(low))
        elif v == 6:
            out.append(str(ipaddress.IPv6Address((h << 64) | low)))
        else:
            out.append(mac_text(low))
    return out


# a flow's state, from what each side sent (TCP flags and payload bytes):
#   unanswered  a TCP SYN or UDP without payload, nothing came back (a probe to no host, or a filtered port)
#   rejected    a TCP SYN without payload, the server answered with a reset and never a SYN-ACK (closed port)
#   no-data     a TCP SYN or UDP without payload otherwise (a bare handshake: an open port probed, a check)
#   one-way     packets one way only, with payload, or TCP caught after its SYN (a one-way tap, telemetry)
#   two-way     packets both ways, with payload, or TCP caught after its SYN
# the first three carried no application data: a host that only received them serves nothing. A TCP flow
# whose SYN the capture did not see was a connection before the capture began: never a probe
FLOW_STATES = ("unanswered", "rejected", "no-data", "one-way", "two-way")
PROBE_STATES = frozenset(FLOW_STATES[:3])
_SYN, _RST = 0x02, 0x04


def flow_state_codes(c: dict[str, np.ndarray]) -> np.ndarray:
    """The state of each flow of :meth:`FlowTable.columns`, as its index in ``FLOW_STATES``."""
    b_first = c["initiator"] == 1
    to_client = np.where(b_first, c["packets_ab"], c["packets_ba"])
    server_flags = np.where(b_first, c["flags_ab"], c["flags_ba"])
    ip = c["ip_version"] > 0
    opened = ((c["proto"] == 6) & c["initiator_syn"]) | (c["proto"] == 17)  # TCP: a connection was tried
    quiet = ip & opened & (c["payload_ab"] + c["payload_ba"] == 0)
    rejected = quiet & (server_flags & _RST != 0) & (server_flags & _SYN == 0)
    return np.select([quiet & (to_client == 0), rejected, quiet, to_client == 0], [0, 1, 2, 3], 4).astype(np.int8)


_STATE_NAMES = np.array(FLOW_STATES, dtype=object)


def fold_groups(keys: list[np.ndarray], then: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(order, starts): the rows sorted by ``keys`` (then by ``then``), and where each group of equal keys
    starts in that order."""
    order = np.lexsort((*([then] if then is not None else []), *keys[::-1]))
    change = np.zeros(len(order), dtype=bool)
    if len(order):
        change[0] = True
    for k in keys:
        ks = k[order]
        change[1:] |= ks[1:] != ks[:-1]
    return order, np.flatnonzero(change)


def conversations(flows: Sequence[dict[str, Any]]) -> Sequence[dict[str, Any]]:
    """The flows that carried data; probes left out (without making their records, for FlowRecords)."""
    if isinstance(flows, FlowRecords):
        return flows.conversations()
    return [f for f in flows if f.get("state") not in PROBE_STATES]


@lru_cache(maxsize=1024)
def flag_text(flags: int) -> str:
    """'SYN,ACK' style names of TCP flag bits."""
    return ",".join(name for bit, name in enumerate(_FLAG_NAMES) if flags >> bit & 1)


@lru_cache(maxsize=1)
def _service_lookups() -> dict[int, np.ndarray]:
    """IP protocol -> per port, whether it names a service (see dissectors.service_port)."""
    from zonewarden.traffic.dissectors import PORT_LOOKUPS  # the dissectors need not load with flows

    return {proto: lookups[1] for proto, lookups in PORT_LOOKUPS.items()}


def _from_service(h: Headers, sel: Any, idx: np.ndarray) -> np.ndarray:
    """Per packet ``idx`` (of ``h[sel]``): whether it comes from a service's port to a client's, so that
    its receiver started the flow. A capture begins in the middle of long-lived connections (a poller's
    session of weeks): the first packet seen of one is as likely an answer (Modbus from port 502) as a
    request, and the server would be taken for the client. The rule is the dissectors' (the side whose
    port names a service, the lower when both do); a SYN seen, even later, still decides."""
    out = np.zeros(len(idx), dtype=bool)
    pos = np.arange(len(h))[sel][idx]  # rows of h
    proto = h.proto[pos]
    for p, known in _service_lookups().items():
        at = np.flatnonzero(proto == p)
        if len(at):
            sport, dport = h.sport[pos[at]], h.dport[pos[at]]
            out[at] = known[sport] & ~(known[dport] & (dport <= sport))
    if out.any():  # a group address starts nothing: what is sent to one (a discovery answer) stays the sender's
        at = np.flatnonzero(out)
        out[at] = ~_group_address(h, pos[at])
    return out


def _group_address(h: Headers, pos: np.ndarray) -> np.ndarray:
    """Per packet: whether its destination is a broadcast or multicast address (IPv4: 224/4, a .255
    broadcast, as the inventory takes them; IPv6: ff00::/8)."""
    dst = h.dst4[pos].astype(np.int64)
    v4 = ((dst >> 28) == 0xE) | ((dst & 0xFF) == 0xFF)
    v6 = (h.dst6[pos, 0] >> np.uint64(56)) == np.uint64(0xFF)
    return np.where(h.ip_version[pos] == 6, v6, v4)


def _packet_keys(h: Headers, sel: Any) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Packed canonical key words of the rows ``sel`` and each packet's direction (0: a -> b)."""
    version = h.ip_version[sel]
    sport = h.sport[sel].astype(np.uint64)
    dport = h.dport[sel].astype(np.uint64)
    es = (h.src4[sel].astype(np.uint64) << _U16) | sport
    ed = (h.dst4[sel].astype(np.uint64) << _U16) | dport
    fam: Any = np.uint64(_FAM_V4)
    v6 = None
    if (version != 4).any():
        l2 = version == 0
        v6 = version == 6
        fam = (v6.astype(np.uint64) * np.uint64(_FAM_V6)) | (l2.astype(np.uint64) * np.uint64(_FAM_L2))
        if l2.any():
            rows = np.flatnonzero(l2)
            src_mac, dst_mac = h.macs(np.arange(len(h))[sel][rows])
            es[rows] = src_mac << _U16
            ed[rows] = dst_mac << _U16
    swap = es > ed
    meta = (
        h.vlan[sel].astype(np.uint64)
        | (h.proto[sel].astype(np.uint64) << np.uint64(12))
        | (fam << np.uint64(20))
        | (h.ethertype[sel].astype(np.uint64) << _U22)
    )
    key = {"w": meta, "ea": np.minimum(es, ed), "eb": np.maximum(es, ed)}
    if v6 is not None and v6.any():
        _ipv6_keys(h, sel, v6, key, swap)
    return key, swap.astype(np.int8)


def _ipv6_keys(h: Headers, sel: Any, v6: np.ndarray, key: dict[str, np.ndarray], swap: np.ndarray) -> None:
    """IPv6 rows: ``ea``/``eb`` hold the low halves, ``xa``/``xb`` the high ones, ports go in ``w``."""
    s6, d6 = h.src6[sel][v6], h.dst6[sel][v6]
    sp = h.sport[sel][v6].astype(np.uint64)
    dp = h.dport[sel][v6].astype(np.uint64)
    sh, sl, dh, dl = s6[:, 0], s6[:, 1], d6[:, 0], d6[:, 1]
    sw = (sh > dh) | ((sh == dh) & ((sl > dl) | ((sl == dl) & (sp > dp))))
    swap[v6] = sw
    n = len(key["w"])
    key["xa"], key["xb"] = np.zeros(n, np.uint64), np.zeros(n, np.uint64)
    key["ea"][v6] = np.where(sw, dl, sl)
    key["eb"][v6] = np.where(sw, sl, dl)
    key["xa"][v6] = np.where(sw, dh, sh)
    key["xb"][v6] = np.where(sw, sh, dh)
    keep = np.uint64((1 << 22) - 1)  # VLAN, protocol, family; the ports replace the EtherType
    ports = (np.where(sw, dp, sp) << _U22) | (np.where(sw, sp, dp) << _U38)
    key["w"][v6] = (key["w"][v6] & keep) | ports


def flows_from_capture(
    path: str | Path, table: FlowTable | None = None, chunk_size: int = CHUNK_SIZE
) -> tuple[FlowTable, CaptureStatus]:
    """Read, decode and count one capture into ``table`` (a new one by default)."""
    table = table if table is not None else FlowTable()
    with open_capture(path, chunk_size) as cap:
        for batch in cap.batches():
            table.update(decode(batch))
    return table, cap.status
