"""The intended policy: the workspace's conduit flows as normalized, address-level allow rules.

Both halves of segmentation engineering start here: ``rules generate`` renders these
rules for a firewall platform, and ``rules check`` compares an existing configuration
with them. One :class:`PolicyRule` per conduit flow and transport:

* **Direction.** A rule lets the *initiator* (the flow's ``from``) open a session to the
  *responder* (``to``); ports are the responder's (destination) ports. Replies belong to
  the session: a stateful platform passes them by connection tracking, a stateless ACL
  needs explicit reply terms (the generators add them; they are not policy rules).
* **Endpoints** resolve to address sets: an asset to its IPs (/32, /128), a zone to its
  subnets plus its member assets' IPs outside them, a subnet or address to itself, and
  ``any`` to the empty tuple (meaning any address; ``any`` anywhere in a side makes the
  side any). Networks are collapsed and sorted, IPv4 first.
* **Ports** are the flow's own, else the protocol's well-known ports from
  :mod:`zonewarden.model.protocols`. A ``tcp+udp`` protocol gives one rule per transport;
  where the well-known ports differ by transport they are listed exactly in
  :data:`TRANSPORT_PORTS` (EtherNet/IP implicit I/O is UDP 2222 only). ``icmp`` and ``any``
  have no ports; ``tcp``/``udp`` without ports means every port (validation warns).
* **Devices.** A rule belongs to each of its conduit's ``devices`` (firewalls in series all
  get it). Flows of conduits that name no device go to one ruleset named
  :data:`BOUNDARY`. :meth:`Policy.devices` groups the rules per enforcing device, each
  with only the flows of the conduits it enforces, in plant.yaml order; a data diode is
  listed as not renderable (its hardware enforces the direction, not a ruleset).
* **Own traffic.** A flow to or from the enforcing device itself (the vendor VPN's IKE to the VPN
  gateway) is not forwarded through it: :attr:`Device.transit_rules` are what a forwarding
  ruleset holds, :attr:`Device.own_rules` belong to the device's own services.
* The flow keeps its industrial ``operations`` restriction (for IPS and DPI rules),
  ``life_safety`` (island mode, SR 5.2 RE 2) and ``log``.

**Failing closed.** A flow that cannot be resolved exactly (an unknown asset, zone or
protocol, an asset without an address, a layer-2 protocol) is not a rule but a problem
naming its conduit and flow. A problem never widens a rule to ``any``.

Pure: no I/O; takes a plant (or a loaded workspace).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

from zonewarden.model.plant import Asset, Conduit, Enforcement, Flow, Operations, Plant, Role
from zonewarden.model.protocols import lookup_protocol
from zonewarden.model.resolve import Resolver

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

BOUNDARY = "boundary"
"""Ruleset (device) name for the flows of conduits that name no enforcing device."""

# Well-known ports that differ by transport; every other tcp+udp protocol uses its ports on both.
TRANSPORT_PORTS: dict[str, dict[str, tuple[int, ...]]] = {
    "enip": {"tcp": (44818,), "udp": (2222, 44818)},  # explicit messaging; implicit I/O and ListIdentity
    "c37.118": {"tcp": (4712,), "udp": (4713,)},  # commands; data
}


@dataclass(frozen=True)
class PolicyRule:
    """One allowed communication: initiators -> responders on a transport and ports."""

    conduit: str
    flow: str  # the flow's id, or f"{conduit}-{index}" (1-based) when it has none
    description: str | None
    src_zones: tuple[str, ...]  # () for 'any'
    dst_zones: tuple[str, ...]
    sources: tuple[Network, ...]  # collapsed; () means any address
    destinations: tuple[Network, ...]
    protocol: str  # canonical name in zonewarden.model.protocols (an alias such as 's7comm' becomes 's7')
    transport: str  # tcp, udp, icmp or any
    ports: tuple[tuple[int, int], ...]  # destination port ranges, inclusive, merged and sorted; () = any port
    operations: Operations | None = None
    life_safety: bool = False
    log: bool = True
    devices: tuple[str, ...] = ()  # the conduit's enforcing devices as declared; () = none (BOUNDARY)
    path: tuple[str | int, ...] = ()  # ("conduits", ci, "flows", fi) in plant.yaml: Workspace.locations finds it
    # Each side as named objects, the endpoint references as written with their networks
    # (('plc-trt', (10.30.12.10/32,)), ...): the address sets / object groups renderers name. () for 'any'.
    source_objects: tuple[tuple[str, tuple[Network, ...]], ...] = ()
    destination_objects: tuple[tuple[str, tuple[Network, ...]], ...] = ()

    @property
    def name(self) -> str:
        """``conduit/flow``: how comments, findings and messages name the rule."""
        return f"{self.conduit}/{self.flow}"

    @property
    def rulesets(self) -> tuple[str, ...]:
        """The rulesets that carry this rule: its devices, or BOUNDARY."""
        return self.devices or (BOUNDARY,)

    def touches(self, device: Device) -> bool:
        """Whether a side of the rule is ``device`` itself (by id, or exactly its own addresses): traffic
        to or from a firewall is not forwarded through it (local-in / host-inbound / INPUT, not FORWARD)."""
        own = {_host(a) for a in device.asset.ip} if device.asset is not None else set()
        for ref, nets in self.source_objects + self.destination_objects:
            if ref in (device.id, f"asset:{device.id}") or (nets and set(nets) <= own):
                return True
        return False

    def permits(self, src: Address, dst: Address, transport: str, port: int | None = None) -> bool:
        """Whether a session ``src`` -> ``dst`` on ``transport`` (``port``: destination port) may start."""
        if self.transport != "any" and transport != self.transport:
            return False
        if self.ports and (port is None or not any(lo <= port <= hi for lo, hi in self.ports)):
            return False
        return _inside(src, self.sources) and _inside(dst, self.destinations)


@dataclass(frozen=True)
class Device:
    """An enforcing device (or the BOUNDARY ruleset) and the rules of the conduits it enforces."""

    id: str
    asset: Asset | None  # None for BOUNDARY, or a device id that names no asset
    conduits: tuple[str, ...]
    zones: tuple[str, ...]  # the zones of its conduits, sorted: the sides it stands between
    rules: tuple[PolicyRule, ...]
    renderable: bool = True
    reason: str | None = None  # why there is no ruleset to render (a data diode)

    @property
    def label(self) -> str:
        return self.asset.label if self.asset is not None else self.id

    @property
    def transit_rules(self) -> tuple[PolicyRule, ...]:
        """The rules whose traffic crosses the device (a forwarding ruleset holds these)."""
        return tuple(r for r in self.rules if not r.touches(self))

    @property
    def own_rules(self) -> tuple[PolicyRule, ...]:
        """The rules to or from the device itself (its own services: local-in, host-inbound, INPUT)."""
        return tuple(r for r in self.rules if r.touches(self))


@dataclass(frozen=True)
class Policy:
    rules: tuple[PolicyRule, ...]
    problems: tuple[str, ...]  # flows that could not become rules, each naming conduit and flow
    zone_networks: dict[str, tuple[Network, ...]] = field(default_factory=dict)
    device_assets: dict[str, Asset] = field(default_factory=dict)  # device id -> its asset, where one exists
    diode_conduits: frozenset[str] = frozenset()  # conduits enforced by data diodes only

    def devices(self) -> dict[str, Device]:
        """Enforcing device id (or BOUNDARY) -> the device and its rules, sorted by id."""
        conduits: dict[str, list[str]] = {}
        zones: dict[str, set[str]] = {}
        for rule in self.rules:
            for device in rule.rulesets:
                conduits.setdefault(device, [])
                if rule.conduit not in conduits[device]:
                    conduits[device].append(rule.conduit)
                zones.setdefault(device, set()).update(rule.src_zones, rule.dst_zones)
        out: dict[str, Device] = {}
        for device_id in sorted(conduits):
            asset = self.device_assets.get(device_id)
            diode = (asset is not None and asset.role == Role.data_diode) or all(
                c in self.diode_conduits for c in conduits[device_id]
            )
            out[device_id] = Device(
                id=device_id,
                asset=asset,
                conduits=tuple(conduits[device_id]),
                zones=tuple(sorted(zones[device_id])),
                rules=tuple(r for r in self.rules if device_id in r.rulesets),
                renderable=not diode,
                reason="a data diode: its hardware enforces the one-way transfer, not a ruleset" if diode else None,
            )
        return out

    def permitting(
        self, src: Address, dst: Address, transport: str, port: int | None = None, device: str | None = None
    ) -> list[PolicyRule]:
        """The rules (of ``device``, or all) that let this session start; empty means the conduits deny it."""
        return [
            r for r in self.rules if (device is None or device in r.rulesets) and r.permits(src, dst, transport, port)
        ]


def build_policy(source: Any) -> Policy:
    """The intended policy of a :class:`Plant` or of a loaded workspace (anything with ``.plant``)."""
    plant: Plant = source if isinstance(source, Plant) else source.plant
    resolver = Resolver(plant)
    zone_networks = _zone_networks(plant, resolver)
    rules: list[PolicyRule] = []
    problems: list[str] = []
    for ci, conduit in enumerate(plant.conduits):
        for index, flow in enumerate(conduit.flows, start=1):
            name = flow.id or f"{conduit.id}-{index}"
            try:
                rules.extend(_rules(conduit, flow, name, resolver, zone_networks, ("conduits", ci, "flows", index - 1)))
            except _Unusable as exc:
                problems.append(f"conduit '{conduit.id}' flow '{name}': {exc}")
    device_ids = {d for c in plant.conduits for d in c.devices}
    device_assets = {d: resolver.assets[d][1] for d in sorted(device_ids) if d in resolver.assets}
    diodes = frozenset(c.id for c in plant.conduits if set(c.enforcement) == {Enforcement.data_diode})
    return Policy(tuple(rules), tuple(problems), zone_networks, device_assets, diodes)


class _Unusable(Exception):
    pass


def _inside(address: Address, networks: tuple[Network, ...]) -> bool:
    return not networks or any(address.version == n.version and address in n for n in networks)


def _zone_networks(plant: Plant, resolver: Resolver) -> dict[str, tuple[Network, ...]]:
    """Zone id -> its subnets plus its member assets' addresses outside them (ints, not strings:
    a 100,000-asset plant resolves in well under a second)."""
    subnets: dict[str, list[Network]] = {}
    for zone in plant.zones:
        subnets.setdefault(zone.id, []).extend(zone.subnets)
    bounds = {
        zid: [(n.version, int(n.network_address), int(n.broadcast_address)) for n in nets]
        for zid, nets in subnets.items()
    }
    extra: dict[str, list[Network]] = {}
    zone_of, how = resolver.zone_of, resolver.how
    for asset in plant.assets:
        if not asset.ip or how.get(asset.id) == "subnet":  # placed by its address: inside a subnet
            continue
        zone_id = zone_of.get(asset.id)
        if zone_id not in bounds:
            continue
        for address in asset.ip:
            value, version = int(address), address.version
            for v, lo, hi in bounds[zone_id]:
                if v == version and lo <= value <= hi:
                    break
            else:
                extra.setdefault(zone_id, []).append(_host(address))
    return {z: _collapse(nets + extra.get(z, [])) for z, nets in subnets.items()}


def _host(address: Address) -> Network:
    if address.version == 4:
        return ipaddress.IPv4Network((int(address), 32))
    return ipaddress.IPv6Network((int(address), 128))


def _collapse(nets: list[Network]) -> tuple[Network, ...]:
    v4 = [n for n in nets if n.version == 4]
    v6 = [n for n in nets if n.version == 6]
    return tuple(ipaddress.collapse_addresses(v4)) + tuple(ipaddress.collapse_addresses(v6))  # type: ignore[arg-type]


Objects = tuple[tuple[str, tuple[Network, ...]], ...]


def _endpoints(
    refs: list[str], resolver: Resolver, zone_networks: dict[str, tuple[Network, ...]]
) -> tuple[tuple[str, ...], tuple[Network, ...], Objects]:
    """(zones, networks, named objects) of a flow side; ((), (), ()) when the side includes 'any'."""
    zones: set[str] = set()
    objects: dict[str, tuple[Network, ...]] = {}
    for ref in refs:
        ep = resolver.endpoint(ref)
        if ep.kind == "any":
            return (), (), ()
        if ep.error:
            raise _Unusable(ep.error)
        zones |= ep.zones or set()
        if ep.kind == "zone":
            zid = ref.split(":", 1)[1] if ref.lower().startswith("zone:") else ref
            found = zone_networks.get(zid, ())
            if not found:
                raise _Unusable(f"zone '{zid}' has no subnets and no asset addresses")
            objects[ref] = found
        elif ep.kind == "asset":
            aid = ref.split(":", 1)[1] if ref.lower().startswith("asset:") else ref
            asset = resolver.assets[aid][1]
            if not asset.ip:
                raise _Unusable(f"asset '{aid}' has no IP address")
            objects[ref] = _collapse([_host(a) for a in asset.ip])
        else:
            objects[ref] = (ipaddress.ip_network(ref, strict=False),)
    if not refs:
        raise _Unusable("a side of the flow has no endpoint")
    nets = _collapse([n for found in objects.values() for n in found])
    return tuple(sorted(zones)), nets, tuple(objects.items())


def _merge(ranges: list[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    out: list[tuple[int, int]] = []
    for low, high in sorted(ranges):
        if out and low <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], high))
        else:
            out.append((low, high))
    return tuple(out)


def _services(flow: Flow) -> tuple[str, list[tuple[str, tuple[tuple[int, int], ...]]]]:
    """(canonical protocol, [(transport, port ranges)]) of a flow."""
    proto = lookup_protocol(flow.protocol)
    if proto is None:
        raise _Unusable(f"protocol '{flow.protocol}' is not known; use tcp or udp with ports")
    if proto.transport == "ethernet":
        raise _Unusable(f"protocol '{flow.protocol}' is not carried over IP; a firewall rule cannot express it")
    if proto.transport in ("ip", "any"):
        return proto.name, [("any", ())]
    if proto.transport == "icmp":
        return proto.name, [("icmp", ())]
    transports = ("tcp", "udp") if proto.transport == "tcp+udp" else (proto.transport,)
    given: list[tuple[int, int]] = []
    for spec in flow.ports:
        low, _, high = spec.partition("-")
        lo, hi = int(low), int(high or low)
        if not 1 <= lo <= hi <= 65535:
            raise _Unusable(f"port '{spec}' is not a port or range within 1-65535")
        given.append((lo, hi))
    out = []
    for t in transports:
        if given:
            ports = _merge(given)
        else:
            well_known = TRANSPORT_PORTS.get(proto.name, {}).get(t, proto.ports)
            ports = _merge([(p, p) for p in well_known])
        out.append((t, ports))
    return proto.name, out


def _rules(
    conduit: Conduit,
    flow: Flow,
    name: str,
    resolver: Resolver,
    zone_networks: dict[str, tuple[Network, ...]],
    path: tuple[str | int, ...],
) -> list[PolicyRule]:
    protocol, services = _services(flow)
    src_zones, sources, source_objects = _endpoints(flow.from_, resolver, zone_networks)
    dst_zones, destinations, destination_objects = _endpoints(flow.to, resolver, zone_networks)
    if sources and destinations and {n.version for n in sources}.isdisjoint({n.version for n in destinations}):
        raise _Unusable("initiators and responders have no IP version in common")
    return [
        PolicyRule(
            conduit=conduit.id,
            flow=name,
            description=flow.description or conduit.description,
            src_zones=src_zones,
            dst_zones=dst_zones,
            sources=sources,
            destinations=destinations,
            protocol=protocol,
            transport=transport,
            ports=ports,
            operations=flow.operations,
            life_safety=flow.life_safety,
            log=flow.log,
            devices=tuple(dict.fromkeys(conduit.devices)),
            path=path,
            source_objects=source_objects,
            destination_objects=destination_objects,
        )
        for transport, ports in services
    ]
