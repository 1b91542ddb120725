"""The asset inventory from what the traffic showed: hosts with addresses, vendors,
identities found by the dissectors, the protocols they serve and use, and inferred roles
with the evidence for each.

Pure: takes observations (from dissectors) and flow records (from the flow table) and
returns plain data; the shell decides how to show or store it.
"""

from __future__ import annotations

import socket
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from zonewarden.model.protocols import lookup_protocol, port_tables
from zonewarden.traffic.dissectors.base import Observation
from zonewarden.traffic.flows import PROBE_STATES
from zonewarden.traffic.oui import mac_vendor

CONTROLLER_PROTOCOLS = {"modbus", "s7", "s7comm-plus", "enip", "fins", "melsec", "ads", "iec61850-mms", "bacnet"}
TELECONTROL_PROTOCOLS = {"dnp3", "iec104"}
POLLED_PROTOCOLS = CONTROLLER_PROTOCOLS | TELECONTROL_PROTOCOLS  # a client of these polls devices
SERVER_ROLES = {"opcua": "opc-server", "opcda": "opc-server", "historian": "historian", "mssql": "historian"}
ENGINEERING_OPERATIONS = {"program-download", "program-upload", "stop", "start", "firmware-update"}
IDENTITY_FIELDS = (
    "vendor",
    "model",
    "product_code",
    "order_number",
    "firmware",
    "hardware",
    "serial",
    "name",
    "device_type",
    "vendor_id",
    "device_id",
    "application_uri",
    "product_uri",
)


@dataclass(slots=True)
class Host:
    """One host seen in the traffic."""

    ip: str | None
    macs: set[str] = field(default_factory=set)
    identity: dict[str, str] = field(default_factory=dict)
    # where each identity value came from: (field, value, protocol, message) -> the first packet saying it
    evidence: dict[tuple[str, str, str, str], int] = field(default_factory=dict)
    served: Counter[str] = field(default_factory=Counter)  # protocol -> packets as server
    used: Counter[str] = field(default_factory=Counter)  # protocol -> packets as client
    peers_served: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    peers_used: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    operations: Counter[str] = field(default_factory=Counter)  # operations it performed as a client
    first_seen: float | None = None
    last_seen: float | None = None
    packets: int = 0
    bytes: int = 0

    def seen(self, first: float | None, last: float | None) -> None:
        if first is not None:
            self.first_seen = first if self.first_seen is None else min(self.first_seen, first)
        if last is not None:
            self.last_seen = last if self.last_seen is None else max(self.last_seen, last)


class InventoryBuilder:
    """Accumulates flows and observations; :meth:`result` gives the inventory."""

    def __init__(self) -> None:
        self.hosts: dict[str, Host] = {}
        self.mac_of: dict[str, set[str]] = defaultdict(set)

    def host(self, key: str) -> Host:
        found = self.hosts.get(key)
        if found is None:
            is_mac = key.count(":") == 5 and "." not in key and len(key) == 17
            routed = "@" in key  # a device behind a protocol router, e.g. BACnet "net:addr@router-ip"
            found = self.hosts[key] = Host(ip=None if is_mac or routed else key)
            if is_mac:
                found.macs.add(key)
        return found

    def rename(self, old: str, new: str) -> None:
        """Host ``old`` is host ``new`` (e.g. a routed device named by its router's MAC, then by its IP):
        merge what was learnt about it, and point its peers at the new name."""
        src = self.hosts.pop(old, None)
        if src is None or old == new:
            return
        dst = self.host(new)
        dst.macs |= src.macs
        for key, value in src.identity.items():
            dst.identity.setdefault(key, value)
        for said, packet in src.evidence.items():
            dst.evidence.setdefault(said, packet)
        dst.served.update(src.served)
        dst.used.update(src.used)
        dst.operations.update(src.operations)
        for mine, theirs in ((dst.peers_served, src.peers_served), (dst.peers_used, src.peers_used)):
            for protocol, peers in theirs.items():
                mine[protocol] |= peers
        dst.seen(src.first_seen, src.last_seen)
        dst.packets += src.packets
        dst.bytes += src.bytes
        for other in self.hosts.values():
            for table in (other.peers_served, other.peers_used):
                for peers in table.values():
                    if old in peers:
                        peers.discard(old)
                        peers.add(new)

    def add_flow(self, flow: dict[str, Any]) -> None:
        """A flow record: client, server (addresses), app_protocol, packets, bytes, first_seen, last_seen,
        and optionally client_mac/server_mac and state (see :data:`zonewarden.traffic.flows.FLOW_STATES`).

        A flow that carried no application data (a probe: unanswered, rejected or a bare handshake)
        says nothing of the protocols its hosts use or serve: a scan must not make every host it
        touched a PLC. The target of an unanswered probe is not made a host (nothing showed it exists).
        """
        state = flow.get("state")
        probe = state in PROBE_STATES
        protocol = None if probe else flow.get("app_protocol") or _port_protocol(flow)
        traffic = (
            flow.get("first_seen"),
            flow.get("last_seen"),
            int(flow.get("packets", 0)),
            int(flow.get("bytes", 0)),
        )
        client = self.add_traffic(flow["client"], *traffic)
        ends = [(client, flow.get("client_mac"))]
        server = None
        if state != "unanswered":
            server = self.add_traffic(flow["server"], *traffic)
            ends.append((server, flow.get("server_mac")))
        for h, mac in ends:
            if mac:
                h.macs.add(mac)
        if protocol and server is not None:
            self.add_use(flow["client"], flow["server"], protocol, int(flow.get("packets", 0)))

    def add_use(self, client: str, server: str, protocol: str, packets: int) -> None:
        """``client`` used ``protocol`` with ``server`` in ``packets`` packets (a conversation that carried data)."""
        self.host(client).used[protocol] += packets
        if _not_a_host(server):  # a broadcast or multicast (a BACnet I-Am): no device was polled
            return
        host = self.host(server)
        host.served[protocol] += packets
        host.peers_served[protocol].add(client)
        self.host(client).peers_used[protocol].add(server)

    def add_traffic(self, key: str, first: float | None, last: float | None, packets: int, size: int) -> Host:
        """Host ``key`` was seen from ``first`` to ``last`` in ``packets`` packets of ``size`` bytes."""
        host = self.host(key)
        host.seen(first, last)
        host.packets += packets
        host.bytes += size
        return host

    def add_observation(self, obs: Observation, count: int = 1, repeat: bool = False) -> None:
        """``count``: how many packets said this; ``repeat``: only count (the identity was taken already)."""
        if obs.message == "malformed":
            return
        if obs.operation and obs.message == "request":
            self.host(obs.client).operations[obs.operation] += count
        if obs.identity and obs.identity_of and not repeat:
            host = self.host(obs.identity_of)
            ip = obs.identity.get("ip")
            if host.ip is None and ip:  # a MAC-only identity (e.g. Profinet DCP) that names its IP
                merged = self.host(ip)
                merged.macs |= host.macs
                host = merged
            said = sys.intern(obs.function or obs.message)  # a label made per packet ("I-Am (0)"), kept per host
            for key, value in obs.identity.items():
                if key not in IDENTITY_FIELDS or value in (None, ""):
                    continue
                text = str(value).strip()
                host.identity.setdefault(key, text)
                host.evidence.setdefault((key, text, obs.protocol, said), obs.packet)

    def result(self, consume: bool = False) -> list[dict[str, Any]]:
        """The inventory, a dict per host in address order. ``consume``: empty the builder host by host
        as the inventory is made (the two are not held at once)."""
        out = []
        for key in sorted(self.hosts, key=_sort_key):
            host = self.hosts.pop(key) if consume else self.hosts[key]
            if host.ip is None and not host.identity and not host.served:
                continue  # a MAC seen only as an Ethernet peer
            if host.ip is not None and _not_a_host(host.ip) and not host.identity:
                continue  # broadcast and multicast destinations
            if "@" in key and _not_a_host(key.rsplit("@", 1)[1]):
                continue  # a routed device seen only through a broadcast
            if host.ip is None and _group_mac(key) and not host.identity:
                continue  # an Ethernet broadcast or multicast destination (LLDP, GOOSE, BACnet/Ethernet Who-Is)
            macs = sorted(host.macs)
            roles = infer_roles(host)
            oui = next((v for v in (mac_vendor(m) for m in macs) if v), None)
            out.append(
                {
                    "ip": host.ip,
                    "mac": macs[0] if macs else None,
                    "macs": macs,
                    "mac_vendor": oui,
                    "vendor": host.identity.get("vendor") or oui,
                    "model": host.identity.get("model")
                    or host.identity.get("order_number")
                    or host.identity.get("product_code"),
                    "firmware": host.identity.get("firmware"),
                    "serial": host.identity.get("serial"),
                    "name": host.identity.get("name"),
                    "identity": dict(sorted(host.identity.items())),
                    "roles": [r["role"] for r in roles],
                    "role_evidence": roles,
                    "protocols": sorted(set(host.served) | set(host.used)),
                    "serves": sorted(host.served),
                    "uses": sorted(host.used),
                    "operations": dict(sorted(host.operations.items())),
                    "evidence": [
                        {"field": key, "value": text, "protocol": protocol, "packet": packet, "message": message}
                        for (key, text, protocol, message), packet in islice(host.evidence.items(), 50)
                    ],
                    "first_seen": host.first_seen,
                    "last_seen": host.last_seen,
                    "packets": host.packets,
                    "bytes": host.bytes,
                    "key": key,
                }
            )
        return out


def _group_mac(key: str) -> bool:
    """A MAC address with the group (multicast) bit set, e.g. ff:ff:ff:ff:ff:ff or 01:80:c2:00:00:0e."""
    if len(key) != 17 or key.count(":") != 5:
        return False
    try:
        return bool(int(key[:2], 16) & 1)
    except ValueError:
        return False


def _v4_int(text: str) -> int | None:
    """A dotted-quad IPv4 address as an int (strict: what inet_pton accepts), else None; the fast path of
    the address checks below (a scan capture has hundreds of thousands of hosts)."""
    if text.count(".") != 3:
        return None
    try:
        return int.from_bytes(socket.inet_pton(socket.AF_INET, text), "big")
    except OSError:
        return None


def _not_a_host(ip: str) -> bool:
    import ipaddress

    v4 = _v4_int(ip)
    if v4 is not None:  # multicast (224/4), unspecified, or a .255 broadcast (255.255.255.255 included)
        return (v4 >> 28) == 0xE or v4 == 0 or (v4 & 0xFF) == 0xFF
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    if address.is_multicast or address.is_unspecified or ip == "255.255.255.255":
        return True
    return address.version == 4 and ip.endswith(".255")


def _sort_key(key: str) -> tuple:
    import ipaddress

    v4 = _v4_int(key)
    if v4 is not None:
        return (0, 4, v4)
    try:
        address = ipaddress.ip_address(key)
        return (0, address.version, int(address))
    except ValueError:
        return (1, 0, key)


def _port_protocol(flow: dict[str, Any]) -> str | None:
    """A protocol name from the server port when no dissector named one."""
    port, transport = flow.get("server_port"), flow.get("transport")
    if not port or transport not in ("tcp", "udp"):
        return None
    tcp, udp = port_tables()
    return (tcp if transport == "tcp" else udp).get(port)


def infer_roles(host: Host) -> list[dict[str, str]]:
    """Roles with the reason for each: controller, telecontrol outstation, engineering workstation,
    HMI/SCADA client, OPC/historian server, network device, IT host."""
    roles: list[dict[str, str]] = []
    controller = [p for p in host.served if p in CONTROLLER_PROTOCOLS]
    if controller:
        clients = sorted({c for p in controller for c in host.peers_served[p]})
        roles.append({"role": "plc", "evidence": f"serves {', '.join(sorted(controller))} to {len(clients)} client(s)"})
    outstation = [p for p in host.served if p in TELECONTROL_PROTOCOLS]
    if outstation:
        roles.append({"role": "rtu", "evidence": f"answers {', '.join(sorted(outstation))} as an outstation"})
    engineering = {op: n for op, n in host.operations.items() if op in ENGINEERING_OPERATIONS}
    if engineering:
        roles.append(
            {
                "role": "engineering-workstation",
                "evidence": "sent " + ", ".join(f"{op} ({n})" for op, n in sorted(engineering.items())),
            }
        )
    # protocols it polled a device with (not those it only sent to a broadcast address, as a BACnet I-Am)
    ics_client = [p for p in host.used if p in POLLED_PROTOCOLS and host.peers_used.get(p)]
    if ics_client and not engineering:
        targets = sorted({t for p in ics_client for t in host.peers_used[p]})
        writes = host.operations.get("write", 0) + host.operations.get("operate", 0)
        roles.append(
            {
                "role": "hmi" if writes or len(targets) > 1 else "scada-client",
                "evidence": f"polls {len(targets)} device(s) over {', '.join(sorted(ics_client))}"
                + (f" and writes or operates ({writes})" if writes else ""),
            }
        )
    for protocol, role in SERVER_ROLES.items():
        if protocol in host.served:
            roles.append({"role": role, "evidence": f"serves {protocol}"})
    device_type = host.identity.get("device_type", "").lower()
    if device_type.startswith(("communications adapter", "network")) or any(
        word in device_type for word in ("bridge", "router", "switch", "wlan-access-point")
    ):
        roles.append({"role": "network-device", "evidence": f"identifies as {host.identity['device_type']}"})
    if not roles:
        known = {p: lookup_protocol(p) for p in set(host.served) | set(host.used)}
        it = [p for p, proto in known.items() if proto is not None and not proto.industrial]
        if it:
            roles.append({"role": "it-host", "evidence": f"only IT protocols ({', '.join(sorted(it)[:5])})"})
    return roles
