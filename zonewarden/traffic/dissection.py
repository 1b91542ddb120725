"""Dissection of the packets discovery hands on, each distinct conversation dissected once.

Flows that say the same thing in the same order give the same findings about different
hosts: a SCADA master polling many RTUs of one type with one request set, every BACnet
controller of a floor answering the same Who-Is and property reads, EtherNet/IP I/O
between many adapter pairs, a conversation seen on two taps. So each packet is dissected
with its flow's addresses replaced by *tokens* (``"\\x00\\x1f" n "\\x1f\\x00"``, numbered in
order of appearance within the flow): a dissector's state and findings are about "the
first address of this flow", not about 10.1.2.3. Then:

* **memo**: the findings of a packet are recorded in a trie, keyed by the node the flow's
  earlier dissected packets reached and by everything the dissector sees of the packet
  (tokens, ports, transport, EtherType and the payload, byte for byte). A flow whose
  packets follow a path another flow recorded takes the findings from the memo, with its
  own addresses, packet numbers and times put in. Its dissector state is not built: the
  same tokens and bytes in the same order give the same state.
* **leaving the memo**: when such a flow says something new, its earlier packets are
  replayed through the dissectors (their findings dropped) to build its own state, and
  from then on it is dissected and records its path for the flows after it.
* **aggregation**: findings are counted per *signature* (what the inventory and the event
  log use: protocol, hosts, message, operation, function, identity and the event key
  details) and the flow's addresses: flows between the same addresses (a poller opening a
  new connection per poll) share their counts. The first of each is added as an
  observation; the others only count, as the repeats of
  :mod:`zonewarden.traffic.repeats` do.

Exactness rests on two properties of the dissectors, which the tests check: they are
deterministic in (state, packet), and they treat addresses as opaque labels (packet
numbers and times only label observations). ``tests/test_dissection.py`` compares the
hosts and events with those of dissecting every packet with its own addresses, on every
shared capture and on a replay of them with shifted addresses.

Packets outside any flow (non-IP frames) are dissected as they are, with one shared
state per dissector, as before this stage. Memory is bounded: at most ``MAX_MEMO`` memo
entries holding at most ``MAX_MEMO_BYTES`` of payload (when full, the entries no flow
followed are forgotten, as the identity answers of many devices that each say something
of their own; when most were followed, flows record no more; a replay walks the memo path
back to the root, so no packet is held), ``MAX_AGGREGATES`` counters (then accounted and
forgotten) and ``MAX_SIGNATURES`` signature keys (then forgotten: a signature seen again
is added again, which changes no count). A flow keeps its addresses as a tuple, and the
view of its ends from its second packet on.

When recent flows hardly ever follow the memo (a network of devices that each say something
of their own: names, instances, serial numbers), new flows are dissected with their own
addresses instead, as the reference is: the tokens and templates would cost more than
they save. One new flow in ``PROBE_EVERY`` still tries the memo, so that it is taken
again when flows repeat each other again.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from typing import Any

from zonewarden.traffic.decode import _mac_text, _v4_text
from zonewarden.traffic.dissectors import TCP_PORTS, UDP_PORTS, for_packet
from zonewarden.traffic.dissectors.base import Observation, Packet
from zonewarden.traffic.events import KEY_DETAILS, Event, EventLog, repeat
from zonewarden.traffic.inventory import InventoryBuilder
from zonewarden.traffic.payoff import Payoff

MAX_MEMO = 60_000  # memo entries (about 1 kB each with their findings)
MAX_MEMO_BYTES = 32 << 20  # payload bytes the memo keys hold
MAX_SIGNATURES = 50_000  # signature keys held (then forgotten; ids are never reused)
MAX_FLOWS = 50_000  # flows remembered before those that need not be are forgotten (see _forget_flows)
MEMO_WINDOW = 4096  # memo lookups weighed when deciding whether new flows use the memo (see _memo_pays)
MEMO_PAYS = 32  # the memo is used while at least one lookup in this many finds its path
PROBE_EVERY = 16
MAX_AGGREGATES = 50_000  # first findings held with their counts (about 1 kB each)
_MARK = "\x00\x1f"
_REGISTERED = {"tcp": frozenset(TCP_PORTS), "udp": frozenset(UDP_PORTS)}
# every port no dissector listens on is seen as this one: dissectors compare ports only with their own
EPHEMERAL = next(p for p in range(65535, 0, -1) if p not in TCP_PORTS and p not in UDP_PORTS)


def _token(n: int) -> str:
    return _TOKENS[n] if n < len(_TOKENS) else f"{_MARK}{n}\x1f\x00"


_TOKENS = [f"{_MARK}{n}\x1f\x00" for n in range(16)]  # shared by every flow (a flow has a few addresses)


@lru_cache(maxsize=1 << 16)  # the same addresses (a poller, its MAC, a gateway) are in flow after flow
def address_text(aid: int | tuple[int, int]) -> str:
    """An address id as text: IPv4 (int >= 0), MAC (-(mac + 1)) or IPv6 ((high, low) 64-bit halves)."""
    if isinstance(aid, tuple):
        return str(ipaddress.IPv6Address((aid[0] << 64) | aid[1]))
    if aid >= 0:
        return _v4_text(aid)
    return _mac_text(-aid - 1)


Plan = tuple[tuple[str, ...], bool]
Template = tuple[int, Observation, Plan | None]  # signature id, observation with tokens, what to rewrite


class _Flow:
    """A flow's place in the memo, whether its dissector state is its own, and its address tokens."""

    __slots__ = ("canon", "genuine", "ids", "node")

    def __init__(self) -> None:
        self.node = 0  # memo trie node reached; -1: off the memo (it was full)
        self.genuine = False  # the dissector states hold this flow's own packets
        self.ids: tuple[Any, ...] = ()  # address ids in order of appearance: the n-th has token n
        self.canon: dict[tuple[Any, ...], int] | None = None  # ends -> the id of their view (Dissection.views);
        # made at the flow's second packet (a flow of one datagram does not keep its ends)


_AS_IS = _Flow()  # the flows dissected with their own addresses, not by the memo (see Dissection._memo_pays)
_AS_IS.genuine = True


class _Entry:
    __slots__ = ("hits", "next", "templates")

    def __init__(self, nxt: int, templates: list[Template]) -> None:
        self.next = nxt
        self.templates = templates
        self.hits = 0  # flows that took their findings from it


class Aggregate:
    """One signature's first observation in a flow, its event, and the packets that said it since."""

    __slots__ = ("count", "event", "last_packet", "last_time", "obs")

    def __init__(self, obs: Observation, event: Event | None, packet: int, time: float) -> None:
        self.obs, self.event = obs, event
        self.count, self.last_packet, self.last_time = 0, packet, time


class Dissection:
    """Dissects packets into ``builder`` and ``log``; see the module docstring.

    ``protocol_of_flow`` is the flow table's app_protocol list (set from the first finding
    of a flow); ``per_protocol`` counts observations per protocol."""

    def __init__(
        self,
        builder: InventoryBuilder,
        log: EventLog,
        protocol_of_flow: list[str | None],
        per_protocol: dict[str, int],
        memo: bool = True,
        keep: list[Observation] | None = None,
    ) -> None:
        self.builder, self.log = builder, log
        self.protocol_of_flow = protocol_of_flow
        self.per_protocol = per_protocol
        self.use_memo = memo  # False: the reference (every packet dissected with its own addresses, every
        # observation added on its own)
        self.kept = keep  # every observation, when given (reference mode only)
        self.states: dict[tuple[int, str], dict[str, Any]] = {}
        self.flows: dict[int, _Flow] = {}
        self.memo: dict[tuple[Any, ...], _Entry] = {}
        self.nodes = 1
        self.signatures: dict[Any, int] = {}
        self.aggregates: dict[tuple[tuple[Any, ...], int], Aggregate] = {}  # (flow's ids, signature) -> findings
        self.memo_bytes = 0
        self.memo_open = True  # False: the memo was full of entries that flows follow; nothing more is recorded
        self.next_signature = 0
        self.views: list[tuple[Any, ...]] = []  # what a dissector sees of a packet but its payload, by id
        self.view_ids: dict[tuple[Any, ...], int] = {}
        self.path: dict[int, tuple[Any, ...]] = {}  # memo node -> its key (the first item: its parent node)
        self.dissected = 0  # packets run through the dissectors
        self.max_flows = MAX_FLOWS  # flows remembered before those that need not be are forgotten
        # packets of flows off their own state that looked for their path in the memo (uses), and found it (hits)
        self.memo_payoff = Payoff(MEMO_WINDOW, MEMO_PAYS, PROBE_EVERY)
        self.new_flows = 0
        self.from_memo = 0  # packets whose findings came from the memo
        self.replayed = 0  # packets run again to build a flow's state when it left the memo

    # -- one packet -------------------------------------------------------------------------
    def packet(
        self,
        file: str,
        row: int,
        number: int,
        time: float,
        transport: str,
        ethertype: int,
        payload: bytes,
        ends: tuple[Any, Any, Any, Any, int, int],
        group: Any = None,
    ) -> None:
        """One packet; ``ends``: (source, destination, source MAC, destination MAC) address ids (see
        :func:`address_text`; None when absent), source port, destination port. ``group``: the repeat
        group it is the first of."""
        if row < 0 or not self.use_memo:
            self._as_is(file, row, number, time, transport, ethertype, payload, ends, group)
            return
        flow = self.flows.get(row)
        if flow is None:
            if len(self.flows) >= self.max_flows:
                self._forget_flows()
            flow = self.flows[row] = _Flow() if self._memo_pays() else _AS_IS
        if flow is _AS_IS:
            self._as_is(file, row, number, time, transport, ethertype, payload, ends, group)
            return
        canon = flow.canon
        if canon is None:
            view = self._canonical(flow, ends, transport, ethertype)
            flow.canon = {}
        else:
            view = canon.get(ends, -1)
            if view < 0:
                view = canon[ends] = self._canonical(flow, ends, transport, ethertype)
        key = (flow.node, view, payload)
        entry = self.memo.get(key) if flow.node >= 0 else None
        if not flow.genuine:
            self.memo_payoff.uses += 1
        if entry is not None and not flow.genuine:  # the findings come from the memo
            flow.node = entry.next
            entry.hits += 1
            self.memo_payoff.hits += 1
            self.from_memo += 1
            self._emit(file, row, flow, entry.templates, number, time, group)
            return
        if not flow.genuine:
            self._replay(row, flow)
        transport, ethertype, stok, dtok, smtok, dmtok, sport, dport = self.views[view]
        pkt = Packet(number, time, stok, dtok, sport, dport, transport, payload, smtok, dmtok, ethertype)
        found = self._run(row, pkt)
        templates: list[Template] = [(self._signature(o), o, _plan(o)) for o in found]
        if entry is not None:
            flow.node = entry.next
        elif flow.node >= 0 and self._room(len(payload)):
            self.memo_bytes += len(payload)
            self.memo[key] = _Entry(self.nodes, templates)
            self.path[self.nodes] = key
            flow.node = self.nodes
            self.nodes += 1
        else:
            flow.node = -1
        self._emit(file, row, flow, templates, number, time, group)

    def _memo_pays(self) -> bool:
        """Whether a new flow should go by the memo: unless recent flows hardly ever followed it (every
        device saying something of its own), when the tokens and templates cost more than they save and
        the flow is dissected with its own addresses instead (as exact). One new flow in
        ``PROBE_EVERY`` still tries the memo, so that it is taken again when flows repeat each other."""
        self.new_flows += 1
        return self.memo_payoff.pays(self.new_flows)

    def _forget_flows(self) -> None:
        """Forget the flows that dissected their own packets and whose dissectors hold nothing of them:
        such a flow is where a new flow starts (the memo's root, empty states), so its next packet,
        if any, starts it again (a network of many devices, each a flow or two). When that frees less
        than half, the bound doubles instead (flows that follow the memo, or hold state, stay)."""
        stateful = {row for row, _ in self.states}
        idle = [row for row, flow in self.flows.items() if flow.genuine and row not in stateful]
        for row in idle:
            del self.flows[row]
        if 2 * len(idle) < self.max_flows:
            self.max_flows *= 2

    def _room(self, size: int) -> bool:
        """Whether a memo entry of ``size`` payload bytes may be recorded; when the memo is full, the
        entries no flow followed are forgotten first (a network of many devices that each say
        something of their own: identities, names), unless that would free less than half of it."""
        if len(self.memo) < MAX_MEMO and self.memo_bytes + size <= MAX_MEMO_BYTES:
            return True
        if not self.memo_open:
            return False
        unfollowed = [key for key, entry in self.memo.items() if not entry.hits]
        if 2 * len(unfollowed) < len(self.memo):
            self.memo_open = False
            return False
        for key in unfollowed:  # no flow's path goes through them: replays never need them
            entry = self.memo.pop(key)
            del self.path[entry.next]
            self.memo_bytes -= len(key[2])
        return len(self.memo) < MAX_MEMO and self.memo_bytes + size <= MAX_MEMO_BYTES

    def _as_is(
        self,
        file: str,
        row: int,
        number: int,
        time: float,
        transport: str,
        ethertype: int,
        payload: bytes,
        ends: tuple[Any, Any, Any, Any, int, int],
        group: Any,
    ) -> None:
        """A packet dissected with its own addresses (the reference, packets in no flow, and flows that do not
        follow the memo: see _memo_pays)."""
        sid, did, smid, dmid, sport, dport = ends
        src, dst = address_text(sid) if sid is not None else "", address_text(did) if did is not None else ""
        smac = address_text(smid) if smid is not None else None
        dmac = address_text(dmid) if dmid is not None else None
        found = self._run(row, Packet(number, time, src, dst, sport, dport, transport, payload, smac, dmac, ethertype))
        for obs in found:  # each added on its own, as the reference does: no signature, no aggregate (these
            obs.details.setdefault("file", file)  # flows say something of their own; a repeat is an event's count)
            ev = self._add(file, row, obs)
            if self.kept is not None:
                self.kept.append(obs)
            if group is not None:
                group.templates.append(obs)
                if ev is not None:
                    group.events.append(ev)

    def _canonical(self, flow: _Flow, ends: tuple[Any, ...], transport: str, ethertype: int) -> int:
        """The id of what the dissector sees of the packet but its payload: transport, EtherType, the tokens
        of its addresses, its ports with those no dissector listens on as EPHEMERAL. Ids are shared by all
        flows (one flow follows another's memo path only when their views are the same)."""
        sid, did, smid, dmid, sport, dport = ends
        registered = _REGISTERED.get(transport)
        if registered is not None:
            sport = sport if sport in registered else EPHEMERAL
            dport = dport if dport in registered else EPHEMERAL
        seen = (
            transport,
            ethertype,
            self._token(flow, sid) if sid is not None else "",
            self._token(flow, did) if did is not None else "",
            self._token(flow, smid) if smid is not None else None,
            self._token(flow, dmid) if dmid is not None else None,
            sport,
            dport,
        )
        view = self.view_ids.get(seen)
        if view is None:
            view = self.view_ids[seen] = len(self.views)
            self.views.append(seen)
        return view

    def _token(self, flow: _Flow, aid: Any) -> str:
        ids = flow.ids
        if aid in ids:
            return _token(ids.index(aid))
        flow.ids = (*ids, aid)  # a new tuple: aggregates may be keyed by the old one
        return _token(len(ids))

    def _run(self, row: int, pkt: Packet) -> list[Observation]:
        """The packet through its dissectors, with the flow's states (a state left empty is not kept: many
        dissectors keep nothing)."""
        out: list[Observation] = []
        states = self.states
        for dissector in for_packet(pkt.transport, pkt.sport, pkt.dport, pkt.ethertype):
            key = (row, dissector.name)
            state = states.get(key)
            if state is None:
                state = {}
                out.extend(dissector.dissect(pkt, state))
                if state:
                    states[key] = state
                continue
            out.extend(dissector.dissect(pkt, state))
            if not state:
                del states[key]
        self.dissected += 1
        return out

    def _replay(self, row: int, flow: _Flow) -> None:
        """The flow leaves the memo: the packets of its path so far through the dissectors (findings
        dropped), to build its own state. Packet numbers and times do not matter to a state."""
        keys = []
        node = flow.node
        while node > 0:
            key = self.path[node]
            keys.append(key)
            node = key[0]
        for _, view, payload in reversed(keys):
            transport, ethertype, stok, dtok, smtok, dmtok, sport, dport = self.views[view]
            self._run(row, Packet(0, 0.0, stok, dtok, sport, dport, transport, payload, smtok, dmtok, ethertype))
        self.dissected -= len(keys)
        self.replayed += len(keys)
        flow.genuine = True

    # -- findings ----------------------------------------------------------------------------
    def _signature(self, obs: Observation) -> int:
        """What the inventory and the event log take from an observation, as a small int."""
        key: Any = (
            obs.protocol,
            obs.message,
            obs.operation,
            obs.function,
            obs.client,
            obs.server,
            obs.identity_of,
            tuple(obs.identity.items()),
            tuple(map(obs.details.get, KEY_DETAILS)),
        )
        try:
            found = self.signatures.get(key)
        except TypeError:  # an identity value or key detail that is a list or a dict
            key = repr(key)
            found = self.signatures.get(key)
        if found is None:
            if len(self.signatures) >= MAX_SIGNATURES:  # forgotten: a key seen again gets a new id, so its
                self.signatures.clear()  # findings are added once more instead of counted (the same result)
            found = self.signatures[key] = self.next_signature
            self.next_signature += 1
        return found

    def _emit(
        self,
        file: str,
        row: int,
        flow: _Flow | None,
        templates: list[Template],
        number: int,
        time: float,
        group: Any,
    ) -> None:
        """The findings of one packet: the first of each signature about the same addresses is added, the
        others counted. Flows between the same addresses share their aggregates (a poller's new TCP
        connection says what the one before said); packets in no flow are keyed by their own addresses."""
        where = () if flow is None else flow.ids
        aggregates = self.aggregates
        for signature, template, plan in templates:
            agg = aggregates.get((where, signature))
            if agg is None:
                agg = self._first(file, row, flow, where, signature, template, plan, number, time)
            else:
                agg.count += 1
                agg.last_packet, agg.last_time = number, time
                if row >= 0 and self.protocol_of_flow[row] is None and agg.obs.message != "malformed":
                    self.protocol_of_flow[row] = agg.obs.protocol
            if group is not None:
                group.templates.append(agg.obs)
                if agg.event is not None:
                    group.events.append(agg.event)

    def _first(
        self,
        file: str,
        row: int,
        flow: _Flow | None,
        where: tuple[Any, ...],
        signature: int,
        template: Observation,
        plan: Plan | None,
        number: int,
        time: float,
    ) -> Aggregate:
        """The first finding of its signature about these addresses: added to the inventory and the events."""
        if len(self.aggregates) >= MAX_AGGREGATES:
            self.account()
        if flow is None or plan is None:  # a packet dissected with its own addresses
            obs = template
        else:  # the texts are made here, once per signature and addresses, not kept per flow (memory per flow)
            texts = {_token(n): address_text(aid) for n, aid in enumerate(flow.ids)}
            obs = _real(template, plan, texts, number, time, file)
        agg = self.aggregates[(where, signature)] = Aggregate(obs, self._add(file, row, obs), number, time)
        return agg

    def _add(self, file: str, row: int, obs: Observation) -> Event | None:
        """One observation into the inventory, the event log and the counts; its event."""
        self.builder.add_observation(obs)
        ev = self.log.add(file, obs)
        self.per_protocol[obs.protocol] += 1
        if row >= 0 and self.protocol_of_flow[row] is None and obs.message != "malformed":
            self.protocol_of_flow[row] = obs.protocol
        return ev

    def close(self) -> None:
        """Forget the per-flow states and the memo (the counters stay): after the last file, before the
        inventory is built, so that the two are not held at once (a scan of many hosts)."""
        self.account()
        self.states.clear()
        self.flows.clear()
        self.memo.clear()
        self.path.clear()
        self.views.clear()
        self.view_ids.clear()
        self.signatures.clear()

    def account(self) -> None:
        """Add the counted findings to the inventory and the events, and forget them (at the end of a
        file, since events are per file, and when too many are held)."""
        for agg in self.aggregates.values():
            if agg.count:
                self.builder.add_observation(agg.obs, agg.count, repeat=True)
                self.per_protocol[agg.obs.protocol] += agg.count
                if agg.event is not None:
                    repeat(agg.event, agg.count, agg.last_packet, agg.last_time)
        self.aggregates.clear()  # in place: callers hold it


def _marked(value: Any) -> bool:
    if isinstance(value, str):
        return _MARK in value
    if isinstance(value, dict):
        return any(_marked(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_marked(v) for v in value)
    return False


def _plan(obs: Observation) -> tuple[tuple[str, ...], bool]:
    """(detail keys holding a token, whether identity values do): what instantiating must rewrite."""
    return tuple(k for k, v in obs.details.items() if _marked(v)), any(_marked(v) for v in obs.identity.values())


def _sub(value: Any, texts: dict[str, str]) -> Any:
    if isinstance(value, str):
        if _MARK in value:
            exact = texts.get(value)
            if exact is not None:
                return exact
            for token, text in texts.items():
                value = value.replace(token, text)
        return value
    if isinstance(value, dict):
        return {k: _sub(v, texts) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_sub(v, texts) for v in value)
    return value


def _real(template: Observation, plan: Plan, texts: dict[str, str], number: int, time: float, file: str) -> Observation:
    """The observation with the flow's addresses, packet number, time and file."""
    marked_details, marked_identity = plan
    details = dict(template.details)
    for key in marked_details:
        details[key] = _sub(details[key], texts)
    details.setdefault("file", file)
    identity = _sub(template.identity, texts) if marked_identity else dict(template.identity)
    return Observation(
        template.protocol,
        number,
        time,
        _sub(template.client, texts),
        _sub(template.server, texts),
        template.message,
        template.operation,
        template.function,
        identity,
        _sub(template.identity_of, texts),
        details,
    )
