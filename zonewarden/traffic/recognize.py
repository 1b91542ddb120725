"""Industrial protocols recognised by their content on ports no dissector listens on.

Ports lie on plant floors: an OPC UA server listens where its vendor chose (48010, 49320,
53530, 62541, ...), a Modbus gateway on 5020, a second DNP3 outstation on 20001.
And they collide: a Windows XP HMI takes its ports from 1025-5000, across IEC 104's 2404 and
OPC UA's 4840, so that its connection to EtherNet/IP's 44818, caught without its SYN, has a
dissector on both ports (the lower would win). A flow on ports that name no service (not a
dissector's, not the protocol catalogue's, none below 1024: BACnet/IP on 47809, as a second
BACnet network on one host uses), or a TCP flow with a dissector on both ports whose handshake
was not seen, has its first payload packets (up to :data:`MAX_TRIES`) shown to the
recognisers: the dissectors that define
:meth:`~zonewarden.traffic.dissectors.base.Dissector.matches`, strictest first (see
``RECOGNIZERS`` and ``UDP_RECOGNIZERS``). The first that matches names the flow's protocol
for good; a flow none matched is left alone. A flow on a named port is that port's service
and is not looked at (Modbus moved to 503 is not found).

The server of a recognised flow is the side its handshake says. Without one (a capture that
joined the connection late), the side on the protocol's own port when one is; else the
recognised payload says who sent it where its content can
(:meth:`~zonewarden.traffic.dissectors.base.Dissector.from_server`: a DNP3 DIR bit, an S7 job
or ack, an OPC UA request or response, an IEC 104 cause of transmission, a CIP reply bit);
else the side with the lower port is the server (clients mostly take high ephemeral ports).
The flow table is told (:meth:`~zonewarden.traffic.flows.FlowTable.flip`), so that the flow
records agree.

A recognised flow's packets, from the batch it was recognised in on (the payloads looked at
before it was included: a segment that did not match alone, such as a TPKT header sent on its
own, is still the protocol's), are then given the protocol's own port on the server's side and
``EPHEMERAL`` on the client's, in the decoded batch only: the flow table keeps the real
ports, and every later stage (the dissectors, the repeat filter, the memo) sees a flow on
the protocol's port. Numpy over the batch, Python only for the packets looked at.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from zonewarden.traffic.dissection import EPHEMERAL
from zonewarden.traffic.dissectors import (
    PORT_LOOKUPS,
    RECOGNIZERS,
    UDP_RECOGNIZERS,
    Dissector,
)
from zonewarden.traffic.flows import FlowTable

MAX_TRIES = 4  # payload packets of a flow shown to the recognisers before it is given up
SHORT = 16  # a payload shorter than this that nothing recognised is also read with the next from its side
MAX_SHORT = 65_536  # such payloads kept at once (memory bound)
_TCP, _UDP = 6, 17
# every recogniser with its transport; a flow's state k (1-based) is _TABLE[k - 1]
_TABLE: tuple[tuple[int, Dissector], ...] = (*((_TCP, d) for d in RECOGNIZERS), *((_UDP, d) for d in UDP_RECOGNIZERS))
_OF = {t: [(k, d) for k, (tt, d) in enumerate(_TABLE, 1) if tt == t] for t in (_TCP, _UDP)}
_PORT_OF = np.array([0, *((d.tcp_ports if t == _TCP else d.udp_ports)[0] for t, d in _TABLE)], dtype=np.int64)
# per transport, every recogniser's leads (None: one of them has none, so every payload is read)
_LEADS: dict[int, list[tuple[int, bytes]] | None] = {
    t: None if any(not d.leads for _, d in _OF[t]) else [lead for _, d in _OF[t] for lead in d.leads]
    for t in (_TCP, _UDP)
}
_FIRST = {t: np.zeros(256, dtype=bool) for t in (_TCP, _UDP)}  # per transport: the first bytes of leads at 0
for _t, _leads in _LEADS.items():
    _FIRST[_t][[lead[0] for at, lead in _leads or () if at == 0]] = True
_OWN_PORT = np.zeros((len(_TABLE) + 1, 65536), dtype=bool)  # [state, port]: the protocol's own port
for _k, (_t, _d) in enumerate(_TABLE, 1):
    _OWN_PORT[_k, list(_d.tcp_ports if _t == _TCP else _d.udp_ports)] = True
# per port: it names a service (a dissector's, the protocol catalogue's, or a well-known port below 1024). A flow
# on one is that service and is not looked at: HTTPS, SMB or SSH (a plant's IT traffic, flow after flow), a flood
# of DNS queries. An unknown port is what an OPC UA server's 48010, a BACnet network's 47809 or a moved DNP3
# outstation use. _CLAIMED: a dissector listens on the TCP port (a contested flow has one on both)
_KNOWN = {t: PORT_LOOKUPS[t][1] for t in (_TCP, _UDP)}
_CLAIMED = PORT_LOOKUPS[_TCP][0]


class Recognizer:
    """Per flow row of one flow table: what its content was recognised as."""

    def __init__(self) -> None:
        self.state = np.zeros(0, dtype=np.int16)  # 0: not yet, -1: given up, k: _TABLE[k - 1]
        self.tries = np.zeros(0, dtype=np.int8)
        self.found: Counter[str] = Counter()  # flows recognised, per protocol
        self.short: dict[tuple[int, bool], bytes] = {}  # (flow row, from its initiator) -> a short payload not known

    def apply(self, h: Any, rows: np.ndarray, table: FlowTable) -> None:
        """Look at the batch's payloads on unknown (or contested) ports of flows not yet decided, then give the
        packets of recognised flows their protocol's port (``h`` is changed in place; ``rows``: each
        packet's flow row in ``table``, just updated with the batch)."""
        cand = np.flatnonzero(((h.proto == _TCP) | (h.proto == _UDP)) & (rows >= 0))
        if not len(cand):
            return
        sport, dport, udp = h.sport[cand], h.dport[cand], h.proto[cand] == _UDP
        known = np.where(udp, _KNOWN[_UDP][sport] | _KNOWN[_UDP][dport], _KNOWN[_TCP][sport] | _KNOWN[_TCP][dport])
        # unknown ports, or contested (TCP): two dissectors' ports (a Windows XP HMI's port 2404 to EtherNet/IP's
        # 44818; with the SYN seen, the client's port was made EPHEMERAL already: see discover._client_ports)
        contested = _CLAIMED[sport] & _CLAIMED[dport] & (sport != dport) & ~udp
        contested &= ~table.initiator_syn(rows[cand])
        cand = cand[~known | contested]
        if not len(cand):
            return
        top = int(rows[cand].max()) + 1
        if top > len(self.state):
            size = max(top, 2 * len(self.state), 1024)
            self.state = np.concatenate([self.state, np.zeros(size - len(self.state), self.state.dtype)])
            self.tries = np.concatenate([self.tries, np.zeros(size - len(self.tries), self.tries.dtype)])
        look = cand[(self.state[rows[cand]] == 0) & (h.payload_len[cand] > 0)]
        from_initiator = table.from_initiator
        if len(look):
            new, said = self._look(h, rows, look, from_initiator)
            if len(new):  # without a handshake: the side on the protocol's own port, else the content's word
                unsure = ~table.initiator_syn(rows[new])  # on who sent it, else the lower port
                new, said = new[unsure], said[unsure]
                sport, dport, k = h.sport[new], h.dport[new], self.state[rows[new]]
                own_src, own_dst = _OWN_PORT[k, sport], _OWN_PORT[k, dport]
                by_server = np.select(
                    [own_src & ~own_dst, own_dst & ~own_src, said >= 0], [True, False, said == 1], sport < dport
                )
                sure = (own_src != own_dst) | (said >= 0) | (sport != dport)
                flip = new[sure & (by_server == from_initiator[new])]
                if len(flip):
                    table.flip(np.unique(rows[flip]))
                    from_initiator = table.from_initiator_of(h, rows)
        ours = cand[self.state[rows[cand]] > 0]  # the packets of recognised flows
        if len(ours):
            port = _PORT_OF[self.state[rows[ours]]]
            to_server = from_initiator[ours]
            h.dport[ours] = np.where(to_server, port, EPHEMERAL)
            h.sport[ours] = np.where(to_server, EPHEMERAL, port)

    def _look(
        self, h: Any, rows: np.ndarray, look: np.ndarray, from_initiator: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Show the recognisers each flow's first payloads of the batch (as many as its tries left; a short
        one also with the next from the same side); the packets that got their flow recognised, and per
        packet whether the server sent it (1, 0; -1: its content does not say)."""
        flow = rows[look]
        order = np.lexsort((look, flow))  # by flow, then packet order
        look, flow = look[order], flow[order]
        start = np.ones(len(flow), dtype=bool)
        start[1:] = flow[1:] != flow[:-1]
        first = np.maximum.accumulate(np.where(start, np.arange(len(flow)), 0))
        rank = np.arange(len(flow)) - first
        keep = rank < (MAX_TRIES - self.tries[flow])
        look = np.sort(look[keep])  # packet order
        state, tries, short = self.state, self.tries, self.short
        # the payloads no recogniser's leading bytes fit are tries lost without Python (a plant's IT traffic on
        # its dynamic ports); a flow with a short payload (here or left from before) is read whole
        lengths = h.payload_len[look]
        joined = np.zeros(len(state), dtype=bool)
        joined[rows[look[(lengths < SHORT) & (h.proto[look] == _TCP)]]] = True  # a datagram is whole
        joined[[row for row, _ in short]] = True
        fits = _leading(h, look) | joined[rows[look]]
        np.add.at(tries, rows[look[~fits]], 1)
        tried = np.unique(rows[look])  # the flows that spent tries here, in bulk or below
        look = look[fits]
        buf, offsets, lengths = h.raw.buf, h.payload_off[look].tolist(), h.payload_len[look].tolist()
        senders, transports = from_initiator[look].tolist(), h.proto[look].tolist()
        recognised, said = [], []
        for i, row, sender, transport, off, length in zip(
            look.tolist(), rows[look].tolist(), senders, transports, offsets, lengths, strict=True
        ):
            if state[row]:
                continue
            payload = buf[off : off + length]
            before = short.pop((row, sender), None)
            recognisers = _OF[transport]
            found = _recognise(recognisers, before + payload) if before is not None else None
            found = found or _recognise(recognisers, payload)
            if found is not None:
                k, by_server = found
                state[row] = k
                self.found[_TABLE[k - 1][1].name] += 1
                recognised.append(i)
                said.append(-1 if by_server is None else int(by_server))
                continue
            tries[row] += 1
            # a header sent alone (a TPKT before its COTP) is read with what follows
            if length < SHORT and transport == _TCP:
                if len(short) >= MAX_SHORT:  # flows that sent one short payload and nothing more (a UDP sweep)
                    short.clear()
                short[(row, sender)] = payload
        spent = tried[(state[tried] == 0) & (tries[tried] >= MAX_TRIES)]  # no try left: given up
        state[spent] = -1
        for row in spent.tolist():
            short.pop((row, False), None)
            short.pop((row, True), None)
        return np.array(recognised, dtype=np.int64), np.array(said, dtype=np.int64)


def _leading(h: Any, look: np.ndarray) -> np.ndarray:
    """Per packet: whether one of its transport's recognisers' leads (Dissector.leads) is in its payload."""
    data = np.frombuffer(h.raw.buf, dtype=np.uint8)
    off, length, proto = h.payload_off[look], h.payload_len[look], h.proto[look]
    out = np.zeros(len(look), dtype=bool)
    for transport, leads in _LEADS.items():
        sel = np.flatnonzero(proto == transport)
        if not len(sel):
            continue
        if leads is None:
            out[sel] = True
            continue
        # a payload can fit a lead at offset 0 only if its first byte is the lead's: one gather rules out most
        first = sel[_FIRST[transport][data[off[sel]]]]  # (a payload is never empty here)
        for at, lead in leads:
            base = first if at == 0 else sel
            idx = base[length[base] >= at + len(lead)]
            hit = np.ones(len(idx), dtype=bool)
            for j, byte in enumerate(lead):
                hit &= data[off[idx] + (at + j)] == byte
            out[idx[hit]] = True
    return out


def _recognise(table: list[tuple[int, Dissector]], payload: bytes) -> tuple[int, bool | None] | None:
    """(state, whether the server sent it) of the first recogniser of ``table`` that matches."""
    for k, dissector in table:
        if dissector.matches(payload):
            return k, dissector.from_server(payload)
    return None
