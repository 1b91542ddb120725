"""Exposure of zones: who can open connections into a zone, through which conduits.

The zone graph has an edge A -> B for each conduit that lets something in zone
A initiate a flow to something in zone B. A conduit without flows is taken as
open both ways between all its zones (nothing says otherwise).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from zonewarden.model.plant import Plant, Role, ZoneKind
from zonewarden.model.resolve import Resolver

UNTRUSTED_KINDS = {ZoneKind.enterprise, ZoneKind.external, ZoneKind.vendor}


@dataclass(frozen=True)
class Path:
    """How ``source`` reaches a zone: the conduits crossed, in order."""

    source: str
    conduits: tuple[str, ...]

    @property
    def hops(self) -> int:
        return len(self.conduits)

    def describe(self) -> str:
        return f"reachable from {self.source} through conduit{'s' if self.hops > 1 else ''} {', '.join(self.conduits)}"


@dataclass
class Exposure:
    """Per zone: the shortest path from an untrusted zone and from a remote-access zone, and media exposure."""

    edges: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # zone -> [(zone it reaches, conduit)]
    from_untrusted: dict[str, Path] = field(default_factory=dict)
    from_remote_access: dict[str, Path] = field(default_factory=dict)
    wireless: dict[str, str] = field(default_factory=dict)  # zone -> why
    removable_media: dict[str, str] = field(default_factory=dict)


def is_untrusted(kind: ZoneKind | None, purdue_level: float | None) -> bool:
    return kind in UNTRUSTED_KINDS or (kind is None and purdue_level is not None and purdue_level >= 4)


def zone_graph(plant: Plant, resolver: Resolver) -> dict[str, list[tuple[str, str]]]:
    edges: dict[str, set[tuple[str, str]]] = {z.id: set() for z in plant.zones}
    for conduit in plant.conduits:
        members = [z for z in conduit.zones if z in resolver.zones]
        if not conduit.flows:
            for a in members:
                for b in members:
                    if a != b:
                        edges[a].add((b, conduit.id))
            continue
        for flow in conduit.flows:
            sources = _side(resolver, flow.from_, members)
            targets = _side(resolver, flow.to, members)
            for a in sources:
                for b in targets:
                    if a != b:
                        edges[a].add((b, conduit.id))
    return {zone: sorted(out) for zone, out in edges.items()}


def _side(resolver: Resolver, refs: list[str], members: list[str]) -> set[str]:
    zones: set[str] = set()
    for ref in refs:
        found = resolver.endpoint(ref).zones
        zones |= set(members) if found is None else (set(found) & set(members))
    return zones


def _shortest(edges: dict[str, list[tuple[str, str]]], sources: list[str]) -> dict[str, Path]:
    """Breadth-first from all sources at once; ties broken by source and conduit order."""
    best: dict[str, Path] = {}
    queue: deque[tuple[str, Path]] = deque()
    for source in sorted(sources):
        queue.append((source, Path(source, ())))
    seen = set(sources)
    while queue:
        zone, path = queue.popleft()
        for target, conduit in edges.get(zone, []):
            if target in seen:
                continue
            seen.add(target)
            reached = Path(path.source, (*path.conduits, conduit))
            best[target] = reached
            queue.append((target, reached))
    return best


def compute_exposure(plant: Plant, resolver: Resolver, scenario_vectors: dict[str, set[str]]) -> Exposure:
    """Exposure of every zone; ``scenario_vectors`` maps zone id -> vectors of scenarios against it."""
    edges = zone_graph(plant, resolver)
    untrusted = [z.id for z in plant.zones if is_untrusted(z.kind, z.purdue_level)]
    remote = [z.id for z in plant.zones if z.kind == ZoneKind.remote_access]
    exposure = Exposure(edges, _shortest(edges, untrusted), _shortest(edges, remote))
    members = resolver.members()
    for zone in plant.zones:
        if zone.kind == ZoneKind.wireless:
            exposure.wireless[zone.id] = "the zone is a wireless network"
        else:
            aps = [a for a in members.get(zone.id, []) if resolver.assets[a][1].role == Role.wireless_ap]
            if aps:
                exposure.wireless[zone.id] = f"wireless access point {', '.join(sorted(aps))} in the zone"
        vectors = scenario_vectors.get(zone.id, set())
        if "wireless" in vectors and zone.id not in exposure.wireless:
            exposure.wireless[zone.id] = "a threat scenario against the zone uses wireless"
        if "removable-media" in vectors:
            exposure.removable_media[zone.id] = "a threat scenario against the zone uses removable media"
    return exposure
