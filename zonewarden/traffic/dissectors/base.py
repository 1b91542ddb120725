"""The contract every protocol dissector implements.

A dissector is a small class with a ``name`` (the protocol name of
:mod:`zonewarden.model.protocols`), where it listens (TCP/UDP ports or an
EtherType), and a ``dissect`` method that turns one packet's payload into zero or
more :class:`Observation` objects. It must never raise on bad input: malformed or
truncated payloads produce a ``malformed`` observation or nothing.

Dissectors see one packet at a time (one TCP segment, one UDP datagram or one
Ethernet frame). They may keep per-conversation state in the ``state`` dict they are
given (one dict per flow and dissector), e.g. to match a response to its request.

Two rules make it safe to reuse one flow's findings for another flow that says the
same (see :mod:`zonewarden.traffic.dissection`): a dissector is deterministic in
(state, packet), and it treats ``src``, ``dst``, the MACs and any port that is not its
own as opaque labels: it may copy and compare them, never parse them or derive facts
from their value (they may be tokens). ``number`` and ``time`` only label observations.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, NamedTuple


class Packet(NamedTuple):
    """One packet handed to a dissector (immutable; a named tuple, which is made four times faster than a
    frozen dataclass: one is made for every packet dissected)."""

    number: int  # 1-based packet number in its capture file
    time: float  # seconds since the epoch
    src: str  # source IP address as text (for Ethernet-only protocols: the source MAC)
    dst: str
    sport: int  # 0 for Ethernet-only protocols
    dport: int
    transport: str  # "tcp", "udp" or "eth"
    payload: bytes  # the L4 payload (for "eth": the bytes after the EtherType / VLAN tags)
    src_mac: str | None = None  # aa:bb:cc:dd:ee:ff
    dst_mac: str | None = None
    ethertype: int | None = None


@dataclass(slots=True)
class Observation:
    """What one packet says, in protocol-neutral terms.

    ``operation`` uses the shared vocabulary of ``model.protocols.OPERATIONS`` (read,
    write, operate, program-download, program-upload, stop, start, restart,
    firmware-update, diagnostics, file-transfer, time-sync, subscribe, browse, call);
    ``function`` is the protocol's own name for it, e.g. "Read Holding Registers (3)".
    ``identity`` holds device facts found in the packet (keys: vendor, vendor_id, model,
    product_code, firmware, hardware, serial, name, device_type, role, order_number,
    application_uri, product_uri, ...) about the host ``identity_of`` (an address).
    """

    protocol: str
    packet: int
    time: float
    client: str  # the requesting side
    server: str  # the responding side
    message: str = "request"  # request, response, event, announce, malformed
    operation: str | None = None
    function: str | None = None
    identity: dict[str, str] = field(default_factory=dict)
    identity_of: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


class Dissector:
    """Base class: subclasses set the class constants and implement :meth:`dissect`."""

    name: ClassVar[str]
    tcp_ports: ClassVar[tuple[int, ...]] = ()
    udp_ports: ClassVar[tuple[int, ...]] = ()
    ethertypes: ClassVar[tuple[int, ...]] = ()
    # every payload :meth:`matches` takes has one of these (offset, bytes) in it: a cheap test of many payloads at
    # once, before matches is asked of those that pass (empty: ask of every one)
    leads: ClassVar[tuple[tuple[int, bytes], ...]] = ()

    def dissect(self, packet: Packet, state: dict[str, Any]) -> list[Observation]:  # pragma: no cover
        raise NotImplementedError

    @staticmethod
    def matches(payload: bytes) -> bool:
        """Whether a TCP payload on a port no dissector listens on is this protocol, by its content (see
        :mod:`zonewarden.traffic.recognize`): strict, cheap, never raises. The default recognises nothing;
        a dissector that overrides it is recognised on any port (its first TCP port stands in)."""
        return False

    @staticmethod
    def from_server(payload: bytes) -> bool | None:
        """For a payload :meth:`matches` took: whether the server sent it (a response), when its content says
        so; None when it does not. Orients a recognised connection whose handshake the capture missed."""
        return None

    @staticmethod
    def sides(packet: Packet, server_ports: tuple[int, ...]) -> tuple[str, str, bool]:
        """(client, server, is_request): the server is the side on the protocol's well-known port."""
        if packet.dport in server_ports:
            return packet.src, packet.dst, True
        if packet.sport in server_ports:
            return packet.dst, packet.src, False
        return packet.src, packet.dst, True
