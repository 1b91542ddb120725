"""The intended policy: the workspace's conduit flows as normalized, address-level allow rules.

Both halves of segmentation engineering start here: ``rules generate`` renders these
rules for a firewall platform, and ``rules check`` compares an existing configuration
with them. One :class:`PolicyRule` per conduit flow:

* endpoints resolve to address sets: an asset to its IPs (/32, /128), a zone to its
  subnets plus its member assets' IPs, a subnet or address to itself, ``any`` to the
  empty tuple (meaning any address);
* ports are the flow's own, else the protocol's well-known ports from
  :mod:`zonewarden.model.protocols`; a protocol with no ports and no transport-level
  meaning (``ethernet``) cannot be a firewall rule and becomes a problem instead;
* the flow keeps its industrial ``operations`` restriction, ``life_safety`` (island
  mode, SR 5.2 RE 2), ``log`` and the conduit's enforcing ``devices``.

Pure: no I/O; takes a plant (or a loaded workspace).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

from zonewarden.model.plant import Conduit, Flow, Operations, Plant
from zonewarden.model.protocols import lookup_protocol
from zonewarden.model.resolve import Resolver

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


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
    protocol: str
    transport: str  # tcp, udp, icmp or any
    ports: tuple[tuple[int, int], ...]  # destination port ranges, inclusive; () = any port
    operations: Operations | None = None
    life_safety: bool = False
    log: bool = True
    devices: tuple[str, ...] = ()


@dataclass(frozen=True)
class Policy:
    rules: tuple[PolicyRule, ...]
    problems: tuple[str, ...]  # flows that could not become rules, each naming conduit and flow
    zone_networks: dict[str, tuple[Network, ...]] = field(default_factory=dict)


def build_policy(source: Any) -> Policy:
    """The intended policy of a :class:`Plant` or of a loaded workspace (anything with ``.plant``)."""
    plant: Plant = source if isinstance(source, Plant) else source.plant
    resolver = Resolver(plant)
    zone_networks = _zone_networks(plant, resolver)
    rules: list[PolicyRule] = []
    problems: list[str] = []
    for conduit in plant.conduits:
        for index, flow in enumerate(conduit.flows, start=1):
            name = flow.id or f"{conduit.id}-{index}"
            try:
                rules.extend(_rules(conduit, flow, name, resolver, zone_networks, plant))
            except _Unusable as exc:
                problems.append(f"conduit '{conduit.id}' flow '{name}': {exc}")
    return Policy(tuple(rules), tuple(problems), zone_networks)


class _Unusable(Exception):
    pass


def _zone_networks(plant: Plant, resolver: Resolver) -> dict[str, tuple[Network, ...]]:
    nets: dict[str, list[Network]] = {z.id: [ipaddress.ip_network(n) for n in z.subnets] for z in plant.zones}
    for asset in plant.assets:
        zone = resolver.zone_of.get(asset.id)
        if zone in nets:
            nets[zone].extend(ipaddress.ip_network(a) for a in asset.ip)
    return {z: _collapse(n) for z, n in nets.items()}


def _collapse(nets: list[Network]) -> tuple[Network, ...]:
    v4 = [n for n in nets if n.version == 4]
    v6 = [n for n in nets if n.version == 6]
    return tuple(ipaddress.collapse_addresses(v4)) + tuple(ipaddress.collapse_addresses(v6))  # type: ignore[arg-type]


def _endpoints(
    refs: list[str], resolver: Resolver, zone_networks: dict[str, tuple[Network, ...]], plant: Plant
) -> tuple[tuple[str, ...], tuple[Network, ...]]:
    """(zones, networks) of a flow side; ((), ()) when any side is 'any'."""
    zones: set[str] = set()
    nets: list[Network] = []
    assets = {a.id: a for a in plant.assets}
    for ref in refs:
        ep = resolver.endpoint(ref)
        if ep.kind == "any":
            return (), ()
        if ep.error:
            raise _Unusable(ep.error)
        zones |= ep.zones or set()
        if ep.kind == "zone":
            zid = ref.split(":", 1)[1] if ref.lower().startswith("zone:") else ref
            found = zone_networks.get(zid, ())
            if not found:
                raise _Unusable(f"zone '{zid}' has no subnets and no asset addresses")
            nets.extend(found)
        elif ep.kind == "asset":
            aid = ref.split(":", 1)[1] if ref.lower().startswith("asset:") else ref
            if not assets[aid].ip:
                raise _Unusable(f"asset '{aid}' has no IP address")
            nets.extend(ipaddress.ip_network(a) for a in assets[aid].ip)
        else:
            nets.append(ipaddress.ip_network(ref, strict=False))
    return tuple(sorted(zones)), _collapse(nets)


def _ports(flow: Flow) -> tuple[str, tuple[tuple[int, int], ...]]:
    proto = lookup_protocol(flow.protocol)
    transport = proto.transport if proto else "tcp+udp"
    if flow.ports:
        ranges = []
        for spec in flow.ports:
            low, _, high = spec.partition("-")
            ranges.append((int(low), int(high or low)))
        ports = tuple(sorted(ranges))
    else:
        ports = tuple((p, p) for p in sorted(proto.ports)) if proto else ()
    if transport in ("ethernet",):
        raise _Unusable(f"protocol '{flow.protocol}' is not carried over IP; a firewall rule cannot express it")
    if transport in ("ip", "any"):
        return "any", ()
    if transport == "icmp":
        return "icmp", ()
    if not ports:
        raise _Unusable(f"protocol '{flow.protocol}' has no well-known port; give the flow's ports")
    return transport, ports


def _rules(
    conduit: Conduit,
    flow: Flow,
    name: str,
    resolver: Resolver,
    zone_networks: dict[str, tuple[Network, ...]],
    plant: Plant,
) -> list[PolicyRule]:
    src_zones, sources = _endpoints(flow.from_, resolver, zone_networks, plant)
    dst_zones, destinations = _endpoints(flow.to, resolver, zone_networks, plant)
    transport, ports = _ports(flow)
    transports = ("tcp", "udp") if transport == "tcp+udp" else (transport,)
    return [
        PolicyRule(
            conduit=conduit.id,
            flow=name,
            description=flow.description or conduit.description,
            src_zones=src_zones,
            dst_zones=dst_zones,
            sources=sources,
            destinations=destinations,
            protocol=flow.protocol,
            transport=t,
            ports=ports,
            operations=flow.operations,
            life_safety=flow.life_safety,
            log=flow.log,
            devices=tuple(conduit.devices),
        )
        for t in transports
    ]
