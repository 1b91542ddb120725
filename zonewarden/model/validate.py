"""Whole-plant checks: referential integrity, address plan, and OT design lints.

Pure functions over a :class:`Plant`; each finding carries the path of the
offending value so the workspace layer can point at file:line:column.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

from zonewarden.model.diagnostics import Diagnostic, did_you_mean
from zonewarden.model.plant import ChangeWindow, Conduit, Enforcement, Flow, Plant, Role, Zone, ZoneKind
from zonewarden.model.protocols import OPERATIONS, PROTOCOLS, lookup_protocol
from zonewarden.model.resolve import IPNetwork, Resolver

UNTRUSTED_KINDS = {ZoneKind.enterprise, ZoneKind.external, ZoneKind.vendor}
MULTI_HOMED_ROLES = {Role.firewall, Role.router, Role.data_diode, Role.vpn_gateway, Role.protocol_gateway}


def _err(code: str, msg: str, obj: str, path: tuple) -> Diagnostic:
    return Diagnostic("error", code, msg, obj, path)


def _warn(code: str, msg: str, obj: str, path: tuple) -> Diagnostic:
    return Diagnostic("warning", code, msg, obj, path)


def validate_plant(plant: Plant) -> list[Diagnostic]:
    """Return every error and warning about ``plant``, in document order."""
    return list(_Checker(plant).run())


class _Checker:
    def __init__(self, plant: Plant) -> None:
        self.plant = plant
        self.resolver = Resolver(plant)
        self.zones = self.resolver.zones
        self.assets = self.resolver.assets
        self.index = self.resolver.addresses

    def run(self) -> Iterator[Diagnostic]:
        yield from self._duplicates()
        yield from self._zones()
        yield from self._assets()
        yield from self._subnet_overlaps()
        yield from self._addresses()
        for ci, conduit in enumerate(self.plant.conduits):
            yield from self._conduit(ci, conduit)
        for wi, window in enumerate(self.plant.change_windows):
            yield from self._change_window(wi, window)

    # -- identities -------------------------------------------------------
    def _duplicates(self) -> Iterator[Diagnostic]:
        groups: tuple[tuple[str, list[str]], ...] = (
            ("zone", [z.id for z in self.plant.zones]),
            ("conduit", [c.id for c in self.plant.conduits]),
            ("asset", [a.id for a in self.plant.assets]),
            ("change_window", [w.id for w in self.plant.change_windows]),
        )
        for kind, ids in groups:
            seen: dict[str, int] = {}
            for i, ident in enumerate(ids):
                if ident in seen:
                    yield _err(
                        "duplicate-id",
                        f"{kind} id '{ident}' is already used by {kind} #{seen[ident] + 1}",
                        f"{kind} {ident}",
                        (kind + "s", i, "id"),
                    )
                else:
                    seen[ident] = i
        for i, asset in enumerate(self.plant.assets):
            if asset.id in self.zones:
                yield _warn(
                    "ambiguous-id",
                    f"asset id '{asset.id}' is also a zone id; flows naming it are ambiguous",
                    f"asset {asset.id}",
                    ("assets", i, "id"),
                )

    # -- zones --------------------------------------------------------------
    def _zones(self) -> Iterator[Diagnostic]:
        listed_in: dict[str, str] = {}
        members: dict[str, int] = defaultdict(int)
        for zone_id in self.resolver.zone_of.values():
            members[zone_id] += 1
        for zi, zone in enumerate(self.plant.zones):
            obj = f"zone {zone.id}"
            for ai, asset_id in enumerate(zone.assets):
                path = ("zones", zi, "assets", ai)
                if asset_id not in self.assets:
                    yield _err(
                        "unknown-asset",
                        f"asset '{asset_id}' is not defined" + did_you_mean(asset_id, self.assets),
                        obj,
                        path,
                    )
                    continue
                if asset_id in listed_in and listed_in[asset_id] != zone.id:
                    yield _err(
                        "asset-in-two-zones",
                        f"asset '{asset_id}' is also listed in zone '{listed_in[asset_id]}'",
                        obj,
                        path,
                    )
                listed_in.setdefault(asset_id, zone.id)
                declared = self.assets[asset_id][1].zone
                if declared and declared != zone.id:
                    yield _err(
                        "asset-in-two-zones",
                        f"asset '{asset_id}' is listed here but declares zone '{declared}'",
                        obj,
                        path,
                    )
            if not zone.assets and not zone.subnets and not members[zone.id]:
                yield _warn("empty-zone", "zone has no assets and no subnets", obj, ("zones", zi, "id"))

    def _assets(self) -> Iterator[Diagnostic]:
        # Boundary devices (firewalls, diodes, gateways) legitimately have an interface in each zone they join.
        boundary = {d for c in self.plant.conduits for d in c.devices}
        for ai, asset in enumerate(self.plant.assets):
            multi_homed = asset.id in boundary or asset.role in MULTI_HOMED_ROLES
            obj = f"asset {asset.id}"
            if asset.zone and asset.zone not in self.zones:
                yield _err(
                    "unknown-zone",
                    f"zone '{asset.zone}' is not defined" + did_you_mean(asset.zone, self.zones),
                    obj,
                    ("assets", ai, "zone"),
                )
                continue
            zone_id = self.resolver.zone_of.get(asset.id)
            if zone_id is None:
                yield _err(
                    "asset-no-zone",
                    "asset is in no zone: set 'zone', list it in a zone's assets, "
                    "or give it an address inside a zone subnet",
                    obj,
                    ("assets", ai, "id"),
                )
                continue
            if zone_id not in self.zones:  # e.g. a duplicate asset id declared an unknown zone
                continue
            zone = self.zones[zone_id][1]
            for ii, address in enumerate(asset.ip):
                other = self.index.zone_for(address)
                if other and other != zone_id and multi_homed:
                    continue
                if other and other != zone_id:
                    yield _err(
                        "asset-in-two-zones",
                        f"address {address} lies in a subnet of zone '{other}', but the asset is in zone '{zone_id}'",
                        obj,
                        ("assets", ai, "ip", ii),
                    )
                elif zone.subnets and other is None:
                    yield _warn(
                        "address-outside-zone",
                        f"address {address} is outside every subnet of zone '{zone_id}'",
                        obj,
                        ("assets", ai, "ip", ii),
                    )

    def _subnet_overlaps(self) -> Iterator[Diagnostic]:
        # Sort by (version, first address, widest first) and sweep: O(n log n) for big plants.
        nets = sorted(self.index.networks, key=lambda t: (t[0].version, int(t[0].network_address), t[0].prefixlen))
        open_nets: list[tuple[IPNetwork, str, int]] = []
        for net, zone_id, si in nets:
            open_nets = [
                o
                for o in open_nets
                if o[0].version == net.version and int(o[0].broadcast_address) >= int(net.network_address)
            ]
            for other, other_zone, _ in open_nets:
                if other_zone != zone_id:
                    zi = self.zones[zone_id][0]
                    yield _err(
                        "subnet-overlap",
                        f"subnet {net} overlaps {other} of zone '{other_zone}'",
                        f"zone {zone_id}",
                        ("zones", zi, "subnets", si),
                    )
            open_nets.append((net, zone_id, si))

    def _addresses(self) -> Iterator[Diagnostic]:
        for attr, code, what in (("ip", "duplicate-ip", "address"), ("mac", "duplicate-mac", "MAC address")):
            seen: dict[object, str] = {}  # address objects hash by value: no string formatting per asset
            for ai, asset in enumerate(self.plant.assets):
                for vi, value in enumerate(getattr(asset, attr)):
                    owner = seen.setdefault(value, asset.id)
                    if owner != asset.id:
                        yield _err(
                            code,
                            f"{what} {value} is also used by asset '{owner}'",
                            f"asset {asset.id}",
                            ("assets", ai, attr, vi),
                        )

    # -- conduits -----------------------------------------------------------
    def _change_window(self, wi: int, window: ChangeWindow) -> Iterator[Diagnostic]:
        obj = f"change window {window.id}"
        for zi, zone_id in enumerate(window.zones):
            if zone_id not in self.zones:
                message = f"zone '{zone_id}' is not defined" + did_you_mean(zone_id, self.zones)
                yield _err("unknown-zone", message, obj, ("change_windows", wi, "zones", zi))
        for ai, asset_id in enumerate(window.assets):
            if asset_id not in self.assets:
                message = f"asset '{asset_id}' is not defined" + did_you_mean(asset_id, self.assets)
                yield _err("unknown-asset", message, obj, ("change_windows", wi, "assets", ai))

    def _conduit(self, ci: int, conduit: Conduit) -> Iterator[Diagnostic]:
        obj = f"conduit {conduit.id}"
        known: list[Zone] = []
        for zi, zone_id in enumerate(conduit.zones):
            if zone_id not in self.zones:
                yield _err(
                    "unknown-zone",
                    f"zone '{zone_id}' is not defined" + did_you_mean(zone_id, self.zones),
                    obj,
                    ("conduits", ci, "zones", zi),
                )
            else:
                known.append(self.zones[zone_id][1])
        if len(set(conduit.zones)) < 2:
            yield _err("conduit-zones", "a conduit joins at least two different zones", obj, ("conduits", ci, "zones"))
        for di, device in enumerate(conduit.devices):
            if device not in self.assets:
                yield _err(
                    "unknown-asset",
                    f"enforcing device '{device}' is not defined" + did_you_mean(device, self.assets),
                    obj,
                    ("conduits", ci, "devices", di),
                )
        enforcement = set(conduit.enforcement)
        if not enforcement or enforcement == {Enforcement.none}:
            yield _warn(
                "no-enforcement",
                "conduit has no enforcing device (set enforcement and devices)",
                obj,
                ("conduits", ci, "enforcement"),
            )
        elif not conduit.devices:
            yield _warn(
                "no-enforcement",
                "conduit names no enforcing device (list the firewall, diode or gateway in 'devices')",
                obj,
                ("conduits", ci, "enforcement"),
            )
        yield from self._purdue(ci, conduit, known)
        yield from self._diode(ci, conduit)
        seen_flow_ids: set[str] = set()
        for fi, flow in enumerate(conduit.flows):
            if flow.id is not None:
                if flow.id in seen_flow_ids:
                    yield _err(
                        "duplicate-id",
                        f"flow id '{flow.id}' is used twice in this conduit",
                        obj,
                        ("conduits", ci, "flows", fi, "id"),
                    )
                seen_flow_ids.add(flow.id)
            yield from self._flow(ci, fi, conduit, flow)

    def _purdue(self, ci: int, conduit: Conduit, zones: list[Zone]) -> Iterator[Diagnostic]:
        obj = f"conduit {conduit.id}"
        via_dmz = any(z.is_dmz for z in zones)
        leveled = [z for z in zones if z.purdue_level is not None]
        for i, a in enumerate(leveled):
            for b in leveled[i + 1 :]:
                hi, lo = (a, b) if a.purdue_level >= b.purdue_level else (b, a)  # type: ignore[operator]
                assert hi.purdue_level is not None and lo.purdue_level is not None
                if hi.purdue_level >= 4 and lo.purdue_level <= 3 and not via_dmz:
                    yield _warn(
                        "purdue-skip",
                        f"conduit joins '{hi.id}' (level {hi.purdue_level:g}) and '{lo.id}' "
                        f"(level {lo.purdue_level:g}) across the IT/OT boundary without a DMZ",
                        obj,
                        ("conduits", ci, "zones"),
                    )
                elif hi.purdue_level - lo.purdue_level >= 2:
                    yield _warn(
                        "purdue-skip",
                        f"conduit skips Purdue levels: '{hi.id}' (level {hi.purdue_level:g}) "
                        f"straight to '{lo.id}' (level {lo.purdue_level:g})",
                        obj,
                        ("conduits", ci, "zones"),
                    )

    def _diode(self, ci: int, conduit: Conduit) -> Iterator[Diagnostic]:
        """A data diode passes one direction only: flows both ways cannot all work."""
        if set(conduit.enforcement) != {Enforcement.data_diode}:
            return
        directions: dict[tuple[str, str], int] = {}
        for fi, flow in enumerate(conduit.flows):
            src = set().union(*(self._endpoint_zones(r)[1] or set() for r in flow.from_)) if flow.from_ else set()
            dst = set().union(*(self._endpoint_zones(r)[1] or set() for r in flow.to)) if flow.to else set()
            for a in src:
                for b in dst:
                    if a != b:
                        directions.setdefault((a, b), fi)
        for (a, b), fi in sorted(directions.items(), key=lambda t: t[1]):
            if (b, a) in directions and directions[(b, a)] < fi:
                yield _warn(
                    "diode-both-ways",
                    f"flows go both from '{a}' to '{b}' and back through a data diode, which passes one direction only",
                    f"conduit {conduit.id}",
                    ("conduits", ci, "flows", fi),
                )
                return

    def _endpoint_zones(self, ref: str) -> tuple[str, set[str] | None, str | None]:
        """Classify a flow endpoint: (kind, zones it lies in or None for any, error)."""
        found = self.resolver.endpoint(ref)
        return found.kind, (set(found.zones) if found.zones is not None else None), found.error

    def _flow(self, ci: int, fi: int, conduit: Conduit, flow: Flow) -> Iterator[Diagnostic]:
        obj = f"conduit {conduit.id} flow {flow.id or fi + 1}"
        base = ("conduits", ci, "flows", fi)
        protocol = lookup_protocol(flow.protocol)
        if protocol is None:
            yield _err(
                "unknown-protocol",
                f"protocol '{flow.protocol}' is not known"
                + did_you_mean(flow.protocol, PROTOCOLS)
                + "; use tcp or udp with ports for others",
                obj,
                base + ("protocol",),
            )
        in_conduit = set(conduit.zones)
        sides: dict[str, set[str] | None] = {}
        for side, refs in (("from", flow.from_), ("to", flow.to)):
            if not refs:
                yield _err("flow-endpoint", f"flow has no '{side}' endpoint", obj, base)
                continue
            union: set[str] | None = set()
            for ri, ref in enumerate(refs):
                kind, zones, error = self._endpoint_zones(ref)
                path = base + (side, ri)
                if error:
                    yield _err("unknown-ref", error, obj, path)
                    continue
                if zones is None:
                    union = None
                    continue
                if union is not None:
                    union |= zones
                if kind in ("asset", "zone") and zones and not zones & in_conduit:
                    yield _err(
                        "flow-outside-conduit",
                        f"{kind} '{ref}' is in zone '{', '.join(sorted(zones))}', "
                        f"not in this conduit's zones ({', '.join(conduit.zones)})",
                        obj,
                        path,
                    )
                elif kind == "subnet" and not zones & in_conduit:
                    yield _warn(
                        "flow-outside-conduit", f"subnet '{ref}' lies in none of this conduit's zones", obj, path
                    )
            sides[side] = union
        if "from" in sides and "to" in sides:
            src, dst = sides["from"], sides["to"]
            if src is None and dst is None:
                yield _warn("any-any", "flow allows any initiator to reach any responder", obj, base)
            elif src and dst and len(src) == 1 and src == dst:
                yield _warn(
                    "intra-zone-flow",
                    f"both ends are in zone '{next(iter(src))}'; a conduit carries traffic between zones",
                    obj,
                    base,
                )
        if protocol is not None:
            yield from self._flow_protocol(flow, protocol, obj, base, conduit)

    def _flow_protocol(self, flow: Flow, protocol, obj: str, base: tuple, conduit: Conduit) -> Iterator[Diagnostic]:
        if protocol.name == "any":
            yield _warn("any-protocol", "flow allows any protocol on any port", obj, base + ("protocol",))
        if protocol.name in ("tcp", "udp") and not flow.ports:
            yield _warn(
                "any-port", f"flow allows every {protocol.name.upper()} port; list the ports", obj, base + ("protocol",)
            )
        for pi, port in enumerate(flow.ports):
            low, _, high = port.partition("-")
            lo, hi = int(low), int(high or low)
            if not (0 < lo <= hi <= 65535):
                yield _err(
                    "bad-port", f"port '{port}' is not a port or range within 1-65535", obj, base + ("ports", pi)
                )
        if flow.ports and protocol.transport in ("ethernet", "icmp"):
            yield _err("bad-port", f"{protocol.title} has no ports", obj, base + ("ports",))
        if protocol.cleartext_remote_access:
            zones = [self.zones[z][1] for z in conduit.zones if z in self.zones]
            if any(z.purdue_level is not None and z.purdue_level <= 2 for z in zones):
                yield _warn(
                    "cleartext-remote-access",
                    f"{protocol.title} is cleartext remote access into a control "
                    "zone; use an encrypted protocol through a jump host",
                    obj,
                    base + ("protocol",),
                )
        ops = flow.operations
        if ops is None:
            return
        path = base + ("operations",)
        if not protocol.industrial:
            yield _err(
                "bad-operations", f"operations restrict industrial protocols only; {protocol.title} has none", obj, path
            )
            return
        for key in ("allow", "deny"):
            for oi, op in enumerate(getattr(ops, key) or []):
                if op not in OPERATIONS:
                    yield _err(
                        "bad-operations",
                        f"unknown operation '{op}'"
                        + did_you_mean(op, OPERATIONS)
                        + f"; known: {', '.join(sorted(protocol.operations))}",
                        obj,
                        path + (key, oi),
                    )
                elif op not in protocol.operations:
                    yield _err(
                        "bad-operations",
                        f"{protocol.title} has no '{op}' operation; it knows {', '.join(sorted(protocol.operations))}",
                        obj,
                        path + (key, oi),
                    )
        if ops.function_codes is not None and not protocol.function_codes:
            yield _err(
                "bad-operations", f"function codes do not apply to {protocol.title}", obj, path + ("function_codes",)
            )
        if ops.unit_ids is not None and not protocol.unit_ids:
            yield _err("bad-operations", f"unit ids do not apply to {protocol.title}", obj, path + ("unit_ids",))
